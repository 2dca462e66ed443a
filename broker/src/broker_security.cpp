#include "broker_security.hpp"

#include <zmq.h>

#include <spdlog/spdlog.h>

#include "zmesh/core/curve.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::detail {
namespace {

/// A property libzmq attached to a received frame ("User-Id", "Peer-Address"); "" none.
std::string property(const zmq::message_t& frame, const char* name) {
  // zmq_msg_gets takes a non-const message but only reads its metadata.
  const char* value = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string from_acl(const std::string& file) {
  return " (ACL file '" + file + "')";
}

/// What a failed handshake means at a server (HandshakeEvent::reason speaks as a client).
const char* server_side_reason(const std::string& cause) {
  if (cause == "mechanism_mismatch") return "the client speaks plaintext, we speak CURVE";
  if (cause == "bad_key")
    return "CURVE cryptographic failure: the client expects another server key";
  if (cause == "closed") {
    return "the client hung up during the handshake (a plaintext client that saw our CURVE "
           "greeting, or one that gave up)";
  }
  return "handshake protocol error";
}

}  // namespace

BrokerSecurity::BrokerSecurity(const BrokerOptions& options)
    : acl_file_(options.acl_file), trust_(options.curve), curve_(options.curve) {
  if (!acl_file_.empty()) acl_ = Acl::load(acl_file_);
  for (const auto& skipped : trust_.skipped()) spdlog::warn("trust directory: skipped {}", skipped);
}

void BrokerSecurity::attach(zmq::context_t& ctx, zmq::socket_ref router) {
  // The handler first: until it is bound, libzmq would let every key in.
  zap_.emplace(ctx, trust_, [this](const std::string& key, const std::string& address) {
    ++counters_.untrusted_key;
    handshake_limiter_.warn("handshake refused cause=untrusted_key key={} address={}",
                            key.empty() ? std::string("(none)") : short_key(key), address);
  });
  set_curve_server(router, curve_);
  monitor_.emplace(ctx, router);
  spdlog::info("broker CURVE on: public_key={} trusted_keys={} acl={}", curve_.public_key,
               trust_.size(),
               acl_ ? acl_file_ + " (" + std::to_string(acl_->size()) + " rules)" : "none");
}

void BrokerSecurity::detach() {
  monitor_.reset();
  zap_.reset();
}

void BrokerSecurity::on_zap() {
  (void)zap_->handle();
  counters_.accepted = zap_->accepted();
}

void BrokerSecurity::on_monitor() {
  while (auto event = monitor_->next()) {
    using Kind = HandshakeEvent::Kind;
    // A refused key is counted by the ZAP handler, which knows the key and address.
    if (event->kind == Kind::succeeded || event->kind == Kind::auth) continue;
    const std::string cause = event->cause();
    if (cause == "mechanism_mismatch") {
      ++counters_.mechanism_mismatch;
    } else if (cause == "bad_key") {
      ++counters_.bad_key;
    } else if (cause == "closed") {
      ++counters_.closed;
    } else {
      ++counters_.protocol;
    }
    handshake_limiter_.warn("handshake refused cause={} value={} endpoint={} ({})", cause,
                            event->value, event->endpoint, server_side_reason(cause));
  }
}

std::string BrokerSecurity::sender_key(const zmq::message_t& frame) {
  return property(frame, "User-Id");
}

std::optional<Refusal> BrokerSecurity::check_register(
    const PeerInfo& info, const zmq::message_t& frame, const Membership& members,
    const std::function<bool(const Member&)>& live) {
  const std::string key = sender_key(frame);
  if (auto refusal = check_key(info, key)) {
    refused(refusal->reason, frame, /*by_acl=*/false);
    return refusal;
  }
  if (auto refusal = check_services(info, key, members, live)) {
    refused(refusal->reason, frame, /*by_acl=*/true);
    return refusal;
  }
  return std::nullopt;
}

std::optional<Refusal> BrokerSecurity::check_key(const PeerInfo& info,
                                                 const std::string& key) const {
  auto refuse = [](std::string reason) {
    return Refusal{WireError::not_allowed, std::move(reason)};
  };
  if (key.empty() || !trust_.trusts(key)) {
    return refuse("the connection's key " + short_key(key) +
                  " is not trusted (any more): it may not register");
  }
  if (!info.public_key.empty() && info.public_key != key) {
    return refuse("Register's public_key " + short_key(info.public_key) +
                  " is not the connection's authenticated key " + short_key(key));
  }
  if (const std::uint64_t bound = peer_id_for_key(key); info.id != bound) {
    return refuse("peer id " + id_to_hex(info.id) + " is not bound to key " + short_key(key) +
                  ": in a CURVE mesh a peer's id is the first 8 bytes of its public key (" +
                  id_to_hex(bound) + ")");
  }
  return std::nullopt;
}

std::optional<Refusal> BrokerSecurity::check_services(
    const PeerInfo& info, const std::string& key, const Membership& members,
    const std::function<bool(const Member&)>& live) const {
  if (acl_ && !acl_->allows_name(key, info.name)) {
    return Refusal{WireError::not_allowed, "key " + short_key(key) +
                                               " may not register the name '" + info.name + "'" +
                                               from_acl(acl_file_)};
  }
  for (const auto& service : info.services) {
    if (acl_) {
      // The ACL is authoritative: what it grants may be shared, nothing else is allowed.
      if (acl_->allows_service(key, service)) continue;
      return Refusal{WireError::not_allowed, "key " + short_key(key) +
                                                 " may not offer the service '" + service + "'" +
                                                 from_acl(acl_file_)};
    }
    for (const Member* holder : members.match("", service)) {
      if (holder->info.public_key == key || !live(*holder)) continue;
      return Refusal{WireError::not_allowed,
                     "service '" + service + "' is offered by live peer id " +
                         id_to_hex(holder->info.id) + " ('" + holder->info.name + "') of key " +
                         short_key(holder->info.public_key) + ", not by key " + short_key(key) +
                         "; an ACL file lets several keys share a service"};
    }
  }
  return std::nullopt;
}

std::optional<std::string> BrokerSecurity::check_claim(const char* kind, std::uint64_t claimed,
                                                       const zmq::message_t& frame) {
  const std::string key = sender_key(frame);
  std::string why;
  if (key.empty() || !trust_.trusts(key)) {
    why = std::string(kind) + " refused: the connection's key " + short_key(key) +
          " is not trusted (any more)";
  } else if (claimed != 0 && claimed != peer_id_for_key(key)) {
    why = std::string(kind) + " for peer id " + id_to_hex(claimed) + " refused: key " +
          short_key(key) + " is bound to peer id " + id_to_hex(peer_id_for_key(key));
  } else {
    return std::nullopt;
  }
  refused(why, frame, /*by_acl=*/false);
  return why;
}

void BrokerSecurity::refused(const std::string& reason, const zmq::message_t& frame, bool by_acl) {
  ++(by_acl ? counters_.acl_refused : counters_.claims_refused);
  message_limiter_.warn("refused key={} address={}: {}", short_key(sender_key(frame)),
                        property(frame, "Peer-Address"), reason);
}

void BrokerSecurity::reload() {
  // All or nothing: the ACL is parsed aside, and the trust store throws before it changes
  // anything. A failed reload never opens the door nor locks everyone out.
  std::optional<Acl> acl;
  try {
    if (!acl_file_.empty()) acl = Acl::load(acl_file_);
    trust_.reload();
  } catch (const std::exception& e) {
    ++counters_.reload_failures;
    spdlog::error("reload failed, the trusted keys and the ACL stay as they were: {}", e.what());
    return;
  }
  if (acl) acl_ = std::move(acl);
  ++counters_.reloads;
  for (const auto& skipped : trust_.skipped()) spdlog::warn("trust directory: skipped {}", skipped);
  spdlog::info("reloaded: trusted_keys={} acl_rules={}", trust_.size(),
               acl_ ? std::to_string(acl_->size()) : std::string("none"));
}

void BrokerSecurity::fill(BrokerStats& s) const {
  s.handshakes_accepted = counters_.accepted;
  s.handshakes_refused_untrusted_key = counters_.untrusted_key;
  s.handshakes_refused_mechanism_mismatch = counters_.mechanism_mismatch;
  s.handshakes_refused_bad_key = counters_.bad_key;
  s.handshakes_refused_closed = counters_.closed;
  s.handshakes_refused_protocol = counters_.protocol;
  s.key_claims_refused = counters_.claims_refused;
  s.acl_refused = counters_.acl_refused;
  s.reloads = counters_.reloads;
  s.reload_failures = counters_.reload_failures;
}

}  // namespace zmesh::detail
