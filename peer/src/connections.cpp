#include "connections.hpp"

#include <algorithm>
#include <cstring>

#include "zmesh/core/curve.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

using std::chrono::milliseconds;

/// Recent departures remembered for clear errors ("peer 'x' gone: ...").
constexpr std::size_t kGoneMemory = 1024;
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

std::string ms_text(SteadyClock::duration d) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms";
}

}  // namespace

Connections::Connections(EngineContext& ctx, Events events)
    : ctx_(ctx),
      events_(std::move(events)),
      liveness_(ctx.opts.heartbeat_interval, ctx.opts.heartbeat_timeout),
      decoder_(ctx.opts.limits),
      outbox_(ctx, registry_) {}

std::string Connections::open() {
  next_heartbeat_ = SteadyClock::now() + ctx_.opts.heartbeat_interval;
  if (ctx_.opts.bind.empty()) return {};
  router_.emplace(make_router(ctx_.zmq, ctx_.tuning));
  set_curve_server(*router_, ctx_.opts.curve);
  if (ctx_.opts.curve.enabled()) router_monitor_.emplace(ctx_.zmq, *router_);
  outbox_.set_router(&*router_);
  try {
    const std::string bound = bind_resolved(*router_, ctx_.opts.bind);
    return ctx_.opts.advertise.empty() ? bound : ctx_.opts.advertise;
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument, "cannot bind '" + ctx_.opts.bind + "': " + e.what());
  }
}

void Connections::close(milliseconds linger) noexcept {
  try {
    registry_.visit([&](Connection& c) {
      if (c.dealer) set_close_linger(*c.dealer, linger);
    });
    for (const auto key : registry_.keys()) registry_.erase(key);
    if (router_) set_close_linger(*router_, linger);
  } catch (const zmq::error_t&) {
    // The context is shutting down under us: the sockets close all the same.
  }
  outbox_.set_router(nullptr);
  router_monitor_.reset();
  router_.reset();
  outbox_.clear();
}

// ------------------------------------------------------------------ commands

std::optional<zmq::socket_t> Connections::open_dealer(Connection& c, const std::string& endpoint,
                                                      std::string& error) {
  const bool curve = ctx_.opts.curve.enabled();
  if (curve && c.server_key.empty()) {
    error = "CURVE is on and the public key of the peer at '" + endpoint +
            "' is not known: give it to connect(endpoint, key), or find the peer through a "
            "broker";
    return std::nullopt;
  }
  zmq::socket_t dealer = make_dealer(ctx_.zmq, ctx_.tuning);
  set_curve_client(dealer, ctx_.opts.curve, c.server_key);
  c.monitor.emplace(ctx_.zmq, dealer);
  try {
    dealer.connect(endpoint);
  } catch (const zmq::error_t& e) {
    c.monitor.reset();
    error = "cannot connect to '" + endpoint + "': " + e.what();
    return std::nullopt;
  }
  return dealer;
}

void Connections::connect(const std::string& endpoint, const std::string& server_key,
                          std::unique_ptr<ConnectCompletion> done) {
  if (ctx_.stopping) {
    done->promise.set_exception(error_ptr(errc::shutting_down, "peer is shutting down"));
    return;
  }
  if (!ctx_.self.endpoints.empty() && endpoint == ctx_.self.endpoints.front()) {
    done->promise.set_exception(error_ptr(errc::self_connect, "a peer cannot connect to itself"));
    return;
  }
  if (Connection* c = registry_.by_endpoint(endpoint)) {
    if (c->ready()) {
      done->promise.set_value(c->info.id);
    } else {
      c->waiters.push_back(std::move(done));
    }
    return;
  }
  Connection& c = registry_.create();
  c.server_key = server_key;
  std::string error;
  auto dealer = open_dealer(c, endpoint, error);
  if (!dealer) {
    registry_.erase(c.key);
    done->promise.set_exception(error_ptr(errc::invalid_argument, error));
    return;
  }
  c.endpoint = endpoint;
  c.dealer.emplace(std::move(*dealer));
  registry_.index_endpoint(c);
  c.waiters.push_back(std::move(done));
  send_hello(c);
}

Connection* Connections::ensure(const PeerInfo& info) {
  if (Connection* c = registry_.by_peer(info.id)) return c;
  if (info.endpoints.empty() || info.id == ctx_.self.id || ctx_.stopping) return nullptr;
  // CURVE: a peer is reached by the key it is known by, and that key must be the one
  // its id is bound to.
  if (ctx_.opts.curve.enabled() && peer_id_for_key(info.public_key) != info.id) return nullptr;
  // Indexed under the id we expect at once, so that sends wait behind the greeting.
  Connection& c = registry_.create();
  c.server_key = info.public_key;
  std::string error;
  auto dealer = open_dealer(c, info.endpoints.front(), error);
  if (!dealer) {
    registry_.erase(c.key);
    return nullptr;
  }
  c.info = info;
  c.endpoint = info.endpoints.front();
  c.dealer.emplace(std::move(*dealer));
  registry_.index_peer(c);
  registry_.index_endpoint(c);
  send_hello(c);
  return &c;
}

void Connections::disconnect(PeerId peer) {
  Connection* c = registry_.by_peer(peer);
  if (c == nullptr) return;
  leave(*c, c->ready(), errc::peer_gone, "disconnected from peer " + c->describe());
}

void Connections::leave(Connection& c, bool say_bye, errc code, const std::string& text) {
  if (say_bye) send_control(c, Route{c.key}, ctx_.header(Kind::bye, 0), zmq::message_t());
  if (c.dealer) set_close_linger(*c.dealer, kByeLinger);  // let the BYE leave
  remove(c, code, text);
}

std::string Connections::gone_reason(PeerId peer) const {
  auto it = gone_.find(peer);
  return it == gone_.end() ? std::string() : it->second;
}

void Connections::remember_gone(PeerId peer, const std::string& text) {
  if (gone_.insert_or_assign(peer, text).second) gone_order_.push_back(peer);
  while (gone_order_.size() > kGoneMemory) {
    gone_.erase(gone_order_.front());
    gone_order_.pop_front();
  }
}

Connections::Admit Connections::send_app(Connection& c, AppSend s) {
  if (!c.ready()) {
    if (c.held.size() >= ctx_.opts.greeting_queue_depth) return Admit::greeting_full;
    c.held.push_back(HeldSend{s.kind, std::string(s.type), std::move(s.payload), s.correlation_id,
                              s.deadline_unix_ms, s.flags});
    return Admit::accepted;
  }
  if (over_bound(c)) return Admit::over_bound;
  Header h = ctx_.header(s.kind, s.correlation_id);
  h.type = s.type;
  h.deadline_unix_ms = s.deadline_unix_ms;
  h.flags = s.flags;
  outbox_.enqueue(c, Route{c.key}, ctx_.encode(h), std::move(s.payload));
  return Admit::accepted;
}

void Connections::send_answer(const Route& route, Kind kind, std::uint64_t correlation_id,
                              zmq::message_t payload) {
  Connection* c = registry_.by_key(route.connection);
  if (c == nullptr) {
    bump(ctx_.counters().errors);  // its requester went away meanwhile: nobody to answer
    return;
  }
  outbox_.enqueue(*c, route, ctx_.encode(ctx_.header(kind, correlation_id)), std::move(payload));
}

void Connections::remove(Connection& c, errc code, const std::string& text) {
  for (auto& w : c.waiters) w->promise.set_exception(error_ptr(code, text));
  c.waiters.clear();
  if (c.info.id != 0) {
    events_.lost(c.info.id, code, text);
    remember_gone(c.info.id, text);
  }
  if (c.ready()) detail::drop(ctx_.counters().connections);
  c.state = ConnectionState::gone;
  events_.closing(c);
  outbox_.forget(c.key);
  registry_.erase(c.key);
}

// ------------------------------------------------------------------ sending

void Connections::send_control(Connection& c, const Route& route, const Header& h,
                               zmq::message_t payload) {
  zmq::message_t header = ctx_.encode(h);
  (void)outbox_.send_now(c, route, header, payload);
}

int Connections::flush() {
  // Connections left with no route (their DEALERs vanished from our ROUTER) are gone.
  // Dropped here, outside any handler that may still hold a reference to them.
  no_route_.clear();
  const int n = outbox_.flush(no_route_);
  for (const auto key : no_route_) {
    if (Connection* c = registry_.by_key(key)) drop_if_unreachable(*c);
  }
  return n;
}

bool Connections::drop_if_unreachable(Connection& c) {
  if (c.dealer || !c.identities.empty()) return false;
  remove(c, errc::peer_gone, "peer " + c.describe() + " gone: its connection closed");
  return true;
}

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

void Connections::dealer_keys(std::vector<std::uint64_t>& out) {
  registry_.visit([&](Connection& c) {
    if (c.dealer) out.push_back(c.key);
  });
}

zmq::socket_t* Connections::dealer(std::uint64_t key) {
  Connection* c = registry_.by_key(key);
  return c != nullptr && c->dealer ? &*c->dealer : nullptr;
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
  c->last_rx = SteadyClock::now();
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

void Connections::mark_ready(Connection& c) {
  if (!c.ready()) bump(ctx_.counters().connections);
  c.monitor.reset();  // the handshake is over
  c.state = ConnectionState::ready;
  c.last_rx = SteadyClock::now();
  if (gone_.erase(c.info.id) != 0) std::erase(gone_order_, c.info.id);
  events_.ready(c);
  // What waited for the greeting goes now, in order.
  while (!c.held.empty()) {
    HeldSend q = std::move(c.held.front());
    c.held.pop_front();
    // A request that timed out while it waited has failed already: do not send it.
    if (q.kind == Kind::request && q.deadline_unix_ms != 0 && unix_now_ms() > q.deadline_unix_ms) {
      continue;
    }
    Header h = ctx_.header(q.kind, q.correlation_id);
    h.type = q.type;
    h.deadline_unix_ms = q.deadline_unix_ms;
    h.flags = q.flags;
    outbox_.enqueue(c, Route{c.key}, ctx_.encode(h), std::move(q.payload));
  }
}

// ------------------------------------------------------------------ time

void Connections::check_handshakes() {
  const bool curve = ctx_.opts.curve.enabled();
  std::vector<std::pair<std::uint64_t, std::string>> failed;
  registry_.visit([&](Connection& c) {
    if (!c.monitor) return;
    while (auto e = c.monitor->next()) {
      if (!handshake_failed(*e, curve, c.handshake_closes)) continue;
      failed.emplace_back(c.key, e->reason(curve));
      return;
    }
  });
  for (const auto& [key, reason] : failed) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr) continue;
    bump(ctx_.counters().auth_failures);
    const std::string where = c->endpoint.empty() ? c->describe() : c->endpoint;
    std::string text = "handshake with " + where;
    text += " failed: ";
    text += reason;
    ctx_.log(LogEvent::auth_failed, LogLevel::warning, text);
    remove(*c, errc::auth_failed, text);
  }
}

void Connections::count_refused_handshakes() {
  if (!router_monitor_) return;
  while (auto e = router_monitor_->next()) {
    if (e->kind != HandshakeEvent::Kind::succeeded) ctx_.refused_handshake(*e);
  }
}

void Connections::on_timers(SteadyClock::time_point now, bool paused) {
  check_handshakes();
  count_refused_handshakes();
  std::vector<std::uint64_t> late;
  registry_.visit([&](Connection& c) {
    if (c.state == ConnectionState::greeting && now >= c.greeting_deadline) late.push_back(c.key);
  });
  for (const auto key : late) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr) continue;
    const std::string where = c->endpoint.empty() ? c->describe() : c->endpoint;
    remove(*c, errc::peer_unreachable,
           "no greeting from " + where + " within " + ms_text(ctx_.opts.connect_timeout));
  }
  if (now >= next_heartbeat_) heartbeat(now, paused);
}

void Connections::heartbeat(SteadyClock::time_point now, bool paused) {
  next_heartbeat_ = now + ctx_.opts.heartbeat_interval;
  for (const auto key : registry_.keys()) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr || !c->ready()) continue;
    const auto silence = now - c->last_rx;
    const auto verdict = liveness_.judge(silence, c->announced_interval);
    if (!paused && verdict == Liveness::Verdict::gone) {
      const std::string text = "peer " + c->describe() + " gone: silent for " + ms_text(silence);
      ctx_.log(LogEvent::peer_gone, LogLevel::info, text);
      remove(*c, errc::peer_gone, text);
      continue;
    }
    if (!paused && verdict == Liveness::Verdict::suspect && c->state != ConnectionState::suspect) {
      c->state = ConnectionState::suspect;
      ctx_.log(LogEvent::peer_suspect, LogLevel::info,
               "peer " + c->describe() + " suspect: silent for " + ms_text(silence));
    }
    c->ping_nonce = random_id();
    send_control(*c, Route{c->key}, ctx_.header(Kind::ping, ctx_.next_correlation()),
                 encode(Ping{c->ping_nonce, steady_now_us()}));
  }
}

void Connections::resume(SteadyClock::time_point now) {
  registry_.visit([&](Connection& c) { c.last_rx = std::max(c.last_rx, now); });
}

// ------------------------------------------------------------------ shutdown, snapshots

void Connections::goodbye(const std::string& text) {
  for (const auto key : registry_.keys()) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr) continue;
    for (auto& w : c->waiters) w->promise.set_exception(error_ptr(errc::shutting_down, text));
    c->waiters.clear();
    if (c->ready()) {
      zmq::message_t header = ctx_.encode(ctx_.header(Kind::bye, 0));
      zmq::message_t payload;
      (void)outbox_.send_now(*c, Route{c->key}, header, payload);
    }
  }
}

std::vector<ConnectionStats> Connections::snapshot(
    const std::function<std::size_t(PeerId)>& pending_for) {
  std::vector<ConnectionStats> out;
  registry_.visit([&](Connection& c) {
    ConnectionStats s;
    s.peer = c.info.id;
    s.name = c.info.name;
    s.endpoint = c.endpoint;
    s.state = c.state;
    s.outbound = c.dealer.has_value();
    s.sent = c.sent;
    s.received = c.received;
    s.pending = c.info.id != 0 ? pending_for(c.info.id) : 0;
    s.queued = c.held.size();
    s.queued_bytes = c.backlog_bytes;
    s.last_rtt = std::chrono::microseconds(c.last_rtt_us);
    out.push_back(std::move(s));
  });
  return out;
}

}  // namespace zmesh::detail
