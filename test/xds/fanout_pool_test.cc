// The fan-out pool: a stream scheduled again before a worker reached it runs once (the
// publisher's repeated notifications coalesce), a stream scheduled while it runs runs again, and
// a stopped pool runs nothing.
#include <algorithm>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "xds/fanout_pool.h"

namespace tern::xds {
namespace {

// Counts its runs; optionally blocks in its first run until released.
class CountingTask : public FanoutPool::Task {
 public:
  void Run() override {
    absl::MutexLock l(&mu_);
    runs_++;
    if (block_ && runs_ == 1) {
      started_.Notify();
      mu_.Await(absl::Condition(&released_));
    }
  }
  void BlockFirstRun() { block_ = true; }
  void WaitStarted() { started_.WaitForNotification(); }
  void Release() {
    absl::MutexLock l(&mu_);
    released_ = true;
  }
  void AwaitRuns(int n) {
    absl::MutexLock l(&mu_);
    auto done = [&] { return runs_ >= n; };
    mu_.Await(absl::Condition(&done));
  }
  int runs() {
    absl::MutexLock l(&mu_);
    return runs_;
  }

 private:
  absl::Mutex mu_;
  int runs_ = 0;
  bool block_ = false;
  bool released_ = false;
  absl::Notification started_;
};

TEST(FanoutPoolTest, AStreamNotifiedTwiceBeforeAWorkerReachesItRunsOnce) {
  FanoutPool pool(1);
  auto busy = std::make_shared<CountingTask>();
  busy->BlockFirstRun();
  pool.Schedule(busy);
  busy->WaitStarted();  // the only worker is busy

  auto stream = std::make_shared<CountingTask>();
  pool.Schedule(stream);
  pool.Schedule(stream);
  pool.Schedule(stream);
  auto marker = std::make_shared<CountingTask>();  // queued after: when it ran, the queue was drained
  pool.Schedule(marker);
  busy->Release();
  marker->AwaitRuns(1);
  EXPECT_EQ(stream->runs(), 1);
  EXPECT_EQ(busy->runs(), 1);
}

TEST(FanoutPoolTest, AStreamNotifiedWhileItRunsRunsAgain) {
  FanoutPool pool(2);
  auto stream = std::make_shared<CountingTask>();
  stream->BlockFirstRun();
  pool.Schedule(stream);
  stream->WaitStarted();
  pool.Schedule(stream);  // queued again: its first run may have taken an older snapshot
  stream->Release();
  stream->AwaitRuns(2);
  EXPECT_EQ(stream->runs(), 2);
}

TEST(FanoutPoolTest, AStoppedPoolRunsNothing) {
  FanoutPool pool(1);
  EXPECT_EQ(pool.threads(), 1u);
  pool.Stop();
  auto stream = std::make_shared<CountingTask>();
  pool.Schedule(stream);
  pool.Stop();
  EXPECT_EQ(stream->runs(), 0);
}

TEST(FanoutPoolTest, DefaultsToOneWorkerPerHardwareThreadAtLeastOne) {
  FanoutPool pool;
  EXPECT_GE(pool.threads(), 1u);
  EXPECT_EQ(pool.threads(), std::max<size_t>(1, std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace tern::xds
