// How long our requests took, from request() reaching the engine to their reply, as a
// histogram with fixed bounds (Prometheus-style buckets, seconds) for the metrics endpoint
// (zmesh_peer_request_duration_seconds). Only requests answered with a reply count.
// Written by the engine thread only (one writer: a load and a store, no locked
// read-modify-write), read by the metrics thread (relaxed atomics: a scrape may see a
// count an observation ahead of its sum, which Prometheus tolerates).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace zmesh::detail {

class RequestDurations {
 public:
  /// Upper bounds of the buckets, seconds: 50 us .. 10 s; above, +Inf.
  static constexpr std::array<double, 16> kBounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                  0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                  0.5,     1,      2.5,     10};

  /// Engine thread only.
  void observe(std::chrono::nanoseconds d) noexcept {
    const double s = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    add(counts_[i], 1);
    add(sum_ns_, static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()));
  }

  /// A copy for one scrape (any thread): counts per bucket (not cumulative, the last
  /// for +Inf) and the sum in seconds.
  struct Snapshot {
    std::array<std::uint64_t, kBounds.size() + 1> counts{};
    double sum_seconds = 0;
  };
  [[nodiscard]] Snapshot snapshot() const noexcept {
    Snapshot s;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  static void add(std::atomic<std::uint64_t>& a, std::uint64_t n) noexcept {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace zmesh::detail
