// Connections, part one: opening and closing the ROUTER, making and removing
// connections (connect, ensure, disconnect, leave), and the snapshot. Reading is in
// connections_read.cpp, sending in connections_send.cpp, the greeting in greeting.cpp,
// timers and liveness in connections_liveness.cpp.
#include "connections.hpp"

#include "zmesh/core/curve.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

using std::chrono::milliseconds;

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

void Connections::remove(Connection& c, errc code, const std::string& text) {
  for (auto& w : c.waiters) w->promise.set_exception(error_ptr(code, text));
  c.waiters.clear();
  if (c.info.id != 0) {
    events_.lost(c.info.id, code, text);
    departures_.remember(c.info.id, text);
  }
  if (c.ready()) detail::drop(ctx_.counters().connections);
  c.state = ConnectionState::gone;
  events_.closing(c);
  outbox_.forget(c.key);
  registry_.erase(c.key);
}

std::string Connections::gone_reason(PeerId peer) const {
  return departures_.reason(peer);
}

// ------------------------------------------------------------------ sockets, for the loop

void Connections::dealer_keys(std::vector<std::uint64_t>& out) {
  registry_.visit([&](Connection& c) {
    if (c.dealer) out.push_back(c.key);
  });
}

zmq::socket_t* Connections::dealer(std::uint64_t key) {
  Connection* c = registry_.by_key(key);
  return c != nullptr && c->dealer ? &*c->dealer : nullptr;
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
