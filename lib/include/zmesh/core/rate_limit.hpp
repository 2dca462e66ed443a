// zmesh/core/rate_limit.hpp — at most one record per period for a noisy condition (a
// client that does not read, a refused handshake, malformed input), counting what was held
// back so the next record can say so. Shared by the broker's log and the peer library's.
// One thread.
#pragma once

#include <chrono>
#include <cstdint>

#include "zmesh/core/clock.hpp"
#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

class RateLimit {
 public:
  RateLimit() noexcept = default;  ///< one record a second
  explicit RateLimit(std::chrono::milliseconds period) noexcept : period_(period) {}

  /// True when a record may go out at `now`; then `suppressed` is how many were held back
  /// since the last one that went (and the count starts again). False: held back, counted.
  bool allow(SteadyClock::time_point now, std::uint64_t& suppressed) noexcept {
    if (now < next_) {
      ++held_;
      return false;
    }
    next_ = now + period_;
    suppressed = held_;
    held_ = 0;
    return true;
  }

 private:
  std::chrono::milliseconds period_{1000};
  SteadyClock::time_point next_{};
  std::uint64_t held_ = 0;
};

}  // namespace zmesh
