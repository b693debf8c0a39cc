// The state-of-the-world xDS protocol, rule by rule, driven by a raw client over real gRPC
// against the real server. Each test names the rule it checks (envoyproxy/envoy
// docs/root/api-docs/xds_protocol.rst).
// A "nothing is sent" here can only be seen by waiting (RawXdsClient::Quiet); each one names the
// test in sotw_state_test.cc that proves it without waiting, on SotwState alone. Here it checks
// only that the server wires requests and snapshots to that state.
#include <gtest/gtest.h>

#include <map>

#include "cache/snapshot_cache.h"
#include "support/raw_xds_client.h"
#include "xds/xds_server.h"

namespace tern {
namespace {

using testing::RawXdsClient;
const std::string kAds = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const std::string kLds = "/envoy.service.listener.v3.ListenerDiscoveryService/StreamListeners";
const std::string kEds = "/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints";
const std::string L(kListenerType), R(kRouteType), C(kClusterType), E(kEndpointType);

// Resource contents by type and name; the body is opaque to the protocol.
using Contents = std::map<ResourceType, std::map<std::string, std::string>>;

std::vector<std::string> Names(const envoy::service::discovery::v3::DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) out.push_back(any.value());
  return out;
}

class SotwProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<xds::XdsServer>(cache_, xds::XdsServerOptions{.address = "127.0.0.1:0"});
    ASSERT_TRUE(server_->Start(&port_).ok());
  }
  void TearDown() override { server_->Shutdown(); }

  // Publishes the snapshot for node cluster "edge". A resource body is "<name>@<content>", so a
  // test can tell which resources, in which version, a response carried.
  void Publish(const Contents& contents, bool wildcard = true) {
    std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
    for (const auto& [type, m] : contents) {
      for (const auto& [name, body] : m) {
        res[static_cast<size_t>(type)].push_back(cache::MakeResource(type, name, name + "@" + body, wildcard));
      }
    }
    std::map<std::string, cache::SnapshotPtr> per;
    per["edge"] = std::make_shared<cache::Snapshot>("edge", std::move(res));
    cache_.SetAll(per, nullptr);
  }

  std::unique_ptr<RawXdsClient> Connect(const std::string& method = kAds) {
    return std::make_unique<RawXdsClient>("127.0.0.1:" + std::to_string(port_), method);
  }

  // ACKs a response.
  static void Ack(RawXdsClient& c, const envoy::service::discovery::v3::DiscoveryResponse& r,
                  std::vector<std::string> names = {}) {
    c.Send(RawXdsClient::Request(r.type_url(), std::move(names), r.version_info(), r.nonce()));
  }

  cache::SnapshotCache cache_;
  std::unique_ptr<xds::XdsServer> server_;
  int port_ = 0;
};

Contents World1() {
  return {{ResourceType::kListener, {{"l1", "v1"}, {"l2", "v1"}}},
          {ResourceType::kRoute, {{"r1", "v1"}, {"r2", "v1"}}},
          {ResourceType::kCluster, {{"c1", "v1"}, {"c2", "v1"}}},
          {ResourceType::kEndpoint, {{"c1", "v1"}, {"c2", "v1"}}}};
}

TEST_F(SotwProtocolTest, LegacyWildcardEmptyNamesGetsEveryListener) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(L, {}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type_url(), L);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"l1@v1", "l2@v1"}));
  EXPECT_FALSE(r->nonce().empty());
  EXPECT_FALSE(r->version_info().empty());
}

TEST_F(SotwProtocolTest, ExplicitStarWildcardGetsEveryCluster) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(C, {"*"}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"c1@v1", "c2@v1"}));
}

TEST_F(SotwProtocolTest, NamedSubscriptionGetsOnlyTheNamedRoutes) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(R, {"r2"}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"r2@v1"}));
}

// Small resources are copied into the response's first slices, large ones referenced in place
// (stream_reactor.cc); the client must still get every resource, whole and in name order.
TEST_F(SotwProtocolTest, LargeAndSmallResourcesArriveWholeAndInOrder) {
  const std::string big(5000, 'x');
  const std::string huge(70000, 'y');
  Publish({{ResourceType::kCluster, {{"a", "small"}, {"b", big}, {"c", "small"}, {"d", huge}, {"e", "small"}}}});
  auto c = Connect();
  c->Send(RawXdsClient::Request(C, {}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"a@small", "b@" + big, "c@small", "d@" + huge, "e@small"}));
}

// The lead's reconciler publishes snapshots derived from their predecessor (Snapshot::Derive);
// every stream that holds the predecessor answers from the change lists, on the fan-out pool.
// Ten proxies naming twenty endpoint sets each are sent exactly the one that changed.
TEST_F(SotwProtocolTest, EveryStreamIsSentExactlyTheChangedEndpointsOfADerivedSnapshot) {
  Contents world;
  std::vector<std::string> names;
  for (int i = 10; i < 30; ++i) {
    names.push_back("e" + std::to_string(i));
    world[ResourceType::kEndpoint][names.back()] = "v1";
  }
  Publish(world);
  std::vector<std::unique_ptr<RawXdsClient>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(Connect());
    clients.back()->Send(RawXdsClient::Request(E, names, "", "", "edge", "envoy-" + std::to_string(i)));
    auto r = clients.back()->Next();
    ASSERT_TRUE(r);
    EXPECT_EQ(Names(*r).size(), 20u);
    Ack(*clients.back(), *r, names);
  }
  std::array<cache::TypeUpdate, kNumResourceTypes> u;
  u[static_cast<size_t>(ResourceType::kEndpoint)].set.push_back(
      cache::MakeResource(ResourceType::kEndpoint, "e17", "e17@v2"));
  u[static_cast<size_t>(ResourceType::kEndpoint)].set.push_back(
      cache::MakeResource(ResourceType::kEndpoint, "other", "other@v1"));  // nobody names it
  cache::SnapshotPtr derived = cache::Snapshot::Derive(*cache_.Get("edge"), std::move(u));
  ASSERT_TRUE(derived->Get(ResourceType::kEndpoint).changes.known);
  cache_.SetAll({{"edge", derived}}, nullptr);
  for (auto& c : clients) {
    auto r = c->Next();
    ASSERT_TRUE(r);
    EXPECT_EQ(Names(*r), std::vector<std::string>{"e17@v2"});
    EXPECT_EQ(r->version_info(), derived->Get(ResourceType::kEndpoint).version);
  }
}

TEST_F(SotwProtocolTest, NoncesAreUniqueAndIncreasePerStream) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(C, {}));
  auto r1 = c->Next();
  ASSERT_TRUE(r1);
  c->Send(RawXdsClient::Request(E, {"c1"}));
  auto r2 = c->Next();
  ASSERT_TRUE(r2);
  EXPECT_LT(std::stoull(r1->nonce()), std::stoull(r2->nonce()));
}

TEST_F(SotwProtocolTest, AckRecordsTheVersionAndNothingIsResent) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(L, {}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  Ack(*c, *r);
  // Without waiting: SotwStateTest.AnAckedResponseIsNotResentNorIsTheSameSnapshotRepublished
  EXPECT_TRUE(c->Quiet());
  auto streams = server_->Streams();
  ASSERT_EQ(streams.size(), 1u);
  const auto& info = streams[0].types[static_cast<size_t>(ResourceType::kListener)];
  EXPECT_EQ(info.version_acked, r->version_info());
  EXPECT_EQ(info.acks, 1u);
  EXPECT_EQ(streams[0].node_cluster, "edge");
  EXPECT_EQ(streams[0].node_id, "envoy-1");
}

TEST_F(SotwProtocolTest, ErrorDetailMakesANackAndTheBadConfigIsNotResent) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(L, {}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  auto nack = RawXdsClient::Request(L, {}, "", r->nonce());
  nack.mutable_error_detail()->set_message("listener l1: bad filter");
  c->Send(nack);
  // Without waiting: SotwStateTest.ANackOfTheFirstResponseLeavesNothingAckedAndGetsNothing
  EXPECT_TRUE(c->Quiet());
  auto streams = server_->Streams();
  ASSERT_EQ(streams.size(), 1u);
  const auto& info = streams[0].types[static_cast<size_t>(ResourceType::kListener)];
  EXPECT_EQ(info.nacks, 1u);
  EXPECT_EQ(info.last_nack, "listener l1: bad filter");
  EXPECT_EQ(info.version_acked, "");
  // A fixed configuration is sent when it comes.
  auto fixed = World1();
  fixed[ResourceType::kListener]["l1"] = "v2";
  Publish(fixed);
  auto r2 = c->Next();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Names(*r2), (std::vector<std::string>{"l1@v2", "l2@v1"}));
}

TEST_F(SotwProtocolTest, StaleNonceIsNeitherAckNorNackButItsSubscriptionIsHonoured) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(R, {"r1"}));
  auto first = c->Next();
  ASSERT_TRUE(first);
  auto next = World1();
  next[ResourceType::kRoute]["r1"] = "v2";
  Publish(next);
  auto second = c->Next();
  ASSERT_TRUE(second);
  // The client answers the first response late, with an error and a new name: the NACK is
  // stale (not counted), the new name is served.
  auto stale = RawXdsClient::Request(R, {"r1", "r2"}, "", first->nonce());
  stale.mutable_error_detail()->set_message("late complaint");
  c->Send(stale);
  auto third = c->Next();
  ASSERT_TRUE(third);
  EXPECT_EQ(Names(*third), (std::vector<std::string>{"r2@v1"}));
  auto info = server_->Streams()[0].types[static_cast<size_t>(ResourceType::kRoute)];
  EXPECT_EQ(info.nacks, 0u);
  EXPECT_EQ(info.acks, 0u);
}

TEST_F(SotwProtocolTest, ListenersAndClustersAreSentAsFullState) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(C, {}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  Ack(*c, *r);
  auto next = World1();
  next[ResourceType::kCluster]["c2"] = "v2";
  Publish(next);
  auto r2 = c->Next();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->type_url(), C);
  EXPECT_EQ(Names(*r2), (std::vector<std::string>{"c1@v1", "c2@v2"}));
  // A deleted cluster is signalled by its absence from the next full state.
  next[ResourceType::kCluster].erase("c1");
  Publish(next);
  std::optional<envoy::service::discovery::v3::DiscoveryResponse> r3;
  while ((r3 = c->Next()) && r3->type_url() != C) {
  }
  ASSERT_TRUE(r3);
  EXPECT_EQ(Names(*r3), (std::vector<std::string>{"c2@v2"}));
}

TEST_F(SotwProtocolTest, RoutesAndEndpointsAreSentPerResource) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(E, {"c1", "c2"}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r).size(), 2u);
  Ack(*c, *r, {"c1", "c2"});
  auto next = World1();
  next[ResourceType::kEndpoint]["c2"] = "v2";
  Publish(next);
  auto r2 = c->Next();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Names(*r2), (std::vector<std::string>{"c2@v2"}));
}

TEST_F(SotwProtocolTest, AResourceThatDoesNotExistYetIsSentWhenItAppears) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(E, {"c3"}));
  // Without waiting: SotwStateTest.AnEndpointSetThatDoesNotExistYetGetsNothingUntilItAppears
  EXPECT_TRUE(c->Quiet());
  auto next = World1();
  next[ResourceType::kEndpoint]["c3"] = "v1";
  Publish(next);
  auto r = c->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"c3@v1"}));
}

TEST_F(SotwProtocolTest, AdsSendsClustersThenEndpointsThenListenersThenRoutes) {
  auto c = Connect();
  // Subscribe to everything before anything exists, in the "wrong" order.
  c->Send(RawXdsClient::Request(R, {"r1"}));
  c->Send(RawXdsClient::Request(L, {}));
  c->Send(RawXdsClient::Request(E, {"c1"}));
  c->Send(RawXdsClient::Request(C, {}));
  // Wait until the server has seen all four subscriptions, then publish everything at once.
  for (int i = 0; i < 100; ++i) {
    auto s = server_->Streams();
    if (!s.empty() && s[0].types[static_cast<size_t>(ResourceType::kCluster)].subscribed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Publish(World1());
  std::vector<std::string> order;
  while (auto r = c->Next(std::chrono::milliseconds(1000))) {
    if (!r->resources().empty()) order.push_back(r->type_url());
  }
  EXPECT_EQ(order, (std::vector<std::string>{C, E, L, R}));
}

TEST_F(SotwProtocolTest, AChangedClusterIsFollowedByItsEndpointsEvenIfTheyDidNotChange) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(C, {}));
  auto rc = c->Next();
  ASSERT_TRUE(rc);
  Ack(*c, *rc);
  c->Send(RawXdsClient::Request(E, {"c1", "c2"}));
  auto re = c->Next();
  ASSERT_TRUE(re);
  Ack(*c, *re, {"c1", "c2"});
  // Without waiting: SotwStateTest.AckedClustersAndEndpointsGetNothingUntilAClusterChangesThenBothCome
  ASSERT_TRUE(c->Quiet());

  auto next = World1();
  next[ResourceType::kCluster]["c1"] = "v2";  // only the cluster changes
  Publish(next);
  auto rc2 = c->Next();
  ASSERT_TRUE(rc2);
  EXPECT_EQ(rc2->type_url(), C);
  auto re2 = c->Next();
  ASSERT_TRUE(re2);
  EXPECT_EQ(re2->type_url(), E);
  EXPECT_EQ(Names(*re2), (std::vector<std::string>{"c1@v1"}));
}

// "Eventual consistency considerations": on ADS, stale clusters are removed only after the
// listeners and routes that replaced them. A client whose route still names the dropped cluster
// would otherwise fail its calls until the new route arrives.
TEST_F(SotwProtocolTest, OnAdsADroppedClusterLeavesOnlyAfterTheRouteThatReplacedIt) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(C, {}));
  auto rc = c->Next();
  ASSERT_TRUE(rc);
  Ack(*c, *rc);
  c->Send(RawXdsClient::Request(R, {"r1"}));
  auto rr = c->Next();
  ASSERT_TRUE(rr);
  Ack(*c, *rr, {"r1"});
  // Without waiting: SotwStateTest.OnAdsADroppedClusterLeavesAfterTheNewRouteAndThenNothingMoreIsSent
  ASSERT_TRUE(c->Quiet());

  // The route moves from c1 to the new c3; c1 is dropped in the same snapshot.
  auto next = World1();
  next[ResourceType::kCluster].erase("c1");
  next[ResourceType::kCluster]["c3"] = "v1";
  next[ResourceType::kRoute]["r1"] = "to-c3";
  Publish(next);
  auto add = c->Next();
  ASSERT_TRUE(add);
  EXPECT_EQ(add->type_url(), C);
  EXPECT_EQ(Names(*add), (std::vector<std::string>{"c2@v1", "c3@v1", "c1@v1"}));
  auto route = c->Next();
  ASSERT_TRUE(route);
  EXPECT_EQ(route->type_url(), R);
  EXPECT_EQ(Names(*route), (std::vector<std::string>{"r1@to-c3"}));
  auto removal = c->Next();
  ASSERT_TRUE(removal);
  EXPECT_EQ(removal->type_url(), C);
  EXPECT_EQ(Names(*removal), (std::vector<std::string>{"c2@v1", "c3@v1"}));
  EXPECT_NE(removal->version_info(), add->version_info());
  Ack(*c, *add);
  Ack(*c, *route, {"r1"});
  Ack(*c, *removal);
  // Without waiting: SotwStateTest.OnAdsADroppedClusterLeavesAfterTheNewRouteAndThenNothingMoreIsSent
  EXPECT_TRUE(c->Quiet());

  // A per-type CDS stream has no order with other streams: the removal is immediate.
  auto cds = Connect("/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters");
  cds->Send(RawXdsClient::Request(C, {}));
  auto first = cds->Next();
  ASSERT_TRUE(first);
  Ack(*cds, *first);
  next[ResourceType::kCluster].erase("c2");
  Publish(next);
  auto r = cds->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"c3@v1"}));
}

TEST_F(SotwProtocolTest, UnchangedResourcesAreNeverResent) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(R, {"r1", "r2"}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  Ack(*c, *r, {"r1", "r2"});
  // Something the client does not watch changes; and the same snapshot is published again.
  auto next = World1();
  next[ResourceType::kCluster]["c1"] = "v9";
  Publish(next);
  Publish(next);
  // Without waiting: SotwStateTest.RoutesThatDidNotChangeAreNotResentWhenSomethingElseChanges
  EXPECT_TRUE(c->Quiet(std::chrono::milliseconds(500)));
}

TEST_F(SotwProtocolTest, NewlySubscribedNamesAreSentEvenIfUnchanged) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(R, {"r1"}));
  auto r = c->Next();
  ASSERT_TRUE(r);
  Ack(*c, *r, {"r1"});
  // Drop r1, then ask for it again: the client may have discarded it, so it is sent again.
  c->Send(RawXdsClient::Request(R, {"r2"}, r->version_info(), r->nonce()));
  auto r2 = c->Next();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Names(*r2), (std::vector<std::string>{"r2@v1"}));
  c->Send(RawXdsClient::Request(R, {"r1", "r2"}, r2->version_info(), r2->nonce()));
  auto r3 = c->Next();
  ASSERT_TRUE(r3);
  EXPECT_EQ(Names(*r3), (std::vector<std::string>{"r1@v1"}));
}

TEST_F(SotwProtocolTest, AReconnectingProxyWithCurrentVersionsGetsNothingNew) {
  Publish(World1());
  std::string version;
  {
    auto c = Connect();
    c->Send(RawXdsClient::Request(C, {}));
    auto r = c->Next();
    ASSERT_TRUE(r);
    version = r->version_info();
  }
  auto c2 = Connect();
  c2->Send(RawXdsClient::Request(C, {}, version));
  // Without waiting: SotwStateTest.AReconnectWithTheCurrentVersionGetsNothingUntilSomethingChanges
  EXPECT_TRUE(c2->Quiet(std::chrono::milliseconds(500)));
  // It still gets changes.
  auto next = World1();
  next[ResourceType::kCluster]["c2"] = "v2";
  Publish(next);
  auto r = c2->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"c1@v1", "c2@v2"}));
}

TEST_F(SotwProtocolTest, OneWriteInFlightLaterChangesCoalesceLatestWins) {
  Publish(World1());
  auto c = Connect();
  c->Send(RawXdsClient::Request(E, {"c1"}));
  ASSERT_TRUE(c->Next());
  // 200 changes in a burst, without the client acking: it must end on the last one without
  // being sent every intermediate state.
  for (int i = 0; i < 200; ++i) {
    auto next = World1();
    next[ResourceType::kEndpoint]["c1"] = "burst" + std::to_string(i);
    Publish(next);
  }
  int responses = 0;
  std::string last;
  while (auto r = c->Next(std::chrono::milliseconds(500))) {
    responses++;
    last = Names(*r).back();
  }
  EXPECT_EQ(last, "c1@burst199");
  EXPECT_LT(responses, 200);
}

TEST_F(SotwProtocolTest, PerTypeServicesServeTheirOwnType) {
  Publish(World1());
  auto lds = Connect(kLds);
  lds->Send(RawXdsClient::Request("", {}));  // type_url may be empty on a per-type service
  auto r = lds->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type_url(), L);
  auto eds = Connect(kEds);
  eds->Send(RawXdsClient::Request(E, {"c2"}));
  auto r2 = eds->Next();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Names(*r2), (std::vector<std::string>{"c2@v1"}));
}

TEST_F(SotwProtocolTest, MalformedRequestsCloseOnlyTheirStreamWithInvalidArgument) {
  Publish(World1());
  auto good = Connect();
  good->Send(RawXdsClient::Request(L, {}));
  ASSERT_TRUE(good->Next());

  auto garbage = Connect();
  garbage->SendRaw(std::string("\xff\xff\xff\xff not protobuf"));  // (a length of 20 read past the literal: ASan)
  EXPECT_EQ(garbage->AwaitStatus().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto unknown = Connect();
  unknown->Send(RawXdsClient::Request("type.googleapis.com/no.such.Type", {}));
  auto st = unknown->AwaitStatus();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("no.such.Type"), std::string::npos);

  auto no_node = Connect();
  auto req = RawXdsClient::Request(L, {});
  req.clear_node();
  no_node->Send(req);
  EXPECT_EQ(no_node->AwaitStatus().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto wrong_type = Connect(kLds);
  wrong_type->Send(RawXdsClient::Request(C, {}));
  EXPECT_EQ(wrong_type->AwaitStatus().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The well-behaved stream still gets updates.
  auto next = World1();
  next[ResourceType::kListener]["l2"] = "v2";
  Publish(next);
  auto r = good->Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"l1@v1", "l2@v2"}));
}

TEST_F(SotwProtocolTest, NamedOnlyResourcesAreHiddenFromWildcardButServedByName) {
  Publish({{ResourceType::kListener, {{"greeter", "api"}}}}, /*wildcard=*/false);
  auto wild = Connect();
  wild->Send(RawXdsClient::Request(L, {}));
  auto r = wild->Next();
  ASSERT_TRUE(r);
  EXPECT_TRUE(Names(*r).empty());
  auto named = Connect();
  named->Send(RawXdsClient::Request(L, {"greeter"}));
  auto r2 = named->Next();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Names(*r2), (std::vector<std::string>{"greeter@api"}));
}

}  // namespace
}  // namespace tern
