#pragma once
// The reconciler: the one place that sees every source. It keeps the world (every source's last
// good contribution; each element belongs to the one source that defines it), applies the
// sources' changes to it in place, builds snapshots from what changed and publishes them.
//
// Updates arrive on source threads and are only queued (deltas of one source compose; a whole
// fragment replaces what was queued before it); one reconciler thread applies whatever is queued
// in a single rebuild, so a burst of Consul events costs one build. A source error, or an update
// that would produce an invalid world, changes nothing that is served: the update is undone and
// the source's previous contribution stays in the world.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
  void OnDelta(const std::string& source, model::WorldDelta delta, std::string reason) override;
  void OnUpdateWithChanges(const std::string& source, sources::FragmentPtr fragment, model::WorldDelta since_previous,
                           std::string reason) override;
  void OnError(const std::string& source, std::vector<model::Problem> problems) override;

  // Applies everything queued now, on the calling thread (tests, and before Start).
  void Flush();

  // Every source has synced once, a snapshot is published and no publication is held back.
  bool Ready() const;
  // Why the newest configuration is held back (BeforePublish's error); "" when it is not.
  std::string PublishBlocked() const;
  std::vector<SourceState> Sources() const;
  uint64_t generation() const;  // number of snapshots published
  // What the last build did (tests, benchmarks): how much a change cost.
  BuildStats LastBuildStats() const;

 private:
  struct Pending {
    sources::FragmentPtr fragment;  // when set, `delta` applies on top of it
    // What `fragment` changes relative to the source's fragment before it (its last update, which
    // the core holds if it accepted it): spares comparing the whole fragment.
    std::optional<model::WorldDelta> since_previous;
    model::WorldDelta delta;
    std::string reason;
  };
  // Undo log of one trial: the previous value (and owner) of every element it touched.
  struct Undo {
    std::map<std::string, std::pair<std::optional<model::Cluster>, std::string>> clusters;
    std::map<std::string, std::pair<std::optional<model::Gateway>, std::string>> gateways;
    std::map<std::string, std::pair<std::optional<model::ServiceRoutes>, std::string>> service_routes;
    std::map<std::string, std::pair<std::optional<model::Secret>, std::string>> secrets;
    std::optional<std::pair<std::optional<model::GatewayDefaults>, std::string>> defaults;
  };
  void Loop();
  void ApplyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // `source`'s queued update as a delta against the world.
  model::WorldDelta DeltaOf(const std::string& source, const Pending& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // Applies `delta` of `source` to the world, recording what it replaced in `undo`; a name
  // another source defines is a problem (and is not applied). Returns the names touched.
  model::ChangeSet Apply(const std::string& source, const model::WorldDelta& delta, Undo& undo,
                         std::vector<model::Problem>* problems) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
 public:
  enum class Phase { kRemovals, kDefinitions };  // removals are applied before definitions

 private:
  model::ChangeSet Apply(const std::string& source, const model::WorldDelta& delta, Undo& undo, Phase phase,
                         std::vector<model::Problem>* problems) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  void Rollback(Undo& undo) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);

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
  model::World world_ ABSL_GUARDED_BY(apply_mu_);
  struct Owners {
    std::map<std::string, std::string> clusters, gateways, service_routes, secrets;
    std::string defaults;  // "" when no source sets them
  };
  Owners owners_ ABSL_GUARDED_BY(apply_mu_);
  // Sources whose last update the core accepted (it holds exactly their last fragment).
  std::set<std::string> in_sync_ ABSL_GUARDED_BY(apply_mu_);
  SnapshotBuilder builder_ ABSL_GUARDED_BY(apply_mu_);
  BuildStats last_stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> held_reasons_ ABSL_GUARDED_BY(apply_mu_);  // of vetoed publications
  bool held_ ABSL_GUARDED_BY(apply_mu_) = false;

  std::thread thread_;
};

}  // namespace tern::server
