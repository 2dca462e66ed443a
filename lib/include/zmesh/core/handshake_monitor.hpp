// zmesh/core/handshake_monitor.hpp — how a connection's ZMTP handshake ended, read from
// libzmq's socket monitor: succeeded, or failed and why (our key refused, the server's key
// wrong, one side plaintext and the other CURVE). Used to fail fast with errc::auth_failed
// instead of timing out, and to count refused handshakes at servers.
//
// The monitor is an inproc PAIR the owner polls; owner's thread only. Destroy the monitor
// BEFORE the watched socket (declare it after the socket): destroying it stops libzmq's
// monitoring, which must happen while the socket lives. Left running with nobody reading,
// libzmq's monitor would block an I/O thread on its next event (its sends to the monitor
// PAIR wait for room). Read it regularly for the same reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

struct HandshakeEvent {
  enum class Kind : std::uint8_t {
    succeeded,  ///< ZMQ_EVENT_HANDSHAKE_SUCCEEDED
    closed,     ///< ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: the other side hung up mid-handshake
    protocol,   ///< ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: value is a ZMQ_PROTOCOL_ERROR_*
    auth,       ///< ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: value is the ZAP status code (400)
    // Only from a monitor made with `connections` (a bound socket's TCP connections):
    accepted,      ///< ZMQ_EVENT_ACCEPTED: value is the new connection's file descriptor
    disconnected,  ///< ZMQ_EVENT_DISCONNECTED: value is the descriptor of the one that ended
  };
  Kind kind = Kind::succeeded;
  int value = 0;
  std::string endpoint;  ///< the connection's remote (connect) or local (bind) endpoint

  /// What went wrong, in words, for a client (`curve`: we speak CURVE ourselves):
  /// "the server does not trust our key (ZAP status 400)", ...
  [[nodiscard]] std::string reason(bool curve) const;
  /// A short fixed name for counting and labels: "untrusted_key", "mechanism_mismatch",
  /// "bad_key" (cryptographic failure), "closed", "protocol".
  [[nodiscard]] const char* cause() const noexcept;
};

/// Whether a client's handshake outcome means the connection cannot work: our key is
/// refused, the server's key is wrong, or the mechanisms differ. A hang-up mid-handshake
/// (Kind::closed) is also what a client sees when the server notices the mismatch first;
/// `closes` counts them in a row (reset by a success): with CURVE one is enough (the
/// usual sign of a wrong server key), plaintext takes two in a row, so that one dropped
/// connection is not taken for a security failure.
[[nodiscard]] bool handshake_failed(const HandshakeEvent& e, bool curve, int& closes) noexcept;

class HandshakeMonitor {
 public:
  /// Starts monitoring `watched`: handshake events, and with `connections` also the
  /// accepted and ended connections of a bound socket (with their descriptors).
  HandshakeMonitor(zmq::context_t& ctx, zmq::socket_ref watched, bool connections = false);
  ~HandshakeMonitor();
  HandshakeMonitor(const HandshakeMonitor&) = delete;
  HandshakeMonitor& operator=(const HandshakeMonitor&) = delete;

  [[nodiscard]] zmq::socket_ref socket() noexcept { return pair_; }
  /// The next event, without waiting; nullopt when none is queued.
  [[nodiscard]] std::optional<HandshakeEvent> next();

 private:
  zmq::socket_ref watched_;
  zmq::socket_t pair_;
};

}  // namespace zmesh
