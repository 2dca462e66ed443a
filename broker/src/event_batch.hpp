// Events out of a tick's membership changes: the changes, in order, cut into numbered
// Events of at most `max_changes` changes and about `max_bytes` bytes each (protocol.md
// 5.7, "Events are batched per tick and numbered"). Pure: no socket, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "zmesh/core/control.hpp"

namespace zmesh::detail {

/// Calls `emit` once per Event, numbering them from `sequence` + 1 (which it advances),
/// and empties `changes` (their records are moved into the Events).
void batch_events(std::vector<Change>& changes, std::uint64_t epoch, std::uint64_t& sequence,
                  std::size_t max_changes, std::size_t max_bytes,
                  const std::function<void(const Event&)>& emit);

}  // namespace zmesh::detail
