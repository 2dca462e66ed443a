// ConnectionRegistry — exactly one Connection per remote peer id, findable by peer id,
// by the endpoint we connected to, and by ROUTER identity. Engine thread only.
//
// An outbound attempt is indexed by endpoint until its WELCOME names the peer; then it
// is indexed by peer id too, or merged into the connection that peer already has (so
// concurrent connects, or a connect to a peer that connected to us, coalesce).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "connection.hpp"

namespace zmesh::detail {

class ConnectionRegistry {
 public:
  /// New record (not indexed by peer id yet).
  Connection& create();
  [[nodiscard]] Connection* by_key(std::uint64_t key);
  [[nodiscard]] Connection* by_peer(PeerId peer);
  [[nodiscard]] Connection* by_endpoint(const std::string& endpoint);
  [[nodiscard]] Connection* by_identity(std::string_view identity);

  /// Indexes `c` under its info.id (which must be set and not indexed elsewhere).
  void index_peer(Connection& c);
  void index_endpoint(Connection& c);
  /// Removes `c` from the peer-id index (its peer id is about to change).
  void unindex_peer(Connection& c);
  /// Makes `identity` (a DEALER on our ROUTER) belong to `c`, taking it from whichever
  /// connection had it before (one DEALER may greet again as another peer).
  void add_identity(Connection& c, std::string identity);
  /// Forgets one of `c`'s identities (it vanished from our ROUTER).
  void remove_identity(Connection& c, std::string_view identity);

  /// Moves what `from` has (DEALER if `into` has none, endpoint, waiters, queued sends)
  /// into `into` and erases `from`. Returns the DEALER `into` did not need, if any.
  std::optional<zmq::socket_t> merge(Connection& from, Connection& into);
  /// Erases the record and every index of it; its DEALER closes.
  void erase(std::uint64_t key);

  /// Calls fn for every connection; fn must not add or erase any (no allocation).
  template <class Fn>
  void visit(Fn&& fn) {
    for (auto& [key, c] : by_key_) fn(*c);
  }
  [[nodiscard]] std::vector<std::uint64_t> keys() const;
  [[nodiscard]] std::size_t size() const noexcept { return by_key_.size(); }
  /// Bumped whenever a DEALER appears or goes, so the engine rebuilds its poll set.
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

 private:
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> by_key_;
  std::unordered_map<PeerId, std::uint64_t> by_peer_;
  std::unordered_map<std::string, std::uint64_t> by_endpoint_;
  std::unordered_map<std::string, std::uint64_t> by_identity_;
  std::uint64_t next_key_ = 1;
  std::uint64_t generation_ = 0;
};

}  // namespace zmesh::detail
