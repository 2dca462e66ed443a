#include "zmesh/broker/broker.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "broker_security.hpp"
#include "event_batch.hpp"
#include "log_limiter.hpp"
#include "membership.hpp"
#include "registration_rules.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh {

using detail::LogLimiter;
using detail::Member;
using std::chrono::milliseconds;

namespace {

std::atomic<std::uint64_t> g_broker_counter{0};

}  // namespace

class Broker::Impl {
 public:
  explicit Impl(BrokerOptions options)
      : options_(std::move(options)),
        epoch_(random_id()),
        id_(random_id()),
        decoder_(options_.limits) {
    options_.validate();
    options_.curve.validate("BrokerOptions::curve");
    if (options_.curve.enabled()) security_ = std::make_unique<detail::BrokerSecurity>(options_);
    control_endpoint_ = "inproc://zmesh-broker-" + std::to_string(g_broker_counter.fetch_add(1));
  }

  void start() {
    std::lock_guard lock(lifecycle_mu_);
    if (thread_.joinable() || stopped_)
      throw Error(errc::invalid_argument, "a Broker starts only once");
    // Made here, then handed to the broker thread at its start (a full barrier). The
    // send HWM bounds what one client that does not read can make us hold (ROUTER_MANDATORY
    // makes a full queue visible as EAGAIN: the answer is dropped and counted).
    router_ = make_router(ctx_, SocketTuning{options_.send_queue, 10000, options_.limits,
                                             milliseconds(100), milliseconds(2000)});
    control_ = make_pipe(ctx_, zmq::socket_type::pair, 1);
    control_.bind(control_endpoint_);
    try {
      if (security_) security_->attach(ctx_, router_);  // before the bind: see ZapHandler
    } catch (const std::exception&) {
      security_->detach();
      router_.close();
      control_.close();
      throw;
    }
    try {
      std::lock_guard e(endpoint_mu_);
      endpoint_ = bind_resolved(router_, options_.bind);
    } catch (const zmq::error_t& e) {
      if (security_) security_->detach();
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
  void reload() noexcept { reload_requested_.store(true, std::memory_order_relaxed); }
  BrokerStats stats() const {
    std::lock_guard s(stats_mu_);
    BrokerStats out = stats_;
    return out;
  }

 private:
  /// How a send to one client went.
  enum class Sent { ok, full, gone };

  void run() {
    pthread_setname_np(pthread_self(), "zmesh-broker");
    try {
      loop();
    } catch (const std::exception& e) {
      spdlog::error("broker loop failed: {}", e.what());
    }
    // Tell every peer we are going, so it re-registers with the next broker at once.
    members_.for_each_identity([&](const std::string& identity) {
      send(identity, header(Kind::bye, 0), zmq::message_t());
    });
    log_summary(SteadyClock::now(), true);
    spdlog::info("broker stopped registered={}", members_.size());
    router_.set(zmq::sockopt::linger, 200);
    if (security_) security_->detach();  // its monitor goes before the ROUTER it watches
    router_.close();
    control_.close();
  }

  void loop() {
    for (;;) {
      zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                                 {control_.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, 0, ZMQ_POLLIN, 0},
                                 {nullptr, 0, ZMQ_POLLIN, 0}};
      if (security_) {
        items[2].socket = security_->zap_socket().handle();
        items[3].socket = security_->monitor_socket().handle();
      }
      zmq::poll(items, security_ ? 4 : 2, kTick);
      if (items[1].revents & ZMQ_POLLIN) return;
      if (security_) {
        if (items[2].revents & ZMQ_POLLIN) security_->on_zap();
        if (items[3].revents & ZMQ_POLLIN) security_->on_monitor();
        if (reload_requested_.exchange(false, std::memory_order_relaxed)) security_->reload();
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
      const auto as_of = std::max(last_idle_, now - options_.ttl);
      for (auto& m : members_.expire(as_of)) {
        spdlog::debug("peer expired id={} name={}", id_to_hex(m.info.id), m.info.name);
        ++summary_.expired;
        count_membership(&BrokerStats::expired);
        announce(EventType::leave, std::move(m.info), "expired");
      }
      if (now >= next_flush_) flush_events(now);
      log_summary(now, false);
      count([&](BrokerStats& s) {
        s.registered = members_.size();
        if (security_) security_->fill(s);
      });
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
      case Kind::bye: on_bye(identity, *env); break;
      case Kind::ping:
        send_answer(identity, header(Kind::pong, env->header.correlation_id),
                    zmq::message_t(env->payload.data(), env->payload.size()));
        break;
      default:
        if (env->header.correlation_id != 0) {
          send_answer(identity, header(Kind::error, env->header.correlation_id),
                      encode(ErrorReply{WireError::bad_request,
                                        "the broker does not handle '" +
                                            std::string(kind_name(env->header.kind)) + "'"}));
        }
        break;
    }
  }

  /// `logged`: the refusal was logged already (with the sender's key).
  void reject(const std::string& identity, std::uint64_t correlation_id, WireError code,
              const std::string& reason, bool logged = false) {
    count([](BrokerStats& s) { ++s.rejected; });
    if (!logged) {
      limiter_.warn("registration refused code={} reason=\"{}\"", wire_error_name(code), reason);
    }
    send_answer(identity, header(Kind::reject, correlation_id), encode(Reject{code, reason}));
  }

  /// The liveness rule of protocol.md 5.1/5.4 with the renew interval as the window: a
  /// registration is live while heard from (Register or Renew) within two renew intervals.
  [[nodiscard]] bool live(const Member& m, SteadyClock::time_point now) const {
    return now - m.last_heard() <= 2 * options_.renew_interval;
  }

  /// Why a registration may not be used from `identity`: it belongs to the live
  /// connection that made it (protocol.md 5.7).
  std::string bound_elsewhere(const char* what, const Member& m) {
    count([](BrokerStats& s) { ++s.foreign_refused; });
    std::string reason = std::string(what) + " for peer id " + id_to_hex(m.info.id) + " ('" +
                         m.info.name +
                         "') refused: its registration belongs to another connection, which "
                         "renews it; it can be taken over once it misses two renewals (" +
                         std::to_string(2 * options_.renew_interval.count()) + " ms)";
    limiter_.warn("{}", reason);
    return reason;
  }

  void on_register(const std::string& identity, const Envelope& env) {
    const auto corr = env.header.correlation_id;
    auto reg = decode_control<Register>(env.payload, options_.limits);
    if (auto refusal = detail::check_register(reg, env.header, options_)) {
      if (!reg) count([](BrokerStats& s) { ++s.malformed; });
      reject(identity, corr, refusal->code, refusal->reason);
      return;
    }
    const auto now = SteadyClock::now();
    if (security_) {
      // frames_[1] is the header frame: it carries the connection's authenticated key.
      const auto live_now = [&](const Member& m) { return live(m, now); };
      if (auto refusal = security_->check_register(reg->peer, frames_[1], members_, live_now)) {
        reject(identity, corr, refusal->code, refusal->reason, /*logged=*/true);
        return;
      }
      reg->peer.public_key = detail::BrokerSecurity::sender_key(frames_[1]);
    }
    const PeerInfo& info = reg->peer;
    const Member* old = members_.find(info.id);
    bool replace_old = false;
    if (old != nullptr && old->info.session != info.session) {
      // A duplicate while the registered session renews, its restart once it missed two.
      if (live(*old, now)) {
        reject(identity, corr, WireError::duplicate_id,
               "peer id " + id_to_hex(info.id) + " is registered by a live session ('" +
                   old->info.name + "'); it is replaced once it misses two renewals (" +
                   std::to_string(2 * options_.renew_interval.count()) + " ms)");
        return;
      }
      replace_old = true;
    } else if (old != nullptr && old->identity != identity && live(*old, now)) {
      reject(identity, corr, WireError::duplicate_id, bound_elsewhere("Register", *old));
      return;
    }
    // Names are unique among live registrations; a holder that stopped renewing gives
    // its name up to the newcomer.
    std::vector<PeerId> stale_holders;
    for (const Member* holder : members_.named(info.name)) {
      if (holder->info.id == info.id) continue;
      if (live(*holder, now)) {
        const auto age =
            std::chrono::duration_cast<milliseconds>(now - holder->registered_at).count();
        reject(identity, corr, WireError::duplicate_name,
               "name '" + info.name + "' is held by live peer id " + id_to_hex(holder->info.id) +
                   " (registered " + std::to_string(age) +
                   " ms ago); names are unique, services are for sharing");
        return;
      }
      stale_holders.push_back(holder->info.id);
    }
    if (replace_old) {
      auto replaced = members_.remove(info.id);
      spdlog::debug("peer replaced id={} name={} by a new session", id_to_hex(info.id),
                    replaced->info.name);
      ++summary_.replaced;
      count_membership(&BrokerStats::left);
      announce(EventType::leave, std::move(replaced->info), "replaced");
      old = nullptr;
    }
    for (const PeerId id : stale_holders) {
      auto replaced = members_.remove(id);
      spdlog::debug("peer replaced id={} name={}: its name was taken by id={}", id_to_hex(id),
                    replaced->info.name, id_to_hex(info.id));
      ++summary_.replaced;
      count_membership(&BrokerStats::left);
      announce(EventType::leave, std::move(replaced->info), "replaced");
    }
    if (old == nullptr && members_.size() >= options_.max_peers) {
      reject(identity, corr, WireError::overloaded, "broker is full");
      return;
    }
    const bool changed = old != nullptr && !(old->info == info);
    const bool joined = old == nullptr;
    const milliseconds ttl = detail::granted_ttl(reg->ttl_ms, options_);
    const Member& m = members_.upsert(info, identity, ttl, now);
    count_membership(&BrokerStats::registrations);
    send_answer(identity, header(Kind::register_ack, corr), ack(ttl));
    if (joined) {
      spdlog::debug("peer joined id={} name={} services={}", id_to_hex(info.id), info.name,
                    info.services.size());
      ++summary_.joined;
      announce(EventType::join, m.info, "");
    } else if (changed) {
      announce(EventType::update, m.info, "");
    }
  }

  zmq::message_t ack(milliseconds ttl) const {
    return encode(RegisterAck{epoch_, static_cast<std::uint32_t>(ttl.count()),
                              static_cast<std::uint32_t>(options_.renew_interval.count()),
                              event_sequence_});
  }

  void on_renew(const std::string& identity, const Envelope& env) {
    if (security_) {
      if (auto why = security_->check_claim("Renew", env.header.sender_id, frames_[1])) {
        send_answer(identity, header(Kind::error, env.header.correlation_id),
                    encode(ErrorReply{WireError::not_allowed, *why}));
        return;
      }
    }
    const Member* m = members_.find(env.header.sender_id);
    if (m == nullptr || m->info.session != env.header.sender_session) {
      // We do not know it (we restarted, or it expired): it must register again.
      send_answer(identity, header(Kind::error, env.header.correlation_id),
                  encode(ErrorReply{WireError::unknown_peer, "not registered: send Register"}));
      return;
    }
    const auto now = SteadyClock::now();
    if (m->identity != identity) {
      if (live(*m, now)) {
        send_answer(identity, header(Kind::error, env.header.correlation_id),
                    encode(ErrorReply{WireError::duplicate_id, bound_elsewhere("Renew", *m)}));
        return;
      }
      // Its DEALER reconnected and the old connection went quiet: reach it here now.
      members_.upsert(m->info, identity, m->ttl, now);
    }
    members_.renew(env.header.sender_id, now);
    m = members_.find(env.header.sender_id);
    count([](BrokerStats& s) { ++s.renewals; });
    send_answer(identity, header(Kind::register_ack, env.header.correlation_id), ack(m->ttl));
  }

  void on_lookup(const std::string& identity, const Envelope& env) {
    if (security_) {
      // A Lookup changes nothing: any trusted key may look, whatever id it gives.
      if (auto why = security_->check_claim("Lookup", 0, frames_[1])) {
        send_answer(identity, header(Kind::error, env.header.correlation_id),
                    encode(ErrorReply{WireError::not_allowed, *why}));
        return;
      }
    }
    auto q = decode_control<Lookup>(env.payload, options_.limits);
    if (!q) {
      count([](BrokerStats& s) { ++s.malformed; });
      // The rule for refused content: undecodable is Malformed, a bad value BadRequest.
      const bool bad_value = q.error() == make_error_code(DecodeError::bad_value);
      send_answer(
          identity, header(Kind::error, env.header.correlation_id),
          encode(ErrorReply{bad_value ? WireError::bad_request : WireError::malformed,
                            bad_value ? "bad Lookup: name is at most 128 bytes, service at most " +
                                            std::to_string(options_.limits.max_string_bytes)
                                      : "bad Lookup: " + q.error().message()}));
      return;
    }
    count([&q](BrokerStats& s) {
      ++s.lookups;
      ++(!q->name.empty()      ? s.lookups_by_name
         : !q->service.empty() ? s.lookups_by_service
                               : s.lookups_all);
    });
    const auto now = SteadyClock::now();
    // One page: at most `limit` records and about page_bytes, from the narrowest index,
    // encoded into the one buffer we keep for it.
    const std::size_t limit = q->limit == 0
                                  ? options_.page_records
                                  : std::min<std::size_t>(q->limit, options_.page_records);
    writer_.begin();
    std::uint64_t last = 0;
    bool more = false;
    members_.page(q->name, q->service, q->after, [&](const Member& m) {
      if (writer_.records() >= limit ||
          (writer_.records() > 0 && writer_.bytes() + encoded_size(m.info) > options_.page_bytes)) {
        more = true;
        return false;
      }
      const auto age = std::chrono::duration_cast<milliseconds>(now - m.registered_at).count();
      writer_.add(m.info, static_cast<std::uint64_t>(age));
      last = m.order;
      return true;
    });
    const auto uptime = std::chrono::duration_cast<milliseconds>(now - started_).count();
    // Live peers re-register within their TTL (at the latest) of a restart.
    const auto warm_up = std::max(2 * options_.renew_interval, options_.ttl).count();
    count([](BrokerStats& s) { ++s.lookup_pages; });
    send_answer(identity, header(Kind::peer_list, env.header.correlation_id),
                writer_.finish(epoch_, static_cast<std::uint64_t>(uptime), more ? last : 0,
                               static_cast<std::uint32_t>(warm_up)));
  }

  void on_bye(const std::string& identity, const Envelope& env) {
    // A Bye for an id not bound to the sender's key is ignored (counted, logged).
    if (security_ && security_->check_claim("Bye", env.header.sender_id, frames_[1])) return;
    const Member* m = members_.find(env.header.sender_id);
    if (m == nullptr || m->info.session != env.header.sender_session) return;
    if (m->identity != identity && live(*m, SteadyClock::now())) {
      (void)bound_elsewhere("Bye", *m);  // a spoofed Bye: ignored, counted, logged
      return;
    }
    auto gone = members_.remove(env.header.sender_id);
    spdlog::debug("peer left id={} name={}", id_to_hex(gone->info.id), gone->info.name);
    ++summary_.left;
    count_membership(&BrokerStats::left);
    announce(EventType::leave, std::move(gone->info), "bye");
  }

  /// Files a change for the next Event (flush_events). Changes are coalesced per tick:
  /// every registered peer gets one Event per tick however many peers joined in it.
  void announce(EventType type, PeerInfo subject, std::string reason) {
    pending_.push_back(Change{type, std::move(subject), std::move(reason)});
    count([](BrokerStats& s) { ++s.changes; });
  }

  /// Sends the pending changes to every registered peer: numbered Events of at most
  /// kEventPages pages' worth of changes, each encoded once and shared by all the sends
  /// (one buffer, reference counted: an Event costs its bytes once however many peers
  /// queue it, and the Events queued anywhere are at most the last send_queue ones).
  /// While the broker is younger than its TTL (warming up: every live peer re-registers
  /// within it) the changes of a renew interval go out together, so a restart storm of N
  /// registrations costs a few Events per peer instead of N.
  void flush_events(SteadyClock::time_point now) {
    const bool warming = now - started_ < options_.ttl;
    next_flush_ = now + (warming ? std::max(kTick, options_.renew_interval) : kTick);
    const std::size_t max_changes =
        std::min(kEventPages * options_.page_records, options_.limits.max_peer_records);
    const std::size_t max_bytes = std::min(kEventPages * options_.page_bytes, kMaxEventBytes);
    if (pending_.empty()) return;
    std::uint64_t sent = 0;
    std::uint64_t dropped = 0;
    detail::batch_events(
        pending_, epoch_, event_sequence_, max_changes, max_bytes, [&](const Event& e) {
          zmq::message_t payload = encode(e);
          zmq::message_t head = header(Kind::event, 0);
          members_.for_each_identity([&](const std::string& identity) {
            zmq::message_t h;
            zmq::message_t copy;
            h.copy(head);
            copy.copy(payload);  // shares the buffer (zmq_msg_copy counts references)
            switch (send(identity, std::move(h), std::move(copy))) {
              case Sent::ok: ++sent; break;
              case Sent::full: ++dropped; break;
              case Sent::gone: break;
            }
          });
        });
    count([&](BrokerStats& s) {
      s.events_sent += sent;
      s.slow_consumer += dropped;
    });
  }

  /// One line a second at most for joins and leaves (each one is a debug line).
  void log_summary(SteadyClock::time_point now, bool final) {
    if (!final && now < next_summary_) return;
    next_summary_ = now + std::chrono::seconds(1);
    if (summary_.joined + summary_.left + summary_.expired + summary_.replaced == 0) return;
    spdlog::info("peers joined={} left={} expired={} replaced={} registered={}", summary_.joined,
                 summary_.left, summary_.expired, summary_.replaced, members_.size());
    summary_ = {};
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

  /// An answer to one client; one it does not read is dropped and counted (its queue,
  /// send_queue messages, is full).
  void send_answer(const std::string& identity, zmq::message_t header, zmq::message_t payload) {
    if (send(identity, std::move(header), std::move(payload)) == Sent::full) {
      count([](BrokerStats& s) { ++s.slow_consumer; });
      limiter_.warn("slow consumer: an answer was dropped, the client does not read its queue");
    }
  }

  Sent send(const std::string& identity, zmq::message_t header, zmq::message_t payload) {
    try {
      if (!router_.send(zmq::buffer(identity),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        return Sent::full;  // its queue is full: it is not reading
      }
    } catch (const zmq::error_t&) {
      return Sent::gone;  // EHOSTUNREACH: it disconnected
    }
    router_.send(header, zmq::send_flags::sndmore);
    router_.send(payload, zmq::send_flags::none);
    return Sent::ok;
  }

  template <class Fn>
  void count(Fn&& fn) {
    std::lock_guard s(stats_mu_);
    fn(stats_);
  }
  /// Counts a change of the membership (a registration, leave or expiry) together with
  /// the members gauge, so that a scrape sees both or neither.
  void count_membership(std::uint64_t BrokerStats::*counter) {
    std::lock_guard s(stats_mu_);
    ++(stats_.*counter);
    stats_.registered = members_.size();
  }

  static constexpr milliseconds kTick{50};
  /// An Event holds the changes of up to this many listing pages (1 MiB by default).
  static constexpr std::size_t kEventPages = 16;
  static constexpr std::size_t kMaxEventBytes = 8 << 20;

  struct Summary {
    std::uint64_t joined = 0;
    std::uint64_t left = 0;
    std::uint64_t expired = 0;
    std::uint64_t replaced = 0;
  };

  BrokerOptions options_;
  const std::uint64_t epoch_;
  const std::uint64_t id_;
  std::string control_endpoint_;
  std::atomic<bool> reload_requested_{false};  // set by reload(), taken by the loop
  zmq::context_t ctx_{1};
  // broker thread only (created in start(), handed over at thread start)
  zmq::socket_t router_;
  zmq::socket_t control_;
  std::unique_ptr<detail::BrokerSecurity> security_;  // CURVE only
  detail::Membership members_;
  EnvelopeEncoder encoder_;
  EnvelopeDecoder decoder_;
  PeerListWriter writer_;  // one buffer for every PeerList page
  FrameSet frames_;
  LogLimiter limiter_;
  std::vector<Change> pending_;       // changes not yet sent in an Event
  std::uint64_t event_sequence_ = 0;  // of the last Event sent
  Summary summary_;                   // since the last summary line
  SteadyClock::time_point next_summary_{};
  SteadyClock::time_point next_flush_{};
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
