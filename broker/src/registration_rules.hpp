// The rules a Register must pass before the registry is consulted (protocol.md 5.7,
// "Register refusals", up to the size limits), and the TTL a registration is granted.
// Pure: no socket, no registry, no clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "zmesh/broker/broker.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/header.hpp"
#include "zmesh/core/result.hpp"

namespace zmesh::detail {

struct Refusal {
  WireError code = WireError::none;
  std::string reason;
};

/// Why `reg` (as decoded, under `header`) is refused before the registry is asked:
/// Malformed when it did not decode, BadRequest for a bad value, a PeerInfo that is not
/// the header's, or more services or bytes than `options` take. nullopt: it passes.
[[nodiscard]] std::optional<Refusal> check_register(const Result<Register>& reg,
                                                    const Header& header,
                                                    const BrokerOptions& options);

/// max(min(requested, B), 2 R): requested 0 = B, the broker's TTL (protocol.md 5.7).
[[nodiscard]] std::chrono::milliseconds granted_ttl(std::uint32_t requested_ms,
                                                    const BrokerOptions& options);

}  // namespace zmesh::detail
