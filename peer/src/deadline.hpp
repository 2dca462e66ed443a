// Deadline — when a call gives up: on our steady clock (for our own timers) and as unix
// milliseconds (carried on the wire for the responder). A command carries the steady one
// only (CommandMeta::deadline_us, made by the calling thread); the engine makes both
// from it with from_steady_us.
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
  /// From the steady-clock deadline a command carries (0 = none): the unix one is what
  /// is left of it from now on, so both still end together.
  [[nodiscard]] static Deadline from_steady_us(std::int64_t steady_us) {
    const SteadyClock::time_point steady = steady_at(steady_us);
    if (steady_us == 0) return Deadline{steady, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady - SteadyClock::now()).count();
    return Deadline{steady,
                    unix_now_ms() + static_cast<std::uint64_t>(std::max<std::int64_t>(left, 0))};
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
