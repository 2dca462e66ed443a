#include "zmesh/broker/broker.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "membership.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh {

using detail::Member;
using std::chrono::milliseconds;

void BrokerOptions::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw Error(errc::invalid_argument, "invalid broker options: " + what);
  };
  require(!bind.empty(), "bind must not be empty");
  require(ttl.count() >= 100, "ttl must be at least 100 ms");
  require(renew_interval.count() >= 10, "renew_interval must be at least 10 ms");
  require(renew_interval * 2 <= ttl, "renew_interval must be at most half the ttl");
  require(max_peers >= 1, "max_peers must be at least 1");
  limits.validate();
}

namespace {

std::atomic<std::uint64_t> g_broker_counter{0};

// At most one log line per second for a noisy condition; says how many were held back.
class LogLimiter {
 public:
  template <class... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    const auto now = SteadyClock::now();
    if (now < next_) {
      ++suppressed_;
      return;
    }
    next_ = now + std::chrono::seconds(1);
    if (suppressed_ > 0) spdlog::warn("({} similar messages suppressed)", suppressed_);
    suppressed_ = 0;
    spdlog::warn(fmt, std::forward<Args>(args)...);
  }

 private:
  SteadyClock::time_point next_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace

class Broker::Impl {
 public:
  explicit Impl(BrokerOptions options)
      : options_(std::move(options)),
        epoch_(random_id()),
        id_(random_id()),
        decoder_(options_.limits) {
    options_.validate();
    control_endpoint_ = "inproc://zmesh-broker-" + std::to_string(g_broker_counter.fetch_add(1));
  }

  void start() {
    std::lock_guard lock(lifecycle_mu_);
    if (thread_.joinable() || stopped_)
      throw Error(errc::invalid_argument, "a Broker starts only once");
    // Made here, then handed to the broker thread at its start (a full barrier).
    router_ = make_router(
        ctx_, SocketTuning{10000, 10000, options_.limits, milliseconds(100), milliseconds(2000)});
    control_ = make_pipe(ctx_, zmq::socket_type::pair, 1);
    control_.bind(control_endpoint_);
    try {
      std::lock_guard e(endpoint_mu_);
      endpoint_ = bind_resolved(router_, options_.bind);
    } catch (const zmq::error_t& e) {
      router_.close();
      control_.close();
      throw Error(errc::invalid_argument, "cannot bind '" + options_.bind + "': " + e.what());
    }
    stats_.epoch = epoch_;
    spdlog::info("broker listening endpoint={} epoch={} ttl_ms={} renew_ms={}", endpoint(),
                 id_to_hex(epoch_), options_.ttl.count(), options_.renew_interval.count());
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    std::lock_guard lock(lifecycle_mu_);
    if (!thread_.joinable()) return;
    {
      zmq::socket_t poke = make_pipe(ctx_, zmq::socket_type::pair, 1);
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
  std::uint64_t epoch() const noexcept { return epoch_; }
  BrokerStats stats() const {
    std::lock_guard s(stats_mu_);
    BrokerStats out = stats_;
    return out;
  }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "zmesh-broker");
    try {
      loop();
    } catch (const std::exception& e) {
      spdlog::error("broker loop failed: {}", e.what());
    }
    // Tell every peer we are going, so it re-registers with the next broker at once.
    members_.for_each(
        [&](const Member& m) { send(m.identity, header(Kind::bye, 0), zmq::message_t()); });
    spdlog::info("broker stopped registered={}", members_.size());
    router_.set(zmq::sockopt::linger, 200);
    router_.close();
    control_.close();
  }

  void loop() {
    for (;;) {
      zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                                 {control_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, milliseconds(50));
      if (items[1].revents & ZMQ_POLLIN) return;
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
      // backlog (a registration storm: every Join goes to every peer). Judge expiry as of
      // the last moment nothing was waiting, so our lag does not count against the peers;
      // but never more than one TTL back, so a broker that is never idle still expires.
      const auto as_of = std::max(last_idle_, now - options_.ttl);
      for (auto& m : members_.expire(as_of)) {
        spdlog::info("peer expired id={} name={}", id_to_hex(m.info.id), m.info.name);
        count([](BrokerStats& s) { ++s.expired; });
        announce(EventType::leave, m.info, "expired");
      }
      count([&](BrokerStats& s) { s.registered = members_.size(); });
    }
  }

  void on_frames() {
    auto env = decoder_.decode(Layout::router, frames_);
    if (!env) {
      count([](BrokerStats& s) { ++s.malformed; });
      limiter_.warn("dropped malformed message: {}", env.error().message());
      return;
    }
    const std::string identity(env->identity);
    if (env->header.version != kProtocolVersion) {
      // Only a Register gets here with another version (the decoder lets the greetings
      // through so that they are answered, protocol.md 9); anything else is dropped.
      count([](BrokerStats& s) { ++s.malformed; });
      if (env->header.kind == Kind::reg) {
        reject(identity, env->header.correlation_id, WireError::unsupported_version,
               "Register header version " + std::to_string(env->header.version) +
                   ": this broker speaks protocol version 1");
      }
      return;
    }
    switch (env->header.kind) {
      case Kind::reg: on_register(identity, *env); break;
      case Kind::renew: on_renew(identity, *env); break;
      case Kind::lookup: on_lookup(identity, *env); break;
      case Kind::bye: on_bye(*env); break;
      case Kind::ping:
        send(identity, header(Kind::pong, env->header.correlation_id),
             zmq::message_t(env->payload.data(), env->payload.size()));
        break;
      default:
        if (env->header.correlation_id != 0) {
          send(identity, header(Kind::error, env->header.correlation_id),
               encode(ErrorReply{WireError::bad_request,
                                 "the broker does not handle '" +
                                     std::string(kind_name(env->header.kind)) + "'"}));
        }
        break;
    }
  }

  void reject(const std::string& identity, std::uint64_t correlation_id, WireError code,
              const std::string& reason) {
    count([](BrokerStats& s) { ++s.rejected; });
    limiter_.warn("registration refused code={} reason=\"{}\"", wire_error_name(code), reason);
    send(identity, header(Kind::reject, correlation_id), encode(Reject{code, reason}));
  }

  void on_register(const std::string& identity, const Envelope& env) {
    const auto corr = env.header.correlation_id;
    auto reg = decode_control<Register>(env.payload, options_.limits);
    if (!reg) {
      count([](BrokerStats& s) { ++s.malformed; });
      // protocol.md 5.7: a payload that fails to decode is Malformed; one that decodes
      // but whose values are refused (bad_value) is BadRequest.
      if (reg.error() == make_error_code(DecodeError::bad_value)) {
        reject(identity, corr, WireError::bad_request,
               "bad Register: " + reg.error().message() +
                   " (a PeerInfo needs a nonzero id and session, a 1..128-byte name, and at "
                   "most " +
                   std::to_string(options_.limits.max_list_items) + " items of 1.." +
                   std::to_string(options_.limits.max_string_bytes) +
                   " bytes in each of endpoints, pub_endpoints, services)");
      } else {
        reject(identity, corr, WireError::malformed, "bad Register: " + reg.error().message());
      }
      return;
    }
    const PeerInfo& info = reg->peer;
    if (info.id != env.header.sender_id || info.session != env.header.sender_session) {
      reject(identity, corr, WireError::bad_request,
             "Register peer id/session differ from its header");
      return;
    }
    const auto now = SteadyClock::now();
    const Member* old = members_.find(info.id);
    if (old != nullptr && old->info.session != info.session) {
      // The liveness rule of protocol.md 5.1/5.4 with the renew interval as the window:
      // a duplicate while the registered session renews, its restart once it missed
      // two renewals.
      if (now - old->last_heard() <= 2 * options_.renew_interval) {
        reject(identity, corr, WireError::duplicate_id,
               "peer id " + id_to_hex(info.id) + " is registered by a live session ('" +
                   old->info.name + "'); it is replaced once it misses two renewals (" +
                   std::to_string(2 * options_.renew_interval.count()) + " ms)");
        return;
      }
      auto replaced = members_.remove(info.id);
      spdlog::info("peer replaced id={} name={} by a new session", id_to_hex(info.id),
                   replaced->info.name);
      count([](BrokerStats& s) { ++s.left; });
      announce(EventType::leave, replaced->info, "replaced");
      old = nullptr;
    }
    if (old == nullptr && members_.size() >= options_.max_peers) {
      reject(identity, corr, WireError::overloaded, "broker is full");
      return;
    }
    const bool changed = old != nullptr && !(old->info == info);
    const bool joined = old == nullptr;
    milliseconds ttl = options_.ttl;
    if (reg->ttl_ms != 0) ttl = std::min(ttl, milliseconds(reg->ttl_ms));
    ttl = std::max(ttl, 2 * options_.renew_interval);
    const Member& m = members_.upsert(info, identity, ttl, now);
    count([](BrokerStats& s) { ++s.registrations; });
    send(identity, header(Kind::register_ack, corr),
         encode(RegisterAck{epoch_, static_cast<std::uint32_t>(ttl.count()),
                            static_cast<std::uint32_t>(options_.renew_interval.count())}));
    if (joined) {
      spdlog::info("peer joined id={} name={} services={}", id_to_hex(info.id), info.name,
                   info.services.size());
      announce(EventType::join, m.info, "");
    } else if (changed) {
      announce(EventType::update, m.info, "");
    }
  }

  void on_renew(const std::string& identity, const Envelope& env) {
    const Member* m = members_.find(env.header.sender_id);
    if (m == nullptr || m->info.session != env.header.sender_session) {
      // We do not know it (we restarted, or it expired): it must register again.
      send(identity, header(Kind::error, env.header.correlation_id),
           encode(ErrorReply{WireError::unknown_peer, "not registered: send Register"}));
      return;
    }
    if (m->identity != identity) {
      // Its DEALER reconnected: reach it at the new identity from now on.
      members_.upsert(m->info, identity, m->ttl, SteadyClock::now());
    }
    members_.renew(env.header.sender_id, SteadyClock::now());
    m = members_.find(env.header.sender_id);
    count([](BrokerStats& s) { ++s.renewals; });
    send(identity, header(Kind::register_ack, env.header.correlation_id),
         encode(RegisterAck{epoch_, static_cast<std::uint32_t>(m->ttl.count()),
                            static_cast<std::uint32_t>(options_.renew_interval.count())}));
  }

  void on_lookup(const std::string& identity, const Envelope& env) {
    auto q = decode_control<Lookup>(env.payload, options_.limits);
    if (!q) {
      count([](BrokerStats& s) { ++s.malformed; });
      // The rule for refused content: undecodable is Malformed, a bad value BadRequest.
      const bool bad_value = q.error() == make_error_code(DecodeError::bad_value);
      send(identity, header(Kind::error, env.header.correlation_id),
           encode(ErrorReply{bad_value ? WireError::bad_request : WireError::malformed,
                             bad_value ? "bad Lookup: name is at most 128 bytes, service at most " +
                                             std::to_string(options_.limits.max_string_bytes)
                                       : "bad Lookup: " + q.error().message()}));
      return;
    }
    count([](BrokerStats& s) { ++s.lookups; });
    const auto now = SteadyClock::now();
    PeerList list{epoch_,
                  {},
                  static_cast<std::uint64_t>(
                      std::chrono::duration_cast<milliseconds>(now - started_).count())};
    for (const Member* m : members_.match(q->name, q->service)) {
      const auto age = std::chrono::duration_cast<milliseconds>(now - m->registered_at).count();
      list.peers.push_back(PeerRecord{m->info, static_cast<std::uint64_t>(age)});
    }
    send(identity, header(Kind::peer_list, env.header.correlation_id), encode(list));
  }

  void on_bye(const Envelope& env) {
    const Member* m = members_.find(env.header.sender_id);
    if (m == nullptr || m->info.session != env.header.sender_session) return;
    auto gone = members_.remove(env.header.sender_id);
    spdlog::info("peer left id={} name={}", id_to_hex(gone->info.id), gone->info.name);
    count([](BrokerStats& s) { ++s.left; });
    announce(EventType::leave, gone->info, "bye");
  }

  /// Pushes an event to every registered peer but its subject. Best effort: a peer that
  /// misses one catches up with a Lookup when it registers again.
  void announce(EventType type, const PeerInfo& subject, const std::string& reason) {
    zmq::message_t payload = encode(Event{epoch_, type, subject, reason});
    std::uint64_t sent = 0;
    members_.for_each([&](const Member& m) {
      if (m.info.id == subject.id) return;
      zmq::message_t copy;
      copy.copy(payload);
      sent += send(m.identity, header(Kind::event, 0), std::move(copy)) ? 1 : 0;
    });
    count([&](BrokerStats& s) { s.events_sent += sent; });
  }

  zmq::message_t header(Kind kind, std::uint64_t correlation_id) {
    Header h;
    h.kind = kind;
    h.correlation_id = correlation_id;
    h.sender_id = id_;
    h.sender_session = epoch_;
    h.timestamp_us = unix_now_us();
    return encoder_.encode(h);
  }

  bool send(const std::string& identity, zmq::message_t header, zmq::message_t payload) {
    try {
      if (!router_.send(zmq::buffer(identity),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        return false;  // its queue is full: it is not reading; its TTL will tell
      }
    } catch (const zmq::error_t&) {
      return false;  // EHOSTUNREACH: it disconnected
    }
    router_.send(header, zmq::send_flags::sndmore);
    router_.send(payload, zmq::send_flags::none);
    return true;
  }

  template <class Fn>
  void count(Fn&& fn) {
    std::lock_guard s(stats_mu_);
    fn(stats_);
  }

  BrokerOptions options_;
  const std::uint64_t epoch_;
  const std::uint64_t id_;
  std::string control_endpoint_;
  zmq::context_t ctx_{1};
  // broker thread only (created in start(), handed over at thread start)
  zmq::socket_t router_;
  zmq::socket_t control_;
  detail::Membership members_;
  EnvelopeEncoder encoder_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  LogLimiter limiter_;
  SteadyClock::time_point last_idle_ = SteadyClock::now();  // ROUTER last seen empty
  SteadyClock::time_point started_ = SteadyClock::now();    // for PeerList.uptime_ms

  std::mutex lifecycle_mu_;
  std::thread thread_;    // guarded by lifecycle_mu_
  bool stopped_ = false;  // guarded by lifecycle_mu_
  mutable std::mutex endpoint_mu_;
  std::string endpoint_;  // guarded by endpoint_mu_
  mutable std::mutex stats_mu_;
  BrokerStats stats_;  // guarded by stats_mu_
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
std::uint64_t Broker::epoch() const noexcept {
  return impl_->epoch();
}
BrokerStats Broker::stats() const {
  return impl_->stats();
}

}  // namespace zmesh
