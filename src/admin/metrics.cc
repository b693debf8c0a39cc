#include "admin/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <sstream>

namespace tern::admin {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

namespace {
// From a loopback push (about a millisecond) to a proxy that is minutes behind.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                         0.25,  0.5,    1,     2.5,  5,     10,   30, 60, 300};
  return b;
}
// A small world builds in well under a millisecond; thousands of services take seconds.
const prometheus::Histogram::BucketBoundaries& BuildBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}
}  // namespace

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
  out_of_sync_ = &BuildGauge()
                      .Name("tern_xds_proxies_out_of_sync")
                      .Help("Open streams holding a response they have not ACKed (NACKed or not answered yet)")
                      .Register(*registry_)
                      .Add({});
  oldest_unacked_ = &BuildGauge()
                         .Name("tern_xds_oldest_unacked_seconds")
                         .Help("Age of the oldest response not ACKed by its stream (0 when every stream is in sync)")
                         .Register(*registry_)
                         .Add({});
  nacking_ = &BuildGauge()
                  .Name("tern_xds_proxies_nacking")
                  .Help("Open streams whose last answer for some type was a NACK")
                  .Register(*registry_)
                  .Add({});
  auto& responses = BuildCounter().Name("tern_xds_responses_total").Help("xDS responses written").Register(*registry_);
  auto& resources = BuildCounter().Name("tern_xds_resources_sent_total").Help("Resources in written xDS responses").Register(*registry_);
  auto& bytes = BuildCounter().Name("tern_xds_response_bytes_total").Help("Bytes of written xDS responses").Register(*registry_);
  auto& acks = BuildCounter().Name("tern_xds_acks_total").Help("ACKs received").Register(*registry_);
  auto& nacks = BuildCounter().Name("tern_xds_nacks_total").Help("NACKs received").Register(*registry_);
  auto& push = BuildHistogram()
                   .Name("tern_xds_push_latency_seconds")
                   .Help("Seconds from a snapshot's publication to the end of writing a response that carries it")
                   .Register(*registry_);
  auto& converge = BuildHistogram()
                       .Name("tern_xds_convergence_seconds")
                       .Help("Seconds from a snapshot's publication to the proxy's ACK of the response that carries it")
                       .Register(*registry_);
  for (ResourceType t : kAdsOrder) {
    prometheus::Labels l{{"type", std::string(ShortName(t))}};
    types_[static_cast<size_t>(t)] = {&responses.Add(l), &resources.Add(l), &bytes.Add(l),
                                      &acks.Add(l),      &nacks.Add(l),     &push.Add(l, LatencyBuckets()),
                                      &converge.Add(l, LatencyBuckets())};
  }
  snapshots_ = &BuildCounter().Name("tern_snapshots_published_total").Help("Snapshot sets published").Register(*registry_).Add({});
  node_clusters_ = &BuildGauge().Name("tern_snapshot_node_clusters").Help("Node clusters with their own snapshot").Register(*registry_).Add({});
  snapshot_resources_ = &BuildGauge().Name("tern_snapshot_resources").Help("Resources in all published snapshots").Register(*registry_).Add({});
  build_seconds_ = &BuildHistogram()
                        .Name("tern_snapshot_build_seconds")
                        .Help("Seconds to merge, translate and check the world for a published snapshot set")
                        .Register(*registry_)
                        .Add({}, BuildBuckets());
  last_publish_ = &BuildGauge()
                       .Name("tern_snapshot_last_published_timestamp_seconds")
                       .Help("Unix time of the last published snapshot set")
                       .Register(*registry_)
                       .Add({});
  ready_ = &BuildGauge()
                .Name("tern_ready")
                .Help("1 when every source has synced once and a snapshot is published (/readyz answers 200)")
                .Register(*registry_)
                .Add({});
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
  audit_records_ = &BuildCounter().Name("tern_audit_records_total").Help("Audit records written, by kind").Register(*registry_);
  audit_failures_ = &BuildCounter()
                         .Name("tern_audit_write_failures_total")
                         .Help("Audit records that could not be written")
                         .Register(*registry_)
                         .Add({});
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
void Metrics::OnPushLatency(ResourceType type, double seconds) {
  types_[static_cast<size_t>(type)].push_latency->Observe(seconds);
}
void Metrics::OnConverged(ResourceType type, double seconds) {
  types_[static_cast<size_t>(type)].convergence->Observe(seconds);
}

Metrics::PerSource& Metrics::Source(const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = sources_.find(name);
  if (it != sources_.end()) return it->second;
  prometheus::Labels labels{{"source", name}};
  PerSource ps{&source_updates_->Add(labels), &source_errors_->Add(labels), &source_up_->Add(labels),
               &source_last_sync_->Add(labels)};
  return sources_.emplace(name, ps).first->second;
}

void Metrics::RegisterSource(const std::string& source) { Source(source); }

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

void Metrics::SnapshotBuilt(double seconds, double unix_seconds) {
  build_seconds_->Observe(seconds);
  last_publish_->Set(unix_seconds);
}

void Metrics::AuditRecorded(std::string_view kind) {
  prometheus::Counter* c;
  {
    absl::MutexLock l(&mu_);
    auto it = audit_kinds_.find(kind);
    if (it == audit_kinds_.end()) {
      it = audit_kinds_.emplace(std::string(kind), &audit_records_->Add({{"kind", std::string(kind)}})).first;
    }
    c = it->second;
  }
  c->Increment();
}

void Metrics::AuditWriteFailed() { audit_failures_->Increment(); }

void Metrics::ObserveStreams(const std::vector<xds::StreamInfo>& streams, std::chrono::steady_clock::time_point now) {
  size_t out_of_sync = 0, nacking = 0;
  double oldest = 0;
  for (const auto& s : streams) {
    bool behind = false, nacked = false;
    for (const auto& t : s.types) {
      nacked = nacked || t.nacking;
      if (t.unacked_since == std::chrono::steady_clock::time_point{}) continue;
      behind = true;
      oldest = std::max(oldest, std::chrono::duration<double>(now - t.unacked_since).count());
    }
    out_of_sync += behind;
    nacking += nacked;
  }
  out_of_sync_->Set(static_cast<double>(out_of_sync));
  nacking_->Set(static_cast<double>(nacking));
  oldest_unacked_->Set(oldest);
}

void Metrics::SetReady(bool ready) { ready_->Set(ready ? 1 : 0); }

std::string Metrics::Render() const {
  prometheus::TextSerializer s;
  std::ostringstream os;
  s.Serialize(os, registry_->Collect());
  return os.str();
}

}  // namespace tern::admin
