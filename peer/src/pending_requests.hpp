// PendingRequests — our requests waiting for a reply, by correlation id, with their
// timeouts. Engine thread only. Completing an entry removes it, so each request
// completes exactly once: by its reply, its timeout, its peer going, or shutdown.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "completions.hpp"
#include "zmesh/core/clock.hpp"

namespace zmesh::detail {

struct PendingRequest {
  PeerId to = 0;
  SteadyClock::time_point deadline{};
  std::unique_ptr<RequestCompletion> completion;
  /// Only for requests to a service: what it takes to send it again elsewhere.
  struct Retry {
    std::string service;
    std::string type;
    zmq::message_t payload;  // a shared copy of the frame sent
    std::uint64_t deadline_unix_ms = 0;
    std::vector<PeerId> tried;
  };
  std::unique_ptr<Retry> retry;
  SteadyClock::time_point started{};  ///< when the engine took it (request durations)
};

class PendingRequests {
 public:
  void add(std::uint64_t correlation_id, PendingRequest request);
  /// Removes and returns the entry, or nullopt when it is not pending (late reply).
  [[nodiscard]] std::optional<PendingRequest> take(std::uint64_t correlation_id);
  [[nodiscard]] bool contains(std::uint64_t correlation_id) const {
    return by_id_.count(correlation_id) != 0;
  }
  /// Removes and returns every entry whose deadline is at or before `now`.
  [[nodiscard]] std::vector<std::pair<std::uint64_t, PendingRequest>> take_expired(
      SteadyClock::time_point now);
  /// Removes and returns every entry addressed to `peer`.
  [[nodiscard]] std::vector<std::pair<std::uint64_t, PendingRequest>> take_for(PeerId peer);
  /// Removes and returns everything.
  [[nodiscard]] std::vector<std::pair<std::uint64_t, PendingRequest>> take_all();
  /// The earliest deadline, if any.
  [[nodiscard]] std::optional<SteadyClock::time_point> next_deadline();
  [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }
  [[nodiscard]] std::size_t count_for(PeerId peer) const;

 private:
  void prune();  // drops heap entries whose request is no longer pending

  // The table's nodes come from a pool of our own (engine thread only, so unsynchronized):
  // a request in the steady state reuses the node of one that completed instead of
  // allocating. Declared before the table, which returns its nodes to it.
  std::pmr::unsynchronized_pool_resource nodes_;
  std::pmr::unordered_map<std::uint64_t, PendingRequest> by_id_{&nodes_};
  using Timer = std::pair<SteadyClock::time_point, std::uint64_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
};

}  // namespace zmesh::detail
