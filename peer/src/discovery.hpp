// Discovery — the brokers' client. One BrokerLink per broker of the list (registering at
// every one, or lookup-only); the membership is the union of their views, one record per
// peer id. Lookups go to one live broker and move to the next when it cannot take them
// or does not answer in its share of the deadline; answers are followed to their last
// page. Resolves names. Engine thread only. Membership changes go out as events (a
// member's publisher appears or goes); connecting goes through a hook.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "broker_link.hpp"
#include "completions.hpp"
#include "deadline.hpp"
#include "engine_context.hpp"

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

  /// Connects to every broker of the (resolved) list, if any.
  void open();
  void close() noexcept;
  /// The brokers' sockets, for the engine to poll (stable between open() and close()).
  [[nodiscard]] const std::vector<zmq::socket_t*>& sockets() const noexcept { return sockets_; }
  /// Reads what the broker of sockets()[i] sent (a burst at most).
  int read(std::size_t i);
  /// Reads every broker's socket.
  int read();
  void on_timers(SteadyClock::time_point now);

  [[nodiscard]] std::vector<MemberInfo> members() const;
  /// Calls fn for every member.
  void visit(const std::function<void(const PeerInfo&)>& fn) const;
  void lookup(std::string name, std::string service, const Deadline& deadline,
              std::unique_ptr<MembersCompletion> done);
  void connect_name(const std::string& name, const Deadline& deadline,
                    std::unique_ptr<ConnectCompletion> done);
  /// Shutdown: fails the queries waiting for a broker and says BYE to each.
  void leave(const std::string& text);

 private:
  struct Query {
    std::unique_ptr<MembersCompletion> members;  // lookup()
    std::unique_ptr<ConnectCompletion> connect;  // connect_by_name()
    std::string name;
    std::string service;
    SteadyClock::time_point deadline{};
    /// When to send the Lookup (again): not sent yet (no broker connected), or a name
    /// not known yet to a broker that has just started. max() = sent.
    SteadyClock::time_point resend_at = SteadyClock::time_point::max();
    /// When to give up on the broker asked and ask the next one.
    SteadyClock::time_point move_on_at = SteadyClock::time_point::max();
    std::size_t link = 0;             // the broker asked (pages come from one broker)
    std::size_t young_skips = 0;      // brokers skipped because they have just started
    std::uint64_t after = 0;          // cursor of the page to ask for (PeerList.next)
    std::size_t pages_from = 0;       // the broker whose cursor `after` is
    std::vector<PeerRecord> records;  // the pages received so far
    void fail(errc code, const std::string& text);
  };
  BrokerLink::Hooks link_hooks();
  /// Sends a query's Lookup under a new correlation id to the first broker, from
  /// query.link on, that takes it, and files it there.
  void ask(Query query);
  /// The broker to ask first: the one heard from last among the live ones.
  [[nodiscard]] std::size_t preferred_link() const;
  /// Connects to the reachable member named `name` that registered first; false if
  /// there is none (then `done` is untouched).
  bool connect_first(const std::string& name, std::unique_ptr<ConnectCompletion>& done);
  void on_list(BrokerLink& link, std::uint64_t correlation_id, PeerList list);
  /// A query's whole answer (every page) arrived.
  void answer(Query& query, std::uint64_t correlation_id, std::uint64_t uptime_ms);
  /// A broker's view lost this peer: keep it with another broker's record, or remove it.
  void gone(PeerId id);
  void upsert(const PeerInfo& info);
  void remove(PeerId id);
  /// Publishes registered / registration_error / membership_ready to the Peer.
  void state_changed();
  /// Why every broker refused our handshake, "" while any did not (or there is none).
  [[nodiscard]] std::string refused_by_all() const;
  /// "the broker at X" or "the brokers (X, Y)".
  [[nodiscard]] std::string brokers_text() const;

  EngineContext& ctx_;
  Events events_;
  std::vector<std::unique_ptr<BrokerLink>> links_;
  std::vector<zmq::socket_t*> sockets_;     // links_[i]'s socket
  std::map<PeerId, PeerInfo> members_;      // the union of the links' views
  std::map<PeerId, std::uint64_t> joined_;  // first-seen order, as far as we saw it
  std::uint64_t next_joined_ = 0;
  std::map<std::uint64_t, Query> queries_;
};

}  // namespace zmesh::detail
