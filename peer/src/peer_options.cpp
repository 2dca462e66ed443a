#include "zmesh/peer/options.hpp"

#include <string>

#include "zmesh/core/control.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/metrics_server.hpp"

namespace zmesh {

void PeerOptions::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw Error(errc::invalid_argument, "invalid peer options: " + what);
  };
  require(!name.empty() && name.size() <= kMaxNameBytes,
          "name must be 1.." + std::to_string(kMaxNameBytes) + " bytes");
  require(workers >= 1 && workers <= kMaxWorkers,
          "workers must be in 1.." + std::to_string(kMaxWorkers));
  require(heartbeat_interval.count() >= kMinHeartbeatIntervalMs &&
              heartbeat_interval.count() <= kMaxHeartbeatIntervalMs,
          "heartbeat_interval must be in " + std::to_string(kMinHeartbeatIntervalMs) + ".." +
              std::to_string(kMaxHeartbeatIntervalMs) + " ms");
  require(heartbeat_timeout > 2 * heartbeat_interval,
          "heartbeat_timeout must exceed twice heartbeat_interval");
  require(connect_timeout.count() > 0, "connect_timeout must be positive");
  require(request_timeout.count() > 0, "request_timeout must be positive");
  require(send_timeout.count() >= 0, "send_timeout must not be negative");
  require(membership_refresh.count() >= 0, "membership_refresh must not be negative");
  require(registration_ttl.count() >= 0 && registration_ttl.count() <= 0xFFFFFFFFLL,
          "registration_ttl must be in 0..2^32-1 ms");
  require(worker_queue_depth >= 1, "worker_queue_depth must be at least 1");
  require(command_queue_depth >= 1, "command_queue_depth must be at least 1");
  require(greeting_queue_depth >= 1, "greeting_queue_depth must be at least 1");
  require(send_hwm >= 1 && recv_hwm >= 1, "send_hwm and recv_hwm must be at least 1");
  require(pub_hwm >= 1 && sub_hwm >= 1, "pub_hwm and sub_hwm must be at least 1");
  require(max_queued_bytes >= 1, "max_queued_bytes must be at least 1");
  require(max_subscriptions >= 1, "max_subscriptions must be at least 1");
  require(max_followed_publishers >= 1, "max_followed_publishers must be at least 1");
  for (const auto& r : retain) {
    require(!r.prefix.starts_with('\0'), "retain prefixes must not start with a zero byte");
    require(r.prefix.size() <= limits.max_topic_bytes, "a retain prefix is longer than a topic");
    require(r.max_count >= 1 && r.max_bytes >= 1,
            "retain max_count and max_bytes must be positive");
  }
  require(topic_policies.size() <= kMaxTopicPolicies,
          "at most " + std::to_string(kMaxTopicPolicies) + " topic_policies");
  for (const auto& t : topic_policies) {
    require(!t.prefix.starts_with('\0'), "topic_policies prefixes must not start with a zero byte");
    require(t.prefix.size() <= limits.max_topic_bytes,
            "a topic_policies prefix is longer than a topic");
  }
  require(broadcast_backlog_bytes >= 1, "broadcast_backlog_bytes must be at least 1");
  require(stuck_subscriber_timeout.count() >= 0, "stuck_subscriber_timeout must not be negative");
  require(
      broadcast_heartbeat.count() == 0 || (broadcast_heartbeat.count() >= kMinHeartbeatIntervalMs &&
                                           broadcast_heartbeat.count() <= kMaxHeartbeatIntervalMs),
      "broadcast_heartbeat must be 0 or in " + std::to_string(kMinHeartbeatIntervalMs) + ".." +
          std::to_string(kMaxHeartbeatIntervalMs) + " ms");
  require(services.size() <= limits.max_list_items, "too many services");
  for (const auto& s : services)
    require(!s.empty() && s.size() <= limits.max_string_bytes, "bad service name");
  if (!metrics_bind.empty()) MetricsServer::check_bind(metrics_bind);
  limits.validate();
  CurveOptions curve_checked = curve;
  curve_checked.validate("invalid peer options: curve");
  if (curve_checked.enabled()) {
    const PeerId bound = peer_id_for_key(curve_checked.public_key);
    require(id == 0 || id == bound,
            "id must be 0 or " + id_to_hex(bound) + ", the id bound to our CURVE key");
  }
}

}  // namespace zmesh
