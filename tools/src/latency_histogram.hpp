// A latency histogram for `zmesh bench`: log-linear buckets in the manner of
// HdrHistogram. Values (nanoseconds) below 2 * kSubBuckets are counted exactly; above,
// every power of two is split into kSubBuckets equal buckets, so a reported value is
// within 1 / kSubBuckets (under 0.8 %) of a recorded one, from 1 ns to 2^64 ns, in a
// fixed 58 KiB. Recording is one increment, with no allocation.
//
// Not thread-safe: each bench client records into its own histogram, and the main thread
// merges them once the clients have finished (after the join that publishes them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zmesh::cli {

class LatencyHistogram {
 public:
  /// Buckets per power of two (the precision: 1 / kSubBuckets).
  static constexpr unsigned kSubBits = 7;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBits;

  LatencyHistogram();

  /// Counts one value (nanoseconds).
  void record(std::uint64_t ns) noexcept;
  /// Adds every value of `other`.
  void merge(const LatencyHistogram& other) noexcept;

  /// How many values were recorded.
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// The smallest and largest recorded values, exactly; 0 when empty.
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  /// The mean of the recorded values (exact sum / count); 0 when empty.
  [[nodiscard]] double mean() const noexcept;
  /// The value at percentile `p` (0..100): the highest value of the bucket that holds the
  /// n-th smallest value, n = p / 100 * count rounded (at least 1), clamped to min()..max().
  /// p = 100 is max(); 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept;

  /// The bucket a value falls in, and the range of values one bucket covers (for tests).
  [[nodiscard]] static std::size_t index_of(std::uint64_t ns) noexcept;
  [[nodiscard]] static std::uint64_t lowest_of(std::size_t index) noexcept;
  [[nodiscard]] static std::uint64_t highest_of(std::size_t index) noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace zmesh::cli
