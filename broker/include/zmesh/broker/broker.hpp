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

#include "zmesh/core/curve.hpp"
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
  /// CURVE (docs/security.md, "The broker"): with a secret key set, the ROUTER is a CURVE
  /// server that admits only trusted client keys, and a registration is bound to its key
  /// (its id is peer_id_for_key, PeerInfo.public_key is the key; PeerList and Event
  /// records carry it). Default: plaintext.
  CurveOptions curve;
  /// With CURVE: an ACL file saying which keys may register which names and services
  /// (docs/security.md, "The broker's ACL"). "" = none: names are unique, and a service is
  /// held by the key of its first live provider.
  std::string acl_file;

  /// Throws zmesh::Error(invalid_argument) naming the first bad field. The keys are
  /// checked by the Broker's constructor (CurveOptions::validate).
  void validate() const;
};

/// Counters since start().
struct BrokerStats {
  std::uint64_t epoch = 0;          ///< this run's epoch
  std::uint64_t registered = 0;     ///< peers registered now
  std::uint64_t registrations = 0;  ///< Register messages accepted
  std::uint64_t renewals = 0;
  std::uint64_t lookups = 0;             ///< Lookups answered: the sum of the three kinds below
  std::uint64_t lookups_by_name = 0;     ///< with a name (and maybe a service)
  std::uint64_t lookups_by_service = 0;  ///< with a service only
  std::uint64_t lookups_all = 0;         ///< with neither: every member
  std::uint64_t left = 0;                ///< clean leaves (BYE)
  std::uint64_t expired = 0;             ///< entries dropped after their TTL
  std::uint64_t rejected = 0;         ///< registrations refused (duplicate id, bad content, full)
  std::uint64_t malformed = 0;        ///< frame sets or payloads that failed to decode
  std::uint64_t events_sent = 0;      ///< Event messages pushed to peers (each with >= 1 change)
  std::uint64_t changes = 0;          ///< join/leave/update changes announced (batched into Events)
  std::uint64_t slow_consumer = 0;    ///< answers and Events dropped: the client's queue was full
  std::uint64_t foreign_refused = 0;  ///< Register/Renew/Bye refused: another connection's entry
  std::uint64_t lookup_pages = 0;     ///< PeerList pages sent
  // CURVE only (docs/security.md): handshakes, and messages refused for their key.
  std::uint64_t handshakes_accepted = 0;                    ///< client keys the ZAP handler let in
  std::uint64_t handshakes_refused_untrusted_key = 0;       ///< refused by ZAP: key not trusted
  std::uint64_t handshakes_refused_mechanism_mismatch = 0;  ///< a plaintext client
  std::uint64_t handshakes_refused_bad_key = 0;   ///< cryptographic failure (wrong server key)
  std::uint64_t handshakes_refused_closed = 0;    ///< the client hung up mid-handshake
  std::uint64_t handshakes_refused_protocol = 0;  ///< other handshake protocol errors
  std::uint64_t key_claims_refused = 0;  ///< messages claiming an id or key not the sender's
  std::uint64_t acl_refused = 0;         ///< Registers of a name or service the key may not hold
  std::uint64_t reloads = 0;             ///< trust directory and ACL reloads done
  std::uint64_t reload_failures = 0;     ///< reloads refused (the old state kept)
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

  /// Reads the trust directory and the ACL file again (CURVE only; nothing otherwise), on
  /// the broker thread within a tick (~50 ms): new handshakes of a removed key are refused,
  /// and its connections' messages too; other connections go on. A reload that fails
  /// keeps the old state and is logged (stats().reloads, reload_failures). Any thread;
  /// async-signal-safe (it sets an atomic flag).
  void reload() noexcept;

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
