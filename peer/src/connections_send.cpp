// Connections, part three: the way out — application sends (behind the greeting or the
// backlog), answers on their route, control messages that go now or never, and the
// flush of what waits, dropping a connection left with no route.
#include "connections.hpp"

namespace zmesh::detail {

// ------------------------------------------------------------------ sending

Connections::Admit Connections::send_app(Connection& c, AppSend s) {
  if (!c.ready()) {
    if (c.held.size() >= ctx_.opts.greeting_queue_depth) return Admit::greeting_full;
    c.held.push_back(HeldSend{s.kind, std::string(s.type), std::move(s.payload), s.correlation_id,
                              s.deadline_unix_ms, s.flags});
    return Admit::accepted;
  }
  if (over_bound(c)) return Admit::over_bound;
  Header h = ctx_.header(s.kind, s.correlation_id);
  h.type = s.type;
  h.deadline_unix_ms = s.deadline_unix_ms;
  h.flags = s.flags;
  outbox_.enqueue(c, Route{c.key}, ctx_.encode(h), std::move(s.payload));
  return Admit::accepted;
}

void Connections::send_answer(const Route& route, Kind kind, std::uint64_t correlation_id,
                              zmq::message_t payload) {
  Connection* c = registry_.by_key(route.connection);
  if (c == nullptr) {
    bump(ctx_.counters().errors);  // its requester went away meanwhile: nobody to answer
    return;
  }
  outbox_.enqueue(*c, route, ctx_.encode(ctx_.header(kind, correlation_id)), std::move(payload));
}

void Connections::send_control(Connection& c, const Route& route, const Header& h,
                               zmq::message_t payload) {
  zmq::message_t header = ctx_.encode(h);
  (void)outbox_.send_now(c, route, header, payload);
}

int Connections::flush() {
  // Connections left with no route (their DEALERs vanished from our ROUTER) are gone.
  // Dropped here, outside any handler that may still hold a reference to them.
  no_route_.clear();
  const int n = outbox_.flush(no_route_);
  for (const auto key : no_route_) {
    if (Connection* c = registry_.by_key(key)) drop_if_unreachable(*c);
  }
  return n;
}

bool Connections::drop_if_unreachable(Connection& c) {
  if (c.dealer || !c.identities.empty()) return false;
  remove(c, errc::peer_gone, "peer " + c.describe() + " gone: its connection closed");
  return true;
}

}  // namespace zmesh::detail
