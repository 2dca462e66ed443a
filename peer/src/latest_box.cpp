#include "latest_box.hpp"

#include <cstring>

namespace zmesh::detail {

std::string LatestBox::key_of(const LatestBroadcast& b) {
  std::string key(sizeof b.publisher + b.topic.size(), '\0');
  std::memcpy(key.data(), &b.publisher, sizeof b.publisher);
  if (b.topic.size() > 0)
    std::memcpy(key.data() + sizeof b.publisher, b.topic.data(), b.topic.size());
  return key;
}

LatestBox::Put LatestBox::put(std::size_t worker, LatestBroadcast& b) {
  std::string key = key_of(b);
  if (auto it = index_.find(key); it != index_.end()) {
    LatestBroadcast& old = *it->second;
    bytes_ = bytes_ - bytes_of(old) + bytes_of(b);
    old = std::move(b);  // in its place: the topic keeps its turn
    return Put::replaced;
  }
  if (index_.size() >= kMaxTopics || bytes_ + bytes_of(b) > max_bytes_) return Put::refused;
  bytes_ += bytes_of(b);
  Line& line = lines_[worker];
  line.push_back(std::move(b));
  index_.emplace(std::move(key), std::prev(line.end()));
  return Put::held;
}

std::optional<LatestBroadcast> LatestBox::take(std::size_t worker) {
  Line& line = lines_[worker];
  if (line.empty()) return std::nullopt;
  LatestBroadcast b = std::move(line.front());
  line.pop_front();
  index_.erase(key_of(b));
  bytes_ -= bytes_of(b);
  return b;
}

std::size_t LatestBox::clear() noexcept {
  const std::size_t n = index_.size();
  for (auto& line : lines_) line.clear();
  index_.clear();
  bytes_ = 0;
  return n;
}

}  // namespace zmesh::detail
