// PeerLog — the engine's side of PeerOptions::log: one rate limit per kind of event, so a
// flood of one kind (a client hammering us with an untrusted key) costs one record a
// second and never hides another kind. Engine thread only; does nothing without a sink.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "zmesh/core/rate_limit.hpp"
#include "zmesh/peer/log.hpp"

namespace zmesh::detail {

enum class LogEvent : std::uint8_t {
  handshake_refused,     // a client our ROUTER/PUB refused (its key, its address)
  auth_failed,           // our own handshake failed (the endpoint, the reason)
  identity_refused,      // a greeting claiming an id not bound to its key
  malformed,             // undecodable input (from whom, why)
  peer_suspect,          // a connection went quiet (before it is gone)
  peer_gone,             // a connection ended by silence
  queue_full,            // a send or request refused: the peer does not read
  registration_refused,  // a broker refused our Register (why)
  broker_lost,           // a broker stopped answering
  broker_back,           // ...and answers again
  broker_auth_failed,    // a broker refused our handshake
  subscriber_cut,        // a subscriber that took nothing disconnected (delivery policies)
  count
};

class PeerLog {
 public:
  explicit PeerLog(LogSink sink) : sink_(std::move(sink)) {}

  [[nodiscard]] bool on() const noexcept { return static_cast<bool>(sink_); }
  /// Hands the record to the sink unless its kind had one less than a second ago.
  void operator()(LogEvent event, LogLevel level, const std::string& message) {
    if (!sink_) return;
    std::uint64_t held = 0;
    if (!limits_[static_cast<std::size_t>(event)].allow(SteadyClock::now(), held)) return;
    std::string text = message;
    if (held > 0) text += " (" + std::to_string(held) + " similar held back)";
    try {
      sink_(LogRecord{level, name(event), text});
    } catch (...) {
      // A sink that throws loses its record, nothing else.
    }
  }

  static const char* name(LogEvent e) noexcept {
    switch (e) {
      case LogEvent::handshake_refused: return "handshake_refused";
      case LogEvent::auth_failed: return "auth_failed";
      case LogEvent::identity_refused: return "identity_refused";
      case LogEvent::malformed: return "malformed";
      case LogEvent::peer_suspect: return "peer_suspect";
      case LogEvent::peer_gone: return "peer_gone";
      case LogEvent::queue_full: return "queue_full";
      case LogEvent::broker_lost: return "broker_lost";
      case LogEvent::broker_back: return "broker_back";
      case LogEvent::registration_refused: return "registration_refused";
      case LogEvent::broker_auth_failed: return "broker_auth_failed";
      case LogEvent::subscriber_cut: return "subscriber_cut";
      case LogEvent::count: break;
    }
    return "event";
  }

 private:
  LogSink sink_;
  std::array<RateLimit, static_cast<std::size_t>(LogEvent::count)> limits_{};
};

}  // namespace zmesh::detail
