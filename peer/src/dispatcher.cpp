#include "dispatcher.hpp"

#include "delivery.hpp"
#include "tsan_annotations.hpp"

namespace zmesh::detail {
namespace {

/// What a worker is told of a broadcast besides its names and payload.
WorkMeta broadcast_meta(PeerId publisher, std::uint64_t sequence, std::uint32_t flags,
                        std::uint8_t latest) {
  return WorkMeta{.op = WorkOp::broadcast,
                  .kind = Kind::publish,
                  .sender = publisher,
                  .sequence = sequence,
                  .flags = flags,
                  .latest = latest};
}

}  // namespace

Dispatcher::Dispatcher(EngineContext& ctx, OnResult on_result)
    : ctx_(ctx),
      on_result_(std::move(on_result)),
      latest_(ctx.opts.workers, ctx.opts.broadcast_backlog_bytes) {}

void Dispatcher::open() {
  for (std::size_t i = 0; i < ctx_.opts.workers; ++i) {
    pipes_.push_back(make_pipe(ctx_.zmq, zmq::socket_type::pair, ctx_.opts.worker_queue_depth));
    pipes_.back().bind(worker_endpoint(ctx_.shared.uid, i));
  }
}

void Dispatcher::close() noexcept {
  // Latest broadcasts no handler got: skipped.
  bump(ctx_.counters().broadcasts_skipped, latest_.clear());
  pipes_.clear();
}

std::size_t Dispatcher::worker_for(PeerId peer) const noexcept {
  // splitmix64 finaliser: ids are random already, but spread configured ones too.
  std::uint64_t z = peer + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::size_t>((z ^ (z >> 31)) % pipes_.size());
}

Dispatcher::Item Dispatcher::item_of(std::size_t worker, const WorkMeta& meta,
                                     std::string_view type, std::string_view topic,
                                     zmq::message_t payload) {
  // Small enough: the payload inside the names frame, one frame fewer to send and read.
  if (fits_inside(type, topic, payload.size())) {
    return Item{worker, meta, names_frame(type, topic, view_of(payload)), zmq::message_t(), true};
  }
  return Item{worker, meta, names_frame(type, topic), std::move(payload)};
}

void Dispatcher::deliver(PeerId sender, const Route& route, const Envelope& env,
                         zmq::message_t payload, std::string_view sender_key) {
  const Header& h = env.header;
  const std::size_t worker = worker_for(sender);
  const WorkMeta meta{.op = WorkOp::deliver,
                      .kind = h.kind,
                      .sender = sender,
                      .route = route,
                      .correlation_id = h.correlation_id,
                      .deadline_unix_ms = h.deadline_unix_ms,
                      .flags = h.flags};
  if (ctx_.shared.handlers->any_inline() && !stopping_ &&
      ctx_.shared.worker_pending[worker].load(std::memory_order_acquire) == 0) {
    if (auto entry = ctx_.shared.handlers->find(h.type); entry && entry->run_inline) {
      Outcome out = run_delivery(ctx_.shared, meta, h.type, bytes_of(payload), entry, sender_key);
      ctx_.user_code_ran();
      if (out.what != Outcome::What::nothing) {
        const bool ok = out.what == Outcome::What::reply;
        on_result_(
            ResultMeta{ok ? ResultOp::reply : ResultOp::error, out.code, route, h.correlation_id},
            zmq::message_t(out.body.data(), out.body.size()));
      }
      return;
    }
  }
  bump(ctx_.counters().worker_queue_depth);
  // A delivery has no topic: in its place, its route and the sender's key.
  push(Item{worker, meta, delivery_names(h.type, route, sender_key), std::move(payload)});
}

void Dispatcher::broadcast(PeerId publisher, std::uint64_t sequence, std::string_view type,
                           zmq::message_t topic, zmq::message_t payload, std::uint32_t flags) {
  const std::size_t worker = worker_for(publisher);
  if (ctx_.shared.subscriptions->any_latest() && !stopping_) {
    using Kinds = SubscriptionTable::Kinds;
    const Kinds kinds = ctx_.shared.subscriptions->kinds_of(view_of(topic));
    if (kinds == Kinds::latest) {  // for latest subscriptions only
      LatestBroadcast b{
          publisher,        sequence,          flags, zmq::message_t(type.data(), type.size()),
          std::move(topic), std::move(payload)};
      hold_latest(worker, b);
      return;
    }
    if (kinds == Kinds::both) {  // a copy for them, the broadcast for the plain ones
      LatestBroadcast b{publisher,
                        sequence,
                        flags,
                        zmq::message_t(type.data(), type.size()),
                        zmq::message_t(topic.data(), topic.size()),
                        zmq::message_t(payload.data(), payload.size())};
      hold_latest(worker, b);
    }
  }
  // Straight into the names frame: no owned copy of the type or topic on the way.
  push_broadcast(worker, broadcast_meta(publisher, sequence, flags, 0), type, view_of(topic),
                 std::move(payload));
}

void Dispatcher::push_broadcast(std::size_t worker, const WorkMeta& meta, std::string_view type,
                                std::string_view topic, zmq::message_t payload) {
  bump(ctx_.counters().worker_queue_depth);
  push(item_of(worker, meta, type, topic, std::move(payload)));
}

void Dispatcher::push_broadcast(std::size_t worker, LatestBroadcast&& b, std::uint8_t latest) {
  push_broadcast(worker, broadcast_meta(b.publisher, b.sequence, b.flags, latest), view_of(b.type),
                 view_of(b.topic), std::move(b.payload));
}

void Dispatcher::hold_latest(std::size_t worker, LatestBroadcast& b) {
  switch (latest_.put(worker, b)) {
    case LatestBox::Put::held: break;
    case LatestBox::Put::replaced: bump(ctx_.counters().broadcasts_skipped); break;
    case LatestBox::Put::refused:
      // Past the box's bounds: the ordinary way, in order, nothing skipped.
      push_broadcast(worker, std::move(b), 1);
      break;
  }
  flush_latest(worker);
}

void Dispatcher::flush_latest() {
  for (std::size_t w = 0; w < pipes_.size() && !latest_.empty(); ++w) flush_latest(w);
}

void Dispatcher::flush_latest(std::size_t worker) {
  auto& in_flight = ctx_.shared.latest_in_flight[worker];
  if (stopping_ || in_flight.load(std::memory_order_acquire) != 0) return;
  auto b = latest_.take(worker);
  if (!b) return;
  in_flight.fetch_add(1, std::memory_order_relaxed);
  push_broadcast(worker, std::move(*b), 2);
}

void Dispatcher::gap(PeerId publisher, std::string_view topic, std::uint64_t missed) {
  push(item_of(
      worker_for(publisher),
      WorkMeta{.op = WorkOp::gap, .kind = Kind::publish, .sender = publisher, .missed = missed}, {},
      topic, zmq::message_t()));
}

void Dispatcher::complete(std::unique_ptr<RequestCompletion> done, PeerId from, errc error,
                          std::string_view body) {
  if (stopping_) {
    // Behind a stop marker it would never run: whoever stops the Peer runs it.
    orphans_.push_back({std::move(done),
                        error == errc::ok ? std::error_code{} : make_error_code(error),
                        Response{from, std::string(body)}});
    return;
  }
  // The body in a frame of its own (never inside the names): take_orphans reads it there.
  push(Item{worker_for(from),
            WorkMeta{.op = WorkOp::complete,
                     .kind = error == errc::ok ? Kind::reply : Kind::error,
                     .sender = from,
                     .completion = Handoff::give(std::move(done)),
                     .error = static_cast<int>(error)},
            names_frame({}, {}), zmq::message_t(body.data(), body.size())});
}

void Dispatcher::departed(std::uint64_t connection_key) noexcept {
  ctx_.shared.departed.add(connection_key);
}

void Dispatcher::stop_workers() {
  stopping_ = true;
  for (std::size_t i = 0; i < pipes_.size(); ++i) {
    push(item_of(i, WorkMeta{.op = WorkOp::stop}, {}, {}, zmq::message_t()));
  }
}

std::vector<Orphan> Dispatcher::take_orphans() {
  for (auto& item : waiting_) {
    if (item.meta.op != WorkOp::complete) continue;
    const std::error_code ec = item.meta.error == 0
                                   ? std::error_code{}
                                   : make_error_code(static_cast<errc>(item.meta.error));
    orphans_.push_back({item.meta.completion.take<RequestCompletion>(), ec,
                        Response{item.meta.sender, std::string(view_of(item.payload))}});
  }
  waiting_.clear();
  return std::move(orphans_);
}

void Dispatcher::push(Item item) {
  // The worker subtracts it once done (a stop marker it never does: it leaves).
  if (item.meta.op != WorkOp::stop) {
    ctx_.shared.worker_pending[item.worker].fetch_add(1, std::memory_order_relaxed);
  }
  // Straight to the worker when nothing waits (no queue node to allocate); else behind
  // what waits, in order.
  if (waiting_.empty() && try_send(item)) return;
  waiting_.push_back(std::move(item));
  flush();
}

bool Dispatcher::try_send(Item& w) {
  auto& pipe = pipes_[w.worker];
  pipeline_release(&ctx_.shared.to_worker_sync[w.worker]);
  for (bool retried = false;; retried = true) {
    if (pipe.send(work_frame(w.meta), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) break;
    // That worker is full: the network waits until it has room (its pipe signals).
    // The refused send may have taken in the signals that say it has room again.
    if (retried || !ctx_.refused(pipe)) return false;
  }
  ctx_.touched(pipe);  // the send may have taken in the signal of a reply
  if (w.payload_inside) {
    pipe.send(w.names, zmq::send_flags::none);
  } else {
    pipe.send(w.names, zmq::send_flags::sndmore);
    pipe.send(w.payload, zmq::send_flags::none);
  }
  return true;
}

void Dispatcher::flush() {
  while (!waiting_.empty() && try_send(waiting_.front())) waiting_.pop_front();
}

int Dispatcher::read(std::size_t worker) {
  int n = 0;
  for (; n < kBurst && frames_.recv(pipes_[worker], zmq::recv_flags::dontwait); ++n) {
    pipeline_acquire(&ctx_.shared.from_worker_sync[worker]);
    if (frames_.size() != 2) continue;  // cannot happen: our worker wrote it
    const auto meta = read_result(frames_[0]);
    if (!meta) continue;  // as above
    if (meta->op == ResultOp::stopped) {
      ++stopped_;
      continue;
    }
    on_result_(*meta, std::move(frames_[1]));
  }
  return n;
}

}  // namespace zmesh::detail
