#include "output.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace zmesh::cli {

Output::Output(Format format, bool quiet)
    : format_(format), quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {}

bool Output::raw(std::string_view bytes) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  clear_progress_locked();
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() ||
      std::fflush(stdout) != 0) {
    closed_ = true;  // a closed pipe (`zmesh subscribe x | head -3`): stop writing
  }
  return !closed_;
}

bool Output::line(std::string_view text) {
  std::string s(text);
  s += '\n';
  return raw(s);
}

bool Output::object(const nlohmann::json& value) {
  return line(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Output::info(const std::string& text) {
  if (quiet_) return;
  std::lock_guard lock(mu_);
  clear_progress_locked();
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

void Output::progress(const std::string& text) {
  if (quiet_ || !tty_) return;
  std::lock_guard lock(mu_);
  std::fprintf(stderr, "\r%s\x1b[K", text.c_str());
  std::fflush(stderr);
  progress_shown_ = true;
}

void Output::done_progress() {
  std::lock_guard lock(mu_);
  clear_progress_locked();
}

void Output::clear_progress_locked() {
  if (!progress_shown_) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  progress_shown_ = false;
}

std::string iso_time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string human_duration(std::chrono::milliseconds d) {
  const long long ms = d.count();
  char buf[40];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%llds", ms / 1000);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", ms / 60'000, ms / 1000 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", ms / 3'600'000, ms / 60'000 % 60);
  }
  return buf;
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms);
  return buf;
}

}  // namespace zmesh::cli
