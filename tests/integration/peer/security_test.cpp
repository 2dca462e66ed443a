// CURVE between real peers over tcp loopback (issue 12, docs/security.md): what travels
// on the wire, who is let in, how a refused handshake is reported, and the identity rule.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.hpp"
#include "peer_fixture.hpp"
#include "raw_peer.hpp"
#include "tcp_relay.hpp"
#include "temp_dir.hpp"
#include "test_support.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A key pair, its certificate written in `dir` as NAME.key (public) and
/// NAME.key_secret.
struct Identity {
  Identity(const std::string& dir, const std::string& name) : cert(generate_certificate(name)) {
    if (!dir.empty()) save_certificate(cert, dir + "/" + name + ".key");
  }
  [[nodiscard]] CurveOptions keys() const {
    CurveOptions o;
    o.public_key = cert.public_key;
    o.secret_key = cert.secret_key;
    return o;
  }
  [[nodiscard]] const std::string& key() const { return cert.public_key; }
  Certificate cert;
};

using test::TempDir;

/// Options for a CURVE peer that trusts the public certificates in `trust_dir`.
PeerOptions curve_options(const std::string& name, const Identity& me,
                          const std::string& trust_dir) {
  PeerOptions o = test::test_options(name);
  o.curve = me.keys();
  o.curve.trust_dir = trust_dir;
  return o;
}

errc error_of(zmesh::Future<PeerId>& f) {
  try {
    f.get();
  } catch (const Error& e) {
    return e.kind();
  }
  return errc::ok;
}

std::string what_of(zmesh::Future<PeerId>& f) {
  try {
    f.get();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// --------------------------------------------------------------------------- the wire

/// A server answering Echo and publishing on "news", reached by a client only through
/// two relays (requests, broadcasts) that record the bytes. Returns what they saw.
std::string capture(bool curve) {
  TempDir trust;
  const Identity server_id(trust.str(), "server");
  const Identity client_id(trust.str(), "client");
  test::TcpRelay router_relay;
  test::TcpRelay pub_relay;
  PeerOptions so =
      curve ? curve_options("server", server_id, trust.str()) : test::test_options("server");
  // Announce the relays: the client reaches the server only through them.
  so.bind = "tcp://127.0.0.1:" + std::to_string(test::free_port());
  so.pub_bind = "tcp://127.0.0.1:" + std::to_string(test::free_port());
  so.advertise = router_relay.endpoint();
  so.pub_advertise = pub_relay.endpoint();
  router_relay.set_target(so.bind);
  pub_relay.set_target(so.pub_bind);
  auto server = test::started(so);
  auto handler = server->on("Echo", [](const Message& m) { return std::string(m.text()); });

  PeerOptions co =
      curve ? curve_options("client", client_id, trust.str()) : test::test_options("client");
  co.pub_bind.clear();
  auto client = test::started(co);
  std::atomic<int> broadcasts{0};
  auto sub = client->subscribe("news", [&](const Message& m) {
    if (m.text() == "BROADCAST-SECRET-5a5a") ++broadcasts;
  });
  const PeerId id = curve ? client->connect(router_relay.endpoint(), server_id.key()).get()
                          : client->connect(router_relay.endpoint()).get();
  EXPECT_EQ(client->request(id, "Echo", "REQUEST-SECRET-1234").get().payload,
            "REQUEST-SECRET-1234");
  // The server's PUB, announced in its greeting, is followed through the relay.
  EXPECT_TRUE(test::wait_until([&] {
    try {
      client->sync_subscriptions(1s).get();
      return !client->publishers().empty() || pub_relay.captured().size() > 0;
    } catch (const Error&) {
      return false;
    }
  }));
  EXPECT_TRUE(test::wait_until([&] {
    server->publish("news", "News", "BROADCAST-SECRET-5a5a");
    return broadcasts.load() > 0;
  }));
  client->stop();
  server->stop();
  return router_relay.captured() + pub_relay.captured();
}

TEST(Security, WithoutCurveThePayloadsTravelInClear) {
  const std::string seen = capture(false);
  EXPECT_NE(seen.find("REQUEST-SECRET-1234"), std::string::npos);
  EXPECT_NE(seen.find("BROADCAST-SECRET-5a5a"), std::string::npos);
}

TEST(Security, WithCurveNoPayloadAppearsOnTheWire) {
  const std::string seen = capture(true);
  ASSERT_GT(seen.size(), 1000U);  // the traffic did pass through the relays
  EXPECT_EQ(seen.find("REQUEST-SECRET-1234"), std::string::npos);
  EXPECT_EQ(seen.find("BROADCAST-SECRET-5a5a"), std::string::npos);
  EXPECT_EQ(seen.find("Echo"), std::string::npos);   // message types are inside too
  EXPECT_NE(seen.find("CURVE"), std::string::npos);  // the ZMTP greeting names the mechanism
}

// --------------------------------------------------------------------------- who gets in

TEST(Security, ATrustedClientIsServedAndHandlersSeeItsKey) {
  TempDir trust;
  const Identity server_id(trust.str(), "server");
  const Identity client_id(trust.str(), "client");
  auto server = test::started(curve_options("server", server_id, trust.str()));
  EXPECT_EQ(server->id(), peer_id_for_key(server_id.key()));
  auto handler = server->on("Who", [](const Message& m) {
    return std::string(m.sender_key()) + "/" + std::to_string(m.sender());
  });
  auto client = test::started(curve_options("client", client_id, trust.str()));
  const PeerId id = client->connect(server->endpoint(), server_id.key()).get();
  EXPECT_EQ(id, server->id());
  EXPECT_EQ(client->request(id, "Who", "").get().payload,
            client_id.key() + "/" + std::to_string(peer_id_for_key(client_id.key())));
}

TEST(Security, AnUntrustedClientIsRefusedWithAuthFailedAndCounted) {
  TempDir trust;
  TempDir other;
  const Identity server_id(trust.str(), "server");
  const Identity stranger(other.str(), "stranger");
  auto server = test::started(curve_options("server", server_id, trust.str()));
  PeerOptions o = curve_options("stranger", stranger, other.str());
  o.connect_timeout = 30s;  // a timeout would say peer_unreachable, and much later
  auto client = test::started(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto f = client->connect(server->endpoint(), server_id.key());
  const std::string what = what_of(f);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(what.find("does not trust our key"), std::string::npos) << what;
  EXPECT_NE(what.find(server->endpoint()), std::string::npos) << what;
  EXPECT_LT(took, 15s);  // well before the connect timeout
  auto again = client->connect(server->endpoint(), server_id.key());
  EXPECT_EQ(error_of(again), errc::auth_failed);
  EXPECT_TRUE(test::wait_until([&] { return server->stats().handshakes_untrusted >= 2; }));
  const auto counted = server->stats();
  EXPECT_EQ(counted.handshakes_untrusted, counted.handshakes_refused);
  EXPECT_GE(client->stats().auth_failures, 2U);
}

TEST(Security, AWrongServerKeyFailsWithAuthFailed) {
  TempDir trust;
  const Identity server_id(trust.str(), "server");
  const Identity client_id(trust.str(), "client");
  const Identity impostor("", "impostor");
  auto server = test::started(curve_options("server", server_id, trust.str()));
  PeerOptions o = curve_options("client", client_id, trust.str());
  o.connect_timeout = 30s;
  auto client = test::started(o);
  auto f = client->connect(server->endpoint(), impostor.key());
  const std::string what = what_of(f);
  EXPECT_NE(what.find("wrong server key"), std::string::npos) << what;
  auto g = client->connect(server->endpoint(), impostor.key());
  EXPECT_EQ(error_of(g), errc::auth_failed);
  EXPECT_TRUE(test::wait_until([&] { return server->stats().handshakes_bad_key >= 1; }));
}

TEST(Security, PlaintextMeetingCurveFailsWithAuthFailedBothWays) {
  TempDir trust;
  const Identity server_id(trust.str(), "server");
  const Identity client_id(trust.str(), "client");
  auto curve_server = test::started(curve_options("server", server_id, trust.str()));
  auto plain_server = test::started(test::test_options("plain-server"));
  PeerOptions po = test::test_options("plain-client");
  po.connect_timeout = 30s;
  auto plain_client = test::started(po);
  PeerOptions co = curve_options("client", client_id, trust.str());
  co.connect_timeout = 30s;
  auto curve_client = test::started(co);

  auto a = plain_client->connect(curve_server->endpoint());
  const std::string plain_what = what_of(a);
  EXPECT_TRUE(plain_what.find("we speak plaintext, the other side CURVE") != std::string::npos ||
              plain_what.find("it may speak CURVE") != std::string::npos)
      << plain_what;
  auto b = curve_client->connect(plain_server->endpoint(), server_id.key());
  const std::string curve_what = what_of(b);
  // Which side notices first is a race: the mismatch itself, or the other side hanging up.
  EXPECT_TRUE(curve_what.find("we speak CURVE, the other side plaintext") != std::string::npos ||
              curve_what.find("or the server is not CURVE") != std::string::npos)
      << curve_what;
  auto c = plain_client->connect(curve_server->endpoint());
  EXPECT_EQ(error_of(c), errc::auth_failed);
  EXPECT_TRUE(test::wait_until([&] { return curve_server->stats().handshakes_refused >= 1; }));
}

TEST(Security, AKeyRemovedFromTheTrustDirectoryIsRefusedAfterReloadOthersGoOn) {
  TempDir trust;
  const Identity server_id(trust.str(), "server");
  const Identity alice(trust.str(), "alice");
  const Identity bob(trust.str(), "bob");
  auto server = test::started(curve_options("server", server_id, trust.str()));
  auto handler = server->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto a = test::started(curve_options("alice", alice, trust.str()));
  auto b = test::started(curve_options("bob", bob, trust.str()));
  const PeerId to_server = a->connect(server->endpoint(), server_id.key()).get();
  ASSERT_EQ(b->connect(server->endpoint(), server_id.key()).get(), to_server);

  fs::remove(trust.str() + "/bob.key");
  EXPECT_EQ(server->reload_trust(), 2U);  // server and alice

  // Bob again, from a new process with the same key: refused now.
  PeerOptions o = curve_options("bob-again", bob, trust.str());
  o.connect_timeout = 30s;
  b->stop();
  auto b2 = test::started(o);
  auto f = b2->connect(server->endpoint(), server_id.key());
  EXPECT_EQ(error_of(f), errc::auth_failed);
  // Alice, connected before, is served as before.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(a->request(to_server, "Echo", "hi" + std::to_string(i)).get().payload,
              "hi" + std::to_string(i));
  }
}

TEST(Security, ReloadWithoutCurveIsAnError) {
  auto plain = test::started(test::test_options("plain"));
  EXPECT_THROW((void)plain->reload_trust(), Error);
}

// --------------------------------------------------------------------------- identity

TEST(Security, AHelloClaimingAnotherKeysPeerIdIsRejected) {
  TempDir trust;
  const Identity server_id(trust.str(), "server");
  const Identity mallory(trust.str(), "mallory");  // trusted, but claims alice's id
  const Identity alice("", "alice");
  auto server = test::started(curve_options("server", server_id, trust.str()));
  test::RawPeer raw("mallory");
  raw.set_curve(mallory.keys(), server_id.key());
  raw.connect(server->endpoint());
  const auto answer = raw.greet(peer_id_for_key(alice.key()), 42);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer.kind, Kind::reject);
  EXPECT_EQ(answer.error_code(), WireError::not_allowed);
  EXPECT_EQ(server->stats().identity_refused, 1U);
  // Its own id is welcome.
  test::RawPeer honest("mallory");
  honest.set_curve(mallory.keys(), server_id.key());
  honest.connect(server->endpoint());
  const auto ok = honest.greet(peer_id_for_key(mallory.key()), 43);
  EXPECT_EQ(ok.kind, Kind::welcome);
}

TEST(Security, OptionsRefuseAnIdThatIsNotTheKeys) {
  TempDir trust;
  const Identity me(trust.str(), "me");
  PeerOptions o = curve_options("me", me, trust.str());
  o.id = 12345;
  EXPECT_THROW(Peer{o}, Error);
  o.id = peer_id_for_key(me.key());
  EXPECT_NO_THROW(Peer{o});
  PeerOptions no_trust = test::test_options("x");
  no_trust.curve = me.keys();
  EXPECT_THROW(Peer{no_trust}, Error);
}

// --------------------------------------------------------------------------- broadcasts

TEST(Security, AnUntrustedSubscriberReceivesNothing) {
  TempDir trust;
  TempDir other;
  const Identity pub_id(trust.str(), "publisher");
  const Identity friend_id(trust.str(), "friend");
  const Identity stranger(other.str(), "stranger");
  auto publisher = test::started(curve_options("publisher", pub_id, trust.str()));

  auto friendly = test::started(curve_options("friend", friend_id, trust.str()));
  std::atomic<int> friend_got{0};
  auto fs1 = friendly->subscribe("t", [&](const Message&) { ++friend_got; });
  friendly->subscribe_to(publisher->pub_endpoint(), pub_id.key());
  friendly->sync_subscriptions(5s).get();

  auto outsider = test::started(curve_options("stranger", stranger, other.str()));
  std::atomic<int> stranger_got{0};
  auto fs2 = outsider->subscribe("t", [&](const Message&) { ++stranger_got; });
  outsider->subscribe_to(publisher->pub_endpoint(), pub_id.key());
  try {
    outsider->sync_subscriptions(5s).get();
    ADD_FAILURE() << "the sync of a refused subscriber succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::auth_failed) << e.what();
  }
  for (int i = 0; i < 100; ++i) publisher->publish("t", "T", "x");
  EXPECT_TRUE(test::wait_until([&] { return friend_got.load() == 100; }));
  EXPECT_EQ(stranger_got.load(), 0);
  // Counted when the publisher's engine reads its XPUB's handshake events (each tick).
  EXPECT_TRUE(test::wait_until([&] { return publisher->stats().handshakes_untrusted >= 1; }));
}

// --------------------------------------------------------------------------- the log

/// Records a Peer's log (PeerOptions::log); the sink runs on the engine thread.
struct LogRecorder {
  LogSink sink() {
    return [this](const LogRecord& r) {
      std::lock_guard lock(mu);
      lines.push_back(std::string(r.event) + ": " + std::string(r.message));
    };
  }
  [[nodiscard]] std::vector<std::string> taken() {
    std::lock_guard lock(mu);
    return lines;
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

TEST(Security, RefusedHandshakesAreLoggedWithTheKeyOncePerSecond) {
  TempDir trust;
  TempDir other;
  const Identity server_id(trust.str(), "server");
  const Identity stranger(other.str(), "stranger");
  LogRecorder log;
  PeerOptions so = curve_options("server", server_id, trust.str());
  so.log = log.sink();
  auto server = test::started(so);
  PeerOptions co = curve_options("stranger", stranger, other.str());
  co.connect_timeout = 30s;
  auto client = test::started(co);
  for (int i = 0; i < 5; ++i) {
    auto f = client->connect(server->endpoint(), server_id.key());
    EXPECT_EQ(error_of(f), errc::auth_failed);
  }
  ASSERT_TRUE(test::wait_until([&] { return !log.taken().empty(); }));
  const auto lines = log.taken();
  // The first refusal names the key; the four that follow within the second are held back.
  EXPECT_NE(lines.front().find("handshake_refused: handshake refused: client key " +
                               stranger.key() + " is not trusted (address 127.0.0.1)"),
            std::string::npos)
      << lines.front();
  std::size_t refused = 0;
  for (const auto& l : lines) refused += l.rfind("handshake_refused:", 0) == 0 ? 1 : 0;
  EXPECT_EQ(refused, 1U);
  // The server counts on its own thread: its count may trail the client's failure.
  EXPECT_TRUE(test::wait_until([&] { return server->stats().handshakes_untrusted >= 5; }))
      << server->stats().handshakes_untrusted;
}

// --------------------------------------------------------------------------- the broker

/// A zmesh-broker process with a key pair, trusting `trust_dir`, on a free port.
struct CurveBroker {
  CurveBroker(const std::string& key_dir, const std::string& trust_dir)
      : endpoint("tcp://127.0.0.1:" + std::to_string(test::free_port())),
        process(ZMESH_BROKER_BIN,
                {"--bind", endpoint, "--key", key_dir + "/broker.key_secret", "--trust", trust_dir,
                 "--renew-ms", "500", "--log-level", "warn"}) {}
  std::string endpoint;
  test::ChildProcess process;
};

PeerOptions brokered(const std::string& name, const Identity& me, const std::string& trust_dir,
                     const CurveBroker& broker, const std::string& broker_key) {
  PeerOptions o = curve_options(name, me, trust_dir);
  o.broker = broker.endpoint;
  o.broker_key = broker_key;
  return o;
}

TEST(Security, PeersMeetThroughACurveBrokerAndANameCannotBeTakenByAnotherKey) {
  TempDir keys;
  TempDir trust;
  const Identity broker_id(keys.str(), "broker");
  const Identity server_id(trust.str(), "server");
  const Identity client_id(trust.str(), "client");
  const Identity mallory_id(trust.str(), "mallory");  // trusted, but not the holder of "pricing"
  CurveBroker broker(keys.str(), trust.str());

  PeerOptions so = brokered("pricing", server_id, trust.str(), broker, broker_id.key());
  auto server = test::started(so);
  auto handler = server->on("Who", [](const Message& m) { return std::string(m.sender_key()); });
  ASSERT_TRUE(test::wait_until([&] { return server->registered(); }));

  auto client = test::started(brokered("client", client_id, trust.str(), broker, broker_id.key()));
  // Found by name: the broker's record carries the server's key, which the client uses.
  const PeerId id = client->connect_by_name("pricing").get();
  EXPECT_EQ(id, server->id());
  EXPECT_EQ(client->request(id, "Who", "").get().payload, client_id.key());
  const auto found = client->lookup("pricing", "", 5s).get();
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found.front().public_key, server_id.key());

  // Another key asks for the same name: refused, and says why; the holder keeps it.
  auto mallory =
      test::started(brokered("pricing", mallory_id, trust.str(), broker, broker_id.key()));
  ASSERT_TRUE(test::wait_until([&] { return !mallory->registration_error().empty(); }));
  EXPECT_NE(mallory->registration_error().find("pricing"), std::string::npos)
      << mallory->registration_error();
  EXPECT_FALSE(mallory->registered());
  const auto again = client->lookup("pricing", "", 5s).get();
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again.front().id, server->id());
  EXPECT_EQ(client->request(id, "Who", "").get().payload, client_id.key());
}

TEST(Security, AWrongBrokerKeyFailsLookupsWithAuthFailed) {
  TempDir keys;
  TempDir trust;
  const Identity broker_id(keys.str(), "broker");
  const Identity client_id(trust.str(), "client");
  const Identity impostor("", "impostor");
  CurveBroker broker(keys.str(), trust.str());
  auto client = test::started(brokered("client", client_id, trust.str(), broker, impostor.key()));
  try {
    (void)client->lookup("anyone", "", 20s).get();
    ADD_FAILURE() << "a lookup through a broker of another key succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::auth_failed) << e.what();
    EXPECT_NE(std::string(e.what()).find(broker.endpoint), std::string::npos) << e.what();
  }
  EXPECT_NE(client->registration_error().find("handshake"), std::string::npos);
}

}  // namespace
}  // namespace zmesh
