// LatencyHistogram (tools/src/latency_histogram.cpp): bucket layout, percentiles of known
// distributions within the histogram's precision, merge.
#include "latency_histogram.hpp"

#include <cstdint>
#include <random>

#include <gtest/gtest.h>

namespace zmesh::cli {
namespace {

// A reported value is within 1 / kSubBuckets of the exact one (and never below it).
void expect_near_exact(std::uint64_t reported, std::uint64_t exact) {
  EXPECT_GE(reported, exact);
  EXPECT_LE(static_cast<double>(reported),
            static_cast<double>(exact) * (1.0 + 1.0 / LatencyHistogram::kSubBuckets) + 1)
      << "exact " << exact;
}

TEST(LatencyHistogram, EmptyReportsZero) {
  const LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogram, BucketsCoverEveryValueContiguously) {
  // Small values are exact.
  for (std::uint64_t v = 0; v < 2 * LatencyHistogram::kSubBuckets; ++v) {
    EXPECT_EQ(LatencyHistogram::index_of(v), v);
  }
  // Each bucket starts right after the previous one ends, up to 2^64 - 1.
  std::size_t i = 0;
  for (; LatencyHistogram::highest_of(i) != UINT64_MAX; ++i) {
    ASSERT_EQ(LatencyHistogram::lowest_of(i + 1), LatencyHistogram::highest_of(i) + 1) << i;
  }
  EXPECT_EQ(LatencyHistogram::index_of(UINT64_MAX), i);
  // Every value lands in the bucket whose range holds it, and the range is narrow.
  std::mt19937_64 rng(42);
  for (int n = 0; n < 100000; ++n) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const std::size_t b = LatencyHistogram::index_of(v);
    ASSERT_LE(LatencyHistogram::lowest_of(b), v);
    ASSERT_GE(LatencyHistogram::highest_of(b), v);
    expect_near_exact(LatencyHistogram::highest_of(b), v);
  }
}

TEST(LatencyHistogram, PercentilesOfAUniformDistribution) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  EXPECT_DOUBLE_EQ(h.mean(), 50'000'500.0);
  expect_near_exact(h.percentile(50), 50'000'000);
  expect_near_exact(h.percentile(90), 90'000'000);
  expect_near_exact(h.percentile(99), 99'000'000);
  expect_near_exact(h.percentile(99.9), 99'900'000);
  EXPECT_EQ(h.percentile(100), 100'000'000u);
  EXPECT_EQ(h.percentile(0), h.percentile(0.0001));
  expect_near_exact(h.percentile(0), 1000);
}

TEST(LatencyHistogram, PercentilesOfASkewedDistribution) {
  // 990 fast values and 10 slow ones: p99 is still fast, p99.9 and max are slow.
  LatencyHistogram h;
  for (int i = 0; i < 990; ++i) h.record(20'000);
  for (int i = 0; i < 9; ++i) h.record(5'000'000);
  h.record(7'000'000);
  expect_near_exact(h.percentile(50), 20'000);
  expect_near_exact(h.percentile(99), 20'000);
  expect_near_exact(h.percentile(99.9), 5'000'000);
  EXPECT_EQ(h.max(), 7'000'000u);
  EXPECT_EQ(h.percentile(100), 7'000'000u);
}

TEST(LatencyHistogram, ReportedValuesStayWithinMinAndMax) {
  LatencyHistogram h;
  h.record(1'000'001);  // one value: every percentile is that value
  EXPECT_EQ(h.percentile(0), 1'000'001u);
  EXPECT_EQ(h.percentile(50), 1'000'001u);
  EXPECT_EQ(h.percentile(99.9), 1'000'001u);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> exp(1.0 / 50'000);
  for (int i = 0; i < 20000; ++i) {
    const auto v = static_cast<std::uint64_t>(exp(rng)) + 1;
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  a.merge(LatencyHistogram{});  // an empty one changes nothing
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(a.percentile(p), all.percentile(p)) << p;
  }
  // An exponential distribution's median is ln 2 times its mean.
  EXPECT_NEAR(static_cast<double>(all.percentile(50)), 50'000 * 0.6931, 50'000 * 0.05);
}

}  // namespace
}  // namespace zmesh::cli
