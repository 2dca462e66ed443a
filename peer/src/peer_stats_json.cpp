#include "peer_stats_json.hpp"

#include <nlohmann/json.hpp>

#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

const char* state_name(ConnectionState s) {
  switch (s) {
    case ConnectionState::greeting: return "greeting";
    case ConnectionState::ready: return "ready";
    case ConnectionState::suspect: return "suspect";
    case ConnectionState::gone: return "gone";
  }
  return "unknown";
}

nlohmann::json stats_json(const PeerStats& s) {
  return {{"sent", s.sent},
          {"received", s.received},
          {"requests_sent", s.requests_sent},
          {"replies_received", s.replies_received},
          {"pending", s.pending},
          {"timeouts", s.timeouts},
          {"errors", s.errors},
          {"late_replies", s.late_replies},
          {"malformed", s.malformed},
          {"unexpected", s.unexpected},
          {"handled", s.handled},
          {"handler_errors", s.handler_errors},
          {"no_handler", s.no_handler},
          {"expired", s.expired},
          {"worker_queue_depth", s.worker_queue_depth},
          {"connections", s.connections},
          {"published", s.published},
          {"broadcasts_received", s.broadcasts_received},
          {"broadcasts_filtered", s.broadcasts_filtered},
          {"gaps", s.gaps},
          {"subscriptions_seen", s.subscriptions_seen},
          {"overloaded", s.overloaded},
          {"departed_skipped", s.departed_skipped},
          {"subscriptions_refused", s.subscriptions_refused},
          {"publishers_refused", s.publishers_refused},
          {"greetings_refused", s.greetings_refused},
          {"registrations_refused", s.registrations_refused},
          {"membership_resyncs", s.membership_resyncs},
          {"handshakes_refused", s.handshakes_refused},
          {"handshakes_untrusted", s.handshakes_untrusted},
          {"handshakes_mismatched", s.handshakes_mismatched},
          {"handshakes_bad_key", s.handshakes_bad_key},
          {"auth_failures", s.auth_failures},
          {"identity_refused", s.identity_refused},
          {"broadcasts_held", s.broadcasts_held},
          {"broadcasts_conflated", s.broadcasts_conflated},
          {"broadcasts_overflowed", s.broadcasts_overflowed},
          {"broadcasts_dropped", s.broadcasts_dropped},
          {"publish_timeouts", s.publish_timeouts},
          {"subscribers_cut", s.subscribers_cut},
          {"broadcasts_skipped", s.broadcasts_skipped}};
}

}  // namespace

std::string peer_stats_json(const std::string& name, PeerId id, const std::string& endpoint,
                            const std::string& pub_endpoint, const PeerStats& stats,
                            const std::vector<TopicPolicyStats>& delivery,
                            const std::optional<std::vector<ConnectionStats>>& connections,
                            const std::optional<std::vector<PublisherStats>>& publishers) {
  nlohmann::json j{{"id", id_to_hex(id)},
                   {"name", name},
                   {"endpoint", endpoint},
                   {"pub_endpoint", pub_endpoint},
                   {"stats", stats_json(stats)}};
  if (connections) {
    auto& list = j["connections"] = nlohmann::json::array();
    for (const auto& c : *connections) {
      list.push_back({{"peer", id_to_hex(c.peer)},
                      {"name", c.name},
                      {"endpoint", c.endpoint},
                      {"state", state_name(c.state)},
                      {"outbound", c.outbound},
                      {"sent", c.sent},
                      {"received", c.received},
                      {"pending", c.pending},
                      {"queued", c.queued},
                      {"queued_bytes", c.queued_bytes},
                      {"rtt_us", c.last_rtt.count()}});
    }
  }
  if (publishers) {
    auto& list = j["publishers"] = nlohmann::json::array();
    for (const auto& p : *publishers) {
      list.push_back({{"publisher", id_to_hex(p.publisher)},
                      {"session", id_to_hex(p.session)},
                      {"received", p.received},
                      {"gaps", p.gaps},
                      {"topics", p.topics},
                      {"restarts", p.restarts}});
    }
  }
  auto& rules = j["delivery"] = nlohmann::json::array();
  for (const auto& r : delivery) {
    rules.push_back({{"prefix", r.prefix},
                     {"policy", to_string(r.policy)},
                     {"default", r.is_default},
                     {"published", r.published},
                     {"conflated", r.conflated},
                     {"backlog_full", r.backlog_full},
                     {"no_room", r.no_room},
                     {"publish_timeouts", r.publish_timeouts}});
  }
  // Names come from the network: never throw on bytes that are not UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace zmesh::detail
