// LatestBox — broadcasts for latest subscriptions (SubscribeOptions::latest) waiting for
// their worker: at most one per publisher and topic, the newest (a newer one replaces it
// in place and the replaced one is counted as skipped), oldest topic first per worker.
// The engine reads the network at full speed for them and hands a worker the next one
// only when it has finished the last (latest_in_flight), so a handler always gets the
// newest value there is. Engine thread only (owned by the Dispatcher). Bounded: past
// kMaxTopics topics or max_bytes, put() refuses and the broadcast takes the ordinary way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/header.hpp"

namespace zmesh::detail {

struct LatestBroadcast {
  PeerId publisher = 0;
  std::uint64_t sequence = 0;
  std::uint32_t flags = 0;
  zmq::message_t type;
  zmq::message_t topic;
  zmq::message_t payload;
};

class LatestBox {
 public:
  static constexpr std::size_t kMaxTopics = 65536;
  enum class Put : std::uint8_t { held, replaced, refused };

  LatestBox(std::size_t workers, std::size_t max_bytes) : lines_(workers), max_bytes_(max_bytes) {}

  /// Holds `b` for `worker`, replacing the publisher's last one of that topic (moved
  /// from then); refused (`b` left as it was) past the bounds.
  Put put(std::size_t worker, LatestBroadcast& b);
  /// The oldest held for `worker`, taken out; nullopt when none.
  std::optional<LatestBroadcast> take(std::size_t worker);
  [[nodiscard]] bool empty() const noexcept { return index_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  /// Drops everything held; returns how many.
  std::size_t clear() noexcept;

 private:
  using Line = std::list<LatestBroadcast>;
  static std::string key_of(const LatestBroadcast& b);
  static std::size_t bytes_of(const LatestBroadcast& b) noexcept {
    return b.topic.size() + b.payload.size() + b.type.size();
  }

  std::vector<Line> lines_;                                // per worker, oldest first
  std::unordered_map<std::string, Line::iterator> index_;  // publisher+topic -> its place
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
};

}  // namespace zmesh::detail
