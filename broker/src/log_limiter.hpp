// LogLimiter — at most one warning line per second for a noisy condition (a client that
// does not read, a hijack attempt), saying how many were held back. One thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include <spdlog/spdlog.h>

#include "zmesh/core/clock.hpp"

namespace zmesh::detail {

class LogLimiter {
 public:
  template <class... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    const auto now = SteadyClock::now();
    if (now < next_) {
      ++suppressed_;
      return;
    }
    next_ = now + std::chrono::seconds(1);
    if (suppressed_ > 0) spdlog::warn("({} similar messages suppressed)", suppressed_);
    suppressed_ = 0;
    spdlog::warn(fmt, std::forward<Args>(args)...);
  }

 private:
  SteadyClock::time_point next_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace zmesh::detail
