// Engine: everything that leaves the engine — network sends, work for the workers, and
// the completion of our own requests.
#include <algorithm>

#include "engine.hpp"
#include "tsan_annotations.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

Header Engine::header_for(Kind kind, std::uint64_t correlation_id) const {
  Header h;
  h.kind = kind;
  h.correlation_id = correlation_id;
  h.sender_id = self_.id;
  h.sender_session = self_.session;
  h.timestamp_us = unix_now_us();
  return h;
}

Engine::SendResult Engine::send_router(std::string_view identity, zmq::message_t& header,
                                       zmq::message_t& payload) {
  if (!router_) return SendResult::unroutable;
  try {
    // ROUTER_MANDATORY: a full pipe gives EAGAIN, a vanished identity EHOSTUNREACH.
    if (!router_->send(zmq::buffer(identity.data(), identity.size()),
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return SendResult::would_block;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return SendResult::unroutable;
    throw;
  }
  router_->send(header, zmq::send_flags::sndmore);
  router_->send(payload, zmq::send_flags::none);
  return SendResult::sent;
}

Engine::SendResult Engine::send_raw(Connection& c, const Route& route, zmq::message_t& header,
                                    zmq::message_t& payload) {
  SendResult r = SendResult::unroutable;
  if (route.identity_size > 0) {
    r = send_router({route.identity, route.identity_size}, header, payload);
  } else if (c.dealer) {
    r = c.dealer->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait)
            ? SendResult::sent
            : SendResult::would_block;
    if (r == SendResult::sent) c.dealer->send(payload, zmq::send_flags::none);
  } else {
    // Inbound-only connection: its DEALERs' identities on our ROUTER, newest first.
    while (!c.identities.empty()) {
      const std::string identity = c.identities.back();
      r = send_router(identity, header, payload);
      if (r != SendResult::unroutable) break;
      registry_.remove_identity(identity);
    }
  }
  if (r == SendResult::sent) {
    ++c.sent;
    bump(shared_.counters.sent);
  }
  return r;
}

void Engine::send_or_hold(Connection& c, const Route& route, zmq::message_t header,
                          zmq::message_t payload) {
  // Keep order: once something waits, everything after it waits behind it.
  if (outbox_.empty() && send_raw(c, route, header, payload) != SendResult::would_block) return;
  outbox_.push_back(Outbound{c.key, route, std::move(header), std::move(payload)});
}

void Engine::send_control(Connection& c, const Route& route, const Header& h,
                          zmq::message_t payload) {
  zmq::message_t header = encoder_.encode(h);
  (void)send_raw(c, route, header, payload);
}

void Engine::flush_outbox() {
  while (!outbox_.empty()) {
    Outbound& o = outbox_.front();
    Connection* c = registry_.by_key(o.connection);
    if (c != nullptr && send_raw(*c, o.route, o.header, o.payload) == SendResult::would_block) {
      return;
    }
    outbox_.pop_front();  // sent, or its connection is gone (its requests failed with it)
  }
}

void Engine::flush_queued(Connection& c) {
  while (!c.queued.empty()) {
    QueuedSend q = std::move(c.queued.front());
    c.queued.pop_front();
    if (q.kind == Kind::request && !pending_.contains(q.correlation_id)) continue;  // timed out
    Header h = header_for(q.kind, q.correlation_id);
    h.type = q.type;
    h.deadline_unix_ms = q.deadline_unix_ms;
    send_or_hold(c, Route{c.key}, encoder_.encode(h), std::move(q.payload));
  }
}

std::size_t Engine::worker_for(PeerId peer) const noexcept {
  // splitmix64 finaliser: ids are random already, but spread configured ones too.
  std::uint64_t z = peer + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::size_t>((z ^ (z >> 31)) % workers_.size());
}

void Engine::dispatch(WorkItem item) {
  if (item.meta.op == WorkOp::deliver) bump(shared_.counters.worker_queue_depth);
  dispatch_.push_back(std::move(item));
  flush_dispatch();
}

void Engine::flush_dispatch() {
  while (!dispatch_.empty()) {
    WorkItem& w = dispatch_.front();
    auto& pipe = workers_[w.worker];
    pipeline_release(&shared_.to_worker_sync[w.worker]);
    if (!pipe.send(pod_frame(w.meta), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return;  // that worker is full: the network waits until it has room
    }
    pipe.send(w.type, zmq::send_flags::sndmore);
    pipe.send(w.topic, zmq::send_flags::sndmore);
    pipe.send(w.payload, zmq::send_flags::none);
    dispatch_.pop_front();
  }
}

int Engine::on_worker(std::size_t index) {
  int n = 0;
  for (; n < kBurst && frames_.recv(workers_[index], zmq::recv_flags::dontwait); ++n) {
    pipeline_acquire(&shared_.from_worker_sync[index]);
    const auto meta = pod_from<ResultMeta>(frames_[0]);
    if (!meta || frames_.size() != 2) continue;
    if (meta->op == ResultOp::stopped) {
      ++workers_stopped_;
      continue;
    }
    Connection* c = registry_.by_key(meta->route.connection);
    if (c == nullptr) continue;  // the requester went away meanwhile; nobody to answer
    zmq::message_t payload = std::move(frames_[1]);
    Header h =
        header_for(meta->op == ResultOp::reply ? Kind::reply : Kind::error, meta->correlation_id);
    if (meta->op == ResultOp::error) {
      payload = encode(ErrorReply{meta->code, std::string(view_of(payload))});
    }
    send_or_hold(*c, meta->route, encoder_.encode(h), std::move(payload));
  }
  return n;
}

void Engine::complete(PendingRequest r, Response response) {
  drop(shared_.counters.pending);
  bump(shared_.counters.replies_received);
  if (!r.completion->callback) {
    r.completion->promise.set_value(std::move(response));
    return;
  }
  WorkMeta meta{
      WorkOp::complete, Kind::reply, r.to, {}, 0, 0, release_ptr(std::move(r.completion)), 0};
  dispatch(WorkItem{worker_for(r.to), meta, zmq::message_t(), zmq::message_t(),
                    zmq::message_t(response.payload.data(), response.payload.size())});
}

void Engine::fail(PendingRequest r, std::uint64_t correlation_id, errc code,
                  const std::string& text) {
  // A request to a service moves on when its peer goes, while it has time left.
  const bool peer_failed =
      code == errc::peer_gone || code == errc::peer_unreachable || code == errc::shutting_down;
  if (r.retry && peer_failed && !stopping_ && SteadyClock::now() < r.deadline &&
      route_service(r, correlation_id)) {
    return;
  }
  drop(shared_.counters.pending);
  if (code != errc::timeout) bump(shared_.counters.errors);
  if (!r.completion->callback) {
    r.completion->promise.set_exception(error_ptr(code, text));
    return;
  }
  if (stopped_ || workers_stopped_ == workers_.size()) {
    orphans_.push_back({std::move(r.completion), make_error_code(code), Response{r.to, text}});
    return;
  }
  WorkMeta meta{
      WorkOp::complete,      Kind::error, r.to, {}, 0, 0, release_ptr(std::move(r.completion)),
      static_cast<int>(code)};
  dispatch(WorkItem{worker_for(r.to), meta, zmq::message_t(), zmq::message_t(),
                    zmq::message_t(text.data(), text.size())});
}

void Engine::fail_pending_for(PeerId peer, errc code, const std::string& text) {
  for (auto& [id, r] : pending_.take_for(peer)) fail(std::move(r), id, code, text);
}

void Engine::drop_connection(Connection& c, errc code, const std::string& text) {
  for (auto& w : c.waiters) w->promise.set_exception(error_ptr(code, text));
  c.waiters.clear();
  if (c.info.id != 0) {
    fail_pending_for(c.info.id, code, text);
    gone_[c.info.id] = text;
    while (gone_.size() > 1024) gone_.erase(gone_.begin());
  }
  if (c.ready()) drop(shared_.counters.connections);
  follow_pubs(c, false);
  registry_.erase(c.key);
}

void Engine::mark_ready(Connection& c) {
  if (!c.ready()) bump(shared_.counters.connections);
  c.state = ConnectionState::ready;
  c.last_rx = SteadyClock::now();
  gone_.erase(c.info.id);
  follow_pubs(c, true);
}

std::string Engine::gone_reason(PeerId peer) const {
  auto it = gone_.find(peer);
  return it == gone_.end() ? std::string() : it->second;
}

}  // namespace zmesh::detail
