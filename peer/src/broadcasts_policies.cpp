// Broadcasts: publishing under the delivery policies (PeerOptions::delivery,
// topic_policies; docs/architecture.md, "Delivery policies").
//
// Without a block or latest policy, the XPUB is lossy, as ZeroMQ's PUB is. With one, it
// is lossless (ZMQ_XPUB_NODROP) and every send is tried without waiting: the XPUB takes
// a message for every matching subscriber or for none (EAGAIN: one of them is at
// pub_hwm). block and latest broadcasts it does not take are held, in order, and tried
// again every engine round; a drop broadcast it does not take is dropped, and counted. A
// broadcast gets its sequence number when the XPUB takes it, so a conflated one never
// had one: subscribers see consecutive sequences and no gap.
#include <cstdint>
#include <string>

#include "broadcasts.hpp"
#include "peer_log.hpp"

namespace zmesh::detail {

void Broadcasts::prepare_xpub() {
  if (!xpub_) return;
  const bool holds = ctx_.shared.policies->holds();
  // Lossless for every message, never toggled: a lossy send that meets a full queue
  // makes libzmq stop offering that subscriber anything (until it reads), so a later
  // lossless send would skip it instead of waiting for it.
  if (holds) xpub_->set(zmq::sockopt::xpub_nodrop, 1);
  if (ctx_.opts.curve.enabled() || holds) xpub_monitor_.emplace(ctx_.zmq, *xpub_, holds);
}

bool Broadcasts::begin_message(zmq::const_buffer first) {
  return xpub_->send(first, zmq::send_flags::sndmore | zmq::send_flags::dontwait).has_value();
}

void Broadcasts::publish(zmq::message_t topic_frame, std::string_view type,
                         zmq::message_t payload) {
  const PolicyTable& policies = *ctx_.shared.policies;
  const std::size_t rule = policies.rule_of(view_of(topic_frame));
  const DeliveryPolicy policy = policies.policy(rule);
  if (ctx_.stopping || (!xpub_ && policy == DeliveryPolicy::drop)) {
    if (policy == DeliveryPolicy::block) {
      ctx_.shared.broadcast_credit->give(topic_frame.size() + payload.size());
    }
    bump(ctx_.counters().errors);
    return;
  }
  if (policy == DeliveryPolicy::drop) {
    ctx_.touched(*xpub_);
    if (!policies.holds()) {
      // Lossy: a subscriber whose queue is full (pub_hwm) misses this one, and its
      // sequence check counts it.
      zmq::message_t header = number(rule, view_of(topic_frame), type, payload);
      xpub_->send(topic_frame, zmq::send_flags::sndmore);
      xpub_->send(header, zmq::send_flags::sndmore);
      xpub_->send(payload, zmq::send_flags::none);
      return;
    }
    // The XPUB is lossless (another topic's policy holds): all its subscribers or none.
    HeldBroadcast b(std::move(topic_frame), type, std::move(payload), policy, rule);
    if (!try_send(b)) {
      bump(ctx_.counters().broadcasts_dropped);
      bump(policies.counters(rule).no_room);
    }
    return;
  }
  HeldBroadcast b(std::move(topic_frame), type, std::move(payload), policy, rule);
  // Behind what is held already: one line, in publish order.
  const std::size_t bytes = b.bytes();  // sending empties the payload
  if (held_.empty() && xpub_ && try_send(b)) {
    if (policy == DeliveryPolicy::block) ctx_.shared.broadcast_credit->give(bytes);
    return;
  }
  hold(std::move(b));
}

bool Broadcasts::try_send(HeldBroadcast& b) {
  ctx_.touched(*xpub_);
  // The topic's bytes go (copied into the frame): the topic is still ours to number it.
  if (!begin_message(zmq::buffer(b.topic.data(), b.topic.size()))) return false;
  // The XPUB took the topic frame: the rest of the message goes where it went.
  zmq::message_t header = number(b.rule, view_of(b.topic), b.type, b.payload);
  xpub_->send(header, zmq::send_flags::sndmore);
  xpub_->send(b.payload, zmq::send_flags::none);
  return true;
}

void Broadcasts::hold(HeldBroadcast b) {
  if (b.policy == DeliveryPolicy::block) {
    held_.hold(std::move(b));
  } else {
    PolicyCounters& counters = ctx_.shared.policies->counters(b.rule);
    switch (held_.hold_latest(std::move(b), ctx_.opts.broadcast_backlog_bytes)) {
      case HeldBroadcasts::Latest::held: break;
      case HeldBroadcasts::Latest::replaced:
        bump(ctx_.counters().broadcasts_conflated);
        bump(counters.conflated);
        break;
      case HeldBroadcasts::Latest::overflow:
        bump(ctx_.counters().broadcasts_overflowed);
        bump(counters.backlog_full);
        break;
    }
  }
  ctx_.counters().broadcasts_held.store(held_.size(), std::memory_order_relaxed);
}

int Broadcasts::flush_held() {
  int n = 0;
  while (!held_.empty() && xpub_) {  // also while stopping, until the drain deadline
    HeldBroadcast& b = held_.front();
    const std::size_t bytes = b.bytes();  // sending empties the payload
    if (!try_send(b)) break;
    if (b.policy == DeliveryPolicy::block) ctx_.shared.broadcast_credit->give(bytes);
    held_.pop_front();
    ++n;
  }
  if (n > 0) ctx_.counters().broadcasts_held.store(held_.size(), std::memory_order_relaxed);
  return n;
}

void Broadcasts::cut_stuck(SteadyClock::time_point now) {
  const auto bound = ctx_.opts.stuck_subscriber_timeout;
  if (bound.count() == 0) return;
  if (held_.empty()) {  // nothing waits for any subscriber
    links_.all_progress(now);
    return;
  }
  // Broadcasts wait: a subscriber that took no bytes for the whole bound is stuck; a slow
  // one that keeps reading is not.
  std::string who;
  const std::size_t cut = links_.cut_stuck(now, bound, who);
  if (cut == 0) return;
  bump(ctx_.counters().subscribers_cut, cut);
  if (ctx_.log.on()) {
    ctx_.log(LogEvent::subscriber_cut, LogLevel::warning,
             "disconnected " + std::to_string(cut) + " subscriber(s) that took nothing for " +
                 std::to_string(bound.count()) + " ms while " + std::to_string(held_.size()) +
                 " broadcasts waited: " + who);
  }
}

void Broadcasts::release_held() noexcept {
  while (!held_.empty()) {
    const HeldBroadcast& b = held_.front();
    if (b.policy == DeliveryPolicy::block) ctx_.shared.broadcast_credit->give(b.bytes());
    held_.pop_front();
  }
  ctx_.counters().broadcasts_held.store(0, std::memory_order_relaxed);
}

}  // namespace zmesh::detail
