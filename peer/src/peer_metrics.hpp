// The Peer's Prometheus metrics (PeerOptions::metrics_bind): the text of one scrape, built
// on the metrics thread from the counters (atomics, PeerStats) and, when the engine
// answers, the connections' states and queues. Names: docs/operations.md#metrics.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "request_durations.hpp"
#include "zmesh/peer/stats.hpp"

namespace zmesh::detail {

/// The exposition text. `durations`: our requests answered with a reply. `connections` is nullopt
/// when the engine did not answer in time (the families built from it are left out, never guessed).
[[nodiscard]] std::string peer_metrics_text(
    const std::string& name, PeerId id, const PeerStats& stats,
    const RequestDurations::Snapshot& durations,
    const std::optional<std::vector<ConnectionStats>>& connections,
    const std::vector<TopicPolicyStats>& delivery);

}  // namespace zmesh::detail
