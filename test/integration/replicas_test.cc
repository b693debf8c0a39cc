// Issue 12, item 4: two tern replicas on the same sources behind one address. Versions are
// content hashes, so a proxy that reconnects from one replica to the other with the versions it
// holds is sent nothing, on state-of-the-world and on delta streams, and both replicas' audit
// logs record the same configuration versions for the same changes. No leader, no shared state.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using std::chrono::milliseconds;
using testing::DeltaDiscoveryRequest;
using testing::DiscoveryRequest;
using testing::RawXdsClient;

constexpr char kAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
constexpr char kDeltaAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
constexpr char kCluster[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr char kEndpoint[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr char kListener[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kRoute[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

std::string Services(int web_port) {
  return R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: )" +
         std::to_string(web_port) + R"( }, { address: 127.0.0.2, port: 9001 } ]
  - name: api
    endpoints: [ { address: 127.0.0.1, port: 9100 } ]
gateways:
  - name: edge
    listeners:
      - name: http
        port: 8080
        virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
              - match: { prefix: /api/ }
                service: api
              - match: { prefix: / }
                service: web
)";
}

struct Replica {
  testing::TempDir dir;
  std::unique_ptr<testing::TernServer> tern;
};

std::unique_ptr<Replica> StartReplica(const std::string& services) {
  auto r = std::make_unique<Replica>();
  EXPECT_TRUE(testing::WriteFile(r->dir.path() + "/services.yaml", services).ok());
  auto t = testing::TernServer::Start(
      {.dir = r->dir.path(), .files = {"services.yaml"}, .extra_config = "audit:\n  path: audit.jsonl\n"});
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return nullptr;
  r->tern = std::move(*t);
  return r;
}

// An Envoy's SotW sync on ADS: CDS, EDS for every cluster, LDS, RDS; every response ACKed.
// Returns the version held per type URL.
std::map<std::string, std::string> SyncSotw(RawXdsClient& c) {
  std::map<std::string, std::string> held;
  auto ack = [&](const std::string& type, std::vector<std::string> names) -> std::vector<std::string> {
    EXPECT_TRUE(c.Send(RawXdsClient::Request(type, names)));
    auto r = c.Next();
    EXPECT_TRUE(r.has_value()) << type;
    if (!r) return {};
    EXPECT_EQ(r->type_url(), type);
    EXPECT_TRUE(c.Send(RawXdsClient::Request(type, names, r->version_info(), r->nonce())));
    held[type] = r->version_info();
    std::vector<std::string> out;
    for (const auto& any : r->resources()) {
      if (type == kCluster) {
        envoy::config::cluster::v3::Cluster cl;
        any.UnpackTo(&cl);
        out.push_back(cl.name());
      }
    }
    return out;
  };
  auto clusters = ack(kCluster, {});
  ack(kEndpoint, clusters);
  ack(kListener, {});
  ack(kRoute, {"http"});
  return held;
}

// The "config" records' changes (node cluster, type, name, action, version), in order.
std::vector<std::string> ConfigChanges(const std::string& audit_path) {
  std::ifstream in(audit_path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("kind", "") != "config") continue;
    std::string rec;
    for (const auto& c : j["changes"]) {
      rec += c.value("node_cluster", "") + " " + c.value("type", "") + " " + c.value("name", "") + " " +
             c.value("action", "") + " " + c.value("version", "") + "\n";
    }
    out.push_back(rec);
  }
  return out;
}

std::vector<std::string> AwaitConfigRecords(const std::string& path, size_t n) {
  std::vector<std::string> got;
  for (int i = 0; i < 200 && (got = ConfigChanges(path)).size() < n; ++i) std::this_thread::sleep_for(milliseconds(25));
  return got;
}

TEST(ReplicasTest, AProxyMovingToTheOtherReplicaWithItsVersionsIsSentNothing) {
  auto a = StartReplica(Services(9000));
  auto b = StartReplica(Services(9000));
  ASSERT_TRUE(a && b);

  // SotW: synced on A, then reconnected to B with the versions it holds (what Envoy sends on a
  // new stream): B answers nothing, for every type.
  std::map<std::string, std::string> held;
  {
    RawXdsClient on_a(a->tern->xds_address(), kAds);
    held = SyncSotw(on_a);
    ASSERT_EQ(held.size(), 4u);
  }
  RawXdsClient on_b(b->tern->xds_address(), kAds);
  ASSERT_TRUE(on_b.Send(RawXdsClient::Request(kCluster, {}, held[kCluster])));
  ASSERT_TRUE(on_b.Send(RawXdsClient::Request(kEndpoint, {"api", "web"}, held[kEndpoint])));
  ASSERT_TRUE(on_b.Send(RawXdsClient::Request(kListener, {}, held[kListener])));
  ASSERT_TRUE(on_b.Send(RawXdsClient::Request(kRoute, {"http"}, held[kRoute])));
  EXPECT_TRUE(on_b.Quiet(milliseconds(800))) << "B re-sent what the proxy already holds";

  // Control: a proxy that holds nothing is answered by B at once, with A's versions.
  {
    RawXdsClient fresh(b->tern->xds_address(), kAds);
    auto again = SyncSotw(fresh);
    EXPECT_EQ(again, held) << "both replicas hand out the same versions";
  }

  // Delta: the resources held from A are named in initial_resource_versions; B sends nothing.
  std::map<std::string, std::string> cluster_versions;
  {
    RawXdsClient da(a->tern->xds_address(), kDeltaAds);
    DeltaDiscoveryRequest sub;
    sub.mutable_node()->set_id("envoy-1");
    sub.mutable_node()->set_cluster("edge");
    sub.set_type_url(kCluster);
    sub.add_resource_names_subscribe("*");
    ASSERT_TRUE(da.Send(sub));
    auto r = da.NextDelta();
    ASSERT_TRUE(r.has_value());
    for (const auto& res : r->resources()) cluster_versions[res.name()] = res.version();
    ASSERT_EQ(cluster_versions.size(), 2u);
  }
  RawXdsClient db(b->tern->xds_address(), kDeltaAds);
  DeltaDiscoveryRequest resume;
  resume.mutable_node()->set_id("envoy-1");
  resume.mutable_node()->set_cluster("edge");
  resume.set_type_url(kCluster);
  resume.add_resource_names_subscribe("*");
  for (const auto& [n, v] : cluster_versions) (*resume.mutable_initial_resource_versions())[n] = v;
  ASSERT_TRUE(db.Send(resume));
  EXPECT_TRUE(db.Quiet(milliseconds(800))) << "B re-sent clusters the proxy holds at the current version";

  // After the same change on both (both read the same files), the proxy still moves freely: it
  // takes the change from A, then reconnects to B, which sends nothing.
  ASSERT_TRUE(testing::WriteFileAtomic(a->dir.path() + "/services.yaml", Services(9500)).ok());
  ASSERT_TRUE(testing::WriteFileAtomic(b->dir.path() + "/services.yaml", Services(9500)).ok());
  auto ra = AwaitConfigRecords(a->dir.path() + "/audit.jsonl", 2);
  auto rb = AwaitConfigRecords(b->dir.path() + "/audit.jsonl", 2);
  ASSERT_EQ(ra.size(), 2u);
  ASSERT_EQ(rb.size(), 2u);
  // Both audit logs record the same versions for the same changes.
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra[1].find("edge endpoint web changed"), std::string::npos) << ra[1];
  {
    RawXdsClient on_a(a->tern->xds_address(), kAds);
    held = SyncSotw(on_a);
  }
  RawXdsClient back(b->tern->xds_address(), kAds);
  ASSERT_TRUE(back.Send(RawXdsClient::Request(kCluster, {}, held[kCluster])));
  ASSERT_TRUE(back.Send(RawXdsClient::Request(kEndpoint, {"api", "web"}, held[kEndpoint])));
  EXPECT_TRUE(back.Quiet(milliseconds(800)));
}

}  // namespace
}  // namespace tern
