#include "broker_endpoints.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "zmesh/core/endpoint.hpp"
#include "zmesh/core/errors.hpp"

namespace zmesh::detail {
namespace {

bool is_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

/// The addresses `host` resolves to, as endpoint hosts (IPv6 in brackets); empty if
/// the resolver cannot say now.
std::vector<std::string> addresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return {};
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, &freeaddrinfo);
  std::vector<std::string> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) == nullptr) continue;
      out.emplace_back(text);
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) == nullptr) continue;
      out.push_back("[" + std::string(text) + "]");
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> broker_endpoints(const PeerOptions& options) {
  std::vector<std::string> listed = split_endpoint_list(options.broker);
  for (const auto& b : options.brokers) {
    for (auto& item : split_endpoint_list(b)) listed.push_back(std::move(item));
  }
  std::vector<std::string> out;
  auto add = [&](std::string endpoint) {
    if (std::find(out.begin(), out.end(), endpoint) == out.end())
      out.push_back(std::move(endpoint));
  };
  for (const auto& text : listed) {
    Endpoint e;
    try {
      e = parse_endpoint(text, EndpointUse::connect);
    } catch (const Error& err) {
      throw Error(errc::invalid_argument,
                  "invalid peer options: broker '" + text + "': " + err.what());
    }
    if (e.transport != "tcp" || is_address(e.host) || e.address.find(';') != std::string::npos) {
      add(text);
      continue;
    }
    const auto found = addresses(e.host);
    if (found.empty()) {
      add(text);  // ZeroMQ resolves it again at each (re)connect
      continue;
    }
    for (const auto& a : found) add("tcp://" + a + ":" + e.port);
  }
  return out;
}

}  // namespace zmesh::detail
