#pragma once
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "xds/stream_info.h"

namespace tern::xds {

// Live streams' debug state. Each stream updates its own entry; readers copy.
class StreamRegistry {
 public:
  uint64_t Add(StreamInfo info) {
    absl::MutexLock l(&mu_);
    info.id = ++next_id_;
    streams_[info.id] = std::move(info);
    ++opened_or_closed_;
    return next_id_;
  }
  template <typename F>
  void Update(uint64_t id, F&& f) {
    absl::MutexLock l(&mu_);
    auto it = streams_.find(id);
    if (it != streams_.end()) f(it->second);
  }
  void Remove(uint64_t id) {
    absl::MutexLock l(&mu_);
    streams_.erase(id);
    ++opened_or_closed_;
  }
  // Streams opened plus streams closed, ever: moves whenever the set of streams changes.
  uint64_t Churn() const {
    absl::MutexLock l(&mu_);
    return opened_or_closed_;
  }
  std::vector<StreamInfo> All() const {
    absl::MutexLock l(&mu_);
    std::vector<StreamInfo> out;
    for (const auto& [id, s] : streams_) out.push_back(s);
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, StreamInfo> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t opened_or_closed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tern::xds
