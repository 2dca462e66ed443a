// zmesh/broker/broker.hpp — the discovery broker as a library: peers register (id, name,
// services, endpoints), renew, leave or expire; they look each other up and hear join,
// leave and update events. Application data never passes through it.
//
// Threads. start() binds and runs the broker on its own thread ("zmesh-broker"), which
// alone owns the ROUTER. stop() may be called from any thread (once); it tells every
// registered peer BYE, closes and joins. stats() and endpoint() are safe from any thread.
// Logging goes to spdlog's default logger.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "zmesh/core/limits.hpp"

namespace zmesh {

struct BrokerOptions {
  std::string bind = "tcp://127.0.0.1:7400";       ///< ROUTER endpoint peers register at
  std::chrono::milliseconds ttl{10000};            ///< entry lifetime without a renew (default; a
                                                   ///< peer may ask for less, never for more)
  std::chrono::milliseconds renew_interval{3000};  ///< how often peers are told to renew
  std::size_t max_peers = 100000;                  ///< registrations refused beyond this
  std::size_t max_services = 32;                   ///< services one registration may offer
  std::size_t max_peer_bytes = 4096;  ///< bytes of strings in one registration's PeerInfo
  std::size_t page_records = 1000;    ///< most records in one PeerList page (Events: 16x)
  std::size_t page_bytes =
      std::size_t{64} * 1024;  ///< about the most bytes in one PeerList page (Events: 16x)
  /// Answers and events queued for one client that does not read them (ZMQ_SNDHWM):
  /// beyond this they are dropped and counted (BrokerStats::slow_consumer). The memory
  /// one client can make us hold is about send_queue x page_bytes (4 MiB by default).
  int send_queue = 64;
  Limits limits;  ///< size limits on received frames

  /// Throws zmesh::Error(invalid_argument) naming the first bad field.
  void validate() const;
};

/// Counters since start().
struct BrokerStats {
  std::uint64_t epoch = 0;          ///< this run's epoch
  std::uint64_t registered = 0;     ///< peers registered now
  std::uint64_t registrations = 0;  ///< Register messages accepted
  std::uint64_t renewals = 0;
  std::uint64_t lookups = 0;
  std::uint64_t left = 0;             ///< clean leaves (BYE)
  std::uint64_t expired = 0;          ///< entries dropped after their TTL
  std::uint64_t rejected = 0;         ///< registrations refused (duplicate id, bad content, full)
  std::uint64_t malformed = 0;        ///< frame sets or payloads that failed to decode
  std::uint64_t events_sent = 0;      ///< Event messages pushed to peers (each with >= 1 change)
  std::uint64_t changes = 0;          ///< join/leave/update changes announced (batched into Events)
  std::uint64_t slow_consumer = 0;    ///< answers and Events dropped: the client's queue was full
  std::uint64_t foreign_refused = 0;  ///< Register/Renew/Bye refused: another connection's entry
  std::uint64_t lookup_pages = 0;     ///< PeerList pages sent
};

class Broker {
 public:
  /// Validates and copies the options (throws Error(invalid_argument)).
  explicit Broker(BrokerOptions options);
  /// stop() if running.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  /// Binds and starts serving. Throws Error(invalid_argument) when the bind fails.
  void start();
  /// Says BYE to every registered peer, closes the socket and joins. Idempotent.
  void stop();

  /// The resolved endpoint ("tcp://127.0.0.1:7400"); "" before start().
  [[nodiscard]] std::string endpoint() const;
  /// This run's epoch (random, nonzero, new at every construction).
  [[nodiscard]] std::uint64_t epoch() const noexcept;
  [[nodiscard]] BrokerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmesh
