// The figures of `zmesh bench`: one row per party and a total per role, as a text table
// or JSON lines on stdout, and the --csv file (one row per party, documented columns).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench_runs.hpp"
#include "output.hpp"

namespace zmesh::cli {

/// `v` with `decimals` decimals ("12.3").
[[nodiscard]] std::string format_fixed(double v, int decimals);

/// Prints every result and each role's total (results grouped by role, in order); writes
/// `csv_path` unless it is "" (Failure when it cannot). msgs/s and MB/s are over each
/// row's seconds, MB = 10^6 bytes of `payload_size`-byte payloads.
/// Then, when any message failed or was lost, throws Failure(kExitFailure) saying how
/// many: the figures are printed either way, and a script can tell a clean run by the code.
void report_bench(Output& out, std::size_t payload_size, const std::string& csv_path,
                  const std::vector<BenchResult>& results);

}  // namespace zmesh::cli
