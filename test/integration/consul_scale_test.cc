// Issue 9: Consul at production scale. A real Consul (1.8.7, `consul agent -dev`) started with
// its DEFAULT limits (limits.http_max_conns_per_client = 200), 620 services and an ingress gateway
// exposing all of them: tern serves every service, follows a health change of any one of them
// within 2 s, and holds a bounded number of connections to Consul (aggregate watch mode) whatever
// the catalog size.
#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "support/fault_proxy.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ConsulAgent;
using testing::RawXdsClient;

constexpr char kAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
constexpr char kCluster[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr char kEndpoint[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr int kServices = 620;

// TCP connections that process `pid` holds to 127.0.0.1:`port` (its socket inodes matched with
// /proc/net/tcp).
int ConnectionsTo(pid_t pid, int port) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(fd_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char target[256];
      ssize_t n = readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      target[n] = 0;
      std::string t(target);
      if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  char hex_port[8];
  snprintf(hex_port, sizeof(hex_port), "%04X", port);
  int count = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
      f >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode;
      const bool to_port = remote.size() > 5 && remote.substr(remote.size() - 4) == hex_port;
      if (to_port && st == "01" && inodes.contains(inode)) count++;  // 01 = ESTABLISHED
    }
  }
  return count;
}

class ConsulScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = ConsulAgent::Start(dir_.path());
    ASSERT_TRUE(c.ok()) << c.status();
    consul_ = std::move(*c);
    ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"proxy-defaults","Name":"global","Config":{"protocol":"http"}})").ok());
    for (int i = 0; i < kServices; ++i) {
      const std::string svc = "svc-" + std::to_string(i);
      ASSERT_TRUE(consul_->Register(svc, svc + "-1", 20000 + i).ok()) << svc;
    }
    ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
      "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"*"}]}]})").ok());
  }

  // Every cluster the edge gateway is sent (SotW CDS on ADS).
  std::set<std::string> EdgeClusters(RawXdsClient& c, std::string* version, std::string* nonce) {
    std::set<std::string> names;
    auto r = c.Next(seconds(10));
    if (!r) return names;
    for (const auto& any : r->resources()) {
      envoy::config::cluster::v3::Cluster cl;
      any.UnpackTo(&cl);
      names.insert(cl.name());
    }
    *version = r->version_info();
    *nonce = r->nonce();
    return names;
  }

  testing::TempDir dir_;
  std::unique_ptr<ConsulAgent> consul_;
};

TEST_F(ConsulScaleTest, SixHundredServicesWithDefaultLimitsAreServedAndFollowedOnABoundedConnectionCount) {
  auto tern = testing::TernServer::Start(
      {.dir = dir_.path(), .extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\" }\n"),
       .ready_timeout = seconds(60)});
  ASSERT_TRUE(tern.ok()) << tern.status();
  const pid_t pid = (*tern)->process().pid();

  // Every service reaches the gateway.
  RawXdsClient edge((*tern)->xds_address(), kAds);
  ASSERT_TRUE(edge.Send(RawXdsClient::Request(kCluster, {})));
  std::string version, nonce;
  std::set<std::string> clusters = EdgeClusters(edge, &version, &nonce);
  for (int i = 0; i < 50 && clusters.size() < static_cast<size_t>(kServices); ++i) {
    ASSERT_TRUE(edge.Send(RawXdsClient::Request(kCluster, {}, version, nonce)));
    auto more = EdgeClusters(edge, &version, &nonce);
    if (!more.empty()) clusters = more;
  }
  ASSERT_EQ(clusters.size(), static_cast<size_t>(kServices));
  ASSERT_TRUE(edge.Send(RawXdsClient::Request(kCluster, {}, version, nonce)));

  // Bounded connections, however many services.
  const int held = ConnectionsTo(pid, consul_->http_port());
  RecordProperty("connections_to_consul", held);
  EXPECT_GT(held, 0);
  EXPECT_LE(held, 16) << "connections from tern to Consul";

  // A health change of one service reaches the gateway's EDS within 2 s, and back.
  const std::string target = "svc-311.default.dc1";
  RawXdsClient eds((*tern)->xds_address(), kAds);
  auto sub = RawXdsClient::Request(kEndpoint, {target});
  ASSERT_TRUE(eds.Send(sub));
  auto first = eds.Next(seconds(10));
  ASSERT_TRUE(first.has_value());
  auto endpoints_of = [](const testing::DiscoveryResponse& r) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    if (r.resources_size() != 1) return -1;
    r.resources(0).UnpackTo(&cla);
    int n = 0;
    for (const auto& l : cla.endpoints()) n += l.lb_endpoints_size();
    return n;
  };
  ASSERT_EQ(endpoints_of(*first), 1);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {target}, first->version_info(), first->nonce())));

  for (const bool fail : {true, false}) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE((fail ? consul_->FailCheck("svc-311-1") : consul_->PassCheck("svc-311-1")).ok());
    auto pushed = eds.Next(seconds(5));
    ASSERT_TRUE(pushed.has_value()) << (fail ? "the failing check" : "the passing check") << " was not followed";
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(endpoints_of(*pushed), fail ? 0 : 1);
    EXPECT_LT(took, seconds(2)) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
    RecordProperty(fail ? "fail_followed_ms" : "pass_followed_ms",
                   static_cast<int>(std::chrono::duration_cast<milliseconds>(took).count()));
    ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {target}, pushed->version_info(), pushed->nonce())));
  }
  EXPECT_LE(ConnectionsTo(pid, consul_->http_port()), 16);

  // A new service registered now is served too (catalog change), without a connection per service.
  ASSERT_TRUE(consul_->Register("late", "late-1", 29999).ok());
  bool late = false;
  for (int i = 0; i < 50 && !late; ++i) {
    auto r = edge.Next(seconds(5));
    if (!r) break;
    for (const auto& any : r->resources()) {
      envoy::config::cluster::v3::Cluster cl;
      any.UnpackTo(&cl);
      late = late || cl.name() == "late.default.dc1";
    }
    ASSERT_TRUE(edge.Send(RawXdsClient::Request(kCluster, {}, r->version_info(), r->nonce())));
  }
  EXPECT_TRUE(late) << "a service registered after start reaches the gateway";

  const std::string log = (*tern)->process().Log();
  EXPECT_EQ(log.find("http_max_conns_per_client"), std::string::npos) << "no sizing warning is needed";
  EXPECT_NE(log.find("aggregate mode"), std::string::npos);
}

// A malformed answer on the aggregate watch (Consul behind a proxy that cuts it short) changes
// nothing that is served, is reported once naming the endpoint, and does not make tern hammer
// Consul; once the answers are good again, the change made meanwhile is followed.
TEST(ConsulAggregateFaultTest, ATruncatedHealthStateAnswerChangesNothingAndIsReportedOnce) {
  testing::TempDir dir;
  auto c = ConsulAgent::Start(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  auto& consul = *c;
  ASSERT_TRUE(consul->PutConfig(R"({"Kind":"proxy-defaults","Name":"global","Config":{"protocol":"http"}})").ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(consul->Register("svc-" + std::to_string(i), "svc-" + std::to_string(i) + "-1", 21000 + i).ok());
  }
  ASSERT_TRUE(consul->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"*"}]}]})").ok());
  testing::FaultProxy proxy(consul->address());
  auto tern = testing::TernServer::Start(
      {.dir = dir.path(),
       .extra_config = absl::StrCat("consul: { address: \"", proxy.address(), "\", watch: aggregate }\n")});
  ASSERT_TRUE(tern.ok()) << tern.status();

  const std::string target = "svc-1.default.dc1";
  RawXdsClient eds((*tern)->xds_address(), kAds);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {target})));
  auto first = eds.Next(seconds(10));
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {target}, first->version_info(), first->nonce())));

  // Every answer of /v1/health/state/any is now cut off mid-JSON (with a moving index, so that
  // each one is delivered), and an instance fails meanwhile.
  proxy.SetFault("/v1/health/state/any", {.status = 200, .body = R"([{"Node":"node-1","CheckID":"serfHe)"});
  ASSERT_TRUE(consul->FailCheck("svc-1-1").ok());
  const long before = proxy.Requests("/v1/health/state/any");
  std::this_thread::sleep_for(seconds(3));
  const long during = proxy.Requests("/v1/health/state/any") - before;
  EXPECT_GE(during, 1);
  EXPECT_LE(during, 10) << "requests in 3 s while every answer is malformed: back-off, no storm";
  EXPECT_TRUE(eds.Quiet(milliseconds(100))) << "nothing changes while the answers are bad";
  const std::string log = (*tern)->process().Log();
  size_t reports = 0;
  for (size_t pos = 0; (pos = log.find("/v1/health/state/any: malformed JSON (keeping its last good data)", pos)) !=
                       std::string::npos;
       ++pos) {
    reports++;
  }
  EXPECT_EQ(reports, 1u) << (*tern)->process().LogTail();
  auto sources = testing::HttpGet("127.0.0.1", (*tern)->admin_port(), "/debug/sources");
  ASSERT_TRUE(sources.ok());
  EXPECT_NE(sources->body.find("/v1/health/state/any"), std::string::npos) << sources->body;

  // Good answers again: the failed instance is followed.
  proxy.ClearFaults();
  auto pushed = eds.Next(seconds(10));
  ASSERT_TRUE(pushed.has_value()) << "the change made while the answers were bad was not followed";
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  ASSERT_EQ(pushed->resources_size(), 1);
  pushed->resources(0).UnpackTo(&cla);
  int endpoints = 0;
  for (const auto& l : cla.endpoints()) endpoints += l.lb_endpoints_size();
  EXPECT_EQ(endpoints, 0);
}

}  // namespace
}  // namespace tern
