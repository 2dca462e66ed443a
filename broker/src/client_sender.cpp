#include "client_sender.hpp"

#include <utility>

#include "zmesh/core/clock.hpp"

namespace zmesh::detail {

zmq::message_t ClientSender::header(Kind kind, std::uint64_t correlation_id) {
  Header h;
  h.kind = kind;
  h.correlation_id = correlation_id;
  h.sender_id = ctx_.id;
  h.sender_session = ctx_.epoch;
  h.timestamp_us = unix_now_us();
  return encoder_.encode(h);
}

Sent ClientSender::send(const std::string& identity, zmq::message_t header,
                        zmq::message_t payload) {
  try {
    if (!router_.send(zmq::buffer(identity),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return Sent::full;  // its queue is full: it is not reading
    }
  } catch (const zmq::error_t&) {
    return Sent::gone;  // EHOSTUNREACH: it disconnected
  }
  router_.send(header, zmq::send_flags::sndmore);
  router_.send(payload, zmq::send_flags::none);
  return Sent::ok;
}

void ClientSender::answer(const std::string& identity, zmq::message_t header,
                          zmq::message_t payload) {
  if (send(identity, std::move(header), std::move(payload)) == Sent::full) {
    ctx_.counters.count([](BrokerStats& s) { ++s.slow_consumer; });
    ctx_.limiter.warn("slow consumer: an answer was dropped, the client does not read its queue");
  }
}

void ClientSender::answer_error(const std::string& identity, std::uint64_t correlation_id,
                                WireError code, const std::string& reason) {
  answer(identity, header(Kind::error, correlation_id), encode(ErrorReply{code, reason}));
}

}  // namespace zmesh::detail
