// ServiceRouter — picks the peer a request to a service goes to: among the members
// offering it and the connected peers that announced it, round-robin per service,
// skipping the ones this request already tried, connecting on demand. Engine thread only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "zmesh/core/control.hpp"

namespace zmesh::detail {

class ServiceRouter {
 public:
  struct Hooks {
    /// Calls `fn` with every peer we know (members and connected peers; one may be seen
    /// twice, under either).
    std::function<void(const std::function<void(const PeerInfo&)>& fn)> known;
    /// Makes sure we have a connection to `peer` (greeting it if needed); false if we
    /// cannot reach it.
    std::function<bool(const PeerInfo& peer)> reach;
  };

  ServiceRouter(PeerId self, Hooks hooks) : self_(self), hooks_(std::move(hooks)) {}

  /// The next peer for `service` not in `tried`, reachable now; 0 when there is none.
  [[nodiscard]] PeerId pick(const std::string& service, const std::vector<PeerId>& tried);

 private:
  PeerId self_;
  Hooks hooks_;
  std::map<std::string, std::size_t> turn_;  // round-robin position per service
};

}  // namespace zmesh::detail
