// How a stream's protocol state reads as CSDS statuses (xds/client_status.h), driven through the
// real SotwState and DeltaState with the requests a proxy would send.
#include "xds/client_status.h"

#include <gtest/gtest.h>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/delta_state.h"
#include "xds/sotw_state.h"

namespace tern::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryRequest;

cache::SnapshotPtr Snap(ResourceType t, std::vector<std::pair<std::string, std::string>> named_bodies) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> rs;
  for (auto& [name, body] : named_bodies) rs[static_cast<size_t>(t)].push_back(cache::MakeResource(t, name, body));
  return std::make_shared<const cache::Snapshot>("edge", std::move(rs));
}

DiscoveryRequest Sotw(ResourceType t, std::vector<std::string> names, const std::string& version = "",
                      const std::string& nonce = "", const std::string& error = "") {
  DiscoveryRequest r;
  r.set_type_url(std::string(TypeUrl(t)));
  for (auto& n : names) r.add_resource_names(n);
  r.set_version_info(version);
  r.set_response_nonce(nonce);
  if (!error.empty()) r.mutable_error_detail()->set_message(error);
  return r;
}

// name → "CONFIG_STATUS/CLIENT_STATUS"
std::map<std::string, std::string> Statuses(ResourceType t, const TypeView& v, const cache::SnapshotPtr& latest) {
  std::map<std::string, std::string> out;
  for (const auto& s : ResourceStatuses(t, v, latest.get())) {
    out[s.name] = std::string(ConfigStatusName(s.config_status)) + "/" + std::string(ClientStatusName(s.client_status));
  }
  return out;
}

using M = std::map<std::string, std::string>;

TEST(ClientStatusTest, ARouteThatDoesNotExistIsReportedAsSuchNextToTheOneSent) {
  SotwState st(std::nullopt);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(Sotw(ResourceType::kRoute, {"r1", "r2"}), &kind, &type).ok());
  auto snap = Snap(ResourceType::kRoute, {{"r1", "a"}});
  auto resp = st.NextResponse(snap);
  ASSERT_TRUE(resp);
  EXPECT_EQ(Statuses(ResourceType::kRoute, st.View(ResourceType::kRoute), snap),
            (M{{"r1", "STALE/UNKNOWN"}, {"r2", "NOT_SENT/DOES_NOT_EXIST"}}));

  ASSERT_TRUE(st.OnRequest(Sotw(ResourceType::kRoute, {"r1", "r2"}, resp->version, resp->nonce), &kind, &type).ok());
  ASSERT_EQ(kind, RequestKind::kAck);
  TypeView v = st.View(ResourceType::kRoute);
  EXPECT_EQ(Statuses(ResourceType::kRoute, v, snap), (M{{"r1", "SYNCED/ACKED"}, {"r2", "NOT_SENT/DOES_NOT_EXIST"}}));
  auto rs = ResourceStatuses(ResourceType::kRoute, v, snap.get());
  EXPECT_EQ(rs[0].version, resp->version);
  ASSERT_TRUE(rs[0].sent);
  EXPECT_EQ(rs[0].sent->body, "a");
}

TEST(ClientStatusTest, ANackKeepsItsErrorStateUntilTheNextAckEvenWhileANewerResponseIsPending) {
  SotwState st(std::nullopt);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(Sotw(ResourceType::kCluster, {}), &kind, &type).ok());
  auto v1 = Snap(ResourceType::kCluster, {{"c1", "bad"}});
  auto first = st.NextResponse(v1);
  ASSERT_TRUE(first);
  ASSERT_TRUE(st.OnRequest(Sotw(ResourceType::kCluster, {}, "", first->nonce, "cluster c1: bad"), &kind, &type).ok());
  ASSERT_EQ(kind, RequestKind::kNack);
  TypeView nacked = st.View(ResourceType::kCluster);
  EXPECT_EQ(TypeConfigStatus(nacked.info), ConfigStatus::kError);
  EXPECT_EQ(nacked.info.version_nacked, first->version);
  EXPECT_NE(nacked.info.last_nack_at.time_since_epoch().count(), 0);
  auto rs = ResourceStatuses(ResourceType::kCluster, nacked, v1.get());
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].client_status, ClientStatus::kNacked);
  EXPECT_TRUE(rs[0].failing);

  // The operator fixes the cluster: the new version is sent, not answered yet.
  auto v2 = Snap(ResourceType::kCluster, {{"c1", "good"}});
  auto second = st.NextResponse(v2);
  ASSERT_TRUE(second);
  TypeView pending = st.View(ResourceType::kCluster);
  EXPECT_EQ(TypeConfigStatus(pending.info), ConfigStatus::kStale);
  rs = ResourceStatuses(ResourceType::kCluster, pending, v2.get());
  EXPECT_EQ(rs[0].config_status, ConfigStatus::kStale);
  EXPECT_EQ(rs[0].version, second->version);
  EXPECT_TRUE(rs[0].failing) << "no successful update since the NACK";
  EXPECT_EQ(pending.info.version_nacked, first->version);

  ASSERT_TRUE(st.OnRequest(Sotw(ResourceType::kCluster, {}, second->version, second->nonce), &kind, &type).ok());
  rs = ResourceStatuses(ResourceType::kCluster, st.View(ResourceType::kCluster), v2.get());
  EXPECT_EQ(rs[0].config_status, ConfigStatus::kSynced);
  EXPECT_FALSE(rs[0].failing);
}

TEST(ClientStatusTest, NamesAskedForBeforeAnythingIsPublishedAreRequested) {
  SotwState st(std::nullopt);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(Sotw(ResourceType::kListener, {"xds:///greeter"}), &kind, &type).ok());
  TypeView v = st.View(ResourceType::kListener);
  EXPECT_EQ(TypeConfigStatus(v.info), ConfigStatus::kNotSent);
  EXPECT_EQ(Statuses(ResourceType::kListener, v, nullptr), (M{{"xds:///greeter", "NOT_SENT/REQUESTED"}}));
  // A type never asked for has nothing to report.
  EXPECT_TRUE(ResourceStatuses(ResourceType::kRoute, st.View(ResourceType::kRoute), nullptr).empty());
}

TEST(ClientStatusTest, ADeltaClientThatReconnectedHoldingTheCurrentVersionIsSynced) {
  auto snap = Snap(ResourceType::kCluster, {{"c1", "one"}, {"c2", "two"}});
  DeltaState st(std::nullopt);
  DeltaDiscoveryRequest req;
  req.set_type_url(std::string(kClusterType));
  req.add_resource_names_subscribe("c1");
  req.add_resource_names_subscribe("c3");
  (*req.mutable_initial_resource_versions())["c1"] = snap->Find(ResourceType::kCluster, "c1")->version;
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(req, &kind, &type).ok());
  EXPECT_FALSE(st.NextResponse(snap)) << "c1 is current and c3 does not exist: nothing to send";
  EXPECT_EQ(TypeConfigStatus(st.info(ResourceType::kCluster)), ConfigStatus::kSynced);
  EXPECT_EQ(Statuses(ResourceType::kCluster, st.View(ResourceType::kCluster), snap),
            (M{{"c1", "SYNCED/ACKED"}, {"c3", "NOT_SENT/DOES_NOT_EXIST"}}));

  // It subscribes to c2 as well: c2 goes out. ACK and NACK are per response, so until the answer
  // every resource of the type is STALE.
  DeltaDiscoveryRequest more;
  more.set_type_url(std::string(kClusterType));
  more.add_resource_names_subscribe("c2");
  ASSERT_TRUE(st.OnRequest(more, &kind, &type).ok());
  auto resp = st.NextResponse(snap);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->resources, 1u);
  EXPECT_EQ(Statuses(ResourceType::kCluster, st.View(ResourceType::kCluster), snap),
            (M{{"c1", "STALE/UNKNOWN"}, {"c2", "STALE/UNKNOWN"}, {"c3", "NOT_SENT/DOES_NOT_EXIST"}}));
  DeltaDiscoveryRequest ack;
  ack.set_type_url(std::string(kClusterType));
  ack.set_response_nonce(resp->nonce);
  ASSERT_TRUE(st.OnRequest(ack, &kind, &type).ok());
  TypeView v = st.View(ResourceType::kCluster);
  EXPECT_EQ(Statuses(ResourceType::kCluster, v, snap),
            (M{{"c1", "SYNCED/ACKED"}, {"c2", "SYNCED/ACKED"}, {"c3", "NOT_SENT/DOES_NOT_EXIST"}}));
  // Delta versions are per resource.
  for (const auto& s : ResourceStatuses(ResourceType::kCluster, v, snap.get())) {
    if (s.name == "c3") continue;
    EXPECT_EQ(s.version, snap->Find(ResourceType::kCluster, s.name)->version);
    ASSERT_TRUE(s.sent) << s.name;
  }
}

}  // namespace
}  // namespace tern::xds
