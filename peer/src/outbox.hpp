// Outbox — the way out to remote peers. Sends on a connection's DEALER, or on our
// ROUTER to one of its DEALERs' identities, and keeps per connection, in order, what its
// pipe cannot take now. Nothing one connection waits for holds up another. Engine
// thread only.
//
// It never removes a connection: a connection left with no route (all its DEALERs gone
// from our ROUTER) is reported by flush(), for its owner to drop outside any handler
// that may still hold it.
#pragma once

#include <cstdint>
#include <set>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "connection_registry.hpp"
#include "engine_context.hpp"

namespace zmesh::detail {

class Outbox {
 public:
  enum class Sent { sent, would_block, unroutable };

  Outbox(EngineContext& ctx, ConnectionRegistry& registry) : ctx_(ctx), registry_(registry) {}
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// The ROUTER replies and answers to inbound connections leave on (nullptr = none).
  void set_router(zmq::socket_t* router) noexcept { router_ = router; }

  /// Sends now if nothing waits on `c` and its pipe has room; else queues behind what
  /// waits (counted in c.backlog_bytes). Order on one connection is kept.
  void enqueue(Connection& c, const Route& route, zmq::message_t header, zmq::message_t payload);
  /// Sends if the pipe has room now, else drops it (pings, pongs, byes).
  Sent send_now(Connection& c, const Route& route, zmq::message_t& header, zmq::message_t& payload);
  /// A message to a ROUTER identity that belongs to no connection (greeting answers).
  Sent send_to(std::string_view identity, zmq::message_t& header, zmq::message_t& payload);

  /// Sends what waits while the pipes take it; returns how many left. Appends to
  /// `no_route` the connections left with no way to reach them.
  int flush(std::vector<std::uint64_t>& no_route);
  [[nodiscard]] bool busy() const noexcept { return !waiting_.empty() || !no_route_.empty(); }
  /// The connection is going: forget its place in the queue.
  void forget(std::uint64_t key) noexcept { waiting_.erase(key); }
  void clear() noexcept;

 private:
  void note_no_route(const Connection& c);

  EngineContext& ctx_;
  ConnectionRegistry& registry_;
  zmq::socket_t* router_ = nullptr;      // owned by Connections
  std::set<std::uint64_t> waiting_;      // keys of connections with a non-empty backlog
  std::vector<std::uint64_t> no_route_;  // keys to report at the next flush()
};

}  // namespace zmesh::detail
