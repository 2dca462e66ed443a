// The brokers a Peer uses: PeerOptions::broker ("A,B,C") and PeerOptions::brokers
// together, each checked, a DNS name that resolves to several addresses standing for
// one broker per address (as a list would), duplicates dropped. Blocks in the resolver:
// called on the caller's thread when the Peer is made, never on the engine thread.
#pragma once

#include <string>
#include <vector>

#include "zmesh/peer/options.hpp"

namespace zmesh::detail {

/// The broker endpoints of `options`, in order, checked (Error(invalid_argument) naming
/// the first bad one). A tcp host name is replaced by its addresses (tcp://ADDR:PORT,
/// IPv6 in brackets), in the resolver's order; a name that cannot be resolved now is kept
/// as it is, for ZeroMQ to try again when it connects.
/// With `keys`: the broker's public key for each endpoint returned (PeerOptions::
/// broker_key: one key for all, or one per listed broker, in order), "" when CURVE is off.
[[nodiscard]] std::vector<std::string> broker_endpoints(const PeerOptions& options,
                                                        std::vector<std::string>* keys = nullptr);

}  // namespace zmesh::detail
