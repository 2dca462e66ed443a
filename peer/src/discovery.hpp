// Discovery — the broker client: one DEALER to the broker; registers and renews, keeps
// the membership from events (and a full listing after every registration, and after
// Events were lost: a jump in their sequence), answers lookups (following the broker's
// pages to the last), and resolves names. Engine thread only. Membership changes go out as events
// (a member's publisher appears or goes); connecting goes through a hook.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "completions.hpp"
#include "deadline.hpp"
#include "engine_context.hpp"
#include "zmesh/core/frame_set.hpp"

namespace zmesh::detail {

class Discovery {
 public:
  struct Events {
    /// A member appeared, changed (called with the new record after the old one left)
    /// or left.
    std::function<void(const PeerInfo& member)> joined;
    std::function<void(const PeerInfo& member)> left;
    /// Connect to a member and complete `done` once greeted; false if it cannot be
    /// reached (then `done` is untouched).
    std::function<bool(const PeerInfo& member, std::unique_ptr<ConnectCompletion>& done)> connect;
  };

  Discovery(EngineContext& ctx, Events events);
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  /// Connects to options.broker, if set.
  void open();
  void close() noexcept;
  [[nodiscard]] zmq::socket_t* socket() noexcept { return broker_ ? &*broker_ : nullptr; }
  int read();
  void on_timers(SteadyClock::time_point now);

  [[nodiscard]] std::vector<MemberInfo> members() const;
  /// Calls fn for every member.
  void visit(const std::function<void(const PeerInfo&)>& fn) const;
  void lookup(std::string name, std::string service, const Deadline& deadline,
              std::unique_ptr<MembersCompletion> done);
  void connect_name(const std::string& name, const Deadline& deadline,
                    std::unique_ptr<ConnectCompletion> done);
  /// Shutdown: fails the queries waiting for the broker and says BYE to it.
  void leave(const std::string& text);

 private:
  struct Query {
    std::unique_ptr<MembersCompletion> members;  // lookup()
    std::unique_ptr<ConnectCompletion> connect;  // connect_by_name()
    std::string name;
    std::string service;
    SteadyClock::time_point deadline{};
    /// When to send the Lookup (again): not sent yet (no broker connection), or a name
    /// not known yet to a broker that has just started. max() = answered or sent.
    SteadyClock::time_point resend_at = SteadyClock::time_point::max();
    std::uint64_t after = 0;          // cursor of the page to ask for (PeerList.next)
    std::vector<PeerRecord> records;  // the pages received so far
    void fail(errc code, const std::string& text);
  };
  /// False when the broker connection could not take it now.
  bool send(Kind kind, std::uint64_t correlation_id, zmq::message_t payload);
  /// Sends a query's Lookup under a new correlation id and files it there.
  void ask(Query query);
  /// Connects to the reachable member named `name` that registered first; false if
  /// there is none (then `done` is untouched).
  bool connect_first(const std::string& name, std::unique_ptr<ConnectCompletion>& done);
  void do_register();
  /// Takes a full listing (paged), replacing the membership once it is complete.
  void refresh();
  void set_registration_error(std::string reason);
  void unregistered();
  void on_envelope(const Envelope& env);
  void on_ack(const Envelope& env);
  void on_event(const Event& event);
  void on_list(std::uint64_t correlation_id, PeerList list);
  void on_refresh_page(const PeerList& list);
  /// How long a broker that has just started takes to hear from every live peer.
  [[nodiscard]] std::chrono::milliseconds warm_up() const;
  /// A query's whole answer (every page) arrived.
  void answer(Query& query, std::uint64_t correlation_id, std::uint64_t uptime_ms);
  void upsert(const PeerInfo& info);
  void remove(PeerId id);

  EngineContext& ctx_;
  Events events_;
  EnvelopeDecoder decoder_;
  FrameSet frames_;
  // engine thread only
  std::optional<zmq::socket_t> broker_;
  std::uint64_t epoch_ = 0;
  bool registered_ = false;
  bool refused_ = false;  // the broker refused our last Register: retry once per renew interval
  std::uint64_t refresh_correlation_ = 0;  // the page we wait for of our full listing
  std::set<PeerId> refresh_present_;       // the members the listing has shown so far
  // When to list again: a broker younger than its warm-up listed only the peers that
  // re-registered so far, so the others were kept until a later listing. max() = none.
  SteadyClock::time_point refresh_at_ = SteadyClock::time_point::max();
  std::uint64_t event_sequence_ = 0;  // of the last broker Event (or RegisterAck)
  SteadyClock::time_point next_tick_{};
  SteadyClock::time_point last_ack_{};
  std::chrono::milliseconds renew_interval_{1000};
  std::chrono::milliseconds granted_ttl_{0};  // the TTL of our registration
  std::map<PeerId, PeerInfo> members_;
  std::map<PeerId, std::uint64_t> joined_;  // registration order, as far as we saw it
  std::uint64_t next_joined_ = 0;
  std::map<std::uint64_t, Query> queries_;
};

}  // namespace zmesh::detail
