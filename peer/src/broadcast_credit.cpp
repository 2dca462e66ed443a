#include "broadcast_credit.hpp"

namespace zmesh::detail {

bool BroadcastCredit::try_take(std::size_t bytes) noexcept {
  std::size_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    if (used != 0 && used + bytes > bound_) return false;
    if (used_.compare_exchange_weak(used, used + bytes, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
}

bool BroadcastCredit::take(std::size_t bytes, std::chrono::milliseconds wait) {
  if (try_take(bytes)) return true;
  if (wait.count() <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock lock(mu_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool got = false;
  // give() takes the mutex before it notifies: between our failed try and our wait it
  // cannot slip in unseen.
  while (!(got = try_take(bytes))) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      got = try_take(bytes);
      break;
    }
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  return got;
}

void BroadcastCredit::give(std::size_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_release);
  if (waiters_.load(std::memory_order_seq_cst) == 0) return;
  { const std::lock_guard lock(mu_); }
  cv_.notify_all();
}

}  // namespace zmesh::detail
