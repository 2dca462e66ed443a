// Liveness — the protocol's rule for judging a greeted peer by its silence
// (docs/protocol.md 5.4), and for telling a restart from a duplicate id (5.1).
//
// Both sides ping at the interval they announced in their greeting and answer every
// Ping. A live peer is therefore heard from at least every min(own, announced) interval;
// the rule judges against the larger of the two, so that peers with different settings
// never declare each other gone:
//   window  W = max(own interval, interval the peer announced)
//   suspect     silence > 2 W
//   gone        silence > max(own heartbeat_timeout, 3 W)
// A greeting that claims the id of a connected peer of another session is a duplicate
// while that session is live (not suspect), and its restart once it is suspect.
#pragma once

#include <algorithm>
#include <chrono>

namespace zmesh::detail {

class Liveness {
 public:
  enum class Verdict { live, suspect, gone };

  Liveness(std::chrono::milliseconds own_interval, std::chrono::milliseconds own_timeout)
      : own_interval_(own_interval), own_timeout_(own_timeout) {}

  /// W for a peer that announced `announced` (0: not known, W is our own interval).
  [[nodiscard]] std::chrono::milliseconds window(std::chrono::milliseconds announced) const {
    return std::max(own_interval_, announced);
  }
  [[nodiscard]] std::chrono::milliseconds suspect_after(std::chrono::milliseconds announced) const {
    return 2 * window(announced);
  }
  [[nodiscard]] std::chrono::milliseconds gone_after(std::chrono::milliseconds announced) const {
    return std::max(own_timeout_, 3 * window(announced));
  }

  template <class Duration>
  [[nodiscard]] Verdict judge(Duration silence, std::chrono::milliseconds announced) const {
    if (silence > gone_after(announced)) return Verdict::gone;
    if (silence > suspect_after(announced)) return Verdict::suspect;
    return Verdict::live;
  }

 private:
  std::chrono::milliseconds own_interval_;
  std::chrono::milliseconds own_timeout_;
};

}  // namespace zmesh::detail
