// Connections, part four: the way in — reading the ROUTER and the DEALERs, checking who
// an envelope comes from, and handling it by kind (greetings go to greeting.cpp;
// requests, messages and answers go up through Events; pings, pongs and errors here).
#include "connections.hpp"

#include <cstring>

namespace zmesh::detail {
namespace {

/// Bytes of Overloaded errors queued for a slow consumer beyond max_queued_bytes (and
/// the replies it was owed already); past it they are dropped (and still counted).
constexpr std::size_t kRefusalSlack = std::size_t{64} * 1024;

Route route_via(const Connection& c, std::string_view identity) {
  Route r{c.key};
  if (!identity.empty() && identity.size() <= kInlineIdentity) {
    r.identity_size = static_cast<std::uint8_t>(identity.size());
    std::memcpy(r.identity, identity.data(), identity.size());
  }
  return r;
}

/// The client key libzmq's ZAP handler named the connection by ("" if none).
std::string authenticated_key(zmq::message_t& frame) {
  try {
    return frame.gets("User-Id");
  } catch (const zmq::error_t&) {
    return {};
  }
}

}  // namespace

// ------------------------------------------------------------------ receiving

int Connections::read_router(const std::function<bool()>& stop) {
  int n = 0;
  for (; n < kBurst && !(stop && stop()); ++n) {
    if (!frames_.recv(*router_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::router, frames_);
    if (!env) {
      bump(ctx_.counters().malformed);
      if (ctx_.log.on()) {
        const Connection* from =
            frames_.size() > 0 ? registry_.by_identity(view_of(frames_[0])) : nullptr;
        ctx_.log(LogEvent::malformed, LogLevel::warning,
                 "malformed input on our ROUTER from " +
                     (from != nullptr ? from->describe() : std::string("an ungreeted client")) +
                     ": " + env.error().message());
      }
      continue;
    }
    on_envelope(nullptr, frames_, *env);
  }
  return n;
}

int Connections::read_dealer(std::uint64_t key, const std::function<bool()>& stop) {
  int n = 0;
  for (; n < kBurst && !(stop && stop()); ++n) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr || !c->dealer) break;
    if (!frames_.recv(*c->dealer, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::dealer, frames_);
    if (!env) {
      bump(ctx_.counters().malformed);
      ctx_.log(LogEvent::malformed, LogLevel::warning,
               "malformed input from " + c->describe() + ": " + env.error().message());
      continue;
    }
    on_envelope(c, frames_, *env);
  }
  return n;
}

void Connections::on_envelope(Connection* via_dealer, FrameSet& frames, const Envelope& env) {
  const Header& h = env.header;
  if (h.kind == Kind::hello) {
    if (via_dealer == nullptr) {
      on_hello(env.identity, env,
               ctx_.opts.curve.enabled() ? authenticated_key(frames[env.payload_index]) : "");
    } else {
      bump(ctx_.counters().unexpected);
    }
    return;
  }
  Connection* c = via_dealer != nullptr ? via_dealer : registry_.by_identity(env.identity);
  if (c == nullptr) {
    answer_unknown(env.identity, env);
    return;
  }
  // Once greeted, every message must come from the peer the connection is with —
  // except the answers of a new process behind the same endpoint: its greeting answers,
  // and its error telling us it does not know us.
  if (c->info.id != 0 && h.sender_id != c->info.id) {
    const bool greeting = c->state == ConnectionState::greeting &&
                          (h.kind == Kind::welcome || h.kind == Kind::reject);
    const bool lost_us = via_dealer != nullptr && h.kind == Kind::error;
    if (!greeting && !lost_us) {
      bump(ctx_.counters().unexpected);
      return;
    }
  }
  c->last_rx = ctx_.now();
  if (c->state == ConnectionState::suspect) c->state = ConnectionState::ready;
  const Route route = via_dealer != nullptr ? Route{c->key} : route_via(*c, env.identity);
  switch (h.kind) {
    case Kind::welcome: on_welcome(*c, env); break;
    case Kind::reject: on_reject(*c, env); break;
    case Kind::request:
    case Kind::message: on_request(*c, route, frames, env); break;
    case Kind::reply: events_.answer(*c, env); break;
    case Kind::error: on_error(*c, env); break;
    case Kind::ping:
      send_control(*c, route, ctx_.header(Kind::pong, h.correlation_id),
                   std::move(frames[env.payload_index]));
      break;
    case Kind::pong: on_pong(*c, env); break;
    case Kind::bye: remove(*c, errc::peer_gone, "peer " + c->describe() + " left"); break;
    default: bump(ctx_.counters().unexpected); break;
  }
}

void Connections::on_request(Connection& c, const Route& route, FrameSet& frames,
                             const Envelope& env) {
  const Header& h = env.header;
  bump(ctx_.counters().received);
  ++c.received;
  if (!c.ready()) {
    bump(ctx_.counters().unexpected);
    return;
  }
  // It has read all it was owed: refusals, if any come, start a new allowance.
  if (c.backlog.empty()) c.refusal_bytes = 0;
  const bool wants_reply = h.kind == Kind::request && (h.flags & kFlagNoReply) == 0;
  auto refuse = [&](WireError code, const std::string& text) {
    if (!wants_reply) return;
    // Refusals have a small allowance of their own: the first ones reach a peer that
    // reads again; past the allowance they are dropped (and still counted).
    if (c.refusal_bytes >= kRefusalSlack) return;
    zmq::message_t payload = encode(ErrorReply{code, text});
    c.refusal_bytes += payload.size();
    outbox_.enqueue(c, route, ctx_.encode(ctx_.header(Kind::error, h.correlation_id)),
                    std::move(payload));
  };
  if (ctx_.stopping) {
    refuse(WireError::shutting_down, "peer is shutting down");
    return;
  }
  if (h.kind == Kind::request && over_bound(c)) {
    // A slow consumer: it does not read what we already owe it. Refuse more work.
    bump(ctx_.counters().overloaded);
    refuse(WireError::overloaded,
           std::to_string(c.backlog_bytes) + " bytes of replies wait for you to read them");
    return;
  }
  events_.inbound(c, route, env, frames);
}

void Connections::answer_unknown(std::string_view identity, const Envelope& env) {
  // Traffic from a DEALER we never greeted (or whose greeting we lost when we
  // restarted): tell it, so it greets again, instead of leaving it to time out.
  bump(ctx_.counters().unexpected);
  if (env.header.kind != Kind::request && env.header.kind != Kind::ping) return;
  zmq::message_t header = ctx_.encode(ctx_.header(Kind::error, env.header.correlation_id));
  zmq::message_t payload =
      encode(ErrorReply{WireError::unknown_peer, "not greeted: send HELLO first"});
  (void)outbox_.send_to(identity, header, payload);
}

void Connections::on_error(Connection& c, const Envelope& env) {
  auto err = decode_control<ErrorReply>(env.payload, ctx_.opts.limits);
  if (err && err->code == WireError::unknown_peer && c.dealer && c.ready()) {
    // The process behind this connection does not know us (it restarted): greet again;
    // new sends wait for the WELCOME. The request it answers is lost with the old process.
    send_hello(c);
  }
  events_.answer(c, env);
}

void Connections::on_pong(Connection& c, const Envelope& env) {
  auto pong = decode_control<Ping>(env.payload, ctx_.opts.limits);
  if (!pong) {
    bump(ctx_.counters().malformed);
    return;
  }
  if (pong->nonce == c.ping_nonce) c.last_rtt_us = steady_now_us() - pong->sent_us;
}

}  // namespace zmesh::detail
