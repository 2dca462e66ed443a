// CompletionFlag: a futex word with three states (zmesh/peer/future.hpp).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#include "zmesh/peer/future.hpp"

namespace zmesh {
namespace {

// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (steady_clock on Linux);
// null = no deadline. Returns false on ETIMEDOUT.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const timespec* deadline) noexcept {
  const long rc =
      ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET_PRIVATE,
                expected, deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
  return rc == 0 || errno != ETIMEDOUT;
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX,
                  nullptr, nullptr, 0);
}

}  // namespace

static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
                  sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t),
              "a futex word is a plain 32-bit integer");

void CompletionFlag::set() noexcept {
  if (state_.exchange(kSet, std::memory_order_acq_rel) == kWaited) futex_wake_all(state_);
}

void CompletionFlag::wait() const noexcept {
  (void)wait_until(std::chrono::steady_clock::time_point::max());
}

bool CompletionFlag::wait_until(std::chrono::steady_clock::time_point deadline) const noexcept {
  const bool forever = deadline == std::chrono::steady_clock::time_point::max();
  timespec ts{};
  if (!forever) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
    ts.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    if (ts.tv_nsec < 0) {
      ts.tv_nsec += 1'000'000'000;
      ts.tv_sec -= 1;
    }
    if (ts.tv_sec < 0) ts = {};
  }
  std::uint32_t s = state_.load(std::memory_order_acquire);
  while (s != kSet) {
    // Say we sleep before sleeping; set() wakes only then. A failed exchange reloads s.
    if (s == kUnset && !state_.compare_exchange_weak(s, kWaited, std::memory_order_acquire)) {
      continue;
    }
    if (!futex_wait(state_, kWaited, forever ? nullptr : &ts)) {
      return state_.load(std::memory_order_acquire) == kSet;
    }
    s = state_.load(std::memory_order_acquire);
  }
  return true;
}

}  // namespace zmesh
