#include "event_batch.hpp"

#include <utility>

namespace zmesh::detail {

void batch_events(std::vector<Change>& changes, std::uint64_t epoch, std::uint64_t& sequence,
                  std::size_t max_changes, std::size_t max_bytes,
                  const std::function<void(const Event&)>& emit) {
  for (std::size_t i = 0; i < changes.size();) {
    Change& first = changes[i];
    Event e{epoch, first.type, std::move(first.peer), std::move(first.reason), ++sequence, {}};
    std::size_t bytes = encoded_size(e.peer) + e.reason.size();
    for (++i; i < changes.size() && e.more.size() + 1 < max_changes; ++i) {
      const std::size_t next = encoded_size(changes[i].peer) + changes[i].reason.size();
      if (bytes + next > max_bytes) break;
      bytes += next;
      e.more.push_back(std::move(changes[i]));
    }
    emit(e);
  }
  changes.clear();
}

}  // namespace zmesh::detail
