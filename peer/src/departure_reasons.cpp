#include "departure_reasons.hpp"

#include <deque>

namespace zmesh::detail {

void DepartureReasons::remember(PeerId peer, const std::string& text) {
  if (reasons_.insert_or_assign(peer, text).second) order_.push_back(peer);
  while (order_.size() > capacity_) {
    reasons_.erase(order_.front());
    order_.pop_front();
  }
}

void DepartureReasons::forget(PeerId peer) {
  if (reasons_.erase(peer) != 0) std::erase(order_, peer);
}

std::string DepartureReasons::reason(PeerId peer) const {
  auto it = reasons_.find(peer);
  return it == reasons_.end() ? std::string() : it->second;
}

}  // namespace zmesh::detail
