#include "cache/snapshot_cache.h"

namespace tern::cache {

SnapshotPtr SnapshotCache::GetLocked(const std::string& node_cluster) const {
  auto it = snapshots_.find(node_cluster);
  return it != snapshots_.end() ? it->second : fallback_;
}

SnapshotPtr SnapshotCache::Get(const std::string& node_cluster) const {
  absl::ReaderMutexLock l(&mu_);
  return GetLocked(node_cluster);
}

std::vector<std::string> SnapshotCache::NodeClusters() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, s] : snapshots_) out.push_back(name);
  return out;
}

void SnapshotCache::SetAll(std::map<std::string, SnapshotPtr> per_cluster, SnapshotPtr fallback,
                           std::chrono::steady_clock::time_point published_at) {
  std::vector<std::pair<Callback, SnapshotPtr>> notify;
  {
    absl::MutexLock l(&mu_);
    std::map<std::string, SnapshotPtr> before;
    for (const auto& [id, w] : watches_) before.try_emplace(w.node_cluster, GetLocked(w.node_cluster));
    snapshots_ = std::move(per_cluster);
    fallback_ = std::move(fallback);
    for (const auto& [id, w] : watches_) {
      SnapshotPtr now = GetLocked(w.node_cluster);
      const SnapshotPtr& old = before[w.node_cluster];
      bool changed = (old == nullptr) != (now == nullptr) || (old && now && old->version() != now->version());
      if (changed) notify.emplace_back(w.cb, now);
    }
  }
  // Outside the lock: a callback may cancel or add watches.
  for (auto& [cb, snap] : notify) cb(snap, published_at);
}

SnapshotPtr SnapshotCache::Watch(const std::string& node_cluster, Callback cb, uint64_t* watch_id) {
  absl::MutexLock l(&mu_);
  *watch_id = next_watch_id_++;
  watches_[*watch_id] = WatchEntry{node_cluster, std::move(cb)};
  return GetLocked(node_cluster);
}

void SnapshotCache::CancelWatch(uint64_t watch_id) {
  absl::MutexLock l(&mu_);
  watches_.erase(watch_id);
}

}  // namespace tern::cache
