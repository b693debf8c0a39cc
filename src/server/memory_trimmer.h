#pragma once
// Gives freed heap memory back to the operating system after bursts of work.
//
// glibc keeps freed memory in its arenas. After an initial sync of 1,000 streams or a large push
// the transient buffers (responses being written, requests being parsed) are free again but
// stay in tern's RSS: 7.5–12 MB after syncing 1,000 streams (docs/performance.md).
// Every `interval`, if `activity` moved since the last look (a snapshot was published, streams
// came or went), malloc_trim(0) returns the free pages; an idle tern does nothing.
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tern::server {

class MemoryTrimmer {
 public:
  MemoryTrimmer(std::chrono::milliseconds interval, std::function<uint64_t()> activity);
  ~MemoryTrimmer();  // Stop()
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  void Start();
  void Stop();
  uint64_t trims() const;  // how many times memory was trimmed

 private:
  void Run();

  const std::chrono::milliseconds interval_;
  const std::function<uint64_t()> activity_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t trims_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace tern::server
