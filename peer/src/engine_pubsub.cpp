// Engine: broadcasts. Our XPUB (bound) publishes with a sequence per topic; our one SUB
// follows the PUB endpoint of every connected peer (and endpoints given directly),
// tracks sequences per publisher and topic, counts gaps, and answers subscription syncs.
#include <algorithm>

#include "engine.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

constexpr std::string_view kMarkerPrefix{"\0zmesh.sync.", 12};
}  // namespace

void Engine::open_pubsub() {
  sub_ =
      make_sub(ctx_, SocketTuning{opts_.send_hwm, opts_.sub_hwm, opts_.limits,
                                  std::chrono::milliseconds(100), std::chrono::milliseconds(2000)});
  for (const auto& prefix : shared_.subscriptions->prefixes()) {
    sub_.set(zmq::sockopt::subscribe, prefix);
  }
  if (opts_.pub_bind.empty()) return;
  xpub_.emplace(make_xpub(
      ctx_, SocketTuning{opts_.pub_hwm, opts_.recv_hwm, opts_.limits,
                         std::chrono::milliseconds(100), std::chrono::milliseconds(2000)}));
  try {
    const std::string bound = bind_resolved(*xpub_, opts_.pub_bind);
    self_.pub_endpoints.push_back(opts_.pub_advertise.empty() ? bound : opts_.pub_advertise);
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument, "cannot bind '" + opts_.pub_bind + "': " + e.what());
  }
}

void Engine::cmd_publish(const CommandMeta& meta, FrameSet& frames) {
  (void)meta;
  if (!xpub_ || stopping_) {
    bump(shared_.counters.errors);
    return;
  }
  const std::string_view topic = view_of(frames[3]);
  auto it = pub_sequence_.find(topic);
  if (it == pub_sequence_.end()) it = pub_sequence_.emplace(std::string(topic), 0).first;
  Header h = header_for(Kind::publish, 0);
  h.type = view_of(frames[1]);
  h.sequence = ++it->second;
  zmq::message_t header = encoder_.encode(h);
  // XPUB never blocks: a subscriber whose queue is full (pub_hwm) misses this one, and
  // its sequence check counts it.
  xpub_->send(frames[3], zmq::send_flags::sndmore);
  xpub_->send(header, zmq::send_flags::sndmore);
  xpub_->send(frames[2], zmq::send_flags::none);
  bump(shared_.counters.published);
}

int Engine::on_xpub() {
  int n = 0;
  zmq::message_t event;
  for (; n < kBurst && xpub_->recv(event, zmq::recv_flags::dontwait); ++n) {
    // [1|0][topic]: a subscription or an unsubscription, in the order each subscriber
    // sent them. A marker subscription means all that subscriber's earlier ones are in
    // effect: answer it with a Sync on the marker topic.
    const std::string_view e = view_of(event);
    if (e.size() < 1 || e[0] != 1) continue;
    const std::string_view topic = e.substr(1);
    if (!topic.starts_with(kMarkerPrefix)) {
      bump(shared_.counters.subscriptions_seen);
      continue;
    }
    zmq::message_t header = encoder_.encode(header_for(Kind::sync, 0));
    xpub_->send(zmq::buffer(topic.data(), topic.size()), zmq::send_flags::sndmore);
    xpub_->send(header, zmq::send_flags::sndmore);
    xpub_->send(zmq::message_t(), zmq::send_flags::none);
  }
  return n;
}

int Engine::on_sub(FrameSet& frames, bool drain) {
  int n = 0;
  for (; n < kBurst && (drain || !network_paused()); ++n) {
    if (!frames.recv(sub_, zmq::recv_flags::dontwait)) break;
    auto env = decoder_.decode(Layout::sub, frames);
    if (!env) {
      bump(shared_.counters.malformed);
      continue;
    }
    const Header& h = env->header;
    if (h.kind == Kind::sync) {
      on_sync(env->topic, h.sender_id);
      continue;
    }
    if (h.kind != Kind::publish || env->topic.starts_with('\0')) {
      bump(shared_.counters.unexpected);
      continue;
    }
    bump(shared_.counters.broadcasts_received);
    Track& t = tracks_[h.sender_id];
    ++t.received;
    if (t.session != h.sender_session) {
      // A new session: the publisher restarted and numbers from 1 again. Start over.
      if (t.session != 0) ++t.restarts;
      t.session = h.sender_session;
      t.last.clear();
    }
    auto last = t.last.find(env->topic);
    if (last == t.last.end()) last = t.last.emplace(std::string(env->topic), 0).first;
    const std::size_t worker = worker_for(h.sender_id);
    if (last->second != 0 && h.sequence > last->second + 1) {
      const std::uint64_t missed = h.sequence - last->second - 1;
      t.gaps += missed;
      bump(shared_.counters.gaps, missed);
      dispatch(WorkItem{worker,
                        WorkMeta{WorkOp::gap, Kind::publish, h.sender_id, {}, missed, 0, 0, 0},
                        zmq::message_t(), zmq::message_t(env->topic.data(), env->topic.size()),
                        zmq::message_t()});
    }
    last->second = std::max(last->second, h.sequence);
    WorkMeta meta{WorkOp::broadcast, Kind::publish, h.sender_id, {}, h.sequence, 0, 0, 0};
    dispatch(WorkItem{worker, meta, zmq::message_t(h.type.data(), h.type.size()),
                      std::move(frames[0]), std::move(frames[env->payload_index])});
  }
  return n;
}

void Engine::cmd_subscription(CommandOp op, const std::string& prefix) {
  if (op == CommandOp::subscribe) {
    sub_.set(zmq::sockopt::subscribe, prefix);
  } else {
    sub_.set(zmq::sockopt::unsubscribe, prefix);
  }
}

void Engine::sub_ref(const std::string& endpoint, int delta) {
  int& refs = sub_endpoints_[endpoint];
  const int before = refs;
  refs += delta;
  try {
    if (before == 0 && refs > 0) sub_.connect(endpoint);
    if (before > 0 && refs <= 0) {
      // libzmq may hold the first frame of a message from this pipe, read ahead by a
      // poll; disconnecting then aborts inside libzmq (its issue #2163). Take in all
      // that is waiting first (with frames of our own: the caller may still be using
      // frames_).
      while (on_sub(drain_frames_, true) > 0) {
      }
      sub_.disconnect(endpoint);
    }
  } catch (const zmq::error_t&) {
    // A bad endpoint announced by a peer: nothing to follow.
  }
  if (refs <= 0) sub_endpoints_.erase(endpoint);
}

void Engine::follow_pubs(Connection& c, bool follow) {
  std::vector<std::string> wanted;
  if (follow) wanted = c.info.pub_endpoints;
  if (wanted == c.followed_pubs) return;
  for (const auto& e : wanted) sub_ref(e, +1);
  for (const auto& e : c.followed_pubs) sub_ref(e, -1);
  c.followed_pubs = std::move(wanted);
}

void Engine::cmd_sync(const CommandMeta& meta) {
  auto done = adopt_ptr<SyncCompletion>(meta.completion);
  if (stopping_) {
    done->done.set_exception(error_ptr(errc::shutting_down, "peer is shutting down"));
    return;
  }
  if (sub_endpoints_.empty()) {
    done->done.set_value();  // subscribed to no publisher: trivially in effect
    return;
  }
  std::string marker(kMarkerPrefix);
  marker += id_to_hex(self_.id) + "." + std::to_string(++sync_counter_);
  PendingSync& s = syncs_[marker];
  s.done = std::move(done);
  s.deadline = SteadyClock::time_point(std::chrono::microseconds(meta.deadline_us));
  sub_.set(zmq::sockopt::subscribe, marker);
}

void Engine::on_sync(std::string_view marker, PeerId publisher) {
  auto it = syncs_.find(std::string(marker));
  if (it == syncs_.end()) return;  // someone else's marker, or a round already done
  it->second.confirmed.insert(publisher);
  if (it->second.confirmed.size() < sub_endpoints_.size()) return;
  next_sync_round(it->first);
}

void Engine::next_sync_round(const std::string& marker) {
  auto node = syncs_.extract(marker);
  sub_.set(zmq::sockopt::unsubscribe, marker);
  PendingSync s = std::move(node.mapped());
  if (s.round == 2) {
    s.done->done.set_value();
    return;
  }
  // Round 1 proved that every SUB connection is up. On a fresh connection ZeroMQ sends
  // the existing subscriptions in its own order, so only a marker subscribed now is
  // known to follow all of them.
  std::string next(kMarkerPrefix);
  next += id_to_hex(self_.id) + "." + std::to_string(++sync_counter_);
  s.round = 2;
  s.confirmed.clear();
  sub_.set(zmq::sockopt::subscribe, next);
  syncs_.emplace(std::move(next), std::move(s));
}

void Engine::check_syncs(SteadyClock::time_point now) {
  // Publishers may have gone while we waited for them.
  std::vector<std::string> complete;
  for (const auto& [marker, s] : syncs_) {
    if (s.confirmed.size() >= sub_endpoints_.size()) complete.push_back(marker);
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
                                     std::to_string(sub_endpoints_.size()) + " publishers"));
    sub_.set(zmq::sockopt::unsubscribe, it->first);
    it = syncs_.erase(it);
  }
}

void Engine::cmd_publishers(const CommandMeta& meta) {
  auto done = adopt_ptr<PublishersCompletion>(meta.completion);
  std::vector<PublisherStats> out;
  for (const auto& [id, t] : tracks_) {
    out.push_back(PublisherStats{id, t.session, t.received, t.gaps, t.last.size(), t.restarts});
  }
  done->promise.set_value(std::move(out));
}

}  // namespace zmesh::detail
