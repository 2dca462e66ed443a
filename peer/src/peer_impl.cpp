// Peer::Impl: making a Peer (ids, tables), start and stop, the metrics server and the
// stats handler. See peer_impl.hpp.
#include "peer_impl.hpp"

#include <optional>
#include <vector>

#include "broker_endpoints.hpp"
#include "peer_metrics.hpp"
#include "peer_stats_json.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh {

using detail::CommandMeta;
using detail::CommandOp;

// ------------------------------------------------------------------ checks at the call

namespace detail {

void check_type(const PeerOptions& o, std::string_view type) {
  if (type.empty() || type.size() > o.limits.max_type_bytes) {
    throw Error(errc::invalid_argument,
                "message type must be 1.." + std::to_string(o.limits.max_type_bytes) + " bytes");
  }
}

void check_payload(const PeerOptions& o, std::string_view payload) {
  if (payload.size() > o.limits.max_payload_bytes) {
    throw Error(errc::too_large, "payload of " + std::to_string(payload.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(o.limits.max_payload_bytes) + " bytes");
  }
}

}  // namespace detail

// ------------------------------------------------------------------ Peer::Impl

namespace {
std::atomic<std::uint64_t> g_peer_counter{0};
}  // namespace

Peer::Impl::Impl(PeerOptions options) {
  options.validate();
  options.curve.validate("PeerOptions::curve");  // derives the public key if not given
  // May block in the resolver.
  shared_.brokers = detail::broker_endpoints(options, &shared_.broker_keys);
  shared_.options = std::move(options);
  if (shared_.options.curve.enabled()) {
    shared_.id = peer_id_for_key(shared_.options.curve.public_key);
  } else {
    shared_.id = shared_.options.id != 0 ? shared_.options.id : random_id();
  }
  shared_.session = random_id();
  shared_.policies = std::make_unique<detail::PolicyTable>(shared_.options.delivery,
                                                           shared_.options.topic_policies);
  shared_.broadcast_credit =
      std::make_unique<detail::BroadcastCredit>(shared_.options.broadcast_backlog_bytes);
  shared_.uid = id_to_hex(shared_.id) + "-" + std::to_string(g_peer_counter.fetch_add(1));
  // Each (un)subscription becomes a command from the calling thread, so it reaches the
  // SUB before anything that thread asks for afterwards (a sync, say).
  shared_.subscriptions->set_on_change([this](const std::string& prefix, bool subscribe) {
    if (!accepting_.load()) return;  // not started: the engine subscribes at start
    Call call(*this);
    submit<detail::SyncCompletion>(
        CommandMeta{.op = subscribe ? CommandOp::subscribe : CommandOp::unsubscribe},
        zmq::message_t(prefix.data(), prefix.size()), zmq::message_t(),
        shared_.options.send_timeout);
  });
  serve_stats();
}

Peer::Impl::~Impl() {
  try {
    stop(std::chrono::seconds(1));
  } catch (...) {
    // A destructor must not throw; stop() only fails when the process is in trouble.
  }
}

void Peer::Impl::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (state_ != State::created) throw Error(errc::invalid_argument, "a Peer starts only once");
  if (!shared_.options.metrics_bind.empty()) start_metrics();
  ctx_ = std::make_unique<zmq::context_t>(1);
  engine_ = std::make_unique<detail::Engine>(*ctx_, shared_);
  std::promise<detail::Engine::Endpoints> ready;
  auto bound = ready.get_future();
  engine_thread_ =
      std::thread([this, r = std::move(ready)]() mutable { engine_->run(std::move(r)); });
  try {
    const auto endpoints = bound.get();
    endpoint_ = endpoints.router;
    pub_endpoint_ = endpoints.pub;
  } catch (...) {
    engine_thread_.join();
    engine_.reset();
    ctx_.reset();
    metrics_.reset();
    state_ = State::stopped;
    throw;
  }
  channels_ = std::make_unique<detail::CommandChannels>(
      *ctx_, detail::command_endpoint(shared_.uid), shared_.options.command_queue_depth,
      &shared_.command_sync);
  workers_ = std::make_unique<detail::WorkerPool>(*ctx_, shared_);
  workers_->start();
  state_ = State::running;
  accepting_.store(true);
}

void Peer::Impl::stop(std::chrono::milliseconds drain) {
  std::lock_guard lock(lifecycle_mu_);
  if (state_ != State::running) return;
  if (metrics_) metrics_->stop();  // waits for a scrape that is asking the engine
  // Admit no new calls, and wait for the calls already inside to finish queuing.
  accepting_.store(false);
  while (callers_.load() != 0) std::this_thread::yield();
  shared_.drain_deadline_us.store(
      static_cast<std::int64_t>(steady_now_us()) +
      std::chrono::duration_cast<std::chrono::microseconds>(drain).count());
  auto done = std::make_unique<detail::StopCompletion>();
  auto stopped = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::stop,
                   .deadline_us = deadline_us(drain),
                   .completion = detail::Handoff::give(std::move(done))};
  std::array<zmq::message_t, 3> frames{detail::pod_frame(meta), zmq::message_t(), zmq::message_t()};
  if (!channels_->send(frames, drain + std::chrono::seconds(1))) {
    (void)meta.completion.take<detail::StopCompletion>();
  } else {
    (void)stopped.wait_for(drain + std::chrono::seconds(2));  // then stops anyway
  }
  channels_->close_all();
  ctx_->shutdown();  // wakes anything still blocked in a ZeroMQ call
  engine_thread_.join();
  workers_->join();
  // Callback completions the workers could no longer run: run them here.
  for (auto& o : engine_->take_orphans()) {
    try {
      o.completion->callback(o.error, std::move(o.response));
    } catch (...) {
      detail::bump(shared_.counters.handler_errors);
    }
  }
  workers_.reset();
  engine_.reset();
  channels_.reset();
  ctx_->close();
  ctx_.reset();
  state_ = State::stopped;
}

// Serves PeerOptions::metrics_bind. A scrape reads the counters and asks the engine
// for its connections like Peer::connections() (a command: the engine is never held).
void Peer::Impl::start_metrics() {
  metrics_ = std::make_unique<MetricsServer>(shared_.options.metrics_bind, [this] {
    std::optional<std::vector<ConnectionStats>> connections;
    try {
      connections = ask<detail::ConnectionsCompletion>(CommandOp::connections);
    } catch (const Error&) {
      // Not started yet, stopping, or busy past a second: counters only.
    }
    return detail::peer_metrics_text(shared_.options.name, shared_.id, shared_.counters.snapshot(),
                                     shared_.counters.request_durations.snapshot(), connections,
                                     shared_.policies->stats());
  });
  metrics_endpoint_ = metrics_->endpoint();
}

// The stats handler runs on a worker like any handler, and asks the engine for its
// connections and publishers as Peer::connections() does. Registered for the Peer's life.
void Peer::Impl::serve_stats() {
  (void)shared_.handlers->add(std::string(kStatsRequestType), [this](const Message&) {
    std::optional<std::vector<ConnectionStats>> connections;
    std::optional<std::vector<PublisherStats>> publishers;
    try {
      connections = ask<detail::ConnectionsCompletion>(CommandOp::connections);
      publishers = ask<detail::PublishersCompletion>(CommandOp::publishers);
    } catch (const Error&) {
      // Stopping, or the engine busy past a second: the counters alone.
    }
    return detail::peer_stats_json(shared_.options.name, shared_.id, endpoint_, pub_endpoint_,
                                   shared_.counters.snapshot(), shared_.policies->stats(),
                                   connections, publishers);
  });
}

}  // namespace zmesh
