// `scripts/sanitize.sh tsan` runs this before the tests, twice (docs/reliability.md):
//   tsan_shim_check        two threads count under an absl::Mutex: TSan must report nothing
//                          (cmake/tsan_absl_mutex.cc gives it the mutex's happens-before edges);
//   tsan_shim_check race   the same, plus a counter both threads bump without the lock: TSan
//                          must report it (the edges are not so broad that a real race is hidden).
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace {
absl::Mutex mu;
long guarded ABSL_GUARDED_BY(mu) = 0;
long unguarded = 0;
}  // namespace

int main(int argc, char** argv) {
  const bool race = argc > 1 && std::strcmp(argv[1], "race") == 0;
  auto work = [race] {
    for (int i = 0; i < 100000; i++) {
      {
        absl::MutexLock lock(&mu);
        guarded++;
      }
      if (race) unguarded++;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  absl::MutexLock lock(&mu);
  std::printf("guarded %ld\n", guarded);
  return guarded == 200000 ? 0 : 1;
}
