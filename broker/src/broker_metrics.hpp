// zmesh-broker's Prometheus metrics (--metrics-bind): the text of one scrape, from
// Broker::stats() (a snapshot that is safe from any thread). Names:
// docs/operations.md#metrics.
#pragma once

#include <memory>
#include <string>

#include "zmesh/broker/broker.hpp"
#include "zmesh/core/metrics_server.hpp"

namespace zmesh::broker_cli {

/// The exposition text for these counters.
[[nodiscard]] std::string broker_metrics_text(const BrokerStats& stats);

/// Serves `broker`'s metrics at `bind` until the result is destroyed (before `broker`).
/// Throws Error(invalid_argument) when it cannot listen there.
[[nodiscard]] std::unique_ptr<MetricsServer> serve_broker_metrics(const std::string& bind,
                                                                  const Broker& broker);

}  // namespace zmesh::broker_cli
