// Membership — the broker's registry of live peers, indexed by id, ROUTER identity, name
// and service, with TTL expiry. Broker thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "zmesh/core/clock.hpp"
#include "zmesh/core/control.hpp"

namespace zmesh::detail {

struct Member {
  PeerInfo info;
  std::string identity;     // its DEALER on our ROUTER
  std::uint64_t order = 0;  // registration order, for listings
  SteadyClock::time_point registered_at{};
  SteadyClock::time_point expires_at{};
  std::chrono::milliseconds ttl{0};
  /// When its last Register or Renew arrived.
  [[nodiscard]] SteadyClock::time_point last_heard() const { return expires_at - ttl; }
};

class Membership {
 public:
  [[nodiscard]] const Member* find(PeerId id) const;
  [[nodiscard]] const Member* by_identity(const std::string& identity) const;
  /// Adds or replaces the entry for info.id.
  const Member& upsert(PeerInfo info, std::string identity, std::chrono::milliseconds ttl,
                       SteadyClock::time_point now);
  /// Pushes the expiry of `id` out by its TTL. False if unknown.
  bool renew(PeerId id, SteadyClock::time_point now);
  /// Removes and returns the entry.
  std::optional<Member> remove(PeerId id);
  /// Removes and returns every entry whose TTL ran out.
  std::vector<Member> expire(SteadyClock::time_point now);
  /// Entries matching name and service ("" = any), in registration order.
  [[nodiscard]] std::vector<const Member*> match(const std::string& name,
                                                 const std::string& service) const;
  [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [id, m] : by_id_) fn(m);
  }

 private:
  void unindex(const Member& m);

  std::unordered_map<PeerId, Member> by_id_;
  std::unordered_map<std::string, PeerId> by_identity_;
  std::map<std::string, std::set<PeerId>, std::less<>> by_name_;
  std::map<std::string, std::set<PeerId>, std::less<>> by_service_;
  std::multimap<SteadyClock::time_point, PeerId> expiry_;
  std::uint64_t next_order_ = 1;
};

}  // namespace zmesh::detail
