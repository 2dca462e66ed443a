// Engine — the I/O thread of one Peer ("zmesh-engine"). It owns the components that hold
// the sockets and state, runs the loop (wait, sweep, timers), routes the commands of the
// Peer API to them, wires their events to each other, and stops. It runs user code only
// when asked to: inline handlers and inline callbacks (HandlerOptions, CallbackOptions).
//
// The loop wakes only for sockets with work (Readiness: epoll over the sockets' ZMQ_FDs),
// reads each such socket until EAGAIN (at most kBurst per round, so none starves the
// others), looks again at the sockets it sent on, and sleeps when none is left to read.
//
//   Connections  ROUTER + DEALERs, registry, greeting, heartbeats, per-peer send queues
//   Requests     our pending requests, deadlines, completion, service retries
//   Dispatcher   worker pipes: handlers' work out, replies back, flow control
//   Broadcasts   XPUB + SUB, sequences and gaps, subscription sync
//   Discovery    the broker client and the membership
//   ServiceRouter  which peer a service request goes to
//
// Flow control: while the Dispatcher holds work a worker has no room for, the engine
// reads nothing more from the network (ZeroMQ's high-water marks push back on senders).
// A command addressed to a peer whose send queue is over its bound waits (and the
// engine takes no more commands) until that peer reads or goes; the callers' pipelines
// then fill and their calls wait or fail as they chose.
#pragma once

#include <future>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "broadcasts.hpp"
#include "connections.hpp"
#include "discovery.hpp"
#include "dispatcher.hpp"
#include "engine_context.hpp"
#include "requests.hpp"
#include "security.hpp"
#include "service_router.hpp"

namespace zmesh::detail {

class Engine {
 public:
  Engine(zmq::context_t& ctx, PeerShared& shared);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  struct Endpoints {
    std::string router;  ///< "" when not bound
    std::string pub;     ///< "" when not publishing
  };
  /// Thread body. Opens the sockets, fulfils `ready` with the bound endpoints (or the
  /// bind error), runs until stopped, closes every socket it owns, and returns. Never
  /// throws.
  void run(std::promise<Endpoints> ready) noexcept;

  /// After run() returned: completions the workers could no longer run. The caller of
  /// stop() runs them (their documented thread in that case).
  [[nodiscard]] std::vector<Orphan> take_orphans() { return dispatcher_.take_orphans(); }

 private:
  void open();
  void loop();
  /// Non-blocking pass over the sockets with work; true if anything was handled.
  bool sweep();
  /// Reads one socket if it is hot; cools it when the read ended with EAGAIN.
  template <class Read>
  int read_if_hot(zmq::socket_ref socket, Read&& read);
  /// Lists the current sockets to the Readiness (they come and go in the components).
  void sync_sockets();
  /// Pause bookkeeping, timers and the end of a stop, after each round of I/O.
  void after_io();
  [[nodiscard]] std::chrono::milliseconds poll_timeout(SteadyClock::time_point now);
  [[nodiscard]] bool paused() const noexcept { return dispatcher_.paused(); }
  [[nodiscard]] bool taking_commands() const noexcept { return !parked_; }

  int read_commands();
  void on_command(FrameSet& frames);
  /// A send or request to a peer whose queue is over its bound waits here.
  [[nodiscard]] bool must_wait(const CommandMeta& meta);
  void retry_parked();
  void send_message(const CommandMeta& meta, FrameSet& frames);
  void begin_stop(CommandMeta& meta);
  void finish_stop();
  void close_all() noexcept;

  EngineContext ctx_;
  Readiness readiness_;  // engine thread only
  Security security_{ctx_};
  // Declared in the order they are built: each may refer to those above it.
  Dispatcher dispatcher_;
  Broadcasts broadcasts_;
  Connections connections_;
  Requests requests_;
  Discovery discovery_;
  ServiceRouter services_;

  // engine thread only
  zmq::socket_t commands_;
  FrameSet frames_;
  std::optional<FrameSet> parked_;  // a command waiting for its peer to read
  std::vector<std::uint64_t> dealer_keys_;
  SteadyClock::time_point next_timers_{};
  bool was_paused_ = false;
  bool stopped_ = false;
  SteadyClock::time_point stop_deadline_{};
  std::unique_ptr<StopCompletion> stop_done_;
};

}  // namespace zmesh::detail
