// Broadcasts — our XPUB (bound) and our one SUB. Publishing numbers each topic's
// broadcasts; receiving tracks sequences per publisher and topic and counts gaps; the
// subscription sync proves, with marker subscriptions, that our subscriptions are in
// effect at every publisher we follow. Engine thread only.
//
// Bounds against hostile parties. The XPUB takes no inbound message longer than a
// subscription can be (libzmq drops such a subscriber), and holds at most
// max_subscriptions distinct subscriptions: past that it is re-opened on the same
// endpoint, which frees every subscription; real subscribers reconnect and subscribe
// again by themselves (and see the broadcasts they missed meanwhile as gaps). libzmq
// files subscriptions before we see them; make_xpub's small receive HWM makes it file a
// few dozen at most per call, so we count a flood as it comes. Our SUB
// follows publishers only while we subscribe to something, at most
// max_followed_publishers of them (endpoints given to subscribe_to() always).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "completions.hpp"
#include "deadline.hpp"
#include "dispatcher.hpp"
#include "engine_context.hpp"
#include "held_broadcasts.hpp"
#include "retained_store.hpp"
#include "sequence_announcer.hpp"
#include "subscriber_links.hpp"
#include "zmesh/core/frame_set.hpp"

namespace zmesh::detail {

/// The reserved topic of Sequences, the broadcast heartbeat (protocol.md 5.9). Every SUB
/// subscribes to it.
inline constexpr std::string_view kSequencesTopic{"\0zmesh.hb.", 10};
/// The start of a last-value marker (protocol.md 5.10).
inline constexpr std::string_view kLastPrefix{"\0zmesh.last.", 12};

class Broadcasts {
 public:
  Broadcasts(EngineContext& ctx, Dispatcher& dispatcher);
  Broadcasts(const Broadcasts&) = delete;
  Broadcasts& operator=(const Broadcasts&) = delete;

  /// Opens the SUB (with the subscriptions made before start) and binds the XPUB if
  /// options.pub_bind is set; returns the PUB endpoint to announce ("" = none).
  std::string open();
  /// Closes both sockets; what the XPUB still has queued gets `linger` to leave.
  void close(std::chrono::milliseconds linger) noexcept;

  // --- publishing
  /// Publishes on the topic `topic` holds (the frame goes out as the topic frame), as
  /// the topic's delivery policy says: drop sends now; block and latest hold what a
  /// subscriber has no room for (broadcasts_policies.cpp).
  void publish(zmq::message_t topic, std::string_view type, zmq::message_t payload);
  /// Whether broadcasts are held, waiting for room (the engine then retries each round
  /// and sleeps at most 1 ms).
  [[nodiscard]] bool holding() const noexcept { return !held_.empty(); }
  /// Sends what is held, oldest first, until a subscriber has no room; returns how many.
  int flush_held();
  [[nodiscard]] zmq::socket_t* xpub() noexcept { return xpub_ ? &*xpub_ : nullptr; }
  /// Reads (un)subscriptions; answers sync markers.
  int read_xpub();

  // --- subscribing
  [[nodiscard]] zmq::socket_t& sub() noexcept { return sub_; }
  int read_sub();
  void subscribe(const std::string& prefix);
  void unsubscribe(const std::string& prefix);
  /// A PUB endpoint some peer announced (`delta` +1 / -1: references to it), with the
  /// peer's CURVE key (the publisher's key: one key pair per peer).
  void announce(const std::string& endpoint, int delta, const std::string& key = {});
  /// A PUB endpoint the application asked for (always followed), with its CURVE key.
  void follow(const std::string& endpoint, const std::string& key = {});
  /// With `last`: in round 2 every publisher also sends its retained values of topics
  /// starting with *last, ahead of its Sync (protocol.md 5.10).
  void sync(const Deadline& deadline, std::unique_ptr<SyncCompletion> done,
            std::optional<std::string> last = std::nullopt);
  [[nodiscard]] std::vector<PublisherStats> publishers() const;

  void on_timers(SteadyClock::time_point now);
  /// Handshake outcomes: our SUB's (a publisher refusing us fails the syncs waiting on
  /// it with errc::auth_failed) and our XPUB's refusals (counted by cause).
  void check_handshakes();
  void fail_syncs(const std::string& text);

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class V>
  using ByTopic = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
  struct Track {  // what we received from one publisher
    std::uint64_t session = 0;
    ByTopic<std::uint64_t> last;  // last sequence per topic, this session
    std::uint64_t received = 0;
    std::uint64_t gaps = 0;
    std::uint64_t restarts = 0;
  };
  struct PendingSync {
    std::unique_ptr<SyncCompletion> done;
    int round = 1;  // round 1 proves the connection; round 2's marker follows every subscription
    std::set<PeerId> confirmed;
    SteadyClock::time_point deadline{};
    std::optional<std::string> last;  // the prefix whose retained values we ask for
    std::string last_marker;          // round 2: the last-value marker we subscribed
    std::size_t last_base = 0;        // its length before the prefix
  };

  int read_sub(FrameSet& frames, bool drain);
  void on_broadcast(const Envelope& env, FrameSet& frames);
  /// A publisher's Sequences: losses after the last broadcast we received (5.9).
  void on_sequences(const Envelope& env);
  /// A retained value, on one of our last-value markers (5.10).
  void on_retained(const Envelope& env, FrameSet& frames);
  /// A last-value marker subscription: sends the retained values it asks for.
  void answer_last(std::string_view marker);
  /// Unsubscribes a sync's last-value marker, if it has one.
  void drop_last_marker(PendingSync& s);
  /// Sends what the SequenceAnnouncer has due, on the reserved heartbeat topic.
  void announce_sequences();
  /// Whether one of our prefixes matches `topic`.
  [[nodiscard]] bool subscribed_to(std::string_view topic) const;
  void on_sync(std::string_view marker, PeerId publisher);
  void next_sync_round(const std::string& marker);
  std::string new_marker();
  /// Connects or disconnects the SUB so that it follows exactly what it should.
  void reconcile();
  void sub_connect(const std::string& endpoint);
  void sub_disconnect(const std::string& endpoint);
  /// Re-opens the XPUB on its endpoint, freeing every subscription it held.
  void reopen_xpub();
  /// Readies a new XPUB: lossless (ZMQ_XPUB_NODROP) when a block or latest policy is in
  /// use; its monitor, with CURVE for refused handshakes, with such a policy for its
  /// connections (SubscriberLinks).
  void prepare_xpub();
  /// Sends the first frame of a message on the XPUB without waiting; false (nothing
  /// sent) when the XPUB is lossless and a matching subscriber has no room.
  bool begin_message(zmq::const_buffer first);
  /// A broadcast going out now: numbers it, keeps it if retained, counts it (also for
  /// its delivery-policy rule); returns its header frame.
  zmq::message_t number(std::size_t rule, std::string_view topic, std::string_view type,
                        const zmq::message_t& payload);
  /// Tries a held (or holdable) broadcast without ZeroMQ dropping it for anyone: false
  /// when a subscriber of its topic has no room (nothing was sent).
  bool try_send(HeldBroadcast& b);
  /// Holds a block or latest broadcast that could not go out.
  void hold(HeldBroadcast b);
  /// Block and latest: disconnects subscribers that took nothing for
  /// stuck_subscriber_timeout while broadcasts waited.
  void cut_stuck(SteadyClock::time_point now);
  /// Gives back the credit of the block broadcasts held (at close).
  void release_held() noexcept;

  EngineContext& ctx_;
  Dispatcher& dispatcher_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  FrameSet drain_frames_;  // read_sub() from inside another read (sub_disconnect)

  // publishing (engine thread only)
  std::optional<zmq::socket_t> xpub_;
  std::optional<HandshakeMonitor> xpub_monitor_;  // CURVE: refused subscribers, by cause
  std::string xpub_endpoint_;                     // the bound endpoint, to re-open on
  std::unordered_set<std::string> xpub_topics_;   // distinct subscriptions it holds
  SequenceAnnouncer sequences_;                   // sequence per topic; the heartbeat
  SteadyClock::time_point next_announce_{};       // when the heartbeat is next due
  RetainedStore retained_;                        // last values kept for late joiners
  SteadyClock::time_point xpub_retry_{};          // re-open failed: try again then
  HeldBroadcasts held_;                           // block/latest: waiting for room
  SubscriberLinks links_;                         // the XPUB's connections, to cut stuck ones

  // subscribing (engine thread only)
  zmq::socket_t sub_;
  std::optional<HandshakeMonitor> sub_monitor_;        // how our SUB's handshakes end
  int sub_closes_ = 0;                                 // its hang-ups mid-handshake in a row
  std::map<std::string, std::string> publisher_keys_;  // CURVE: PUB endpoint -> its key
  long subscriptions_ = 0;                             // our prefixes (repeats counted)
  std::multiset<std::string> prefixes_;                // the same prefixes, to match topics
  std::map<std::string, int> announced_;               // PUB endpoint -> references
  std::set<std::string> explicit_;                     // subscribe_to() endpoints
  std::set<std::string> connected_;                    // what the SUB is connected to
  std::set<std::string> refused_;                      // announced, not followed: over the bound
  std::unordered_map<PeerId, Track> tracks_;
  std::map<std::string, PendingSync> syncs_;  // by marker topic
  std::uint64_t sync_counter_ = 0;
};

}  // namespace zmesh::detail
