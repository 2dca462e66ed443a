// Deadline — when a call gives up: on our steady clock (for our own timers) and as unix
// milliseconds (carried on the wire for the responder). A command carries the steady one
// only (CommandMeta::deadline_us, made by the calling thread); the engine makes both
// from it with EngineContext::deadline.
#pragma once

#include <algorithm>
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
  /// The steady-clock time point a command's deadline_us names (no clock read).
  [[nodiscard]] static SteadyClock::time_point steady_at(std::int64_t steady_us) {
    return SteadyClock::time_point{std::chrono::microseconds(steady_us)};
  }
  [[nodiscard]] std::int64_t steady_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(steady.time_since_epoch()).count();
  }
};

}  // namespace zmesh::detail
