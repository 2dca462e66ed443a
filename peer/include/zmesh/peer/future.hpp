// zmesh/peer/future.hpp — the futures Peer's asynchronous calls return.
//
// zmesh::Future<T> reads like std::future<T> (get, wait, wait_for, wait_until, valid;
// get() throws what the call failed with) but completing one costs no system call when
// nobody is waiting on it: std::promise::set_value always makes one (it runs through
// std::call_once, whose glibc implementation wakes a futex unconditionally), once per
// request. Here the engine sets a flag; only a thread already asleep in wait() or get()
// is woken, with one futex call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

/// A one-shot event: set once, waited on by any number of threads. set() makes a system
/// call only when a thread is asleep in wait(); is_set() and a wait on a set flag make
/// none. Linux futex based.
class CompletionFlag {
 public:
  CompletionFlag() = default;
  CompletionFlag(const CompletionFlag&) = delete;
  CompletionFlag& operator=(const CompletionFlag&) = delete;

  [[nodiscard]] bool is_set() const noexcept {
    return state_.load(std::memory_order_acquire) == kSet;
  }
  /// Sets the flag and wakes every waiter. Setting twice is harmless.
  void set() noexcept;
  /// Returns once the flag is set.
  void wait() const noexcept;
  /// Returns true once the flag is set, false at `deadline` if it is not.
  [[nodiscard]] bool wait_until(std::chrono::steady_clock::time_point deadline) const noexcept;

 private:
  static constexpr std::uint32_t kUnset = 0;
  static constexpr std::uint32_t kWaited = 1;  // unset, and a thread sleeps on it
  static constexpr std::uint32_t kSet = 2;
  // Waiters mark it kWaited before they sleep; set() wakes only then.
  mutable std::atomic<std::uint32_t> state_{kUnset};
};

namespace ZMESH_HIDDEN detail {

template <class T>
using FutureValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// What a Promise and its Future share: the flag, then the value or the error.
template <class T>
struct FutureState {
  CompletionFlag flag;
  std::optional<FutureValue<T>> value;  // written before flag.set(), read after
  std::exception_ptr error;
};

template <class T>
class Promise;

}  // namespace detail

/// The result of an asynchronous Peer call. Move-only; get() may be called once.
template <class T>
class Future {
 public:
  Future() noexcept = default;

  /// False when default-constructed, moved from, or after get().
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  /// True once the result (value or error) is there: get() will not wait.
  [[nodiscard]] bool is_ready() const { return checked().flag.is_set(); }

  /// Waits for the result and returns it, or throws the error the call failed with
  /// (zmesh::Error for Peer's calls). Leaves the future invalid.
  T get() {
    auto state = std::move(checked_state());
    state->flag.wait();
    if (state->error) std::rethrow_exception(state->error);
    if constexpr (!std::is_void_v<T>) return std::move(*state->value);
  }
  void wait() const { checked().flag.wait(); }
  template <class Rep, class Period>
  [[nodiscard]] std::future_status wait_for(
      const std::chrono::duration<Rep, Period>& timeout) const {
    return wait_until(std::chrono::steady_clock::now() + timeout);
  }
  template <class Clock, class Duration>
  [[nodiscard]] std::future_status wait_until(
      const std::chrono::time_point<Clock, Duration>& deadline) const {
    const auto until =
        std::chrono::steady_clock::now() +
        std::chrono::ceil<std::chrono::steady_clock::duration>(deadline - Clock::now());
    return checked().flag.wait_until(until) ? std::future_status::ready
                                            : std::future_status::timeout;
  }

 private:
  friend class detail::Promise<T>;
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) noexcept
      : state_(std::move(state)) {}
  [[nodiscard]] const detail::FutureState<T>& checked() const {
    if (!state_) throw std::future_error(std::future_errc::no_state);
    return *state_;
  }
  [[nodiscard]] std::shared_ptr<detail::FutureState<T>>& checked_state() {
    if (!state_) throw std::future_error(std::future_errc::no_state);
    return state_;
  }

  std::shared_ptr<detail::FutureState<T>> state_;
};

namespace ZMESH_HIDDEN detail {

/// The engine's side of a Future: set once. Destroyed unset (after get_future()), it
/// fails the future with std::future_error(broken_promise), as std::promise does. The
/// shared state is made by get_future(): a promise nobody asked a future of (a request
/// answered through a callback) allocates nothing and its set_value() does nothing.
template <class T>
class Promise {
 public:
  Promise() = default;
  /// A promise whose state was made elsewhere (inside a larger allocation, by aliasing).
  explicit Promise(std::shared_ptr<FutureState<T>> state) noexcept : state_(std::move(state)) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    abandon();
    state_ = std::move(other.state_);
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  ~Promise() { abandon(); }

  [[nodiscard]] Future<T> get_future() {
    if (!state_) state_ = std::make_shared<FutureState<T>>();
    return Future<T>(state_);
  }

  template <class... Args>
  void set_value(Args&&... args) {
    if (!state_ || state_->flag.is_set()) return;
    state_->value.emplace(std::forward<Args>(args)...);
    state_->flag.set();
  }
  void set_exception(const std::exception_ptr& error) {
    if (!state_ || state_->flag.is_set()) return;
    state_->error = error;
    state_->flag.set();
  }

 private:
  void abandon() noexcept {
    if (state_ && !state_->flag.is_set() && state_.use_count() > 1) {
      state_->error = std::make_exception_ptr(std::future_error(std::future_errc::broken_promise));
      state_->flag.set();
    }
  }
  std::shared_ptr<FutureState<T>> state_;
};

}  // namespace detail
}  // namespace zmesh
