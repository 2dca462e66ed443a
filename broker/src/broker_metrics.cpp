#include "broker_metrics.hpp"

#include "zmesh/core/ids.hpp"
#include "zmesh/core/metrics_text.hpp"

namespace zmesh::broker_cli {

std::string broker_metrics_text(const BrokerStats& s) {
  using T = MetricsText::Type;
  MetricsText m;
  m.family("zmesh_broker_info", T::gauge, "This broker run: its epoch (always 1).")
      .sample("zmesh_broker_info", {{"epoch", id_to_hex(s.epoch)}}, std::uint64_t{1});
  m.gauge("zmesh_broker_members", "Peers registered now.", s.registered);
  m.counter("zmesh_broker_registrations_total", "Registrations accepted.", s.registrations);
  m.counter("zmesh_broker_registrations_rejected_total",
            "Registrations refused (duplicate id or name, bad content, full).", s.rejected);
  m.counter("zmesh_broker_renewals_total", "Renewals accepted.", s.renewals);
  m.counter("zmesh_broker_leaves_total", "Clean leaves (Bye).", s.left);
  m.counter("zmesh_broker_expiries_total", "Registrations dropped after their TTL.", s.expired);
  // kind: name (a name given, with or without a service), service (a service only), all.
  m.family("zmesh_broker_lookups_total", T::counter, "Lookups answered, by what they asked for.")
      .sample("zmesh_broker_lookups_total", {{"kind", "name"}}, s.lookups_by_name)
      .sample("zmesh_broker_lookups_total", {{"kind", "service"}}, s.lookups_by_service)
      .sample("zmesh_broker_lookups_total", {{"kind", "all"}}, s.lookups_all);
  m.counter("zmesh_broker_lookup_pages_total", "PeerList pages sent.", s.lookup_pages);
  m.counter("zmesh_broker_events_sent_total",
            "Event messages pushed to peers (each with at least one change).", s.events_sent);
  m.counter("zmesh_broker_changes_total", "Join, leave and update changes announced.", s.changes);
  m.counter("zmesh_broker_slow_consumer_drops_total",
            "Answers and events dropped: the client's queue was full.", s.slow_consumer);
  m.counter("zmesh_broker_foreign_refused_total",
            "Register, Renew or Bye refused: another connection's entry.", s.foreign_refused);
  m.counter("zmesh_broker_malformed_total", "Frame sets or payloads that failed to decode.",
            s.malformed);
  return m.text();
}

std::unique_ptr<MetricsServer> serve_broker_metrics(const std::string& bind, const Broker& broker) {
  return std::make_unique<MetricsServer>(bind,
                                         [&broker] { return broker_metrics_text(broker.stats()); });
}

}  // namespace zmesh::broker_cli
