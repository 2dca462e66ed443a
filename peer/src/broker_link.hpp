// BrokerLink — one broker of the peer's list: its DEALER, our registration there (Register,
// Renew, re-Register after a restart or a refusal), and this broker's view of the
// membership (a full listing after each registration and after lost Events, then its
// Events; lookup-only links re-list periodically instead). Engine thread only. Discovery
// owns one per broker and merges their views; answers to queries go back to it by
// correlation id.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <zmq.hpp>

#include "engine_context.hpp"
#include "zmesh/core/frame_set.hpp"

namespace zmesh::detail {

class BrokerLink {
 public:
  /// A listing (all its pages) longer than this many times max_peer_records is taken for
  /// a broker that misbehaves (our own listing and the answers to queries alike).
  static constexpr std::size_t kMaxListingPages = 10;

  struct Hooks {
    /// This broker's view gained a member or changed its record.
    std::function<void(BrokerLink& link, const PeerInfo& member)> seen;
    /// This broker's view lost a member (after it was removed from the view).
    std::function<void(BrokerLink& link, PeerId id)> gone;
    /// A PeerList answering a query (not our own listing).
    std::function<void(BrokerLink& link, std::uint64_t correlation_id, PeerList list)> listed;
    /// An Error answering a query.
    std::function<void(BrokerLink& link, std::uint64_t correlation_id, std::string text)> failed;
    /// Our registration here was granted, lost or refused, or a listing completed.
    std::function<void()> changed;
  };

  /// `register_self` false: a lookup-only client (no Register; the view is re-listed
  /// every options.membership_refresh).
  /// `server_key`: the broker's CURVE public key ("" when CURVE is off).
  BrokerLink(EngineContext& ctx, std::string endpoint, std::string server_key, bool register_self,
             Hooks hooks);
  BrokerLink(const BrokerLink&) = delete;
  BrokerLink& operator=(const BrokerLink&) = delete;

  /// Connects; throws Error(invalid_argument) naming the endpoint if ZeroMQ refuses it.
  void open();
  void close() noexcept;
  [[nodiscard]] zmq::socket_t& socket() noexcept { return *socket_; }
  int read();
  void on_timers(SteadyClock::time_point now);
  /// Sends a Lookup under `correlation_id`; false when the broker is not connected
  /// (ZMQ_IMMEDIATE: nothing is queued for a broker that is not there).
  bool send_lookup(std::uint64_t correlation_id, const Lookup& lookup);
  /// Shutdown: BYE if registered.
  void leave();
  /// Empties this broker's view (it has been silent too long while others answer).
  void forget_view();

  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  [[nodiscard]] bool registered() const noexcept { return registered_; }
  /// Why our last handshake with this broker failed ("" = it did not): CURVE keys or
  /// mechanisms that do not match. Cleared when a handshake succeeds.
  [[nodiscard]] const std::string& auth_error() const noexcept { return auth_error_; }
  /// Why this broker refused our last Register ("" = it did not).
  [[nodiscard]] const std::string& refusal() const noexcept { return refusal_; }
  /// A complete listing arrived since we connected (the view is usable).
  [[nodiscard]] bool listed() const noexcept { return listed_; }
  /// Heard from within the window after which we take the broker for gone.
  [[nodiscard]] bool live(SteadyClock::time_point now) const noexcept;
  /// Silent for longer than a registration lives: its view says nothing reliable.
  [[nodiscard]] bool stale(SteadyClock::time_point now) const noexcept;
  [[nodiscard]] SteadyClock::time_point last_heard() const noexcept { return last_heard_; }
  [[nodiscard]] const std::map<PeerId, PeerInfo>& view() const noexcept { return view_; }
  /// How long this broker, once started, takes to hear from every live peer.
  [[nodiscard]] std::chrono::milliseconds warm_up() const noexcept;
  /// Started less than warm_up() ago, as its last listing said: its view may lack peers.
  [[nodiscard]] bool young(SteadyClock::time_point now) const noexcept;

 private:
  bool send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload);
  /// Reads how our handshakes with the broker ended (auth_error()).
  void check_handshake();
  void do_register();
  /// Takes a full listing (paged), replacing the view once it is complete.
  void refresh();
  void unregistered();
  void on_envelope(const Envelope& env);
  void on_ack(const Envelope& env);
  void on_event(const Event& event);
  void on_refresh_page(const PeerList& list);
  void upsert(const PeerInfo& info);
  void remove(PeerId id);
  /// How long without an answer before we take the broker for gone.
  [[nodiscard]] std::chrono::milliseconds window() const noexcept;

  EngineContext& ctx_;
  const std::string endpoint_;
  const std::string server_key_;
  const bool register_self_;
  Hooks hooks_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  std::optional<zmq::socket_t> socket_;
  std::optional<HandshakeMonitor> monitor_;
  std::string auth_error_;
  int closes_ = 0;         // hang-ups mid-handshake in a row
  bool was_live_ = false;  // live() at the last tick (the log tells the changes)
  bool ever_live_ = false;
  std::uint64_t epoch_ = 0;
  bool registered_ = false;
  std::string refusal_;  // the broker refused our last Register: retry once per renew interval
  bool listed_ = false;
  std::uint64_t refresh_correlation_ = 0;  // the page we wait for of our full listing
  SteadyClock::time_point refresh_started_{};
  std::set<PeerId> refresh_present_;  // the members the listing has shown so far
  // When to list again: a broker younger than its warm-up listed only the peers that
  // re-registered so far (or, lookup-only, the next periodic listing). max() = none.
  SteadyClock::time_point refresh_at_ = SteadyClock::time_point::max();
  std::uint64_t event_sequence_ = 0;  // of the last broker Event (or RegisterAck)
  SteadyClock::time_point next_tick_{};
  SteadyClock::time_point last_ack_{};
  SteadyClock::time_point last_heard_{};  // any message from the broker
  std::chrono::milliseconds renew_interval_{1000};
  std::chrono::milliseconds granted_ttl_{0};   // the TTL of our registration
  std::chrono::milliseconds told_warm_up_{0};  // PeerList.warm_up_ms (0 = not said)
  SteadyClock::time_point broker_started_{};   // from PeerList.uptime_ms
  std::map<PeerId, PeerInfo> view_;
};

}  // namespace zmesh::detail
