// zmesh/peer/message.hpp — what handlers receive and what requests complete with.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "zmesh/core/export.hpp"
#include "zmesh/core/header.hpp"

namespace ZMESH_API zmesh {

/// An application message or request as a handler sees it. Views into memory the worker
/// owns: valid only during the handler call; copy what you keep.
class Message {
 public:
  Message(PeerId sender, std::string_view type, std::span<const std::byte> payload, bool is_request,
          std::uint64_t deadline_unix_ms, std::string_view topic = {}, std::uint64_t sequence = 0,
          std::string_view sender_key = {}, bool retained = false) noexcept
      : sender_(sender),
        type_(type),
        payload_(payload),
        is_request_(is_request),
        deadline_unix_ms_(deadline_unix_ms),
        topic_(topic),
        sequence_(sequence),
        sender_key_(sender_key),
        retained_(retained) {}

  /// The peer that sent it.
  [[nodiscard]] PeerId sender() const noexcept { return sender_; }
  /// Its message type.
  [[nodiscard]] std::string_view type() const noexcept { return type_; }
  /// Its payload bytes.
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return payload_; }
  /// Its payload as text (no copy, no validation).
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload_.data()), payload_.size()};
  }
  /// True for a request (the handler's return value is sent back as the reply).
  [[nodiscard]] bool is_request() const noexcept { return is_request_; }
  /// The requester's deadline, Unix milliseconds; 0 = none.
  [[nodiscard]] std::uint64_t deadline_unix_ms() const noexcept { return deadline_unix_ms_; }
  /// For a broadcast: its topic; "" otherwise.
  [[nodiscard]] std::string_view topic() const noexcept { return topic_; }
  /// For a broadcast: the publisher's sequence number on that topic; 0 otherwise.
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  /// CURVE: the public key (Z85) the sender authenticated with, for the application to
  /// authorise by; sender() is the id bound to it. "" in a plaintext mesh, and for
  /// broadcasts (a SUB cannot tell which publisher connection a message came by: see
  /// docs/security.md).
  [[nodiscard]] std::string_view sender_key() const noexcept { return sender_key_; }
  /// For a broadcast: true when it is a publisher's retained last value, sent because we
  /// asked for last values (Peer::sync_subscriptions_with_last), not a live broadcast.
  [[nodiscard]] bool retained() const noexcept { return retained_; }

 private:
  PeerId sender_;
  std::string_view type_;
  std::span<const std::byte> payload_;
  bool is_request_;
  std::uint64_t deadline_unix_ms_;
  std::string_view topic_;
  std::uint64_t sequence_;
  std::string_view sender_key_;
  bool retained_;
};

/// A reply, as a request's future or callback receives it. Owns its bytes.
struct Response {
  PeerId from = 0;      ///< the responder
  std::string payload;  ///< the reply payload (binary-safe)
};

}  // namespace zmesh
