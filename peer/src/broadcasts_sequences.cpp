// Broadcasts: the broadcast heartbeat (Sequences, protocol.md 5.9). The publisher
// announces the latest sequence of the topics it published lately; a subscriber counts
// what it did not receive up to there as gaps, so that a loss after the last broadcast it
// received shows within about one heartbeat of the moment it has caught up.
#include "broadcasts.hpp"

#include <algorithm>

#include "zmesh/core/control.hpp"

namespace zmesh::detail {

void Broadcasts::announce_sequences() {
  // Without the XPUB (being re-opened) keep what is due for the next heartbeat.
  if (!xpub_ || ctx_.stopping) return;
  for (const auto& batch : sequences_.take()) {
    zmq::message_t header = ctx_.encode(ctx_.header(Kind::sequences, 0));
    zmq::message_t payload = encode(batch);
    // Like a Publish: dropped at the high-water mark of a subscriber that is behind (or,
    // lossless, for all while one is full). The announcer repeats each topic, so a later
    // heartbeat reaches it once it caught up.
    ctx_.touched(*xpub_);
    if (!begin_message(zmq::buffer(kSequencesTopic.data(), kSequencesTopic.size()))) continue;
    xpub_->send(header, zmq::send_flags::sndmore);
    xpub_->send(payload, zmq::send_flags::none);
  }
}

bool Broadcasts::subscribed_to(std::string_view topic) const {
  return std::any_of(prefixes_.begin(), prefixes_.end(),
                     [&](const std::string& p) { return topic.starts_with(p); });
}

void Broadcasts::on_sequences(const Envelope& env) {
  auto seqs = decode_control<Sequences>(env.payload, ctx_.opts.limits);
  if (!seqs) {
    bump(ctx_.counters().malformed);
    return;
  }
  const Header& h = env.header;
  Track* t = nullptr;
  for (const auto& e : seqs->topics) {
    // Every SUB gets every publisher's heartbeat: only our topics concern us.
    if (!subscribed_to(e.topic)) continue;
    if (t == nullptr) {
      t = &tracks_[h.sender_id];
      if (t->session != h.sender_session) {  // as in on_broadcast: a restart, start over
        if (t->session != 0) ++t->restarts;
        t->session = h.sender_session;
        t->last.clear();
      }
    }
    auto last = t->last.find(e.topic);
    // Nothing received on it yet (we joined late, or subscribed just now): tracking
    // starts with the first Publish or retained value we receive, not here, so that a
    // retained value with this very sequence is still delivered (5.10).
    if (last == t->last.end()) continue;
    // Everything up to e.sequence was sent before this announcement on the same pipe:
    // what we have not received by now was dropped. Counted once: the next Publish on
    // the topic continues from here.
    if (e.sequence <= last->second) continue;
    const std::uint64_t missed = e.sequence - last->second;
    last->second = e.sequence;
    t->gaps += missed;
    bump(ctx_.counters().gaps, missed);
    dispatcher_.gap(h.sender_id, e.topic, missed);
  }
}

}  // namespace zmesh::detail
