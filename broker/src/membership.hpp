// Membership — the broker's registry of live peers, indexed by id, ROUTER identity, name
// and service, with TTL expiry. Broker thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
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
  /// Calls take(member) for the entries matching name and service ("" = any) that
  /// registered after `after` (an order), in registration order, until it returns false.
  /// Walks the narrowest index (name, then service, then everyone): a page costs what it
  /// holds, not the membership's size.
  template <class Fn>
  void page(const std::string& name, const std::string& service, std::uint64_t after,
            Fn&& take) const {
    const Index* index = &by_order_;
    if (!name.empty() || !service.empty()) {
      const auto& keyed = name.empty() ? by_service_ : by_name_;
      auto it = keyed.find(name.empty() ? service : name);
      if (it == keyed.end()) return;
      index = &it->second;
    }
    for (auto it = index->upper_bound(after); it != index->end(); ++it) {
      const Member* m = find(it->second);
      if (m == nullptr || !matches(*m, name, service)) continue;
      if (!take(*m)) return;
    }
  }
  /// The entries registered under `name`, in registration order.
  [[nodiscard]] std::vector<const Member*> named(const std::string& name) const;
  [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [id, m] : by_id_) fn(m);
  }
  /// Calls fn(identity) once for every ROUTER identity some entry is reached at (one
  /// DEALER may have registered several ids: it hears each Event once).
  template <class Fn>
  void for_each_identity(Fn&& fn) const {
    for (const auto& [identity, entries] : identities_) fn(identity);
  }

 private:
  /// Registration order -> id.
  using Index = std::map<std::uint64_t, PeerId>;
  static bool matches(const Member& m, const std::string& name, const std::string& service);
  void unindex(const Member& m);

  std::unordered_map<PeerId, Member> by_id_;
  std::unordered_map<std::string, std::size_t> identities_;  // identity -> entries reached there
  Index by_order_;
  std::map<std::string, Index, std::less<>> by_name_;
  std::map<std::string, Index, std::less<>> by_service_;
  std::multimap<SteadyClock::time_point, PeerId> expiry_;
  std::uint64_t next_order_ = 1;
};

}  // namespace zmesh::detail
