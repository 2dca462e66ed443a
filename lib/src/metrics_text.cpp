#include "zmesh/core/metrics_text.hpp"

#include <charconv>
#include <cmath>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

const char* type_name(MetricsText::Type t) {
  switch (t) {
    case MetricsText::Type::counter: return "counter";
    case MetricsText::Type::gauge: return "gauge";
    case MetricsText::Type::histogram: return "histogram";
  }
  return "untyped";
}

void check(std::string_view name, bool label) {
  if (!MetricsText::valid_name(name, label)) {
    throw Error(errc::invalid_argument,
                std::string(label ? "bad metric label name '" : "bad metric name '") +
                    std::string(name) + "'");
  }
}

// Escapes \ and newline (help text), and " too (label values).
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

bool MetricsText::valid_name(std::string_view name, bool label) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool ok = alpha || (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string MetricsText::format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

MetricsText& MetricsText::family(std::string_view name, Type type, std::string_view help) {
  check(name, false);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
  return *this;
}

void MetricsText::name_and_labels(std::string_view name,
                                  std::initializer_list<MetricLabel> labels) {
  check(name, false);
  out_ += name;
  if (labels.size() == 0) return;
  out_ += '{';
  bool first = true;
  for (const auto& l : labels) {
    check(l.name, true);
    if (!first) out_ += ',';
    first = false;
    out_ += l.name;
    out_ += "=\"";
    append_escaped(out_, l.value, true);
    out_ += '"';
  }
  out_ += '}';
}

MetricsText& MetricsText::sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                                 std::uint64_t value) {
  name_and_labels(name, labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
  return *this;
}

MetricsText& MetricsText::sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                                 double value) {
  name_and_labels(name, labels);
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
  return *this;
}

MetricsText& MetricsText::counter(std::string_view name, std::string_view help,
                                  std::uint64_t value) {
  return family(name, Type::counter, help).sample(name, {}, value);
}

MetricsText& MetricsText::gauge(std::string_view name, std::string_view help, std::uint64_t value) {
  return family(name, Type::gauge, help).sample(name, {}, value);
}

MetricsText& MetricsText::histogram(std::string_view name, std::string_view help,
                                    std::span<const double> bounds,
                                    std::span<const std::uint64_t> counts, double sum) {
  if (counts.size() != bounds.size() + 1) {
    throw Error(errc::invalid_argument, "histogram '" + std::string(name) +
                                            "': counts must have one entry more than bounds");
  }
  family(name, Type::histogram, help);
  const std::string base(name);
  const std::string bucket = base + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    const std::string le = format_value(bounds[i]);
    sample(bucket, {{"le", le}}, cumulative);
  }
  cumulative += counts.back();
  sample(bucket, {{"le", "+Inf"}}, cumulative);
  sample(base + "_sum", {}, sum);
  sample(base + "_count", {}, cumulative);
  return *this;
}

}  // namespace zmesh
