// A hostile subscriber for tests: a plain TCP socket that speaks just enough ZMTP 3.0
// (RFC 23: greeting, NULL mechanism, READY as a SUB) to hand an XPUB any subscription
// messages at all, of any size and number.
//
// Why not a libzmq XSUB/SUB: they keep their own copy of every subscription they send
// (libzmq's trie, about a hundred bytes per topic byte), so the attacker's process
// would bloat as much as the victim's, and flooding would measure the test, not zmesh.
//
// Every call is bounded in time; failures (the victim dropped us, a timeout) are
// reported as false, never thrown. One thread at a time.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace zmesh::test {

class ZmtpSubscriber {
 public:
  ZmtpSubscriber() = default;
  ~ZmtpSubscriber() { close(); }
  ZmtpSubscriber(const ZmtpSubscriber&) = delete;
  ZmtpSubscriber& operator=(const ZmtpSubscriber&) = delete;

  /// Connects to "tcp://127.0.0.1:PORT" and completes the handshake (our greeting and
  /// READY out, the XPUB's greeting and READY in), within `timeout`.
  bool connect(const std::string& endpoint,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto colon = endpoint.rfind(':');
    if (colon == std::string::npos) return false;
    const int port = std::stoi(endpoint.substr(colon + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Greeting: signature, version 3.0, mechanism "NULL", as-server 0, filler.
    std::string greeting(64, '\0');
    greeting[0] = '\xff';
    greeting[9] = '\x7f';
    greeting[10] = 3;
    greeting[11] = 0;
    greeting.replace(12, 4, "NULL");
    if (!write_all(greeting, deadline)) return false;
    std::string theirs;
    if (!read_exact(theirs, 64, deadline) || static_cast<unsigned char>(theirs[0]) != 0xff)
      return false;
    // READY with Socket-Type=SUB, as a short command frame.
    std::string ready("\x05READY", 6);
    ready += '\x0b';
    ready += "Socket-Type";
    ready += std::string("\0\0\0\x03", 4);
    ready += "SUB";
    std::string frame;
    frame += '\x04';
    frame += static_cast<char>(ready.size());
    frame += ready;
    if (!write_all(frame, deadline)) return false;
    // Their READY (a command frame; its properties do not matter here).
    std::string head;
    if (!read_exact(head, 2, deadline) || (head[0] & 0x04) == 0) return false;
    std::size_t size = static_cast<unsigned char>(head[1]);
    if ((head[0] & 0x02) != 0) return false;  // a long READY: not what libzmq sends
    std::string body;
    return read_exact(body, size, deadline);
  }

  /// Appends one single-frame message to the outgoing buffer (sent by flush()).
  void queue(std::string_view message) {
    if (message.size() <= 255) {
      out_ += '\x00';
      out_ += static_cast<char>(message.size());
    } else {
      out_ += '\x02';
      for (int shift = 56; shift >= 0; shift -= 8)
        out_ += static_cast<char>((static_cast<std::uint64_t>(message.size()) >> shift) & 0xff);
    }
    out_ += message;
  }
  /// A subscription (1 + topic) / an unsubscription (0 + topic), queued.
  void queue_subscribe(std::string_view topic) { queue(std::string(1, '\x01') += topic); }
  void queue_unsubscribe(std::string_view topic) { queue(std::string(1, '\x00') += topic); }

  /// Writes everything queued; false when the peer dropped us or `timeout` passed.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const bool ok = write_all(out_, std::chrono::steady_clock::now() + timeout);
    out_.clear();
    return ok;
  }
  /// Bytes waiting in the outgoing buffer.
  [[nodiscard]] std::size_t queued_bytes() const noexcept { return out_.size(); }

  /// Reads and drops whatever the XPUB sent (Syncs for our markers); false once it
  /// closed the connection. Waits at most `timeout` for something to arrive.
  bool drain(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool write_all(std::string_view bytes, std::chrono::steady_clock::time_point deadline) {
    while (!bytes.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (fd_ < 0 || left.count() <= 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  bool read_exact(std::string& into, std::size_t n,
                  std::chrono::steady_clock::time_point deadline) {
    into.clear();
    char buf[512];
    while (into.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const std::size_t want = std::min(sizeof buf, n - into.size());
      const ssize_t got = ::recv(fd_, buf, want, 0);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        return false;
      }
      into.append(buf, static_cast<std::size_t>(got));
    }
    return true;
  }

  int fd_ = -1;
  std::string out_;
};

}  // namespace zmesh::test
