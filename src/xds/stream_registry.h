#pragma once
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "xds/client_status.h"
#include "xds/stream_info.h"

namespace tern::xds {

// Reaches a live stream's protocol state when someone asks (client_status.h). Inspect fills `out`
// (each type's TypeInfo; with `detail`, also the subscriptions and snapshots behind per-resource
// statuses) and returns true, or returns false once the stream ended. Called without the
// registry's lock held; it takes the stream's own lock briefly.
class StreamInspector {
 public:
  virtual ~StreamInspector() = default;
  virtual bool Inspect(StreamView* out, bool detail) = 0;
};

// The live streams: who each is, and how to reach its state. Each stream updates its own entry;
// readers copy.
class StreamRegistry {
 public:
  uint64_t Add(StreamIdentity identity, std::shared_ptr<StreamInspector> inspector) {
    absl::MutexLock l(&mu_);
    identity.id = ++next_id_;
    streams_[identity.id] = Entry{std::move(identity), std::move(inspector)};
    ++opened_or_closed_;
    return next_id_;
  }
  template <typename F>
  void Update(uint64_t id, F&& f) {
    absl::MutexLock l(&mu_);
    auto it = streams_.find(id);
    if (it != streams_.end()) f(it->second.identity);
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
    std::vector<StreamInfo> out;
    for (auto& s : Statuses([](const StreamIdentity&) { return true; }, false)) out.push_back(std::move(s.info));
    return out;
  }
  // The streams `want` selects, with their per-resource statuses when `with_resources` (computed
  // now, outside the registry's lock). A stream that ends meanwhile is left out.
  std::vector<StreamStatus> Statuses(const std::function<bool(const StreamIdentity&)>& want,
                                     bool with_resources) const;

 private:
  struct Entry {
    StreamIdentity identity;
    std::shared_ptr<StreamInspector> inspector;
  };
  mutable absl::Mutex mu_;
  std::map<uint64_t, Entry> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t opened_or_closed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tern::xds
