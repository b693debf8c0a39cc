#pragma once
// The threads that bring streams up to date with a new snapshot, so that the publisher does not.
//
// A publication reaches every watching stream; computing each stream's next response (its diff
// against what its client holds) is the work, and it is per stream. The cache's watch callback
// therefore only records the newest snapshot in the stream's slot and schedules the stream here;
// a worker later runs the stream's task, which takes the newest snapshot and writes (latest wins:
// a stream scheduled twice before a worker reached it is run once, with the second snapshot).
// The publisher's cost per stream is a pointer store and a queue push.
//
// A task is queued at most once at a time: Schedule() on a queued task does nothing. A task that
// is running may be queued again (a snapshot arrived meanwhile); the task itself must serialize
// its runs (the stream's task holds the stream's lock while it takes the snapshot and writes).
#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tern::xds {

class FanoutPool {
 public:
  class Task {
   public:
    virtual ~Task() = default;
    virtual void Run() = 0;

   private:
    friend class FanoutPool;
    bool queued_ = false;  // guarded by the pool's mutex
  };

  // `threads` = 0: one per hardware thread (at least one).
  explicit FanoutPool(size_t threads = 0);
  ~FanoutPool();  // Stop()
  FanoutPool(const FanoutPool&) = delete;
  FanoutPool& operator=(const FanoutPool&) = delete;

  // Queues `task` to run on a worker, unless it is queued already. After Stop(), does nothing.
  void Schedule(std::shared_ptr<Task> task);
  // Runs nothing more (queued tasks are dropped) and joins the workers.
  void Stop();

  size_t threads() const { return workers_.size(); }

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Task>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace tern::xds
