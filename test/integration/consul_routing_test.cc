// End to end against a real Consul (consul agent -dev), the real `build/tern serve`, real gRPC
// backends and a real proxyless gRPC xDS client (build/tern-xds-probe), nothing faked.
//
// The stories: an operator canaries greeter with Consul config entries (resolver subsets by
// metadata, a splitter), promotes it, removes the split, loses an instance to a failing health
// check and finally deregisters the service; routes by path and header with retries and a
// timeout; and Consul dies under tern and comes back empty.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "integration/consul_agent.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kV1[] = "greeter-v1";
constexpr char kV2[] = "greeter-v2";
constexpr char kProxyless[] = "proxyless";

class ConsulRoutingTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kV1, &v1_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kV2, &v2_));
    ASSERT_TRUE(consul_->Register("greeter", "g1", v1_.grpc_port, R"({"version":"1"})").ok());
    ASSERT_TRUE(consul_->Register("greeter", "g2", v2_.grpc_port, R"({"version":"2"})").ok());
    StartTernWithProbes({.extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\" }\n")},
                        kProxyless);
  }

  // One series of tern's /metrics (-1 when it is not exported).
  double Metric(const std::string& series) { return Metrics()[series]; }

  std::unique_ptr<ConsulAgent> consul_;
  TestBackend v1_, v2_;
};

constexpr char kResolver[] = R"({"Kind":"service-resolver","Name":"greeter","DefaultSubset":"v1",
  "Subsets":{"v1":{"Filter":"Service.Meta.version == 1"},"v2":{"Filter":"Service.Meta.version == 2"}}})";

std::string Splitter(int v1, int v2) {
  return absl::StrCat(R"({"Kind":"service-splitter","Name":"greeter","Splits":[{"Weight":)", v1,
                      R"(,"ServiceSubset":"v1"},{"Weight":)", v2, R"(,"ServiceSubset":"v2"}]})");
}

TEST_F(ConsulRoutingTest, CanaryFollowsConsulConfigEntriesAndHealth) {
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"greeter","Protocol":"grpc"})").ok());
  ASSERT_TRUE(consul_->PutConfig(kResolver).ok());
  ASSERT_TRUE(consul_->PutConfig(Splitter(80, 20)).ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route").find("v2.greeter.default.dc1") != std::string::npos; }, seconds(10)))
      << Resources("route");

  // 1. 80/20 over the two subsets, 1000 calls within ±5 points.
  auto split = RunProbe(Probe(1000));
  ASSERT_TRUE(split.ok()) << split.status();
  SCOPED_TRACE(ToString(*split));
  EXPECT_EQ(split->ok, 1000);
  EXPECT_EQ(split->count(kV1) + split->count(kV2), 1000);
  EXPECT_GE(split->count(kV1), 750);
  EXPECT_LE(split->count(kV1), 850);

  // 2. Promote: splitter 0/100; a connected client is on v2 within 2 s.
  auto live = LiveClient();
  ASSERT_TRUE(live);
  size_t before = ParseProbeOutput(live->Log()).size();
  ASSERT_TRUE(consul_->PutConfig(Splitter(0, 100)).ok());
  long moved = MovedWithin(*live, kV2, before, seconds(10));
  std::cerr << "splitter 0/100: client on v2 after " << moved << " ms\n";
  ASSERT_GE(moved, 0) << "never moved to v2; " << live->LogTail();
  EXPECT_LE(moved, 2000);
  auto fresh = RunProbe(Probe(100));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->count(kV2), 100) << ToString(*fresh);

  // 3. Remove the split and the resolver: plain greeter, both instances by weight (1:1). The
  // subset clusters go away while the connected client's route still names them: it must not
  // lose a call (the route moves first, the clusters leave after: make before break).
  before = ParseProbeOutput(live->Log()).size();
  ASSERT_TRUE(consul_->DeleteConfig("service-splitter", "greeter").ok());
  ASSERT_TRUE(consul_->DeleteConfig("service-resolver", "greeter").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route").find("v2.greeter.default.dc1") == std::string::npos; }, seconds(10)));
  ASSERT_TRUE(WaitFor([&] {
    auto rounds = ParseProbeOutput(live->Log());
    return rounds.size() > before + 1 && rounds.back().count(kV1) + rounds.back().count(kV2) == 20 &&
           rounds.back().count(kV1) > 0;
  }, seconds(10))) << live->LogTail();
  {
    auto rounds = ParseProbeOutput(live->Log());
    long failed = 0;
    for (size_t i = before; i < rounds.size(); ++i) failed += rounds[i].failed;
    EXPECT_EQ(failed, 0) << "calls failed while the subset clusters were replaced; " << live->LogTail();
  }
  auto both = RunProbe(Probe(1000));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->ok, 1000) << ToString(*both);
  EXPECT_GE(both->count(kV1), 450) << ToString(*both);
  EXPECT_LE(both->count(kV1), 550) << ToString(*both);

  // 4. g1's TTL check fails: everything goes to g2 within 2 s.
  before = ParseProbeOutput(live->Log()).size();
  ASSERT_TRUE(consul_->FailCheck("g1").ok());
  moved = MovedWithin(*live, kV2, before + 1, seconds(10));
  std::cerr << "g1 critical: client on v2 only after " << moved << " ms\n";
  ASSERT_GE(moved, 0) << live->LogTail();
  EXPECT_LE(moved, 2000);
  live->Kill();

  // 5. Deregister: a real removal; greeter's clusters and listener leave the next snapshot.
  ASSERT_TRUE(consul_->Deregister("g1").ok());
  ASSERT_TRUE(consul_->Deregister("g2").ok());
  EXPECT_TRUE(WaitFor([&] {
    std::string all = Resources("all");
    return !all.empty() && all.find("greeter") == std::string::npos;
  }, seconds(5))) << Resources("all").substr(0, 3000);
}

TEST_F(ConsulRoutingTest, RouterRoutesByPathAndHeaderWithRetriesAndTimeout) {
  for (const char* svc : {"web", "api", "canary"}) {
    ASSERT_TRUE(consul_->PutConfig(absl::StrCat(R"({"Kind":"service-defaults","Name":")", svc, R"(","Protocol":"http"})")).ok());
    ASSERT_TRUE(consul_->Register(svc, std::string(svc) + "-1", v1_.grpc_port).ok());
  }
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-router","Name":"web","Routes":[
    {"Match":{"HTTP":{"PathPrefix":"/api"}},
     "Destination":{"Service":"api","PrefixRewrite":"/","RequestTimeout":"7s","NumRetries":3,
                    "RetryOnConnectFailure":true,"RetryOnStatusCodes":[503]}},
    {"Match":{"HTTP":{"Header":[{"Name":"x-canary","Exact":"1"}]}},"Destination":{"Service":"canary"}}]})").ok());
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route").find("canary.default.dc1") != std::string::npos; }, seconds(10)));

  auto r = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", "edge", "--type", "all"},
                   dir_.File("render.out"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  auto j = nlohmann::json::parse(r->out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r->out.substr(0, 2000);
  const std::string text = j.dump();
  EXPECT_NE(text.find("\"http_8080\""), std::string::npos) << "the ingress listener";
  EXPECT_NE(text.find("web.ingress.*"), std::string::npos) << "Consul's default host";

  bool saw_api = false, saw_canary = false;
  for (const auto& type : j["types"]) {
    for (const auto& rc : type["resources"]) {
      if (!rc.contains("virtualHosts")) continue;
      for (const auto& vh : rc["virtualHosts"]) {
        for (const auto& route : vh["routes"]) {
          const std::string s = route.dump();
          if (route["match"].value("prefix", "") == "/api") {
            saw_api = true;
            EXPECT_EQ(route["route"]["cluster"], "api.default.dc1") << s;
            EXPECT_EQ(route["route"]["timeout"], "7s") << s;
            EXPECT_EQ(route["route"]["retryPolicy"]["numRetries"], 3) << s;
            EXPECT_NE(s.find("connect-failure"), std::string::npos) << s;
            EXPECT_NE(s.find("503"), std::string::npos) << s;
            EXPECT_EQ(route["route"]["prefixRewrite"], "/") << s;
          }
          if (s.find("x-canary") != std::string::npos) {
            saw_canary = true;
            EXPECT_EQ(route["route"]["cluster"], "canary.default.dc1") << s;
          }
        }
      }
    }
  }
  EXPECT_TRUE(saw_api) << text.substr(0, 4000);
  EXPECT_TRUE(saw_canary) << text.substr(0, 4000);
}

// tern holds one connection per blocking query (about two per service) and Consul closes a
// client's connections beyond limits.http_max_conns_per_client (200 by default): the operator is
// told, once, before the limit bites, and /metrics shows the count (docs/consul.md "Sizing").
// A catalog that outgrows the connection budget switches tern to aggregate watching at run time
// (docs/consul.md "Connections"): the services that arrive are served, the ones already watched
// keep their data, and no sizing warning is needed (Consul's default limits are enough).
TEST_F(ConsulRoutingTest, AGrowingCatalogSwitchesToAggregateWatchingWithoutAWarning) {
  ASSERT_TRUE(WaitFor([&] { return Metric("tern_consul_watches{source=\"consul\"}") > 0; }, seconds(5)));
  EXPECT_EQ(tern_->process().Log().find("aggregate mode"), std::string::npos) << "2 services: per-service watches";
  for (int i = 0; i < 85; ++i) {
    ASSERT_TRUE(consul_->Register(absl::StrCat("svc-", i), absl::StrCat("svc-", i, "-1"), v1_.grpc_port).ok());
  }
  auto line = tern_->process().WaitForLine("watching Consul in aggregate mode", seconds(15));
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_TRUE(WaitFor([&] { return Resources("cluster").find("svc-84.default.dc1") != std::string::npos; }, seconds(10)));
  // What was watched before the switch still follows changes: greeter's v2 instance fails.
  ASSERT_TRUE(consul_->FailCheck("g2").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("endpoint").find(std::to_string(v2_.grpc_port)) == std::string::npos; },
                      seconds(5)))
      << Resources("endpoint");
  EXPECT_EQ(tern_->process().Log().find("http_max_conns_per_client"), std::string::npos) << tern_->process().LogTail();
}

TEST_F(ConsulRoutingTest, ConsulOutageKeepsEveryRouteAndResyncsWithoutBusyLoop) {
  ASSERT_TRUE(WaitFor([&] { return Resources("endpoint").find(std::to_string(v2_.grpc_port)) != std::string::npos; },
                      seconds(10)));
  auto ok = RunProbe(Probe(100));
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->ok, 100) << ToString(*ok);
  const std::string endpoints_before = Resources("endpoint");

  const int port = consul_->http_port();
  consul_->Kill();
  ASSERT_TRUE(WaitFor([&] { return Admin("/debug/sources").find("\"serving_last_good\": true") != std::string::npos; },
                      seconds(10))) << Admin("/debug/sources");
  // Measure how often tern knocks on a dead Consul over 5 s.
  const double watches = Metric("tern_consul_watches{source=\"consul\"}");
  const double requests_at = Metric("tern_consul_requests_total{source=\"consul\"}");
  const auto window_start = Clock::now();
  // Meanwhile every route and endpoint stays, and the client keeps working.
  auto during = RunProbe(Probe(200));
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->ok, 200) << ToString(*during);
  EXPECT_EQ(Resources("endpoint"), endpoints_before);
  std::this_thread::sleep_until(window_start + seconds(5));
  const double requests = Metric("tern_consul_requests_total{source=\"consul\"}") - requests_at;
  std::cerr << "Consul down 5 s: " << requests << " requests for " << watches << " watches\n";
  EXPECT_GT(watches, 0);
  EXPECT_LE(requests, watches * 12) << "about one request per watch per 0.5-1 s is the budget";

  // Consul comes back empty (new data, index reset); the services are registered again.
  ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path(), port), &consul_));
  const auto up = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return Admin("/debug/sources").find("\"serving_last_good\": false") != std::string::npos; },
                      seconds(5))) << Admin("/debug/sources");
  std::cerr << "tern healthy again " << Ms(Clock::now() - up) << " ms after Consul answered\n";
  EXPECT_LE(Ms(Clock::now() - up), 1500);
  ASSERT_TRUE(consul_->Register("greeter", "g1", v1_.grpc_port, R"({"version":"1"})").ok());
  ASSERT_TRUE(consul_->Register("greeter", "g2", v2_.grpc_port, R"({"version":"2"})").ok());
  ASSERT_TRUE(WaitFor([&] {
    std::string e = Resources("endpoint");
    return e.find(std::to_string(v1_.grpc_port)) != std::string::npos &&
           e.find(std::to_string(v2_.grpc_port)) != std::string::npos;
  }, seconds(3))) << Resources("endpoint");
  auto after = RunProbe(Probe(200));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->ok, 200) << ToString(*after);
  EXPECT_GT(after->count(kV1), 0);
  EXPECT_GT(after->count(kV2), 0);
}

}  // namespace
}  // namespace tern::testing
