// Peer, part three: broadcasts — publish (with the credit of a `block` topic),
// subscriptions and their syncs, gap handlers, and the publishers we follow.
#include "peer_impl.hpp"
#include "zmesh/core/keys.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {

using detail::check_payload;
using detail::check_type;
using detail::CommandMeta;
using detail::CommandOp;

void Peer::publish(std::string_view topic, std::string_view type, std::string_view payload) {
  const auto& o = impl_->shared_.options;
  check_type(o, type);
  if (!topic.empty() && topic.front() == '\0') {
    throw Error(errc::invalid_argument, "topics starting with a zero byte are reserved");
  }
  if (topic.size() > o.limits.max_topic_bytes) throw Error(errc::too_large, "topic too long");
  check_payload(o, payload);
  Impl::Call call(*impl_);
  auto& shared = impl_->shared_;
  // block: room for it first (BroadcastCredit), given back by the engine once it is out.
  std::size_t credit = 0;
  const std::size_t rule = shared.policies->rule_of(topic);
  if (shared.policies->policy(rule) == DeliveryPolicy::block) {
    credit = topic.size() + payload.size();
    // An inline handler runs on the engine, which gives credit back: it cannot wait.
    const bool engine = detail::is_engine_thread(&shared.command_sync);
    if (!shared.broadcast_credit->take(credit,
                                       engine ? std::chrono::milliseconds(0) : o.send_timeout)) {
      detail::bump(shared.counters.publish_timeouts);
      detail::bump(shared.policies->counters(rule).publish_timeouts);
      throw Error(errc::queue_full,
                  "publish to '" + std::string(topic) + "': a subscriber has had no room for " +
                      std::to_string(o.send_timeout.count()) + " ms (delivery policy block)");
    }
  }
  // One frame when all fits inside a message, else two; never a CommandMeta and three
  // more: every frame costs a send here and a receive on the engine.
  const CommandMeta meta{.op = CommandOp::publish};  // no completion to take back
  std::array<zmq::message_t, 2> frames;
  std::size_t n = 1;
  if (detail::fits_inside(type, topic, payload.size())) {
    frames[0] = detail::publish_frame(type, topic, payload);
  } else {
    frames[0] = detail::publish_frame(type, topic);
    frames[1] = zmq::message_t(payload.data(), payload.size());
    n = 2;
  }
  try {
    impl_->submit_frames<detail::SyncCompletion>(meta, std::span(frames.data(), n), o.send_timeout);
  } catch (...) {
    if (credit != 0) shared.broadcast_credit->give(credit);
    throw;
  }
}

Registration Peer::subscribe(std::string prefix, BroadcastHandler handler) {
  return subscribe(std::move(prefix), std::move(handler), SubscribeOptions{});
}

Registration Peer::subscribe(std::string prefix, BroadcastHandler handler,
                             SubscribeOptions options) {
  const auto token =
      impl_->shared_.subscriptions->add(std::move(prefix), std::move(handler), options.latest);
  return Registration(impl_->shared_.subscriptions, token);
}

void Peer::subscribe_to(const std::string& pub_endpoint) {
  subscribe_to(pub_endpoint, {});
}

void Peer::subscribe_to(const std::string& pub_endpoint, const std::string& publisher_key) {
  if (!publisher_key.empty() && !is_z85_key(publisher_key)) {
    throw Error(errc::invalid_argument,
                "publisher key '" + publisher_key + "' is not 40 characters of Z85");
  }
  Impl::Call call(*impl_);
  impl_->submit<detail::SyncCompletion>(CommandMeta{.op = CommandOp::subscribe_to},
                                        zmq::message_t(pub_endpoint.data(), pub_endpoint.size()),
                                        zmq::message_t(publisher_key.data(), publisher_key.size()),
                                        impl_->shared_.options.send_timeout);
}

Future<void> Peer::Impl::sync(std::chrono::milliseconds timeout, zmq::message_t prefix,
                              zmq::message_t with_last) {
  Call call(*this);
  auto done = std::make_unique<detail::SyncCompletion>();
  auto future = done->done.get_future();
  CommandMeta meta{.op = CommandOp::sync,
                   .deadline_us = deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  submit<detail::SyncCompletion>(meta, std::move(prefix), std::move(with_last),
                                 shared_.options.send_timeout);
  return future;
}

Future<void> Peer::sync_subscriptions(std::chrono::milliseconds timeout) {
  return impl_->sync(timeout, zmq::message_t(), zmq::message_t());
}

Future<void> Peer::sync_subscriptions_with_last(std::string prefix,
                                                std::chrono::milliseconds timeout) {
  if (prefix.starts_with('\0')) {
    throw Error(errc::invalid_argument, "topics starting with a zero byte are reserved");
  }
  // The values travel on topics of marker + topic (protocol.md 5.10): at most 50 bytes of
  // marker before the prefix.
  if (prefix.size() + 50 > impl_->shared_.options.limits.max_topic_bytes) {
    throw Error(errc::invalid_argument, "prefix too long to ask for last values");
  }
  return impl_->sync(timeout, zmq::message_t(prefix.data(), prefix.size()),
                     zmq::message_t(std::string_view("1")));
}

Registration Peer::on_gap(GapHandler handler) {
  const auto token = impl_->shared_.subscriptions->add_gap(std::move(handler));
  return Registration(impl_->shared_.subscriptions, token);
}

std::string Peer::pub_endpoint() const {
  return impl_->pub_endpoint_;
}

std::vector<PublisherStats> Peer::publishers() const {
  return impl_->ask<detail::PublishersCompletion>(CommandOp::publishers);
}

}  // namespace zmesh
