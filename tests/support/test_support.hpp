// Shared helpers for zmesh tests: waiting without sleeps-as-synchronisation, counting
// open file descriptors, and running helper programs as real child processes.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace zmesh::test {

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

/// A child process started from a helper binary, its stdout readable line by line.
/// The destructor kills (SIGKILL) and reaps it if it is still running.
class ChildProcess {
 public:
  explicit ChildProcess(const std::string& path, const std::vector<std::string>& args = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Reads one line of the child's stdout (without the newline); "" on EOF or timeout.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Sends a signal.
  void signal(int sig);
  /// Waits for exit and returns the raw wait status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

/// Directory of the test helper binaries (set by CMake).
std::string helper_path(const std::string& name);

}  // namespace zmesh::test
