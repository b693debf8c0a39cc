// The incremental (delta) protocol state (DeltaState) driven directly, without gRPC: every
// "nothing is sent" that test/xds/delta_protocol_test.cc can only observe by waiting
// (RawXdsClient::Quiet) is asserted here exactly: after the requests, NextResponse() has nothing
// to send. Next to each, the response that does come (its resources, versions, removed names and
// nonce), so every test can fail. Rules: envoyproxy/envoy docs/root/api-docs/xds_protocol.rst,
// "Incremental xDS", and api/ondemand_vhds_rds_protocol.rst for VHDS.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/snapshot.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/delta_state.h"
#include "xds/state_test_util.h"

namespace tern::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

Contents World1() {
  return {{ResourceType::kListener, {{"l1", "v1"}, {"l2", "v1"}}},
          {ResourceType::kCluster, {{"c1", "v1"}, {"c2", "v1"}, {"c3", "v1"}}},
          {ResourceType::kEndpoint, {{"c1", "v1"}, {"c2", "v1"}, {"c3", "v1"}}}};
}

DeltaDiscoveryRequest Req(ResourceType t, const std::vector<std::string>& sub,
                          const std::vector<std::string>& unsub = {}, const std::string& nonce = "",
                          const std::map<std::string, std::string>& initial = {}, const std::string& error = "") {
  DeltaDiscoveryRequest r;
  r.set_type_url(std::string(TypeUrl(t)));
  for (const auto& n : sub) r.add_resource_names_subscribe(n);
  for (const auto& n : unsub) r.add_resource_names_unsubscribe(n);
  r.set_response_nonce(nonce);
  for (const auto& [k, v] : initial) (*r.mutable_initial_resource_versions())[k] = v;
  if (!error.empty()) r.mutable_error_detail()->set_message(error);
  return r;
}

using Names = std::set<std::string>;

// What a proxy reads in a delta response.
struct Seen {
  ResourceType type;
  std::string system_version;
  std::string nonce;
  Names bodies;                              // "<name>@<content>" of the resources carried
  std::map<std::string, std::string> versions;  // resource name -> version
  Names removed;
  DeltaDiscoveryResponse raw;
};

Seen Parse(const PendingResponse& p) {
  Seen s{p.type, {}, {}, {}, {}, {}, {}};
  EXPECT_TRUE(s.raw.ParseFromString(p.Serialize()));
  EXPECT_EQ(s.raw.type_url(), TypeUrl(p.type));
  s.system_version = s.raw.system_version_info();
  s.nonce = s.raw.nonce();
  EXPECT_EQ(s.nonce, p.nonce);
  for (const auto& r : s.raw.resources()) {
    if (r.has_resource()) s.bodies.insert(r.resource().value());
    s.versions[r.name()] = r.version();
  }
  s.removed = {s.raw.removed_resources().begin(), s.raw.removed_resources().end()};
  return s;
}

// World1 after cluster c2 changed and c3 was deleted: an update and a removal in one snapshot.
Contents C2ChangedC3Deleted() {
  auto next = With(World1(), ResourceType::kCluster, "c2", "v2");
  next[ResourceType::kCluster].erase("c3");
  return next;
}

// What a reconnecting client holds: every resource of `type` in `snapshot`, at its version.
std::map<std::string, std::string> Held(const cache::SnapshotPtr& snapshot, ResourceType type) {
  std::map<std::string, std::string> held;
  for (const auto& [name, r] : snapshot->Get(type).resources) held[name] = r->version;
  return held;
}

// One delta stream.
class Stream : public StateStream<DeltaState, DeltaDiscoveryRequest, Seen, Parse> {
 public:
  using StateStream::StateStream;
  // A plain ACK: no subscription change. Delta ACKs carry no version.
  RequestKind Ack(const Seen& r) { return Send(Req(r.type, {}, {}, r.nonce)); }
};

TEST(DeltaStateTest, AnAckedResponseIsNotResentNorIsTheSameSnapshotRepublished) {
  auto s1 = Snap(World1());
  Stream c;
  EXPECT_EQ(c.Send(Req(ResourceType::kCluster, {"*"})), RequestKind::kInitial);
  auto r = c.Next(s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, (Names{"c1@v1", "c2@v1", "c3@v1"}));
  EXPECT_EQ(r->versions["c2"], s1->Find(ResourceType::kCluster, "c2")->version);
  EXPECT_EQ(r->system_version, s1->Get(ResourceType::kCluster).version);
  EXPECT_EQ(c.Ack(*r), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_FALSE(c.Next(Snap(World1())));
  EXPECT_EQ(c.info(ResourceType::kCluster).acks, 1u);
  EXPECT_EQ(c.info(ResourceType::kCluster).version_acked, r->system_version);

  // One cluster changes: only it is sent (the other two the client keeps).
  auto s2 = Snap(With(World1(), ResourceType::kCluster, "c2", "v2"));
  auto r2 = c.Next(s2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"c2@v2"});
  EXPECT_TRUE(r2->removed.empty());
  EXPECT_FALSE(c.Next(s2));
}

// "Unsubscribing from resources": unsubscribing "*" ends the wildcard subscription; what the
// client holds through it is the client's to drop (the server names nothing as removed).
TEST(DeltaStateTest, AfterUnsubscribingTheWildcardNewListenersAreNotSent) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kListener, {"*"}), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, (Names{"l1@v1", "l2@v1"}));
  c.Ack(*r);
  auto next = World1();
  next[ResourceType::kListener]["l3"] = "v1";
  auto s2 = Snap(next);
  auto r2 = c.Next(s2);  // while subscribed, a new listener comes
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"l3@v1"});

  EXPECT_EQ(c.Send(Req(ResourceType::kListener, {}, {"*"}, r2->nonce)), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s2));
  next[ResourceType::kListener]["l4"] = "v1";
  EXPECT_FALSE(c.Next(Snap(next)));
  EXPECT_FALSE(c.info(ResourceType::kListener).wildcard);
}

// "removed_resources" names a resource once. On ADS it comes after the rest of the snapshot
// ("Eventual consistency considerations": make before break), in its own response.
TEST(DeltaStateTest, OnAdsARemovedClusterIsNamedOnceAfterTheUpdateAndThenNothing) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kCluster, {"*"}), s1);
  ASSERT_TRUE(r);
  c.Ack(*r);
  auto next = C2ChangedC3Deleted();
  auto s2 = Snap(next);
  auto update = c.Next(s2);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->bodies, Names{"c2@v2"});
  EXPECT_TRUE(update->removed.empty());
  auto removal = c.Next(s2);
  ASSERT_TRUE(removal);
  EXPECT_EQ(removal->type, ResourceType::kCluster);
  EXPECT_TRUE(removal->bodies.empty());
  EXPECT_EQ(removal->removed, Names{"c3"});
  EXPECT_GT(std::stoull(removal->nonce), std::stoull(update->nonce));
  EXPECT_FALSE(c.Next(s2));
  EXPECT_EQ(c.Ack(*removal), RequestKind::kAck);
  next[ResourceType::kListener]["l1"] = "v2";  // an unrelated change: nothing more about c3
  EXPECT_FALSE(c.Next(Snap(next)));
}

TEST(DeltaStateTest, OnAPerTypeClusterServiceTheUpdateAndTheRemovalComeTogether) {
  auto s1 = Snap(World1());
  Stream c(ResourceType::kCluster);
  auto r = c.Exchange(Req(ResourceType::kCluster, {"*"}), s1);
  ASSERT_TRUE(r);
  c.Ack(*r);
  auto s2 = Snap(C2ChangedC3Deleted());
  auto r2 = c.Next(s2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"c2@v2"});
  EXPECT_EQ(r2->removed, Names{"c3"});
  EXPECT_FALSE(c.Next(s2));
}

TEST(DeltaStateTest, OnAdsADroppedClusterIsNamedAfterTheRouteThatReplacedIt) {
  auto world = World1();
  world[ResourceType::kRoute]["r1"] = "to-c1";
  auto s1 = Snap(world);
  Stream c;
  auto rc = c.Exchange(Req(ResourceType::kCluster, {"*"}), s1);
  ASSERT_TRUE(rc);
  c.Ack(*rc);
  auto rr = c.Exchange(Req(ResourceType::kRoute, {"r1"}), s1);
  ASSERT_TRUE(rr);
  EXPECT_EQ(rr->bodies, Names{"r1@to-c1"});
  c.Ack(*rr);
  EXPECT_FALSE(c.Next(s1));

  auto next = world;
  next[ResourceType::kCluster].erase("c1");
  next[ResourceType::kCluster]["c4"] = "v1";
  next[ResourceType::kRoute]["r1"] = "to-c4";
  auto s2 = Snap(next);
  auto add = c.Next(s2);
  ASSERT_TRUE(add);
  EXPECT_EQ(add->type, ResourceType::kCluster);
  EXPECT_EQ(add->bodies, Names{"c4@v1"});
  EXPECT_TRUE(add->removed.empty());
  auto route = c.Next(s2);
  ASSERT_TRUE(route);
  EXPECT_EQ(route->type, ResourceType::kRoute);
  EXPECT_EQ(route->bodies, Names{"r1@to-c4"});
  auto removal = c.Next(s2);
  ASSERT_TRUE(removal);
  EXPECT_EQ(removal->type, ResourceType::kCluster);
  EXPECT_TRUE(removal->bodies.empty());
  EXPECT_EQ(removal->removed, Names{"c1"});
  EXPECT_FALSE(c.Next(s2));
}

// "Unsubscribing from resources": the client drops an unsubscribed resource itself; the server
// stops sending it and does not name it in removed_resources.
TEST(DeltaStateTest, AnUnsubscribedEndpointSetIsNotSentWhenItChanges) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kEndpoint, {"c1", "c2"}), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, (Names{"c1@v1", "c2@v1"}));
  EXPECT_EQ(c.Send(Req(ResourceType::kEndpoint, {}, {"c1"}, r->nonce)), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_EQ(c.info(ResourceType::kEndpoint).names, 1u);
  auto next = World1();
  next[ResourceType::kEndpoint]["c1"] = "v2";
  EXPECT_FALSE(c.Next(Snap(next)));
  next[ResourceType::kEndpoint]["c2"] = "v2";
  auto s3 = Snap(next);
  auto r2 = c.Next(s3);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"c2@v2"});
  EXPECT_TRUE(r2->removed.empty());
}

TEST(DeltaStateTest, UnsubscribingAnUnknownNameChangesNothing) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kEndpoint, {"c1"}), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(c.Send(Req(ResourceType::kEndpoint, {}, {"never-heard-of-it"}, r->nonce)), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_EQ(c.info(ResourceType::kEndpoint).names, 1u);
  auto s2 = Snap(With(World1(), ResourceType::kEndpoint, "c1", "v2"));
  auto r2 = c.Next(s2);
  ASSERT_TRUE(r2);  // c1 is still watched
  EXPECT_EQ(r2->bodies, Names{"c1@v2"});
}

// Subscribing to a name the client already holds means "send it again" (it may have dropped it).
TEST(DeltaStateTest, SubscribingToAnEndpointSetTheClientHoldsSendsItAgain) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kEndpoint, {"c1"}), s1);
  ASSERT_TRUE(r);
  c.Ack(*r);
  EXPECT_FALSE(c.Next(s1));
  auto r2 = c.Exchange(Req(ResourceType::kEndpoint, {"c1"}, {}, r->nonce), s1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"c1@v1"});
  EXPECT_FALSE(c.Next(s1));
}

// "Knowing When a Requested Resource Does Not Exist": the server remembers the name and sends the
// resource when it appears.
TEST(DeltaStateTest, AnEndpointSetThatDoesNotExistYetGetsNothingUntilItAppears) {
  Stream c;
  EXPECT_EQ(c.Send(Req(ResourceType::kEndpoint, {"c9"})), RequestKind::kInitial);
  EXPECT_FALSE(c.Next(Snap(World1())));
  auto s2 = Snap(With(World1(), ResourceType::kEndpoint, "c9", "v1"));
  auto r = c.Next(s2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, Names{"c9@v1"});
  EXPECT_EQ(r->versions["c9"], s2->Find(ResourceType::kEndpoint, "c9")->version);
  EXPECT_FALSE(c.Next(s2));
}

// "Incremental xDS": on reconnect, initial_resource_versions tells the server what the client
// holds, so that it is not sent again.
TEST(DeltaStateTest, AReconnectHoldingEveryCurrentVersionGetsNothingAndCountsAsAcked) {
  auto s1 = Snap(World1());
  const auto held = Held(s1, ResourceType::kCluster);
  Stream c;
  EXPECT_EQ(c.Send(Req(ResourceType::kCluster, {"*"}, {}, "", held)), RequestKind::kInitial);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_EQ(c.info(ResourceType::kCluster).answer, Answer::kAcked);
  EXPECT_EQ(c.info(ResourceType::kCluster).version_acked, s1->Get(ResourceType::kCluster).version);
}

TEST(DeltaStateTest, AReconnectHoldingAChangedAndADeletedClusterGetsTheChangeThenTheRemoval) {
  auto s1 = Snap(World1());
  const auto held = Held(s1, ResourceType::kCluster);
  auto s2 = Snap(C2ChangedC3Deleted());  // while the client was away
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kCluster, {"*"}, {}, "", held), s2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, Names{"c2@v2"});
  auto removal = c.Next(s2);
  ASSERT_TRUE(removal);
  EXPECT_TRUE(removal->bodies.empty());
  EXPECT_EQ(removal->removed, Names{"c3"});
  EXPECT_FALSE(c.Next(s2));
}

// "ACK and NACK semantics summary": a NACK is recorded; the rejected resources are not sent again
// until they change.
TEST(DeltaStateTest, ANackIsRecordedAndNothingIsResentUntilTheConfigChanges) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kCluster, {"*"}), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(c.Send(Req(ResourceType::kCluster, {}, {}, r->nonce, {}, "cluster c1: bad")), RequestKind::kNack);
  EXPECT_FALSE(c.Next(s1));
  const TypeInfo& info = c.info(ResourceType::kCluster);
  EXPECT_EQ(info.nacks, 1u);
  EXPECT_EQ(info.last_nack, "cluster c1: bad");
  EXPECT_EQ(info.version_nacked, r->system_version);
  EXPECT_EQ(info.answer, Answer::kNacked);

  auto s2 = Snap(With(World1(), ResourceType::kCluster, "c1", "v2"));
  auto r2 = c.Next(s2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"c1@v2"});
  EXPECT_GT(std::stoull(r2->nonce), std::stoull(r->nonce));
}

// "Resource updates" (as in state of the world): a request answering an older nonce is stale,
// neither ACK nor NACK.
TEST(DeltaStateTest, ALateNackOfAnOlderNonceIsStaleAndGetsNothing) {
  auto s1 = Snap(World1());
  Stream c;
  auto first = c.Exchange(Req(ResourceType::kEndpoint, {"c1"}), s1);
  ASSERT_TRUE(first);
  auto s2 = Snap(With(World1(), ResourceType::kEndpoint, "c1", "v2"));
  auto second = c.Next(s2);
  ASSERT_TRUE(second);
  EXPECT_EQ(c.Send(Req(ResourceType::kEndpoint, {}, {}, first->nonce, {}, "late complaint")), RequestKind::kStale);
  EXPECT_FALSE(c.Next(s2));
  EXPECT_EQ(c.info(ResourceType::kEndpoint).nacks, 0u);
  EXPECT_EQ(c.info(ResourceType::kEndpoint).last_nack, "");
}

// --- VHDS -------------------------------------------------------------------------------------

Contents VhostWorld(const std::string& route_version = "v1", const std::string& api_version = "v1") {
  return {{ResourceType::kRoute, {{"http", route_version}}},
          {ResourceType::kVirtualHost, {{"http/api", api_version}, {"http/web", "v1"}}}};
}
const Domains kDomains = {{"http/api", {"api.example.com"}}, {"http/web", {"*.example.com", "example.com"}}};

// api/ondemand_vhds_rds_protocol.rst: a changed route configuration makes Envoy rebuild its
// table, so the subscribed virtual hosts are sent again; otherwise an ACK ends the exchange.
TEST(DeltaStateTest, VhdsAnAckedVirtualHostIsNotResentUntilItsRouteConfigurationChanges) {
  auto s1 = Snap(VhostWorld(), kDomains);
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kVirtualHost, {"http/api.example.com"}), s1);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->raw.resources_size(), 1);
  EXPECT_EQ(r->raw.resources(0).name(), "http/api");
  EXPECT_EQ(r->raw.resources(0).aliases(0), "http/api.example.com");
  EXPECT_EQ(c.Ack(*r), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_FALSE(c.Next(Snap(VhostWorld(), kDomains)));

  auto s2 = Snap(VhostWorld("v2"), kDomains);  // the route configuration changed, the host did not
  auto r2 = c.Next(s2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Names{"http/api@v1"});
  c.Ack(*r2);
  EXPECT_FALSE(c.Next(s2));
  auto s3 = Snap(VhostWorld("v2", "v2"), kDomains);
  auto r3 = c.Next(s3);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->bodies, Names{"http/api@v2"});
  EXPECT_FALSE(c.Next(s3));
}

TEST(DeltaStateTest, VhdsAnUnknownHostIsAnsweredOnceWithAnEmptyEntry) {
  auto s1 = Snap(VhostWorld(), kDomains);
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kVirtualHost, {"http/nope.other.org"}), s1);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->raw.resources_size(), 1);
  EXPECT_EQ(r->raw.resources(0).name(), "http/nope.other.org");
  EXPECT_EQ(r->raw.resources(0).aliases(0), "http/nope.other.org");
  EXPECT_FALSE(r->raw.resources(0).has_resource());
  EXPECT_FALSE(c.Next(s1));
  EXPECT_FALSE(c.Next(Snap(VhostWorld("v2"), kDomains)));
}

}  // namespace
}  // namespace tern::xds
