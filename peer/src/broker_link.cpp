#include "broker_link.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace zmesh::detail {
namespace {

/// Fastest retry while no broker answers (with ZMQ_IMMEDIATE nothing was sent before the
/// connection was up).
constexpr std::chrono::milliseconds kRegisterRetry{100};
/// Renewals (or, lookup-only, pings) that may go unanswered before we take the broker
/// for gone.
constexpr int kMissedRenewals = 3;
/// How often a lookup-only link pings its broker (it has no renewals to tell it is there).
constexpr std::chrono::milliseconds kPingInterval{1000};
/// What a lookup-only client assumes a broker needs to hear from every live peer after a
/// restart (it is told no TTL): the broker's default TTL.
constexpr std::chrono::milliseconds kDefaultWarmUp{10000};
/// Longest pause between attempts to reach a broker that is down.
constexpr std::chrono::milliseconds kReconnectMax{500};
}  // namespace

BrokerLink::BrokerLink(EngineContext& ctx, std::string endpoint, std::string server_key,
                       bool register_self, Hooks hooks)
    : ctx_(ctx),
      endpoint_(std::move(endpoint)),
      server_key_(std::move(server_key)),
      register_self_(register_self),
      hooks_(std::move(hooks)),
      decoder_(ctx.opts.limits) {}

void BrokerLink::open() {
  SocketTuning t = ctx_.tuning;
  t.immediate = true;  // nothing queues for a broker that is not there: timers retry
  // A restarted broker is found again within half a second (ZeroMQ's reconnect backoff
  // would otherwise grow to 2 s): a peer has few brokers, trying one is cheap.
  t.reconnect_ivl_max = kReconnectMax;
  socket_.emplace(make_dealer(ctx_.zmq, t));
  set_curve_client(*socket_, ctx_.opts.curve, server_key_);
  monitor_.emplace(ctx_.zmq, *socket_);
  try {
    if (endpoint_.find('[') != std::string::npos) socket_->set(zmq::sockopt::ipv6, 1);
    socket_->connect(endpoint_);
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument, "cannot use broker '" + endpoint_ + "': " + e.what());
  }
  next_tick_ = SteadyClock::now();
}

void BrokerLink::close() noexcept {
  monitor_.reset();
  socket_.reset();
}

std::chrono::milliseconds BrokerLink::window() const noexcept {
  return register_self_ ? kMissedRenewals * renew_interval_ : kMissedRenewals * kPingInterval;
}

bool BrokerLink::live(SteadyClock::time_point now) const noexcept {
  return last_heard_ != SteadyClock::time_point{} && now - last_heard_ <= window();
}

bool BrokerLink::stale(SteadyClock::time_point now) const noexcept {
  const auto limit = register_self_ ? std::max(granted_ttl_, window()) : window();
  return last_heard_ != SteadyClock::time_point{} && now - last_heard_ > limit;
}

std::chrono::milliseconds BrokerLink::warm_up() const noexcept {
  if (register_self_ && granted_ttl_.count() != 0)
    return std::max(2 * renew_interval_, granted_ttl_);
  return told_warm_up_.count() != 0 ? told_warm_up_ : kDefaultWarmUp;
}

bool BrokerLink::young(SteadyClock::time_point now) const noexcept {
  return broker_started_ != SteadyClock::time_point{} && now - broker_started_ < warm_up();
}

bool BrokerLink::send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload) {
  zmq::message_t header = ctx_.encode(ctx_.header(kind, correlation_id));
  // Best effort: with ZMQ_IMMEDIATE a broker that is down refuses at once; timers retry.
  if (!socket_->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
  socket_->send(payload, zmq::send_flags::none);
  return true;
}

bool BrokerLink::send_lookup(std::uint64_t correlation_id, const Lookup& lookup) {
  return send(Kind::lookup, correlation_id, encode(lookup));
}

void BrokerLink::do_register() {
  send(Kind::reg, ctx_.next_correlation(),
       encode(Register{ctx_.self, static_cast<std::uint32_t>(ctx_.opts.registration_ttl.count())}));
}

void BrokerLink::refresh() {
  refresh_at_ = SteadyClock::time_point::max();
  refresh_present_.clear();
  refresh_correlation_ = ctx_.next_correlation();
  refresh_started_ = SteadyClock::now();
  if (!send(Kind::lookup, refresh_correlation_, encode(Lookup{}))) {
    refresh_correlation_ = 0;  // not connected: try again shortly
    refresh_at_ = SteadyClock::now() + kRegisterRetry;
  }
}

void BrokerLink::unregistered() {
  if (!registered_) return;
  registered_ = false;
  hooks_.changed();
}

void BrokerLink::forget_view() {
  const bool was_listed = listed_;
  listed_ = false;
  while (!view_.empty()) remove(view_.begin()->first);
  if (was_listed) hooks_.changed();  // membership_listed() follows
}

void BrokerLink::check_handshake() {
  if (!monitor_) return;
  const bool curve = ctx_.opts.curve.enabled();
  while (auto e = monitor_->next()) {
    std::string error;
    const bool failed = handshake_failed(*e, curve, closes_);
    if (!failed && e->kind != HandshakeEvent::Kind::succeeded) continue;  // not decided yet
    if (failed) {
      error = "handshake with the broker at " + endpoint_ + " failed: " + e->reason(curve);
      if (auth_error_.empty()) {
        bump(ctx_.counters().auth_failures);
        ctx_.log(LogEvent::broker_auth_failed, LogLevel::warning, error);
      }
    }
    if (error != auth_error_) {
      auth_error_ = std::move(error);
      hooks_.changed();
    }
  }
}

void BrokerLink::on_timers(SteadyClock::time_point now) {
  check_handshake();
  if (const bool is_live = live(now); is_live != was_live_) {
    // Heard from for the first time, lost, or back: tell the operator (not the first time).
    if (!is_live) {
      ctx_.log(LogEvent::broker_lost, LogLevel::warning,
               "the broker at " + endpoint_ + " does not answer");
    } else if (ever_live_) {
      ctx_.log(LogEvent::broker_back, LogLevel::info,
               "the broker at " + endpoint_ + " answers again");
    }
    ever_live_ = ever_live_ || is_live;
    was_live_ = is_live;
  }
  const bool may_list = registered_ || !register_self_;
  if (may_list && now >= refresh_at_) refresh();
  // A listing whose answer was lost (dropped at a full queue, say) starts over.
  if (may_list && refresh_correlation_ != 0 && now - refresh_started_ > window()) refresh();
  if (!socket_ || now < next_tick_) return;
  if (!register_self_) {
    // Lookup-only: a Ping tells whether the broker is there; a listing per
    // membership_refresh keeps the view (0: no view).
    send(Kind::ping, ctx_.next_correlation(), zmq::message_t());
    if (ctx_.opts.membership_refresh.count() > 0 && !listed_ && refresh_correlation_ == 0 &&
        refresh_at_ == SteadyClock::time_point::max()) {
      refresh();
    }
    next_tick_ = now + kPingInterval;
    return;
  }
  if (registered_ && now - last_ack_ > kMissedRenewals * renew_interval_) {
    unregistered();  // the broker is gone: register again until one answers
  }
  if (registered_) {
    send(Kind::renew, ctx_.next_correlation(), zmq::message_t());
    next_tick_ = now + renew_interval_;
  } else {
    do_register();
    // Refused (say, for our name): once per renew interval, not at the retry pace.
    next_tick_ =
        now + (!refusal_.empty() ? renew_interval_ : std::min(renew_interval_, kRegisterRetry));
  }
}

int BrokerLink::read() {
  int n = 0;
  for (; n < kBurst && socket_; ++n) {
    if (!frames_.recv(*socket_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::dealer, frames_);
    if (!env) {
      bump(ctx_.counters().malformed);
      continue;
    }
    last_heard_ = SteadyClock::now();
    on_envelope(*env);
  }
  return n;
}

void BrokerLink::on_envelope(const Envelope& env) {
  const Header& h = env.header;
  switch (h.kind) {
    case Kind::register_ack: on_ack(env); break;
    case Kind::reject: {
      // DuplicateId: our previous session is still registered; it expires, and a later
      // attempt succeeds. DuplicateName: a live peer holds our name; we try again once
      // per renew interval and say why (Peer::registration_error()).
      auto rej = decode_control<Reject>(env.payload, ctx_.opts.limits);
      refusal_ = rej ? std::string(wire_error_name(rej->code)) + ": " + rej->reason
                     : std::string("refused (an undecodable Reject)");
      registered_ = false;
      next_tick_ = SteadyClock::now() + renew_interval_;
      hooks_.changed();
      ctx_.log(LogEvent::registration_refused, LogLevel::warning,
               "the broker at " + endpoint_ + " refused our registration: " + refusal_);
      // Counted once registration_error() says why: whoever sees the count sees the reason.
      bump(ctx_.counters().registrations_refused);
      break;
    }
    case Kind::error: {
      auto err = decode_control<ErrorReply>(env.payload, ctx_.opts.limits);
      if (register_self_ && err && err->code == WireError::unknown_peer &&
          h.correlation_id != refresh_correlation_) {
        // The broker does not know us (it restarted, or our entry expired).
        unregistered();
        do_register();
        break;
      }
      if (h.correlation_id == refresh_correlation_) {
        refresh_correlation_ = 0;
        refresh_at_ = SteadyClock::now() + renew_interval_;
        break;
      }
      hooks_.failed(*this, h.correlation_id, err ? err->text : std::string("error"));
      break;
    }
    case Kind::peer_list: {
      auto list = decode_control<PeerList>(env.payload, ctx_.opts.limits);
      if (!list) {
        bump(ctx_.counters().malformed);
        break;
      }
      // When the broker started and how long it fills up, whichever page says it.
      broker_started_ = last_heard_ - std::chrono::milliseconds(list->uptime_ms);
      if (list->warm_up_ms != 0) told_warm_up_ = std::chrono::milliseconds(list->warm_up_ms);
      if (h.correlation_id != 0 && h.correlation_id == refresh_correlation_) {
        on_refresh_page(*list);
      } else {
        hooks_.listed(*this, h.correlation_id, std::move(*list));
      }
      break;
    }
    case Kind::event: {
      if (!register_self_) break;  // not ours: we are not registered
      auto ev = decode_control<Event>(env.payload, ctx_.opts.limits);
      if (!ev) {
        bump(ctx_.counters().malformed);
        break;
      }
      on_event(*ev);
      break;
    }
    case Kind::bye: unregistered(); break;  // the broker is stopping: register again later
    default: break;                         // pongs and anything else
  }
}

void BrokerLink::on_ack(const Envelope& env) {
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
  refusal_.clear();
  epoch_ = ack->epoch;
  event_sequence_ = ack->event_sequence;  // the next Event we get carries this + 1
  next_tick_ = last_ack_ + renew_interval_;
  hooks_.changed();
  // A (new) registration: take a full listing, events only tell what changes.
  refresh();
}

void BrokerLink::on_event(const Event& e) {
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

void BrokerLink::on_refresh_page(const PeerList& list) {
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
    if (!send(Kind::lookup, refresh_correlation_, encode(Lookup{{}, {}, list.next}))) {
      refresh_correlation_ = 0;
      refresh_at_ = SteadyClock::now() + kRegisterRetry;
    }
    return;
  }
  refresh_correlation_ = 0;
  const std::set<PeerId> present = std::exchange(refresh_present_, {});
  const auto now = SteadyClock::now();
  if (!register_self_ && ctx_.opts.membership_refresh.count() > 0) {
    refresh_at_ = now + ctx_.opts.membership_refresh;
  }
  const auto uptime = std::chrono::milliseconds(list.uptime_ms);
  if (uptime < warm_up()) {
    // A broker that has just started knows only the peers that registered again so far;
    // the others do within its warm-up (protocol.md 5.7). Keep them, and list again then,
    // instead of dropping every member (and its publisher) for a moment.
    refresh_at_ = std::min(refresh_at_, now + (warm_up() - uptime));
    if (!listed_) {
      listed_ = true;
      hooks_.changed();
    }
    return;
  }
  // The last page: whoever the listing did not show (nor an Event since) has gone.
  std::vector<PeerId> gone;
  for (const auto& [id, info] : view_) {
    if (present.count(id) == 0) gone.push_back(id);
  }
  for (const PeerId id : gone) remove(id);
  if (!listed_) {
    listed_ = true;
    hooks_.changed();
  }
}

void BrokerLink::leave() {
  if (socket_ && registered_) send(Kind::bye, 0, zmq::message_t());  // leave at once
}

void BrokerLink::upsert(const PeerInfo& info) {
  if (info.id == ctx_.self.id) return;
  auto it = view_.find(info.id);
  if (it == view_.end()) {
    hooks_.seen(*this, view_.emplace(info.id, info).first->second);
    return;
  }
  if (it->second == info) return;
  it->second = info;
  hooks_.seen(*this, it->second);
}

void BrokerLink::remove(PeerId id) {
  if (view_.erase(id) == 0) return;
  hooks_.gone(*this, id);
}

}  // namespace zmesh::detail
