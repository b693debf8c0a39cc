// The Consul source's metrics, through the real `build/tern serve` watching a real Consul
// (`consul agent -dev`): a new service and Consul going away each move the series docs/consul.md
// and docs/operations.md document, and promtool accepts the exposition with the Consul source's
// own series in it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "integration/consul_agent.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kRequests[] = "tern_consul_requests_total{source=\"consul\"}";
constexpr char kErrors[] = "tern_consul_errors_total{source=\"consul\"}";
constexpr char kUpdates[] = "tern_consul_updates_total{source=\"consul\"}";
constexpr char kWatches[] = "tern_consul_watches{source=\"consul\"}";
constexpr char kFailing[] = "tern_consul_failing_endpoints{source=\"consul\"}";
constexpr char kIndex[] = "tern_consul_catalog_index{source=\"consul\"}";
constexpr char kUp[] = "tern_source_up{source=\"consul\"}";
constexpr char kSourceErrors[] = "tern_source_errors_total{source=\"consul\"}";
constexpr char kSourceUpdates[] = "tern_source_updates_total{source=\"consul\"}";

class ConsulMetricsTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
    ASSERT_TRUE(consul_->Register("greeter", "g1", 50001).ok());
    StartTern({.extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\" }\n")});
  }

  template <typename Pred>
  Scrape AwaitMetrics(Pred pred, milliseconds timeout = seconds(15)) {
    return testing::AwaitMetrics(tern_->admin_port(), pred, timeout);
  }

  nlohmann::json ConsulRecord() {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/sources");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return nlohmann::json::object();
    for (const auto& s : nlohmann::json::parse(r->body)) {
      if (s["name"] == "consul") return s;
    }
    ADD_FAILURE() << "no consul source in " << r->body;
    return nlohmann::json::object();
  }

  std::unique_ptr<ConsulAgent> consul_;
};

TEST_F(ConsulMetricsTest, ANewServiceAndConsulGoingAwayMoveTheConsulSeries) {
  Scrape before = AwaitMetrics([](const Scrape& m) { return m[kWatches] > 0; });
  EXPECT_GT(before[kRequests], 0);
  EXPECT_GT(before[kWatches], 0);
  EXPECT_GT(before[kIndex], 0);
  EXPECT_EQ(before[kErrors], 0);
  EXPECT_EQ(before[kFailing], 0);
  EXPECT_EQ(before[kUp], 1);
  EXPECT_EQ(before[kSourceUpdates], 1) << "the initial sync";

  // A new service: a newer catalog index, a fragment handed over and accepted.
  ASSERT_TRUE(consul_->Register("billing", "b1", 50002).ok());
  Scrape s = AwaitMetrics([&](const Scrape& m) { return m[kSourceUpdates] > before[kSourceUpdates]; });
  EXPECT_GT(s[kSourceUpdates], before[kSourceUpdates]);
  EXPECT_GT(s[kUpdates], before[kUpdates]);
  EXPECT_GT(s[kIndex], before[kIndex]);
  EXPECT_GT(s[kRequests], before[kRequests]);
  // /debug/sources shows the same source in one record: the catalog's index (not an update count)
  // and the watches it holds.
  nlohmann::json src = ConsulRecord();
  EXPECT_GE(src["index"].get<double>(), s[kIndex]);
  EXPECT_GT(src["watches"].get<double>(), 0);
  EXPECT_TRUE(src["failing_endpoints"].empty());

  // Consul goes away: errors counted, endpoints failing, the source down (tern serves the last good).
  consul_->Kill();
  Scrape failing = AwaitMetrics([](const Scrape& m) { return m[kUp] == 0 && m[kFailing] > 0; });
  EXPECT_EQ(failing[kUp], 0);
  EXPECT_GT(failing[kFailing], 0);
  EXPECT_GT(failing[kErrors], 0);
  EXPECT_GT(failing[kSourceErrors], s[kSourceErrors]);
  EXPECT_EQ(failing["tern_ready"], 1) << "the last good configuration keeps serving";
  nlohmann::json down = ConsulRecord();
  ASSERT_FALSE(down["failing_endpoints"].empty()) << down.dump();
  EXPECT_EQ(down["failing_endpoints"][0]["endpoint"].get<std::string>().rfind("consul /v1/", 0), 0u) << down.dump();
  EXPECT_FALSE(down["failing_endpoints"][0]["error"].get<std::string>().empty());

  // The whole exposition, the Consul source's hand-written series included, passes promtool.
  ASSERT_TRUE(WriteFile(dir_.File("metrics.txt"), failing.text).ok());
  ToolResult r = RunPromtool({"check", "metrics"}, dir_.path(), dir_.File("metrics.txt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool has lint findings";
}

}  // namespace
}  // namespace tern::testing
