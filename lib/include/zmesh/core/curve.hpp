// zmesh/core/curve.hpp — what a socket owner needs to speak CURVE (ZeroMQ's encryption and
// authentication, rfc.zeromq.org/spec:26): its own key pair, which client keys it trusts
// as a server, and the rule that binds a peer id to its public key. docs/security.md
// describes the model. Values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

struct CurveOptions {
  /// Our key pair, Z85 (40 characters each). Both "" = plaintext (the default). Setting
  /// only the secret key is enough: the public key is derived from it.
  std::string public_key{};
  std::string secret_key{};
  /// Public keys (Z85) of the clients our servers accept, in addition to trust_dir.
  std::vector<std::string> trusted_keys{};
  /// A directory of public certificates (zmesh keygen's NAME.key files) whose keys our
  /// servers accept; read at start and on reload. "" = none.
  std::string trust_dir{};
  /// Accept every client key: encryption without authentication. Off by default; with it
  /// off, trusted_keys or trust_dir must be given.
  bool trust_any = false;

  /// True when CURVE is on (a secret key is set).
  [[nodiscard]] bool enabled() const noexcept { return !secret_key.empty(); }
  /// Checks the keys (Z85, the pair matches, trusted keys are keys) and that this libzmq
  /// has CURVE. Derives public_key when only the secret key is set. Throws
  /// Error(invalid_argument) naming `who` ("PeerOptions::curve") and the first fault.
  void validate(std::string_view who);
};

/// Our keys from a secret certificate file (zmesh keygen's NAME.key_secret); the file's
/// permissions are checked (keys.hpp). Throws Error(invalid_argument).
[[nodiscard]] CurveOptions curve_keys_from_file(const std::string& secret_certificate);

/// A public key from text: the path of a certificate file holding one (tried first: a
/// 40-character path can be valid Z85 too), or 40 characters of Z85. Throws
/// Error(invalid_argument) naming `what` ("--broker-key").
[[nodiscard]] std::string public_key_from(const std::string& key_or_file, std::string_view what);

/// The public key of a Z85 secret key; "" when `secret` is not one.
[[nodiscard]] std::string public_key_of(std::string_view secret);

/// The peer id bound to a public key: its first 8 bytes, little-endian (curve25519 public
/// keys are uniformly distributed). 0 when `public_key` is not a Z85 key or its first 8
/// bytes are zero (such a key cannot be a peer's).
[[nodiscard]] std::uint64_t peer_id_for_key(std::string_view public_key) noexcept;

/// A key shortened for logs and errors: its first 8 characters and "…".
[[nodiscard]] std::string short_key(std::string_view key);

}  // namespace zmesh
