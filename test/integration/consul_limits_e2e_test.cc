// Consul's circuit breakers and passive health checks, end to end through the real `build/tern
// serve`, read by raw xDS clients as a gateway Envoy and a proxyless client would receive them.
//
// Consul 1.8.7 (the one the tests run) refuses ingress-gateway `Defaults` (1.11+) and
// service-defaults `UpstreamConfig` (1.10+): the test shows that first. Catalog, health and
// discovery chains come from that real Consul; the two config-entry lists tern reads
// (/v1/config/ingress-gateway, /v1/config/service-defaults) are answered, through the fault proxy
// in front of it, with the newer fields as Consul's docs show them.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "integration/consul_agent.h"
#include "support/fault_proxy.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"
#include "translate/pgv_validator.h"

namespace tern::testing {
namespace {

using envoy::config::cluster::v3::Cluster;

constexpr char kWeb[] = "web.default.dc1";

std::string IngressAnswer(const std::string& edge_defaults) {
  return R"([{"Kind":"ingress-gateway","Name":"edge","Defaults":)" + edge_defaults + R"(,
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}],"CreateIndex":10,"ModifyIndex":10},
   {"Kind":"ingress-gateway","Name":"plain",
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}],"CreateIndex":11,"ModifyIndex":11}])";
}

// web's own UpstreamConfig (web as a caller) must reach nobody's traffic to web; edge's own
// service-defaults gives edge's connect timeout to its upstreams.
constexpr char kServiceDefaults[] = R"([
  {"Kind":"service-defaults","Name":"web","Protocol":"http",
   "UpstreamConfig":{"Defaults":{"ConnectTimeoutMs":1,"Limits":{"MaxConnections":1},
                                 "PassiveHealthCheck":{"MaxFailures":1}}},"CreateIndex":5,"ModifyIndex":5},
  {"Kind":"service-defaults","Name":"edge","UpstreamConfig":{"Defaults":{"ConnectTimeoutMs":2500}},
   "CreateIndex":6,"ModifyIndex":6}])";

class ConsulLimitsTest : public TernTest {
 protected:

  // The cluster `name` as node cluster `node` receives it over ADS (wildcard for a gateway,
  // by name for a proxyless client): the first version `want` accepts, ACKing the ones before.
  template <typename Want>
  std::optional<Cluster> ClusterUntil(const std::string& node, bool wildcard, Want want, milliseconds timeout) {
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    const std::string type(kClusterType);
    std::vector<std::string> names;
    if (!wildcard) names = {kWeb};
    if (!client.Send(RawXdsClient::Request(type, names, "", "", node, node + "-1"))) return std::nullopt;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto r = client.Next(milliseconds(500));
      if (!r) continue;
      for (const auto& any : r->resources()) {
        Cluster c;
        if (any.UnpackTo(&c) && c.name() == kWeb && want(c)) return c;
      }
      client.Send(RawXdsClient::Request(type, names, r->version_info(), r->nonce(), node, node + "-1"));
    }
    return std::nullopt;
  }

  std::unique_ptr<ConsulAgent> consul_;
};

uint32_t MaxConnections(const Cluster& c) {
  return c.circuit_breakers().thresholds_size() ? c.circuit_breakers().thresholds(0).max_connections().value() : 0;
}

TEST_F(ConsulLimitsTest, TheGatewayWithLimitsGetsThemOthersAndProxylessClientsDoNot) {
  ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
  // What Consul 1.8.7 itself accepts: none of these fields.
  absl::Status refused = consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge","Defaults":{"MaxConnections":64},
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})");
  EXPECT_FALSE(refused.ok()) << "Consul 1.8.7 accepted ingress-gateway Defaults: write the entry to it instead";
  EXPECT_FALSE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"edge","UpstreamConfig":{}})").ok());

  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"web","Protocol":"http"})").ok());
  ASSERT_TRUE(consul_->Register("web", "web-1", 18080).ok());

  FaultProxy proxy(consul_->address());
  const auto hold = milliseconds(500);
  proxy.SetFault("/v1/config/ingress-gateway",
                 {.status = 200,
                  .body = IngressAnswer(R"({"MaxConnections":64,"MaxPendingRequests":32,
                    "PassiveHealthCheck":{"Interval":"5s","MaxFailures":3,"EnforcingConsecutive5xx":100,
                                          "MaxEjectionPercent":50,"BaseEjectionTime":"20s"}})"),
                  .moving_index = true,
                  .hold = hold});
  proxy.SetFault("/v1/config/service-defaults", {.status = 200, .body = kServiceDefaults, .moving_index = true, .hold = hold});
  ASSERT_NO_FATAL_FAILURE(
      StartTern({.extra_config = absl::StrCat("consul: { address: \"", proxy.address(), "\" }\n")}));

  auto edge = ClusterUntil("edge", true, [](const Cluster& c) { return MaxConnections(c) == 64; }, seconds(20));
  ASSERT_TRUE(edge.has_value()) << "gateway edge never received its limits on " << kWeb;
  const auto& th = edge->circuit_breakers().thresholds(0);
  EXPECT_EQ(th.max_pending_requests().value(), 32u);
  EXPECT_FALSE(th.has_max_requests()) << "MaxConcurrentRequests unset: Envoy's default";
  ASSERT_TRUE(edge->has_outlier_detection());
  EXPECT_EQ(edge->outlier_detection().interval().seconds(), 5);
  EXPECT_EQ(edge->outlier_detection().consecutive_5xx().value(), 3u);
  EXPECT_EQ(edge->outlier_detection().enforcing_consecutive_5xx().value(), 100u);
  EXPECT_EQ(edge->outlier_detection().max_ejection_percent().value(), 50u);
  EXPECT_EQ(edge->outlier_detection().base_ejection_time().seconds(), 20);
  EXPECT_EQ(edge->connect_timeout().seconds(), 2) << "edge's own UpstreamConfig.Defaults.ConnectTimeoutMs";
  EXPECT_EQ(edge->connect_timeout().nanos(), 500000000);
  EXPECT_EQ(edge->eds_cluster_config().service_name(), kWeb) << "endpoints stay the shared ones";
  EXPECT_TRUE(translate::ValidateResource(*edge).empty()) << translate::ValidateResource(*edge).front();

  // Another gateway routing to the same service, and a proxyless client: the shared cluster,
  // untouched by edge's limits and by web's own UpstreamConfig.
  for (const auto& [node, wildcard] : {std::pair{std::string("plain"), true}, std::pair{std::string("proxyless"), false}}) {
    auto c = ClusterUntil(node, wildcard, [](const Cluster&) { return true; }, seconds(10));
    ASSERT_TRUE(c.has_value()) << node;
    EXPECT_FALSE(c->has_circuit_breakers()) << node;
    EXPECT_FALSE(c->has_outlier_detection()) << node;
    EXPECT_EQ(c->connect_timeout().seconds(), 5) << node << ": the resolver's 5s, not web's 1 ms";
  }

  // A bad entry: one problem naming the entry and field; the gateway keeps its last good limits.
  proxy.SetFault("/v1/config/ingress-gateway",
                 {.status = 200, .body = IngressAnswer(R"({"MaxConnections":-5})"), .moving_index = true, .hold = hold});
  const std::string problem = "ingress-gateway/edge: Defaults.MaxConnections: expected a non-negative integer";
  const auto deadline = Clock::now() + seconds(10);
  while (Clock::now() < deadline && tern_->process().Log().find(problem) == std::string::npos) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_NE(tern_->process().Log().find(problem), std::string::npos) << "no problem naming the entry and field";
  std::this_thread::sleep_for(hold * 2);  // a few more deliveries of the bad answer
  auto kept = ClusterUntil("edge", true, [](const Cluster&) { return true; }, seconds(10));
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(MaxConnections(*kept), 64u) << "the bad entry keeps its last good version";
  EXPECT_TRUE(kept->has_outlier_detection());

  // Fixed: the new limits arrive.
  proxy.SetFault("/v1/config/ingress-gateway",
                 {.status = 200, .body = IngressAnswer(R"({"MaxConnections":65})"), .moving_index = true, .hold = hold});
  auto fixed = ClusterUntil("edge", true, [](const Cluster& c) { return MaxConnections(c) == 65; }, seconds(10));
  ASSERT_TRUE(fixed.has_value());
  EXPECT_FALSE(fixed->has_outlier_detection()) << "no PassiveHealthCheck any more";
}

}  // namespace
}  // namespace tern::testing
