#pragma once
// tern's Prometheus metrics, declared once here and injected where they are counted. The xds
// layer reports through XdsObserver; the app wires reconciler events to the source and snapshot
// methods, and sets the scrape-time gauges (stream sync state, readiness) before each Render().
// docs/operations.md lists every metric; keep the two in step.
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/synchronization/mutex.h"
#include "xds/observer.h"
#include "xds/stream_info.h"

namespace tern::admin {

class Metrics : public xds::XdsObserver {
 public:
  Metrics();

  // XdsObserver
  void OnStreamOpened(bool delta) override;
  void OnStreamClosed(bool delta) override;
  void OnResponseSent(ResourceType type, size_t resources, size_t bytes) override;
  void OnAck(ResourceType type) override;
  void OnNack(ResourceType type, const std::string& error) override;
  void OnBadRequest(const std::string& error) override;
  void OnPushLatency(ResourceType type, double seconds) override;
  void OnConverged(ResourceType type, double seconds) override;

  // Sources and snapshots.
  // Creates the source's series at zero (tern_source_up 0 until its first accepted update), so
  // that a source that never syncs is visible and alertable.
  void RegisterSource(const std::string& source);
  void SourceUpdated(const std::string& source, double unix_seconds);
  void SourceFailed(const std::string& source);
  void SnapshotPublished(size_t node_clusters, size_t resources);
  void SnapshotBuilt(double seconds, double unix_seconds);

  // The audit log: one record written (kind: what it records), or a write that failed.
  void AuditRecorded(std::string_view kind);
  void AuditWriteFailed();

  // Scrape-time state. `now` is the clock of StreamInfo::TypeInfo::unacked_since.
  void ObserveStreams(const std::vector<xds::StreamInfo>& streams, std::chrono::steady_clock::time_point now);
  void SetReady(bool ready);

  std::string Render() const;  // Prometheus text exposition format
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  struct PerType {
    prometheus::Counter* responses;
    prometheus::Counter* resources;
    prometheus::Counter* bytes;
    prometheus::Counter* acks;
    prometheus::Counter* nacks;
    prometheus::Histogram* push_latency;
    prometheus::Histogram* convergence;
  };
  struct PerSource {
    prometheus::Counter* updates;
    prometheus::Counter* errors;
    prometheus::Gauge* up;
    prometheus::Gauge* last_sync;
  };
  PerSource& Source(const std::string& name);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* streams_sotw_;
  prometheus::Gauge* streams_delta_;
  prometheus::Counter* streams_total_;
  prometheus::Counter* bad_requests_;
  prometheus::Gauge* out_of_sync_;
  prometheus::Gauge* oldest_unacked_;
  prometheus::Gauge* nacking_;
  prometheus::Counter* snapshots_;
  prometheus::Gauge* node_clusters_;
  prometheus::Gauge* snapshot_resources_;
  prometheus::Histogram* build_seconds_;
  prometheus::Gauge* last_publish_;
  prometheus::Gauge* ready_;
  std::array<PerType, kNumResourceTypes> types_;
  prometheus::Family<prometheus::Counter>* source_updates_;
  prometheus::Family<prometheus::Counter>* source_errors_;
  prometheus::Family<prometheus::Gauge>* source_up_;
  prometheus::Family<prometheus::Gauge>* source_last_sync_;
  prometheus::Family<prometheus::Counter>* audit_records_;
  prometheus::Counter* audit_failures_;
  absl::Mutex mu_;
  std::map<std::string, PerSource> sources_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Counter*, std::less<>> audit_kinds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tern::admin
