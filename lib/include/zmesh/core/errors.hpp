// zmesh/core/errors.hpp — the one error vocabulary of zmesh.
//
// `errc` names every way a zmesh operation can fail; `Error` is the one exception type,
// a std::system_error carrying an errc and a message that names what failed ("peer
// 'pricing' gone"). `DecodeError` names, finely, why untrusted bytes were refused; each
// DecodeError is equivalent to the broad errc it belongs to (malformed, too_large or
// unsupported_version),
// compared as a condition:  if (ec == zmesh::make_error_condition(zmesh::errc::malformed))
// Thread-safe: the categories are immutable singletons.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

namespace zmesh {

enum class errc {
  ok = 0,
  timeout = 1,               ///< the operation's deadline passed
  peer_gone = 2,             ///< the remote peer stopped answering or left
  peer_unreachable = 3,      ///< the remote peer could not be reached at all
  rejected = 4,              ///< the remote peer refused the greeting
  malformed = 5,             ///< bytes that could not be decoded
  too_large = 6,             ///< a frame or value over its size limit
  queue_full = 7,            ///< a bounded queue is full and the caller chose not to wait
  shutting_down = 8,         ///< the peer is stopping and takes no new work
  no_handler = 9,            ///< the responder has no handler for the message type
  remote_error = 10,         ///< the responder's handler failed; the message carries its text
  deadline_exceeded = 11,    ///< the responder skipped the request: its deadline had passed
  self_connect = 12,         ///< connecting to ourselves
  duplicate_id = 13,         ///< another live peer uses the same id
  unsupported_version = 14,  ///< the remote speaks a protocol version we do not
  invalid_argument = 15,     ///< misuse of the API or bad options
  unknown_peer = 16,         ///< no connection to that peer id
  not_running = 17,          ///< the peer was not started or was already stopped
  overloaded = 18,           ///< the remote peer refused: we are not reading its replies
  duplicate_name = 19,       ///< the broker refused our name: another live peer holds it
  auth_failed = 20,          ///< the CURVE handshake failed: wrong server key, our key not
                             ///< trusted, or one side plaintext; the message names the
                             ///< endpoint and the reason
  not_allowed = 21,          ///< CURVE mesh: our key may not do this (an id or name another
                             ///< key holds, or one the broker's ACL does not grant us)
};

/// Category "zmesh" for errc.
const std::error_category& error_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
std::error_condition make_error_condition(errc e) noexcept;

/// Why a frame set was refused by the decoder. Each is equivalent to errc::malformed,
/// errc::too_large or (unsupported_version) errc::unsupported_version.
enum class DecodeError {
  missing_frames = 1,      ///< fewer frames than the socket pairing's layout
  extra_frames,            ///< more frames than the layout
  header_too_large,        ///< header frame over Limits::max_header_bytes
  payload_too_large,       ///< payload frame over Limits::max_payload_bytes
  topic_too_large,         ///< topic frame over Limits::max_topic_bytes
  identity_too_large,      ///< ROUTER identity frame over Limits::max_identity_bytes
  empty_identity,          ///< ROUTER identity frame of zero bytes
  bad_identifier,          ///< header frame lacks the "ZMH1" file identifier
  header_malformed,        ///< the FlatBuffers verifier refused the header
  unsupported_version,     ///< header version is 0 or newer than we speak
  unknown_kind,            ///< header kind is not one we know
  empty_type,              ///< a Request/Message/Publish without a message type
  type_too_long,           ///< message type over Limits::max_type_bytes
  missing_sender,          ///< sender_id is 0
  missing_correlation_id,  ///< correlation_id is 0 where the kind needs one
  missing_sequence,        ///< a Publish with sequence 0
  missing_session,         ///< a Hello/Publish with sender_session 0
  payload_malformed,       ///< a control payload refused by the verifier
  bad_value,               ///< a control payload field out of its range
};

/// Category "zmesh.decode" for DecodeError.
const std::error_category& decode_category() noexcept;
std::error_code make_error_code(DecodeError e) noexcept;

/// The one exception type of zmesh.
class Error : public std::system_error {
 public:
  Error(errc code, std::string what)
      : std::system_error(make_error_code(code)), what_(std::move(what)) {}
  Error(std::error_code code, std::string what) : std::system_error(code), what_(std::move(what)) {}
  /// The errc this error belongs to (decode errors map to malformed/too_large).
  [[nodiscard]] errc kind() const noexcept;
  /// The message alone ("peer 'pricing' gone: silent for 3000 ms"); code().message()
  /// names the kind.
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

}  // namespace zmesh

template <>
struct std::is_error_code_enum<zmesh::errc> : std::true_type {};
template <>
struct std::is_error_code_enum<zmesh::DecodeError> : std::true_type {};
