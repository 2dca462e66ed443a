#include "subscriber_links.hpp"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
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

void SubscriberLinks::accepted(int fd, Clock::time_point now) {
  std::string a = addresses_of(fd);
  if (!a.empty()) links_[fd] = Link{std::move(a), 0, now};
}

void SubscriberLinks::all_progress(Clock::time_point now) noexcept {
  for (auto& [fd, link] : links_) link.progress = now;
}

std::size_t SubscriberLinks::cut_stuck(Clock::time_point now, Clock::duration bound,
                                       std::string& who) {
  std::size_t cut = 0;
  for (auto it = links_.begin(); it != links_.end();) {
    const int fd = it->first;
    Link& link = it->second;
    int unsent = 0;
    tcp_info info{};
    socklen_t len = sizeof info;
    const bool looked = ioctl(fd, SIOCOUTQ, &unsent) == 0 &&
                        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0;
    if (!looked || unsent <= 0 || info.tcpi_bytes_acked != link.acked) {
      // It reads (or the descriptor is no longer a socket: checked before any cut).
      link.acked = info.tcpi_bytes_acked;
      link.progress = now;
      ++it;
      continue;
    }
    if (now - link.progress < bound) {
      ++it;
      continue;
    }
    if (addresses_of(fd) != link.addresses) {  // gone, or the number now names another socket
      it = links_.erase(it);
      continue;
    }
    (void)shutdown(fd, SHUT_RDWR);
    if (!who.empty()) who += ", ";
    who += link.addresses.substr(link.addresses.find('>') + 1) + " (" + std::to_string(unsent) +
           " bytes unsent)";
    ++cut;
    it = links_.erase(it);
  }
  return cut;
}

}  // namespace zmesh::detail
