#pragma once
// One xDS stream (ADS or a per-type service; state-of-the-world or delta) as a gRPC callback
// reactor. The protocol itself lives in the State class (SotwState, DeltaState).
//
// Threading: gRPC calls OnReadDone/OnWriteDone on its own threads; the cache calls the snapshot
// watch on the publishing thread, which only stores the snapshot in the stream's Handle and
// schedules the stream on the fan-out pool (fanout_pool.h); a pool worker then computes and
// starts the write. All stream state is under mu_. Exactly one write is in flight
// at a time; a snapshot that arrives meanwhile only replaces snapshot_, and the next write is
// computed from the newest snapshot when the current one completes (latest wins, no queue).
// Nothing here blocks: a reaction parses one small request or copies pre-serialized bytes.
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cache/snapshot_cache.h"
#include "xds/observer.h"
#include "xds/delta_state.h"
#include "xds/fanout_pool.h"
#include "xds/sotw_state.h"
#include "xds/stream_registry.h"

namespace envoy::service::discovery::v3 {
class DiscoveryRequest;
class DeltaDiscoveryRequest;
}  // namespace envoy::service::discovery::v3

namespace tern::xds {

class StreamAuthorizer;

struct SotwProtocol {
  using Request = envoy::service::discovery::v3::DiscoveryRequest;
  using State = SotwState;
  static constexpr bool kDelta = false;
};
struct DeltaProtocol {
  using Request = envoy::service::discovery::v3::DeltaDiscoveryRequest;
  using State = DeltaState;
  static constexpr bool kDelta = true;
};

struct StreamDeps {
  cache::ConfigWatcher& watcher;
  StreamRegistry& registry;
  XdsObserver* observer;       // may be null
  StreamAuthorizer* authorizer;  // may be null
  // Where snapshot notifications are handled; null: on the publishing thread (tools, tests).
  FanoutPool* fanout = nullptr;
};

// Protocol = SotwProtocol or DeltaProtocol (below).
template <typename Protocol>
class StreamReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  using Request = typename Protocol::Request;
  using State = typename Protocol::State;
  StreamReactor(grpc::CallbackServerContext* ctx, StreamDeps deps, std::optional<ResourceType> fixed_type,
                std::string service_name);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;
  void OnCancel() override;

 private:
  // The watch callback holds this, not the reactor, so that a late notification after OnDone
  // finds a null reactor instead of freed memory.
  // It is also how CSDS reads the stream's state (lock order: Handle::mu, then the reactor's mu_),
  // and the stream's fan-out task: the publisher leaves the newest snapshot in `pending` (under
  // slot_mu only, never waiting for the stream), a pool worker hands it to the reactor.
  struct Handle : StreamInspector, FanoutPool::Task {
    absl::Mutex mu;
    StreamReactor* reactor ABSL_GUARDED_BY(mu);
    absl::Mutex slot_mu ABSL_ACQUIRED_AFTER(mu);
    cache::SnapshotPtr pending ABSL_GUARDED_BY(slot_mu);
    // The publication of the oldest snapshot the slot replaced since a worker last emptied it.
    std::chrono::steady_clock::time_point pending_published ABSL_GUARDED_BY(slot_mu){};
    bool Inspect(StreamView* out, bool detail) override {
      absl::MutexLock hl(&mu);
      if (!reactor) return false;
      reactor->Inspect(out, detail);
      return true;
    }
    // Takes the slot under `mu`, so that a run that took an older snapshot cannot hand it over
    // after a later run handed over a newer one.
    void Run() override {
      absl::MutexLock hl(&mu);
      cache::SnapshotPtr snap;
      std::chrono::steady_clock::time_point published_at;
      {
        absl::MutexLock sl(&slot_mu);
        snap = std::move(pending);
        published_at = pending_published;
        pending_published = {};
      }
      if (reactor && snap) reactor->OnSnapshot(std::move(snap), published_at);
    }
  };
  void Inspect(StreamView* out, bool detail);

  void OnSnapshot(cache::SnapshotPtr snapshot, std::chrono::steady_clock::time_point published_at);
  void HandleRequest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishOnce(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ProxyEvent reporting (observer.h): the stream's identity filled in, ACK/NACK deduplicated.
  xds::ProxyEvent BaseEvent(ProxyEvent::Kind kind) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportAckOrNack(RequestKind kind, ResourceType type, const Request& req) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* ctx_;
  StreamDeps deps_;
  std::shared_ptr<Handle> handle_;
  uint64_t registry_id_ = 0;

  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer request_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer response_ ABSL_GUARDED_BY(mu_);
  cache::SnapshotPtr snapshot_ ABSL_GUARDED_BY(mu_);
  bool watching_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t watch_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ResourceType> in_flight_type_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_flight_resources_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  // Timing for the observer (push latency, convergence) and the scrape-time sync gauges; the epoch
  // (TimePoint{}) means "none", to keep streams small. push_published_: publication of the oldest
  // snapshot not yet fully written (none while the stream is up to date, so that answers to new
  // subscriptions are not counted as pushes). converge_from_: per type, the publication the
  // proxy's next ACK of that type completes. unacked_since_: per type, when the first response
  // the proxy has not ACKed was written.
  using TimePoint = std::chrono::steady_clock::time_point;
  TimePoint push_published_ ABSL_GUARDED_BY(mu_){};
  TimePoint in_flight_published_ ABSL_GUARDED_BY(mu_){};
  std::array<TimePoint, kNumResourceTypes> converge_from_ ABSL_GUARDED_BY(mu_){};
  std::array<TimePoint, kNumResourceTypes> unacked_since_ ABSL_GUARDED_BY(mu_){};
  std::array<bool, kNumResourceTypes> nacking_ ABSL_GUARDED_BY(mu_){};
  std::string node_id_ ABSL_GUARDED_BY(mu_);
  std::string node_cluster_ ABSL_GUARDED_BY(mu_);
  // For ProxyEvents.
  std::chrono::steady_clock::time_point opened_;
  std::string peer_;
  std::string service_;
  bool named_ ABSL_GUARDED_BY(mu_) = false;  // the first request named a node
  std::string identity_ ABSL_GUARDED_BY(mu_);
  grpc::StatusCode finish_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
  std::string finish_message_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  struct Reported {
    RequestKind kind;
    std::string version;
    std::string error;
  };
  std::array<std::optional<Reported>, kNumResourceTypes> reported_ ABSL_GUARDED_BY(mu_);
};

using SotwReactor = StreamReactor<SotwProtocol>;
using DeltaReactor = StreamReactor<DeltaProtocol>;
extern template class StreamReactor<SotwProtocol>;
extern template class StreamReactor<DeltaProtocol>;

}  // namespace tern::xds
