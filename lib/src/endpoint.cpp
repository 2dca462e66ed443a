#include "zmesh/core/endpoint.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

constexpr const char* kForms = "tcp://host:port, ipc://path or inproc://name";

[[noreturn]] void bad(const std::string& why) {
  throw Error(errc::invalid_argument, why);
}

bool is_wildcard_port(std::string_view port) {
  return port == "*" || port == "0";
}

void check_port(std::string_view port, EndpointUse use) {
  if (port.empty()) bad("missing port (tcp://host:port)");
  if (is_wildcard_port(port)) {
    if (use == EndpointUse::connect) {
      bad("port '" + std::string(port) + "' is only valid for bind, not connect");
    }
    return;
  }
  unsigned long value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  // from_chars takes no sign or space, so "+80", "-1" and " 80" are refused here too.
  if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
    bad("bad port '" + std::string(port) + "' (1..65535)");
  }
}

// tcp://[SOURCE;]HOST:PORT; the source address is ZeroMQ's and only its remote half is ours.
void parse_tcp(Endpoint& e, EndpointUse use) {
  std::string_view rest = e.address;
  if (const auto semi = rest.rfind(';'); semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
  }
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) bad("unclosed '[' in host (tcp://[::1]:port)");
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (rest.empty() || rest.front() != ':') bad("missing port (tcp://host:port)");
    port = rest.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) bad("missing port (tcp://host:port)");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      bad("an IPv6 address goes in brackets (tcp://[::1]:port)");
    }
  }
  if (host.empty()) bad("missing host (tcp://host:port)");
  if (host == "*" && use == EndpointUse::connect) {
    bad("host '*' is only valid for bind, not connect");
  }
  check_port(port, use);
  e.host = host;
  e.port = port;
}

}  // namespace

Endpoint parse_endpoint(std::string_view text, EndpointUse use) {
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    bad(std::string("not an endpoint (") + kForms + ")");
  }
  Endpoint e;
  e.transport = text.substr(0, sep);
  e.address = text.substr(sep + 3);
  if (e.transport == "tcp") {
    parse_tcp(e, use);
  } else if (e.transport == "ipc" || e.transport == "inproc") {
    if (e.address.empty())
      bad("missing " + std::string(e.transport == "ipc" ? "path" : "name") + " after '" +
          e.transport + "://'");
  } else {
    bad("unsupported transport '" + e.transport + "' (" + kForms + ")");
  }
  return e;
}

Endpoint check_endpoint(std::string_view text, EndpointUse use) {
  Endpoint e = parse_endpoint(text, use);
  if (e.transport != "tcp" || use != EndpointUse::connect) return e;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &found);
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
  if (rc == 0) return e;
  if (rc == EAI_AGAIN) {
    throw Error(errc::peer_unreachable,
                "cannot resolve host '" + e.host + "' now: " + gai_strerror(rc));
  }
  if (rc == EAI_NONAME || rc == EAI_FAIL
#ifdef EAI_NODATA
      || rc == EAI_NODATA
#endif
  ) {
    bad("cannot resolve host '" + e.host + "'");
  }
  bad("cannot resolve host '" + e.host + "': " + gai_strerror(rc));
}

std::vector<std::string> split_endpoint_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = std::min(text.find(',', start), text.size());
    std::string item(text.substr(start, comma - start));
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
    start = comma + 1;
  }
  return out;
}

}  // namespace zmesh
