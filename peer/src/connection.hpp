// Connection — the engine's record of one remote peer: how to reach it (our DEALER to
// its ROUTER and/or its DEALERs' identities on our ROUTER), the greeting, liveness, what
// waits to be sent to it, and counters. Owned by ConnectionRegistry; engine thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "completions.hpp"
#include "pipeline.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/handshake_monitor.hpp"
#include "zmesh/peer/stats.hpp"

namespace zmesh::detail {

/// An application send held until the greeting completes.
struct HeldSend {
  Kind kind;  // request or message
  std::string type;
  zmq::message_t payload;
  std::uint64_t correlation_id;
  std::uint64_t deadline_unix_ms;
  std::uint32_t flags;
};

/// Frames waiting for room on the connection's pipe (its DEALER, or one of its ROUTER
/// identities when `route` names one).
struct Outgoing {
  Route route;
  zmq::message_t header;
  zmq::message_t payload;
  [[nodiscard]] std::size_t bytes() const noexcept { return header.size() + payload.size(); }
};

struct Connection {
  std::uint64_t key = 0;                    // never reused; names the connection in routes
  PeerInfo info;                            // id 0 until greeted (outbound attempt)
  std::string endpoint;                     // what we connected to; "" for inbound-only
  std::optional<zmq::socket_t> dealer;      // engine thread only
  std::string server_key;                   // CURVE: the key our DEALER expects of it
  std::optional<HandshakeMonitor> monitor;  // our DEALER's handshake, until the greeting ends
  int handshake_closes = 0;                 // hang-ups mid-handshake in a row
  std::vector<std::string> identities;      // its DEALERs as seen on our ROUTER, newest last
  ConnectionState state = ConnectionState::greeting;

  // greeting (outbound)
  std::uint64_t hello_correlation = 0;
  SteadyClock::time_point greeting_deadline{};
  std::vector<std::unique_ptr<ConnectCompletion>> waiters;
  std::deque<HeldSend> held;

  // liveness
  std::chrono::milliseconds announced_interval{0};  // its ping interval (greeting); 0 = unknown
  SteadyClock::time_point last_rx{};
  std::uint64_t ping_nonce = 0;
  std::uint64_t last_rtt_us = 0;

  // outbound queue: bounded in bytes (PeerOptions::max_queued_bytes)
  std::deque<Outgoing> backlog;
  std::size_t backlog_bytes = 0;
  std::size_t refusal_bytes = 0;  // refusals queued since the backlog was last empty

  std::vector<std::string> followed_pubs;  // its PUB endpoints our SUB is told about

  // counters
  std::uint64_t sent = 0;
  std::uint64_t received = 0;

  [[nodiscard]] PeerId peer() const noexcept { return info.id; }
  [[nodiscard]] bool ready() const noexcept {
    return state == ConnectionState::ready || state == ConnectionState::suspect;
  }
  /// Display name for errors: "'pricing' (0123456789abcdef)" or the endpoint.
  [[nodiscard]] std::string describe() const;
};

}  // namespace zmesh::detail
