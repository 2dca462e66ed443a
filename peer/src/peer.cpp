#include "zmesh/peer.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "broker_endpoints.hpp"
#include "command_channels.hpp"
#include "completions.hpp"
#include "deadline.hpp"
#include "engine.hpp"
#include "peer_metrics.hpp"
#include "peer_shared.hpp"
#include "peer_stats_json.hpp"
#include "pipeline.hpp"
#include "worker_pool.hpp"
#include "zmesh/core/endpoint.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/keys.hpp"
#include "zmesh/core/metrics_server.hpp"

namespace zmesh {

using detail::CommandMeta;
using detail::CommandOp;

// ------------------------------------------------------------------ Registration

Registration& Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    reset();
    table_ = std::move(o.table_);
    token_ = o.token_;
    o.token_ = 0;
  }
  return *this;
}

void Registration::reset() noexcept {
  if (token_ == 0) return;
  if (auto table = table_.lock()) table->remove(token_);
  token_ = 0;
  table_.reset();
}

// ------------------------------------------------------------------ checks at the call

namespace {

void check_type(const PeerOptions& o, std::string_view type) {
  if (type.empty() || type.size() > o.limits.max_type_bytes) {
    throw Error(errc::invalid_argument,
                "message type must be 1.." + std::to_string(o.limits.max_type_bytes) + " bytes");
  }
}

/// Payloads over the limit would be dropped by the receiver: refuse them here, at once.
void check_payload(const PeerOptions& o, std::string_view payload) {
  if (payload.size() > o.limits.max_payload_bytes) {
    throw Error(errc::too_large, "payload of " + std::to_string(payload.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(o.limits.max_payload_bytes) + " bytes");
  }
}

}  // namespace

// ------------------------------------------------------------------ Peer::Impl

namespace {
std::atomic<std::uint64_t> g_peer_counter{0};
}  // namespace

class Peer::Impl {
 public:
  explicit Impl(PeerOptions options) {
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
  ~Impl() {
    try {
      stop(std::chrono::seconds(1));
    } catch (...) {
      // A destructor must not throw; stop() only fails when the process is in trouble.
    }
  }

  void start() {
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

  void stop(std::chrono::milliseconds drain) {
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
    std::array<zmq::message_t, 3> frames{detail::pod_frame(meta), zmq::message_t(),
                                         zmq::message_t()};
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

  // Serves PeerOptions::metrics_bind (below the class: it uses ask()).
  void start_metrics();
  // Answers kStatsRequestType (below the class: it uses ask()).
  void serve_stats();

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
  auto ask(CommandOp op) {
    Call call(*this);
    auto done = std::make_unique<Completion>();
    auto future = done->promise.get_future();
    CommandMeta meta{.op = op, .completion = detail::Handoff::give(std::move(done))};
    submit<Completion>(meta, zmq::message_t(), zmq::message_t(), shared_.options.send_timeout);
    if (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
      throw Error(errc::timeout, "engine did not answer within a second");
    }
    return future.get();
  }

  static std::int64_t deadline_us(std::chrono::milliseconds timeout) {
    return detail::Deadline::after(timeout).steady_us();
  }

  /// Sends a command; on failure the completion (if any) is adopted back and destroyed.
  template <class Completion>
  void submit(CommandMeta meta, zmq::message_t first, zmq::message_t second,
              std::chrono::milliseconds wait) {
    std::array<zmq::message_t, 3> frames{detail::pod_frame(meta), std::move(first),
                                         std::move(second)};
    submit_frames<Completion>(meta, frames, wait);
  }

  template <class Completion>
  void submit_frames(const CommandMeta& meta, std::span<zmq::message_t> frames,
                     std::chrono::milliseconds wait) {
    if (!channels_->send(frames, wait)) {
      CommandMeta unsent = meta;  // nobody else holds it now: take it back
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

// ------------------------------------------------------------------ Peer

Peer::Peer(PeerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Peer::~Peer() = default;
Peer::Peer(Peer&&) noexcept = default;
Peer& Peer::operator=(Peer&&) noexcept = default;

void Peer::start() {
  impl_->start();
}
void Peer::stop(std::chrono::milliseconds drain) {
  impl_->stop(drain);
}
PeerId Peer::id() const noexcept {
  return impl_->shared_.id;
}
const std::string& Peer::name() const noexcept {
  return impl_->shared_.options.name;
}
std::string Peer::endpoint() const {
  return impl_->endpoint_;
}

Registration Peer::on(std::string type, Handler handler) {
  return on(std::move(type), std::move(handler), HandlerOptions{});
}

Registration Peer::on(std::string type, Handler handler, HandlerOptions options) {
  if (type.starts_with(kReservedTypePrefix)) {
    throw Error(errc::invalid_argument, "message type '" + type + "' is reserved for zmesh");
  }
  const auto token =
      impl_->shared_.handlers->add(std::move(type), std::move(handler), options.run_inline);
  return Registration(impl_->shared_.handlers, token);
}

Future<PeerId> Peer::connect(const std::string& endpoint) {
  return connect(endpoint, {});
}

Future<PeerId> Peer::connect(const std::string& endpoint, const std::string& server_key) {
  if (!server_key.empty() && !is_z85_key(server_key)) {
    throw Error(errc::invalid_argument, "cannot connect to '" + endpoint + "': server key '" +
                                            server_key + "' is not 40 characters of Z85");
  }
  // Checked here, on the caller's thread: the lookup may block, and the engine must not.
  try {
    (void)check_endpoint(endpoint, EndpointUse::connect);
  } catch (const Error& e) {
    throw Error(e.kind(), "cannot connect to '" + endpoint + "': " + e.what());
  }
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::ConnectCompletion>();
  auto future = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::connect, .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::ConnectCompletion>(meta, zmq::message_t(endpoint.data(), endpoint.size()),
                                           zmq::message_t(server_key.data(), server_key.size()),
                                           impl_->shared_.options.send_timeout);
  return future;
}

void Peer::disconnect(PeerId peer) {
  Impl::Call call(*impl_);
  CommandMeta meta{.op = CommandOp::disconnect, .to = peer};
  impl_->submit<detail::ConnectCompletion>(meta, zmq::message_t(), zmq::message_t(),
                                           impl_->shared_.options.send_timeout);
}

void Peer::send(PeerId to, std::string_view type, std::string_view payload) {
  send(to, type, payload, impl_->shared_.options.send_timeout);
}

void Peer::send(PeerId to, std::string_view type, std::string_view payload,
                std::chrono::milliseconds wait) {
  check_type(impl_->shared_.options, type);
  check_payload(impl_->shared_.options, payload);
  Impl::Call call(*impl_);
  CommandMeta meta{.op = CommandOp::send, .to = to};
  impl_->submit<detail::RequestCompletion>(meta, zmq::message_t(type.data(), type.size()),
                                           zmq::message_t(payload.data(), payload.size()), wait);
}

Future<Response> Peer::request(PeerId to, std::string_view type, std::string_view payload,
                               std::chrono::milliseconds timeout) {
  auto done = std::make_unique<detail::RequestCompletion>();
  auto future = done->promise.get_future();
  request_impl(to, type, payload, timeout, std::move(done));
  return future;
}

void Peer::request(PeerId to, std::string_view type, std::string_view payload,
                   std::chrono::milliseconds timeout, ResponseCallback callback) {
  request(to, type, payload, timeout, std::move(callback), CallbackOptions{});
}

void Peer::request(PeerId to, std::string_view type, std::string_view payload,
                   std::chrono::milliseconds timeout, ResponseCallback callback,
                   CallbackOptions options) {
  if (!callback) throw Error(errc::invalid_argument, "request callback is empty");
  auto done = std::make_unique<detail::RequestCompletion>();
  done->callback = std::move(callback);
  done->run_inline = options.run_inline;
  request_impl(to, type, payload, timeout, std::move(done));
}

void Peer::request_impl(PeerId to, std::string_view type, std::string_view payload,
                        std::chrono::milliseconds timeout,
                        std::unique_ptr<detail::RequestCompletion> done) {
  const auto& o = impl_->shared_.options;
  check_type(o, type);
  check_payload(o, payload);
  if (timeout.count() <= 0) timeout = o.request_timeout;
  Impl::Call call(*impl_);
  const auto deadline = detail::Deadline::after(timeout);
  CommandMeta meta{.op = CommandOp::request,
                   .to = to,
                   .deadline_us = deadline.steady_us(),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::RequestCompletion>(meta, zmq::message_t(type.data(), type.size()),
                                           zmq::message_t(payload.data(), payload.size()),
                                           std::min(timeout, o.send_timeout));
}

void Peer::publish(std::string_view topic, std::string_view type, std::string_view payload) {
  const auto& o = impl_->shared_.options;
  check_type(o, type);
  if (!topic.empty() && topic.front() == '\0') {
    throw Error(errc::invalid_argument, "topics starting with a zero byte are reserved");
  }
  if (topic.size() > o.limits.max_topic_bytes) throw Error(errc::too_large, "topic too long");
  check_payload(o, payload);
  Impl::Call call(*impl_);
  auto& shared = impl_->shared_;
  // block: room for it first (BroadcastCredit), given back by the engine once it is out.
  std::size_t credit = 0;
  const std::size_t rule = shared.policies->rule_of(topic);
  if (shared.policies->policy(rule) == DeliveryPolicy::block) {
    credit = topic.size() + payload.size();
    // An inline handler runs on the engine, which gives credit back: it cannot wait.
    const bool engine = detail::is_engine_thread(&shared.command_sync);
    if (!shared.broadcast_credit->take(credit,
                                       engine ? std::chrono::milliseconds(0) : o.send_timeout)) {
      detail::bump(shared.counters.publish_timeouts);
      detail::bump(shared.policies->counters(rule).publish_timeouts);
      throw Error(errc::queue_full,
                  "publish to '" + std::string(topic) + "': a subscriber has had no room for " +
                      std::to_string(o.send_timeout.count()) + " ms (delivery policy block)");
    }
  }
  CommandMeta meta{.op = CommandOp::publish};
  std::array<zmq::message_t, 4> frames{
      detail::pod_frame(meta), zmq::message_t(type.data(), type.size()),
      zmq::message_t(payload.data(), payload.size()), zmq::message_t(topic.data(), topic.size())};
  try {
    impl_->submit_frames<detail::SyncCompletion>(meta, frames, o.send_timeout);
  } catch (...) {
    if (credit != 0) shared.broadcast_credit->give(credit);
    throw;
  }
}

Registration Peer::subscribe(std::string prefix, BroadcastHandler handler) {
  return subscribe(std::move(prefix), std::move(handler), SubscribeOptions{});
}

Registration Peer::subscribe(std::string prefix, BroadcastHandler handler,
                             SubscribeOptions options) {
  const auto token =
      impl_->shared_.subscriptions->add(std::move(prefix), std::move(handler), options.latest);
  return Registration(impl_->shared_.subscriptions, token);
}

void Peer::subscribe_to(const std::string& pub_endpoint) {
  subscribe_to(pub_endpoint, {});
}

void Peer::subscribe_to(const std::string& pub_endpoint, const std::string& publisher_key) {
  if (!publisher_key.empty() && !is_z85_key(publisher_key)) {
    throw Error(errc::invalid_argument,
                "publisher key '" + publisher_key + "' is not 40 characters of Z85");
  }
  Impl::Call call(*impl_);
  impl_->submit<detail::SyncCompletion>(CommandMeta{.op = CommandOp::subscribe_to},
                                        zmq::message_t(pub_endpoint.data(), pub_endpoint.size()),
                                        zmq::message_t(publisher_key.data(), publisher_key.size()),
                                        impl_->shared_.options.send_timeout);
}

std::size_t Peer::reload_trust() {
  return impl_->ask<detail::ReloadCompletion>(CommandOp::reload_trust);
}

Future<void> Peer::sync_subscriptions(std::chrono::milliseconds timeout) {
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::SyncCompletion>();
  auto future = done->done.get_future();
  CommandMeta meta{.op = CommandOp::sync,
                   .deadline_us = Impl::deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::SyncCompletion>(meta, zmq::message_t(), zmq::message_t(),
                                        impl_->shared_.options.send_timeout);
  return future;
}

Future<void> Peer::sync_subscriptions_with_last(std::string prefix,
                                                std::chrono::milliseconds timeout) {
  if (prefix.starts_with('\0')) {
    throw Error(errc::invalid_argument, "topics starting with a zero byte are reserved");
  }
  // The values travel on topics of marker + topic (protocol.md 5.10): at most 50 bytes of
  // marker before the prefix.
  if (prefix.size() + 50 > impl_->shared_.options.limits.max_topic_bytes) {
    throw Error(errc::invalid_argument, "prefix too long to ask for last values");
  }
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::SyncCompletion>();
  auto future = done->done.get_future();
  CommandMeta meta{.op = CommandOp::sync,
                   .deadline_us = Impl::deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::SyncCompletion>(meta, zmq::message_t(prefix.data(), prefix.size()),
                                        zmq::message_t(std::string_view("1")),
                                        impl_->shared_.options.send_timeout);
  return future;
}

Registration Peer::on_gap(GapHandler handler) {
  const auto token = impl_->shared_.subscriptions->add_gap(std::move(handler));
  return Registration(impl_->shared_.subscriptions, token);
}

std::string Peer::pub_endpoint() const {
  return impl_->pub_endpoint_;
}

std::vector<PublisherStats> Peer::publishers() const {
  return impl_->ask<detail::PublishersCompletion>(CommandOp::publishers);
}

std::vector<MemberInfo> Peer::members() const {
  return impl_->ask<detail::MembersCompletion>(CommandOp::members);
}

Future<std::vector<MemberInfo>> Peer::lookup(std::string name, std::string service,
                                             std::chrono::milliseconds timeout) {
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::MembersCompletion>();
  auto future = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::lookup,
                   .deadline_us = Impl::deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::MembersCompletion>(meta, zmq::message_t(name.data(), name.size()),
                                           zmq::message_t(service.data(), service.size()),
                                           impl_->shared_.options.send_timeout);
  return future;
}

Future<PeerId> Peer::connect_by_name(const std::string& name) {
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::ConnectCompletion>();
  auto future = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::connect_name,
                   .deadline_us = Impl::deadline_us(impl_->shared_.options.connect_timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::ConnectCompletion>(meta, zmq::message_t(name.data(), name.size()),
                                           zmq::message_t(), impl_->shared_.options.send_timeout);
  return future;
}

Future<Response> Peer::request_service(std::string_view service, std::string_view type,
                                       std::string_view payload,
                                       std::chrono::milliseconds timeout) {
  const auto& o = impl_->shared_.options;
  check_type(o, type);
  if (service.empty()) throw Error(errc::invalid_argument, "service name must not be empty");
  check_payload(o, payload);
  if (timeout.count() <= 0) timeout = o.request_timeout;
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::RequestCompletion>();
  auto future = done->promise.get_future();
  const auto deadline = detail::Deadline::after(timeout);
  CommandMeta meta{.op = CommandOp::request_service,
                   .deadline_us = deadline.steady_us(),
                   .completion = detail::Handoff::give(std::move(done))};
  std::array<zmq::message_t, 4> frames{detail::pod_frame(meta),
                                       zmq::message_t(type.data(), type.size()),
                                       zmq::message_t(payload.data(), payload.size()),
                                       zmq::message_t(service.data(), service.size())};
  impl_->submit_frames<detail::RequestCompletion>(meta, frames, std::min(timeout, o.send_timeout));
  return future;
}

bool Peer::registered() const noexcept {
  return impl_->shared_.registered.load();
}

bool Peer::membership_listed() const noexcept {
  return impl_->shared_.membership_listed.load();
}

std::string Peer::metrics_endpoint() const {
  return impl_->metrics_endpoint_;
}

std::string Peer::registration_error() const {
  std::lock_guard lock(impl_->shared_.registration_mu);
  return impl_->shared_.registration_error;
}

std::string Peer::broker_auth_error() const {
  std::lock_guard lock(impl_->shared_.registration_mu);
  return impl_->shared_.broker_auth_error;
}

PeerStats Peer::stats() const {
  return impl_->shared_.counters.snapshot();
}

std::vector<TopicPolicyStats> Peer::delivery_stats() const {
  return impl_->shared_.policies->stats();
}

std::vector<ConnectionStats> Peer::connections() const {
  return impl_->ask<detail::ConnectionsCompletion>(CommandOp::connections);
}

}  // namespace zmesh
