// The incremental (delta) xDS protocol and VHDS, walked through the protocol document's
// examples with a raw client over real gRPC against the real server
// (envoyproxy/envoy docs/root/api-docs/xds_protocol.rst "Incremental xDS";
// api/ondemand_vhds_rds_protocol.rst).
// A "nothing is sent" here can only be seen by waiting (RawXdsClient::Quiet); each one names the
// test in delta_state_test.cc that proves it without waiting, on DeltaState alone.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cache/snapshot_cache.h"
#include "support/raw_xds_client.h"
#include "xds/xds_server.h"

namespace tern {
namespace {

using testing::RawXdsClient;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
const std::string kDeltaAds = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
const std::string kSotwAds = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const std::string kDeltaCds = "/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters";
const std::string kVhds = "/envoy.service.route.v3.VirtualHostDiscoveryService/DeltaVirtualHosts";
const std::string L(kListenerType), R(kRouteType), C(kClusterType), E(kEndpointType), V(kVirtualHostType);

using Contents = std::map<ResourceType, std::map<std::string, std::string>>;

DeltaDiscoveryRequest Req(const std::string& type, std::vector<std::string> sub, std::vector<std::string> unsub = {},
                          const std::string& nonce = "", std::map<std::string, std::string> initial = {}) {
  DeltaDiscoveryRequest r;
  r.set_type_url(type);
  for (auto& n : sub) r.add_resource_names_subscribe(n);
  for (auto& n : unsub) r.add_resource_names_unsubscribe(n);
  r.set_response_nonce(nonce);
  for (auto& [k, v] : initial) (*r.mutable_initial_resource_versions())[k] = v;
  r.mutable_node()->set_id("envoy-1");
  r.mutable_node()->set_cluster("edge");
  return r;
}

// "name@content" bodies of the resources in a response.
std::set<std::string> Bodies(const DeltaDiscoveryResponse& r) {
  std::set<std::string> out;
  for (const auto& res : r.resources()) out.insert(res.resource().value());
  return out;
}
std::set<std::string> Removed(const DeltaDiscoveryResponse& r) {
  return {r.removed_resources().begin(), r.removed_resources().end()};
}

class DeltaProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<xds::XdsServer>(cache_, xds::XdsServerOptions{.address = "127.0.0.1:0"});
    ASSERT_TRUE(server_->Start(&port_).ok());
  }
  void TearDown() override { server_->Shutdown(); }

  void Publish(const Contents& contents,
               const std::map<std::string, std::vector<std::string>>& vhost_domains = {}) {
    std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
    for (const auto& [type, m] : contents) {
      for (const auto& [name, body] : m) {
        std::vector<std::string> domains;
        if (auto it = vhost_domains.find(name); it != vhost_domains.end()) domains = it->second;
        res[static_cast<size_t>(type)].push_back(
            cache::MakeResource(type, name, name + "@" + body, type != ResourceType::kVirtualHost, domains));
      }
    }
    std::map<std::string, cache::SnapshotPtr> per;
    per["edge"] = std::make_shared<cache::Snapshot>("edge", std::move(res));
    cache_.SetAll(per, nullptr);
  }
  // Waits until the server has applied a subscription change (requests are asynchronous).
  void AwaitNames(ResourceType t, size_t names) {
    for (int i = 0; i < 500; ++i) {
      auto s = server_->Streams();
      if (!s.empty() && s[0].types[static_cast<size_t>(t)].names == names) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL() << "subscription change not applied";
  }
  void AwaitRequests(uint64_t n) {
    for (int i = 0; i < 500; ++i) {
      auto s = server_->Streams();
      if (!s.empty() && s[0].requests >= n) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL() << "requests not applied";
  }
  std::unique_ptr<RawXdsClient> Connect(const std::string& method = kDeltaAds) {
    return std::make_unique<RawXdsClient>("127.0.0.1:" + std::to_string(port_), method);
  }

  cache::SnapshotCache cache_;
  std::unique_ptr<xds::XdsServer> server_;
  int port_ = 0;
};

Contents World1() {
  return {{ResourceType::kListener, {{"l1", "v1"}, {"l2", "v1"}}},
          {ResourceType::kCluster, {{"c1", "v1"}, {"c2", "v1"}, {"c3", "v1"}}},
          {ResourceType::kEndpoint, {{"c1", "v1"}, {"c2", "v1"}, {"c3", "v1"}}}};
}

TEST_F(DeltaProtocolTest, LegacyWildcardFirstRequestWithNoNamesGetsEverything) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(C, {}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type_url(), C);
  EXPECT_EQ(Bodies(*r), (std::set<std::string>{"c1@v1", "c2@v1", "c3@v1"}));
  for (const auto& res : r->resources()) {
    EXPECT_FALSE(res.name().empty());
    EXPECT_FALSE(res.version().empty());
  }
}

// A derived snapshot (Snapshot::Derive) reaches every delta stream through the fan-out pool and
// its change lists: each is sent the changed endpoint set, then (make before break on ADS) the
// removed one.
TEST_F(DeltaProtocolTest, EveryStreamIsSentExactlyTheChangesOfADerivedSnapshot) {
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
    clients.back()->Send(Req(E, names));
    auto r = clients.back()->NextDelta();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->resources_size(), 20);
    clients.back()->Send(Req(E, {}, {}, r->nonce()));
  }
  std::array<cache::TypeUpdate, kNumResourceTypes> u;
  u[static_cast<size_t>(ResourceType::kEndpoint)].set.push_back(
      cache::MakeResource(ResourceType::kEndpoint, "e17", "e17@v2"));
  u[static_cast<size_t>(ResourceType::kEndpoint)].erase.push_back("e29");
  cache::SnapshotPtr derived = cache::Snapshot::Derive(*cache_.Get("edge"), std::move(u));
  cache_.SetAll({{"edge", derived}}, nullptr);
  for (auto& c : clients) {
    auto r = c->NextDelta();
    ASSERT_TRUE(r);
    EXPECT_EQ(Bodies(*r), std::set<std::string>{"e17@v2"});
    EXPECT_TRUE(Removed(*r).empty());
    auto gone = c->NextDelta();
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->resources_size(), 0);
    EXPECT_EQ(Removed(*gone), std::set<std::string>{"e29"});
  }
}

TEST_F(DeltaProtocolTest, ExplicitStarSubscribesToEverythingAndUnsubscribingStarEndsIt) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(L, {"*"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bodies(*r), (std::set<std::string>{"l1@v1", "l2@v1"}));
  c->Send(Req(L, {}, {"*"}, r->nonce()));
  AwaitRequests(2);
  auto next = World1();
  next[ResourceType::kListener]["l3"] = "v1";
  Publish(next);
  // Without waiting: DeltaStateTest.AfterUnsubscribingTheWildcardNewListenersAreNotSent
  EXPECT_TRUE(c->Quiet());
}

TEST_F(DeltaProtocolTest, OnlyChangedResourcesAreSentAndRemovalsAreReportedOnce) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(C, {"*"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  c->Send(Req(C, {}, {}, r->nonce()));
  auto next = World1();
  next[ResourceType::kCluster]["c2"] = "v2";
  next[ResourceType::kCluster].erase("c3");
  Publish(next);
  auto r2 = c->NextDelta();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Bodies(*r2), (std::set<std::string>{"c2@v2"}));
  // On ADS the removal follows the rest of the snapshot (make before break), in its own response.
  EXPECT_EQ(Removed(*r2), (std::set<std::string>{}));
  auto r3 = c->NextDelta();
  ASSERT_TRUE(r3);
  EXPECT_EQ(Bodies(*r3), (std::set<std::string>{}));
  EXPECT_EQ(Removed(*r3), (std::set<std::string>{"c3"}));
  c->Send(Req(C, {}, {}, r3->nonce()));
  // An unrelated change: nothing more about c3.
  next[ResourceType::kListener]["l1"] = "v2";
  Publish(next);
  // Without waiting: DeltaStateTest.OnAdsARemovedClusterIsNamedOnceAfterTheUpdateAndThenNothing
  EXPECT_TRUE(c->Quiet());
}

// Make before break on ADS: the dropped cluster (and its endpoints) are named in
// removed_resources only after the route that stopped using it was sent.
TEST_F(DeltaProtocolTest, OnAdsRemovalsFollowTheRoutesThatReplacedThem) {
  auto world = World1();
  world[ResourceType::kRoute]["r1"] = "to-c1";
  Publish(world);
  auto c = Connect();
  c->Send(Req(C, {"*"}));
  auto rc = c->NextDelta();
  ASSERT_TRUE(rc);
  c->Send(Req(C, {}, {}, rc->nonce()));
  c->Send(Req(R, {"r1"}));
  auto rr = c->NextDelta();
  ASSERT_TRUE(rr);
  c->Send(Req(R, {}, {}, rr->nonce()));
  // Without waiting: DeltaStateTest.OnAdsADroppedClusterIsNamedAfterTheRouteThatReplacedIt
  ASSERT_TRUE(c->Quiet());

  auto next = world;
  next[ResourceType::kCluster].erase("c1");
  next[ResourceType::kCluster]["c4"] = "v1";
  next[ResourceType::kRoute]["r1"] = "to-c4";
  Publish(next);
  std::vector<std::string> seen;  // "<type>:<bodies>|<removed>" in arrival order
  while (auto r = c->NextDelta(std::chrono::milliseconds(500))) {
    std::string entry = r->type_url() == C ? "C:" : r->type_url() == R ? "R:" : "?:";
    for (const auto& b : Bodies(*r)) entry += b + ",";
    entry += "|";
    for (const auto& n : Removed(*r)) entry += n + ",";
    seen.push_back(entry);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"C:c4@v1,|", "R:r1@to-c4,|", "C:|c1,"}));
}

TEST_F(DeltaProtocolTest, NamedSubscribeAndUnsubscribe) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(E, {"c1", "c2"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bodies(*r), (std::set<std::string>{"c1@v1", "c2@v1"}));
  c->Send(Req(E, {}, {"c1"}, r->nonce()));
  AwaitNames(ResourceType::kEndpoint, 1);
  auto next = World1();
  next[ResourceType::kEndpoint]["c1"] = "v2";  // no longer watched
  Publish(next);
  // Without waiting: DeltaStateTest.AnUnsubscribedEndpointSetIsNotSentWhenItChanges
  EXPECT_TRUE(c->Quiet());
  next[ResourceType::kEndpoint]["c2"] = "v2";
  Publish(next);
  auto r2 = c->NextDelta();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Bodies(*r2), (std::set<std::string>{"c2@v2"}));
}

TEST_F(DeltaProtocolTest, UnsubscribingAnUnknownNameIsIgnored) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(E, {"c1"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  c->Send(Req(E, {}, {"never-heard-of-it"}, r->nonce()));
  // Without waiting: DeltaStateTest.UnsubscribingAnUnknownNameChangesNothing
  EXPECT_TRUE(c->Quiet());
  auto next = World1();
  next[ResourceType::kEndpoint]["c1"] = "v2";
  Publish(next);
  auto r2 = c->NextDelta();
  ASSERT_TRUE(r2);  // the stream is alive and c1 still watched
  EXPECT_EQ(Bodies(*r2), (std::set<std::string>{"c1@v2"}));
}

TEST_F(DeltaProtocolTest, SubscribingToSomethingTheClientAlreadyHasSendsIt) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(E, {"c1"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  c->Send(Req(E, {"c1"}, {}, r->nonce()));
  auto r2 = c->NextDelta();
  ASSERT_TRUE(r2);
  EXPECT_EQ(Bodies(*r2), (std::set<std::string>{"c1@v1"}));
}

TEST_F(DeltaProtocolTest, AResourceThatDoesNotExistYetIsSentWhenItAppears) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(E, {"c9"}));
  // Without waiting: DeltaStateTest.AnEndpointSetThatDoesNotExistYetGetsNothingUntilItAppears
  EXPECT_TRUE(c->Quiet());
  auto next = World1();
  next[ResourceType::kEndpoint]["c9"] = "v1";
  Publish(next);
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bodies(*r), (std::set<std::string>{"c9@v1"}));
}

TEST_F(DeltaProtocolTest, ReconnectWithAllCurrentVersionsGetsNothingResent) {
  Publish(World1());
  std::map<std::string, std::string> held;
  {
    auto c = Connect();
    c->Send(Req(C, {"*"}));
    auto r = c->NextDelta();
    ASSERT_TRUE(r);
    for (const auto& res : r->resources()) held[res.name()] = res.version();
  }
  auto c2 = Connect();
  c2->Send(Req(C, {"*"}, {}, "", held));
  // Without waiting: DeltaStateTest.AReconnectHoldingEveryCurrentVersionGetsNothingAndCountsAsAcked
  EXPECT_TRUE(c2->Quiet(std::chrono::milliseconds(500)));
}

TEST_F(DeltaProtocolTest, ReconnectHoldingADeletedResourceGetsItInRemovedResources) {
  Publish(World1());
  std::map<std::string, std::string> held;
  {
    auto c = Connect();
    c->Send(Req(C, {"*"}));
    auto r = c->NextDelta();
    ASSERT_TRUE(r);
    for (const auto& res : r->resources()) held[res.name()] = res.version();
  }
  // While the client was away: c3 deleted, c2 changed.
  auto next = World1();
  next[ResourceType::kCluster].erase("c3");
  next[ResourceType::kCluster]["c2"] = "v2";
  Publish(next);
  auto c2 = Connect();
  c2->Send(Req(C, {"*"}, {}, "", held));
  auto r = c2->NextDelta();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bodies(*r), (std::set<std::string>{"c2@v2"}));
  auto removal = c2->NextDelta();  // after the rest of the snapshot (make before break)
  ASSERT_TRUE(removal);
  EXPECT_EQ(Bodies(*removal), (std::set<std::string>{}));
  EXPECT_EQ(Removed(*removal), (std::set<std::string>{"c3"}));
}

TEST_F(DeltaProtocolTest, NackIsRecordedAndNotResent) {
  Publish(World1());
  auto c = Connect();
  c->Send(Req(C, {"*"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  auto nack = Req(C, {}, {}, r->nonce());
  nack.mutable_error_detail()->set_message("cluster c1: bad");
  c->Send(nack);
  // Without waiting: DeltaStateTest.ANackIsRecordedAndNothingIsResentUntilTheConfigChanges
  EXPECT_TRUE(c->Quiet());
  auto s = server_->Streams();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].delta);
  EXPECT_EQ(s[0].types[static_cast<size_t>(ResourceType::kCluster)].last_nack, "cluster c1: bad");
}

TEST_F(DeltaProtocolTest, DeltaAndSotwSeeTheSameVersions) {
  Publish(World1());
  auto d = Connect();
  d->Send(Req(C, {"*"}));
  auto dr = d->NextDelta();
  ASSERT_TRUE(dr);
  auto s = Connect(kSotwAds);
  s->Send(RawXdsClient::Request(C, {}));
  auto sr = s->Next();
  ASSERT_TRUE(sr);
  EXPECT_EQ(dr->system_version_info(), sr->version_info());
  auto snap = cache_.Get("edge");
  for (const auto& res : dr->resources()) {
    EXPECT_EQ(res.version(), snap->Find(ResourceType::kCluster, res.name())->version);
  }
}

TEST_F(DeltaProtocolTest, OneEndpointChangeAmongAThousandClustersSendsOneResource) {
  Contents big;
  for (int i = 0; i < 1000; ++i) {
    std::string n = "cluster-" + std::to_string(i);
    big[ResourceType::kCluster][n] = std::string(200, 'x');  // a realistic-ish cluster size
    big[ResourceType::kEndpoint][n] = "10.0.0." + std::to_string(i % 250) + ":8080";
  }
  Publish(big);
  auto d = Connect();
  d->Send(Req(C, {"*"}));
  auto dr = d->NextDelta();
  ASSERT_TRUE(dr);
  ASSERT_EQ(dr->resources_size(), 1000);
  d->Send(Req(C, {}, {}, dr->nonce()));
  auto s = Connect(kSotwAds);
  s->Send(RawXdsClient::Request(C, {}));
  auto sr = s->Next();
  ASSERT_TRUE(sr);
  s->Send(RawXdsClient::Request(C, {}, sr->version_info(), sr->nonce()));
  // Without waiting: DeltaStateTest.AnAckedResponseIsNotResentNorIsTheSameSnapshotRepublished (and the Sotw one)
  ASSERT_TRUE(d->Quiet() && s->Quiet());

  big[ResourceType::kCluster]["cluster-500"] = std::string(200, 'y');
  Publish(big);
  size_t delta_bytes = 0, sotw_bytes = 0;
  auto d2 = d->NextDelta(std::chrono::seconds(5), &delta_bytes);
  auto raw = s->NextRaw(std::chrono::seconds(5));
  ASSERT_TRUE(d2 && raw);
  sotw_bytes = raw->size();
  envoy::service::discovery::v3::DiscoveryResponse s2;
  ASSERT_TRUE(s2.ParseFromString(*raw));
  EXPECT_EQ(d2->resources_size(), 1);
  EXPECT_EQ(s2.resources_size(), 1000);  // state of the world: every cluster again
  std::printf("one cluster change among 1000: delta %zu bytes, state-of-the-world %zu bytes\n", delta_bytes,
              sotw_bytes);
  EXPECT_LT(delta_bytes * 100, sotw_bytes);
}

TEST_F(DeltaProtocolTest, PerTypeDeltaServiceServesItsType) {
  Publish(World1());
  auto c = Connect(kDeltaCds);
  c->Send(Req("", {"*"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type_url(), C);
  EXPECT_EQ(r->resources_size(), 3);
}

// --- VHDS -------------------------------------------------------------------------------------

Contents VhostWorld(const std::string& route_version = "v1", const std::string& api_version = "v1") {
  return {{ResourceType::kRoute, {{"http", route_version}}},
          {ResourceType::kVirtualHost, {{"http/api", api_version}, {"http/web", "v1"}}}};
}
const std::map<std::string, std::vector<std::string>> kDomains = {
    {"http/api", {"api.example.com"}}, {"http/web", {"*.example.com", "example.com"}}};

TEST_F(DeltaProtocolTest, VhdsResolvesAHostToItsVirtualHostWithTheRequestAsAlias) {
  Publish(VhostWorld(), kDomains);
  auto c = Connect(kVhds);
  c->Send(Req(V, {"http/api.example.com", "http/www.example.com"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  std::map<std::string, std::vector<std::string>> got;
  for (const auto& res : r->resources()) {
    got[res.name()] = {res.aliases().begin(), res.aliases().end()};
    EXPECT_TRUE(res.has_resource());
  }
  EXPECT_EQ(got["http/api"], (std::vector<std::string>{"http/api.example.com"}));
  EXPECT_EQ(got["http/web"], (std::vector<std::string>{"http/www.example.com"}));
}

TEST_F(DeltaProtocolTest, VhdsAnswersAnUnknownHostAtOnceWithAnEmptyEntry) {
  Publish(VhostWorld(), kDomains);
  auto c = Connect();
  c->Send(Req(V, {"http/nope.other.org"}));
  auto r = c->NextDelta(std::chrono::seconds(2));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->resources_size(), 1);
  EXPECT_EQ(r->resources(0).name(), "http/nope.other.org");
  EXPECT_EQ(r->resources(0).aliases(0), "http/nope.other.org");
  EXPECT_FALSE(r->resources(0).has_resource());
}

TEST_F(DeltaProtocolTest, VhdsResendsSubscribedVirtualHostsWhenTheirRouteConfigurationChanges) {
  Publish(VhostWorld(), kDomains);
  auto c = Connect();
  c->Send(Req(V, {"http/api.example.com"}));
  auto r = c->NextDelta();
  ASSERT_TRUE(r);
  c->Send(Req(V, {}, {}, r->nonce()));
  // Without waiting: DeltaStateTest.VhdsAnAckedVirtualHostIsNotResentUntilItsRouteConfigurationChanges
  ASSERT_TRUE(c->Quiet());
  Publish(VhostWorld("v2"), kDomains);  // the route configuration changed, the virtual host did not
  auto r2 = c->NextDelta();
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->resources_size(), 1);
  EXPECT_EQ(r2->resources(0).name(), "http/api");
  // And a change of the virtual host itself is sent as an update.
  c->Send(Req(V, {}, {}, r2->nonce()));
  Publish(VhostWorld("v2", "v2"), kDomains);
  auto r3 = c->NextDelta();
  ASSERT_TRUE(r3);
  EXPECT_EQ(Bodies(*r3), (std::set<std::string>{"http/api@v2"}));
}

}  // namespace
}  // namespace tern
