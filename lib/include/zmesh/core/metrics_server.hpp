// zmesh/core/metrics_server.hpp — serves GET /metrics over HTTP (cpp-httplib) for
// Prometheus, from a thread of its own ("zmesh-metrics") and a pool of two handler
// threads. Each scrape calls `render` on a handler thread; render must only read what is
// safe to read from any thread (atomics, thread-safe snapshots), so that serving metrics
// never blocks the thread that does the work. Any other path answers 404.
//
// Lifetime. The constructor binds and starts serving; stop() (or the destructor) stops
// accepting, waits for scrapes in progress, and joins. render is not called after stop()
// has returned.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

class MetricsServer {
 public:
  /// The body of one scrape, in the text exposition format (metrics_text.hpp).
  using Render = std::function<std::string()>;

  /// Listens on `bind`, "HOST:PORT" ("127.0.0.1:9464"; "[::1]:9464"; port 0 = any free
  /// port). Throws Error(invalid_argument) for a malformed bind or one that cannot be
  /// bound (naming it).
  MetricsServer(const std::string& bind, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// Checks a bind without binding; throws Error(invalid_argument) as the constructor does.
  static void check_bind(const std::string& bind);

  /// Stops serving and joins (idempotent).
  void stop();
  /// "HOST:PORT" with the port actually bound.
  [[nodiscard]] std::string endpoint() const;
  /// The port actually bound.
  [[nodiscard]] std::uint16_t port() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmesh
