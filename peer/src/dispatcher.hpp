// Dispatcher — the engine's side of the worker pool: one inproc PAIR per worker, the
// work waiting for room at a worker, and what comes back (replies, stop acknowledgements).
// Engine thread only.
//
// Order and flow control: one sender's (or publisher's) work always goes to the same
// worker, so it is handled in order. Work for a worker that is full waits here and,
// while anything waits, the engine reads nothing more from the network (paused()), so
// ZeroMQ's high-water marks push back on the senders.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <zmq.hpp>

#include "completions.hpp"
#include "engine_context.hpp"
#include "latest_box.hpp"
#include "pipeline.hpp"
#include "zmesh/core/frame_set.hpp"

namespace zmesh::detail {

/// A callback-style request that completed after the workers had stopped: whoever
/// stops the Peer runs it (its documented thread in that case).
struct Orphan {
  std::unique_ptr<RequestCompletion> completion;
  std::error_code error;
  Response response;
};

class Dispatcher {
 public:
  /// A worker's answer to a request: to be sent back on `meta.route`.
  using OnResult = std::function<void(const ResultMeta& meta, zmq::message_t payload)>;

  Dispatcher(EngineContext& ctx, OnResult on_result);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Binds one pipe per worker (before the workers start).
  void open();
  void close() noexcept;

  /// A request or message to run its handler: on the sender's worker, or here on the
  /// engine when its handler runs inline and that worker has nothing pending (so the
  /// sender's order holds); an inline handler's answer goes to on_result at once.
  /// `sender_key`: the key the sender authenticated with (CURVE), "" otherwise.
  void deliver(PeerId sender, const Route& route, const Envelope& env, zmq::message_t payload,
               std::string_view sender_key = {});
  /// A broadcast for the subscriptions; its sequence rides along. For latest
  /// subscriptions it waits in the LatestBox, replacing an older one of its topic.
  void broadcast(PeerId publisher, std::uint64_t sequence, std::string_view type,
                 zmq::message_t topic, zmq::message_t payload, std::uint32_t flags = 0);
  /// Whether broadcasts for latest subscriptions wait for their worker (the engine then
  /// calls flush_latest() every round and sleeps at most 1 ms).
  [[nodiscard]] bool latest_waiting() const noexcept { return !latest_.empty(); }
  /// Hands each worker that has finished its last one the oldest topic's newest broadcast.
  void flush_latest();
  /// Broadcasts missed on a topic, for the gap handlers.
  void gap(PeerId publisher, std::string_view topic, std::uint64_t missed);
  /// Runs a callback-style request's completion on the worker of `from` (user code never
  /// runs on the engine). `error` zero = success, `body` the reply; else the error text.
  void complete(std::unique_ptr<RequestCompletion> done, PeerId from, errc error,
                std::string_view body);
  /// Requests from this connection are skipped by the workers from now on.
  void departed(std::uint64_t connection_key) noexcept;

  /// Queues a stop marker behind each worker's work.
  void stop_workers();
  [[nodiscard]] bool all_stopped() const noexcept { return stopped_ == pipes_.size(); }
  /// Completions that will not run on a worker any more (call after the loop ended).
  [[nodiscard]] std::vector<Orphan> take_orphans();

  // --- I/O
  [[nodiscard]] bool paused() const noexcept { return !waiting_.empty(); }
  [[nodiscard]] std::size_t workers() const noexcept { return pipes_.size(); }
  [[nodiscard]] zmq::socket_t& pipe(std::size_t worker) { return pipes_[worker]; }
  /// The worker that the first waiting item needs room at (when paused()).
  [[nodiscard]] std::size_t blocked_on() const noexcept { return waiting_.front().worker; }
  /// Reads one worker's results; returns how many.
  int read(std::size_t worker);
  /// Hands waiting work to workers while they have room.
  void flush();
  [[nodiscard]] std::size_t worker_for(PeerId peer) const noexcept;

 private:
  struct Item {
    std::size_t worker;
    WorkMeta meta;
    zmq::message_t names;  // names_frame / delivery_names (pipeline.hpp)
    zmq::message_t payload;
    bool payload_inside = false;  // in `names`: the message is two frames, not three
  };
  /// A work item, its payload inside the names frame when all fits inside a message.
  static Item item_of(std::size_t worker, const WorkMeta& meta, std::string_view type,
                      std::string_view topic, zmq::message_t payload);
  void push(Item item);
  /// A broadcast to `worker`'s queue; `latest` as WorkMeta::latest (0: plain subscriptions).
  void push_broadcast(std::size_t worker, LatestBroadcast&& b, std::uint8_t latest);
  /// A broadcast (meta: WorkOp::broadcast) to `worker`'s queue from its parts.
  void push_broadcast(std::size_t worker, const WorkMeta& meta, std::string_view type,
                      std::string_view topic, zmq::message_t payload);
  /// Holds a broadcast for latest subscriptions (or, past the box's bounds, sends it on).
  void hold_latest(std::size_t worker, LatestBroadcast& b);
  /// Hands `worker` its next latest broadcast if it has finished the last one.
  void flush_latest(std::size_t worker);
  /// Sends one item to its worker if it has room now.
  bool try_send(Item& item);

  EngineContext& ctx_;
  OnResult on_result_;
  FrameSet frames_;
  // engine thread only
  std::vector<zmq::socket_t> pipes_;
  std::deque<Item> waiting_;
  LatestBox latest_;
  bool stopping_ = false;  // stop markers are queued: completions become orphans
  std::size_t stopped_ = 0;
  std::vector<Orphan> orphans_;
};

}  // namespace zmesh::detail
