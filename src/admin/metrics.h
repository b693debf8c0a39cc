#pragma once
// tern's Prometheus metrics, declared once here and injected where they are counted. The xds
// layer reports through XdsObserver; the app wires reconciler events to the source methods.
#include <array>
#include <map>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "absl/synchronization/mutex.h"
#include "xds/observer.h"

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

  // Sources and snapshots.
  void SourceUpdated(const std::string& source, double unix_seconds);
  void SourceFailed(const std::string& source);
  void SnapshotPublished(size_t node_clusters, size_t resources);

  std::string Render() const;  // Prometheus text exposition format
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  struct PerType {
    prometheus::Counter* responses;
    prometheus::Counter* resources;
    prometheus::Counter* bytes;
    prometheus::Counter* acks;
    prometheus::Counter* nacks;
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
  prometheus::Counter* snapshots_;
  prometheus::Gauge* node_clusters_;
  prometheus::Gauge* snapshot_resources_;
  std::array<PerType, kNumResourceTypes> types_;
  prometheus::Family<prometheus::Counter>* source_updates_;
  prometheus::Family<prometheus::Counter>* source_errors_;
  prometheus::Family<prometheus::Gauge>* source_up_;
  prometheus::Family<prometheus::Gauge>* source_last_sync_;
  absl::Mutex mu_;
  std::map<std::string, PerSource> sources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tern::admin
