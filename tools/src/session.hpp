// The Peer a zmesh command runs, and what every command needs around it: signals,
// the broker, resolving "<peer>" arguments, and waiting on futures without hanging.
//
// Signals. main() calls block_signals() before any thread starts, so SIGINT and SIGTERM
// stay pending for the process and the main thread takes them with signalled(). SIGPIPE
// is blocked too: a closed stdout shows up as a failed write, not a dead process.
#pragma once

#include <chrono>
#include <future>
#include <string>

#include "exit_codes.hpp"
#include "options.hpp"
#include "output.hpp"
#include "zmesh/peer.hpp"

namespace zmesh::cli {

using Clock = std::chrono::steady_clock;

/// Blocks SIGINT, SIGTERM and SIGPIPE in the calling thread (and so in every thread it
/// starts later). Call first thing in main().
void block_signals();
/// Waits up to `d` for SIGINT or SIGTERM; true once one has arrived (and from then on).
bool signalled(std::chrono::milliseconds d = std::chrono::milliseconds(0));

class Session {
 public:
  /// Fills name, broker and timeouts from `common` into `options`, builds and starts the
  /// Peer. Throws UsageError for options the Peer refuses, Failure when it cannot start.
  Session(const Common& common, const std::string& command, PeerOptions options);
  /// Stops the Peer (BYE to peers and broker, last messages get a moment to leave).
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  [[nodiscard]] Peer& peer() noexcept { return peer_; }
  [[nodiscard]] const Common& common() const noexcept { return common_; }
  /// What is left of --timeout since the session started (at least 1 ms).
  [[nodiscard]] std::chrono::milliseconds remaining() const;

  /// Waits until a broker has our registration (commands that register) and our view of
  /// the membership is filled in (a broker's full listing). False when it does not answer within
  /// `within`; Failure(130) on a signal.
  bool join_broker(std::chrono::milliseconds within);
  /// join_broker(remaining()) or Failure: UsageError without a broker, exit 4 when it
  /// does not answer. `why` completes "... needs --broker" ("to resolve 'pricing'").
  void require_broker(const std::string& why);
  /// Connects to every --connect endpoint (Failure on the first that fails).
  void connect_all();
  /// Resolves a <peer> argument and connects: "tcp://..." (any "://") is an endpoint,
  /// 16 hex digits a peer id from the broker's membership, anything else a name
  /// (connect_by_name). Throws Failure.
  PeerId connect(const std::string& target);

  /// Waits for `f` (which has its own deadline inside the Peer) while watching signals;
  /// returns its value or throws Failure built from its error ("<what> failed: ...",
  /// "<what> timed out after <timeout_ms> ms").
  template <class T>
  T await(zmesh::Future<T>& f, const std::string& what, std::chrono::milliseconds timeout) {
    wait_ready(f, what, timeout);
    try {
      return f.get();
    } catch (const Error& e) {
      throw failure_from(e, what, timeout.count());
    }
  }

 private:
  // peer_.connect(), its immediate refusal as a Failure "<what> failed: <reason>" with
  // exit_code_for() its errc, or with `exit_code` when that is not 0.
  zmesh::Future<PeerId> start_connect(const std::string& endpoint, const std::string& what,
                                      int exit_code = 0, const std::string& key = {});

  template <class T>
  void wait_ready(zmesh::Future<T>& f, const std::string& what, std::chrono::milliseconds timeout) {
    // The Peer fails every future at its own deadline; the margin only guards a hang.
    const auto give_up = Clock::now() + timeout + std::chrono::seconds(3);
    while (f.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
      if (signalled()) throw Failure(kExitInterrupted, what + " interrupted");
      if (Clock::now() > give_up) {
        throw Failure(kExitTimeout,
                      what + " timed out after " + std::to_string(timeout.count()) + " ms");
      }
    }
  }

  Common common_;
  Clock::time_point started_;
  bool registering_;  // we register with the brokers (else lookup-only)
  Peer peer_;
};

}  // namespace zmesh::cli
