#include "registrar.hpp"

#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "registration_rules.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

using std::chrono::milliseconds;

void Registrar::reject(const std::string& identity, std::uint64_t correlation_id, WireError code,
                       const std::string& reason, bool logged) {
  ctx_.counters.count([](BrokerStats& s) { ++s.rejected; });
  if (!logged) {
    ctx_.limiter.warn("registration refused code={} reason=\"{}\"", wire_error_name(code), reason);
  }
  out_.answer(identity, out_.header(Kind::reject, correlation_id), encode(Reject{code, reason}));
}

std::string Registrar::bound_elsewhere(const char* what, const Member& m) {
  ctx_.counters.count([](BrokerStats& s) { ++s.foreign_refused; });
  std::string reason = std::string(what) + " for peer id " + id_to_hex(m.info.id) + " ('" +
                       m.info.name +
                       "') refused: its registration belongs to another connection, which "
                       "renews it; it can be taken over once it misses two renewals (" +
                       std::to_string(2 * ctx_.options.renew_interval.count()) + " ms)";
  ctx_.limiter.warn("{}", reason);
  return reason;
}

void Registrar::on_register(const std::string& identity, const Envelope& env,
                            const zmq::message_t& header_frame) {
  const BrokerOptions& options = ctx_.options;
  const auto corr = env.header.correlation_id;
  auto reg = decode_control<Register>(env.payload, options.limits);
  if (auto refusal = check_register(reg, env.header, options)) {
    if (!reg) ctx_.counters.count([](BrokerStats& s) { ++s.malformed; });
    reject(identity, corr, refusal->code, refusal->reason);
    return;
  }
  const auto now = SteadyClock::now();
  if (ctx_.security) {
    const auto live_now = [&](const Member& m) { return ctx_.live(m, now); };
    if (auto refusal = ctx_.security->check_register(reg->peer, header_frame, members_, live_now)) {
      reject(identity, corr, refusal->code, refusal->reason, /*logged=*/true);
      return;
    }
    reg->peer.public_key = BrokerSecurity::sender_key(header_frame);
  }
  const PeerInfo& info = reg->peer;
  const Member* old = members_.find(info.id);
  bool replace_old = false;
  if (old != nullptr && old->info.session != info.session) {
    // A duplicate while the registered session renews, its restart once it missed two.
    if (ctx_.live(*old, now)) {
      reject(identity, corr, WireError::duplicate_id,
             "peer id " + id_to_hex(info.id) + " is registered by a live session ('" +
                 old->info.name + "'); it is replaced once it misses two renewals (" +
                 std::to_string(2 * options.renew_interval.count()) + " ms)");
      return;
    }
    replace_old = true;
  } else if (old != nullptr && old->identity != identity && ctx_.live(*old, now)) {
    reject(identity, corr, WireError::duplicate_id, bound_elsewhere("Register", *old));
    return;
  }
  // Names are unique among live registrations; a holder that stopped renewing gives
  // its name up to the newcomer.
  std::vector<PeerId> stale_holders;
  for (const Member* holder : members_.named(info.name)) {
    if (holder->info.id == info.id) continue;
    if (ctx_.live(*holder, now)) {
      const auto age =
          std::chrono::duration_cast<milliseconds>(now - holder->registered_at).count();
      reject(identity, corr, WireError::duplicate_name,
             "name '" + info.name + "' is held by live peer id " + id_to_hex(holder->info.id) +
                 " (registered " + std::to_string(age) +
                 " ms ago); names are unique, services are for sharing");
      return;
    }
    stale_holders.push_back(holder->info.id);
  }
  if (replace_old) {
    auto replaced = members_.remove(info.id);
    spdlog::debug("peer replaced id={} name={} by a new session", id_to_hex(info.id),
                  replaced->info.name);
    ++summary_.replaced;
    ctx_.counters.count_membership(&BrokerStats::left, members_.size());
    events_.announce(EventType::leave, std::move(replaced->info), "replaced");
    old = nullptr;
  }
  for (const PeerId id : stale_holders) {
    auto replaced = members_.remove(id);
    spdlog::debug("peer replaced id={} name={}: its name was taken by id={}", id_to_hex(id),
                  replaced->info.name, id_to_hex(info.id));
    ++summary_.replaced;
    ctx_.counters.count_membership(&BrokerStats::left, members_.size());
    events_.announce(EventType::leave, std::move(replaced->info), "replaced");
  }
  if (old == nullptr && members_.size() >= options.max_peers) {
    reject(identity, corr, WireError::overloaded, "broker is full");
    return;
  }
  const bool changed = old != nullptr && !(old->info == info);
  const bool joined = old == nullptr;
  const milliseconds ttl = granted_ttl(reg->ttl_ms, options);
  const Member& m = members_.upsert(info, identity, ttl, now);
  ctx_.counters.count_membership(&BrokerStats::registrations, members_.size());
  out_.answer(identity, out_.header(Kind::register_ack, corr), ack(ttl));
  if (joined) {
    spdlog::debug("peer joined id={} name={} services={}", id_to_hex(info.id), info.name,
                  info.services.size());
    ++summary_.joined;
    events_.announce(EventType::join, m.info, "");
  } else if (changed) {
    events_.announce(EventType::update, m.info, "");
  }
}

zmq::message_t Registrar::ack(milliseconds ttl) const {
  return encode(RegisterAck{ctx_.epoch, static_cast<std::uint32_t>(ttl.count()),
                            static_cast<std::uint32_t>(ctx_.options.renew_interval.count()),
                            events_.sequence()});
}

void Registrar::on_renew(const std::string& identity, const Envelope& env,
                         const zmq::message_t& header_frame) {
  const auto corr = env.header.correlation_id;
  if (ctx_.security) {
    if (auto why = ctx_.security->check_claim("Renew", env.header.sender_id, header_frame)) {
      out_.answer_error(identity, corr, WireError::not_allowed, *why);
      return;
    }
  }
  const Member* m = members_.find(env.header.sender_id);
  if (m == nullptr || m->info.session != env.header.sender_session) {
    // We do not know it (we restarted, or it expired): it must register again.
    out_.answer_error(identity, corr, WireError::unknown_peer, "not registered: send Register");
    return;
  }
  const auto now = SteadyClock::now();
  if (m->identity != identity) {
    if (ctx_.live(*m, now)) {
      out_.answer_error(identity, corr, WireError::duplicate_id, bound_elsewhere("Renew", *m));
      return;
    }
    // Its DEALER reconnected and the old connection went quiet: reach it here now.
    members_.upsert(m->info, identity, m->ttl, now);
  }
  members_.renew(env.header.sender_id, now);
  m = members_.find(env.header.sender_id);
  ctx_.counters.count([](BrokerStats& s) { ++s.renewals; });
  out_.answer(identity, out_.header(Kind::register_ack, corr), ack(m->ttl));
}

void Registrar::on_bye(const std::string& identity, const Envelope& env,
                       const zmq::message_t& header_frame) {
  // A Bye for an id not bound to the sender's key is ignored (counted, logged).
  if (ctx_.security && ctx_.security->check_claim("Bye", env.header.sender_id, header_frame)) {
    return;
  }
  const Member* m = members_.find(env.header.sender_id);
  if (m == nullptr || m->info.session != env.header.sender_session) return;
  if (m->identity != identity && ctx_.live(*m, SteadyClock::now())) {
    (void)bound_elsewhere("Bye", *m);  // a spoofed Bye: ignored, counted, logged
    return;
  }
  auto gone = members_.remove(env.header.sender_id);
  spdlog::debug("peer left id={} name={}", id_to_hex(gone->info.id), gone->info.name);
  ++summary_.left;
  ctx_.counters.count_membership(&BrokerStats::left, members_.size());
  events_.announce(EventType::leave, std::move(gone->info), "bye");
}

void Registrar::expire(SteadyClock::time_point as_of) {
  for (auto& m : members_.expire(as_of)) {
    spdlog::debug("peer expired id={} name={}", id_to_hex(m.info.id), m.info.name);
    ++summary_.expired;
    ctx_.counters.count_membership(&BrokerStats::expired, members_.size());
    events_.announce(EventType::leave, std::move(m.info), "expired");
  }
}

void Registrar::log_summary(SteadyClock::time_point now, bool final) {
  if (!final && now < next_summary_) return;
  next_summary_ = now + std::chrono::seconds(1);
  if (summary_.joined + summary_.left + summary_.expired + summary_.replaced == 0) return;
  spdlog::info("peers joined={} left={} expired={} replaced={} registered={}", summary_.joined,
               summary_.left, summary_.expired, summary_.replaced, members_.size());
  summary_ = {};
}

}  // namespace zmesh::detail
