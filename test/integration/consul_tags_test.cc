// Routing from instance tags, end to end: a real Consul (consul agent -dev), the real `build/tern
// serve`, real gRPC backends and a real proxyless gRPC xDS client (build/tern-xds-probe).
//
// The stories: a team moving off Fabio registers services with their urlprefix- tags and sees a
// gateway of routes appear, prefixes and rewrites as Fabio would do them, and a weight= tag split
// the calls of a real client; and a Nomad canary deployment (an instance carrying canary_tags)
// gets 10% of a service's calls until it is promoted, when everything returns to one set.
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

constexpr char kV1[] = "tags-v1";
constexpr char kV2[] = "tags-v2";
constexpr char kProxyless[] = "proxyless";

class ConsulTagsTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kV1, &v1_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kV2, &v2_));
  }

  void StartTern(const std::string& consul_extra) {
    StartTernWithProbes({.extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\", ",
                                                      consul_extra, " }\n")},
                        kProxyless);
  }

  // An instance as Nomad registers it: tags (urlprefix-..., canary_tags) and a TTL check.
  absl::Status Register(const std::string& service, const std::string& id, int port, const std::string& tags_json) {
    return consul_->Call("PUT", "/v1/agent/service/register",
                         absl::StrCat(R"({"Name":")", service, R"(","ID":")", id, R"(","Address":"127.0.0.1","Port":)",
                                      port, R"(,"Tags":)", tags_json, R"(,"Check":{"CheckID":")", id,
                                      R"(-ttl","TTL":"600s","Status":"passing"}})"));
  }

  // `tern render` of one node cluster's route configurations, as JSON.
  nlohmann::json RenderRoutes(const std::string& node_cluster) {
    auto r = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", node_cluster, "--type", "route"},
                     dir_.File(absl::StrCat("render-", probe_runs_++, ".out")));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_EQ(r->exit_code, 0) << r->err;
    auto j = nlohmann::json::parse(r->out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r->out.substr(0, 2000);
    return j;
  }

  std::unique_ptr<ConsulAgent> consul_;
  TestBackend v1_, v2_;
};

// Every route of every virtual host of every route configuration in a render.
std::vector<nlohmann::json> Routes(const nlohmann::json& render) {
  std::vector<nlohmann::json> out;
  if (!render.contains("types")) return out;
  for (const auto& type : render["types"]) {
    for (const auto& rc : type["resources"]) {
      if (!rc.contains("virtualHosts")) continue;
      for (const auto& vh : rc["virtualHosts"]) {
        for (const auto& route : vh["routes"]) out.push_back(route);
      }
    }
  }
  return out;
}

TEST_F(ConsulTagsTest, FabioTagsBecomeGatewayRoutesAndAWeightSplitsARealClient) {
  ASSERT_NO_FATAL_FAILURE(StartTern("fabio_gateway: fabio"));
  ASSERT_TRUE(Register("a", "a-1", v1_.http_port ? v1_.http_port : v1_.grpc_port, R"(["urlprefix-/a"])").ok());
  ASSERT_TRUE(Register("b", "b-1", v2_.grpc_port, R"(["urlprefix-/b strip=/b"])").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route", "fabio").find("b~fabio~/b") != std::string::npos; }, seconds(10)))
      << Resources("route", "fabio");

  // 1. The operator renders the Fabio gateway: one listener on 9999, /a as is, /b stripped.
  const auto render = RenderRoutes("fabio");
  const std::string text = render.dump();
  EXPECT_NE(text.find("\"http_9999\""), std::string::npos) << text.substr(0, 3000);
  bool saw_a = false, saw_b_sub = false, saw_b_exact = false;
  for (const auto& route : Routes(render)) {
    const std::string s = route.dump();
    const auto& m = route["match"];
    if (m.value("prefix", "") == "/a") {
      saw_a = true;
      EXPECT_EQ(route["route"]["cluster"], "a~fabio~/a") << s;
      EXPECT_FALSE(route["route"].contains("prefixRewrite")) << s;
    }
    if (m.value("prefix", "") == "/b/") {
      saw_b_sub = true;
      EXPECT_EQ(route["route"]["cluster"], "b~fabio~/b") << s;
      EXPECT_EQ(route["route"]["prefixRewrite"], "/") << "strip=/b: /b/x is forwarded as /x; " << s;
    }
    if (m.value("path", "") == "/b") {
      saw_b_exact = true;
      EXPECT_EQ(route["route"]["prefixRewrite"], "/") << s;
    }
  }
  EXPECT_TRUE(saw_a) << text.substr(0, 4000);
  EXPECT_TRUE(saw_b_sub) << text.substr(0, 4000);
  EXPECT_TRUE(saw_b_exact) << text.substr(0, 4000);

  // 2. A gRPC service: one instance tagged with its method prefix and weight=0.2, one untagged.
  //    The proxyless client of xds:///echo follows the service's routes: 20% / 80%.
  ASSERT_TRUE(Register("echo", "echo-canary", v2_.grpc_port, R"(["urlprefix-/tern.test.Echo weight=0.2 proto=grpc"])").ok());
  ASSERT_TRUE(Register("echo", "echo-main", v1_.grpc_port, R"([])").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route").find("echo~fabio~/tern.test.Echo~w2000") != std::string::npos; },
                      seconds(10))) << Resources("route");
  auto split = RunProbe(Probe("echo", 1000));
  ASSERT_TRUE(split.ok()) << split.status();
  SCOPED_TRACE(ToString(*split));
  EXPECT_EQ(split->ok, 1000);
  EXPECT_GE(split->count(kV2), 150);
  EXPECT_LE(split->count(kV2), 250);
  std::cerr << "fabio weight=0.2: " << ToString(*split) << "\n";

  // 3. A malformed tag is reported naming the service, instance and tag; the other routes stay.
  ASSERT_TRUE(Register("c", "c-1", v1_.grpc_port, R"(["urlprefix-/c weight=lots"])").ok());
  ASSERT_TRUE(WaitFor([&] { return Admin("/debug/sources").find("urlprefix-/c weight=lots") != std::string::npos; },
                      seconds(10))) << Admin("/debug/sources");
  const std::string sources = Admin("/debug/sources");
  EXPECT_NE(sources.find("consul service c instance c-1"), std::string::npos) << sources;
  EXPECT_NE(Resources("route", "fabio").find("a~fabio~/a"), std::string::npos);
}

TEST_F(ConsulTagsTest, NomadCanaryGetsItsShareAHeaderRouteAndLeavesOnPromotion) {
  ASSERT_NO_FATAL_FAILURE(StartTern("canary_tag: canary"));
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"greeter","Protocol":"grpc"})").ok());
  ASSERT_TRUE(Register("greeter", "g-stable", v1_.grpc_port, R"(["v1"])").ok());
  ASSERT_TRUE(Register("greeter", "g-canary", v2_.grpc_port, R"(["v2","canary"])").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route").find("greeter-canary") != std::string::npos; }, seconds(10)))
      << Resources("route");

  // 1. 1000 calls: 90% stable, 10% canary (±5 points).
  auto split = RunProbe(Probe("greeter", 1000));
  ASSERT_TRUE(split.ok()) << split.status();
  {
    SCOPED_TRACE(ToString(*split));
    EXPECT_EQ(split->ok, 1000);
    EXPECT_GE(split->count(kV2), 50);
    EXPECT_LE(split->count(kV2), 150);
  }
  std::cerr << "canary 90/10: " << ToString(*split) << "\n";

  // 2. The route an Envoy gateway exposing greeter follows: `x-canary: true` goes to the canary
  //    only, before the split. (Proxyless clients get the split without the header route; see
  //    docs/consul.md.)
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
    "Listeners":[{"Port":8080,"Protocol":"grpc","Services":[{"Name":"greeter"}]}]})").ok());
  ASSERT_TRUE(WaitFor([&] { return Resources("route", "edge").find("x-canary") != std::string::npos; }, seconds(10)))
      << Resources("route", "edge");
  auto routes = RenderRoutes("edge");
  bool saw_header = false, saw_split = false;
  for (const auto& route : Routes(routes)) {
    const std::string s = route.dump();
    if (s.find("x-canary") != std::string::npos) {
      EXPECT_FALSE(saw_split) << "the header route comes first";
      saw_header = true;
      EXPECT_EQ(route["route"]["cluster"], "greeter-canary") << s;
      EXPECT_NE(s.find("\"true\""), std::string::npos) << s;
    } else if (route["route"].contains("weightedClusters")) {
      saw_split = true;
      EXPECT_NE(s.find("greeter-stable"), std::string::npos) << s;
    }
  }
  EXPECT_TRUE(saw_header) << routes.dump().substr(0, 3000);
  EXPECT_TRUE(saw_split) << routes.dump().substr(0, 3000);

  // 3. Promotion: Nomad re-registers the canary without canary_tags. A connected client's calls
  //    spread over both instances (one set) within 2 s; the canary clusters leave the snapshot.
  ProbeOptions live_options = Probe("greeter", 20);
  live_options.rounds = 100000;
  live_options.round_interval_ms = 20;
  auto live = StartProbe(live_options);
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_TRUE((*live)->WaitForLine(R"("ok":20)", seconds(20)).ok()) << (*live)->LogTail();
  const size_t before = ParseProbeOutput((*live)->Log()).size();
  const auto promoted = Clock::now();
  ASSERT_TRUE(Register("greeter", "g-canary", v2_.grpc_port, R"(["v2"])").ok());
  // One set: 10 consecutive rounds (200 calls) with at least 35% on each instance; under the
  // 90/10 split such a window is about 12 standard deviations away.
  long moved = -1;
  while (Clock::now() < promoted + seconds(10) && moved < 0) {
    auto rounds = ParseProbeOutput((*live)->Log());
    for (size_t i = before; i + 10 <= rounds.size(); ++i) {
      long a = 0, b = 0;
      for (size_t k = i; k < i + 10; ++k) {
        a += rounds[k].count(kV1);
        b += rounds[k].count(kV2);
      }
      if (a >= 70 && b >= 70) {
        moved = Ms(Clock::now() - promoted);
        break;
      }
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  std::cerr << "promotion: a connected client on one set (10-round window complete) after " << moved << " ms\n";
  ASSERT_GE(moved, 0) << (*live)->LogTail();
  EXPECT_LE(moved, 2000);
  (*live)->Kill();
  EXPECT_EQ(Resources("cluster").find("greeter-canary"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return Resources("route", "edge").find("x-canary") == std::string::npos; }, seconds(2)))
      << Resources("route", "edge");
  auto after = RunProbe(Probe("greeter", 1000));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->ok, 1000) << ToString(*after);
  EXPECT_GE(after->count(kV2), 450) << ToString(*after);
  EXPECT_LE(after->count(kV2), 550) << ToString(*after);
}

}  // namespace
}  // namespace tern::testing
