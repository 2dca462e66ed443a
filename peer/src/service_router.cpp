#include "service_router.hpp"

#include <algorithm>

namespace zmesh::detail {

PeerId ServiceRouter::pick(const std::string& service, const std::vector<PeerId>& tried) {
  std::vector<PeerInfo> candidates;
  hooks_.known([&](const PeerInfo& p) {
    const bool offers =
        std::find(p.services.begin(), p.services.end(), service) != p.services.end();
    const bool fresh = std::find(tried.begin(), tried.end(), p.id) == tried.end();
    const bool seen = std::any_of(candidates.begin(), candidates.end(),
                                  [&](const PeerInfo& c) { return c.id == p.id; });
    if (p.id != self_ && offers && fresh && !seen) candidates.push_back(p);
  });
  // In id order, so that the turn means the same thing from one call to the next.
  std::sort(candidates.begin(), candidates.end(),
            [](const PeerInfo& a, const PeerInfo& b) { return a.id < b.id; });
  std::size_t& turn = turn_[service];
  for (std::size_t tries = 0; tries < candidates.size(); ++tries) {
    const PeerInfo& p = candidates[turn++ % candidates.size()];
    if (hooks_.reach(p)) return p.id;
  }
  return 0;
}

}  // namespace zmesh::detail
