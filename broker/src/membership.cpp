#include "membership.hpp"

#include <algorithm>

namespace zmesh::detail {

const Member* Membership::find(PeerId id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

const Member& Membership::upsert(PeerInfo info, std::string identity, std::chrono::milliseconds ttl,
                                 SteadyClock::time_point now) {
  const PeerId id = info.id;
  std::uint64_t order = next_order_++;
  SteadyClock::time_point registered_at = now;
  if (auto it = by_id_.find(id); it != by_id_.end()) {
    if (it->second.info.session == info.session) {
      // The same session registering again keeps its place and age.
      order = it->second.order;
      registered_at = it->second.registered_at;
    }
    unindex(it->second);
    by_id_.erase(it);
  }
  Member m{std::move(info), std::move(identity), order, registered_at, now + ttl, ttl};
  ++identities_[m.identity];
  by_order_.emplace(m.order, id);
  by_name_[m.info.name].emplace(m.order, id);
  for (const auto& s : m.info.services) by_service_[s].emplace(m.order, id);
  expiry_.emplace(m.expires_at, id);
  return by_id_.emplace(id, std::move(m)).first->second;
}

bool Membership::renew(PeerId id, SteadyClock::time_point now) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  it->second.expires_at = now + it->second.ttl;
  expiry_.emplace(it->second.expires_at, id);  // the old timer is skipped when it fires
  return true;
}

std::optional<Member> Membership::remove(PeerId id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  unindex(it->second);
  Member m = std::move(it->second);
  by_id_.erase(it);
  return m;
}

std::vector<Member> Membership::expire(SteadyClock::time_point now) {
  std::vector<Member> out;
  while (!expiry_.empty() && expiry_.begin()->first <= now) {
    const auto [when, id] = *expiry_.begin();
    expiry_.erase(expiry_.begin());
    auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second.expires_at > now) continue;  // renewed or gone
    if (auto m = remove(id)) out.push_back(std::move(*m));
  }
  // Stale timers from renewals pile up; drop them when they dominate.
  if (expiry_.size() > 4 * by_id_.size() + 1024) {
    expiry_.clear();
    for (const auto& [id, m] : by_id_) expiry_.emplace(m.expires_at, id);
  }
  return out;
}

bool Membership::matches(const Member& m, const std::string& name, const std::string& service) {
  if (!name.empty() && m.info.name != name) return false;
  return service.empty() || std::find(m.info.services.begin(), m.info.services.end(), service) !=
                                m.info.services.end();
}

std::vector<const Member*> Membership::match(const std::string& name,
                                             const std::string& service) const {
  std::vector<const Member*> out;
  page(name, service, 0, [&](const Member& m) {
    out.push_back(&m);
    return true;
  });
  return out;
}

std::vector<const Member*> Membership::named(const std::string& name) const {
  return match(name, "");
}

void Membership::unindex(const Member& m) {
  // Two ids may have registered over one DEALER: the identity stays while one is left.
  if (auto it = identities_.find(m.identity); it != identities_.end() && --it->second == 0)
    identities_.erase(it);
  by_order_.erase(m.order);
  if (auto it = by_name_.find(m.info.name); it != by_name_.end()) {
    it->second.erase(m.order);
    if (it->second.empty()) by_name_.erase(it);
  }
  for (const auto& s : m.info.services) {
    if (auto it = by_service_.find(s); it != by_service_.end()) {
      it->second.erase(m.order);
      if (it->second.empty()) by_service_.erase(it);
    }
  }
}

}  // namespace zmesh::detail
