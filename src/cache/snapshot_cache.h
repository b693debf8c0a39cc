#pragma once
// Holds the current snapshot per node cluster and tells watchers when it changes.
// Node clusters without a snapshot of their own get the default (mesh) snapshot.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cache/snapshot.h"

namespace tern::cache {

// The one interface the xds layer sees. Callbacks run on the publishing thread and must not
// block: a stream only notes that a newer snapshot exists and schedules its own write.
class ConfigWatcher {
 public:
  // `published_at`: when the publisher handed the snapshot set over (the same instant for every
  // watcher of one publication), so that a stream can measure its push latency from there.
  using Callback = std::function<void(SnapshotPtr, std::chrono::steady_clock::time_point published_at)>;
  virtual ~ConfigWatcher() = default;
  // Returns the current snapshot (may be null before the first publish) and registers `cb` to be
  // called with every later one for `node_cluster`. The returned id cancels the watch.
  virtual SnapshotPtr Watch(const std::string& node_cluster, Callback cb, uint64_t* watch_id) = 0;
  virtual void CancelWatch(uint64_t watch_id) = 0;
};

class SnapshotCache : public ConfigWatcher {
 public:
  // Replaces all snapshots at once: `per_cluster` for named node clusters, `fallback` for the
  // rest. Watchers whose snapshot version changed are notified, with `published_at` (the caller's
  // clock: the cache has none).
  void SetAll(std::map<std::string, SnapshotPtr> per_cluster, SnapshotPtr fallback,
              std::chrono::steady_clock::time_point published_at = {});
  SnapshotPtr Get(const std::string& node_cluster) const;
  std::vector<std::string> NodeClusters() const;

  SnapshotPtr Watch(const std::string& node_cluster, Callback cb, uint64_t* watch_id) override;
  void CancelWatch(uint64_t watch_id) override;

 private:
  struct WatchEntry {
    std::string node_cluster;
    Callback cb;
  };
  SnapshotPtr GetLocked(const std::string& node_cluster) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, SnapshotPtr> snapshots_ ABSL_GUARDED_BY(mu_);
  SnapshotPtr fallback_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, WatchEntry> watches_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace tern::cache
