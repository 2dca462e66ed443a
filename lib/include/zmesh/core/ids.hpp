// zmesh/core/ids.hpp — random nonzero 64-bit ids (peer ids, sessions, nonces, epochs) and
// their text form (16 lowercase hex digits). Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

/// A random nonzero 64-bit value from a per-thread generator seeded by std::random_device.
[[nodiscard]] std::uint64_t random_id();
/// 16 lowercase hex digits.
[[nodiscard]] std::string id_to_hex(std::uint64_t id);
/// Parses 1..16 hex digits; nullopt on anything else or zero.
[[nodiscard]] std::optional<std::uint64_t> id_from_hex(std::string_view text);

}  // namespace zmesh
