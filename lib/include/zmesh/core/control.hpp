// zmesh/core/control.hpp — typed control payloads (wire: schemas/control.fbs, broker.fbs).
//
// Control messages are rare next to application traffic, so these are plain owning
// values. encode() builds a payload frame; decode_*() verifies untrusted bytes with the
// FlatBuffers verifier and Limits, and returns a value or a DecodeError (never throws).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/header.hpp"
#include "zmesh/core/limits.hpp"
#include "zmesh/core/result.hpp"

namespace zmesh {

struct PeerInfo {
  std::uint64_t id = 0;
  std::uint64_t session = 0;
  std::string name;
  std::vector<std::string> endpoints;      ///< ROUTER endpoints
  std::vector<std::string> pub_endpoints;  ///< PUB endpoints
  std::vector<std::string> services;
  friend bool operator==(const PeerInfo&, const PeerInfo&) = default;
};

/// The range of an announced heartbeat interval (Hello, Welcome), milliseconds.
inline constexpr std::uint32_t kMinHeartbeatIntervalMs = 10;
inline constexpr std::uint32_t kMaxHeartbeatIntervalMs = 60000;

struct Hello {
  std::uint8_t protocol_version = kProtocolVersion;  ///< highest version the sender speaks
  PeerInfo peer;
  std::uint32_t heartbeat_interval_ms = 0;
  /// Lowest version the sender accepts (on the wire, absent means 1).
  std::uint8_t min_protocol_version = 1;
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct Welcome {
  std::uint8_t protocol_version = kProtocolVersion;
  PeerInfo peer;
  std::uint32_t heartbeat_interval_ms = 0;
  friend bool operator==(const Welcome&, const Welcome&) = default;
};

struct Reject {
  WireError code = WireError::none;
  std::string reason;
  friend bool operator==(const Reject&, const Reject&) = default;
};

struct ErrorReply {
  WireError code = WireError::none;
  std::string text;
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};

/// Payload of both Ping and Pong.
struct Ping {
  std::uint64_t nonce = 0;
  std::uint64_t sent_us = 0;
  friend bool operator==(const Ping&, const Ping&) = default;
};

struct Register {
  PeerInfo peer;
  std::uint32_t ttl_ms = 0;
  friend bool operator==(const Register&, const Register&) = default;
};

struct RegisterAck {
  std::uint64_t epoch = 0;
  std::uint32_t ttl_ms = 0;
  std::uint32_t renew_interval_ms = 0;
  friend bool operator==(const RegisterAck&, const RegisterAck&) = default;
};

struct Lookup {
  std::string name;
  std::string service;
  friend bool operator==(const Lookup&, const Lookup&) = default;
};

struct PeerRecord {
  PeerInfo peer;
  std::uint64_t age_ms = 0;
  friend bool operator==(const PeerRecord&, const PeerRecord&) = default;
};

struct PeerList {
  std::uint64_t epoch = 0;
  std::vector<PeerRecord> peers;
  std::uint64_t uptime_ms = 0;  ///< time since the broker started
  friend bool operator==(const PeerList&, const PeerList&) = default;
};

enum class EventType : std::uint8_t { unknown = 0, join = 1, leave = 2, update = 3 };

struct Event {
  std::uint64_t epoch = 0;
  EventType type = EventType::unknown;
  PeerInfo peer;
  std::string reason;
  friend bool operator==(const Event&, const Event&) = default;
};

[[nodiscard]] zmq::message_t encode(const Hello& v);
[[nodiscard]] zmq::message_t encode(const Welcome& v);
[[nodiscard]] zmq::message_t encode(const Reject& v);
[[nodiscard]] zmq::message_t encode(const ErrorReply& v);
[[nodiscard]] zmq::message_t encode(const Ping& v);
[[nodiscard]] zmq::message_t encode(const Register& v);
[[nodiscard]] zmq::message_t encode(const RegisterAck& v);
[[nodiscard]] zmq::message_t encode(const Lookup& v);
[[nodiscard]] zmq::message_t encode(const PeerList& v);
[[nodiscard]] zmq::message_t encode(const Event& v);

/// Decodes a control payload of type T (one of the structs above).
template <class T>
[[nodiscard]] Result<T> decode_control(std::span<const std::byte> bytes, const Limits& limits);

/// The errc a wire error code stands for (unknown codes map to remote_error).
[[nodiscard]] errc to_errc(WireError code) noexcept;
/// Lower-case name of a wire error code ("no_handler").
[[nodiscard]] std::string_view wire_error_name(WireError code) noexcept;

}  // namespace zmesh
