// The answer to a stats request (zmesh::kStatsRequestType): one JSON object with the
// Peer's identity, its counters (PeerStats), its connections and the publishers it
// follows. Built on a worker, by the handler every Peer registers for that type.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "zmesh/peer/stats.hpp"

namespace zmesh::detail {

/// {"id","name","endpoint","pub_endpoint","stats":{...},"connections":[...],
///  "publishers":[...],"delivery":[...]}; a list the engine did not give in time is left out.
[[nodiscard]] std::string peer_stats_json(
    const std::string& name, PeerId id, const std::string& endpoint,
    const std::string& pub_endpoint, const PeerStats& stats,
    const std::vector<TopicPolicyStats>& delivery,
    const std::optional<std::vector<ConnectionStats>>& connections,
    const std::optional<std::vector<PublisherStats>>& publishers);

}  // namespace zmesh::detail
