// Peer::Impl — what a Peer owns behind its public facade: the shared state (options, ids,
// counters, tables), the ZeroMQ context, the engine and its thread, the workers, the
// command channels of the calling threads, and the metrics server.
//
// Lifecycle (peer_impl.cpp): made with validated options, started once, stopped once
// (idempotent; ~Impl stops with a one-second drain). Every API call that reaches the
// engine enters through the admission gate (`Call`), which stop() closes and waits on,
// and sends one command with `submit` from the calling thread (its own PUSH). Snapshots
// (connections, publishers, members) are commands too, answered through `ask`.
//
// The Peer's API methods live by concept: peer.cpp (lifecycle, handlers, counters),
// peer_requests.cpp, peer_broadcasts.cpp, peer_discovery.cpp.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "command_channels.hpp"
#include "completions.hpp"
#include "deadline.hpp"
#include "engine.hpp"
#include "peer_shared.hpp"
#include "pipeline.hpp"
#include "worker_pool.hpp"
#include "zmesh/core/export.hpp"
#include "zmesh/core/metrics_server.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {

namespace detail {

/// Throws Error(invalid_argument) unless `type` is 1..max_type_bytes long.
void check_type(const PeerOptions& o, std::string_view type);
/// Payloads over the limit would be dropped by the receiver: refuse them here, at once
/// (Error(too_large)).
void check_payload(const PeerOptions& o, std::string_view payload);

}  // namespace detail

// Hidden as a whole: it is nested in Peer, whose visibility (exported) it would inherit,
// and nothing outside the library can reach it.
class ZMESH_HIDDEN Peer::Impl {
 public:
  explicit Impl(PeerOptions options);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void start();
  void stop(std::chrono::milliseconds drain);

  // Serves PeerOptions::metrics_bind (it uses ask()).
  void start_metrics();
  // Answers kStatsRequestType (it uses ask()).
  void serve_stats();
  // A subscription sync (peer_broadcasts.cpp): `prefix` and `with_last` ("1") ask for
  // the retained values too; both empty for a plain sync.
  Future<void> sync(std::chrono::milliseconds timeout, zmq::message_t prefix,
                    zmq::message_t with_last);

  /// Admission to the command pipeline for one API call (see stop()).
  class Call {
   public:
    explicit Call(Impl& impl) : impl_(impl) {
      impl_.callers_.fetch_add(1);
      if (!impl_.accepting_.load()) {
        impl_.callers_.fetch_sub(1);
        const bool created = impl_.state_.load() == State::created;
        throw Error(created ? errc::not_running : errc::shutting_down,
                    created ? "peer not started" : "peer is stopped");
      }
    }
    ~Call() { impl_.callers_.fetch_sub(1); }
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

   private:
    Impl& impl_;
  };

  /// Asks the engine for a snapshot (connections, publishers, members) and waits up to
  /// a second for it.
  template <class Completion>
  auto ask(detail::CommandOp op) {
    Call call(*this);
    auto done = std::make_unique<Completion>();
    auto future = done->promise.get_future();
    detail::CommandMeta meta{.op = op, .completion = detail::Handoff::give(std::move(done))};
    submit<Completion>(meta, zmq::message_t(), zmq::message_t(), shared_.options.send_timeout);
    if (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
      throw Error(errc::timeout, "engine did not answer within a second");
    }
    return future.get();
  }

  /// A command's deadline: `timeout` from now on the steady clock (the engine makes the
  /// wire deadline from it).
  static std::int64_t deadline_us(std::chrono::milliseconds timeout) {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               (SteadyClock::now() + timeout).time_since_epoch())
        .count();
  }

  /// Sends a command; on failure the completion (if any) is adopted back and destroyed.
  template <class Completion>
  void submit(detail::CommandMeta meta, zmq::message_t first, zmq::message_t second,
              std::chrono::milliseconds wait) {
    std::array<zmq::message_t, 3> frames{detail::pod_frame(meta), std::move(first),
                                         std::move(second)};
    submit_frames<Completion>(meta, frames, wait);
  }

  template <class Completion>
  void submit_frames(const detail::CommandMeta& meta, std::span<zmq::message_t> frames,
                     std::chrono::milliseconds wait) {
    if (!channels_->send(frames, wait)) {
      detail::CommandMeta unsent = meta;  // nobody else holds it now: take it back
      (void)unsent.completion.take<Completion>();
      throw Error(errc::queue_full, "command queue full: the engine is pushing back");
    }
  }

  detail::PeerShared shared_;
  std::string endpoint_;
  std::string pub_endpoint_;

  enum class State { created, running, stopped };
  std::mutex lifecycle_mu_;
  // Written under lifecycle_mu_; read without it by Call (for its error message).
  std::atomic<State> state_{State::created};
  std::atomic<bool> accepting_{false};
  std::atomic<int> callers_{0};

  std::unique_ptr<zmq::context_t> ctx_;
  std::unique_ptr<detail::Engine> engine_;
  std::thread engine_thread_;
  std::unique_ptr<detail::WorkerPool> workers_;
  std::unique_ptr<detail::CommandChannels> channels_;
  std::unique_ptr<MetricsServer> metrics_;  // scrapes on its own thread; stopped first
  std::string metrics_endpoint_;
};

}  // namespace zmesh
