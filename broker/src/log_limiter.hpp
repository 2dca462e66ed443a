// LogLimiter — at most one warning line per second for a noisy condition (a client that
// does not read, a hijack attempt), saying how many were held back (zmesh/core/
// rate_limit.hpp, shared with the peer library's log). One thread.
#pragma once

#include <cstdint>
#include <utility>

#include <spdlog/spdlog.h>

#include "zmesh/core/clock.hpp"
#include "zmesh/core/rate_limit.hpp"

namespace zmesh::detail {

class LogLimiter {
 public:
  template <class... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    std::uint64_t suppressed = 0;
    if (!limit_.allow(SteadyClock::now(), suppressed)) return;
    if (suppressed > 0) spdlog::warn("({} similar messages suppressed)", suppressed);
    spdlog::warn(fmt, std::forward<Args>(args)...);
  }

 private:
  RateLimit limit_;
};

}  // namespace zmesh::detail
