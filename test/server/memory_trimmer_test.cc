// The trimmer gives memory back once after each burst of activity, and never while idle.
#include "server/memory_trimmer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <malloc.h>
#include <thread>
#include <vector>

namespace tern::server {
namespace {

using namespace std::chrono_literals;

template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 400; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(MemoryTrimmer, TrimsAfterABurstAndNeverWhileIdle) {
  std::atomic<uint64_t> activity{0};
  MemoryTrimmer trimmer(20ms, [&] { return activity.load(); });
  trimmer.Start();
  // Start-up counts as a burst: one trim, then nothing while idle.
  ASSERT_TRUE(Eventually([&] { return trimmer.trims() == 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(trimmer.trims(), 1u);
  // A burst of activity: trimmed after it (a stalled machine may split it in two), then idle again.
  for (int i = 0; i < 20; ++i) {
    activity++;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(Eventually([&] { return trimmer.trims() >= 2; }));
  std::this_thread::sleep_for(100ms);
  const uint64_t after_burst = trimmer.trims();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(trimmer.trims(), after_burst) << "trimmed while idle";
  trimmer.Stop();
}

TEST(MemoryTrimmer, FreedMemoryLeavesTheProcess) {
  // 64 MiB in small blocks, freed: glibc keeps them; a trim returns them to the kernel.
  auto rss_kib = [] {
    FILE* f = std::fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && std::fgets(line, sizeof line, f)) {
      if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    }
    if (f) std::fclose(f);
    return kib;
  };
  std::atomic<uint64_t> activity{0};
  MemoryTrimmer trimmer(20ms, [&] { return activity.load(); });
  trimmer.Start();
  ASSERT_TRUE(Eventually([&] { return trimmer.trims() == 1; }));
  const long before = rss_kib();
  [[maybe_unused]] static std::vector<char>* pin = nullptr;  // kept for the test's life
  {
    std::vector<std::vector<char>> blocks;
    blocks.reserve(64 * 1024);  // the outer array is one mmap: no holes left in the heap by growth
    for (int i = 0; i < 64 * 1024; ++i) blocks.emplace_back(1000, static_cast<char>(i));
    // Allocated last, so it sits above the blocks and keeps free() from shrinking the heap top.
    pin = new std::vector<char>(1000, 'x');
  }
  const long freed_but_kept = rss_kib();
  ASSERT_GT(freed_but_kept, before + 48 * 1024) << "glibc already returned the memory: the premise is gone";
  activity++;  // a burst happened
  ASSERT_TRUE(Eventually([&] { return trimmer.trims() == 2; }));
  EXPECT_LT(rss_kib(), freed_but_kept - 32 * 1024) << "a trim did not return the freed 64 MiB";
  trimmer.Stop();
}

}  // namespace
}  // namespace tern::server
