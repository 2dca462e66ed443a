// zmesh/core/clock.hpp — the clocks zmesh uses: steady for timers, system for the
// timestamps and deadlines that travel on the wire (Unix epoch). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

using SteadyClock = std::chrono::steady_clock;

/// Wall clock, microseconds since the Unix epoch (Header.timestamp_us).
[[nodiscard]] inline std::uint64_t unix_now_us() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

/// Wall clock, milliseconds since the Unix epoch (Header.deadline_unix_ms).
[[nodiscard]] inline std::uint64_t unix_now_ms() noexcept {
  return unix_now_us() / 1000;
}

/// Steady clock in microseconds (Ping.sent_us: only the pinger reads it back).
[[nodiscard]] inline std::uint64_t steady_now_us() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now().time_since_epoch())
          .count());
}

}  // namespace zmesh
