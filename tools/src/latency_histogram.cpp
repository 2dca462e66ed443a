#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace zmesh::cli {
namespace {

// Values below this are their own bucket; above, bucket i covers 2^shift values.
constexpr std::uint64_t kExact = 2 * LatencyHistogram::kSubBuckets;
// The index of the last bucket (the one that holds 2^64 - 1), plus one.
constexpr std::size_t kBuckets = (64 - LatencyHistogram::kSubBits) * LatencyHistogram::kSubBuckets +
                                 LatencyHistogram::kSubBuckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

std::size_t LatencyHistogram::index_of(std::uint64_t ns) noexcept {
  if (ns < kExact) return static_cast<std::size_t>(ns);
  const auto msb = static_cast<unsigned>(63 - std::countl_zero(ns));
  const unsigned shift = msb - kSubBits;  // >= 1
  const std::uint64_t top = ns >> shift;  // kSubBuckets .. 2 * kSubBuckets - 1
  return static_cast<std::size_t>(shift * kSubBuckets + top);
}

std::uint64_t LatencyHistogram::lowest_of(std::size_t index) noexcept {
  if (index < kExact) return index;
  const auto shift = static_cast<unsigned>(index / kSubBuckets - 1);
  const std::uint64_t top = kSubBuckets + index % kSubBuckets;
  return top << shift;
}

std::uint64_t LatencyHistogram::highest_of(std::size_t index) noexcept {
  if (index < kExact) return index;
  const auto shift = static_cast<unsigned>(index / kSubBuckets - 1);
  return lowest_of(index) + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t ns) noexcept {
  ++counts_[index_of(ns)];
  min_ = count_ == 0 ? ns : std::min(min_, ns);
  max_ = std::max(max_, ns);
  sum_ += static_cast<long double>(ns);
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

double LatencyHistogram::mean() const noexcept {
  if (count_ == 0) return 0;
  return static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (p >= 100) return max_;
  const double clamped = std::max(p, 0.0);
  // Rounded to the nearest rank, as HdrHistogram does: 99.9 % of 1000 is the 999th,
  // whatever the last bit of 0.999 * 1000.
  auto rank =
      static_cast<std::uint64_t>(std::llround(clamped / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_of(i), min_, max_);
  }
  return max_;
}

}  // namespace zmesh::cli
