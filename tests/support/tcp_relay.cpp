#include "tcp_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace zmesh::test {
namespace {

constexpr int kPollMs = 20;

int port_of(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  return colon == std::string::npos ? 0 : std::stoi(endpoint.substr(colon + 1));
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpRelay::TcpRelay() {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) throw std::runtime_error("relay: socket failed");
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listener_);
    throw std::runtime_error("relay: cannot listen on 127.0.0.1");
  }
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  thread_ = std::thread([this] { run(); });
}

TcpRelay::~TcpRelay() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  ::close(listener_);
}

void TcpRelay::set_target(const std::string& endpoint) {
  target_port_.store(port_of(endpoint));
}

std::string TcpRelay::captured() const {
  std::lock_guard lock(mu_);
  return captured_;
}

bool TcpRelay::saw(const std::string& needle) const {
  std::lock_guard lock(mu_);
  return captured_.find(needle) != std::string::npos;
}

void TcpRelay::run() {
  struct Pair {
    int a = -1;  // accepted
    int b = -1;  // to the target
  };
  std::vector<Pair> pairs;
  std::vector<char> buf(std::size_t{64} * 1024);
  while (!stop_.load()) {
    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    for (const auto& p : pairs) {
      fds.push_back({p.a, POLLIN, 0});
      fds.push_back({p.b, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), kPollMs) <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      const int a = ::accept(listener_, nullptr, nullptr);
      if (a >= 0) {
        const int b = connect_to(target_port_.load());
        if (b < 0) {
          ::close(a);
        } else {
          pairs.push_back({a, b});
        }
      }
    }
    // Copy what is readable; a pair whose either side closed is closed whole.
    std::vector<bool> dead(pairs.size(), false);
    for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
      const std::size_t pair = i / 2;
      if (pair >= pairs.size() || dead[pair] || fds[i + 1].revents == 0) continue;
      const bool from_a = i % 2 == 0;
      const int from = from_a ? pairs[pair].a : pairs[pair].b;
      const int to = from_a ? pairs[pair].b : pairs[pair].a;
      const ssize_t n = ::read(from, buf.data(), buf.size());
      if (n <= 0) {
        dead[pair] = true;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        captured_.append(buf.data(), static_cast<std::size_t>(n));
      }
      ssize_t off = 0;
      while (off < n) {
        const ssize_t w = ::write(to, buf.data() + off, static_cast<std::size_t>(n - off));
        if (w <= 0) {
          if (w < 0 && errno == EINTR) continue;
          dead[pair] = true;
          break;
        }
        off += w;
      }
    }
    for (std::size_t i = pairs.size(); i-- > 0;) {
      if (!dead[i]) continue;
      ::close(pairs[i].a);
      ::close(pairs[i].b);
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  for (const auto& p : pairs) {
    ::close(p.a);
    ::close(p.b);
  }
}

}  // namespace zmesh::test
