#include "subscriber_links.hpp"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace zmesh::detail {
namespace {

std::string address_text(const sockaddr_storage& a) {
  std::array<char, INET6_ADDRSTRLEN> host{};
  if (a.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &a, sizeof v4);
    if (inet_ntop(AF_INET, &v4.sin_addr, host.data(), host.size()) == nullptr) return {};
    return std::string(host.data()) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &a, sizeof v6);
    if (inet_ntop(AF_INET6, &v6.sin6_addr, host.data(), host.size()) == nullptr) return {};
    // Appended, not `"[" + std::string(...)`: GCC 12 at -O3 sees a false -Wrestrict there.
    std::string text = "[";
    text.append(host.data()).append("]:").append(std::to_string(ntohs(v6.sin6_port)));
    return text;
  }
  return {};
}

}  // namespace

std::string SubscriberLinks::addresses_of(int fd) {
  sockaddr_storage local{};
  sockaddr_storage peer{};
  socklen_t n = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &n) != 0) return {};
  n = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &n) != 0) return {};
  const std::string l = address_text(local);
  const std::string p = address_text(peer);
  return l.empty() || p.empty() ? std::string() : l + ">" + p;
}

void SubscriberLinks::accepted(int fd) {
  std::string a = addresses_of(fd);
  if (!a.empty()) links_[fd] = std::move(a);
}

std::size_t SubscriberLinks::cut_stuck(std::string& who) {
  std::size_t cut = 0;
  for (auto it = links_.begin(); it != links_.end();) {
    const int fd = it->first;
    if (addresses_of(fd) != it->second) {  // gone, or the number now names another socket
      it = links_.erase(it);
      continue;
    }
    int unsent = 0;
    if (ioctl(fd, SIOCOUTQ, &unsent) != 0 || unsent <= 0) {
      ++it;
      continue;
    }
    (void)shutdown(fd, SHUT_RDWR);
    if (!who.empty()) who += ", ";
    who += it->second.substr(it->second.find('>') + 1) + " (" + std::to_string(unsent) +
           " bytes unsent)";
    ++cut;
    it = links_.erase(it);
  }
  return cut;
}

}  // namespace zmesh::detail
