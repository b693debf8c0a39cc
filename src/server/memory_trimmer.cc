#include "server/memory_trimmer.h"

#include <malloc.h>

namespace tern::server {

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds interval, std::function<uint64_t()> activity)
    : interval_(interval), activity_(std::move(activity)) {}

MemoryTrimmer::~MemoryTrimmer() { Stop(); }

void MemoryTrimmer::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock l(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void MemoryTrimmer::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t MemoryTrimmer::trims() const {
  absl::MutexLock l(&mu_);
  return trims_;
}

void MemoryTrimmer::Run() {
  uint64_t seen = activity_();
  bool pending = true;  // start-up (the first sync) is a burst too
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    cv_.WaitWithTimeout(&mu_, absl::Milliseconds(interval_.count()));
    if (stopping_) break;
    const uint64_t now = activity_();
    if (now != seen) {
      // Still busy: wait for a quiet interval, so a trim does not land in the middle of a push.
      seen = now;
      pending = true;
      continue;
    }
    if (!pending) continue;
    pending = false;
    mu_.Unlock();
    ::malloc_trim(0);
    mu_.Lock();
    ++trims_;
  }
}

}  // namespace tern::server
