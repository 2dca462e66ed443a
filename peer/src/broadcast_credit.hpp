// BroadcastCredit — the bound on broadcasts of the block policy between publish() and
// our PUB: a publishing thread takes credit for a broadcast's bytes before it hands it to
// the engine, and the engine gives it back once the broadcast is out (or dropped at
// stop). A publisher without credit waits, up to its send timeout: that is how a slow
// subscriber pushes back on publish() without ever holding up the engine.
//
// The counter is an atomic: taking and giving back cost no lock. Only a thread that
// must wait takes the mutex, and the engine notifies only while someone waits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace zmesh::detail {

class BroadcastCredit {
 public:
  explicit BroadcastCredit(std::size_t bound) : bound_(bound) {}

  /// Takes `bytes` of credit, waiting up to `wait` for it. A broadcast larger than the
  /// whole bound gets it when nothing else holds any. False: none came in time.
  [[nodiscard]] bool take(std::size_t bytes, std::chrono::milliseconds wait);
  /// Gives `bytes` back (the engine, or a publisher whose hand-over failed).
  void give(std::size_t bytes);
  [[nodiscard]] std::size_t held() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  [[nodiscard]] bool try_take(std::size_t bytes) noexcept;

  const std::size_t bound_;
  std::atomic<std::size_t> used_{0};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace zmesh::detail
