#include "zmesh/core/errors.hpp"

#include <string>

namespace zmesh {
namespace {

class ErrcCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "zmesh"; }
  [[nodiscard]] std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
      case errc::ok: return "success";
      case errc::timeout: return "timed out";
      case errc::peer_gone: return "peer gone";
      case errc::peer_unreachable: return "peer unreachable";
      case errc::rejected: return "rejected by peer";
      case errc::malformed: return "malformed message";
      case errc::too_large: return "message too large";
      case errc::queue_full: return "queue full";
      case errc::shutting_down: return "shutting down";
      case errc::no_handler: return "no handler for message type";
      case errc::remote_error: return "remote handler failed";
      case errc::deadline_exceeded: return "deadline exceeded before handling";
      case errc::self_connect: return "connecting to ourselves";
      case errc::duplicate_id: return "duplicate peer id";
      case errc::unsupported_version: return "unsupported protocol version";
      case errc::invalid_argument: return "invalid argument";
      case errc::unknown_peer: return "unknown peer";
      case errc::not_running: return "peer not running";
      case errc::overloaded: return "overloaded";
      case errc::duplicate_name: return "duplicate peer name";
      case errc::auth_failed: return "authentication failed";
      case errc::not_allowed: return "not allowed for this key";
    }
    return "unknown zmesh error " + std::to_string(v);
  }
};

class DecodeCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "zmesh.decode"; }
  [[nodiscard]] std::string message(int v) const override {
    switch (static_cast<DecodeError>(v)) {
      case DecodeError::missing_frames: return "missing frames";
      case DecodeError::extra_frames: return "extra frames";
      case DecodeError::header_too_large: return "header frame too large";
      case DecodeError::payload_too_large: return "payload frame too large";
      case DecodeError::topic_too_large: return "topic frame too large";
      case DecodeError::identity_too_large: return "identity frame too large";
      case DecodeError::empty_identity: return "empty identity frame";
      case DecodeError::bad_identifier: return "header lacks the ZMH1 identifier";
      case DecodeError::header_malformed: return "header failed verification";
      case DecodeError::unsupported_version: return "unsupported protocol version";
      case DecodeError::unknown_kind: return "unknown message kind";
      case DecodeError::empty_type: return "empty message type";
      case DecodeError::type_too_long: return "message type too long";
      case DecodeError::missing_sender: return "missing sender id";
      case DecodeError::missing_correlation_id: return "missing correlation id";
      case DecodeError::missing_sequence: return "missing sequence number";
      case DecodeError::missing_session: return "missing sender session";
      case DecodeError::payload_malformed: return "control payload failed verification";
      case DecodeError::bad_value: return "control payload value out of range";
    }
    return "unknown decode error " + std::to_string(v);
  }
  [[nodiscard]] std::error_condition default_error_condition(int v) const noexcept override {
    switch (static_cast<DecodeError>(v)) {
      case DecodeError::header_too_large:
      case DecodeError::payload_too_large:
      case DecodeError::topic_too_large:
      case DecodeError::identity_too_large:
      case DecodeError::type_too_long: return make_error_condition(errc::too_large);
      case DecodeError::unsupported_version: return make_error_condition(errc::unsupported_version);
      default: return make_error_condition(errc::malformed);
    }
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const ErrcCategory kCategory;
  return kCategory;
}

const std::error_category& decode_category() noexcept {
  static const DecodeCategory kCategory;
  return kCategory;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}
std::error_condition make_error_condition(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}
std::error_code make_error_code(DecodeError e) noexcept {
  return {static_cast<int>(e), decode_category()};
}

errc Error::kind() const noexcept {
  const std::error_condition cond = code().default_error_condition();
  if (cond.category() == error_category()) return static_cast<errc>(cond.value());
  return errc::malformed;
}

}  // namespace zmesh
