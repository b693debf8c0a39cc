#pragma once
// One state-of-the-world stream (ADS or a per-type service) as a gRPC callback reactor.
//
// Threading: gRPC calls OnReadDone/OnWriteDone on its own threads; the cache calls the snapshot
// watch on the publishing thread. All stream state is under mu_. Exactly one write is in flight
// at a time; a snapshot that arrives meanwhile only replaces snapshot_, and the next write is
// computed from the newest snapshot when the current one completes (latest wins, no queue).
// Nothing here blocks: a reaction parses one small request or copies pre-serialized bytes.
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cache/snapshot_cache.h"
#include "xds/observer.h"
#include "xds/sotw_state.h"
#include "xds/stream_registry.h"

namespace tern::xds {

class StreamAuthorizer;

struct StreamDeps {
  cache::ConfigWatcher& watcher;
  StreamRegistry& registry;
  XdsObserver* observer;       // may be null
  StreamAuthorizer* authorizer;  // may be null
};

class SotwReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  SotwReactor(grpc::CallbackServerContext* ctx, StreamDeps deps, std::optional<ResourceType> fixed_type,
              std::string service_name);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;
  void OnCancel() override {}

 private:
  // The watch callback holds this, not the reactor, so that a late notification after OnDone
  // finds a null reactor instead of freed memory.
  struct Handle {
    absl::Mutex mu;
    SotwReactor* reactor ABSL_GUARDED_BY(mu);
  };

  void OnSnapshot(cache::SnapshotPtr snapshot);
  void HandleRequest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishOnce(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishInfo() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* ctx_;
  StreamDeps deps_;
  std::shared_ptr<Handle> handle_;
  uint64_t registry_id_ = 0;

  absl::Mutex mu_;
  SotwState state_ ABSL_GUARDED_BY(mu_);
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
  std::string node_id_ ABSL_GUARDED_BY(mu_);
  std::string node_cluster_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tern::xds
