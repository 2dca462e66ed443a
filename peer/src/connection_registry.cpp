#include "connection_registry.hpp"

#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

std::string Connection::describe() const {
  if (info.id == 0) return endpoint;
  return "'" + info.name + "' (" + id_to_hex(info.id) + ")";
}

Connection& ConnectionRegistry::create() {
  auto c = std::make_unique<Connection>();
  c->key = next_key_++;
  auto& ref = *c;
  by_key_.emplace(ref.key, std::move(c));
  ++generation_;
  return ref;
}

Connection* ConnectionRegistry::by_key(std::uint64_t key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second.get();
}

Connection* ConnectionRegistry::by_peer(PeerId peer) {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? nullptr : by_key(it->second);
}

Connection* ConnectionRegistry::by_endpoint(const std::string& endpoint) {
  auto it = by_endpoint_.find(endpoint);
  return it == by_endpoint_.end() ? nullptr : by_key(it->second);
}

Connection* ConnectionRegistry::by_identity(std::string_view identity) {
  auto it = by_identity_.find(std::string(identity));
  return it == by_identity_.end() ? nullptr : by_key(it->second);
}

void ConnectionRegistry::index_peer(Connection& c) {
  by_peer_[c.info.id] = c.key;
}

void ConnectionRegistry::unindex_peer(Connection& c) {
  auto p = by_peer_.find(c.info.id);
  if (p != by_peer_.end() && p->second == c.key) by_peer_.erase(p);
}

void ConnectionRegistry::index_endpoint(Connection& c) {
  if (!c.endpoint.empty()) by_endpoint_[c.endpoint] = c.key;
}

void ConnectionRegistry::add_identity(Connection& c, std::string identity) {
  auto [it, fresh] = by_identity_.try_emplace(identity, c.key);
  if (!fresh && it->second != c.key) {
    if (Connection* before = by_key(it->second)) std::erase(before->identities, identity);
    it->second = c.key;
  }
  std::erase(c.identities, identity);
  c.identities.push_back(std::move(identity));
}

void ConnectionRegistry::remove_identity(Connection& c, std::string_view identity) {
  std::erase(c.identities, identity);
  auto it = by_identity_.find(std::string(identity));
  if (it != by_identity_.end() && it->second == c.key) by_identity_.erase(it);
}

std::optional<zmq::socket_t> ConnectionRegistry::merge(Connection& from, Connection& into) {
  std::optional<zmq::socket_t> spare;
  from.monitor.reset();  // its DEALER moves: stop watching it first
  if (from.dealer) {
    if (!into.dealer) {
      into.dealer = std::move(from.dealer);
      into.endpoint = from.endpoint;
    } else {
      spare = std::move(from.dealer);
    }
    from.dealer.reset();
  }
  if (!from.endpoint.empty() && by_endpoint_.count(from.endpoint) != 0) {
    by_endpoint_[from.endpoint] = into.key;
  }
  for (auto& w : from.waiters) into.waiters.push_back(std::move(w));
  from.waiters.clear();
  for (auto& q : from.held) into.held.push_back(std::move(q));
  from.held.clear();
  for (auto& o : from.backlog) into.backlog.push_back(std::move(o));
  into.backlog_bytes += from.backlog_bytes;
  from.backlog.clear();
  from.backlog_bytes = 0;
  for (auto& id : from.identities) {
    by_identity_[id] = into.key;
    std::erase(into.identities, id);
    into.identities.push_back(id);
  }
  from.identities.clear();
  from.endpoint.clear();
  erase(from.key);
  return spare;
}

void ConnectionRegistry::erase(std::uint64_t key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  Connection& c = *it->second;
  if (c.info.id != 0) {
    auto p = by_peer_.find(c.info.id);
    if (p != by_peer_.end() && p->second == key) by_peer_.erase(p);
  }
  if (!c.endpoint.empty()) {
    auto e = by_endpoint_.find(c.endpoint);
    if (e != by_endpoint_.end() && e->second == key) by_endpoint_.erase(e);
  }
  for (const auto& id : c.identities) {
    auto i = by_identity_.find(id);
    if (i != by_identity_.end() && i->second == key) by_identity_.erase(i);
  }
  by_key_.erase(it);
  ++generation_;
}

std::vector<std::uint64_t> ConnectionRegistry::keys() const {
  std::vector<std::uint64_t> out;
  out.reserve(by_key_.size());
  for (const auto& [k, _] : by_key_) out.push_back(k);
  return out;
}

}  // namespace zmesh::detail
