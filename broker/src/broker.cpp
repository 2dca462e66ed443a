// Broker — the lifecycle (start, stop, the broker thread) and the loop: it polls the
// ROUTER, the control pipe and the CURVE sockets, hands each message to the component
// that handles its kind (Registrar, LookupPages), and runs the timers (expiry, Events,
// the summary line). What each kind means lives in those components.
#include "zmesh/broker/broker.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "broker_context.hpp"
#include "broker_security.hpp"
#include "client_sender.hpp"
#include "event_fanout.hpp"
#include "lookup_pages.hpp"
#include "registrar.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh {

using std::chrono::milliseconds;

namespace {

std::atomic<std::uint64_t> g_broker_counter{0};

}  // namespace

class Broker::Impl {
 public:
  explicit Impl(BrokerOptions options) : ctx_(std::move(options)), decoder_(ctx_.options.limits) {
    ctx_.options.validate();
    ctx_.options.curve.validate("BrokerOptions::curve");
    if (ctx_.options.curve.enabled()) {
      ctx_.security = std::make_unique<detail::BrokerSecurity>(ctx_.options);
    }
    control_endpoint_ = "inproc://zmesh-broker-" + std::to_string(g_broker_counter.fetch_add(1));
  }

  void start() {
    std::lock_guard lock(lifecycle_mu_);
    if (thread_.joinable() || stopped_)
      throw Error(errc::invalid_argument, "a Broker starts only once");
    const BrokerOptions& options = ctx_.options;
    auto& security = ctx_.security;
    // Made here, then handed to the broker thread at its start (a full barrier). The
    // send HWM bounds what one client that does not read can make us hold (ROUTER_MANDATORY
    // makes a full queue visible as EAGAIN: the answer is dropped and counted).
    router_ = make_router(zmq_, SocketTuning{options.send_queue, 10000, options.limits,
                                             milliseconds(100), milliseconds(2000)});
    control_ = make_pipe(zmq_, zmq::socket_type::pair, 1);
    control_.bind(control_endpoint_);
    try {
      if (security) security->attach(zmq_, router_);  // before the bind: see ZapHandler
    } catch (const std::exception&) {
      security->detach();
      router_.close();
      control_.close();
      throw;
    }
    try {
      std::lock_guard e(endpoint_mu_);
      endpoint_ = bind_resolved(router_, options.bind);
    } catch (const zmq::error_t& e) {
      if (security) security->detach();
      router_.close();
      control_.close();
      throw Error(errc::invalid_argument, "cannot bind '" + options.bind + "': " + e.what());
    }
    ctx_.counters.count([this](BrokerStats& s) { s.epoch = ctx_.epoch; });
    spdlog::info("broker listening endpoint={} epoch={} ttl_ms={} renew_ms={}", endpoint(),
                 id_to_hex(ctx_.epoch), options.ttl.count(), options.renew_interval.count());
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    std::lock_guard lock(lifecycle_mu_);
    if (!thread_.joinable()) return;
    {
      zmq::socket_t poke = make_pipe(zmq_, zmq::socket_type::pair, 1);
      poke.connect(control_endpoint_);
      poke.send(zmq::str_buffer("stop"), zmq::send_flags::none);
    }
    thread_.join();
    stopped_ = true;
  }

  std::string endpoint() const {
    std::lock_guard e(endpoint_mu_);
    return endpoint_;
  }
  std::uint64_t epoch() const noexcept { return ctx_.epoch; }
  void reload() noexcept { reload_requested_.store(true, std::memory_order_relaxed); }
  BrokerStats stats() const { return ctx_.counters.snapshot(); }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "zmesh-broker");
    try {
      loop();
    } catch (const std::exception& e) {
      spdlog::error("broker loop failed: {}", e.what());
    }
    // Tell every peer we are going, so it re-registers with the next broker at once.
    registrar_.members().for_each_identity([&](const std::string& identity) {
      out_.send(identity, out_.header(Kind::bye, 0), zmq::message_t());
    });
    registrar_.log_summary(SteadyClock::now(), true);
    spdlog::info("broker stopped registered={}", registrar_.members().size());
    router_.set(zmq::sockopt::linger, 200);
    if (ctx_.security) ctx_.security->detach();  // its monitor goes before the ROUTER it watches
    router_.close();
    control_.close();
  }

  void loop() {
    auto& security = ctx_.security;
    for (;;) {
      zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                                 {control_.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, 0, ZMQ_POLLIN, 0},
                                 {nullptr, 0, ZMQ_POLLIN, 0}};
      if (security) {
        items[2].socket = security->zap_socket().handle();
        items[3].socket = security->monitor_socket().handle();
      }
      zmq::poll(items, security ? 4 : 2, detail::kBrokerTick);
      if (items[1].revents & ZMQ_POLLIN) return;
      if (security) {
        if (items[2].revents & ZMQ_POLLIN) security->on_zap();
        if (items[3].revents & ZMQ_POLLIN) security->on_monitor();
        if (reload_requested_.exchange(false, std::memory_order_relaxed)) security->reload();
      }
      bool drained = true;  // nothing left unread on the ROUTER
      if (items[0].revents & ZMQ_POLLIN) {
        drained = false;
        for (int n = 0; n < 256; ++n) {
          if (!frames_.recv(router_, zmq::recv_flags::dontwait)) {
            drained = true;
            break;
          }
          on_frames();
        }
      }
      const auto now = SteadyClock::now();
      if (drained) last_idle_ = now;
      // A peer's Renew may be waiting, unread, in our own queue while we work through a
      // backlog (a registration storm). Judge expiry as of the last moment nothing was
      // waiting, so our lag does not count against the peers; but never more than one
      // TTL back, so a broker that is never idle still expires.
      registrar_.expire(std::max(last_idle_, now - ctx_.options.ttl));
      if (events_.due(now)) events_.flush(now, registrar_.members(), out_);
      registrar_.log_summary(now, false);
      ctx_.counters.count([&](BrokerStats& s) {
        s.registered = registrar_.members().size();
        if (security) security->fill(s);
      });
    }
  }

  void on_frames() {
    auto env = decoder_.decode(Layout::router, frames_);
    if (!env) {
      ctx_.counters.count([](BrokerStats& s) { ++s.malformed; });
      ctx_.limiter.warn("dropped malformed message: {}", env.error().message());
      return;
    }
    const std::string identity(env->identity);
    if (env->header.version != kProtocolVersion) {
      // Only a Register gets here with another version (the decoder lets the greetings
      // through so that they are answered, protocol.md 9); anything else is dropped.
      ctx_.counters.count([](BrokerStats& s) { ++s.malformed; });
      if (env->header.kind == Kind::reg) {
        registrar_.reject(identity, env->header.correlation_id, WireError::unsupported_version,
                          "Register header version " + std::to_string(env->header.version) +
                              ": this broker speaks protocol version 1");
      }
      return;
    }
    // frames_[1] is the header frame: it carries the connection's authenticated key.
    const zmq::message_t& header_frame = frames_[1];
    switch (env->header.kind) {
      case Kind::reg: registrar_.on_register(identity, *env, header_frame); break;
      case Kind::renew: registrar_.on_renew(identity, *env, header_frame); break;
      case Kind::lookup:
        lookups_.on_lookup(identity, *env, header_frame, registrar_.members());
        break;
      case Kind::bye: registrar_.on_bye(identity, *env, header_frame); break;
      case Kind::ping:
        out_.answer(identity, out_.header(Kind::pong, env->header.correlation_id),
                    zmq::message_t(env->payload.data(), env->payload.size()));
        break;
      default:
        if (env->header.correlation_id != 0) {
          out_.answer_error(
              identity, env->header.correlation_id, WireError::bad_request,
              "the broker does not handle '" + std::string(kind_name(env->header.kind)) + "'");
        }
        break;
    }
  }

  // First in, last out: every socket (ours, the security's) closes before it.
  zmq::context_t zmq_{1};
  detail::BrokerContext ctx_;
  std::string control_endpoint_;
  std::atomic<bool> reload_requested_{false};  // set by reload(), taken by the loop
  // broker thread only (created in start(), handed over at thread start)
  zmq::socket_t router_;
  zmq::socket_t control_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  detail::ClientSender out_{router_, ctx_};
  detail::EventFanout events_{ctx_};
  detail::Registrar registrar_{ctx_, out_, events_};
  detail::LookupPages lookups_{ctx_, out_};
  SteadyClock::time_point last_idle_ = SteadyClock::now();  // ROUTER last seen empty

  std::mutex lifecycle_mu_;
  std::thread thread_;    // guarded by lifecycle_mu_
  bool stopped_ = false;  // guarded by lifecycle_mu_
  mutable std::mutex endpoint_mu_;
  std::string endpoint_;  // guarded by endpoint_mu_
};

Broker::Broker(BrokerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Broker::~Broker() {
  // A broker thread we cannot stop would outlive what it uses: terminate, as an exception
  // leaving this (noexcept) destructor would, but say why first.
  try {
    impl_->stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zmesh::Broker: cannot stop the broker thread: %s\n", e.what());
    std::terminate();
  }
}
void Broker::start() {
  impl_->start();
}
void Broker::stop() {
  impl_->stop();
}
std::string Broker::endpoint() const {
  return impl_->endpoint();
}
void Broker::reload() noexcept {
  impl_->reload();
}
std::uint64_t Broker::epoch() const noexcept {
  return impl_->epoch();
}
BrokerStats Broker::stats() const {
  return impl_->stats();
}

}  // namespace zmesh
