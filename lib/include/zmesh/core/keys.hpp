// zmesh/core/keys.hpp — CURVE certificates: a key pair (Z85 text) and metadata, kept in
// two files in CZMQ's zcert layout (ZPL text): PATH holds the public key and may be
// shared; PATH_secret holds both keys, mode 0600, and is refused when others can read it
// (as ssh refuses an unprotected private key). docs/security.md shows the layout.
// Thread-safe; blocking file I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

struct Certificate {
  std::string public_key;                       ///< Z85, 40 characters
  std::string secret_key;                       ///< Z85, 40 characters; "" in a public certificate
  std::map<std::string, std::string> metadata;  ///< e.g. {"name", "pricing"}
};

/// True when this libzmq was built with CURVE (zmq_has("curve")).
[[nodiscard]] bool curve_available() noexcept;

/// True when `key` is 40 characters of Z85 that decode to 32 bytes.
[[nodiscard]] bool is_z85_key(std::string_view key) noexcept;

/// A new key pair, with metadata name = `name`. Throws Error(invalid_argument) when this
/// libzmq has no CURVE.
[[nodiscard]] Certificate generate_certificate(const std::string& name);

/// Writes `path` (the public certificate, mode 0644) and `path + "_secret"` (both keys,
/// mode 0600). Refuses to overwrite either file. Throws Error(invalid_argument) naming
/// the file and the reason.
void save_certificate(const Certificate& cert, const std::string& path);

/// Reads a public or a secret certificate. A file holding a secret key must not be
/// readable or writable by group or others. Checks that the keys are Z85 and that a
/// secret key belongs to the public key beside it. Throws Error(invalid_argument)
/// naming the file and the reason.
[[nodiscard]] Certificate load_certificate(const std::string& path);

/// The public certificates in `dir` (every regular file that is one; secret files and
/// others are skipped, their names and reasons in `skipped` if given), sorted by file
/// name. Throws Error(invalid_argument) when `dir` cannot be read.
[[nodiscard]] std::vector<Certificate> load_trusted_certificates(
    const std::string& dir, std::vector<std::string>* skipped = nullptr);

}  // namespace zmesh
