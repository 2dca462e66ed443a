// HeldBroadcasts — broadcasts our PUB could not send yet because a subscriber of their
// topic had no room (delivery policies block and latest), oldest first. A block
// broadcast waits in line; a latest topic has at most one broadcast held, which the
// topic's next one replaces in place (conflation). Engine thread only (owned by
// Broadcasts). Bounded from outside: block by BroadcastCredit, latest by its byte bound.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include <zmq.hpp>

#include "zmesh/peer/options.hpp"

namespace zmesh::detail {

struct HeldBroadcast {
  HeldBroadcast(zmq::message_t t, std::string_view ty, zmq::message_t p, DeliveryPolicy pol,
                std::size_t rul = 0)
      : topic(std::move(t)),
        type(ty),
        payload(std::move(p)),
        policy(pol),
        rule(rul),
        size(topic.size() + payload.size()) {}
  zmq::message_t topic;
  std::string type;
  zmq::message_t payload;  // emptied when sent
  DeliveryPolicy policy = DeliveryPolicy::block;
  std::size_t rule = 0;  // its rule in the PolicyTable (counted there)
  std::size_t size = 0;  // topic and payload bytes as published
  /// What it counts against its bound: topic and payload bytes (also once sent).
  [[nodiscard]] std::size_t bytes() const noexcept { return size; }
};

class HeldBroadcasts {
 public:
  enum class Latest : std::uint8_t { held, replaced, overflow };

  [[nodiscard]] bool empty() const noexcept { return line_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return line_.size(); }
  [[nodiscard]] std::size_t latest_bytes() const noexcept { return latest_bytes_; }

  /// A block broadcast joins the line (its credit is already taken).
  void hold(HeldBroadcast b) { line_.push_back(std::move(b)); }
  /// A latest broadcast replaces its topic's held one (replaced), or joins the line if
  /// the latest ones held stay within `bound` bytes (held), or is dropped (overflow).
  Latest hold_latest(HeldBroadcast b, std::size_t bound);

  [[nodiscard]] HeldBroadcast& front() noexcept { return line_.front(); }
  void pop_front();

 private:
  std::list<HeldBroadcast> line_;
  // The latest topics held, to their place in line_.
  std::unordered_map<std::string, std::list<HeldBroadcast>::iterator> latest_;
  std::size_t latest_bytes_ = 0;
};

}  // namespace zmesh::detail
