// Broadcasts: last values for late joiners (protocol.md 5.10). A subscriber that asks
// for them subscribes, in round 2 of a sync, to a last-value marker naming a prefix; the
// publisher answers it with its retained values of matching topics on topics that start
// with the marker, so only that subscriber gets them, and ahead of its Sync.
#include <zmq.hpp>

#include "broadcasts.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

void Broadcasts::answer_last(std::string_view marker) {
  // "\0zmesh.last." <16 hex digits> "." <counter> "." <prefix>
  const std::size_t dot = kLastPrefix.size() + 16;
  if (marker.size() <= dot || marker[dot] != '.') return;
  const std::size_t end = marker.find('.', dot + 1);
  if (end == std::string_view::npos) return;
  const std::string_view base = marker.substr(0, end + 1);
  const std::string_view prefix = marker.substr(end + 1);
  retained_.each_matching(prefix, [&](const RetainedStore::Value& v) {
    std::string topic(base);
    topic += v.topic;
    // The subscriber refuses topic frames over its limit: a topic too long to travel
    // behind the marker has no last value for it (documented in 5.10).
    if (topic.size() > ctx_.opts.limits.max_topic_bytes) return;
    Header h = ctx_.header(Kind::publish, 0);
    h.type = v.type;
    h.sequence = v.sequence;
    h.flags = kFlagRetained;
    zmq::message_t header = ctx_.encode(h);
    ctx_.touched(*xpub_);
    if (!begin_message(zmq::buffer(topic))) return;
    xpub_->send(header, zmq::send_flags::sndmore);
    xpub_->send(zmq::buffer(v.payload), zmq::send_flags::none);
  });
}

void Broadcasts::on_retained(const Envelope& env, FrameSet& frames) {
  const Header& h = env.header;
  const PendingSync* asked = nullptr;
  for (const auto& [marker, s] : syncs_) {
    if (!s.last_marker.empty() && env.topic.starts_with(s.last_marker)) {
      asked = &s;
      break;
    }
  }
  if (asked == nullptr || (h.flags & kFlagRetained) == 0) {
    // Another subscriber's marker (we subscribe to the empty prefix), or one of ours
    // that is done: not for us.
    bump(ctx_.counters().unexpected);
    return;
  }
  const std::string_view topic = env.topic.substr(asked->last_base);
  if (!topic.empty() && topic.front() == '\0') {
    // A reserved topic (5.6) inside a marker asked with the empty prefix: never delivered.
    bump(ctx_.counters().unexpected);
    return;
  }
  Track& t = tracks_[h.sender_id];
  if (t.session != h.sender_session) {  // as in on_broadcast: a restart, start over
    if (t.session != 0) ++t.restarts;
    t.session = h.sender_session;
    t.last.clear();
  }
  auto last = t.last.find(topic);
  if (last == t.last.end()) {
    // The first we see of this topic: tracking starts here, as with a first Publish.
    last = t.last.emplace(std::string(topic), h.sequence).first;
  } else {
    // Received already (or something newer, which overtook it): not delivered again.
    if (h.sequence <= last->second) return;
    if (h.sequence > last->second + 1) {
      const std::uint64_t missed = h.sequence - last->second - 1;
      t.gaps += missed;
      bump(ctx_.counters().gaps, missed);
      dispatcher_.gap(h.sender_id, topic, missed);
    }
    last->second = h.sequence;
  }
  ++t.received;
  bump(ctx_.counters().broadcasts_received);
  dispatcher_.broadcast(h.sender_id, h.sequence, h.type, zmq::message_t(topic.data(), topic.size()),
                        std::move(frames[env.payload_index]), kFlagRetained);
}

void Broadcasts::drop_last_marker(PendingSync& s) {
  if (s.last_marker.empty()) return;
  ctx_.touched(sub_);
  sub_.set(zmq::sockopt::unsubscribe, s.last_marker);
  s.last_marker.clear();
}

}  // namespace zmesh::detail
