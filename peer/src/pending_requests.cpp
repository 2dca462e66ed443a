#include "pending_requests.hpp"

namespace zmesh::detail {

void PendingRequests::add(std::uint64_t correlation_id, PendingRequest request) {
  timers_.emplace(request.deadline, correlation_id);
  by_id_.emplace(correlation_id, std::move(request));
}

std::optional<PendingRequest> PendingRequests::take(std::uint64_t correlation_id) {
  auto it = by_id_.find(correlation_id);
  if (it == by_id_.end()) return std::nullopt;
  PendingRequest r = std::move(it->second);
  by_id_.erase(it);
  return r;
}

std::vector<std::pair<std::uint64_t, PendingRequest>> PendingRequests::take_expired(
    SteadyClock::time_point now) {
  std::vector<std::pair<std::uint64_t, PendingRequest>> out;
  while (!timers_.empty() && timers_.top().first <= now) {
    const auto id = timers_.top().second;
    timers_.pop();
    auto it = by_id_.find(id);
    // A timer whose request completed already, or whose id was reused with a later
    // deadline, is stale: skip it.
    if (it == by_id_.end() || it->second.deadline > now) continue;
    out.emplace_back(id, std::move(it->second));
    by_id_.erase(it);
  }
  return out;
}

std::vector<std::pair<std::uint64_t, PendingRequest>> PendingRequests::take_for(PeerId peer) {
  std::vector<std::pair<std::uint64_t, PendingRequest>> out;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second.to == peer) {
      out.emplace_back(it->first, std::move(it->second));
      it = by_id_.erase(it);
    } else {
      ++it;
    }
  }
  prune();
  return out;
}

std::vector<std::pair<std::uint64_t, PendingRequest>> PendingRequests::take_all() {
  std::vector<std::pair<std::uint64_t, PendingRequest>> out;
  out.reserve(by_id_.size());
  for (auto& [id, r] : by_id_) out.emplace_back(id, std::move(r));
  by_id_.clear();
  timers_ = {};
  return out;
}

std::optional<SteadyClock::time_point> PendingRequests::next_deadline() {
  prune();
  if (timers_.empty()) return std::nullopt;
  return timers_.top().first;
}

std::size_t PendingRequests::count_for(PeerId peer) const {
  std::size_t n = 0;
  for (const auto& [id, r] : by_id_) n += r.to == peer ? 1 : 0;
  return n;
}

void PendingRequests::prune() {
  while (!timers_.empty() && by_id_.count(timers_.top().second) == 0) timers_.pop();
  // Completed requests leave stale timers behind; rebuild when they dominate.
  if (timers_.size() > 1024 && timers_.size() > 4 * by_id_.size()) {
    std::vector<Timer> live;
    live.reserve(by_id_.size());
    for (const auto& [id, r] : by_id_) live.emplace_back(r.deadline, id);
    timers_ = decltype(timers_)(std::greater<>{}, std::move(live));
  }
}

}  // namespace zmesh::detail
