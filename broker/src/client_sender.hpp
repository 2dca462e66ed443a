// ClientSender — how the broker speaks to its clients over its ROUTER: our headers, one
// message to one client without ever blocking, and answers whose drop is counted and
// logged. Broker thread only; it sends on the Broker's ROUTER, which it does not own.
#pragma once

#include <cstdint>
#include <string>

#include <zmq.hpp>

#include "broker_context.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/header.hpp"

namespace zmesh::detail {

/// How a send to one client went.
enum class Sent { ok, full, gone };

class ClientSender {
 public:
  /// `router` is the Broker's (made in start(), before the broker thread uses us).
  ClientSender(zmq::socket_t& router, BrokerContext& ctx) : router_(router), ctx_(ctx) {}

  /// A header frame from us, stamped now.
  [[nodiscard]] zmq::message_t header(Kind kind, std::uint64_t correlation_id);
  /// Sends the three frames to `identity` without blocking: full when its queue
  /// (send_queue messages) is full, gone when it disconnected.
  Sent send(const std::string& identity, zmq::message_t header, zmq::message_t payload);
  /// An answer to one client; one it does not read is dropped and counted (its queue,
  /// send_queue messages, is full).
  void answer(const std::string& identity, zmq::message_t header, zmq::message_t payload);
  /// answer() with an Error (ErrorReply{code, reason}) to the request `correlation_id`.
  void answer_error(const std::string& identity, std::uint64_t correlation_id, WireError code,
                    const std::string& reason);

 private:
  zmq::socket_t& router_;
  BrokerContext& ctx_;
  EnvelopeEncoder encoder_;
};

}  // namespace zmesh::detail
