// SequenceAnnouncer — a publisher's sequence numbers per topic, and what its heartbeat
// (Sequences, protocol.md 5.9) announces. Engine thread only (owned by Broadcasts).
//
// next() numbers each Publish and marks its topic changed. take(), once per
// broadcast_heartbeat, returns the latest sequence of every topic that changed, then
// announces it again 2, 4, 8, ... 512 heartbeats after its last change, and then no
// more: an announcement can be dropped at the high-water mark like the broadcasts it
// tells about, and the repeats reach a subscriber once it has caught up, while a topic
// that stays idle costs nothing after about a minute (at 100 ms).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zmesh/core/control.hpp"

namespace zmesh::detail {

class SequenceAnnouncer {
 public:
  /// Heartbeats after its last change in which a topic is announced again: the powers
  /// of two up to this one.
  static constexpr std::uint32_t kLastRepeat = 512;
  /// Entries in one Sequences payload (the receiver takes up to kMaxTopicSequences).
  static constexpr std::size_t kMaxEntries = 1024;

  /// The sequence of the next Publish on `topic`: 1 for the first, then +1.
  std::uint64_t next(std::string_view topic);
  /// What is due at this heartbeat, in payloads of at most kMaxEntries entries; empty
  /// when no topic changed within the last kLastRepeat heartbeats.
  [[nodiscard]] std::vector<Sequences> take();
  /// Topics numbered this session.
  [[nodiscard]] std::size_t topics() const noexcept { return topics_.size(); }
  /// Topics that are still announced (changed within the last kLastRepeat heartbeats).
  [[nodiscard]] std::size_t active() const noexcept { return active_.size(); }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct Entry {
    std::uint64_t sequence = 0;
    std::uint32_t age = 0;  // heartbeats since the last change
    bool active = false;    // in active_
  };
  using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  Map topics_;
  // Topics still announced. Pointers into topics_: its nodes never move, and no topic
  // is ever erased from it.
  std::vector<Map::value_type*> active_;
};

}  // namespace zmesh::detail
