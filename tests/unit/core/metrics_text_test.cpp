// MetricsText (lib/src/metrics_text.cpp): the Prometheus text format, line by line.
#include "zmesh/core/metrics_text.hpp"

#include <array>
#include <limits>

#include <gtest/gtest.h>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

TEST(MetricsText, CounterAndGaugeFamilies) {
  MetricsText m;
  m.counter("zmesh_x_total", "Things done.", 42).gauge("zmesh_y", "Things now.", 7);
  EXPECT_EQ(m.text(),
            "# HELP zmesh_x_total Things done.\n"
            "# TYPE zmesh_x_total counter\n"
            "zmesh_x_total 42\n"
            "# HELP zmesh_y Things now.\n"
            "# TYPE zmesh_y gauge\n"
            "zmesh_y 7\n");
}

TEST(MetricsText, LabelledSamplesAreEscaped) {
  MetricsText m;
  m.family("zmesh_requests_total", MetricsText::Type::counter, "Requests,\nby result \\ kind.")
      .sample("zmesh_requests_total", {{"result", "ok"}}, std::uint64_t{3})
      .sample("zmesh_requests_total", {{"result", "a\"b\\c\nd"}, {"kind", "x"}}, std::uint64_t{1});
  EXPECT_EQ(m.text(),
            "# HELP zmesh_requests_total Requests,\\nby result \\\\ kind.\n"
            "# TYPE zmesh_requests_total counter\n"
            "zmesh_requests_total{result=\"ok\"} 3\n"
            "zmesh_requests_total{result=\"a\\\"b\\\\c\\nd\",kind=\"x\"} 1\n");
}

TEST(MetricsText, LargeCountersStayExact) {
  MetricsText m;
  m.counter("c_total", "h", std::numeric_limits<std::uint64_t>::max());
  EXPECT_NE(m.text().find("c_total 18446744073709551615\n"), std::string::npos);
}

TEST(MetricsText, HistogramBucketsAreCumulative) {
  MetricsText m;
  const std::array<double, 3> bounds{0.001, 0.01, 0.1};
  const std::array<std::uint64_t, 4> counts{5, 0, 2, 1};
  m.histogram("zmesh_d_seconds", "Durations.", bounds, counts, 0.25);
  EXPECT_EQ(m.text(),
            "# HELP zmesh_d_seconds Durations.\n"
            "# TYPE zmesh_d_seconds histogram\n"
            "zmesh_d_seconds_bucket{le=\"0.001\"} 5\n"
            "zmesh_d_seconds_bucket{le=\"0.01\"} 5\n"
            "zmesh_d_seconds_bucket{le=\"0.1\"} 7\n"
            "zmesh_d_seconds_bucket{le=\"+Inf\"} 8\n"
            "zmesh_d_seconds_sum 0.25\n"
            "zmesh_d_seconds_count 8\n");
  const std::array<std::uint64_t, 3> too_few{1, 2, 3};
  EXPECT_THROW(m.histogram("h", "h", bounds, too_few, 0), Error);
}

TEST(MetricsText, NamesFollowTheGrammar) {
  EXPECT_TRUE(MetricsText::valid_name("zmesh_peer_sent_total"));
  EXPECT_TRUE(MetricsText::valid_name("a:b_c9"));
  EXPECT_TRUE(MetricsText::valid_name("_x"));
  EXPECT_FALSE(MetricsText::valid_name(""));
  EXPECT_FALSE(MetricsText::valid_name("9x"));
  EXPECT_FALSE(MetricsText::valid_name("a-b"));
  EXPECT_FALSE(MetricsText::valid_name("a b"));
  EXPECT_FALSE(MetricsText::valid_name("a:b", /*label=*/true));
  MetricsText m;
  EXPECT_THROW(m.counter("bad-name", "h", 1), Error);
  EXPECT_THROW(m.sample("ok", {{"bad:label", "v"}}, std::uint64_t{1}), Error);
}

TEST(MetricsText, ValuesFormat) {
  EXPECT_EQ(MetricsText::format_value(0.5), "0.5");
  EXPECT_EQ(MetricsText::format_value(1e-6), "1e-06");
  EXPECT_EQ(MetricsText::format_value(3), "3");
  EXPECT_EQ(MetricsText::format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(MetricsText::format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(MetricsText::format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

}  // namespace
}  // namespace zmesh
