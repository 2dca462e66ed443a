// zmesh/peer/spdlog_sink.hpp — a ready LogSink that writes through an spdlog logger
// (default: spdlog's default logger), "zmesh <event>: <message>". Header-only: include it
// where the application uses spdlog (the zmesh libraries do not depend on spdlog).
#pragma once

#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "zmesh/peer/log.hpp"

namespace ZMESH_API zmesh {

inline LogSink spdlog_sink(std::shared_ptr<spdlog::logger> logger = spdlog::default_logger()) {
  return [logger = std::move(logger)](const LogRecord& r) {
    const auto level = r.level == LogLevel::debug     ? spdlog::level::debug
                       : r.level == LogLevel::info    ? spdlog::level::info
                       : r.level == LogLevel::warning ? spdlog::level::warn
                                                      : spdlog::level::err;
    logger->log(level, "zmesh {}: {}", r.event, r.message);
  };
}

}  // namespace zmesh
