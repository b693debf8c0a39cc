// admin::Metrics on its own: what the audit log's write hook and the scrape-time stream gauges
// put into the exposition. (Everything else is driven through the real binary in
// test/integration/metrics_test.cc.)
#include "admin/metrics.h"

#include <gtest/gtest.h>

#include <chrono>

#include "support/prometheus_text.h"

namespace tern::admin {
namespace {

using std::chrono::seconds;
using testing::ParseScrape;

// The audit log reports each record it writes, by kind, and each write that failed; a kind
// appears with its first record.
TEST(MetricsRegistryTest, AuditRecordsAreCountedByKindAndFailuresFromZero) {
  Metrics m;
  auto s = ParseScrape(m.Render());
  EXPECT_EQ(s["tern_audit_write_failures_total"], 0);
  EXPECT_EQ(s.types.count("tern_audit_records_total"), 0u);

  m.AuditRecorded("change");
  m.AuditRecorded("change");
  m.AuditRecorded("proxy");
  m.AuditWriteFailed();
  s = ParseScrape(m.Render());
  EXPECT_EQ(s["tern_audit_records_total{kind=\"change\"}"], 2);
  EXPECT_EQ(s["tern_audit_records_total{kind=\"proxy\"}"], 1);
  EXPECT_EQ(s.types["tern_audit_records_total"], "counter");
  EXPECT_EQ(s["tern_audit_write_failures_total"], 1);
}

// Three proxies: one has not ACKed a cluster response for 90 s, one NACKed its listeners 10 s ago,
// one is in sync. Two are out of sync, one NACKs, and the oldest un-ACKed response is 90 s old;
// once they are gone, the gauges read zero again.
TEST(MetricsRegistryTest, OutOfSyncAndNackingGaugesAreComputedFromTheStreams) {
  Metrics m;
  const auto now = std::chrono::steady_clock::now();
  std::vector<xds::StreamInfo> streams(3);
  streams[0].types[static_cast<size_t>(ResourceType::kCluster)].unacked_since = now - seconds(90);
  auto& lds = streams[1].types[static_cast<size_t>(ResourceType::kListener)];
  lds.unacked_since = now - seconds(10);
  lds.nacking = true;
  m.ObserveStreams(streams, now);
  auto s = ParseScrape(m.Render());
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 2);
  EXPECT_EQ(s["tern_xds_proxies_nacking"], 1);
  EXPECT_DOUBLE_EQ(s["tern_xds_oldest_unacked_seconds"], 90);

  m.ObserveStreams({}, now);
  s = ParseScrape(m.Render());
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 0);
  EXPECT_EQ(s["tern_xds_proxies_nacking"], 0);
  EXPECT_EQ(s["tern_xds_oldest_unacked_seconds"], 0);
}

}  // namespace
}  // namespace tern::admin
