#include "sequence_announcer.hpp"

#include <bit>

namespace zmesh::detail {

std::uint64_t SequenceAnnouncer::next(std::string_view topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) it = topics_.emplace(std::string(topic), Entry{}).first;
  Entry& e = it->second;
  e.age = 0;
  if (!e.active) {
    e.active = true;
    active_.push_back(&*it);
  }
  return ++e.sequence;
}

std::vector<Sequences> SequenceAnnouncer::take() {
  std::vector<Sequences> out;
  std::size_t kept = 0;
  for (auto* node : active_) {
    Entry& e = node->second;
    ++e.age;
    // Announced at ages 1, 2, 4, ... kLastRepeat: at once, then less and less often.
    if (std::has_single_bit(e.age)) {
      if (out.empty() || out.back().topics.size() >= kMaxEntries) out.emplace_back();
      out.back().topics.push_back(TopicSequence{node->first, e.sequence});
    }
    if (e.age >= kLastRepeat) {
      e.active = false;
      continue;
    }
    active_[kept++] = node;
  }
  active_.resize(kept);
  return out;
}

}  // namespace zmesh::detail
