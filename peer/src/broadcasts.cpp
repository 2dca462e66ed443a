#include "broadcasts.hpp"

#include <algorithm>

#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

constexpr std::string_view kMarkerPrefix{"\0zmesh.sync.", 12};
SocketTuning tuning_for(const PeerOptions& o, int send_hwm, int recv_hwm) {
  return SocketTuning{send_hwm, recv_hwm, o.limits, std::chrono::milliseconds(100),
                      std::chrono::milliseconds(2000)};
}

/// Our XPUB, not bound yet. make_xpub bounds what comes in (subscriptions) itself, its
/// receive HWM included: only the send side is ours to tune.
zmq::socket_t new_xpub(EngineContext& ctx) {
  const PeerOptions& o = ctx.opts;
  zmq::socket_t s = make_xpub(ctx.zmq, tuning_for(o, o.pub_hwm, SocketTuning{}.recv_hwm));
  set_curve_server(s, o.curve);
  return s;
}

}  // namespace

Broadcasts::Broadcasts(EngineContext& ctx, Dispatcher& dispatcher)
    : ctx_(ctx), dispatcher_(dispatcher), decoder_(ctx.opts.limits), retained_(ctx.opts.retain) {}

std::string Broadcasts::open() {
  sub_ = make_sub(ctx_.zmq, tuning_for(ctx_.opts, ctx_.opts.send_hwm, ctx_.opts.sub_hwm));
  sub_monitor_.emplace(ctx_.zmq, sub_);
  // Every publisher's heartbeat; entries for topics we do not subscribe to are skipped.
  sub_.set(zmq::sockopt::subscribe, kSequencesTopic);
  for (const auto& prefix : ctx_.shared.subscriptions->prefixes()) subscribe(prefix);
  if (ctx_.opts.pub_bind.empty()) return {};
  xpub_.emplace(new_xpub(ctx_));
  prepare_xpub();
  try {
    xpub_endpoint_ = bind_resolved(*xpub_, ctx_.opts.pub_bind);
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument, "cannot bind '" + ctx_.opts.pub_bind + "': " + e.what());
  }
  return ctx_.opts.pub_advertise.empty() ? xpub_endpoint_ : ctx_.opts.pub_advertise;
}

void Broadcasts::close(std::chrono::milliseconds linger) noexcept {
  try {
    if (xpub_) set_close_linger(*xpub_, linger);
  } catch (const zmq::error_t&) {
    // The context is shutting down: the socket closes all the same.
  }
  release_held();
  xpub_monitor_.reset();
  xpub_.reset();
  links_.clear();
  sub_monitor_.reset();
  if (sub_) sub_.close();
}

// ------------------------------------------------------------------ publishing

zmq::message_t Broadcasts::number(std::size_t rule, std::string_view topic, std::string_view type,
                                  const zmq::message_t& payload) {
  Header h = ctx_.header(Kind::publish, 0);
  h.type = type;
  h.sequence = sequences_.next(topic);
  if (retained_.enabled()) retained_.keep(topic, type, h.sequence, view_of(payload));
  bump(ctx_.counters().published);
  bump(ctx_.shared.policies->counters(rule).published);
  return ctx_.encode(h);
}

int Broadcasts::read_xpub() {
  // Read past the usual burst, up to the bound: a flood must meet the bound before
  // libzmq has filed much more of it, so the count is checked after every message.
  // Still bounded work per round.
  const std::size_t most = std::max<std::size_t>(kBurst, ctx_.opts.max_subscriptions + 1);
  std::size_t n = 0;
  zmq::message_t event;
  for (; n < most && xpub_ && xpub_->recv(event, zmq::recv_flags::dontwait); ++n) {
    // [1|0][topic]: a subscription or the last unsubscription of a topic. A marker
    // subscription means all that subscriber's earlier ones are in effect: answer it
    // with a Sync on the marker topic.
    const std::string_view e = view_of(event);
    if (e.empty() || e[0] > 1) continue;  // not a subscription: nothing for us
    const std::string_view topic = e.substr(1);
    if (e[0] == 0) {
      xpub_topics_.erase(std::string(topic));
      continue;
    }
    xpub_topics_.emplace(topic);
    if (xpub_topics_.size() > ctx_.opts.max_subscriptions) {
      reopen_xpub();
      break;
    }
    if (topic.starts_with(kLastPrefix)) {
      answer_last(topic);
      continue;
    }
    if (!topic.starts_with(kMarkerPrefix)) {
      if (topic != kSequencesTopic) bump(ctx_.counters().subscriptions_seen);
      continue;
    }
    zmq::message_t header = ctx_.encode(ctx_.header(Kind::sync, 0));
    // Only that subscriber matches its marker: room for it unless it is far behind.
    if (!begin_message(zmq::buffer(topic.data(), topic.size()))) continue;
    xpub_->send(header, zmq::send_flags::sndmore);
    xpub_->send(zmq::message_t(), zmq::send_flags::none);
  }
  return static_cast<int>(n);
}

void Broadcasts::reopen_xpub() {
  // Someone holds more subscriptions than we allow (real subscribers subscribe to a
  // few prefixes each). libzmq cannot drop one subscriber's, so drop everyone's:
  // subscribers reconnect and subscribe again by themselves.
  bump(ctx_.counters().subscriptions_refused, xpub_topics_.size());
  xpub_topics_.clear();
  try {
    set_close_linger(*xpub_, std::chrono::milliseconds(0));
  } catch (const zmq::error_t&) {
  }
  xpub_monitor_.reset();
  xpub_.reset();
  links_.clear();
  xpub_retry_ = SteadyClock::now();
  on_timers(xpub_retry_);
}

// ------------------------------------------------------------------ subscribing

int Broadcasts::read_sub() {
  return read_sub(frames_, false);
}

int Broadcasts::read_sub(FrameSet& frames, bool drain) {
  int n = 0;
  // Network reads pause while the workers are behind (the Dispatcher holds work).
  for (; n < kBurst && (drain || !dispatcher_.paused()); ++n) {
    if (!frames.recv(sub_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::sub, frames);
    if (!env) {
      bump(ctx_.counters().malformed);
      continue;
    }
    const Header& h = env->header;
    if (h.kind == Kind::sync) {
      on_sync(env->topic, h.sender_id);
      continue;
    }
    if (h.kind == Kind::publish && env->topic.starts_with(kLastPrefix)) {
      on_retained(*env, frames);
      continue;
    }
    if (h.kind == Kind::sequences && env->topic == kSequencesTopic) {
      on_sequences(*env);
      continue;
    }
    if (h.kind != Kind::publish || env->topic.starts_with('\0')) {
      bump(ctx_.counters().unexpected);
      continue;
    }
    on_broadcast(*env, frames);
  }
  return n;
}

void Broadcasts::on_broadcast(const Envelope& env, FrameSet& frames) {
  const Header& h = env.header;
  bump(ctx_.counters().broadcasts_received);
  Track& t = tracks_[h.sender_id];
  ++t.received;
  if (t.session != h.sender_session) {
    // A new session: the publisher restarted and numbers from 1 again. Start over.
    if (t.session != 0) ++t.restarts;
    t.session = h.sender_session;
    t.last.clear();
  }
  auto last = t.last.find(env.topic);
  if (last == t.last.end()) last = t.last.emplace(std::string(env.topic), 0).first;
  if (last->second != 0 && h.sequence > last->second + 1) {
    const std::uint64_t missed = h.sequence - last->second - 1;
    t.gaps += missed;
    bump(ctx_.counters().gaps, missed);
    dispatcher_.gap(h.sender_id, env.topic, missed);
  }
  last->second = std::max(last->second, h.sequence);
  dispatcher_.broadcast(h.sender_id, h.sequence, h.type, std::move(frames[0]),
                        std::move(frames[env.payload_index]));
}

void Broadcasts::subscribe(const std::string& prefix) {
  ctx_.touched(sub_);
  sub_.set(zmq::sockopt::subscribe, prefix);
  prefixes_.insert(prefix);
  if (++subscriptions_ == 1) reconcile();
}

void Broadcasts::unsubscribe(const std::string& prefix) {
  ctx_.touched(sub_);
  sub_.set(zmq::sockopt::unsubscribe, prefix);
  if (auto it = prefixes_.find(prefix); it != prefixes_.end()) prefixes_.erase(it);
  if (--subscriptions_ == 0) reconcile();
}

void Broadcasts::announce(const std::string& endpoint, int delta, const std::string& key) {
  if (delta > 0 && !key.empty()) publisher_keys_[endpoint] = key;
  int& refs = announced_[endpoint];
  refs += delta;
  if (refs <= 0) announced_.erase(endpoint);
  if (subscriptions_ > 0) reconcile();
}

void Broadcasts::follow(const std::string& endpoint, const std::string& key) {
  if (!key.empty()) publisher_keys_[endpoint] = key;
  explicit_.insert(endpoint);
  reconcile();
}

void Broadcasts::reconcile() {
  std::set<std::string> wanted = explicit_;
  std::size_t automatic = 0;
  if (subscriptions_ > 0) {
    // Keep what we follow already before taking new ones, so a full SUB is stable.
    auto take = [&](const std::string& e) {
      if (wanted.count(e) != 0) return;
      if (automatic >= ctx_.opts.max_followed_publishers) {
        if (refused_.insert(e).second) bump(ctx_.counters().publishers_refused);
        return;
      }
      wanted.insert(e);
      ++automatic;
      refused_.erase(e);
    };
    for (const auto& [e, refs] : announced_) {
      if (connected_.count(e) != 0) take(e);
    }
    for (const auto& [e, refs] : announced_) take(e);
  }
  std::erase_if(refused_, [&](const std::string& e) { return announced_.count(e) == 0; });
  std::vector<std::string> gone;
  std::set_difference(connected_.begin(), connected_.end(), wanted.begin(), wanted.end(),
                      std::back_inserter(gone));
  for (const auto& e : gone) sub_disconnect(e);
  for (const auto& e : wanted) {
    if (connected_.count(e) == 0) sub_connect(e);
  }
}

void Broadcasts::sub_connect(const std::string& endpoint) {
  std::string key;
  if (ctx_.opts.curve.enabled()) {
    auto it = publisher_keys_.find(endpoint);
    if (it == publisher_keys_.end()) return;  // a publisher we cannot authenticate
    key = it->second;
  }
  try {
    ctx_.touched(sub_);
    set_curve_client(sub_, ctx_.opts.curve, key);  // taken by this connect only
    sub_.connect(endpoint);
    connected_.insert(endpoint);
  } catch (const zmq::error_t&) {
    // A bad endpoint announced by a peer: nothing to follow.
  }
}

void Broadcasts::sub_disconnect(const std::string& endpoint) {
  // libzmq may hold the first frame of a message from this pipe, read ahead by a poll;
  // disconnecting then aborts inside libzmq (its issue #2163). Take in all that is
  // waiting first (with frames of our own: the caller may be reading into frames_).
  while (read_sub(drain_frames_, true) > 0) {
  }
  try {
    ctx_.touched(sub_);
    sub_.disconnect(endpoint);
  } catch (const zmq::error_t&) {
  }
  connected_.erase(endpoint);
  if (announced_.count(endpoint) == 0 && explicit_.count(endpoint) == 0) {
    publisher_keys_.erase(endpoint);
  }
}

// ------------------------------------------------------------------ subscription sync

std::string Broadcasts::new_marker() {
  std::string marker(kMarkerPrefix);
  marker += id_to_hex(ctx_.self.id) + "." + std::to_string(++sync_counter_);
  return marker;
}

void Broadcasts::sync(const Deadline& deadline, std::unique_ptr<SyncCompletion> done,
                      std::optional<std::string> last) {
  if (ctx_.stopping) {
    done->done.set_exception(error_ptr(errc::shutting_down, "peer is shutting down"));
    return;
  }
  if (connected_.empty()) {
    done->done.set_value();  // subscribed to no publisher: trivially in effect
    return;
  }
  std::string marker = new_marker();
  PendingSync& s = syncs_[marker];
  s.done = std::move(done);
  s.deadline = deadline.steady;
  s.last = std::move(last);
  ctx_.touched(sub_);
  sub_.set(zmq::sockopt::subscribe, marker);
}

void Broadcasts::on_sync(std::string_view marker, PeerId publisher) {
  auto it = syncs_.find(std::string(marker));
  if (it == syncs_.end()) return;  // someone else's marker, or a round already done
  it->second.confirmed.insert(publisher);
  if (it->second.confirmed.size() < connected_.size()) return;
  next_sync_round(it->first);
}

void Broadcasts::next_sync_round(const std::string& marker) {
  auto node = syncs_.extract(marker);
  ctx_.touched(sub_);
  sub_.set(zmq::sockopt::unsubscribe, marker);
  PendingSync s = std::move(node.mapped());
  if (s.round == 2) {
    drop_last_marker(s);  // every publisher sent its retained values before its Sync
    s.done->done.set_value();
    return;
  }
  // Round 1 proved that every SUB connection is up. On a fresh connection ZeroMQ sends
  // the existing subscriptions in its own order, so only a marker subscribed now is
  // known to follow all of them.
  std::string next = new_marker();
  s.round = 2;
  s.confirmed.clear();
  if (s.last) {
    // Subscribed before round 2's marker: each publisher answers it first (5.10).
    s.last_marker = std::string(kLastPrefix) + id_to_hex(ctx_.self.id) + "." +
                    std::to_string(++sync_counter_) + ".";
    s.last_base = s.last_marker.size();
    s.last_marker += *s.last;
    ctx_.touched(sub_);
    sub_.set(zmq::sockopt::subscribe, s.last_marker);
  }
  ctx_.touched(sub_);
  sub_.set(zmq::sockopt::subscribe, next);
  syncs_.emplace(std::move(next), std::move(s));
}

void Broadcasts::check_handshakes() {
  if (xpub_monitor_) {
    while (auto e = xpub_monitor_->next()) {
      switch (e->kind) {
        case HandshakeEvent::Kind::succeeded: break;
        case HandshakeEvent::Kind::accepted: links_.accepted(e->value); break;
        case HandshakeEvent::Kind::disconnected: links_.disconnected(e->value); break;
        default: ctx_.refused_handshake(*e);
      }
    }
  }
  if (!sub_monitor_) return;
  const bool curve = ctx_.opts.curve.enabled();
  while (auto e = sub_monitor_->next()) {
    if (!handshake_failed(*e, curve, sub_closes_)) continue;
    bump(ctx_.counters().auth_failures);
    // A publisher that refuses us never confirms a sync: fail those waiting now.
    const std::string text =
        "handshake with publisher " + e->endpoint + " failed: " + e->reason(curve);
    for (auto& [marker, s] : syncs_) {
      ctx_.touched(sub_);
      sub_.set(zmq::sockopt::unsubscribe, marker);
      drop_last_marker(s);
      s.done->done.set_exception(error_ptr(errc::auth_failed, text));
    }
    syncs_.clear();
  }
}

void Broadcasts::on_timers(SteadyClock::time_point now) {
  check_handshakes();
  if (!held_.empty()) flush_held();
  cut_stuck(now);
  if (ctx_.opts.broadcast_heartbeat.count() > 0 && now >= next_announce_) {
    next_announce_ = now + ctx_.opts.broadcast_heartbeat;
    announce_sequences();
  }
  if (!xpub_ && !xpub_endpoint_.empty() && now >= xpub_retry_) {
    try {
      zmq::socket_t s = new_xpub(ctx_);
      s.bind(xpub_endpoint_);
      xpub_.emplace(std::move(s));
      prepare_xpub();
    } catch (const zmq::error_t&) {
      xpub_retry_ = now + kMaxPollWait;  // the old listener is still closing
    }
  }
  // Publishers may have gone while we waited for them.
  std::vector<std::string> complete;
  for (const auto& [marker, s] : syncs_) {
    if (s.confirmed.size() >= connected_.size()) complete.push_back(marker);
  }
  for (const auto& marker : complete) next_sync_round(marker);
  for (auto it = syncs_.begin(); it != syncs_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    const auto have = it->second.confirmed.size();
    it->second.done->done.set_exception(
        error_ptr(errc::timeout, "subscriptions confirmed by " + std::to_string(have) + " of " +
                                     std::to_string(connected_.size()) + " publishers"));
    ctx_.touched(sub_);
    sub_.set(zmq::sockopt::unsubscribe, it->first);
    drop_last_marker(it->second);
    it = syncs_.erase(it);
  }
}

void Broadcasts::fail_syncs(const std::string& text) {
  for (auto& [marker, s] : syncs_) s.done->done.set_exception(error_ptr(errc::shutting_down, text));
  syncs_.clear();
}

std::vector<PublisherStats> Broadcasts::publishers() const {
  std::vector<PublisherStats> out;
  for (const auto& [id, t] : tracks_) {
    out.push_back(PublisherStats{id, t.session, t.received, t.gaps, t.last.size(), t.restarts});
  }
  return out;
}

}  // namespace zmesh::detail
