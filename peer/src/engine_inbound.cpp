// Engine: everything that arrives from the network. Frames are decoded (and so verified)
// before anything reads them; what is malformed or out of place is counted and dropped.
#include <cstring>

#include "engine.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

Route route_via(const Connection& c, std::string_view identity) {
  Route r{c.key};
  if (!identity.empty() && identity.size() <= kInlineIdentity) {
    r.identity_size = static_cast<std::uint8_t>(identity.size());
    std::memcpy(r.identity, identity.data(), identity.size());
  }
  return r;
}

}  // namespace

int Engine::on_router() {
  int n = 0;
  for (; n < kBurst && !network_paused(); ++n) {
    if (!frames_.recv(*router_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::router, frames_);
    if (!env) {
      bump(shared_.counters.malformed);
      continue;
    }
    on_envelope(nullptr, frames_, *env);
  }
  return n;
}

int Engine::on_dealer(std::uint64_t key) {
  int n = 0;
  for (; n < kBurst && !network_paused(); ++n) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr || !c->dealer) break;
    if (!frames_.recv(*c->dealer, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::dealer, frames_);
    if (!env) {
      bump(shared_.counters.malformed);
      continue;
    }
    on_envelope(c, frames_, *env);
  }
  return n;
}

void Engine::on_envelope(Connection* via_dealer, FrameSet& frames, const Envelope& env) {
  const Header& h = env.header;
  if (h.kind == Kind::hello) {
    if (via_dealer == nullptr) {
      on_hello(env.identity, env);
    } else {
      bump(shared_.counters.unexpected);
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
      bump(shared_.counters.unexpected);
      return;
    }
  }
  c->last_rx = SteadyClock::now();
  if (c->state == ConnectionState::suspect) c->state = ConnectionState::ready;
  const Route route = via_dealer != nullptr ? Route{c->key} : route_via(*c, env.identity);
  switch (h.kind) {
    case Kind::welcome: on_welcome(*c, env); break;
    case Kind::reject: on_reject(*c, env); break;
    case Kind::request:
    case Kind::message: on_app(*c, route, frames, env); break;
    case Kind::reply:
    case Kind::error: on_reply(c, env); break;
    case Kind::ping: on_ping(c, route, frames, env); break;
    case Kind::pong: on_pong(*c, env); break;
    case Kind::bye: drop_connection(*c, errc::peer_gone, "peer " + c->describe() + " left"); break;
    default: bump(shared_.counters.unexpected); break;
  }
}

void Engine::answer_unknown(std::string_view identity, const Envelope& env) {
  // Traffic from a DEALER we never greeted (or whose greeting we lost when we
  // restarted): tell it, so it greets again, instead of leaving it to time out.
  bump(shared_.counters.unexpected);
  if (env.header.kind != Kind::request && env.header.kind != Kind::ping) return;
  Header h = header_for(Kind::error, env.header.correlation_id);
  zmq::message_t header = encoder_.encode(h);
  zmq::message_t payload =
      encode(ErrorReply{WireError::unknown_peer, "not greeted: send HELLO first"});
  (void)send_router(identity, header, payload);
}

void Engine::on_hello(std::string_view identity, const Envelope& env) {
  auto reject = [&](WireError code, const std::string& reason) {
    zmq::message_t header = encoder_.encode(header_for(Kind::reject, env.header.correlation_id));
    zmq::message_t payload = encode(Reject{code, reason});
    (void)send_router(identity, header, payload);
  };
  auto hello = decode_control<Hello>(env.payload, opts_.limits);
  if (!hello) {
    bump(shared_.counters.malformed);
    reject(WireError::malformed, "bad HELLO: " + hello.error().message());
    return;
  }
  const PeerInfo& who = hello->peer;
  if (who.id != env.header.sender_id || who.session != env.header.sender_session) {
    reject(WireError::bad_request, "HELLO peer id/session differ from its header");
    return;
  }
  if (who.id == self_.id) {
    reject(WireError::self_connect, "a peer cannot connect to itself");
    return;
  }
  if (stopping_) {
    reject(WireError::shutting_down, "peer is shutting down");
    return;
  }
  const auto now = SteadyClock::now();
  Connection* c = registry_.by_peer(who.id);
  if (c != nullptr && c->info.session != who.session) {
    // Same id, new session: a restarted peer replaces its entry, unless the old session
    // is demonstrably alive — then two processes share one id.
    if (c->ready() && now - c->last_rx < 2 * opts_.heartbeat_interval) {
      reject(WireError::duplicate_id,
             "peer id " + id_to_hex(who.id) + " is in use by a live session");
      return;
    }
    drop_connection(*c, errc::peer_gone, "peer " + c->describe() + " restarted");
    c = nullptr;
  }
  if (c == nullptr) {
    c = &registry_.create();
    c->info = who;
    registry_.index_peer(*c);
  }
  if (registry_.by_identity(identity) != c) registry_.add_identity(*c, std::string(identity));
  if (c->state == ConnectionState::greeting && c->dealer) {
    // Our own greeting to it is under way too: its HELLO proves it is alive.
    c->info = who;
  }
  mark_ready(*c);
  zmq::message_t header = encoder_.encode(header_for(Kind::welcome, env.header.correlation_id));
  zmq::message_t payload = encode(Welcome{
      kProtocolVersion, self_, static_cast<std::uint32_t>(opts_.heartbeat_interval.count())});
  (void)send_router(identity, header, payload);
  if (!c->waiters.empty() || !c->queued.empty()) {
    for (auto& w : c->waiters) w->promise.set_value(c->info.id);
    c->waiters.clear();
    flush_queued(*c);
  }
}

void Engine::on_welcome(Connection& c, const Envelope& env) {
  if (c.state != ConnectionState::greeting || env.header.correlation_id != c.hello_correlation) {
    bump(shared_.counters.unexpected);
    return;
  }
  auto welcome = decode_control<Welcome>(env.payload, opts_.limits);
  if (!welcome || welcome->peer.id != env.header.sender_id) {
    bump(shared_.counters.malformed);
    drop_connection(c, errc::malformed, "bad WELCOME from " + c.endpoint);
    return;
  }
  const PeerInfo& who = welcome->peer;
  Connection* target = &c;
  if (Connection* other = registry_.by_peer(who.id); other != nullptr && other != &c) {
    if (other->info.session != who.session) {
      drop_connection(*other, errc::peer_gone, "peer " + other->describe() + " restarted");
    } else {
      // Already connected to that peer (another endpoint, or it connected to us):
      // one logical connection, so fold this attempt into it.
      if (auto spare = registry_.merge(c, *other)) {
        zmq::message_t header = encoder_.encode(header_for(Kind::bye, 0));
        zmq::message_t payload;
        (void)spare->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        (void)spare->send(payload, zmq::send_flags::dontwait);
        set_close_linger(*spare, std::chrono::milliseconds(100));
      }
      target = other;
    }
  }
  // The peer behind this connection is not the one we knew (or expected from the
  // membership): a restart, or a new process on that endpoint. What was pending went
  // down with the old one.
  const bool id_changed = target->info.id != 0 && target->info.id != who.id;
  const bool session_changed = target->info.session != 0 && target->info.session != who.session;
  if (id_changed || session_changed) {
    fail_pending_for(target->info.id, errc::peer_gone, "peer " + target->describe() + " restarted");
    registry_.unindex_peer(*target);
  }
  const std::string endpoint = target->endpoint;
  target->info = who;
  target->endpoint = endpoint;
  registry_.index_peer(*target);
  mark_ready(*target);
  for (auto& w : target->waiters) w->promise.set_value(who.id);
  target->waiters.clear();
  flush_queued(*target);
}

void Engine::on_reject(Connection& c, const Envelope& env) {
  if (c.state != ConnectionState::greeting || env.header.correlation_id != c.hello_correlation) {
    bump(shared_.counters.unexpected);
    return;
  }
  auto reject = decode_control<Reject>(env.payload, opts_.limits);
  const errc code = reject ? to_errc(reject->code) : errc::rejected;
  const std::string reason = reject ? reject->reason : "malformed REJECT";
  const std::string where = c.endpoint.empty() ? c.describe() : c.endpoint;
  drop_connection(c, code == errc::remote_error ? errc::rejected : code,
                  "peer at " + where + " rejected the greeting: " + reason);
}

void Engine::on_app(Connection& c, const Route& route, FrameSet& frames, const Envelope& env) {
  const Header& h = env.header;
  bump(shared_.counters.received);
  ++c.received;
  if (stopping_) {
    if (h.kind == Kind::request) {
      send_control(c, route, header_for(Kind::error, h.correlation_id),
                   encode(ErrorReply{WireError::shutting_down, "peer is shutting down"}));
    }
    return;
  }
  WorkMeta meta{WorkOp::deliver,    h.kind, c.info.id, route, h.correlation_id,
                h.deadline_unix_ms, 0,      0};
  dispatch(WorkItem{worker_for(c.info.id), meta, zmq::message_t(h.type.data(), h.type.size()),
                    zmq::message_t(), std::move(frames[env.payload_index])});
}

void Engine::on_reply(Connection* c, const Envelope& env) {
  const Header& h = env.header;
  std::optional<ErrorReply> err;
  if (h.kind == Kind::error) {
    auto decoded = decode_control<ErrorReply>(env.payload, opts_.limits);
    if (!decoded) {
      bump(shared_.counters.malformed);
      if (auto p = pending_.take(h.correlation_id)) {
        fail(std::move(*p), h.correlation_id, errc::malformed,
             "malformed error reply from peer " + c->describe());
      }
      return;
    }
    err = std::move(*decoded);
    if (err->code == WireError::unknown_peer) {
      // The process behind this connection does not know us (it restarted): greet
      // again; new sends wait for the WELCOME, this request is lost with the old process.
      if (c->dealer && c->ready()) send_hello(*c);
      if (auto p = pending_.take(h.correlation_id)) {
        fail(std::move(*p), h.correlation_id, errc::peer_gone,
             "peer " + c->describe() + " lost our session (restarted?)");
      }
      return;
    }
  }
  if (h.sender_id != c->info.id) {
    bump(shared_.counters.unexpected);
    return;
  }
  auto pending = pending_.take(h.correlation_id);
  if (!pending) {
    bump(shared_.counters.late_replies);
    return;
  }
  if (pending->to != h.sender_id) {  // not from whom we asked: not our reply
    bump(shared_.counters.unexpected);
    pending_.add(h.correlation_id, std::move(*pending));
    return;
  }
  bump(shared_.counters.received);
  ++c->received;
  if (h.kind == Kind::reply) {
    complete(std::move(*pending),
             Response{h.sender_id, std::string(reinterpret_cast<const char*>(env.payload.data()),
                                               env.payload.size())});
    return;
  }
  fail(std::move(*pending), h.correlation_id, to_errc(err->code),
       "peer " + c->describe() + ": " + err->text);
}

void Engine::on_ping(Connection* c, const Route& route, FrameSet& frames, const Envelope& env) {
  send_control(*c, route, header_for(Kind::pong, env.header.correlation_id),
               std::move(frames[env.payload_index]));
}

void Engine::on_pong(Connection& c, const Envelope& env) {
  auto pong = decode_control<Ping>(env.payload, opts_.limits);
  if (!pong) {
    bump(shared_.counters.malformed);
    return;
  }
  if (pong->nonce == c.ping_nonce) c.last_rtt_us = steady_now_us() - pong->sent_us;
}

}  // namespace zmesh::detail
