// Connection — the engine's record of one remote peer: how to reach it (our DEALER to
// its ROUTER and/or its DEALERs' identities on our ROUTER), the greeting, liveness and
// counters. Engine thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "completions.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/peer/stats.hpp"

namespace zmesh::detail {

/// A send held until the greeting completes.
struct QueuedSend {
  Kind kind;  // request or message
  std::string type;
  zmq::message_t payload;
  std::uint64_t correlation_id;
  std::uint64_t deadline_unix_ms;
};

struct Connection {
  std::uint64_t key = 0;                // never reused; names the connection in routes
  PeerInfo info;                        // id 0 until greeted (outbound attempt)
  std::string endpoint;                 // what we connected to; "" for inbound-only
  std::optional<zmq::socket_t> dealer;  // engine thread only
  std::vector<std::string> identities;  // its DEALERs as seen on our ROUTER
  ConnectionState state = ConnectionState::greeting;

  // greeting (outbound)
  std::uint64_t hello_correlation = 0;
  SteadyClock::time_point greeting_deadline{};
  std::vector<std::unique_ptr<ConnectCompletion>> waiters;
  std::deque<QueuedSend> queued;

  // liveness
  SteadyClock::time_point last_rx{};
  std::uint64_t ping_nonce = 0;
  std::uint64_t last_rtt_us = 0;

  std::vector<std::string> followed_pubs;  // its PUB endpoints our SUB is connected to

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
