// Exit codes of the zmesh tool and the failures that carry them. Every failure ends as
// one line on stderr ("zmesh: <message>") and one of these codes; see `zmesh --help`.
#pragma once

#include <stdexcept>
#include <string>

#include "zmesh/core/errors.hpp"

namespace zmesh::cli {

enum ExitCode : int {
  kExitOk = 0,             ///< done
  kExitFailure = 1,        ///< any other failure (bind, I/O, local errors)
  kExitUsage = 2,          ///< bad flags or arguments
  kExitTimeout = 3,        ///< no answer in time (request, sync, waiting for subscribers)
  kExitUnreachable = 4,    ///< peer unreachable or gone, unknown peer/service, no broker
  kExitRemote = 5,         ///< the remote side refused: no handler, handler failed, rejected
  kExitTooLarge = 6,       ///< a payload over the protocol's limit (Limits::max_payload_bytes)
  kExitAuth = 7,           ///< CURVE: the handshake failed, or our key may not do that
  kExitInterrupted = 130,  ///< SIGINT/SIGTERM while waiting for an answer
};

/// A failure that ends the command: its exit code and a one-line message.
class Failure : public std::runtime_error {
 public:
  Failure(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Bad flags or arguments: exit 2, with the command's usage on stderr.
class UsageError : public Failure {
 public:
  explicit UsageError(const std::string& what) : Failure(kExitUsage, what) {}
};

/// The exit code for a zmesh error.
[[nodiscard]] int exit_code_for(errc e) noexcept;

/// The failure for a zmesh error raised while doing `what` ("request to 'pricing'"):
/// "request to 'pricing' timed out after 500 ms", "connecting to 'x' timed out after 500 ms
/// (the broker did not answer)", "request to 'x' failed: <reason>".
[[nodiscard]] Failure failure_from(const Error& e, const std::string& what,
                                   long long timeout_ms = 0);

/// The message an Error was built with, without the generic ": <category text>" tail.
[[nodiscard]] std::string reason_of(const Error& e);

}  // namespace zmesh::cli
