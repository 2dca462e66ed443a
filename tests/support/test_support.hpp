// Shared helpers for zmesh tests: waiting without sleeps-as-synchronisation, counting
// open file descriptors, and running helper programs (or any program) as real child
// processes.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace zmesh::test {

/// Memory bounds in tests are stated for a plain build; sanitizers add shadow memory and
/// quarantines to every allocation, so RSS bounds are multiplied by this under them, and
/// bounds that depend on how fast the code runs (kRssTimed) are only asserted in plain
/// builds: instrumented code is several times slower than the traffic it measures.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr long kRssScale = 3;
inline constexpr bool kSanitized = true;
#else
inline constexpr long kRssScale = 1;
inline constexpr bool kSanitized = false;
#endif
inline constexpr bool kRssTimed = !kSanitized;

/// Polls `pred` until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// Number of open file descriptors of this process.
int open_fd_count();

/// Resident set size of this process, KiB (VmRSS in /proc/self/status); 0 if unreadable.
long rss_kib();
/// Resident set size of process `pid`, KiB (VmRSS in /proc/<pid>/status); 0 if unreadable.
long rss_kib(pid_t pid);

/// How a ChildProcess is started; the defaults are those of the two-argument constructor.
struct ChildOptions {
  /// The child's whole environment ("NAME=value" entries); nullopt = this process's.
  std::optional<std::vector<std::string>> environment;
  /// Pipe the child's stderr to us (read it with Stream::err) instead of sharing ours.
  bool capture_stderr = false;
};

/// A child process started from a helper binary, its stdout (and optionally stderr)
/// readable line by line. The destructor kills (SIGKILL) and reaps it if it is still
/// running. A child blocks when a pipe we do not read fills (64 KiB): read what it writes.
class ChildProcess {
 public:
  enum class Stream { out, err };

  explicit ChildProcess(const std::string& path, const std::vector<std::string>& args = {});
  ChildProcess(const std::string& path, const std::vector<std::string>& args,
               const ChildOptions& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Reads one line of the child's stdout (without the newline); "" on EOF or timeout.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Reads one line of `stream` (Stream::err needs capture_stderr); "" on EOF or timeout.
  std::string read_line(Stream stream,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Everything left on `stream` up to EOF (the child closed it, usually by exiting), or
  /// what came before `timeout`.
  std::string read_all(Stream stream, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Sends a signal.
  void signal(int sig);
  /// Waits for exit and returns the raw wait status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  struct Pipe {
    int fd = -1;
    std::string buffer;
    bool eof = false;
  };
  Pipe& pipe_for(Stream stream);
  /// Reads once into p.buffer, waiting at most until `deadline`; false on EOF or timeout.
  static bool fill(Pipe& p, std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  Pipe out_;
  Pipe err_;
  bool reaped_ = false;
};

/// Directory of the test helper binaries (set by CMake).
std::string helper_path(const std::string& name);

}  // namespace zmesh::test
