#include "zmesh/core/curve.hpp"

#include <sys/stat.h>
#include <zmq.h>

#include <array>
#include <cstring>

#include "zmesh/core/errors.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh {
namespace {

constexpr std::size_t kZ85KeyChars = 40;

[[noreturn]] void bad(std::string_view who, const std::string& why) {
  throw Error(errc::invalid_argument, std::string(who) + ": " + why);
}

/// The 32 bytes of a Z85 key; false when it is not one.
bool decode(std::string_view z85, std::array<std::uint8_t, 32>& out) noexcept {
  if (!is_z85_key(z85)) return false;
  std::array<char, kZ85KeyChars + 1> text{};
  std::memcpy(text.data(), z85.data(), kZ85KeyChars);
  return zmq_z85_decode(out.data(), text.data()) != nullptr;
}

}  // namespace

void CurveOptions::validate(std::string_view who) {
  if (!enabled()) {
    if (!public_key.empty()) bad(who, "a public key without its secret key");
    return;
  }
  if (!curve_available()) {
    bad(who,
        "CURVE is asked for but this libzmq was built without it (zmq_has(\"curve\") is false); "
        "install a libzmq built with libsodium");
  }
  if (!is_z85_key(secret_key)) bad(who, "the secret key is not 40 characters of Z85");
  const std::string derived = public_key_of(secret_key);
  if (public_key.empty()) {
    public_key = derived;
  } else if (public_key != derived) {
    bad(who, "the public key " + short_key(public_key) + " does not belong to the secret key");
  }
  if (peer_id_for_key(public_key) == 0) bad(who, "this key cannot name a peer: generate another");
  for (const auto& k : trusted_keys) {
    if (!is_z85_key(k)) bad(who, "trusted key '" + k + "' is not 40 characters of Z85");
  }
  if (!trust_any && trusted_keys.empty() && trust_dir.empty()) {
    bad(who,
        "CURVE is on but no client is trusted: give a trust directory or trusted keys (or "
        "trust_any for encryption without authentication)");
  }
}

CurveOptions curve_keys_from_file(const std::string& secret_certificate) {
  const Certificate cert = load_certificate(secret_certificate);
  if (cert.secret_key.empty()) {
    throw Error(errc::invalid_argument,
                "certificate '" + secret_certificate +
                    "' holds no secret key (give the NAME.key_secret file)");
  }
  CurveOptions out;
  out.public_key = cert.public_key;
  out.secret_key = cert.secret_key;
  return out;
}

std::string public_key_from(const std::string& key_or_file, std::string_view what) {
  // A file first: a path of 40 characters can be valid Z85 too ("/tmp/zmesh-1234/x/a.key").
  struct stat st {};
  if (::stat(key_or_file.c_str(), &st) == 0) return load_certificate(key_or_file).public_key;
  if (is_z85_key(key_or_file)) return key_or_file;
  bad(what, "'" + key_or_file + "' is neither a certificate file nor a Z85 key (40 characters)");
}

std::string public_key_of(std::string_view secret) {
  if (!is_z85_key(secret)) return {};
  std::array<char, kZ85KeyChars + 1> in{};
  std::memcpy(in.data(), secret.data(), kZ85KeyChars);
  std::array<char, kZ85KeyChars + 1> out{};
  if (zmq_curve_public(out.data(), in.data()) != 0) return {};
  return std::string(out.data(), kZ85KeyChars);
}

std::uint64_t peer_id_for_key(std::string_view public_key) noexcept {
  std::array<std::uint8_t, 32> raw{};
  if (!decode(public_key, raw)) return 0;
  std::uint64_t id = 0;
  for (int i = 7; i >= 0; --i) id = (id << 8) | raw[static_cast<std::size_t>(i)];
  return id;
}

std::string short_key(std::string_view key) {
  if (key.empty()) return "(no key)";
  return std::string(key.substr(0, 8)) + "\u2026";
}

}  // namespace zmesh
