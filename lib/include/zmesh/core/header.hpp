// zmesh/core/header.hpp — the typed header of every zmesh message (wire: schemas/envelope.fbs).
//
// Header is a value that views its `type` string: a decoded Header's `type` points into
// the received header frame and is valid only while that frame lives; a Header built for
// sending points wherever the caller's string lives, until it is encoded.
#pragma once

#include <cstdint>
#include <string_view>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

/// A peer's id (nonzero). Text form: 16 hex digits (zmesh::id_to_hex).
using PeerId = std::uint64_t;

/// Protocol version this build speaks (the only one in v1).
inline constexpr std::uint8_t kProtocolVersion = 1;

/// What a message is. Values equal zmesh.wire.Kind.
enum class Kind : std::uint8_t {
  invalid = 0,
  hello = 1,
  welcome = 2,
  reject = 3,
  request = 4,
  reply = 5,
  error = 6,
  message = 7,
  publish = 8,
  ping = 9,
  pong = 10,
  bye = 11,
  sync = 12,       ///< publisher's answer to a subscription marker (PUB/SUB)
  sequences = 13,  ///< publisher's heartbeat: latest sequence per topic (PUB/SUB)
  reg = 20,        ///< broker Register ("register" is a C++ keyword)
  register_ack = 21,
  renew = 22,
  lookup = 23,
  peer_list = 24,
  event = 25,
};

/// True for the values of Kind a v1 receiver accepts.
[[nodiscard]] bool is_known_kind(std::uint8_t raw) noexcept;
/// Lower-case name of a kind ("request"), "unknown" for others.
[[nodiscard]] std::string_view kind_name(Kind k) noexcept;

/// Header.flags bits.
inline constexpr std::uint32_t kFlagNoReply = 1u << 0;
/// On a Publish: a retained value sent for a last-value marker (protocol.md 5.10).
inline constexpr std::uint32_t kFlagRetained = 1u << 1;

struct Header {
  std::uint8_t version = kProtocolVersion;
  Kind kind = Kind::invalid;
  std::uint64_t correlation_id = 0;
  std::string_view type;  ///< application message type (views memory it does not own)
  std::uint64_t sender_id = 0;
  std::uint64_t sender_session = 0;
  std::uint64_t timestamp_us = 0;      ///< unix microseconds, 0 = unset
  std::uint64_t deadline_unix_ms = 0;  ///< unix milliseconds, 0 = none
  std::uint64_t sequence = 0;          ///< per-publisher broadcast number
  std::uint32_t flags = 0;

  friend bool operator==(const Header&, const Header&) = default;
};

/// Error codes carried on the wire by Reject and ErrorReply. Values equal zmesh.wire.ErrorCode.
enum class WireError : std::uint16_t {
  none = 0,
  unsupported_version = 1,
  duplicate_id = 2,
  self_connect = 3,
  no_handler = 4,
  handler_failed = 5,
  deadline_exceeded = 6,
  too_large = 7,
  malformed = 8,
  shutting_down = 9,
  unknown_peer = 10,
  bad_request = 11,
  overloaded = 12,
  internal = 13,
  duplicate_name = 14,
  not_allowed = 15,
};
inline constexpr std::uint16_t kMaxWireError = 15;

}  // namespace zmesh
