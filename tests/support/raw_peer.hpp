// A raw peer for tests: a ZeroMQ DEALER built by the test that speaks the peer protocol
// (docs/protocol.md 5.1-5.4) through zmesh::core's codec only, the way another
// implementation would, so that a test can play a broken or hostile client: greet twice
// with different ids over one socket, send requests with any flags and deadlines, never
// read, leave without a BYE.
//
// One thread only. Every send and every read is bounded in time (never blocks forever).
// Socket options (hwm, SO_RCVBUF) apply only when set before connect(). The destructor
// closes with linger 0.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/control.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/header.hpp"

namespace zmesh::test {

/// One message received by a RawPeer.
struct RawMessage {
  Kind kind = Kind::invalid;  ///< invalid: nothing arrived in time
  std::uint64_t correlation_id = 0;
  std::uint64_t sender_id = 0;
  std::uint32_t flags = 0;
  std::string type;
  std::string payload;

  explicit operator bool() const noexcept { return kind != Kind::invalid; }
  /// Decodes the payload as control payload T; throws zmesh::Error if it does not decode.
  template <class T>
  [[nodiscard]] T as() const;
  /// The code of an Error (or Reject) answer; WireError::none for other kinds.
  [[nodiscard]] WireError error_code() const;
};

class RawPeer {
 public:
  /// A raw peer with a random id and session (used when a call names none).
  explicit RawPeer(std::string name = "raw");
  ~RawPeer();
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  // ---------------------------------------------------------------- setup (before connect)
  void set_rcvhwm(int messages);
  void set_sndhwm(int messages);
  /// SO_RCVBUF of the TCP connection, bytes.
  void set_rcvbuf(int bytes);
  /// CURVE: our key pair, and the key of the server we will connect to.
  void set_curve(const CurveOptions& own, const std::string& server_key);
  void connect(const std::string& endpoint);

  [[nodiscard]] PeerId id() const noexcept { return id_; }
  [[nodiscard]] std::uint64_t session() const noexcept { return session_; }

  // ---------------------------------------------------------------- greeting
  /// Sends HELLO as (id, session) over this one socket and waits for the answer; returns
  /// the Welcome or Reject (kind invalid after `timeout`). Later sends use (id, session).
  RawMessage greet(PeerId id, std::uint64_t session,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// greet() with this peer's own id and session.
  RawMessage greet(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Sends `hello` as it is (any version range, interval, PeerInfo) from this peer's id
  /// and session, and waits for the answer.
  RawMessage greet_with(const Hello& hello,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Sends a Hello whose payload is `payload` (garbage too); waits for the answer.
  RawMessage greet_raw(zmq::message_t payload,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Header.version of what we send from now on (1 unless a test plays a newer peer).
  void set_header_version(std::uint8_t v) noexcept { version_ = v; }
  /// This peer's PeerInfo as greet() announces it.
  [[nodiscard]] PeerInfo info() const { return PeerInfo{id_, session_, name_, {}, {}, {}}; }

  // ---------------------------------------------------------------- sending
  // Each waits at most `wait` for room on the socket; the result is the correlation id
  // used, or 0 when the message could not be queued in time.
  std::uint64_t request(std::string_view type, std::string_view payload, std::uint32_t flags = 0,
                        std::uint64_t deadline_unix_ms = 0,
                        std::chrono::milliseconds wait = std::chrono::seconds(5));
  /// Fire-and-forget Message; returns 1 when queued, 0 when not within `wait`.
  std::uint64_t message(std::string_view type, std::string_view payload,
                        std::chrono::milliseconds wait = std::chrono::seconds(5));
  std::uint64_t ping(std::chrono::milliseconds wait = std::chrono::seconds(5));
  /// Any kind with `payload` and a new correlation id; returns the id (0: not queued).
  std::uint64_t send_kind(Kind kind, zmq::message_t payload,
                          std::chrono::milliseconds wait = std::chrono::seconds(5));
  /// BYE; returns 1 when queued, 0 when not within `wait`.
  std::uint64_t bye(std::chrono::milliseconds wait = std::chrono::seconds(5));

  // ---------------------------------------------------------------- receiving
  /// Answer the other side's Pings with Pongs while reading (default on), so that the
  /// other side keeps us alive. Pings are never returned by read() while this is on.
  void set_auto_pong(bool on) noexcept { auto_pong_ = on; }
  /// The next message (Pings answered and skipped, see set_auto_pong); kind invalid
  /// after `timeout`. Frame sets that fail to decode are counted in undecodable().
  RawMessage read(std::chrono::milliseconds timeout);
  /// Reads until the answer (Reply/Error/Pong/...) carrying `correlation_id` arrives;
  /// everything read before it is appended to `others` when given, else dropped.
  RawMessage wait_answer(std::uint64_t correlation_id, std::chrono::milliseconds timeout,
                         std::vector<RawMessage>* others = nullptr);
  [[nodiscard]] std::uint64_t undecodable() const noexcept { return undecodable_; }

  /// Closes the socket and the context, letting unsent messages leave for at most
  /// `linger` (0 = drop them). Idempotent; sends and reads after it fail.
  void close(std::chrono::milliseconds linger = std::chrono::milliseconds(0));

 private:
  bool send_frames(const Header& h, zmq::message_t payload, std::chrono::milliseconds wait);
  [[nodiscard]] Header header(Kind kind, std::uint64_t correlation_id) const;

  zmq::context_t ctx_{1};
  zmq::socket_t dealer_;
  std::string name_;
  PeerId id_ = 0;
  std::uint64_t session_ = 0;
  std::uint64_t next_correlation_ = 0;
  std::uint8_t version_ = kProtocolVersion;
  bool auto_pong_ = true;
  bool closed_ = false;
  EnvelopeEncoder encoder_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  std::uint64_t undecodable_ = 0;
};

template <class T>
T RawMessage::as() const {
  const auto* bytes = reinterpret_cast<const std::byte*>(payload.data());
  return decode_control<T>(std::span<const std::byte>(bytes, payload.size()), Limits{}).value();
}

}  // namespace zmesh::test
