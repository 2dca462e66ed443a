// DepartureReasons — why recently departed peers went, so that a send or request to one
// fails with a clear error ("peer 'pricing' gone: silent for 3000 ms") instead of
// unknown_peer. Bounded: past `capacity` peers, the one remembered first is forgotten
// first (remembering a peer again updates its reason, not its place). Engine thread only
// (a member of Connections).
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>

#include "zmesh/core/header.hpp"

namespace zmesh::detail {

class DepartureReasons {
 public:
  /// Departures remembered by default (docs/architecture.md: "the last 1,024").
  static constexpr std::size_t kDefaultCapacity = 1024;

  explicit DepartureReasons(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  /// `peer` went, for the reason `text`.
  void remember(PeerId peer, const std::string& text);
  /// `peer` is back (greeted again): no reason any more.
  void forget(PeerId peer);
  /// Why `peer` went, if it went recently ("" otherwise).
  [[nodiscard]] std::string reason(PeerId peer) const;
  /// How many departures are remembered.
  [[nodiscard]] std::size_t size() const noexcept { return reasons_.size(); }

 private:
  std::size_t capacity_;
  std::unordered_map<PeerId, std::string> reasons_;
  std::deque<PeerId> order_;  // oldest first
};

}  // namespace zmesh::detail
