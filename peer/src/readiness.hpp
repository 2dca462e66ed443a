// Readiness — which of the engine's sockets have work, so that the engine wakes for and
// looks at those only. (zmq::poll over every socket made each look at an idle socket cost
// a getpid and a poll in libzmq 4.3; Debian's libzmq has no zmq_poller.) Engine thread only.
//
// How. Each socket's ZMQ_FD (libzmq's mailbox eventfd) is dup()ed and the copy registered
// in epoll, edge-triggered. ZMQ_FD only says that the socket's state may have changed, and
// any operation on the socket can consume that signal (a send may take in the command
// that made it readable). So a socket is *hot* (to be read in the next round) when its
// descriptor signalled, when it is new, when the engine sent on it (touch()), or when its
// last read stopped before EAGAIN; it cools only when a read ended with EAGAIN, and it
// signals again when something new arrives after that.
//
// Sockets come and go inside the components: every round the engine lists the current
// ones (begin_sync / keep / end_sync). New ones are registered, vanished ones removed.
// The registration is of our own dup of the descriptor, so it never shares a descriptor
// number with libzmq's reaper thread, which closes the original when the socket dies.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <unordered_map>

#include <zmq.hpp>

namespace zmesh::detail {

class Readiness {
 public:
  Readiness();
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  /// The engine's sockets this round: begin_sync(), keep() each, end_sync().
  void begin_sync() noexcept { ++generation_; }
  void keep(zmq::socket_ref socket);
  void end_sync() noexcept;
  /// Forgets every socket (before they close).
  void clear() noexcept;

  /// The engine sent on (or connected, subscribed with) this socket: look at it again.
  void touch(zmq::socket_ref socket) noexcept;
  /// Every socket is looked at in the next round (a safety net on the timer tick).
  void touch_all() noexcept;
  [[nodiscard]] bool hot(zmq::socket_ref socket) const noexcept;
  /// Its last read ended with EAGAIN: it signals when something new arrives.
  void cool(zmq::socket_ref socket) noexcept;
  /// True if a socket turned hot since the last wait() otherwise than by a signal.
  [[nodiscard]] bool fresh() const noexcept { return fresh_; }

  /// Waits up to `timeout` (0 = just look) for sockets to signal; they turn hot.
  void wait(std::chrono::milliseconds timeout);

 private:
  struct Entry {
    int zmq_fd = -1;  // libzmq's descriptor (tells a new socket at a reused address)
    int own_fd = -1;  // our dup of it, registered in epoll
    std::uint64_t generation = 0;
    bool hot = true;
  };
  void add(void* handle, int zmq_fd);
  void drop(Entry& e) noexcept;

  int epoll_fd_ = -1;
  std::uint64_t generation_ = 0;
  bool fresh_ = false;
  std::unordered_map<void*, Entry> entries_;
  std::array<epoll_event, 64> events_{};
};

}  // namespace zmesh::detail
