#include "xds/fanout_pool.h"

#include <algorithm>

namespace tern::xds {

FanoutPool::FanoutPool(size_t threads) {
  if (threads == 0) threads = std::max<size_t>(1, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

FanoutPool::~FanoutPool() { Stop(); }

void FanoutPool::Schedule(std::shared_ptr<Task> task) {
  absl::MutexLock l(&mu_);
  if (stopping_ || task->queued_) return;
  task->queued_ = true;
  queue_.push_back(std::move(task));
}

void FanoutPool::Stop() {
  std::deque<std::shared_ptr<Task>> dropped;
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    stopping_ = true;
    dropped.swap(queue_);
    for (auto& t : dropped) t->queued_ = false;
  }
  for (auto& w : workers_) w.join();
}

void FanoutPool::Work() {
  for (;;) {
    std::shared_ptr<Task> task;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](FanoutPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      task->queued_ = false;
    }
    task->Run();
  }
}

}  // namespace tern::xds
