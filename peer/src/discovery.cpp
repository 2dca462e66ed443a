#include "discovery.hpp"

#include <algorithm>
#include <set>

namespace zmesh::detail {
namespace {

MemberInfo member_info(const PeerInfo& p, std::uint64_t age_ms) {
  return MemberInfo{p.id, p.name, p.endpoints, p.pub_endpoints, p.services, age_ms};
}

/// Fastest retry while no broker answers (with ZMQ_IMMEDIATE nothing was sent before the
/// connection was up).
constexpr std::chrono::milliseconds kRegisterRetry{100};
/// Renewals that may go unanswered before we take the broker for gone.
constexpr int kMissedRenewals = 3;
/// A listing (all its pages) longer than this many times max_peer_records is taken for
/// a broker that misbehaves.
constexpr std::size_t kMaxListingPages = 10;

}  // namespace

void Discovery::Query::fail(errc code, const std::string& text) {
  auto e = error_ptr(code, text);
  if (members) members->promise.set_exception(e);
  if (connect) connect->promise.set_exception(e);
}

Discovery::Discovery(EngineContext& ctx, Events events)
    : ctx_(ctx), events_(std::move(events)), decoder_(ctx.opts.limits) {}

void Discovery::open() {
  if (ctx_.opts.broker.empty()) return;
  SocketTuning t = ctx_.tuning;
  t.immediate = true;  // nothing queues for a broker that is not there: timers retry
  broker_.emplace(make_dealer(ctx_.zmq, t));
  try {
    broker_->connect(ctx_.opts.broker);
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument,
                "cannot use broker '" + ctx_.opts.broker + "': " + e.what());
  }
  next_tick_ = SteadyClock::now();
}

void Discovery::close() noexcept {
  broker_.reset();
}

bool Discovery::send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload) {
  zmq::message_t header = ctx_.encode(ctx_.header(kind, correlation_id));
  // Best effort: with ZMQ_IMMEDIATE a broker that is down refuses at once; timers retry.
  if (!broker_->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
  broker_->send(payload, zmq::send_flags::none);
  return true;
}

void Discovery::ask(Query query) {
  const std::uint64_t corr = ctx_.next_correlation();
  const bool sent =
      send(Kind::lookup, corr, encode(Lookup{query.name, query.service, query.after}));
  // Not connected yet: ask again at the next tick instead of waiting for the timeout.
  query.resend_at = sent ? SteadyClock::time_point::max() : SteadyClock::now() + kRegisterRetry;
  queries_[corr] = std::move(query);
}

void Discovery::do_register() {
  send(Kind::reg, ctx_.next_correlation(),
       encode(Register{ctx_.self, static_cast<std::uint32_t>(ctx_.opts.registration_ttl.count())}));
}

void Discovery::refresh() {
  refresh_at_ = SteadyClock::time_point::max();
  refresh_present_.clear();
  refresh_correlation_ = ctx_.next_correlation();
  send(Kind::lookup, refresh_correlation_, encode(Lookup{}));
}

void Discovery::set_registration_error(std::string reason) {
  std::lock_guard lock(ctx_.shared.registration_mu);
  ctx_.shared.registration_error = std::move(reason);
}

void Discovery::unregistered() {
  registered_ = false;
  ctx_.shared.registered.store(false);
}

void Discovery::on_timers(SteadyClock::time_point now) {
  std::vector<Query> again;
  for (auto it = queries_.begin(); it != queries_.end();) {
    if (now >= it->second.deadline) {
      it->second.fail(errc::timeout,
                      "the broker at " + ctx_.opts.broker + " did not answer the lookup in time" +
                          (registered_ ? "" : " (it has not answered our registration either)"));
      it = queries_.erase(it);
    } else if (now >= it->second.resend_at) {
      again.push_back(std::move(it->second));
      it = queries_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& q : again) ask(std::move(q));
  if (registered_ && now >= refresh_at_) refresh();
  if (!broker_ || now < next_tick_) return;
  if (registered_ && now - last_ack_ > kMissedRenewals * renew_interval_) {
    unregistered();  // the broker is gone: register again until one answers
  }
  if (registered_) {
    send(Kind::renew, ctx_.next_correlation(), zmq::message_t());
    next_tick_ = now + renew_interval_;
  } else {
    do_register();
    // Refused (say, for our name): once per renew interval, not at the retry pace.
    next_tick_ = now + (refused_ ? renew_interval_ : std::min(renew_interval_, kRegisterRetry));
  }
}

int Discovery::read() {
  int n = 0;
  for (; n < kBurst && broker_; ++n) {
    if (!frames_.recv(*broker_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::dealer, frames_);
    if (!env) {
      bump(ctx_.counters().malformed);
      continue;
    }
    on_envelope(*env);
  }
  return n;
}

void Discovery::on_envelope(const Envelope& env) {
  const Header& h = env.header;
  switch (h.kind) {
    case Kind::register_ack: on_ack(env); break;
    case Kind::reject: {
      // DuplicateId: our previous session is still registered; it expires, and a later
      // attempt succeeds. DuplicateName: a live peer holds our name; we try again once
      // per renew interval and say why (Peer::registration_error()).
      auto rej = decode_control<Reject>(env.payload, ctx_.opts.limits);
      bump(ctx_.counters().registrations_refused);
      set_registration_error(rej ? std::string(wire_error_name(rej->code)) + ": " + rej->reason
                                 : std::string("refused (an undecodable Reject)"));
      refused_ = true;
      unregistered();
      next_tick_ = SteadyClock::now() + renew_interval_;
      break;
    }
    case Kind::error: {
      auto err = decode_control<ErrorReply>(env.payload, ctx_.opts.limits);
      if (err && err->code == WireError::unknown_peer) {
        // The broker does not know us (it restarted, or our entry expired).
        unregistered();
        do_register();
        break;
      }
      if (auto q = queries_.extract(h.correlation_id)) {
        q.mapped().fail(errc::remote_error, "broker: " + (err ? err->text : std::string("error")));
      }
      break;
    }
    case Kind::peer_list: {
      auto list = decode_control<PeerList>(env.payload, ctx_.opts.limits);
      if (!list) {
        bump(ctx_.counters().malformed);
        break;
      }
      on_list(h.correlation_id, std::move(*list));
      break;
    }
    case Kind::event: {
      auto ev = decode_control<Event>(env.payload, ctx_.opts.limits);
      if (!ev) {
        bump(ctx_.counters().malformed);
        break;
      }
      on_event(*ev);
      break;
    }
    case Kind::bye: unregistered(); break;  // the broker is stopping: register with the next
    default: break;                         // pongs and anything else
  }
}

void Discovery::on_ack(const Envelope& env) {
  auto ack = decode_control<RegisterAck>(env.payload, ctx_.opts.limits);
  if (!ack) {
    bump(ctx_.counters().malformed);
    return;
  }
  last_ack_ = SteadyClock::now();
  renew_interval_ = std::chrono::milliseconds(std::max<std::uint32_t>(ack->renew_interval_ms, 10));
  granted_ttl_ = std::chrono::milliseconds(ack->ttl_ms);
  if (registered_ && ack->epoch == epoch_) {
    // Every Event sent before this answer came before it on our connection: a higher
    // number than we saw means some were lost (dropped while we were slow, say).
    if (ack->event_sequence > event_sequence_) {
      event_sequence_ = ack->event_sequence;
      bump(ctx_.counters().membership_resyncs);
      refresh();
    }
    return;
  }
  registered_ = true;
  ctx_.shared.registered.store(true);
  if (refused_) set_registration_error({});
  refused_ = false;
  epoch_ = ack->epoch;
  event_sequence_ = ack->event_sequence;  // the next Event we get carries this + 1
  next_tick_ = last_ack_ + renew_interval_;
  // A (new) registration: take a full listing, events only tell what changes.
  refresh();
}

void Discovery::on_event(const Event& e) {
  if (e.epoch != epoch_) {
    // From a broker run we are not registered with: register there first.
    unregistered();
    do_register();
    return;
  }
  if (e.sequence != 0) {
    if (e.sequence <= event_sequence_) return;  // seen already
    if (e.sequence != event_sequence_ + 1) {
      // Events were lost: the listing tells what they would have.
      bump(ctx_.counters().membership_resyncs);
      refresh();
    }
    event_sequence_ = e.sequence;
  }
  auto apply = [&](EventType type, const PeerInfo& peer) {
    if (type == EventType::leave) {
      remove(peer.id);
      refresh_present_.erase(peer.id);
    } else {
      upsert(peer);
      if (refresh_correlation_ != 0) refresh_present_.insert(peer.id);
    }
  };
  apply(e.type, e.peer);
  for (const auto& c : e.more) apply(c.type, c.peer);
}

void Discovery::on_list(std::uint64_t correlation_id, PeerList list) {
  if (correlation_id != 0 && correlation_id == refresh_correlation_) {
    on_refresh_page(list);
    return;
  }
  auto q = queries_.extract(correlation_id);
  if (!q) return;
  Query query = std::move(q.mapped());
  for (auto& r : list.peers) query.records.push_back(std::move(r));
  if (list.next != 0) {
    // More pages: the cursor must move on, and the whole answer stay within our limit.
    if (list.next <= query.after ||
        query.records.size() > kMaxListingPages * ctx_.opts.limits.max_peer_records) {
      bump(ctx_.counters().malformed);
      query.fail(errc::malformed, "the broker at " + ctx_.opts.broker +
                                      " sent a listing that does not end (" +
                                      std::to_string(query.records.size()) + " records)");
      return;
    }
    query.after = list.next;
    ask(std::move(query));
    return;
  }
  answer(query, correlation_id, list.uptime_ms);
}

void Discovery::on_refresh_page(const PeerList& list) {
  for (const auto& r : list.peers) {
    refresh_present_.insert(r.peer.id);
    upsert(r.peer);
  }
  if (list.next != 0) {
    if (refresh_present_.size() > kMaxListingPages * ctx_.opts.limits.max_peer_records) {
      bump(ctx_.counters().malformed);  // a listing that does not end: keep what we have
      refresh_correlation_ = 0;
      refresh_present_.clear();
      return;
    }
    refresh_correlation_ = ctx_.next_correlation();
    send(Kind::lookup, refresh_correlation_, encode(Lookup{{}, {}, list.next}));
    return;
  }
  refresh_correlation_ = 0;
  const std::set<PeerId> present = std::exchange(refresh_present_, {});
  const auto uptime = std::chrono::milliseconds(list.uptime_ms);
  if (uptime < warm_up()) {
    // A broker that has just started knows only the peers that registered again so far;
    // the others do within its warm-up (protocol.md 5.7). Keep them, and list again then,
    // instead of dropping every member (and its publisher) for a moment.
    refresh_at_ = SteadyClock::now() + (warm_up() - uptime);
    return;
  }
  // The last page: whoever the listing did not show (nor an Event since) has gone.
  std::vector<PeerId> gone;
  for (const auto& [id, info] : members_) {
    if (present.count(id) == 0) gone.push_back(id);
  }
  for (const PeerId id : gone) remove(id);
}

std::chrono::milliseconds Discovery::warm_up() const {
  return std::max(2 * renew_interval_, granted_ttl_);
}

void Discovery::answer(Query& query, std::uint64_t correlation_id, std::uint64_t uptime_ms) {
  if (query.members) {
    std::vector<MemberInfo> out;
    out.reserve(query.records.size());
    for (const auto& r : query.records) out.push_back(member_info(r.peer, r.age_ms));
    query.members->promise.set_value(std::move(out));
    return;
  }
  std::size_t others = 0;
  for (const auto& r : query.records) {  // registration order: the first registered wins
    if (r.peer.id == ctx_.self.id) continue;
    ++others;
    upsert(r.peer);
    if (events_.connect(r.peer, query.connect)) return;
  }
  if (others > 0) {
    query.fail(errc::peer_unreachable,
               std::to_string(others) + " peer(s) named '" + query.name +
                   "' are registered with the broker but none can be reached (no endpoint)");
    return;
  }
  // A broker that has just started learns the live peers as they renew: each one
  // within its TTL (protocol.md 5.7). Ask again once that has passed, before saying no.
  const auto uptime = std::chrono::milliseconds(uptime_ms);
  if (uptime < warm_up()) {
    Query again = std::move(query);
    again.records.clear();
    again.after = 0;
    again.resend_at = SteadyClock::now() + (warm_up() - uptime);
    if (again.resend_at < again.deadline) {
      queries_.emplace(correlation_id, std::move(again));
      return;
    }
    again.fail(errc::unknown_peer, "no peer named '" + again.name +
                                       "' is registered yet: the broker at " + ctx_.opts.broker +
                                       " started " + std::to_string(uptime_ms) +
                                       " ms ago and live peers re-register within " +
                                       std::to_string(warm_up().count()) + " ms");
    return;
  }
  query.fail(errc::unknown_peer, "no peer named '" + query.name +
                                     "' is registered with the broker at " + ctx_.opts.broker);
}

bool Discovery::connect_first(const std::string& name, std::unique_ptr<ConnectCompletion>& done) {
  std::vector<std::pair<std::uint64_t, const PeerInfo*>> named;
  for (const auto& [id, info] : members_) {
    if (info.name == name) named.emplace_back(joined_[id], &info);
  }
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, info] : named) {
    if (events_.connect(*info, done)) return true;
  }
  return false;
}

void Discovery::upsert(const PeerInfo& info) {
  if (info.id == ctx_.self.id) return;
  auto it = members_.find(info.id);
  if (it == members_.end()) {
    joined_[info.id] = next_joined_++;
    events_.joined(members_.emplace(info.id, info).first->second);
    return;
  }
  if (it->second == info) return;
  // Announce the new record before retiring the old one: an unchanged publisher keeps
  // its SUB connection.
  const PeerInfo old = std::exchange(it->second, info);
  events_.joined(it->second);
  events_.left(old);
}

void Discovery::remove(PeerId id) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  const PeerInfo old = std::move(it->second);
  members_.erase(it);
  joined_.erase(id);
  events_.left(old);
}

std::vector<MemberInfo> Discovery::members() const {
  std::vector<MemberInfo> out;
  for (const auto& [id, info] : members_) out.push_back(member_info(info, 0));
  return out;
}

void Discovery::visit(const std::function<void(const PeerInfo&)>& fn) const {
  for (const auto& [id, info] : members_) fn(info);
}

void Discovery::lookup(std::string name, std::string service, const Deadline& deadline,
                       std::unique_ptr<MembersCompletion> done) {
  if (!broker_) {
    done->promise.set_exception(error_ptr(errc::unknown_peer, "no broker configured"));
    return;
  }
  ask(Query{std::move(done),
            nullptr,
            std::move(name),
            std::move(service),
            deadline.steady,
            SteadyClock::time_point::max(),
            0,
            {}});
}

void Discovery::connect_name(const std::string& name, const Deadline& deadline,
                             std::unique_ptr<ConnectCompletion> done) {
  if (connect_first(name, done)) return;
  if (!broker_) {
    done->promise.set_exception(error_ptr(
        errc::unknown_peer, "no peer named '" + name + "' is known (no broker is configured)"));
    return;
  }
  ask(Query{
      nullptr, std::move(done), name, {}, deadline.steady, SteadyClock::time_point::max(), 0, {}});
}

void Discovery::leave(const std::string& text) {
  for (auto& [corr, q] : queries_) q.fail(errc::shutting_down, text);
  queries_.clear();
  if (broker_ && registered_) send(Kind::bye, 0, zmq::message_t());  // leave at once
}

}  // namespace zmesh::detail
