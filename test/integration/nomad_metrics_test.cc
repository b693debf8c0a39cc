// The Nomad source's metrics, through the real `build/tern serve` watching the fake Nomad
// (build/tern-fake-nomad): a new allocation, Nomad failing and Nomad coming back each move the
// series docs/nomad.md and docs/operations.md document, and promtool accepts the exposition with
// the Nomad source's own series in it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "integration/nomad_fake.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

class NomadMetricsTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path()), &nomad_));
    ASSERT_TRUE(nomad_->Register("alloc-a", "greeter", 50001).ok());
    StartTern({.extra_config = absl::StrCat("nomad:\n  address: \"", nomad_->address(), "\"\n")});
  }

  template <typename Pred>
  Scrape AwaitMetrics(Pred pred, milliseconds timeout = seconds(10)) {
    return testing::AwaitMetrics(tern_->admin_port(), pred, timeout);
  }

  std::unique_ptr<FakeNomad> nomad_;
};

constexpr char kRequests[] = "tern_nomad_requests_total{source=\"nomad\"}";
constexpr char kErrors[] = "tern_nomad_errors_total{source=\"nomad\"}";
constexpr char kUpdates[] = "tern_nomad_updates_total{source=\"nomad\"}";
constexpr char kWatches[] = "tern_nomad_watches{source=\"nomad\"}";
constexpr char kFailing[] = "tern_nomad_failing_endpoints{source=\"nomad\"}";
constexpr char kIndex[] = "tern_nomad_services_index{source=\"nomad\"}";
constexpr char kUp[] = "tern_source_up{source=\"nomad\"}";
constexpr char kSourceErrors[] = "tern_source_errors_total{source=\"nomad\"}";
constexpr char kSourceUpdates[] = "tern_source_updates_total{source=\"nomad\"}";

TEST_F(NomadMetricsTest, AllocationsFailuresAndRecoveryMoveTheNomadSeries) {
  // Synced: requests made, blocking queries held, the index of the services list known.
  Scrape before = AwaitMetrics([](const Scrape& m) { return m[kWatches] > 0; });
  EXPECT_GT(before[kRequests], 0);
  EXPECT_GT(before[kWatches], 0);
  EXPECT_GT(before[kIndex], 0);
  EXPECT_EQ(before[kSourceUpdates], 1) << "the initial sync";
  EXPECT_EQ(before[kErrors], 0);
  EXPECT_EQ(before[kFailing], 0);
  EXPECT_EQ(before[kUp], 1);

  // A new service: the services list changes (a newer index), the source hands over a fragment,
  // and the core accepts it.
  ASSERT_TRUE(nomad_->Register("alloc-b", "billing", 50002).ok());
  Scrape s = AwaitMetrics([&](const Scrape& m) { return m[kSourceUpdates] > before[kSourceUpdates]; });
  EXPECT_EQ(s[kSourceUpdates], before[kSourceUpdates] + 1);
  EXPECT_GT(s[kUpdates], before[kUpdates]);
  EXPECT_GT(s[kIndex], before[kIndex]);
  EXPECT_GT(s[kRequests], before[kRequests]);

  // Nomad fails: errors counted, endpoints failing, the source down (tern serves the last good).
  ASSERT_TRUE(nomad_->Fault("500").ok());
  ASSERT_TRUE(nomad_->Register("alloc-c", "greeter", 50003).ok());  // wakes the blocking queries
  Scrape failing = AwaitMetrics([](const Scrape& m) { return m[kUp] == 0 && m[kFailing] > 0; });
  EXPECT_EQ(failing[kUp], 0);
  EXPECT_GT(failing[kFailing], 0);
  EXPECT_GT(failing[kErrors], 0);
  EXPECT_GT(failing[kSourceErrors], s[kSourceErrors]);

  // Nomad answers again: the source is up, nothing is failing.
  ASSERT_TRUE(nomad_->Fault("none").ok());
  s = AwaitMetrics([](const Scrape& m) { return m[kUp] == 1 && m[kFailing] == 0; });
  EXPECT_EQ(s[kUp], 1);
  EXPECT_EQ(s[kFailing], 0);

  // The whole exposition, the Nomad source's hand-written series included, passes promtool.
  ASSERT_TRUE(WriteFile(dir_.File("metrics.txt"), s.text).ok());
  ToolResult r = RunPromtool({"check", "metrics"}, dir_.path(), dir_.File("metrics.txt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool has lint findings";
}

}  // namespace
}  // namespace tern::testing
