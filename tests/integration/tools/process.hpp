// A child process for the zmesh tool tests: stdin, stdout and stderr on pipes, extra
// environment, line reads and waits bounded in time. The destructor SIGKILLs and reaps
// the child if it is still running, so a failing test never leaves processes behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh::test {

class Process {
 public:
  /// Starts `path` with `args`; `env` entries ("NAME=value") are added to (or replace in)
  /// this process's environment, from which ZMESH_BROKER is removed. Throws on failure.
  Process(const std::string& path, const std::vector<std::string>& args,
          const std::vector<std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// Writes to the child's stdin (blocking); close_stdin() sends EOF.
  void write_stdin(std::string_view bytes);
  void close_stdin();
  /// The next line of stdout / stderr (without the newline); "" on EOF or timeout.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string read_err_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Waits for the exit and collects the rest of its output. The exit code, 128 + N when
  /// killed by signal N, or -1 after `timeout` (the child keeps running).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void signal(int sig);
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// What was written and not yet returned by read_line()/read_err_line().
  [[nodiscard]] const std::string& out() const noexcept { return out_; }
  [[nodiscard]] const std::string& err() const noexcept { return err_; }

 private:
  // Reads what is available on stdout and stderr, waiting up to `timeout` for some.
  void pump(std::chrono::milliseconds timeout);
  std::string next_line(std::string& buffer, int& fd, std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool reaped_ = false;
  int exit_code_ = -1;
};

/// Output and exit code of a finished process.
struct RunResult {
  int code = -1;  ///< exit code (see Process::wait), -1 = killed after the timeout
  std::string out;
  std::string err;
};

/// Runs to completion with `input` on stdin; kills it after `timeout`.
RunResult run(const std::string& path, const std::vector<std::string>& args,
              const std::string& input = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(15),
              const std::vector<std::string>& env = {});

/// A tcp://127.0.0.1:PORT endpoint whose port was free a moment ago.
std::string free_tcp_endpoint();

}  // namespace zmesh::test
