#include "readiness.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace zmesh::detail {

Readiness::Readiness() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

Readiness::~Readiness() {
  clear();
  close(epoll_fd_);
}

void Readiness::add(void* handle, int zmq_fd) {
  const int own = fcntl(zmq_fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) throw std::system_error(errno, std::generic_category(), "dup of ZMQ_FD");
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = handle;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, own, &ev) != 0) {
    const int err = errno;
    close(own);
    throw std::system_error(err, std::generic_category(), "epoll_ctl");
  }
  entries_[handle] = Entry{zmq_fd, own, generation_, true};
  fresh_ = true;
}

void Readiness::drop(Entry& e) noexcept {
  if (e.own_fd < 0) return;
  (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, e.own_fd, nullptr);
  close(e.own_fd);
  e.own_fd = -1;
}

void Readiness::keep(zmq::socket_ref socket) {
  void* const handle = socket.handle();
  const int fd = socket.get(zmq::sockopt::fd);
  auto it = entries_.find(handle);
  if (it != entries_.end()) {
    if (it->second.zmq_fd == fd) {
      it->second.generation = generation_;
      return;
    }
    // A new socket at the address of one that closed.
    drop(it->second);
    entries_.erase(it);
  }
  add(handle, fd);
}

void Readiness::end_sync() noexcept {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.generation == generation_) {
      ++it;
      continue;
    }
    drop(it->second);
    it = entries_.erase(it);
  }
}

void Readiness::clear() noexcept {
  for (auto& [handle, e] : entries_) drop(e);
  entries_.clear();
}

void Readiness::touch(zmq::socket_ref socket) noexcept {
  auto it = entries_.find(socket.handle());
  // Not registered yet: it is new, and new sockets start hot.
  if (it == entries_.end() || it->second.hot) return;
  it->second.hot = true;
  fresh_ = true;
}

void Readiness::touch_all() noexcept {
  for (auto& [handle, e] : entries_) e.hot = true;
  fresh_ = true;
}

bool Readiness::hot(zmq::socket_ref socket) const noexcept {
  auto it = entries_.find(socket.handle());
  return it == entries_.end() || it->second.hot;
}

void Readiness::cool(zmq::socket_ref socket) noexcept {
  auto it = entries_.find(socket.handle());
  if (it != entries_.end()) it->second.hot = false;
}

void Readiness::wait(std::chrono::milliseconds timeout) {
  fresh_ = false;
  const int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                           static_cast<int>(timeout.count()));
  for (int i = 0; i < n; ++i) {
    auto it = entries_.find(events_[static_cast<std::size_t>(i)].data.ptr);
    if (it != entries_.end()) it->second.hot = true;
  }
  // More than fit in one call: the rest are reported by the next wait (edge-triggered
  // events stay queued until reported).
  if (n == static_cast<int>(events_.size())) fresh_ = true;
}

}  // namespace zmesh::detail
