// CURVE building blocks against real libzmq sockets over tcp loopback: the id bound to a
// key, the options' checks, and the ZAP handler and handshake monitor in each of the
// handshakes issue 12 names (trusted, untrusted, wrong server key, plaintext vs CURVE).
#include "zmesh/core/curve.hpp"

#include "temp_dir.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq_addon.hpp>

#include "zmesh/core/errors.hpp"
#include "zmesh/core/handshake_monitor.hpp"
#include "zmesh/core/keys.hpp"
#include "zmesh/core/socket_factory.hpp"
#include "zmesh/core/trust_store.hpp"
#include "zmesh/core/zap_handler.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;

CurveOptions keys_named(const std::string& name) {
  const Certificate c = generate_certificate(name);
  CurveOptions o;
  o.public_key = c.public_key;
  o.secret_key = c.secret_key;
  return o;
}

TEST(Curve, ThePeerIdIsBoundToThePublicKey) {
  const CurveOptions a = keys_named("a");
  const CurveOptions b = keys_named("b");
  EXPECT_NE(peer_id_for_key(a.public_key), 0U);
  EXPECT_EQ(peer_id_for_key(a.public_key), peer_id_for_key(a.public_key));
  EXPECT_NE(peer_id_for_key(a.public_key), peer_id_for_key(b.public_key));
  EXPECT_EQ(peer_id_for_key("not a key"), 0U);
  EXPECT_EQ(peer_id_for_key(""), 0U);
  // The rule of docs/security.md: the first 8 bytes, little-endian. Z85 "00000" decodes
  // to four zero bytes, so a key of all-zero Z85 digits has id 0 and is refused.
  EXPECT_EQ(peer_id_for_key(std::string(40, '0')), 0U);
}

TEST(Curve, AKeyFileIsReadEvenWhenItsPathLooksLikeAZ85Key) {
  // A path of exactly 40 characters, all of them in Z85's alphabet: it must be read as a
  // file (the zmesh tool once took such a --server-key path for a key).
  test::TempDir dir;  // "/tmp/zmesh-test-XXXXXX": 22 characters
  const std::string path = dir.file("abcdefghijklm.key");
  ASSERT_EQ(path.size(), 40U);
  ASSERT_TRUE(is_z85_key(path));
  const Certificate c = generate_certificate("looks-like-a-key");
  save_certificate(c, path);
  EXPECT_EQ(public_key_from(path, "--server-key"), c.public_key);
  EXPECT_EQ(public_key_from(c.public_key, "--server-key"), c.public_key);
  EXPECT_THROW((void)public_key_from("/nonexistent/and-not-a-key", "--server-key"), Error);
}

TEST(Curve, OptionsDeriveThePublicKeyAndRequireTrust) {
  CurveOptions o;
  o.validate("test");  // plaintext: nothing to check
  o.secret_key = keys_named("x").secret_key;
  o.trust_any = true;
  o.validate("test");
  EXPECT_EQ(o.public_key, public_key_of(o.secret_key));

  CurveOptions no_trust = keys_named("y");
  try {
    no_trust.validate("PeerOptions::curve");
    FAIL() << "no trusted key accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("no client is trusted"), std::string::npos) << e.what();
  }
  CurveOptions mismatched = keys_named("z");
  mismatched.public_key = keys_named("w").public_key;
  mismatched.trust_any = true;
  EXPECT_THROW(mismatched.validate("x"), Error);
  CurveOptions bad_trust = keys_named("v");
  bad_trust.trusted_keys = {"short"};
  EXPECT_THROW(bad_trust.validate("x"), Error);
}

/// A CURVE (or plaintext) ROUTER with its ZAP handler and monitor, and one DEALER client
/// with its monitor, all in one context, pumped by this thread.
struct Handshake {
  Handshake(const CurveOptions& server_keys, const CurveOptions& client_keys,
            const std::string& server_key_given, std::vector<std::string> trusted)
      : trust_options(server_keys) {
    trust_options.trusted_keys = std::move(trusted);
    trust.emplace(trust_options);
    if (server_keys.enabled()) {
      zap.emplace(ctx, *trust, [this](const std::string& key, const std::string&) {
        refused_keys.push_back(key);
      });
    }
    server = make_router(ctx, SocketTuning{});
    set_curve_server(server, server_keys);
    server_monitor.emplace(ctx, server);
    const std::string endpoint = bind_resolved(server, "tcp://127.0.0.1:*");
    client = make_dealer(ctx, SocketTuning{});
    set_curve_client(client, client_keys, server_key_given);
    client_monitor.emplace(ctx, client);
    client.connect(endpoint);
  }

  /// Pumps until the client's monitor reports how the handshake ended (or 5 s pass).
  std::optional<HandshakeEvent> client_outcome() {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      if (zap) zap->handle();
      while (auto e = server_monitor->next()) server_events.push_back(*e);
      if (auto e = client_monitor->next()) return e;
      std::vector<zmq::pollitem_t> items{{client_monitor->socket().handle(), 0, ZMQ_POLLIN, 0}};
      if (zap) items.push_back({zap->socket().handle(), 0, ZMQ_POLLIN, 0});
      zmq::poll(items, 20ms);
    }
    return std::nullopt;
  }

  zmq::context_t ctx{1};
  CurveOptions trust_options;
  std::optional<TrustStore> trust;
  std::optional<ZapHandler> zap;
  std::vector<std::string> refused_keys;
  zmq::socket_t server;
  zmq::socket_t client;
  std::optional<HandshakeMonitor> server_monitor;
  std::optional<HandshakeMonitor> client_monitor;
  std::vector<HandshakeEvent> server_events;
};

TEST(CurveHandshake, ATrustedClientIsServedAndNamedByItsKey) {
  const CurveOptions server = keys_named("server");
  const CurveOptions client = keys_named("client");
  Handshake h(server, client, server.public_key, {client.public_key});
  const auto outcome = h.client_outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->kind, HandshakeEvent::Kind::succeeded) << outcome->reason(true);

  h.client.send(zmq::str_buffer("hi"), zmq::send_flags::none);
  std::vector<zmq::message_t> got;
  zmq::pollitem_t item{h.server.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, 5s), 1);
  ASSERT_TRUE(zmq::recv_multipart(h.server, std::back_inserter(got)));
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[1].to_string(), "hi");
  EXPECT_EQ(std::string(got[1].gets("User-Id")), client.public_key);
  EXPECT_EQ(h.zap->accepted(), 1U);
  EXPECT_EQ(h.zap->refused(), 0U);
}

TEST(CurveHandshake, AnUntrustedClientIsToldItsKeyIsRefused) {
  const CurveOptions server = keys_named("server");
  const CurveOptions client = keys_named("client");
  Handshake h(server, client, server.public_key, {keys_named("other").public_key});
  const auto outcome = h.client_outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->kind, HandshakeEvent::Kind::auth);
  EXPECT_EQ(outcome->value, 400);
  EXPECT_STREQ(outcome->cause(), "untrusted_key");
  EXPECT_NE(outcome->reason(true).find("does not trust our key"), std::string::npos);
  ASSERT_FALSE(h.refused_keys.empty());
  EXPECT_EQ(h.refused_keys.front(), client.public_key);
}

TEST(CurveHandshake, AWrongServerKeyEndsTheHandshake) {
  const CurveOptions server = keys_named("server");
  const CurveOptions client = keys_named("client");
  Handshake h(server, client, keys_named("impostor").public_key, {client.public_key});
  const auto outcome = h.client_outcome();
  ASSERT_TRUE(outcome.has_value());
  // The server cannot open our HELLO and hangs up; the client sees the connection close.
  EXPECT_EQ(outcome->kind, HandshakeEvent::Kind::closed) << outcome->reason(true);
  EXPECT_NE(outcome->reason(true).find("wrong server key"), std::string::npos);
  EXPECT_EQ(h.zap->accepted(), 0U);
}

TEST(CurveHandshake, PlaintextClientMeetingACurveServerIsAMismatch) {
  const CurveOptions server = keys_named("server");
  Handshake h(server, CurveOptions{}, "", {});
  const auto outcome = h.client_outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->kind, HandshakeEvent::Kind::protocol);
  EXPECT_STREQ(outcome->cause(), "mechanism_mismatch");
  EXPECT_NE(outcome->reason(false).find("mechanism mismatch"), std::string::npos);
}

TEST(CurveHandshake, CurveClientMeetingAPlaintextServerIsAMismatch) {
  const CurveOptions server_keys = keys_named("server");
  const CurveOptions client = keys_named("client");
  Handshake h(CurveOptions{}, client, server_keys.public_key, {});
  const auto outcome = h.client_outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->kind, HandshakeEvent::Kind::protocol);
  EXPECT_STREQ(outcome->cause(), "mechanism_mismatch");
}

}  // namespace
}  // namespace zmesh
