// Deadline — when a call gives up, made once where the call is made: on our steady clock
// (for our own timers) and as unix milliseconds (carried on the wire for the responder).
#pragma once

#include <chrono>
#include <cstdint>

#include "zmesh/core/clock.hpp"

namespace zmesh::detail {

struct Deadline {
  SteadyClock::time_point steady{};
  std::uint64_t unix_ms = 0;  // 0 = none on the wire

  /// `timeout` from now.
  [[nodiscard]] static Deadline after(std::chrono::milliseconds timeout) {
    return Deadline{SteadyClock::now() + timeout,
                    unix_now_ms() + static_cast<std::uint64_t>(timeout.count())};
  }
  /// From the two numbers a command carries.
  [[nodiscard]] static Deadline from(std::int64_t steady_us, std::uint64_t unix_ms) {
    return Deadline{SteadyClock::time_point(std::chrono::microseconds(steady_us)), unix_ms};
  }
  [[nodiscard]] std::int64_t steady_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(steady.time_since_epoch()).count();
  }
};

}  // namespace zmesh::detail
