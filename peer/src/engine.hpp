// Engine — the I/O thread of one Peer ("zmesh-engine"). It alone owns the network
// sockets (the bound ROUTER and one DEALER per outbound connection), the engine ends of
// the inproc pipelines (command PULL, one PAIR per worker), the connection registry,
// the pending-request table and every timer. It never runs user code.
//
// Flow control: work for a worker that is full waits in dispatch_ and, while anything
// waits there, the engine reads nothing more from the network, so ZeroMQ's high-water
// marks push back on the senders. Outbound frames that would block wait in outbox_ and,
// while anything waits there, the engine takes no more commands, so the callers' own
// pipelines fill and their calls wait or fail as they chose.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "connection_registry.hpp"
#include "peer_shared.hpp"
#include "pending_requests.hpp"
#include "pipeline.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/socket_factory.hpp"

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
  /// bind error), runs until stopped, closes every socket it owns, and returns.
  void run(std::promise<Endpoints> ready);

  /// A callback-style request that completed after the workers had stopped.
  struct Orphan {
    std::unique_ptr<RequestCompletion> completion;
    std::error_code error;
    Response response;
  };
  /// After run() returned: completions the workers could no longer run. The caller of
  /// stop() runs them (their documented thread in that case).
  [[nodiscard]] std::vector<Orphan> take_orphans() { return std::move(orphans_); }

 private:
  struct WorkItem {
    std::size_t worker;
    WorkMeta meta;
    zmq::message_t type;
    zmq::message_t topic;
    zmq::message_t payload;
  };
  struct Outbound {
    std::uint64_t connection;
    Route route;  // identity_size 0 = the connection's preferred route
    zmq::message_t header;
    zmq::message_t payload;
  };
  enum class SendResult { sent, would_block, unroutable };

  // engine.cpp: lifecycle, loop, timers
  void open();
  void loop();
  /// Non-blocking pass over every socket; true if anything was handled.
  bool sweep();
  /// Pause bookkeeping, timers and the end of a stop, after each round of I/O.
  void after_io();
  void close_all(std::chrono::milliseconds linger);
  [[nodiscard]] std::chrono::milliseconds poll_timeout(SteadyClock::time_point now);
  void on_timers(SteadyClock::time_point now);
  void heartbeat(SteadyClock::time_point now);
  void finish_stop();
  [[nodiscard]] bool network_paused() const noexcept { return !dispatch_.empty(); }

  // engine_commands.cpp
  /// Each on_* reads what is waiting on its socket(s) without blocking; returns how many
  /// messages it handled.
  int on_commands();
  void on_command(FrameSet& frames);
  void cmd_connect(const CommandMeta& meta, const std::string& endpoint);
  void cmd_disconnect(const CommandMeta& meta);
  void cmd_send(const CommandMeta& meta, FrameSet& frames);
  void cmd_connections(const CommandMeta& meta);
  void cmd_stop(const CommandMeta& meta);
  void send_hello(Connection& c);

  // engine_pubsub.cpp
  void open_pubsub();
  int on_xpub();
  /// Reads broadcasts into `frames`; `drain` reads even while the network is paused.
  int on_sub(FrameSet& frames, bool drain);
  void cmd_publish(const CommandMeta& meta, FrameSet& frames);
  void cmd_subscription(CommandOp op, const std::string& prefix);
  void cmd_sync(const CommandMeta& meta);
  void cmd_publishers(const CommandMeta& meta);
  /// Counts a reference to a PUB endpoint; the SUB connects on the first, disconnects
  /// when the last goes.
  void sub_ref(const std::string& endpoint, int delta);
  /// Makes our SUB follow the PUB endpoints a connection announced.
  void follow_pubs(Connection& c, bool follow);
  void on_sync(std::string_view marker, PeerId publisher);
  void next_sync_round(const std::string& marker);
  void check_syncs(SteadyClock::time_point now);

  // engine_discovery.cpp
  void open_broker();
  int on_broker();
  void broker_send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload);
  void broker_register();
  void broker_timers(SteadyClock::time_point now);
  void on_broker_event(const Event& event);
  void on_peer_list(std::uint64_t correlation_id, PeerList list);
  void member_upsert(const PeerInfo& info);
  void member_remove(PeerId id);
  void cmd_members(const CommandMeta& meta);
  void cmd_lookup(const CommandMeta& meta, std::string name, std::string service);
  void cmd_connect_name(const CommandMeta& meta, const std::string& name);
  void cmd_request_service(const CommandMeta& meta, FrameSet& frames);
  /// Sends a service request to the next peer offering the service that it has not
  /// tried; false (and `request` untouched) when there is none.
  bool route_service(PendingRequest& request, std::uint64_t correlation_id);
  /// The connection to a peer we know from the membership, made if needed.
  Connection* ensure_connection(const PeerInfo& info);
  /// Sends a request/message on `c`, or queues it until the greeting completes. False
  /// when the greeting queue is full.
  bool send_app(Connection& c, Kind kind, std::uint64_t correlation_id, std::string_view type,
                zmq::message_t payload, std::uint64_t deadline_unix_ms);

  // engine_inbound.cpp
  int on_router();
  int on_dealer(std::uint64_t key);
  void on_envelope(Connection* via_dealer, FrameSet& frames, const Envelope& env);
  void on_hello(std::string_view identity, const Envelope& env);
  void on_welcome(Connection& c, const Envelope& env);
  void on_reject(Connection& c, const Envelope& env);
  void on_app(Connection& c, const Route& route, FrameSet& frames, const Envelope& env);
  void on_reply(Connection* c, const Envelope& env);
  void on_ping(Connection* c, const Route& route, FrameSet& frames, const Envelope& env);
  void on_pong(Connection& c, const Envelope& env);
  void answer_unknown(std::string_view identity, const Envelope& env);

  // engine_outbound.cpp
  [[nodiscard]] Header header_for(Kind kind, std::uint64_t correlation_id) const;
  SendResult send_raw(Connection& c, const Route& route, zmq::message_t& header,
                      zmq::message_t& payload);
  SendResult send_router(std::string_view identity, zmq::message_t& header,
                         zmq::message_t& payload);
  /// Sends or, if the route is full, queues in outbox_. Application traffic.
  void send_or_hold(Connection& c, const Route& route, zmq::message_t header,
                    zmq::message_t payload);
  /// Sends if there is room now, else drops (pings, byes, greetings answers).
  void send_control(Connection& c, const Route& route, const Header& h, zmq::message_t payload);
  void flush_outbox();
  void flush_queued(Connection& c);
  void dispatch(WorkItem item);
  void flush_dispatch();
  int on_worker(std::size_t index);
  [[nodiscard]] std::size_t worker_for(PeerId peer) const noexcept;

  // failures and completions
  void complete(PendingRequest request, Response response);
  void fail(PendingRequest request, std::uint64_t correlation_id, errc code,
            const std::string& text);
  void fail_pending_for(PeerId peer, errc code, const std::string& text);
  /// Removes a connection: fails its waiters and pending requests with `code`.
  void drop_connection(Connection& c, errc code, const std::string& text);
  void mark_ready(Connection& c);
  [[nodiscard]] std::string gone_reason(PeerId peer) const;

  // Each socket is read in bursts of at most this many messages per round, so that one
  // busy socket cannot starve the others.
  static constexpr int kBurst = 256;

  zmq::context_t& ctx_;
  PeerShared& shared_;
  const PeerOptions& opts_;
  SocketTuning tuning_;
  PeerInfo self_;

  // engine thread only
  zmq::socket_t commands_;
  std::optional<zmq::socket_t> router_;
  std::vector<zmq::socket_t> workers_;
  ConnectionRegistry registry_;
  PendingRequests pending_;
  EnvelopeEncoder encoder_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  FrameSet drain_frames_;  // on_sub() from inside another handler (sub_ref)

  // broadcasts (engine thread only)
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
  };
  std::optional<zmq::socket_t> xpub_;
  zmq::socket_t sub_;
  std::map<std::string, int> sub_endpoints_;  // PUB endpoint -> references
  ByTopic<std::uint64_t> pub_sequence_;       // our next-to-last sequence per topic
  std::unordered_map<PeerId, Track> tracks_;
  std::map<std::string, PendingSync> syncs_;  // by marker topic
  std::uint64_t sync_counter_ = 0;

  // discovery (engine thread only)
  struct BrokerQuery {
    std::unique_ptr<MembersCompletion> members;  // lookup()
    std::unique_ptr<ConnectCompletion> connect;  // connect_by_name()
    std::string name;
    SteadyClock::time_point deadline{};
  };
  std::optional<zmq::socket_t> broker_;
  std::uint64_t broker_epoch_ = 0;
  bool registered_ = false;
  std::uint64_t register_correlation_ = 0;
  std::uint64_t refresh_correlation_ = 0;  // our full Lookup after each registration
  SteadyClock::time_point next_broker_tick_{};
  SteadyClock::time_point last_broker_ack_{};
  std::chrono::milliseconds renew_interval_{1000};
  std::map<PeerId, PeerInfo> members_;
  std::map<std::uint64_t, BrokerQuery> queries_;
  std::map<std::string, std::size_t> service_turn_;  // round-robin position per service

  std::vector<std::uint64_t> sweep_keys_;  // reused by sweep(): no allocation per pass
  std::deque<WorkItem> dispatch_;          // waiting for room at a worker
  std::deque<Outbound> outbox_;            // waiting for room on a network socket
  std::uint64_t next_correlation_ = 1;
  SteadyClock::time_point next_timers_{};
  SteadyClock::time_point next_heartbeat_{};
  bool was_paused_ = false;
  std::map<PeerId, std::string> gone_;  // recent departures, for clear errors (bounded)

  bool stopping_ = false;
  bool stopped_ = false;
  std::size_t workers_stopped_ = 0;
  SteadyClock::time_point stop_deadline_{};
  std::unique_ptr<StopCompletion> stop_done_;
  std::vector<Orphan> orphans_;
};

}  // namespace zmesh::detail
