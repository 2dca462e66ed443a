// SubscriberLinks — the TCP connections of our PUB's subscribers, by file descriptor
// (from the XPUB's monitor: accepted, disconnected), and the cut of the stuck ones.
// Engine thread only (owned by Broadcasts).
//
// libzmq cannot drop one subscriber of an XPUB. A subscriber that reads nothing stops
// reading its TCP connection once its own queue is full, so our kernel send queue to it
// fills and stays full (SIOCOUTQ > 0) and its peer acknowledges no more bytes
// (TCP_INFO's bytes_acked stands still), while a subscriber that reads, however slowly,
// keeps acknowledging. cut_stuck() shuts down, with shutdown(2), the connections that
// had bytes unsent and acknowledged none for the whole bound: libzmq's I/O thread then
// sees the connection end, closes it and drops that subscriber's queue. The descriptor stays
// libzmq's: we never close it. Before a cut the descriptor is checked to still be the connection we
// were told of (same peer and local address), so a descriptor number reused meanwhile is left
// alone.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace zmesh::detail {

class SubscriberLinks {
 public:
  using Clock = std::chrono::steady_clock;

  /// A connection our XPUB accepted (ZMQ_EVENT_ACCEPTED's descriptor).
  void accepted(int fd, Clock::time_point now = Clock::now());
  /// It ended (ZMQ_EVENT_DISCONNECTED).
  void disconnected(int fd) { links_.erase(fd); }
  void clear() noexcept { links_.clear(); }
  [[nodiscard]] std::size_t size() const noexcept { return links_.size(); }
  /// Nothing waits for any subscriber: each counts as making progress now.
  void all_progress(Clock::time_point now) noexcept;
  /// Looks at each connection: one with nothing unsent, or whose peer acknowledged bytes
  /// since the last look, made progress now. Shuts down those that made none for
  /// `bound`; returns how many, and names them ("127.0.0.1:40112 (3145728 bytes
  /// unsent)") in `who`.
  std::size_t cut_stuck(Clock::time_point now, Clock::duration bound, std::string& who);

 private:
  struct Link {
    std::string addresses;       // "local>peer" when accepted
    std::uint64_t acked = 0;     // TCP_INFO bytes_acked at the last look
    Clock::time_point progress;  // when it last took bytes (or had none to take)
  };
  /// "local>peer" of a connected TCP socket; "" when it is not one.
  static std::string addresses_of(int fd);

  std::unordered_map<int, Link> links_;  // by descriptor
};

}  // namespace zmesh::detail
