#include "held_broadcasts.hpp"

namespace zmesh::detail {
namespace {

std::string key_of(const zmq::message_t& topic) {
  return {topic.data<char>(), topic.size()};
}

}  // namespace

HeldBroadcasts::Latest HeldBroadcasts::hold_latest(HeldBroadcast b, std::size_t bound) {
  const std::string key = key_of(b.topic);
  if (auto it = latest_.find(key); it != latest_.end()) {
    HeldBroadcast& old = *it->second;
    latest_bytes_ = latest_bytes_ - old.bytes() + b.bytes();
    old = std::move(b);  // in its place: the topic keeps its turn
    return Latest::replaced;
  }
  if (latest_bytes_ + b.bytes() > bound && latest_bytes_ != 0) return Latest::overflow;
  latest_bytes_ += b.bytes();
  line_.push_back(std::move(b));
  latest_.emplace(key, std::prev(line_.end()));
  return Latest::held;
}

void HeldBroadcasts::pop_front() {
  HeldBroadcast& b = line_.front();
  if (b.policy == DeliveryPolicy::latest) {
    latest_bytes_ -= b.bytes();
    latest_.erase(key_of(b.topic));
  }
  line_.pop_front();
}

}  // namespace zmesh::detail
