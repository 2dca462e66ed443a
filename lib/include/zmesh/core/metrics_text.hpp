// zmesh/core/metrics_text.hpp — writes the Prometheus text exposition format (0.0.4):
// for each metric family a "# HELP" and a "# TYPE" line, then its samples, one a line:
//   # HELP zmesh_peer_requests_sent_total Requests sent.
//   # TYPE zmesh_peer_requests_sent_total counter
//   zmesh_peer_requests_sent_total 42
// Names are checked against the format's grammar ([a-zA-Z_:][a-zA-Z0-9_:]*; label names
// without ':') and a bad one throws Error(invalid_argument): names are ours, never input.
// Label values and help text are escaped as the format says (\\, \" and \n).
//
// A plain value: build one per scrape, on whatever thread serves it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

/// One label of a sample: name="value".
struct MetricLabel {
  std::string_view name;
  std::string_view value;
};

class MetricsText {
 public:
  enum class Type { counter, gauge, histogram };

  /// Starts a family: its # HELP and # TYPE lines.
  MetricsText& family(std::string_view name, Type type, std::string_view help);
  /// One sample: `name` is the family's (or, for a histogram, the family's with _bucket,
  /// _sum or _count), with its labels.
  MetricsText& sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                      std::uint64_t value);
  MetricsText& sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                      double value);

  /// A family of one unlabelled sample.
  MetricsText& counter(std::string_view name, std::string_view help, std::uint64_t value);
  MetricsText& gauge(std::string_view name, std::string_view help, std::uint64_t value);
  /// A histogram family: `counts[i]` values fell at or under `bounds[i]` and above the bound
  /// before it (not cumulative: the writer sums them); counts has one more entry than
  /// bounds, for the values above the last bound (+Inf). `sum` is the sum of all values.
  MetricsText& histogram(std::string_view name, std::string_view help,
                         std::span<const double> bounds, std::span<const std::uint64_t> counts,
                         double sum);

  /// The text so far.
  [[nodiscard]] const std::string& text() const noexcept { return out_; }

  /// True for a valid metric name (and, without ':', a valid label name).
  [[nodiscard]] static bool valid_name(std::string_view name, bool label = false) noexcept;
  /// A value as the format writes it: shortest round-trip decimal, +Inf, -Inf, NaN.
  [[nodiscard]] static std::string format_value(double value);

 private:
  void name_and_labels(std::string_view name, std::initializer_list<MetricLabel> labels);

  std::string out_;
};

}  // namespace zmesh
