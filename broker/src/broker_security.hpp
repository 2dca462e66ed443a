// BrokerSecurity — the broker's side of a CURVE mesh (docs/security.md, "The broker"):
// the ROUTER made a CURVE server, the ZAP handler that admits trusted keys, the monitor
// that names refused handshakes, the rules binding a registration to the sender's key
// (its id, its PeerInfo.public_key, the names and services its key may hold: the ACL),
// and the reload of the trust directory and the ACL.
//
// Made by the Broker's constructor (reads the trust directory and the ACL), attached to
// the ROUTER in start() before it binds, then used by the broker thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "acl.hpp"
#include "log_limiter.hpp"
#include "membership.hpp"
#include "registration_rules.hpp"
#include "zmesh/broker/broker.hpp"
#include "zmesh/core/handshake_monitor.hpp"
#include "zmesh/core/trust_store.hpp"
#include "zmesh/core/zap_handler.hpp"

namespace zmesh::detail {

class BrokerSecurity {
 public:
  /// `options.curve` validated and enabled. Reads the trust directory and the ACL file;
  /// throws Error(invalid_argument) naming what cannot be read.
  explicit BrokerSecurity(const BrokerOptions& options);

  /// Before `router` binds: binds the ZAP handler of `ctx`, makes `router` a CURVE server
  /// and starts monitoring its handshakes. Throws Error(invalid_argument).
  void attach(zmq::context_t& ctx, zmq::socket_ref router);
  /// Closes the monitor and the ZAP handler: before the ROUTER closes (HandshakeMonitor).
  void detach();

  /// The sockets the broker loop polls for ZMQ_POLLIN, and what to call when they are ready.
  [[nodiscard]] zmq::socket_ref zap_socket() { return zap_->socket(); }
  [[nodiscard]] zmq::socket_ref monitor_socket() { return monitor_->socket(); }
  void on_zap();
  void on_monitor();

  /// The authenticated key (Z85) of the connection a received frame came from; "" none.
  [[nodiscard]] static std::string sender_key(const zmq::message_t& frame);

  /// Why a Register that came with `frame` (its header frame: the connection's key is
  /// read from it) may not make `info` (NotAllowed), or nullopt. The key must still be
  /// trusted, be info.public_key (or that be empty), give info.id, and may hold the name
  /// and each service (the ACL; without one, a service held by a live peer of another key
  /// is refused). `live` says whether a registration still counts. A refusal is counted
  /// and logged (rate-limited) with the key and the address.
  [[nodiscard]] std::optional<Refusal> check_register(
      const PeerInfo& info, const zmq::message_t& frame, const Membership& members,
      const std::function<bool(const Member&)>& live);
  /// Why a message of `kind` ("Renew", "Bye", "Lookup") that came with `frame` and claims
  /// the peer id `claimed` (0: none) is refused, or nullopt: the key must still be trusted
  /// and be the one `claimed` is bound to. Counted and logged like check_register.
  [[nodiscard]] std::optional<std::string> check_claim(const char* kind, std::uint64_t claimed,
                                                       const zmq::message_t& frame);

  /// Reads the trust directory and the ACL again; what fails to read keeps its old state.
  /// Logs and counts the outcome.
  void reload();
  /// Copies the counters into `stats`.
  void fill(BrokerStats& stats) const;

 private:
  struct Counters {
    std::uint64_t accepted = 0;
    std::uint64_t untrusted_key = 0;
    std::uint64_t mechanism_mismatch = 0;
    std::uint64_t bad_key = 0;
    std::uint64_t closed = 0;
    std::uint64_t protocol = 0;
    std::uint64_t claims_refused = 0;
    std::uint64_t acl_refused = 0;
    std::uint64_t reloads = 0;
    std::uint64_t reload_failures = 0;
  };

  [[nodiscard]] std::optional<Refusal> check_key(const PeerInfo& info,
                                                 const std::string& key) const;
  [[nodiscard]] std::optional<Refusal> check_services(
      const PeerInfo& info, const std::string& key, const Membership& members,
      const std::function<bool(const Member&)>& live) const;

  /// Counts a refused message and logs it (rate-limited) with its key and address.
  void refused(const std::string& reason, const zmq::message_t& frame, bool by_acl);

  std::string acl_file_;
  TrustStore trust_;
  std::optional<Acl> acl_;  // none without an ACL file
  CurveOptions curve_;
  std::optional<ZapHandler> zap_;  // after trust_: it reads it
  std::optional<HandshakeMonitor> monitor_;
  LogLimiter handshake_limiter_;  // refused handshakes
  LogLimiter message_limiter_;    // refused messages
  Counters counters_;
};

}  // namespace zmesh::detail
