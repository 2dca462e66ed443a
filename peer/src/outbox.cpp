#include "outbox.hpp"

namespace zmesh::detail {

Outbox::Sent Outbox::send_to(std::string_view identity, zmq::message_t& header,
                             zmq::message_t& payload) {
  if (router_ == nullptr) return Sent::unroutable;
  try {
    // ROUTER_MANDATORY: a full pipe gives EAGAIN, a vanished identity EHOSTUNREACH.
    if (!router_->send(zmq::buffer(identity.data(), identity.size()),
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)ctx_.refused(*router_);
      return Sent::would_block;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      (void)ctx_.refused(*router_);
      return Sent::unroutable;
    }
    throw;
  }
  ctx_.touched(*router_);
  router_->send(header, zmq::send_flags::sndmore);
  router_->send(payload, zmq::send_flags::none);
  return Sent::sent;
}

Outbox::Sent Outbox::send_now(Connection& c, const Route& route, zmq::message_t& header,
                              zmq::message_t& payload) {
  Sent r = Sent::unroutable;
  if (route.identity_size > 0) {
    const std::string_view identity{route.identity, route.identity_size};
    r = send_to(identity, header, payload);
    // That DEALER of the peer is gone; another route to it may still work.
    if (r == Sent::unroutable) registry_.remove_identity(c, identity);
  }
  if (r == Sent::unroutable && c.dealer) {
    r = c.dealer->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait)
            ? Sent::sent
            : Sent::would_block;
    if (r == Sent::sent) {
      c.dealer->send(payload, zmq::send_flags::none);
      ctx_.touched(*c.dealer);
    } else {
      (void)ctx_.refused(*c.dealer);
    }
  }
  // Inbound-only: its DEALERs' identities on our ROUTER, newest first. Each try removes
  // one identity or ends the loop, so it ends.
  while (r == Sent::unroutable && !c.dealer && !c.identities.empty()) {
    const std::string identity = c.identities.back();
    r = send_to(identity, header, payload);
    if (r == Sent::unroutable) registry_.remove_identity(c, identity);
  }
  if (r == Sent::sent) {
    ++c.sent;
    bump(ctx_.counters().sent);
  }
  if (r == Sent::unroutable) note_no_route(c);
  return r;
}

void Outbox::enqueue(Connection& c, const Route& route, zmq::message_t header,
                     zmq::message_t payload) {
  // Keep order: once something waits on this connection, everything after it waits too.
  if (c.backlog.empty()) {
    const Sent r = send_now(c, route, header, payload);
    if (r == Sent::sent) return;
    if (r == Sent::unroutable) {
      bump(ctx_.counters().errors);
      return;
    }
  }
  Outgoing o{route, std::move(header), std::move(payload)};
  c.backlog_bytes += o.bytes();
  c.backlog.push_back(std::move(o));
  waiting_.insert(c.key);
}

int Outbox::flush(std::vector<std::uint64_t>& no_route) {
  int n = 0;
  if (!waiting_.empty()) {
    const std::vector<std::uint64_t> keys(waiting_.begin(), waiting_.end());
    for (const auto key : keys) {
      Connection* c = registry_.by_key(key);
      while (c != nullptr && !c->backlog.empty()) {
        Outgoing& o = c->backlog.front();
        const std::size_t bytes = o.bytes();  // sending empties the frames
        const Sent r = send_now(*c, o.route, o.header, o.payload);
        if (r == Sent::would_block) break;
        if (r == Sent::unroutable) bump(ctx_.counters().errors);
        c->backlog_bytes -= bytes;
        c->backlog.pop_front();
        ++n;
      }
      if (c == nullptr || c->backlog.empty()) waiting_.erase(key);
    }
  }
  no_route.insert(no_route.end(), no_route_.begin(), no_route_.end());
  no_route_.clear();
  return n;
}

void Outbox::note_no_route(const Connection& c) {
  if (!c.dealer && c.identities.empty()) no_route_.push_back(c.key);
}

void Outbox::clear() noexcept {
  waiting_.clear();
  no_route_.clear();
}

}  // namespace zmesh::detail
