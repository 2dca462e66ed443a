#include "registration_rules.hpp"

#include <algorithm>

#include "zmesh/core/errors.hpp"

namespace zmesh::detail {
namespace {

/// Bytes of name, endpoints and services: what one registration adds to every listing.
std::size_t peer_bytes(const PeerInfo& p) {
  std::size_t n = p.name.size();
  for (const auto* list : {&p.endpoints, &p.pub_endpoints, &p.services}) {
    for (const auto& s : *list) n += s.size();
  }
  return n;
}

}  // namespace

std::optional<Refusal> check_register(const Result<Register>& reg, const Header& header,
                                      const BrokerOptions& options) {
  if (!reg) {
    // A payload that fails to decode is Malformed; one that decodes but whose values
    // are refused (bad_value) is BadRequest.
    if (reg.error() == make_error_code(DecodeError::bad_value)) {
      return Refusal{WireError::bad_request,
                     "bad Register: " + reg.error().message() +
                         " (a PeerInfo needs a nonzero id and session, a 1..128-byte name, and "
                         "at most " +
                         std::to_string(options.limits.max_list_items) + " items of 1.." +
                         std::to_string(options.limits.max_string_bytes) +
                         " bytes in each of endpoints, pub_endpoints, services)"};
    }
    return Refusal{WireError::malformed, "bad Register: " + reg.error().message()};
  }
  const PeerInfo& info = reg->peer;
  if (info.id != header.sender_id || info.session != header.sender_session) {
    return Refusal{WireError::bad_request, "Register peer id/session differ from its header"};
  }
  // What one registration may make every listing and every Event carry.
  if (info.services.size() > options.max_services) {
    return Refusal{WireError::bad_request,
                   "Register offers " + std::to_string(info.services.size()) +
                       " services: this broker accepts at most " +
                       std::to_string(options.max_services) + " per peer (max-services)"};
  }
  if (const std::size_t bytes = peer_bytes(info); bytes > options.max_peer_bytes) {
    return Refusal{WireError::bad_request,
                   "Register's PeerInfo holds " + std::to_string(bytes) +
                       " bytes of name, endpoints and services: this broker accepts at most " +
                       std::to_string(options.max_peer_bytes) + " (max-peer-bytes)"};
  }
  return std::nullopt;
}

std::chrono::milliseconds granted_ttl(std::uint32_t requested_ms, const BrokerOptions& options) {
  std::chrono::milliseconds ttl = options.ttl;
  if (requested_ms != 0) ttl = std::min(ttl, std::chrono::milliseconds(requested_ms));
  return std::max(ttl, 2 * options.renew_interval);
}

}  // namespace zmesh::detail
