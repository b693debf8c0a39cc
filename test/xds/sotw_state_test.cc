// The state-of-the-world protocol state (SotwState) driven directly, without gRPC: every "nothing
// is sent" that test/xds/sotw_protocol_test.cc can only observe by waiting (RawXdsClient::Quiet)
// is asserted here exactly: after the requests, NextResponse() has nothing to send. Next to each,
// the response that does come (its type, version, nonce and resources), so every test can fail.
// Rules: envoyproxy/envoy docs/root/api-docs/xds_protocol.rst (quoted where not obvious).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/snapshot.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/sotw_state.h"
#include "xds/state_test_util.h"

namespace tern::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

Contents World1() {
  return {{ResourceType::kListener, {{"l1", "v1"}, {"l2", "v1"}}},
          {ResourceType::kRoute, {{"r1", "v1"}, {"r2", "v1"}}},
          {ResourceType::kCluster, {{"c1", "v1"}, {"c2", "v1"}}},
          {ResourceType::kEndpoint, {{"c1", "v1"}, {"c2", "v1"}}}};
}

DiscoveryRequest Req(ResourceType t, const std::vector<std::string>& names, const std::string& version = "",
                     const std::string& nonce = "", const std::string& error = "") {
  DiscoveryRequest r;
  r.set_type_url(std::string(TypeUrl(t)));
  for (const auto& n : names) r.add_resource_names(n);
  r.set_version_info(version);
  r.set_response_nonce(nonce);
  if (!error.empty()) r.mutable_error_detail()->set_message(error);
  return r;
}

// What a proxy reads in a response.
struct Seen {
  ResourceType type;
  std::string version;
  std::string nonce;
  std::vector<std::string> bodies;
};

Seen Parse(const PendingResponse& p) {
  DiscoveryResponse r;
  EXPECT_TRUE(r.ParseFromString(p.Serialize()));
  Seen s{p.type, r.version_info(), r.nonce(), {}};
  EXPECT_EQ(r.type_url(), TypeUrl(p.type));
  EXPECT_EQ(s.version, p.version);
  EXPECT_EQ(s.nonce, p.nonce);
  for (const auto& any : r.resources()) s.bodies.push_back(any.value());
  return s;
}

using Bodies = std::vector<std::string>;

// One stream; an ACK names the resources the client keeps subscribing to.
class Stream : public StateStream<SotwState, DiscoveryRequest, Seen, Parse> {
 public:
  using StateStream::StateStream;
  // ACKs a response (the names the client keeps subscribing to).
  RequestKind Ack(const Seen& r, const std::vector<std::string>& names = {}) {
    return Send(Req(r.type, names, r.version, r.nonce));
  }
};

// "When to send an update": only when the resources changed; the same set again would make the
// client do needless work.
TEST(SotwStateTest, AnAckedResponseIsNotResentNorIsTheSameSnapshotRepublished) {
  auto s1 = Snap(World1());
  Stream c;
  EXPECT_EQ(c.Send(Req(ResourceType::kListener, {})), RequestKind::kInitial);
  auto r = c.Next(s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, ResourceType::kListener);
  EXPECT_EQ(r->bodies, (Bodies{"l1@v1", "l2@v1"}));
  EXPECT_EQ(r->version, s1->Get(ResourceType::kListener).version);
  EXPECT_EQ(r->nonce, "1");
  EXPECT_EQ(c.info(ResourceType::kListener).answer, Answer::kPending);

  EXPECT_EQ(c.Ack(*r), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_FALSE(c.Next(Snap(World1())));  // the same contents published again
  const TypeInfo& info = c.info(ResourceType::kListener);
  EXPECT_EQ(info.version_acked, r->version);
  EXPECT_EQ(info.acks, 1u);
  EXPECT_EQ(info.answer, Answer::kAcked);
}

// "ACK and NACK semantics summary": a NACK (error_detail) rejects the response with that nonce; the client keeps the last version it accepted, and the server waits for new
// configuration rather than sending the rejected one again.
TEST(SotwStateTest, ANackGetsNothingNewKeepsTheAckedVersionAndTheFixedConfigIsSent) {
  auto s1 = Snap(World1());
  Stream c;
  auto r1 = c.Exchange(Req(ResourceType::kListener, {}), s1);
  ASSERT_TRUE(r1);
  ASSERT_EQ(c.Ack(*r1), RequestKind::kAck);

  auto bad = World1();
  bad[ResourceType::kListener]["l1"] = "bad";
  auto s2 = Snap(bad);
  auto r2 = c.Next(s2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, (Bodies{"l1@bad", "l2@v1"}));
  EXPECT_EQ(c.Send(Req(ResourceType::kListener, {}, r1->version, r2->nonce, "listener l1: bad filter")),
            RequestKind::kNack);
  EXPECT_FALSE(c.Next(s2));
  const TypeInfo& info = c.info(ResourceType::kListener);
  EXPECT_EQ(info.nacks, 1u);
  EXPECT_EQ(info.last_nack, "listener l1: bad filter");
  EXPECT_EQ(info.version_nacked, r2->version);
  EXPECT_EQ(info.version_acked, r1->version);
  EXPECT_EQ(info.answer, Answer::kNacked);

  auto s3 = Snap(With(World1(), ResourceType::kListener, "l1", "v2"));
  auto r3 = c.Next(s3);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->bodies, (Bodies{"l1@v2", "l2@v1"}));
  EXPECT_EQ(r3->version, s3->Get(ResourceType::kListener).version);
  EXPECT_GT(std::stoull(r3->nonce), std::stoull(r2->nonce));
  EXPECT_FALSE(c.Next(s3));
}

TEST(SotwStateTest, ANackOfTheFirstResponseLeavesNothingAckedAndGetsNothing) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kListener, {}), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(c.Send(Req(ResourceType::kListener, {}, "", r->nonce, "listener l1: bad filter")), RequestKind::kNack);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_EQ(c.info(ResourceType::kListener).version_acked, "");
  EXPECT_EQ(c.info(ResourceType::kListener).nacks, 1u);
}

// "Resource updates": a request whose response_nonce is not the latest sent for its type is
// stale; it is neither an ACK nor a NACK, but its resource_names are the new subscription.
TEST(SotwStateTest, AStaleNonceCountsAsNeitherAckNorNackAndOnlyANewNameIsSent) {
  auto s1 = Snap(World1());
  Stream c;
  auto first = c.Exchange(Req(ResourceType::kRoute, {"r1"}), s1);
  ASSERT_TRUE(first);
  auto s2 = Snap(With(World1(), ResourceType::kRoute, "r1", "v2"));
  auto second = c.Next(s2);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->bodies, Bodies{"r1@v2"});

  // A late complaint about the first response, same names: nothing to do.
  EXPECT_EQ(c.Send(Req(ResourceType::kRoute, {"r1"}, "", first->nonce, "late complaint")), RequestKind::kStale);
  EXPECT_FALSE(c.Next(s2));
  // A late answer that names r2 too: r2 is served, r1 (unchanged since sent) is not.
  EXPECT_EQ(c.Send(Req(ResourceType::kRoute, {"r1", "r2"}, "", first->nonce, "late complaint")),
            RequestKind::kStale);
  auto third = c.Next(s2);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->bodies, Bodies{"r2@v1"});
  EXPECT_FALSE(c.Next(s2));
  EXPECT_EQ(c.info(ResourceType::kRoute).nacks, 0u);
  EXPECT_EQ(c.info(ResourceType::kRoute).acks, 0u);
}

// "Knowing When a Requested Resource Does Not Exist": the server must remember a requested name
// and send it if it springs into existence later; for EDS nothing is sent until then.
TEST(SotwStateTest, AnEndpointSetThatDoesNotExistYetGetsNothingUntilItAppears) {
  Stream c;
  EXPECT_EQ(c.Send(Req(ResourceType::kEndpoint, {"c3"})), RequestKind::kInitial);
  EXPECT_FALSE(c.Next(Snap(World1())));
  EXPECT_EQ(c.info(ResourceType::kEndpoint).names, 1u);
  auto s2 = Snap(With(World1(), ResourceType::kEndpoint, "c3", "v1"));
  auto r = c.Next(s2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, Bodies{"c3@v1"});
  EXPECT_EQ(r->version, s2->Get(ResourceType::kEndpoint).version);
  EXPECT_FALSE(c.Next(s2));
}

TEST(SotwStateTest, AckedClustersAndEndpointsGetNothingUntilAClusterChangesThenBothCome) {
  auto s1 = Snap(World1());
  Stream c;
  auto rc = c.Exchange(Req(ResourceType::kCluster, {}), s1);
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->bodies, (Bodies{"c1@v1", "c2@v1"}));
  c.Ack(*rc);
  auto re = c.Exchange(Req(ResourceType::kEndpoint, {"c1", "c2"}), s1);
  ASSERT_TRUE(re);
  EXPECT_EQ(re->bodies, (Bodies{"c1@v1", "c2@v1"}));
  c.Ack(*re, {"c1", "c2"});
  EXPECT_FALSE(c.Next(s1));

  // Only the cluster changes; Envoy re-warms it and waits for its ClusterLoadAssignment.
  auto s2 = Snap(With(World1(), ResourceType::kCluster, "c1", "v2"));
  auto rc2 = c.Next(s2);
  ASSERT_TRUE(rc2);
  EXPECT_EQ(rc2->type, ResourceType::kCluster);
  EXPECT_EQ(rc2->bodies, (Bodies{"c1@v2", "c2@v1"}));
  auto re2 = c.Next(s2);
  ASSERT_TRUE(re2);
  EXPECT_EQ(re2->type, ResourceType::kEndpoint);
  EXPECT_EQ(re2->bodies, Bodies{"c1@v1"});
  EXPECT_EQ(re2->version, re->version);  // the endpoints did not change
  EXPECT_FALSE(c.Next(s2));
}

// "Eventual consistency considerations": on ADS a dropped cluster stays until the route that
// replaced it was sent; after the last CDS response that leaves it out, nothing more is sent.
TEST(SotwStateTest, OnAdsADroppedClusterLeavesAfterTheNewRouteAndThenNothingMoreIsSent) {
  auto s1 = Snap(World1());
  Stream c;
  auto rc = c.Exchange(Req(ResourceType::kCluster, {}), s1);
  ASSERT_TRUE(rc);
  c.Ack(*rc);
  auto rr = c.Exchange(Req(ResourceType::kRoute, {"r1"}), s1);
  ASSERT_TRUE(rr);
  c.Ack(*rr, {"r1"});
  EXPECT_FALSE(c.Next(s1));

  auto next = World1();
  next[ResourceType::kCluster].erase("c1");
  next[ResourceType::kCluster]["c3"] = "v1";
  next[ResourceType::kRoute]["r1"] = "to-c3";
  auto s2 = Snap(next);
  auto add = c.Next(s2);
  ASSERT_TRUE(add);
  EXPECT_EQ(add->type, ResourceType::kCluster);
  EXPECT_EQ(add->bodies, (Bodies{"c2@v1", "c3@v1", "c1@v1"}));
  EXPECT_NE(add->version, s2->Get(ResourceType::kCluster).version);  // not yet the snapshot's state
  auto route = c.Next(s2);
  ASSERT_TRUE(route);
  EXPECT_EQ(route->type, ResourceType::kRoute);
  EXPECT_EQ(route->bodies, Bodies{"r1@to-c3"});
  auto removal = c.Next(s2);
  ASSERT_TRUE(removal);
  EXPECT_EQ(removal->type, ResourceType::kCluster);
  EXPECT_EQ(removal->bodies, (Bodies{"c2@v1", "c3@v1"}));
  EXPECT_EQ(removal->version, s2->Get(ResourceType::kCluster).version);
  EXPECT_FALSE(c.Next(s2));
  EXPECT_EQ(c.Ack(*add), RequestKind::kStale);  // the removal's nonce superseded it
  EXPECT_EQ(c.Ack(*route, {"r1"}), RequestKind::kAck);
  EXPECT_EQ(c.Ack(*removal), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s2));
}

TEST(SotwStateTest, OnAPerTypeClusterServiceADroppedClusterLeavesAtOnce) {
  auto s1 = Snap(World1());
  Stream c(ResourceType::kCluster);
  auto first = c.Exchange(Req(ResourceType::kCluster, {}), s1);
  ASSERT_TRUE(first);
  c.Ack(*first);
  auto next = World1();
  next[ResourceType::kCluster].erase("c1");
  auto s2 = Snap(next);
  auto r = c.Next(s2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, Bodies{"c2@v1"});
  EXPECT_EQ(r->version, s2->Get(ResourceType::kCluster).version);
  EXPECT_FALSE(c.Next(s2));
}

TEST(SotwStateTest, RoutesThatDidNotChangeAreNotResentWhenSomethingElseChanges) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kRoute, {"r1", "r2"}), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, (Bodies{"r1@v1", "r2@v1"}));
  c.Ack(*r, {"r1", "r2"});
  auto next = World1();
  next[ResourceType::kCluster]["c1"] = "v9";  // a type the stream does not watch
  auto s2 = Snap(next);
  EXPECT_FALSE(c.Next(s2));
  EXPECT_FALSE(c.Next(Snap(next)));  // and the same snapshot again
  // Derived from its predecessor (the lead's path): the same.
  std::array<cache::TypeUpdate, kNumResourceTypes> u;
  u[static_cast<size_t>(ResourceType::kCluster)].set.push_back(
      cache::MakeResource(ResourceType::kCluster, "c2", "c2@v9"));
  auto s3 = cache::Snapshot::Derive(*s2, std::move(u));
  EXPECT_FALSE(c.Next(s3));

  next[ResourceType::kRoute]["r2"] = "v2";
  auto s4 = Snap(next);
  auto r2 = c.Next(s4);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Bodies{"r2@v2"});  // only the changed route
}

// "Deleting Resources": for RDS and EDS the protocol has no way to tell a client a resource is
// gone, the client drops what it no longer names. Listeners and clusters are full state ("Grouping
// Resources into Responses"): the next response leaves the dropped name out.
TEST(SotwStateTest, DroppingARouteNameGetsNothingButDroppingAClusterNameGetsTheSmallerFullState) {
  auto s1 = Snap(World1());
  Stream c;
  auto rr = c.Exchange(Req(ResourceType::kRoute, {"r1", "r2"}), s1);
  ASSERT_TRUE(rr);
  EXPECT_EQ(c.Ack(*rr, {"r1"}), RequestKind::kAck);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_EQ(c.info(ResourceType::kRoute).names, 1u);

  auto rc = c.Exchange(Req(ResourceType::kCluster, {"c1", "c2"}), s1);
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->bodies, (Bodies{"c1@v1", "c2@v1"}));
  EXPECT_EQ(c.Ack(*rc, {"c2"}), RequestKind::kAck);
  auto rc2 = c.Next(s1);
  ASSERT_TRUE(rc2);
  EXPECT_EQ(rc2->bodies, Bodies{"c2@v1"});
  EXPECT_FALSE(c.Next(s1));
}

// "How the client specifies what resources to return": newly requested names must be re-sent
// even if they were sent before and did not change.
TEST(SotwStateTest, ANewlyNamedRouteIsSentEvenIfUnchanged) {
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kRoute, {"r1"}), s1);
  ASSERT_TRUE(r);
  c.Ack(*r, {"r2"});
  auto r2 = c.Next(s1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->bodies, Bodies{"r2@v1"});
  // r1 again: the client may have discarded it, so it is sent again.
  c.Ack(*r2, {"r1", "r2"});
  auto r3 = c.Next(s1);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->bodies, Bodies{"r1@v1"});
  EXPECT_FALSE(c.Next(s1));
}

// "the client's initial request on the new stream should indicate the most recent version seen";
// servers may then skip re-sending it (safe for wildcard LDS/CDS). tern's versions are content
// hashes, so the same version means the same resources (on any replica).
TEST(SotwStateTest, AReconnectWithTheCurrentVersionGetsNothingUntilSomethingChanges) {
  auto s1 = Snap(World1());
  const std::string held = s1->Get(ResourceType::kCluster).version;
  Stream c;
  EXPECT_EQ(c.Send(Req(ResourceType::kCluster, {}, held)), RequestKind::kInitial);
  EXPECT_FALSE(c.Next(s1));
  EXPECT_EQ(c.info(ResourceType::kCluster).version_acked, held);
  EXPECT_EQ(c.info(ResourceType::kCluster).answer, Answer::kAcked);

  auto s2 = Snap(With(World1(), ResourceType::kCluster, "c2", "v2"));
  auto r = c.Next(s2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, (Bodies{"c1@v1", "c2@v2"}));
  EXPECT_EQ(r->version, s2->Get(ResourceType::kCluster).version);
}

TEST(SotwStateTest, AReconnectWithAnOlderVersionGetsTheCurrentState) {
  auto old = World1();
  old[ResourceType::kCluster]["c2"] = "v0";
  const std::string held = Snap(old)->Get(ResourceType::kCluster).version;
  auto s1 = Snap(World1());
  Stream c;
  auto r = c.Exchange(Req(ResourceType::kCluster, {}, held), s1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bodies, (Bodies{"c1@v1", "c2@v1"}));
  EXPECT_EQ(r->version, s1->Get(ResourceType::kCluster).version);
}

}  // namespace
}  // namespace tern::xds
