// SubscriberLinks — the TCP connections of our PUB's subscribers, by file descriptor
// (from the XPUB's monitor: accepted, disconnected), and the cut of the stuck ones.
// Engine thread only (owned by Broadcasts).
//
// libzmq cannot drop one subscriber of an XPUB. A subscriber that reads nothing stops
// reading its TCP connection once its own queue is full, so our kernel send queue to it
// fills and stays full (SIOCOUTQ > 0), while a subscriber that keeps reading empties its
// own as soon as we stop sending. cut_stuck() shuts down, with shutdown(2), the
// connections whose send queue is not empty after nothing has gone out for a while:
// libzmq's I/O thread then sees the connection end, closes it and drops that
// subscriber's queue. The descriptor stays libzmq's: we never close it. Before a cut the
// descriptor is checked to still be the connection we were told of (same peer and local
// address), so a descriptor number reused meanwhile is left alone.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace zmesh::detail {

class SubscriberLinks {
 public:
  /// A connection our XPUB accepted (ZMQ_EVENT_ACCEPTED's descriptor).
  void accepted(int fd);
  /// It ended (ZMQ_EVENT_DISCONNECTED).
  void disconnected(int fd) { links_.erase(fd); }
  void clear() noexcept { links_.clear(); }
  [[nodiscard]] std::size_t size() const noexcept { return links_.size(); }
  /// Shuts down every connection with unsent bytes; returns how many, and names them
  /// ("127.0.0.1:40112 (3,145,728 bytes unsent)") in `who`.
  std::size_t cut_stuck(std::string& who);

 private:
  /// "local>peer" of a connected TCP socket; "" when it is not one.
  static std::string addresses_of(int fd);

  std::unordered_map<int, std::string> links_;  // fd -> its addresses when accepted
};

}  // namespace zmesh::detail
