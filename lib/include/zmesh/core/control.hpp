// zmesh/core/control.hpp — typed control payloads (wire: schemas/control.fbs, broker.fbs).
//
// Control messages are rare next to application traffic, so these are plain owning
// values. encode() builds a payload frame; decode_*() verifies untrusted bytes with the
// FlatBuffers verifier and Limits, and returns a value or a DecodeError (never throws).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/export.hpp"
#include "zmesh/core/header.hpp"
#include "zmesh/core/limits.hpp"
#include "zmesh/core/result.hpp"

namespace ZMESH_API zmesh {

struct PeerInfo {
  std::uint64_t id = 0;
  std::uint64_t session = 0;
  std::string name;
  std::vector<std::string> endpoints;      ///< ROUTER endpoints
  std::vector<std::string> pub_endpoints;  ///< PUB endpoints
  std::vector<std::string> services;
  std::string public_key{};  ///< CURVE public key, Z85; "" in a plaintext mesh
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

/// One entry of Sequences: the latest sequence a publisher sent on one topic.
struct TopicSequence {
  std::string topic;
  std::uint64_t sequence = 0;
  friend bool operator==(const TopicSequence&, const TopicSequence&) = default;
};

/// Payload of Sequences, the publisher's heartbeat on the reserved topic (protocol.md 5.9).
struct Sequences {
  std::vector<TopicSequence> topics;  ///< 1..kMaxTopicSequences entries
  friend bool operator==(const Sequences&, const Sequences&) = default;
};
/// The most entries one Sequences payload may carry.
inline constexpr std::size_t kMaxTopicSequences = 4096;

struct Register {
  PeerInfo peer;
  std::uint32_t ttl_ms = 0;
  friend bool operator==(const Register&, const Register&) = default;
};

struct RegisterAck {
  std::uint64_t epoch = 0;
  std::uint32_t ttl_ms = 0;
  std::uint32_t renew_interval_ms = 0;
  std::uint64_t event_sequence = 0;  ///< sequence of the last Event the broker sent
  friend bool operator==(const RegisterAck&, const RegisterAck&) = default;
};

struct Lookup {
  std::string name;
  std::string service;
  std::uint64_t after = 0;  ///< cursor (a PeerList::next): peers registered after it; 0 = all
  std::uint32_t limit = 0;  ///< at most this many records; 0 = the broker's page size
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
  std::uint64_t next = 0;       ///< cursor of the next page (Lookup::after); 0 = last page
  /// How long after starting the broker has heard from every live peer (0 = not said).
  std::uint32_t warm_up_ms = 0;
  friend bool operator==(const PeerList&, const PeerList&) = default;
};

enum class EventType : std::uint8_t { unknown = 0, join = 1, leave = 2, update = 3 };

/// One membership change (Event carries one or more).
struct Change {
  EventType type = EventType::unknown;
  PeerInfo peer;
  std::string reason;
  friend bool operator==(const Change&, const Change&) = default;
};

/// The first change in type/peer/reason, further ones in `more`, in order.
struct Event {
  std::uint64_t epoch = 0;
  EventType type = EventType::unknown;
  PeerInfo peer;
  std::string reason;
  std::uint64_t sequence = 0;  ///< 1, 2, 3... per broker epoch; a jump means Events were lost
  std::vector<Change> more{};
  friend bool operator==(const Event&, const Event&) = default;
};

/// Encodes PeerList pages record by record into one buffer that is kept between pages
/// (the broker answers every Lookup with one). One thread at a time.
class PeerListWriter {
 public:
  PeerListWriter();
  ~PeerListWriter();
  PeerListWriter(const PeerListWriter&) = delete;
  PeerListWriter& operator=(const PeerListWriter&) = delete;

  /// Starts a new page (keeps the buffer's memory).
  void begin();
  /// Adds one record.
  void add(const PeerInfo& peer, std::uint64_t age_ms);
  /// Records added since begin().
  [[nodiscard]] std::size_t records() const noexcept;
  /// Bytes encoded so far (the page grows by about encoded_size(peer) per record).
  [[nodiscard]] std::size_t bytes() const noexcept;
  /// The page as a payload frame.
  [[nodiscard]] zmq::message_t finish(std::uint64_t epoch, std::uint64_t uptime_ms,
                                      std::uint64_t next, std::uint32_t warm_up_ms = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// An upper bound of the bytes `peer` takes in an encoded PeerList or Event.
[[nodiscard]] std::size_t encoded_size(const PeerInfo& peer) noexcept;

[[nodiscard]] zmq::message_t encode(const Hello& v);
[[nodiscard]] zmq::message_t encode(const Welcome& v);
[[nodiscard]] zmq::message_t encode(const Reject& v);
[[nodiscard]] zmq::message_t encode(const ErrorReply& v);
[[nodiscard]] zmq::message_t encode(const Ping& v);
[[nodiscard]] zmq::message_t encode(const Sequences& v);
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
