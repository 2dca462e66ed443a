// zmesh/core/endpoint.hpp — checks a ZeroMQ endpoint string before it reaches a socket,
// so that a typo fails at once with a clear reason ("bad port '99999' (1..65535)",
// "cannot resolve host 'nohost.invalid'") instead of as a greeting that never comes.
//
// Understood: tcp://HOST:PORT (HOST a name, an IPv4 address or [IPv6]; ZeroMQ's
// "tcp://SOURCE;HOST:PORT" checks the part after ';'), ipc://PATH and inproc://NAME.
// Wildcards (HOST "*", PORT "*" or 0) are valid only for binding.
// Thread-safe. check_endpoint() may block in the system resolver: call it on the caller's
// thread, never on an engine thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

/// What the endpoint is for: bind accepts wildcards, connect needs a real host and port.
enum class EndpointUse { bind, connect };

/// An endpoint taken apart.
struct Endpoint {
  std::string transport;  ///< "tcp", "ipc" or "inproc"
  std::string host;       ///< tcp: name, address (IPv6 without brackets) or "*"; else ""
  std::string port;       ///< tcp: "1".."65535" (bind: also "*" or "0"); else ""
  std::string address;    ///< everything after "://"
};

/// Takes `text` apart and checks its form: transport, non-empty address, for tcp a host
/// and a port in 1..65535. No name lookup. Throws zmesh::Error(invalid_argument) whose
/// message is the reason alone ("bad port '99999' (1..65535)"); callers add the context.
[[nodiscard]] Endpoint parse_endpoint(std::string_view text, EndpointUse use);

/// parse_endpoint(), then for a tcp endpoint to connect to, resolves its host with
/// getaddrinfo (blocking). Throws Error(invalid_argument) "cannot resolve host 'x'" when
/// the name does not exist, Error(peer_unreachable) when the resolver fails for now
/// (EAI_AGAIN: no DNS server answered).
Endpoint check_endpoint(std::string_view text, EndpointUse use);

/// Splits a comma-separated list of endpoints ("tcp://a:1,tcp://b:2"), trimming blanks
/// around each item; empty items are dropped. No check.
[[nodiscard]] std::vector<std::string> split_endpoint_list(std::string_view text);

}  // namespace zmesh
