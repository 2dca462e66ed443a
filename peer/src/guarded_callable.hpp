// Guarded<Fn> — a user callback that can be retired while workers may be calling it.
// Workers call it under a shared lock; retire() marks it removed and then takes the lock
// exclusively, so that once retire() returns the callback is not running and is never
// called again. A callback that retires itself (from inside its own call) is only marked:
// waiting for itself would deadlock.
#pragma once

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <utility>

namespace zmesh::detail {

// The Guarded object whose callback this thread is running, if any.
inline thread_local const void* tl_running_callable = nullptr;

template <class Fn>
struct Guarded {
  explicit Guarded(Fn f) : fn(std::move(f)) {}

  /// Calls fn(args...) unless retired; returns false if it was retired.
  template <class... Args>
  bool call(Args&&... args) {
    return call_with([&](Fn& f) { f(std::forward<Args>(args)...); });
  }

  /// Calls visit(fn) unless retired (for callbacks whose result the caller keeps).
  template <class Visit>
  bool call_with(Visit&& visit) {
    std::shared_lock lock(running);
    if (removed.load()) return false;
    const void* outer = tl_running_callable;
    tl_running_callable = this;
    struct Restore {
      const void* prev;
      ~Restore() { tl_running_callable = prev; }
    } restore{outer};
    visit(fn);
    return true;
  }

  /// After this returns, fn is not running (unless we are inside it) and never runs again.
  void retire() noexcept {
    removed.store(true);
    if (tl_running_callable != this) std::unique_lock lock(running);
  }

  Fn fn;
  std::shared_mutex running;  // shared while fn runs; exclusive to retire
  std::atomic<bool> removed{false};
};

}  // namespace zmesh::detail
