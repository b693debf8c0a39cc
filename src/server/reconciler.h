#pragma once
// The reconciler: the one place that sees every source. It keeps each source's last good
// fragment, merges them into the world, builds snapshots and publishes them to the cache.
//
// Updates arrive on source threads and are only queued (latest per source wins); one reconciler
// thread applies whatever is queued in a single rebuild, so a burst of Consul events costs one
// translation. A source error, or an update that would produce an invalid world, changes
// nothing that is served: the source's previous fragment stays in the world.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "cache/snapshot_cache.h"
#include "server/snapshot_builder.h"
#include "sources/source.h"

namespace tern::server {

struct SourceState {
  std::string name;
  bool synced = false;  // has delivered one good fragment
  uint64_t updates = 0;
  uint64_t errors = 0;
  uint64_t rejected = 0;  // good fragments refused because the merged world was invalid
  std::optional<std::chrono::system_clock::time_point> last_sync;
  std::optional<std::chrono::system_clock::time_point> last_error_time;
  std::string last_error;   // "" when the last event was a success
  std::string last_reason;  // what the last accepted update was
};

// Something that wants to hear about published changes (metrics, the audit log).
class ReconcilerObserver {
 public:
  virtual ~ReconcilerObserver() = default;
  // Called on the reconciler thread before a snapshot set reaches the cache. An error vetoes the
  // publication (the audit log in fail-closed mode, when it cannot write the record): the cache
  // keeps serving what it has, Ready() turns false with the error's message as the reason, and
  // the reconciler tries again (every second, and on every new update, folding the held
  // reasons into the next attempt) until the observer accepts.
  virtual absl::Status BeforePublish(const BuiltSnapshots& snapshots, const std::vector<std::string>& reasons) {
    return absl::OkStatus();
  }
  virtual void OnPublished(const BuiltSnapshots& snapshots, const std::vector<std::string>& reasons) {}
  virtual void OnRejected(const std::string& source, const std::vector<model::Problem>& problems) {}
};

class Reconciler : public sources::UpdateSink {
 public:
  Reconciler(cache::SnapshotCache& cache, std::vector<std::string> source_names,
             ReconcilerObserver* observer = nullptr);
  ~Reconciler() override;

  void Start();  // starts the reconciler thread; publishes an initial (possibly empty) snapshot
  void Stop();

  void OnUpdate(const std::string& source, sources::FragmentPtr fragment, std::string reason) override;
  void OnError(const std::string& source, std::vector<model::Problem> problems) override;

  // Applies everything queued now, on the calling thread (tests, and before Start).
  void Flush();

  // Every source has synced once, a snapshot is published and no publication is held back.
  bool Ready() const;
  // Why the newest configuration is held back (BeforePublish's error); "" when it is not.
  std::string PublishBlocked() const;
  std::vector<SourceState> Sources() const;
  uint64_t generation() const;  // number of snapshots published

 private:
  struct Pending {
    sources::FragmentPtr fragment;
    std::string reason;
  };
  void Loop();
  void ApplyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);

  cache::SnapshotCache& cache_;
  ReconcilerObserver* observer_;

  mutable absl::Mutex mu_;  // queue and status
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, SourceState> states_ ABSL_GUARDED_BY(mu_);
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::string blocked_ ABSL_GUARDED_BY(mu_);  // BeforePublish's veto, "" when none

  absl::Mutex apply_mu_;  // one rebuild at a time
  std::map<std::string, sources::FragmentPtr> fragments_ ABSL_GUARDED_BY(apply_mu_);
  SnapshotBuilder builder_ ABSL_GUARDED_BY(apply_mu_);
  std::vector<std::string> held_reasons_ ABSL_GUARDED_BY(apply_mu_);  // of vetoed publications
  bool held_ ABSL_GUARDED_BY(apply_mu_) = false;

  std::thread thread_;
};

}  // namespace tern::server
