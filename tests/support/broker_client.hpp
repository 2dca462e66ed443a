// A hand-written broker client for tests: a raw ZeroMQ DEALER that speaks the broker
// protocol (docs/protocol.md 5.7) through zmesh::core only, as another implementation
// would, so that every step (and every malformed step) is under the test's control.
//
// Answers are matched by correlation id; Events and Byes that arrive meanwhile are kept,
// in order, for next_event() / wait_bye(). Every wait is bounded. One thread only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/clock.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::test {

/// One message received from the broker.
struct BrokerMessage {
  Kind kind = Kind::invalid;  ///< invalid: nothing arrived in time
  std::uint64_t correlation_id = 0;
  std::uint64_t sender_id = 0;
  std::uint64_t sender_session = 0;
  std::vector<std::byte> payload;

  explicit operator bool() const noexcept { return kind != Kind::invalid; }
  /// Decodes the payload as T; throws zmesh::Error (a test failure) if it does not decode.
  template <class T>
  [[nodiscard]] T as() const {
    return decode_control<T>(payload, Limits{}).value();
  }
};

class BrokerClient {
 public:
  /// A client with a fresh random id and session; not connected until connect().
  explicit BrokerClient(std::string name = "client", std::vector<std::string> services = {})
      : dealer_(ctx_, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::reconnect_ivl, 50);
    dealer_.set(zmq::sockopt::reconnect_ivl_max, 200);
    info_.id = random_id();
    info_.session = random_id();
    info_.name = std::move(name);
    info_.endpoints = {"tcp://127.0.0.1:" + std::to_string(10000 + info_.id % 50000)};
    info_.services = std::move(services);
  }
  BrokerClient(const std::string& endpoint, std::string name,
               std::vector<std::string> services = {})
      : BrokerClient(std::move(name), std::move(services)) {
    connect(endpoint);
  }

  void connect(const std::string& endpoint) { dealer_.connect(endpoint); }
  /// Makes the DEALER a CURVE client with our keys `own`, expecting the server's public
  /// key `server_key`; before connect(). Our id becomes the one bound to our key.
  void use_curve(const CurveOptions& own, const std::string& server_key) {
    set_curve_client(dealer_, own, server_key);
    info_.id = peer_id_for_key(own.public_key);
    info_.public_key = own.public_key;
  }

  /// What Register sends; tests change it to re-register with other information.
  PeerInfo& info() noexcept { return info_; }
  /// Header.version of what we send from now on (1 unless a test plays a newer client).
  void set_header_version(std::uint8_t v) noexcept { version_ = v; }
  [[nodiscard]] PeerId id() const noexcept { return info_.id; }

  // ------------------------------------------------------------------ sending

  /// Sends [header, payload] with the given kind and correlation id, from `sender_id`
  /// and `session` (0 = ours). Returns the correlation id.
  std::uint64_t send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload,
                     std::uint64_t sender_id = 0, std::uint64_t session = 0) {
    Header h;
    h.version = version_;
    h.kind = kind;
    h.correlation_id = correlation_id;
    h.sender_id = sender_id != 0 ? sender_id : info_.id;
    h.sender_session = session != 0 ? session : info_.session;
    h.timestamp_us = unix_now_us();
    dealer_.send(encoder_.encode(h), zmq::send_flags::sndmore);
    dealer_.send(payload, zmq::send_flags::none);
    return correlation_id;
  }
  /// Sends a request-like message with a new correlation id; returns it.
  std::uint64_t send_new(Kind kind, zmq::message_t payload, std::uint64_t sender_id = 0,
                         std::uint64_t session = 0) {
    return send(kind, ++next_correlation_, std::move(payload), sender_id, session);
  }

  /// Register{info(), ttl_ms}; the answer is RegisterAck or Reject.
  BrokerMessage register_peer(std::uint32_t ttl_ms = 0,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return wait_answer(send_new(Kind::reg, encode(Register{info_, ttl_ms})), timeout);
  }
  /// Any Register payload (garbage too), from our header; the answer.
  BrokerMessage register_raw(zmq::message_t payload,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return wait_answer(send_new(Kind::reg, std::move(payload)), timeout);
  }
  /// Renew; the answer is RegisterAck or Error UnknownPeer.
  BrokerMessage renew(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return wait_answer(send_new(Kind::renew, zmq::message_t()), timeout);
  }
  /// Lookup{name, service, after, limit}; the answer is a PeerList (one page).
  BrokerMessage lookup(const std::string& name = "", const std::string& service = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(5),
                       std::uint64_t after = 0, std::uint32_t limit = 0) {
    return wait_answer(send_new(Kind::lookup, encode(Lookup{name, service, after, limit})),
                       timeout);
  }
  /// Lookup, every page, decoded and joined into one list (`pages` says how many came);
  /// throws when a PeerList did not come back.
  PeerList peers(const std::string& name = "", const std::string& service = "",
                 std::size_t* pages = nullptr) {
    PeerList all;
    std::uint64_t after = 0;
    for (std::size_t n = 1;; ++n) {
      const auto t0 = std::chrono::steady_clock::now();
      BrokerMessage m = lookup(name, service, std::chrono::seconds(5), after);
      if (m.kind != Kind::peer_list) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t0);
        throw Error(errc::timeout, "no PeerList for lookup page " + std::to_string(n) + " (after " +
                                       std::to_string(after) + "), got '" +
                                       std::string(kind_name(m.kind)) + "' after " +
                                       std::to_string(waited.count()) + " ms");
      }
      auto page = m.as<PeerList>();
      all.epoch = page.epoch;
      all.uptime_ms = page.uptime_ms;
      all.warm_up_ms = page.warm_up_ms;
      for (auto& r : page.peers) all.peers.push_back(std::move(r));
      if (page.next == 0) {
        if (pages != nullptr) *pages = n;
        return all;
      }
      if (page.next <= after) throw Error(errc::malformed, "PeerList.next did not move on");
      after = page.next;
    }
  }
  /// Bye (no answer).
  void bye() { send(Kind::bye, 0, zmq::message_t()); }
  /// Any frames at all, as one multipart message (garbage that no decoder accepts).
  void send_frames(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      dealer_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  // ------------------------------------------------------------------ receiving

  /// Waits for the answer carrying `correlation_id`. Events and Byes are kept for later;
  /// other answers (stale ones, from earlier timed-out waits) are dropped.
  BrokerMessage wait_answer(std::uint64_t correlation_id, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      BrokerMessage m = receive(deadline);
      if (!m) return m;
      if (m.kind == Kind::event || m.kind == Kind::bye) {
        pushed_.push_back(std::move(m));
        continue;
      }
      if (m.correlation_id == correlation_id) return m;
    }
  }

  /// Registers every one of `peers` from this one DEALER (as their sender), `window`
  /// at a time (the broker queues a few dozen answers per client, protocol.md 5.7);
  /// returns how many were acknowledged.
  /// A window whose answers did not all come (a loaded machine reads slowly, and a broker
  /// with a small send-queue drops what does not fit: the slow-consumer rule) is sent
  /// again, up to 5 times: registering the same session again is harmless.
  std::size_t register_all(const std::vector<PeerInfo>& peers, std::size_t window = 32) {
    std::size_t acked = 0;
    for (std::size_t i = 0; i < peers.size();) {
      const std::size_t n = std::min(window, peers.size() - i);
      std::size_t got = 0;
      for (int attempt = 0; attempt < 5 && got < n; ++attempt) {
        for (std::size_t k = 0; k < n; ++k) {
          const PeerInfo& p = peers[i + k];
          send_new(Kind::reg, encode(Register{p, 0}), p.id, p.session);
        }
        got = drain(Kind::register_ack, n, std::chrono::seconds(10));
      }
      if (got < n) break;  // refused, or the broker does not answer: the caller's check says so
      acked += n;
      i += n;
    }
    return acked;
  }

  /// Receives until `n` answers of `kind` arrived or `timeout` passed; returns how many
  /// did. Everything else (Events too) is dropped: for tests that register thousands.
  std::size_t drain(Kind kind, std::size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t got = 0;
    while (got < n) {
      BrokerMessage m = receive(deadline);
      if (!m) break;
      got += m.kind == kind ? 1 : 0;
    }
    return got;
  }

  /// The next change pushed to us about another peer, as an Event of its own (an Event
  /// carries one or more changes, and may tell us about ourselves: those are skipped, as
  /// a peer does); nullopt after `timeout`. A Bye in between is kept.
  std::optional<Event> next_event(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (changes_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::optional<Event> e = next_batch(std::max(left, std::chrono::milliseconds(0)));
      if (!e) return std::nullopt;
      auto keep = [&](EventType type, PeerInfo peer, std::string reason) {
        if (!wanted(type, peer.id)) return;
        changes_.push_back(Event{e->epoch, type, std::move(peer), std::move(reason), e->sequence});
      };
      keep(e->type, e->peer, e->reason);
      for (auto& c : e->more) keep(c.type, std::move(c.peer), std::move(c.reason));
    }
    Event out = std::move(changes_.front());
    changes_.pop_front();
    return out;
  }
  /// From now on next_event() skips Joins of `id`: Events go to every peer registered
  /// when they are sent, so one that registered during a tick may hear of peers that
  /// registered before it in that tick (its listing shows them too).
  void skip_joins_of(PeerId id) { skip_joins_of_.insert(id); }
  /// The next pushed Event message as it came (all its changes); nullopt after `timeout`.
  std::optional<Event> next_batch(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    BrokerMessage m = next_pushed(Kind::event, timeout);
    if (!m) return std::nullopt;
    return m.as<Event>();
  }
  /// True when the broker said Bye within `timeout`. Events in between are kept.
  bool wait_bye(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return static_cast<bool>(next_pushed(Kind::bye, timeout));
  }
  /// The next pushed message of `kind` (Event or Bye); others stay queued.
  BrokerMessage next_pushed(Kind kind, std::chrono::milliseconds timeout) {
    for (auto it = pushed_.begin(); it != pushed_.end(); ++it) {
      if (it->kind == kind) {
        BrokerMessage m = std::move(*it);
        pushed_.erase(it);
        return m;
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      BrokerMessage m = receive(deadline);
      if (!m || m.kind == kind) return m;
      if (m.kind == Kind::event || m.kind == Kind::bye) pushed_.push_back(std::move(m));
    }
  }
  /// Pushed messages received and not yet taken: Byes, and changes about other peers
  /// (what next_event() would return).
  [[nodiscard]] std::size_t queued() const {
    std::size_t n = changes_.size();
    for (const auto& m : pushed_) {
      if (m.kind != Kind::event) {
        ++n;
        continue;
      }
      const auto e = m.as<Event>();
      n += wanted(e.type, e.peer.id) ? 1 : 0;
      for (const auto& c : e.more) n += wanted(c.type, c.peer.id) ? 1 : 0;
    }
    return n;
  }
  /// Frame sets from the broker that failed to decode (there should be none).
  [[nodiscard]] std::uint64_t undecodable() const noexcept { return undecodable_; }

 private:
  /// Whether next_event() returns a change of `type` about `id`.
  [[nodiscard]] bool wanted(EventType type, PeerId id) const {
    return id != info_.id && !(type == EventType::join && skip_joins_of_.count(id) != 0);
  }

  BrokerMessage receive(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, left) == 0) continue;
      frames_.recv(dealer_);
      auto env = decoder_.decode(Layout::dealer, frames_);
      if (!env) {
        ++undecodable_;
        continue;
      }
      BrokerMessage m;
      m.kind = env->header.kind;
      m.correlation_id = env->header.correlation_id;
      m.sender_id = env->header.sender_id;
      m.sender_session = env->header.sender_session;
      m.payload.assign(env->payload.begin(), env->payload.end());
      return m;
    }
  }

  zmq::context_t ctx_{1};
  zmq::socket_t dealer_;
  std::uint8_t version_ = kProtocolVersion;
  PeerInfo info_;
  std::uint64_t next_correlation_ = 0;
  EnvelopeEncoder encoder_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  std::deque<BrokerMessage> pushed_;
  std::deque<Event> changes_;  // taken from Events, not yet returned by next_event()
  std::set<PeerId> skip_joins_of_;
  std::uint64_t undecodable_ = 0;
};

}  // namespace zmesh::test
