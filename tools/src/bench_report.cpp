#include "bench_report.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>

#include "exit_codes.hpp"

namespace zmesh::cli {

std::string format_fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

namespace {

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

// The figures of one row: msgs/s and MB/s (10^6 bytes of payload) over its seconds.
struct Row {
  const BenchResult* r;
  double msgs_per_s;
  double mb_per_s;
};

Row row_of(const BenchResult& r, std::size_t size) {
  const double rate = r.seconds > 0 ? static_cast<double>(r.messages) / r.seconds : 0;
  return {&r, rate, rate * static_cast<double>(size) / 1e6};
}

constexpr const char* kCsvHeader =
    "role,index,messages,errors,lost,seconds,msgs_per_s,mb_per_s,p50_us,p90_us,p99_us,p999_us,"
    "max_us";

std::string csv_line(const Row& row) {
  const BenchResult& r = *row.r;
  std::string s = r.role + "," + std::to_string(r.index) + "," + std::to_string(r.messages) + "," +
                  std::to_string(r.errors) + "," + std::to_string(r.lost) + "," +
                  format_fixed(r.seconds, 6) + "," + format_fixed(row.msgs_per_s, 1) + "," +
                  format_fixed(row.mb_per_s, 3);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    s += ",";
    if (r.latency.count() != 0) s += format_fixed(us(r.latency.percentile(p)), 1);
  }
  s += ",";
  if (r.latency.count() != 0) s += format_fixed(us(r.latency.max()), 1);
  return s;
}

nlohmann::json json_of(const Row& row) {
  const BenchResult& r = *row.r;
  nlohmann::json j{{"role", r.role},          {"messages", r.messages},
                   {"errors", r.errors},      {"lost", r.lost},
                   {"seconds", r.seconds},    {"msgs_per_s", row.msgs_per_s},
                   {"mb_per_s", row.mb_per_s}};
  if (r.role != "total") j["index"] = r.index;
  if (r.latency.count() != 0) {
    j["p50_us"] = us(r.latency.percentile(50));
    j["p90_us"] = us(r.latency.percentile(90));
    j["p99_us"] = us(r.latency.percentile(99));
    j["p999_us"] = us(r.latency.percentile(99.9));
    j["max_us"] = us(r.latency.max());
  }
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

std::string text_line(const Row& row) {
  const BenchResult& r = *row.r;
  char buf[256];
  const std::string index = r.role == "total" ? "" : std::to_string(r.index);
  std::snprintf(buf, sizeof buf, "%-10s %3s %10llu %7llu %7llu %8.3f %11.0f %8.2f", r.role.c_str(),
                index.c_str(), static_cast<unsigned long long>(r.messages),
                static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.lost),
                r.seconds, row.msgs_per_s, row.mb_per_s);
  std::string s = buf;
  if (r.latency.count() != 0) {
    std::snprintf(buf, sizeof buf, " %9.1f %9.1f %9.1f %9.1f %9.1f", us(r.latency.percentile(50)),
                  us(r.latency.percentile(90)), us(r.latency.percentile(99)),
                  us(r.latency.percentile(99.9)), us(r.latency.max()));
    s += buf;
  }
  return s;
}

}  // namespace

// Prints every party, each role's total, and writes the CSV (one row per party).
void report_bench(Output& out, std::size_t payload_size, const std::string& csv_path,
                  const std::vector<BenchResult>& results) {
  std::vector<BenchResult> totals;
  for (const auto& r : results) {
    if (totals.empty() || totals.back().role != r.role) {
      totals.emplace_back();
      totals.back().role = r.role;
    }
    BenchResult& t = totals.back();
    t.messages += r.messages;
    t.errors += r.errors;
    t.lost += r.lost;
    t.seconds = std::max(t.seconds, r.seconds);
    t.latency.merge(r.latency);
    if (t.first_error.empty()) t.first_error = r.first_error;
  }
  if (!out.json()) {
    out.line(
        "role         #   messages  errors    lost  seconds      msgs/s     MB/s    p50_us"
        "    p90_us    p99_us  p99.9_us    max_us");
  }
  const auto emit = [&](const BenchResult& r) {
    const Row row = row_of(r, payload_size);
    if (out.json()) {
      out.object(json_of(row));
    } else {
      out.line(text_line(row));
    }
  };
  for (std::size_t i = 0; i < results.size(); ++i) {
    emit(results[i]);
    if (i + 1 == results.size() || results[i + 1].role != results[i].role) {
      for (auto& t : totals) {
        if (t.role != results[i].role) continue;
        BenchResult total = t;
        total.role = "total";
        emit(total);
        if (!out.json() && !t.first_error.empty()) {
          out.info("first " + t.role + " error: " + t.first_error);
        }
      }
    }
  }
  if (!csv_path.empty()) {
    std::ofstream csv(csv_path, std::ios::trunc);
    csv << kCsvHeader << "\n";
    for (const auto& r : results) csv << csv_line(row_of(r, payload_size)) << "\n";
    csv.flush();
    if (!csv) throw Failure(kExitFailure, "cannot write --csv file '" + csv_path + "'");
  }
  std::uint64_t errors = 0;
  std::uint64_t lost = 0;
  for (const auto& t : totals) {
    errors += t.errors;
    lost += t.lost;
  }
  if (errors == 0 && lost == 0) return;
  std::string what = "bench: ";
  if (errors != 0) what += std::to_string(errors) + (errors == 1 ? " error" : " errors");
  if (errors != 0 && lost != 0) what += " and ";
  if (lost != 0) what += std::to_string(lost) + " lost";
  throw Failure(kExitFailure, what);
}

}  // namespace zmesh::cli
