// Engine: the broker client. One DEALER to the broker: register, renew, keep a live view
// of the membership from events (and a full listing after every registration), resolve
// names, and route requests addressed to a service.
#include <algorithm>

#include "engine.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

MemberInfo member_info(const PeerInfo& p, std::uint64_t age_ms) {
  return MemberInfo{p.id, p.name, p.endpoints, p.pub_endpoints, p.services, age_ms};
}

}  // namespace

void Engine::open_broker() {
  if (opts_.broker.empty()) return;
  SocketTuning t = tuning_;
  t.immediate = true;  // nothing queues for a broker that is not there: timers retry
  broker_.emplace(make_dealer(ctx_, t));
  try {
    broker_->connect(opts_.broker);
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument, "cannot use broker '" + opts_.broker + "': " + e.what());
  }
  next_broker_tick_ = SteadyClock::now();
}

void Engine::broker_send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload) {
  zmq::message_t header = encoder_.encode(header_for(kind, correlation_id));
  // Best effort: with ZMQ_IMMEDIATE a broker that is down refuses at once; timers retry.
  if (broker_->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    broker_->send(payload, zmq::send_flags::none);
  }
}

void Engine::broker_register() {
  register_correlation_ = next_correlation_++;
  broker_send(Kind::reg, register_correlation_,
              encode(Register{self_, static_cast<std::uint32_t>(opts_.registration_ttl.count())}));
}

void Engine::broker_timers(SteadyClock::time_point now) {
  for (auto it = queries_.begin(); it != queries_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    auto e = error_ptr(errc::timeout, "the broker did not answer");
    if (it->second.members) it->second.members->promise.set_exception(e);
    if (it->second.connect) it->second.connect->promise.set_exception(e);
    it = queries_.erase(it);
  }
  if (!broker_ || now < next_broker_tick_) return;
  if (registered_ && now - last_broker_ack_ > 3 * renew_interval_) {
    // Three renewals unanswered: the broker is gone. Register again until one answers.
    registered_ = false;
    shared_.registered.store(false);
  }
  if (registered_) {
    broker_send(Kind::renew, next_correlation_++, zmq::message_t());
    next_broker_tick_ = now + renew_interval_;
  } else {
    broker_register();
    // Until a broker answers, try often: with ZMQ_IMMEDIATE nothing was sent before
    // the connection was up.
    next_broker_tick_ = now + std::min(renew_interval_, std::chrono::milliseconds(100));
  }
}

int Engine::on_broker() {
  int n = 0;
  for (; n < kBurst; ++n) {
    if (!frames_.recv(*broker_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::dealer, frames_);
    if (!env) {
      bump(shared_.counters.malformed);
      continue;
    }
    const Header& h = env->header;
    switch (h.kind) {
      case Kind::register_ack: {
        auto ack = decode_control<RegisterAck>(env->payload, opts_.limits);
        if (!ack) {
          bump(shared_.counters.malformed);
          break;
        }
        last_broker_ack_ = SteadyClock::now();
        renew_interval_ =
            std::chrono::milliseconds(std::max<std::uint32_t>(ack->renew_interval_ms, 10));
        const bool new_epoch = ack->epoch != broker_epoch_;
        if (!registered_ || new_epoch) {
          registered_ = true;
          shared_.registered.store(true);
          broker_epoch_ = ack->epoch;
          next_broker_tick_ = last_broker_ack_ + renew_interval_;
          // A (new) registration: take a full listing, events only tell what changes.
          refresh_correlation_ = next_correlation_++;
          broker_send(Kind::lookup, refresh_correlation_, encode(Lookup{}));
        }
        break;
      }
      case Kind::reject: {
        // DuplicateId: our previous session is still registered; it expires, and the
        // next attempt (at the next tick) succeeds.
        registered_ = false;
        shared_.registered.store(false);
        break;
      }
      case Kind::error: {
        auto err = decode_control<ErrorReply>(env->payload, opts_.limits);
        if (err && err->code == WireError::unknown_peer) {
          // The broker does not know us (it restarted, or our entry expired).
          registered_ = false;
          shared_.registered.store(false);
          broker_register();
          break;
        }
        if (auto q = queries_.extract(h.correlation_id)) {
          auto e =
              error_ptr(errc::remote_error, "broker: " + (err ? err->text : std::string("error")));
          if (q.mapped().members) q.mapped().members->promise.set_exception(e);
          if (q.mapped().connect) q.mapped().connect->promise.set_exception(e);
        }
        break;
      }
      case Kind::peer_list: {
        auto list = decode_control<PeerList>(env->payload, opts_.limits);
        if (!list) {
          bump(shared_.counters.malformed);
          break;
        }
        on_peer_list(h.correlation_id, std::move(*list));
        break;
      }
      case Kind::event: {
        auto ev = decode_control<Event>(env->payload, opts_.limits);
        if (!ev) {
          bump(shared_.counters.malformed);
          break;
        }
        on_broker_event(*ev);
        break;
      }
      case Kind::bye:
        // The broker is stopping: register with the next one as soon as it answers.
        registered_ = false;
        shared_.registered.store(false);
        break;
      default: break;  // pongs and anything else
    }
  }
  return n;
}

void Engine::on_broker_event(const Event& e) {
  if (e.epoch != broker_epoch_) {
    // From a broker run we are not registered with: register there first.
    registered_ = false;
    shared_.registered.store(false);
    broker_register();
    return;
  }
  if (e.type == EventType::leave) {
    member_remove(e.peer.id);
  } else {
    member_upsert(e.peer);
  }
}

void Engine::on_peer_list(std::uint64_t correlation_id, PeerList list) {
  if (correlation_id == refresh_correlation_) {
    std::set<PeerId> present;
    for (const auto& r : list.peers) {
      present.insert(r.peer.id);
      member_upsert(r.peer);
    }
    std::vector<PeerId> gone;
    for (const auto& [id, info] : members_) {
      if (present.count(id) == 0) gone.push_back(id);
    }
    for (const PeerId id : gone) member_remove(id);
    return;
  }
  auto q = queries_.extract(correlation_id);
  if (!q) return;
  BrokerQuery& query = q.mapped();
  if (query.members) {
    std::vector<MemberInfo> out;
    for (const auto& r : list.peers) out.push_back(member_info(r.peer, r.age_ms));
    query.members->promise.set_value(std::move(out));
    return;
  }
  for (const auto& r : list.peers) {
    if (r.peer.id == self_.id) continue;
    member_upsert(r.peer);
    if (Connection* c = ensure_connection(r.peer)) {
      if (c->ready()) {
        query.connect->promise.set_value(c->info.id);
      } else {
        c->waiters.push_back(std::move(query.connect));
      }
      return;
    }
  }
  query.connect->promise.set_exception(
      error_ptr(errc::unknown_peer, "no reachable peer named '" + query.name + "'"));
}

void Engine::member_upsert(const PeerInfo& info) {
  if (info.id == self_.id) return;
  auto it = members_.find(info.id);
  // Follow its publisher before forgetting the old endpoints: an unchanged endpoint
  // keeps its SUB connection.
  for (const auto& e : info.pub_endpoints) sub_ref(e, +1);
  if (it != members_.end()) {
    for (const auto& e : it->second.pub_endpoints) sub_ref(e, -1);
    it->second = info;
  } else {
    members_.emplace(info.id, info);
  }
}

void Engine::member_remove(PeerId id) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  for (const auto& e : it->second.pub_endpoints) sub_ref(e, -1);
  members_.erase(it);
}

void Engine::cmd_members(const CommandMeta& meta) {
  auto done = adopt_ptr<MembersCompletion>(meta.completion);
  std::vector<MemberInfo> out;
  for (const auto& [id, info] : members_) out.push_back(member_info(info, 0));
  done->promise.set_value(std::move(out));
}

void Engine::cmd_lookup(const CommandMeta& meta, std::string name, std::string service) {
  auto done = adopt_ptr<MembersCompletion>(meta.completion);
  if (!broker_) {
    done->promise.set_exception(error_ptr(errc::unknown_peer, "no broker configured"));
    return;
  }
  const std::uint64_t corr = next_correlation_++;
  broker_send(Kind::lookup, corr, encode(Lookup{std::move(name), std::move(service)}));
  queries_[corr] =
      BrokerQuery{std::move(done),
                  nullptr,
                  {},
                  SteadyClock::time_point(std::chrono::microseconds(meta.deadline_us))};
}

void Engine::cmd_connect_name(const CommandMeta& meta, const std::string& name) {
  auto done = adopt_ptr<ConnectCompletion>(meta.completion);
  for (const auto& [id, info] : members_) {
    if (info.name != name) continue;
    if (Connection* c = ensure_connection(info)) {
      if (c->ready()) {
        done->promise.set_value(c->info.id);
      } else {
        c->waiters.push_back(std::move(done));
      }
      return;
    }
  }
  if (!broker_) {
    done->promise.set_exception(
        error_ptr(errc::unknown_peer, "no peer named '" + name + "' (no broker)"));
    return;
  }
  const std::uint64_t corr = next_correlation_++;
  broker_send(Kind::lookup, corr, encode(Lookup{name, {}}));
  queries_[corr] =
      BrokerQuery{nullptr, std::move(done), name,
                  SteadyClock::time_point(std::chrono::microseconds(meta.deadline_us))};
}

Connection* Engine::ensure_connection(const PeerInfo& info) {
  if (Connection* c = registry_.by_peer(info.id)) return c;
  if (info.endpoints.empty() || info.id == self_.id) return nullptr;
  zmq::socket_t dealer = make_dealer(ctx_, tuning_);
  try {
    dealer.connect(info.endpoints.front());
  } catch (const zmq::error_t&) {
    return nullptr;
  }
  // Indexed under the id we expect at once, so that sends queue behind the greeting.
  Connection& c = registry_.create();
  c.info = info;
  c.endpoint = info.endpoints.front();
  c.dealer.emplace(std::move(dealer));
  registry_.index_peer(c);
  registry_.index_endpoint(c);
  send_hello(c);
  return &c;
}

bool Engine::send_app(Connection& c, Kind kind, std::uint64_t correlation_id, std::string_view type,
                      zmq::message_t payload, std::uint64_t deadline_unix_ms) {
  if (!c.ready()) {
    if (c.queued.size() >= opts_.greeting_queue_depth) return false;
    c.queued.push_back(
        QueuedSend{kind, std::string(type), std::move(payload), correlation_id, deadline_unix_ms});
    return true;
  }
  Header h = header_for(kind, correlation_id);
  h.type = type;
  h.deadline_unix_ms = deadline_unix_ms;
  send_or_hold(c, Route{c.key}, encoder_.encode(h), std::move(payload));
  return true;
}

bool Engine::route_service(PendingRequest& r, std::uint64_t correlation_id) {
  auto& retry = *r.retry;
  // Candidates: members offering the service and connected peers that announced it,
  // in id order, less the ones this request already tried.
  std::vector<const PeerInfo*> candidates;
  auto offers = [&](const PeerInfo& p) {
    return p.id != self_.id &&
           std::find(p.services.begin(), p.services.end(), retry.service) != p.services.end() &&
           std::find(retry.tried.begin(), retry.tried.end(), p.id) == retry.tried.end();
  };
  for (const auto& [id, info] : members_) {
    if (offers(info)) candidates.push_back(&info);
  }
  registry_.visit([&](Connection& c) {
    if (c.ready() && offers(c.info) && members_.count(c.info.id) == 0)
      candidates.push_back(&c.info);
  });
  std::sort(candidates.begin(), candidates.end(),
            [](const PeerInfo* a, const PeerInfo* b) { return a->id < b->id; });
  for (std::size_t tries = 0; tries < candidates.size(); ++tries) {
    const PeerInfo& pick = *candidates[service_turn_[retry.service]++ % candidates.size()];
    Connection* c = ensure_connection(pick);
    if (c == nullptr) continue;
    r.to = c->info.id;
    retry.tried.push_back(r.to);
    zmq::message_t payload;
    payload.copy(retry.payload);
    const std::string type = retry.type;
    const std::uint64_t deadline_ms = retry.deadline_unix_ms;
    pending_.add(correlation_id, std::move(r));
    if (!send_app(*c, Kind::request, correlation_id, type, std::move(payload), deadline_ms)) {
      auto back = pending_.take(correlation_id);
      r = std::move(*back);
      continue;
    }
    return true;
  }
  return false;
}

void Engine::cmd_request_service(const CommandMeta& meta, FrameSet& frames) {
  auto done = adopt_ptr<RequestCompletion>(meta.completion);
  const std::uint64_t corr = next_correlation_++;
  bump(shared_.counters.pending);
  PendingRequest r{0, SteadyClock::time_point(std::chrono::microseconds(meta.deadline_us)),
                   std::move(done), std::make_unique<PendingRequest::Retry>()};
  r.retry->service = std::string(view_of(frames[3]));
  r.retry->type = std::string(view_of(frames[1]));
  r.retry->payload = std::move(frames[2]);
  r.retry->deadline_unix_ms = meta.deadline_unix_ms;
  if (stopping_) return fail(std::move(r), corr, errc::shutting_down, "peer is shutting down");
  bump(shared_.counters.requests_sent);
  if (route_service(r, corr)) return;
  const std::string service = r.retry->service;
  r.retry.reset();  // nothing to move to
  fail(std::move(r), corr, errc::unknown_peer,
       "no reachable peer offers service '" + service + "'");
}

}  // namespace zmesh::detail
