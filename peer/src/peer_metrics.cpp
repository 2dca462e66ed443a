#include "peer_metrics.hpp"

#include <array>

#include "zmesh/core/ids.hpp"
#include "zmesh/core/metrics_text.hpp"

namespace zmesh::detail {
namespace {

constexpr std::array<std::pair<ConnectionState, const char*>, 4> kStates{{
    {ConnectionState::greeting, "greeting"},
    {ConnectionState::ready, "ready"},
    {ConnectionState::suspect, "suspect"},
    {ConnectionState::gone, "gone"},
}};

void connection_families(MetricsText& m, const std::vector<ConnectionStats>& connections) {
  std::array<std::uint64_t, kStates.size()> by_state{};
  std::uint64_t queued = 0;
  std::uint64_t queued_bytes = 0;
  for (const auto& c : connections) {
    for (std::size_t i = 0; i < kStates.size(); ++i) {
      if (kStates[i].first == c.state) ++by_state[i];
    }
    queued += c.queued;
    queued_bytes += c.queued_bytes;
  }
  const char* name = "zmesh_peer_connections";
  m.family(name, MetricsText::Type::gauge, "Connections to other peers, by state.");
  for (std::size_t i = 0; i < kStates.size(); ++i) {
    m.sample(name, {{"state", kStates[i].second}}, by_state[i]);
  }
  m.gauge("zmesh_peer_greeting_queued_messages",
          "Sends held until their connection's greeting completes, all connections.", queued);
  m.gauge("zmesh_peer_outbound_queued_bytes",
          "Bytes waiting for room on a connection's pipe, all connections.", queued_bytes);
}

// Per delivery-policy rule (Peer::delivery_stats()): the default rule has prefix="" and
// default="true", so that a topic_policies rule for "" stays apart from it.
void delivery_families(MetricsText& m, const std::vector<TopicPolicyStats>& delivery) {
  const char* out = "zmesh_peer_delivery_broadcasts_total";
  m.family(out, MetricsText::Type::counter,
           "Broadcasts of each delivery-policy rule, by outcome: sent, conflated (latest), "
           "backlog_full (latest), no_room (drop beside a holding policy).");
  for (const auto& r : delivery) {
    const std::string_view policy = to_string(r.policy);
    const std::string_view is_default = r.is_default ? "true" : "false";
    const std::pair<const char*, std::uint64_t> outcomes[] = {{"sent", r.published},
                                                              {"conflated", r.conflated},
                                                              {"backlog_full", r.backlog_full},
                                                              {"no_room", r.no_room}};
    for (const auto& [outcome, n] : outcomes) {
      m.sample(
          out,
          {{"prefix", r.prefix}, {"policy", policy}, {"default", is_default}, {"outcome", outcome}},
          n);
    }
  }
  const char* timeouts = "zmesh_peer_delivery_publish_timeouts_total";
  m.family(timeouts, MetricsText::Type::counter,
           "publish() calls of each delivery-policy rule that found no room within send_timeout "
           "(block).");
  for (const auto& r : delivery) {
    m.sample(timeouts,
             {{"prefix", r.prefix},
              {"policy", to_string(r.policy)},
              {"default", r.is_default ? "true" : "false"}},
             r.publish_timeouts);
  }
}

}  // namespace

std::string peer_metrics_text(const std::string& name, PeerId id, const PeerStats& s,
                              const RequestDurations::Snapshot& durations,
                              const std::optional<std::vector<ConnectionStats>>& connections,
                              const std::vector<TopicPolicyStats>& delivery) {
  using T = MetricsText::Type;
  MetricsText m;
  m.family("zmesh_peer_info", T::gauge, "This peer: its name and id (always 1).")
      .sample("zmesh_peer_info", {{"name", name}, {"id", id_to_hex(id)}}, std::uint64_t{1});

  // Requests we sent, and how they ended.
  m.counter("zmesh_peer_requests_sent_total", "Requests sent.", s.requests_sent);
  const char* completed = "zmesh_peer_requests_completed_total";
  m.family(completed, T::counter,
           "Requests of ours that completed: ok (a reply), timeout (their own deadline), "
           "error (any other failure).")
      .sample(completed, {{"result", "ok"}}, s.replies_received)
      .sample(completed, {{"result", "timeout"}}, s.timeouts)
      .sample(completed, {{"result", "error"}}, s.errors);
  m.gauge("zmesh_peer_requests_pending", "Requests of ours waiting for a reply now.", s.pending);
  m.histogram("zmesh_peer_request_duration_seconds",
              "How long our requests answered with a reply took, from request() to the reply.",
              RequestDurations::kBounds, durations.counts, durations.sum_seconds);
  m.counter("zmesh_peer_late_replies_total",
            "Replies that came after their request had completed (dropped).", s.late_replies);

  // Messages in and out, and the handlers.
  m.counter("zmesh_peer_messages_sent_total", "Requests, replies and messages sent.", s.sent);
  m.counter("zmesh_peer_messages_received_total",
            "Application requests, replies and messages received.", s.received);
  m.counter("zmesh_peer_handled_total", "Handler calls completed.", s.handled);
  m.counter("zmesh_peer_handler_errors_total", "Handler calls that threw.", s.handler_errors);
  m.counter("zmesh_peer_no_handler_total", "Requests and messages with no handler for their type.",
            s.no_handler);
  m.counter("zmesh_peer_expired_total",
            "Requests skipped: their deadline passed while they were queued.", s.expired);
  m.counter("zmesh_peer_overloaded_total",
            "Requests refused: their sender was over max_queued_bytes.", s.overloaded);
  m.counter("zmesh_peer_departed_skipped_total", "Requests skipped: their sender had gone.",
            s.departed_skipped);
  m.gauge("zmesh_peer_worker_queue_depth",
          "Messages dispatched to the workers and not yet handled.", s.worker_queue_depth);

  // Broadcasts.
  m.counter("zmesh_peer_broadcasts_published_total", "Broadcasts we published.", s.published);
  m.counter("zmesh_peer_broadcasts_received_total", "Broadcasts received from publishers.",
            s.broadcasts_received);
  m.counter("zmesh_peer_broadcasts_filtered_total",
            "Broadcasts received that matched no subscription.", s.broadcasts_filtered);
  m.counter("zmesh_peer_broadcast_gaps_total", "Broadcasts missed (sequence gaps), all publishers.",
            s.gaps);
  m.counter("zmesh_peer_subscriptions_seen_total", "Topic subscriptions our PUB received.",
            s.subscriptions_seen);
  // Delivery policies: what our PUB did not deliver at once, by reason (docs/operations.md).
  m.gauge("zmesh_peer_broadcasts_held", "Broadcasts waiting at our PUB for room (block, latest).",
          s.broadcasts_held);
  m.family("zmesh_peer_broadcasts_not_sent_total", T::counter,
           "Broadcasts our PUB did not send, by reason.")
      .sample("zmesh_peer_broadcasts_not_sent_total", {{"reason", "conflated"}},
              s.broadcasts_conflated)
      .sample("zmesh_peer_broadcasts_not_sent_total", {{"reason", "backlog_full"}},
              s.broadcasts_overflowed)
      .sample("zmesh_peer_broadcasts_not_sent_total", {{"reason", "no_room"}},
              s.broadcasts_dropped);
  m.counter("zmesh_peer_publish_timeouts_total",
            "publish() calls that found no room within send_timeout (block).", s.publish_timeouts);
  m.counter("zmesh_peer_subscribers_cut_total",
            "Subscribers disconnected after taking nothing for stuck_subscriber_timeout.",
            s.subscribers_cut);
  delivery_families(m, delivery);
  m.counter("zmesh_peer_broadcasts_skipped_total",
            "Broadcasts for latest subscriptions replaced by a newer one of their topic before "
            "a handler got them.",
            s.broadcasts_skipped);
  m.counter("zmesh_peer_subscriptions_refused_total",
            "Subscriptions our PUB refused (over max_subscriptions).", s.subscriptions_refused);
  m.counter("zmesh_peer_publishers_refused_total",
            "PUB endpoints not followed (over max_followed_publishers).", s.publishers_refused);

  // Bad input and refusals.
  m.counter("zmesh_peer_malformed_total", "Frame sets refused by the decoder (dropped).",
            s.malformed);
  m.counter("zmesh_peer_unexpected_total", "Well-formed but out-of-place messages (dropped).",
            s.unexpected);
  m.counter("zmesh_peer_greetings_refused_total", "Greetings (Hello) we answered with Reject.",
            s.greetings_refused);
  // CURVE handshakes our ROUTER and PUB refused, by cause (docs/security.md).
  const std::uint64_t known =
      s.handshakes_untrusted + s.handshakes_mismatched + s.handshakes_bad_key;
  const char* refused = "zmesh_peer_handshakes_refused_total";
  m.family(refused, T::counter,
           "Handshakes refused by our sockets, by cause: untrusted (key not trusted), mismatched "
           "(plaintext against CURVE or the reverse), bad_key, other.")
      .sample(refused, {{"cause", "untrusted"}}, s.handshakes_untrusted)
      .sample(refused, {{"cause", "mismatched"}}, s.handshakes_mismatched)
      .sample(refused, {{"cause", "bad_key"}}, s.handshakes_bad_key)
      .sample(refused, {{"cause", "other"}},
              s.handshakes_refused > known ? s.handshakes_refused - known : 0);
  m.counter("zmesh_peer_auth_failures_total",
            "Our own connects that failed with auth_failed (the other side refused our key).",
            s.auth_failures);
  m.counter("zmesh_peer_identity_refused_total",
            "Greetings refused: a peer id not bound to the key that presented it.",
            s.identity_refused);
  m.counter("zmesh_peer_registrations_refused_total", "Our registrations a broker refused.",
            s.registrations_refused);
  m.counter("zmesh_peer_membership_resyncs_total",
            "Full membership listings after broker events were lost.", s.membership_resyncs);

  m.gauge("zmesh_peer_connections_ready", "Connections greeted and usable now.", s.connections);
  if (connections) connection_families(m, *connections);
  return m.text();
}

}  // namespace zmesh::detail
