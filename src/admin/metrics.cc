#include "admin/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace tern::admin {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& streams = BuildGauge().Name("tern_xds_streams").Help("Open xDS streams").Register(*registry_);
  streams_sotw_ = &streams.Add({{"protocol", "sotw"}});
  streams_delta_ = &streams.Add({{"protocol", "delta"}});
  streams_total_ = &BuildCounter().Name("tern_xds_streams_opened_total").Help("xDS streams opened").Register(*registry_).Add({});
  bad_requests_ = &BuildCounter()
                       .Name("tern_xds_bad_requests_total")
                       .Help("Malformed xDS requests (the stream is closed with INVALID_ARGUMENT)")
                       .Register(*registry_)
                       .Add({});
  auto& responses = BuildCounter().Name("tern_xds_responses_total").Help("xDS responses written").Register(*registry_);
  auto& resources = BuildCounter().Name("tern_xds_resources_sent_total").Help("Resources in written xDS responses").Register(*registry_);
  auto& bytes = BuildCounter().Name("tern_xds_response_bytes_total").Help("Bytes of written xDS responses").Register(*registry_);
  auto& acks = BuildCounter().Name("tern_xds_acks_total").Help("ACKs received").Register(*registry_);
  auto& nacks = BuildCounter().Name("tern_xds_nacks_total").Help("NACKs received").Register(*registry_);
  for (ResourceType t : kAdsOrder) {
    prometheus::Labels l{{"type", std::string(ShortName(t))}};
    types_[static_cast<size_t>(t)] = {&responses.Add(l), &resources.Add(l), &bytes.Add(l), &acks.Add(l), &nacks.Add(l)};
  }
  snapshots_ = &BuildCounter().Name("tern_snapshots_published_total").Help("Snapshot sets published").Register(*registry_).Add({});
  node_clusters_ = &BuildGauge().Name("tern_snapshot_node_clusters").Help("Node clusters with their own snapshot").Register(*registry_).Add({});
  snapshot_resources_ = &BuildGauge().Name("tern_snapshot_resources").Help("Resources in all published snapshots").Register(*registry_).Add({});
  source_updates_ = &BuildCounter().Name("tern_source_updates_total").Help("Accepted source updates").Register(*registry_);
  source_errors_ = &BuildCounter()
                        .Name("tern_source_errors_total")
                        .Help("Source failures and rejected updates (the last good configuration keeps serving)")
                        .Register(*registry_);
  source_up_ = &BuildGauge().Name("tern_source_up").Help("1 when the source's last event succeeded").Register(*registry_);
  source_last_sync_ = &BuildGauge()
                           .Name("tern_source_last_sync_timestamp_seconds")
                           .Help("Unix time of the source's last accepted update")
                           .Register(*registry_);
}

void Metrics::OnStreamOpened(bool delta) {
  (delta ? streams_delta_ : streams_sotw_)->Increment();
  streams_total_->Increment();
}
void Metrics::OnStreamClosed(bool delta) { (delta ? streams_delta_ : streams_sotw_)->Decrement(); }
void Metrics::OnResponseSent(ResourceType type, size_t resources, size_t bytes) {
  auto& t = types_[static_cast<size_t>(type)];
  t.responses->Increment();
  t.resources->Increment(static_cast<double>(resources));
  t.bytes->Increment(static_cast<double>(bytes));
}
void Metrics::OnAck(ResourceType type) { types_[static_cast<size_t>(type)].acks->Increment(); }
void Metrics::OnNack(ResourceType type, const std::string&) { types_[static_cast<size_t>(type)].nacks->Increment(); }
void Metrics::OnBadRequest(const std::string&) { bad_requests_->Increment(); }

Metrics::PerSource& Metrics::Source(const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = sources_.find(name);
  if (it != sources_.end()) return it->second;
  prometheus::Labels labels{{"source", name}};
  PerSource ps{&source_updates_->Add(labels), &source_errors_->Add(labels), &source_up_->Add(labels),
               &source_last_sync_->Add(labels)};
  return sources_.emplace(name, ps).first->second;
}

void Metrics::SourceUpdated(const std::string& source, double unix_seconds) {
  auto& s = Source(source);
  s.updates->Increment();
  s.up->Set(1);
  s.last_sync->Set(unix_seconds);
}

void Metrics::SourceFailed(const std::string& source) {
  auto& s = Source(source);
  s.errors->Increment();
  s.up->Set(0);
}

void Metrics::SnapshotPublished(size_t node_clusters, size_t resources) {
  snapshots_->Increment();
  node_clusters_->Set(static_cast<double>(node_clusters));
  snapshot_resources_->Set(static_cast<double>(resources));
}

std::string Metrics::Render() const {
  prometheus::TextSerializer s;
  std::ostringstream os;
  s.Serialize(os, registry_->Collect());
  return os.str();
}

}  // namespace tern::admin
