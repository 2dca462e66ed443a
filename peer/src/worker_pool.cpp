#include "worker_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "completions.hpp"
#include "delivery.hpp"
#include "pipeline.hpp"
#include "tsan_annotations.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/frame_set.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::detail {
namespace {

// This worker's sync address for the way back to the engine (tsan_annotations.hpp).
thread_local void* tl_result_sync = nullptr;

// [result, route][body]: the route is the work's, sent back.
void send_result(zmq::socket_t& pipe, const ResultMeta& meta, zmq::message_t body) {
  pipeline_release(tl_result_sync);
  pipe.send(result_frame(meta), zmq::send_flags::sndmore);
  pipe.send(body, zmq::send_flags::none);
}

// Runs a callback-style request's completion (user code, so here and not on the engine).
void complete(PeerShared& shared, WorkMeta meta, std::string_view body) {
  auto done = meta.completion.take<RequestCompletion>();
  Response response{meta.sender, std::string(body)};
  const std::error_code ec =
      meta.error == 0 ? std::error_code{} : make_error_code(static_cast<errc>(meta.error));
  try {
    done->callback(ec, std::move(response));
  } catch (...) {
    bump(shared.counters.handler_errors);
  }
}

void broadcast(PeerShared& shared, const WorkMeta& meta, const Names& names) {
  drop(shared.counters.worker_queue_depth);
  const Message message(meta.sender, names.type, bytes_of(names.payload), false, 0, names.topic,
                        meta.sequence, {}, (meta.flags & kFlagRetained) != 0);
  std::uint64_t errors = 0;
  const std::size_t ran = shared.subscriptions->deliver(message, errors, meta.latest != 0);
  bump(shared.counters.handler_errors, errors);
  if (ran == 0) bump(shared.counters.broadcasts_filtered);
  bump(shared.counters.handled, ran);
}

void deliver(PeerShared& shared, zmq::socket_t& pipe, const WorkMeta& meta, const Names& names) {
  drop(shared.counters.worker_queue_depth);
  // A delivery's topic is the sender's CURVE key.
  Outcome out = run_delivery(shared, meta, names.type, bytes_of(names.payload),
                             shared.handlers->find(names.type), names.topic);
  if (out.what == Outcome::What::nothing) return;
  const bool ok = out.what == Outcome::What::reply;
  send_result(
      pipe,
      ResultMeta{ok ? ResultOp::reply : ResultOp::error, out.code, meta.route, meta.correlation_id},
      zmq::message_t(out.body.data(), out.body.size()));
}

}  // namespace

void WorkerPool::start() {
  for (std::size_t i = 0; i < shared_.options.workers; ++i) {
    threads_.emplace_back([this, i] { run(i); });
  }
}

void WorkerPool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::run(std::size_t index) {
  const std::string name = "zmesh-worker-" + std::to_string(index);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  try {
    // worker thread only. Made inside the try: a thread that starts after stop() gave up
    // waiting finds the context terminated (ETERM) and leaves.
    zmq::socket_t pipe =
        make_pipe(ctx_, zmq::socket_type::pair, shared_.options.worker_queue_depth);
    pipe.connect(worker_endpoint(shared_.uid, index));
    tl_result_sync = &shared_.from_worker_sync[index];
    FrameSet frames;
    for (;;) {
      frames.recv(pipe);
      pipeline_acquire(&shared_.to_worker_sync[index]);
      Names names;
      const auto meta = read_work(frames, names);
      if (!meta) continue;  // cannot happen: the engine wrote it
      switch (meta->op) {
        case WorkOp::deliver: deliver(shared_, pipe, *meta, names); break;
        case WorkOp::complete: complete(shared_, *meta, names.payload); break;
        case WorkOp::broadcast:
          broadcast(shared_, *meta, names);
          if (meta->latest == 2) {  // the engine may hand this worker the next one now
            shared_.latest_in_flight[index].fetch_sub(1, std::memory_order_release);
          }
          break;
        case WorkOp::gap: {
          std::uint64_t errors = 0;
          shared_.subscriptions->gap(meta->sender, names.topic, meta->missed, errors);
          bump(shared_.counters.handler_errors, errors);
          break;
        }
        case WorkOp::stop:
          send_result(pipe, ResultMeta{ResultOp::stopped, WireError::none, {}, 0},
                      zmq::message_t());
          return;
      }
      shared_.worker_pending[index].fetch_sub(1, std::memory_order_release);
    }
  } catch (const zmq::error_t&) {
    // ETERM: the peer is stopping and the context is shutting down.
  }
}

}  // namespace zmesh::detail
