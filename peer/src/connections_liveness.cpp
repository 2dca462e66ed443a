// Connections, part five: time — handshakes watched while greeting (CURVE), greetings
// past their deadline, heartbeats and the liveness verdict (liveness.hpp), and the
// silence that was ours while the engine was paused.
#include "connections.hpp"

#include <algorithm>

#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

using std::chrono::milliseconds;

std::string ms_text(SteadyClock::duration d) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms";
}

}  // namespace

// ------------------------------------------------------------------ time

void Connections::check_handshakes() {
  const bool curve = ctx_.opts.curve.enabled();
  std::vector<std::pair<std::uint64_t, std::string>> failed;
  registry_.visit([&](Connection& c) {
    if (!c.monitor) return;
    while (auto e = c.monitor->next()) {
      if (!handshake_failed(*e, curve, c.handshake_closes)) continue;
      failed.emplace_back(c.key, e->reason(curve));
      return;
    }
  });
  for (const auto& [key, reason] : failed) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr) continue;
    bump(ctx_.counters().auth_failures);
    const std::string where = c->endpoint.empty() ? c->describe() : c->endpoint;
    std::string text = "handshake with " + where;
    text += " failed: ";
    text += reason;
    ctx_.log(LogEvent::auth_failed, LogLevel::warning, text);
    remove(*c, errc::auth_failed, text);
  }
}

void Connections::count_refused_handshakes() {
  if (!router_monitor_) return;
  while (auto e = router_monitor_->next()) {
    if (e->kind != HandshakeEvent::Kind::succeeded) ctx_.refused_handshake(*e);
  }
}

void Connections::on_timers(SteadyClock::time_point now, bool paused) {
  check_handshakes();
  count_refused_handshakes();
  std::vector<std::uint64_t> late;
  registry_.visit([&](Connection& c) {
    if (c.state == ConnectionState::greeting && now >= c.greeting_deadline) late.push_back(c.key);
  });
  for (const auto key : late) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr) continue;
    const std::string where = c->endpoint.empty() ? c->describe() : c->endpoint;
    remove(*c, errc::peer_unreachable,
           "no greeting from " + where + " within " + ms_text(ctx_.opts.connect_timeout));
  }
  if (now >= next_heartbeat_) heartbeat(now, paused);
}

void Connections::heartbeat(SteadyClock::time_point now, bool paused) {
  next_heartbeat_ = now + ctx_.opts.heartbeat_interval;
  for (const auto key : registry_.keys()) {
    Connection* c = registry_.by_key(key);
    if (c == nullptr || !c->ready()) continue;
    const auto silence = now - c->last_rx;
    const auto verdict = liveness_.judge(silence, c->announced_interval);
    if (!paused && verdict == Liveness::Verdict::gone) {
      const std::string text = "peer " + c->describe() + " gone: silent for " + ms_text(silence);
      ctx_.log(LogEvent::peer_gone, LogLevel::info, text);
      remove(*c, errc::peer_gone, text);
      continue;
    }
    if (!paused && verdict == Liveness::Verdict::suspect && c->state != ConnectionState::suspect) {
      c->state = ConnectionState::suspect;
      ctx_.log(LogEvent::peer_suspect, LogLevel::info,
               "peer " + c->describe() + " suspect: silent for " + ms_text(silence));
    }
    c->ping_nonce = random_id();
    send_control(*c, Route{c->key}, ctx_.header(Kind::ping, ctx_.next_correlation()),
                 encode(Ping{c->ping_nonce, steady_now_us()}));
  }
}

void Connections::resume(SteadyClock::time_point now) {
  registry_.visit([&](Connection& c) { c.last_rx = std::max(c.last_rx, now); });
}

}  // namespace zmesh::detail
