// ThreadSanitizer builds only (TERN_SANITIZE=thread; docs/reliability.md, "Sanitizer builds").
//
// Debian's abseil is not built with -fsanitize=thread, so TSan never sees absl::Mutex lock or
// unlock: without help every member guarded by an absl::Mutex is reported as a race. This file
// is linked into every TSan-built executable. It defines the absl::Mutex and absl::CondVar entry
// points tern uses; the executable's definitions take precedence over the shared library's, each
// calls the library's own (found with dlsym(RTLD_NEXT)) and tells TSan the happens-before edge:
// release of the mutex before anything that unlocks it, acquire after anything that locks it.
// This is what abseil's own annotations do in an instrumented abseil build. Lock-order (deadlock)
// checking is not provided; clang's -Wthread-safety build covers locking discipline.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

#define TERN_TSAN_STR2(x) #x
#define TERN_TSAN_STR(x) TERN_TSAN_STR2(x)

// The library's definition of `absl::<cls>::<member>` (Itanium mangling inside abseil's inline
// namespace), or abort: a TSan run that silently lost its mutex edges would be worse than none.
void* Real(const char* cls, const char* member_and_args) {
  const std::string ns = TERN_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string c = cls;
  const std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + std::to_string(c.size()) + c +
                           member_and_args;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found in abseil\n", name.c_str());
    std::abort();
  }
  return fn;
}

template <typename Fn>
Fn Lookup(const char* cls, const char* member_and_args) {
  return reinterpret_cast<Fn>(Real(cls, member_and_args));
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::Lock() {
  static const auto real = Lookup<void (*)(Mutex*)>("Mutex", "4LockEv");
  real(this);
  __tsan_acquire(this);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::ReaderLock() {
  static const auto real = Lookup<void (*)(Mutex*)>("Mutex", "10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::TryLock() {
  static const auto real = Lookup<bool (*)(Mutex*)>("Mutex", "7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::Unlock() {
  static const auto real = Lookup<void (*)(Mutex*)>("Mutex", "6UnlockEv");
  __tsan_release(this);
  real(this);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::ReaderUnlock() {
  static const auto real = Lookup<void (*)(Mutex*)>("Mutex", "12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Lookup<void (*)(Mutex*, const Condition&)>("Mutex", "8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Lookup<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "Mutex", "19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);  // held on return either way
  return met;
}

// Await and CondVar::Wait give the mutex up while they wait: whatever another holder did in
// between happens before they return.
ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::Await(const Condition& cond) {
  static const auto real = Lookup<void (*)(Mutex*, const Condition&)>("Mutex", "5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  real(this, cond);
  __tsan_acquire(this);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Lookup<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "Mutex", "16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Lookup<void (*)(CondVar*, Mutex*)>("CondVar", "4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Lookup<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "CondVar", "15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
