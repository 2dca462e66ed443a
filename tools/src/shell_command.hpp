// Runs a shell command for `zmesh reply --command`: /bin/sh -c CMD with the request
// payload on its stdin; its stdout becomes the reply. Called on Peer worker threads,
// several at a time; each call owns its child process and pipes.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

namespace zmesh::cli {

struct ShellResult {
  int exit_status = 0;  ///< exit code; 128 + N when killed by signal N
  std::string out;      ///< everything written to stdout
  std::string err;      ///< everything written to stderr
};

/// Runs `command` through /bin/sh -c in its own process group with default signal
/// handling, feeds it `input`, and collects its output. The whole group is killed when
/// `deadline` passes or `cancel` becomes true; that throws std::runtime_error, as do
/// outputs beyond `max_output` bytes and spawn failures.
[[nodiscard]] ShellResult run_shell(const std::string& command, std::string_view input,
                                    std::chrono::steady_clock::time_point deadline,
                                    const std::atomic<bool>& cancel, std::size_t max_output);

}  // namespace zmesh::cli
