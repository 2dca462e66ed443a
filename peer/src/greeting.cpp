// Connections, part two: the greeting (docs/protocol.md 5.1) — Hello out, Hello in,
// Welcome and Reject — with version negotiation and the duplicate-id rule, and
// mark_ready, which sends what waited for the greeting.
#include <string>

#include "connections.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

/// The versions this implementation speaks.
constexpr std::uint8_t kMinVersion = 1;
constexpr std::uint8_t kMaxVersion = kProtocolVersion;

std::string versions(std::uint8_t low, std::uint8_t high) {
  return low == high ? std::to_string(low) : std::to_string(low) + ".." + std::to_string(high);
}

/// The value rules a Hello or Welcome breaks when it decodes with bad_value.
std::string greeting_rules() {
  return "protocol_version >= 1 and >= min_protocol_version, heartbeat_interval_ms in " +
         std::to_string(kMinHeartbeatIntervalMs) + ".." + std::to_string(kMaxHeartbeatIntervalMs) +
         ", a PeerInfo with nonzero id and session and a 1..128-byte name";
}

}  // namespace

void Connections::send_hello(Connection& c) {
  if (c.ready()) detail::drop(ctx_.counters().connections);
  c.state = ConnectionState::greeting;
  c.hello_correlation = ctx_.next_correlation();
  c.greeting_deadline = SteadyClock::now() + ctx_.opts.connect_timeout;
  zmq::message_t header = ctx_.encode(ctx_.header(Kind::hello, c.hello_correlation));
  Hello hello{kMaxVersion, ctx_.self,
              static_cast<std::uint32_t>(ctx_.opts.heartbeat_interval.count()), kMinVersion};
  zmq::message_t payload = encode(hello);
  // A new DEALER queues this until its TCP connection is up; dropping it is no risk:
  // the greeting deadline fails the connect.
  (void)c.dealer->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)c.dealer->send(payload, zmq::send_flags::dontwait);
  ctx_.touched(*c.dealer);
}

bool Connections::live_elsewhere(const Connection& c, SteadyClock::time_point now) const {
  return c.ready() &&
         liveness_.judge(now - c.last_rx, c.announced_interval) == Liveness::Verdict::live;
}

void Connections::on_hello(std::string_view identity, const Envelope& env, const std::string& key) {
  auto reject = [&](WireError code, const std::string& reason) {
    bump(ctx_.counters().greetings_refused);
    zmq::message_t header = ctx_.encode(ctx_.header(Kind::reject, env.header.correlation_id));
    zmq::message_t payload = encode(Reject{code, reason});
    (void)outbox_.send_to(identity, header, payload);
  };
  // The decoder lets a Hello of any header version through so that it is answered here.
  if (env.header.version != kProtocolVersion) {
    reject(WireError::unsupported_version, "HELLO header version " +
                                               std::to_string(env.header.version) +
                                               ": Hello headers are always version 1");
    return;
  }
  // One rule for refused content: what does not decode is Malformed, what decodes but
  // breaks a value rule is BadRequest.
  auto hello = decode_control<Hello>(env.payload, ctx_.opts.limits);
  if (!hello) {
    bump(ctx_.counters().malformed);
    if (hello.error() == make_error_code(DecodeError::bad_value)) {
      reject(WireError::bad_request, "bad HELLO: it needs " + greeting_rules());
    } else {
      reject(WireError::malformed, "bad HELLO: " + hello.error().message());
    }
    return;
  }
  PeerInfo& who = hello->peer;
  if (who.id != env.header.sender_id || who.session != env.header.sender_session) {
    reject(WireError::bad_request, "HELLO peer id/session differ from its header");
    return;
  }
  if (ctx_.opts.curve.enabled()) {
    // The identity rule (docs/security.md): a peer's id is the one bound to the key it
    // authenticated with, and the key it announces is that key.
    const PeerId bound = peer_id_for_key(key);
    if (bound == 0 || who.id != bound || (!who.public_key.empty() && who.public_key != key)) {
      bump(ctx_.counters().identity_refused);
      const std::string why = "HELLO claims peer id " + id_to_hex(who.id) +
                              ", but the key it authenticated with (" + key + ") is bound to id " +
                              id_to_hex(bound);
      ctx_.log(LogEvent::identity_refused, LogLevel::warning, why);
      reject(WireError::not_allowed, why);
      return;
    }
    who.public_key = key;
  }
  // The version: the highest both speak, if the ranges meet.
  const std::uint8_t version = std::min(hello->protocol_version, kMaxVersion);
  if (version < std::max(hello->min_protocol_version, kMinVersion)) {
    reject(WireError::unsupported_version,
           "this peer speaks protocol version " + versions(kMinVersion, kMaxVersion) +
               "; the HELLO accepts " +
               versions(hello->min_protocol_version, hello->protocol_version));
    return;
  }
  if (who.id == ctx_.self.id) {
    reject(WireError::self_connect, "a peer cannot connect to itself");
    return;
  }
  if (ctx_.stopping) {
    reject(WireError::shutting_down, "peer is shutting down");
    return;
  }
  const auto now = SteadyClock::now();
  Connection* c = registry_.by_peer(who.id);
  if (c != nullptr && c->info.session != who.session) {
    // Same id, another session: a duplicate while the known session is live, its
    // restart once that one is suspect (the liveness rule, liveness.hpp).
    if (live_elsewhere(*c, now)) {
      reject(WireError::duplicate_id,
             "peer id " + id_to_hex(who.id) + " is in use by a live session");
      return;
    }
    remove(*c, errc::peer_gone, "peer " + c->describe() + " restarted");
    c = nullptr;
  }
  if (c == nullptr) {
    c = &registry_.create();
    c->info = who;
    registry_.index_peer(*c);
  }
  // One DEALER that greets again as another peer leaves its first connection; that one
  // is gone if nothing else reaches it.
  Connection* before = registry_.by_identity(identity);
  if (before != c) registry_.add_identity(*c, std::string(identity));
  if (before != nullptr && before != c) drop_if_unreachable(*before);
  if (c->state == ConnectionState::greeting && c->dealer) {
    // Our own greeting to it is under way too: its HELLO proves it is alive.
    c->info = who;
  }
  // A second Hello of the same session is welcomed again: nothing else changes.
  c->announced_interval = std::chrono::milliseconds(hello->heartbeat_interval_ms);
  mark_ready(*c);
  zmq::message_t header = ctx_.encode(ctx_.header(Kind::welcome, env.header.correlation_id));
  zmq::message_t payload = encode(Welcome{
      version, ctx_.self, static_cast<std::uint32_t>(ctx_.opts.heartbeat_interval.count())});
  (void)outbox_.send_to(identity, header, payload);
  for (auto& w : c->waiters) w->promise.set_value(c->info.id);
  c->waiters.clear();
}

void Connections::on_welcome(Connection& c, const Envelope& env) {
  if (c.state != ConnectionState::greeting || env.header.correlation_id != c.hello_correlation) {
    bump(ctx_.counters().unexpected);
    return;
  }
  auto welcome = decode_control<Welcome>(env.payload, ctx_.opts.limits);
  if (!welcome || welcome->peer.id != env.header.sender_id) {
    bump(ctx_.counters().malformed);
    remove(
        c, errc::malformed,
        "bad WELCOME from " + c.endpoint +
            (welcome ? ": its peer id differs from its header" : ": it needs " + greeting_rules()));
    return;
  }
  if (welcome->protocol_version < kMinVersion || welcome->protocol_version > kMaxVersion) {
    bump(ctx_.counters().malformed);
    remove(c, errc::unsupported_version,
           "peer at " + c.endpoint + " chose protocol version " +
               std::to_string(welcome->protocol_version) + "; we offered " +
               versions(kMinVersion, kMaxVersion));
    return;
  }
  PeerInfo& who = welcome->peer;
  if (ctx_.opts.curve.enabled()) {
    // The server proved it holds c.server_key: its id must be the one bound to that key.
    const PeerId bound = peer_id_for_key(c.server_key);
    if (who.id != bound || (!who.public_key.empty() && who.public_key != c.server_key)) {
      bump(ctx_.counters().identity_refused);
      remove(c, errc::not_allowed,
             "peer at " + c.endpoint + " answered as id " + id_to_hex(who.id) + ", but its key (" +
                 short_key(c.server_key) + ") is bound to id " + id_to_hex(bound));
      return;
    }
    who.public_key = c.server_key;
  }
  const auto now = SteadyClock::now();
  Connection* target = &c;
  if (Connection* other = registry_.by_peer(who.id); other != nullptr && other != &c) {
    if (other->info.session != who.session) {
      // Another process answers as a peer we are connected to: the same rule as for a
      // Hello — a duplicate while ours is live, its restart once ours is suspect.
      if (live_elsewhere(*other, now)) {
        leave(c, true, errc::duplicate_id,
              "peer at " + c.endpoint + " answered as id " + id_to_hex(who.id) +
                  ", which a live session (" + other->describe() + ") already uses");
        return;
      }
      remove(*other, errc::peer_gone, "peer " + other->describe() + " restarted");
    } else {
      // Already connected to that peer (another endpoint, or it connected to us):
      // one logical connection, so fold this attempt into it.
      if (auto spare = registry_.merge(c, *other)) {
        zmq::message_t header = ctx_.encode(ctx_.header(Kind::bye, 0));
        zmq::message_t payload;
        (void)spare->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        (void)spare->send(payload, zmq::send_flags::dontwait);
        set_close_linger(*spare, kByeLinger);
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
    events_.lost(target->info.id, errc::peer_gone, "peer " + target->describe() + " restarted");
    registry_.unindex_peer(*target);
  }
  const std::string endpoint = target->endpoint;
  target->info = who;
  target->endpoint = endpoint;
  target->announced_interval = std::chrono::milliseconds(welcome->heartbeat_interval_ms);
  registry_.index_peer(*target);
  mark_ready(*target);
  for (auto& w : target->waiters) w->promise.set_value(who.id);
  target->waiters.clear();
}

void Connections::on_reject(Connection& c, const Envelope& env) {
  if (c.state != ConnectionState::greeting || env.header.correlation_id != c.hello_correlation) {
    bump(ctx_.counters().unexpected);
    return;
  }
  auto reject = decode_control<Reject>(env.payload, ctx_.opts.limits);
  const errc code = reject ? to_errc(reject->code) : errc::rejected;
  const std::string reason = reject ? reject->reason : "malformed REJECT";
  const std::string where = c.endpoint.empty() ? c.describe() : c.endpoint;
  remove(c, code == errc::remote_error ? errc::rejected : code,
         "peer at " + where + " rejected the greeting: " + reason);
}

void Connections::mark_ready(Connection& c) {
  if (!c.ready()) bump(ctx_.counters().connections);
  c.monitor.reset();  // the handshake is over
  c.state = ConnectionState::ready;
  c.last_rx = SteadyClock::now();
  departures_.forget(c.info.id);
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

}  // namespace zmesh::detail
