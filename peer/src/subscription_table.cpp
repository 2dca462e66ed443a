#include "subscription_table.hpp"

#include <mutex>

namespace zmesh::detail {

void SubscriptionTable::set_on_change(OnChange on_change) {
  std::unique_lock lock(mu_);
  on_change_ = std::move(on_change);
}

std::uint64_t SubscriptionTable::add(std::string prefix, BroadcastHandler handler, bool latest) {
  if (!handler) throw Error(errc::invalid_argument, "subscription handler is empty");
  if (!prefix.empty() && prefix.front() == '\0') {
    throw Error(errc::invalid_argument, "topics starting with a zero byte are reserved");
  }
  OnChange notify;
  std::uint64_t token = 0;
  {
    std::unique_lock lock(mu_);
    token = next_token_++;
    subscriptions_.push_back(
        {token, prefix, std::make_shared<Guarded<BroadcastHandler>>(std::move(handler)), latest});
    if (latest) latest_count_.fetch_add(1, std::memory_order_release);
    notify = on_change_;
  }
  // Outside the lock: it sends a command and may wait for room.
  if (notify) notify(prefix, true);
  return token;
}

std::uint64_t SubscriptionTable::add_gap(GapHandler handler) {
  if (!handler) throw Error(errc::invalid_argument, "gap handler is empty");
  std::unique_lock lock(mu_);
  const std::uint64_t token = next_token_++;
  gap_handlers_.push_back({token, std::make_shared<Guarded<GapHandler>>(std::move(handler))});
  return token;
}

void SubscriptionTable::remove(std::uint64_t token) noexcept {
  std::shared_ptr<Guarded<BroadcastHandler>> sub;
  std::shared_ptr<Guarded<GapHandler>> gap;
  std::string prefix;
  OnChange notify;
  {
    std::unique_lock lock(mu_);
    for (auto it = subscriptions_.begin(); it != subscriptions_.end(); ++it) {
      if (it->token == token) {
        sub = std::move(it->handler);
        prefix = std::move(it->prefix);
        if (it->latest) latest_count_.fetch_sub(1, std::memory_order_release);
        subscriptions_.erase(it);
        notify = on_change_;
        break;
      }
    }
    for (auto it = gap_handlers_.begin(); !sub && it != gap_handlers_.end(); ++it) {
      if (it->token == token) {
        gap = std::move(it->handler);
        gap_handlers_.erase(it);
        break;
      }
    }
  }
  if (sub) {
    sub->retire();
    if (notify) {
      try {
        notify(prefix, false);
      } catch (...) {
        // The peer is stopping or stopped: its SUB goes away anyway.
      }
    }
  }
  if (gap) gap->retire();
}

SubscriptionTable::Kinds SubscriptionTable::kinds_of(std::string_view topic) const {
  unsigned kinds = 0;
  std::shared_lock lock(mu_);
  for (const auto& s : subscriptions_) {
    if (topic.starts_with(s.prefix)) kinds |= s.latest ? 2U : 1U;
  }
  return static_cast<Kinds>(kinds);
}

std::size_t SubscriptionTable::deliver(const Message& message, std::uint64_t& errors, bool latest) {
  // Reused per worker thread: no allocation per broadcast once warm.
  thread_local std::vector<std::shared_ptr<Guarded<BroadcastHandler>>> matching;
  matching.clear();
  {
    std::shared_lock lock(mu_);
    for (const auto& s : subscriptions_) {
      if (s.latest == latest && message.topic().starts_with(s.prefix)) {
        matching.push_back(s.handler);
      }
    }
  }
  std::size_t ran = 0;
  for (auto& h : matching) {
    try {
      ran += h->call(message) ? 1 : 0;
    } catch (...) {
      ++ran;
      ++errors;
    }
  }
  matching.clear();
  return ran;
}

void SubscriptionTable::gap(PeerId publisher, std::string_view topic, std::uint64_t missed,
                            std::uint64_t& errors) {
  std::vector<std::shared_ptr<Guarded<GapHandler>>> handlers;
  {
    std::shared_lock lock(mu_);
    for (const auto& g : gap_handlers_) handlers.push_back(g.handler);
  }
  for (auto& h : handlers) {
    try {
      (void)h->call(publisher, topic, missed);
    } catch (...) {
      ++errors;
    }
  }
}

std::vector<std::string> SubscriptionTable::prefixes() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& s : subscriptions_) out.push_back(s.prefix);
  return out;
}

}  // namespace zmesh::detail
