// Output of the zmesh tool. stdout carries results only (text lines, or one JSON object
// per line with --format json) and is flushed line by line so scripts can read it as it
// comes; stderr carries errors, informational lines and, on a terminal, a running count.
// Thread-safe: handlers on worker threads and the main thread write through one Output.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "options.hpp"

namespace zmesh::cli {

class Output {
 public:
  Output(Format format, bool quiet);

  [[nodiscard]] bool json() const noexcept { return format_ == Format::json; }

  /// One line on stdout (the newline is added). False once stdout is closed.
  bool line(std::string_view text);
  /// Bytes on stdout as they are (binary-safe). False once stdout is closed.
  bool raw(std::string_view bytes);
  /// One JSON object on one line of stdout (invalid UTF-8 is replaced, never thrown on).
  bool object(const nlohmann::json& value);
  /// An informational line on stderr; nothing with --quiet.
  void info(const std::string& text);
  /// A running count on stderr, rewritten in place; only when stderr is a terminal and
  /// not --quiet. info() and done_progress() clear it.
  void progress(const std::string& text);
  /// Clears the running count line.
  void done_progress();

 private:
  void clear_progress_locked();

  Format format_;
  bool quiet_;
  bool tty_;
  std::mutex mu_;
  bool progress_shown_ = false;  // guarded by mu_
  bool closed_ = false;          // guarded by mu_
};

/// Now as UTC ISO 8601 with milliseconds: "2025-06-01T10:00:00.123Z".
[[nodiscard]] std::string iso_time_now();
/// "850ms", "12s", "3m04s", "2h05m".
[[nodiscard]] std::string human_duration(std::chrono::milliseconds d);
/// Milliseconds with three decimals, for round-trip times.
[[nodiscard]] std::string format_ms(double ms);

}  // namespace zmesh::cli
