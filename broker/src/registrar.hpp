// Registrar — the broker's side of registration (protocol.md 5.7): Register, Renew and
// Bye from the clients, and expiry, applied to the Membership it owns; every join, leave
// and update filed with the EventFanout; a summary line a second at most. Broker thread
// only.
//
// A registration belongs to the connection that made it while it is live (renewed within
// two renew intervals); names are unique among live registrations; with CURVE it is bound
// to the sender's key (BrokerSecurity).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <zmq.hpp>

#include "broker_context.hpp"
#include "client_sender.hpp"
#include "event_fanout.hpp"
#include "membership.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/envelope_codec.hpp"

namespace zmesh::detail {

class Registrar {
 public:
  Registrar(BrokerContext& ctx, ClientSender& out, EventFanout& events)
      : ctx_(ctx), out_(out), events_(events) {}

  /// The handlers of a decoded message from `identity`. `header_frame` is the frame its
  /// header came in: with CURVE it carries the connection's authenticated key.
  void on_register(const std::string& identity, const Envelope& env,
                   const zmq::message_t& header_frame);
  void on_renew(const std::string& identity, const Envelope& env,
                const zmq::message_t& header_frame);
  void on_bye(const std::string& identity, const Envelope& env, const zmq::message_t& header_frame);

  /// Refuses a Register: counted, logged (unless `logged`: it was already, with the
  /// sender's key) and answered with a Reject.
  void reject(const std::string& identity, std::uint64_t correlation_id, WireError code,
              const std::string& reason, bool logged = false);

  /// Drops the registrations whose TTL ran out as of `as_of`, and announces them.
  void expire(SteadyClock::time_point as_of);
  /// One line a second at most for joins and leaves (each one is a debug line); `final`:
  /// now, whenever the last one was.
  void log_summary(SteadyClock::time_point now, bool final);

  [[nodiscard]] const Membership& members() const noexcept { return members_; }

 private:
  struct Summary {
    std::uint64_t joined = 0;
    std::uint64_t left = 0;
    std::uint64_t expired = 0;
    std::uint64_t replaced = 0;
  };

  /// Why a registration may not be used from another identity: it belongs to the live
  /// connection that made it (protocol.md 5.7). Counted and logged.
  std::string bound_elsewhere(const char* what, const Member& m);
  [[nodiscard]] zmq::message_t ack(std::chrono::milliseconds ttl) const;

  BrokerContext& ctx_;
  ClientSender& out_;
  EventFanout& events_;
  Membership members_;
  Summary summary_;  // since the last summary line
  SteadyClock::time_point next_summary_{};
};

}  // namespace zmesh::detail
