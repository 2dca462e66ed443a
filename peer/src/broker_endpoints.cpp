#include "broker_endpoints.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "zmesh/core/endpoint.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/keys.hpp"

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

/// The broker key of each listed broker: "" without CURVE; one key for all, or one per
/// listed broker.
std::vector<std::string> keys_of(const PeerOptions& options, std::size_t listed) {
  if (!options.curve.enabled() || listed == 0) return std::vector<std::string>(listed);
  std::vector<std::string> keys;
  std::string::size_type start = 0;
  const std::string& text = options.broker_key;
  while (start <= text.size() && !text.empty()) {
    const auto comma = text.find(',', start);
    std::string key = text.substr(start, comma == std::string::npos ? comma : comma - start);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    if (!is_z85_key(key)) {
      throw Error(errc::invalid_argument,
                  "invalid peer options: broker_key '" + key + "' is not 40 characters of Z85");
    }
    keys.push_back(std::move(key));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (keys.empty()) {
    throw Error(errc::invalid_argument,
                "invalid peer options: CURVE is on and a broker is set: broker_key must give the "
                "broker's public key");
  }
  if (keys.size() == 1) return std::vector<std::string>(listed, keys.front());
  if (keys.size() != listed) {
    throw Error(errc::invalid_argument, "invalid peer options: broker_key lists " +
                                            std::to_string(keys.size()) + " keys for " +
                                            std::to_string(listed) + " brokers");
  }
  return keys;
}

std::vector<std::string> broker_endpoints(const PeerOptions& options,
                                          std::vector<std::string>* keys) {
  std::vector<std::string> listed = split_endpoint_list(options.broker);
  for (const auto& b : options.brokers) {
    for (auto& item : split_endpoint_list(b)) listed.push_back(std::move(item));
  }
  const std::vector<std::string> listed_keys = keys_of(options, listed.size());
  std::vector<std::string> out;
  std::vector<std::string> out_keys;
  std::size_t item = 0;
  auto add = [&](std::string endpoint) {
    if (std::find(out.begin(), out.end(), endpoint) == out.end()) {
      out.push_back(std::move(endpoint));
      out_keys.push_back(listed_keys[item]);
    }
  };
  for (; item < listed.size(); ++item) {
    const std::string& text = listed[item];
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
  if (keys != nullptr) *keys = std::move(out_keys);
  return out;
}

}  // namespace zmesh::detail
