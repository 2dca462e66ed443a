// EngineContext — what every engine component reads and nothing owns alone: who we are,
// our options and counters, the header encoder and the correlation counter. One per
// Engine; engine thread only. It holds no socket and no per-party state: those belong to
// the components (Connections, Requests, Dispatcher, Broadcasts, Discovery).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include <zmq.hpp>

#include "deadline.hpp"
#include "peer_log.hpp"
#include "peer_shared.hpp"
#include "readiness.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/handshake_monitor.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::detail {

/// Each socket is read in bursts of at most this many messages per round, so that one
/// busy socket cannot starve the others.
inline constexpr int kBurst = 256;
/// How often the engine looks at its timers (deadlines, greetings, syncs, the broker).
inline constexpr std::chrono::milliseconds kTimerTick{10};
/// Longest the engine sleeps in zmq::poll when nothing is due.
inline constexpr std::chrono::milliseconds kMaxPollWait{100};
/// Linger for sockets closed while a BYE or last replies may still be leaving.
inline constexpr std::chrono::milliseconds kByeLinger{100};

struct EngineContext {
  EngineContext(zmq::context_t& zmq_ctx, PeerShared& peer_shared)
      : zmq(zmq_ctx),
        shared(peer_shared),
        opts(peer_shared.options),
        log(peer_shared.options.log),
        tuning{opts.send_hwm, opts.recv_hwm, opts.limits, std::chrono::milliseconds(100),
               std::chrono::milliseconds(2000)} {
    self.id = peer_shared.id;
    self.session = peer_shared.session;
    self.name = opts.name;
    self.services = opts.services;
    self.public_key = opts.curve.public_key;
  }

  /// A header from us, stamped with the round's time.
  [[nodiscard]] Header header(Kind kind, std::uint64_t correlation_id) const {
    Header h;
    h.kind = kind;
    h.correlation_id = correlation_id;
    h.sender_id = self.id;
    h.sender_session = self.session;
    h.timestamp_us = unix_now();
    return h;
  }

  /// The engine reads the clocks once per round, when it wakes, and what the round
  /// handles is stamped and timed with that (a message's arrival, a request's start and
  /// end, a header's timestamp): two clock reads a round instead of several a message.
  /// A round of the engine's own work lasts microseconds (a burst per socket), so the
  /// times differ from a fresh read by that much at most; user code run inline ends that
  /// (user_code_ran). Components driven alone (unit tests, no round) read the clocks
  /// each time.
  void start_round() noexcept {
    round_steady_ = SteadyClock::now();
    round_unix_us_ = unix_now_us();
    in_round_ = true;
  }
  /// User code ran on the engine thread for as long as it took (an inline handler or
  /// callback): the rest of the round reads the clocks afresh.
  void user_code_ran() noexcept { in_round_ = false; }
  [[nodiscard]] SteadyClock::time_point now() const noexcept {
    return in_round_ ? round_steady_ : SteadyClock::now();
  }
  [[nodiscard]] std::uint64_t unix_now() const noexcept {
    return in_round_ ? round_unix_us_ : unix_now_us();
  }
  /// The deadline a command carries (steady microseconds, 0 = none) with its unix half
  /// for the wire, from the round's clocks.
  [[nodiscard]] Deadline deadline(std::int64_t steady_us) const noexcept {
    const SteadyClock::time_point steady = Deadline::steady_at(steady_us);
    if (steady_us == 0) return Deadline{steady, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(steady - now());
    return Deadline{steady, unix_now() / 1000 + static_cast<std::uint64_t>(
                                                    std::max<std::int64_t>(left.count(), 0))};
  }
  [[nodiscard]] zmq::message_t encode(const Header& h) { return encoder.encode(h); }
  [[nodiscard]] std::uint64_t next_correlation() noexcept { return correlation_++; }
  [[nodiscard]] Counters& counters() noexcept { return shared.counters; }
  /// A handshake one of our server sockets (ROUTER, PUB) refused: counted by its cause.
  void refused_handshake(const HandshakeEvent& e) noexcept {
    bump(counters().handshakes_refused);
    const std::string_view cause = e.cause();
    if (cause == "untrusted_key") bump(counters().handshakes_untrusted);
    if (cause == "mechanism_mismatch") bump(counters().handshakes_mismatched);
    if (cause == "bad_key") bump(counters().handshakes_bad_key);
    // Untrusted keys are logged by the ZAP handler, with the key.
    if (cause != "untrusted_key" && log.on()) {
      log(LogEvent::handshake_refused, LogLevel::warning,
          "handshake refused at " + e.endpoint + ": " + std::string(cause));
    }
  }
  /// A component sent on (connected, subscribed with) one of its sockets: the engine
  /// looks at that socket again before it sleeps (readiness.hpp says why).
  void touched(zmq::socket_ref socket) noexcept {
    if (readiness != nullptr) readiness->touch(socket);
  }
  /// A send was refused (EAGAIN): it too may have taken in the socket's read signal, so
  /// look now, once, rather than again and again while the pipe stays full. Returns true
  /// when the socket can take a message now after all.
  bool refused(zmq::socket_ref socket) {
    if (readiness == nullptr) return false;
    const int events = socket.get(zmq::sockopt::events);
    if ((events & ZMQ_POLLIN) != 0) readiness->touch(socket);
    return (events & ZMQ_POLLOUT) != 0;
  }

  zmq::context_t& zmq;
  PeerShared& shared;
  const PeerOptions& opts;
  PeerLog log;
  const SocketTuning tuning;
  PeerInfo self;  // endpoints filled in as the components bind
  EnvelopeEncoder encoder;
  bool stopping = false;           // set once by the Engine when stop() begins
  Readiness* readiness = nullptr;  // the Engine's; null when a component is driven alone

 private:
  std::uint64_t correlation_ = 1;
  SteadyClock::time_point round_steady_{};
  std::uint64_t round_unix_us_ = 0;
  bool in_round_ = false;
};

}  // namespace zmesh::detail
