// The broker in a CURVE mesh (issue 12; docs/security.md, "The broker"): who may connect,
// what a key may claim, which names and services it may hold, and the reload. Played
// with raw CURVE DEALERs (tests/support/broker_client.hpp) against the real zmesh-broker
// process, or against a Broker in this process where a test reads its counters.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "broker_process.hpp"
#include "temp_dir.hpp"
#include "test_support.hpp"
#include "zmesh/broker/broker.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/handshake_monitor.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/keys.hpp"
#include "zmesh/core/socket_factory.hpp"

extern char** environ;

namespace zmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::BrokerClient;
using test::BrokerMessage;
using test::TempDir;
using test::wait_until;
using Stream = test::ChildProcess::Stream;

/// A key pair as CurveOptions (no trust: a client's).
struct Keys {
  std::string name;
  CurveOptions curve;
  [[nodiscard]] const std::string& public_key() const { return curve.public_key; }
  [[nodiscard]] PeerId id() const { return peer_id_for_key(curve.public_key); }
};

Keys make_keys(const std::string& name) {
  const Certificate c = generate_certificate(name);
  Keys k{name, {}};
  k.curve.public_key = c.public_key;
  k.curve.secret_key = c.secret_key;
  return k;
}

/// The first handshake event of a fresh DEALER (CURVE with `own` when it has keys,
/// plaintext otherwise) connecting to `endpoint`; nullopt when none came within 5 s.
std::optional<HandshakeEvent> first_handshake(const std::string& endpoint, const CurveOptions& own,
                                              const std::string& server_key) {
  zmq::context_t ctx(1);
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  if (own.enabled()) set_curve_client(dealer, own, server_key);
  HandshakeMonitor monitor(ctx, dealer);
  dealer.connect(endpoint);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{monitor.socket().handle(), 0, ZMQ_POLLIN, 0};
    (void)zmq::poll(&item, 1, 100ms);
    if (auto e = monitor.next()) return e;
  }
  return std::nullopt;
}

/// A zmesh-broker process with its own keys, trusting the public certificates put in
/// its trust directory (a "probe" key always), serving once constructed.
class CurveBroker {
 public:
  /// `trusted`: the clients whose certificates go in the trust directory. `acl`: the
  /// ACL file's text ("" = no ACL file). `capture_stderr`: keep its log for
  /// process().read_all(Stream::err) (read it: a full pipe would block the broker).
  explicit CurveBroker(const std::vector<const Keys*>& trusted, const std::string& acl = "",
                       bool capture_stderr = false)
      : keys_(make_keys("broker")), probe_(make_keys("probe")), capture_stderr_(capture_stderr) {
    fs::create_directory(dir_.path() / "trust");
    Certificate own{keys_.curve.public_key, keys_.curve.secret_key, {{"name", "broker"}}};
    save_certificate(own, key_file());
    trust(probe_);
    for (const Keys* k : trusted) trust(*k);
    if (!acl.empty()) acl_file_ = dir_.write("acl", acl);
    for (int attempt = 0; attempt < 5; ++attempt) {  // someone may take the port meanwhile
      port_ = test::free_port();
      if (start()) return;
    }
    throw std::runtime_error("zmesh-broker did not start");
  }

  /// Puts `k`'s public certificate in the trust directory (takes effect at start or reload).
  void trust(const Keys& k) {
    save_certificate(Certificate{k.curve.public_key, k.curve.secret_key, {{"name", k.name}}},
                     (dir_.path() / (k.name + ".key")).string());
    fs::copy_file(dir_.path() / (k.name + ".key"), dir_.path() / "trust" / (k.name + ".key"));
  }
  /// Takes `k`'s certificate out of the trust directory (takes effect at reload).
  void distrust(const Keys& k) { fs::remove(dir_.path() / "trust" / (k.name + ".key")); }
  /// Rewrites the ACL file (takes effect at reload).
  void write_acl(const std::string& text) { (void)dir_.write("acl", text); }
  /// SIGHUP: reload the trust directory and the ACL.
  void hangup() { process_->signal(SIGHUP); }

  /// A client of ours with `k`'s keys, connected.
  [[nodiscard]] std::unique_ptr<BrokerClient> client(const Keys& k, const std::string& name,
                                                     std::vector<std::string> services = {}) const {
    auto c = std::make_unique<BrokerClient>(name, std::move(services));
    c->use_curve(k.curve, public_key());
    c->connect(endpoint());
    return c;
  }
  [[nodiscard]] std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const std::string& public_key() const { return keys_.curve.public_key; }
  [[nodiscard]] std::string key_file() const { return (dir_.path() / "broker.key").string(); }
  test::ChildProcess& process() { return *process_; }

 private:
  bool start() {
    std::vector<std::string> args{"--bind",      endpoint(),
                                  "--key",       key_file() + "_secret",
                                  "--trust",     (dir_.path() / "trust").string(),
                                  "--ttl-ms",    "10000",
                                  "--renew-ms",  "2000",
                                  "--log-level", "warn"};
    if (!acl_file_.empty()) {
      args.emplace_back("--acl");
      args.push_back(acl_file_);
    }
    process_ = std::make_unique<test::ChildProcess>(
        ZMESH_BROKER_BIN, args, test::ChildOptions{std::nullopt, capture_stderr_});
    auto probe = client(probe_, "probe");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe->lookup("", "", 100ms).kind == Kind::peer_list) {
        std::this_thread::sleep_for(200ms);  // still ours, not another test's broker?
        return process_->wait(0ms) == -1;
      }
      if (process_->wait(0ms) != -1) return false;
    }
    return false;
  }

  TempDir dir_;
  Keys keys_;
  Keys probe_;
  std::string acl_file_;
  bool capture_stderr_;
  int port_ = 0;
  std::unique_ptr<test::ChildProcess> process_;
};

/// A Broker in this process with CURVE on, trusting `trusted` (for its counters).
struct LocalBroker {
  explicit LocalBroker(const std::vector<std::string>& trusted) : keys(make_keys("broker")) {
    BrokerOptions o;
    o.bind = "tcp://127.0.0.1:*";
    o.curve = keys.curve;
    o.curve.trusted_keys = trusted;
    broker.emplace(o);
    broker->start();
  }
  Keys keys;
  std::optional<Broker> broker;
};

std::string reason_of(const BrokerMessage& m) {
  if (m.kind == Kind::reject) return m.as<Reject>().reason;
  if (m.kind == Kind::error) return m.as<ErrorReply>().text;
  return std::string("(a '") + std::string(kind_name(m.kind)) + "')";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ------------------------------------------------------------------ who may connect

TEST(BrokerSecurity, UntrustedKeyIsRefusedAndCountedTrustedOneServed) {
  const Keys alice = make_keys("alice");
  const Keys mallory = make_keys("mallory");
  LocalBroker b({alice.public_key()});
  const std::string ep = b.broker->endpoint();

  const auto refused = first_handshake(ep, mallory.curve, b.keys.public_key());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->kind, HandshakeEvent::Kind::auth) << refused->reason(true);
  EXPECT_EQ(refused->value, 400);
  EXPECT_TRUE(wait_until([&] { return b.broker->stats().handshakes_refused_untrusted_key >= 1; }));

  BrokerClient a("alice");
  a.use_curve(alice.curve, b.keys.public_key());
  a.connect(ep);
  const BrokerMessage ack = a.register_peer();
  ASSERT_EQ(ack.kind, Kind::register_ack) << reason_of(ack);
  EXPECT_EQ(a.lookup().kind, Kind::peer_list);
  // The counters are copied at the end of each loop turn, perhaps after our answer left.
  EXPECT_TRUE(wait_until([&] {
    const BrokerStats s = b.broker->stats();
    return s.handshakes_accepted >= 1 && s.registered == 1;
  }));
}

TEST(BrokerSecurity, PlaintextClientMeetingACurveBrokerIsAMismatchAndCounted) {
  LocalBroker b({make_keys("someone").public_key()});
  const auto outcome = first_handshake(b.broker->endpoint(), CurveOptions{}, "");
  ASSERT_TRUE(outcome.has_value());
  // Whoever reads the other's greeting first names the mismatch and hangs up; the other
  // sees the connection close mid-handshake.
  const std::string cause = outcome->cause();
  EXPECT_TRUE(cause == "mechanism_mismatch" || cause == "closed") << outcome->reason(false);
  EXPECT_TRUE(wait_until([&] {
    const BrokerStats s = b.broker->stats();
    return s.handshakes_refused_mechanism_mismatch + s.handshakes_refused_closed >= 1;
  }));
  EXPECT_EQ(b.broker->stats().handshakes_accepted, 0U);
}

TEST(BrokerSecurity, AWrongServerKeyIsCountedAsABadKey) {
  const Keys alice = make_keys("alice");
  LocalBroker b({alice.public_key()});
  const auto outcome =
      first_handshake(b.broker->endpoint(), alice.curve, make_keys("impostor").public_key());
  ASSERT_TRUE(outcome.has_value());
  EXPECT_NE(outcome->kind, HandshakeEvent::Kind::succeeded);
  EXPECT_TRUE(wait_until([&] { return b.broker->stats().handshakes_refused_bad_key >= 1; }));
  EXPECT_EQ(b.broker->stats().handshakes_accepted, 0U);
}

TEST(BrokerSecurity, RemovedKeyIsRefusedAfterSighupAndOthersGoOn) {
  const Keys alice = make_keys("alice");
  const Keys bob = make_keys("bob");
  CurveBroker broker({&alice, &bob});
  auto a = broker.client(alice, "alice");
  auto b = broker.client(bob, "bob");
  ASSERT_EQ(a->register_peer().kind, Kind::register_ack);
  ASSERT_EQ(b->register_peer().kind, Kind::register_ack);

  broker.distrust(bob);
  broker.hangup();
  // The reload is done by the broker thread within a tick: until then bob may still get in.
  std::optional<HandshakeEvent> last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = first_handshake(broker.endpoint(), bob.curve, broker.public_key());
        return last && last->kind == HandshakeEvent::Kind::auth;
      },
      10s));
  EXPECT_EQ(last->value, 400);
  // alice's connection goes on as before.
  EXPECT_EQ(a->renew().kind, Kind::register_ack);
  const PeerList listed = a->peers("alice");
  ASSERT_EQ(listed.peers.size(), 1U);
  EXPECT_EQ(listed.peers[0].peer.public_key, alice.public_key());
  // bob's open connection is heard no more: its Renew is refused, so its entry expires.
  const BrokerMessage renew = b->renew();
  ASSERT_EQ(renew.kind, Kind::error);
  EXPECT_EQ(renew.as<ErrorReply>().code, WireError::not_allowed);
  EXPECT_TRUE(contains(reason_of(renew), "not trusted")) << reason_of(renew);
  // A fresh connection of alice's key is still let in.
  const auto again = first_handshake(broker.endpoint(), alice.curve, broker.public_key());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->kind, HandshakeEvent::Kind::succeeded) << again->reason(true);
}

TEST(BrokerSecurity, RefusalsAreLoggedWithTheKeyAndTheAddress) {
  const Keys alice = make_keys("alice");
  const Keys mallory = make_keys("mallory");
  CurveBroker broker({&alice}, "", /*capture_stderr=*/true);
  const auto refused = first_handshake(broker.endpoint(), mallory.curve, broker.public_key());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->kind, HandshakeEvent::Kind::auth);
  auto a = broker.client(alice, "alice");
  a->info().id ^= 1;
  ASSERT_EQ(a->register_peer().kind, Kind::reject);
  broker.process().signal(SIGTERM);
  const std::string log = broker.process().read_all(Stream::err, 10s);
  EXPECT_TRUE(contains(log, "handshake refused cause=untrusted_key key=" +
                                short_key(mallory.public_key()) + " address=127.0.0.1"))
      << log;
  EXPECT_TRUE(
      contains(log, "refused key=" + short_key(alice.public_key()) + " address=127.0.0.1: peer id"))
      << log;
  EXPECT_FALSE(contains(log, mallory.curve.secret_key));
}

// ------------------------------------------------------------------ what a key may claim

TEST(BrokerSecurity, RegisterWithAnIdNotBoundToTheKeyIsRejectedNotAllowed) {
  const Keys alice = make_keys("alice");
  CurveBroker broker({&alice});
  auto a = broker.client(alice, "alice");
  a->info().id = random_id();
  const BrokerMessage m = a->register_peer();
  ASSERT_EQ(m.kind, Kind::reject);
  EXPECT_EQ(m.as<Reject>().code, WireError::not_allowed);
  const std::string why = reason_of(m);
  EXPECT_TRUE(contains(why, id_to_hex(a->info().id))) << why;
  EXPECT_TRUE(contains(why, short_key(alice.public_key()))) << why;
  EXPECT_TRUE(contains(why, id_to_hex(alice.id()))) << why;

  // A public_key that is not the connection's: refused, naming both keys.
  const Keys other = make_keys("other");
  a->info().id = alice.id();
  a->info().public_key = other.public_key();
  const BrokerMessage k = a->register_peer();
  ASSERT_EQ(k.kind, Kind::reject);
  EXPECT_EQ(k.as<Reject>().code, WireError::not_allowed);
  EXPECT_TRUE(contains(reason_of(k), short_key(other.public_key()))) << reason_of(k);
  EXPECT_TRUE(contains(reason_of(k), short_key(alice.public_key()))) << reason_of(k);

  // Bound as the rule says: accepted.
  a->info().public_key = "";  // the broker fills it in
  EXPECT_EQ(a->register_peer().kind, Kind::register_ack);
  const PeerList listed = a->peers("alice");
  ASSERT_EQ(listed.peers.size(), 1U);
  EXPECT_EQ(listed.peers[0].peer.public_key, alice.public_key());
}

TEST(BrokerSecurity, RenewAndByeClaimingAnotherKeysIdAreRefused) {
  const Keys alice = make_keys("alice");
  const Keys mallory = make_keys("mallory");
  CurveBroker broker({&alice, &mallory});
  auto a = broker.client(alice, "alice");
  ASSERT_EQ(a->register_peer().kind, Kind::register_ack);
  auto m = broker.client(mallory, "mallory");

  const BrokerMessage renew =
      m->wait_answer(m->send_new(Kind::renew, zmq::message_t(), alice.id(), a->info().session), 5s);
  ASSERT_EQ(renew.kind, Kind::error);
  EXPECT_EQ(renew.as<ErrorReply>().code, WireError::not_allowed);
  EXPECT_TRUE(contains(reason_of(renew), id_to_hex(alice.id()))) << reason_of(renew);

  m->send(Kind::bye, 0, zmq::message_t(), alice.id(), a->info().session);
  // The Bye is ignored: alice stays, and nobody hears her leave.
  EXPECT_FALSE(a->next_event(500ms).has_value());
  const PeerList listed = m->peers("alice");
  ASSERT_EQ(listed.peers.size(), 1U);
  EXPECT_EQ(listed.peers[0].peer.public_key, alice.public_key());
}

// ------------------------------------------------------------------ names and services

TEST(BrokerSecurity, SecondKeyCannotTakeALiveNameAndTheHolderStaysListed) {
  const Keys alice = make_keys("alice");
  const Keys mallory = make_keys("mallory");
  CurveBroker broker({&alice, &mallory});
  auto a = broker.client(alice, "pricing");
  ASSERT_EQ(a->register_peer().kind, Kind::register_ack);
  auto m = broker.client(mallory, "pricing");
  const BrokerMessage taken = m->register_peer();
  ASSERT_EQ(taken.kind, Kind::reject);
  EXPECT_EQ(taken.as<Reject>().code, WireError::duplicate_name);
  EXPECT_TRUE(contains(reason_of(taken), "pricing")) << reason_of(taken);
  const PeerList listed = m->peers("pricing");
  ASSERT_EQ(listed.peers.size(), 1U);
  EXPECT_EQ(listed.peers[0].peer.id, alice.id());
  EXPECT_EQ(listed.peers[0].peer.public_key, alice.public_key());
}

TEST(BrokerSecurity, ServiceHeldByAnotherKeyIsNotAllowedWithoutAnAcl) {
  const Keys alice = make_keys("alice");
  const Keys bob = make_keys("bob");
  CurveBroker broker({&alice, &bob});
  auto a = broker.client(alice, "alice", {"quotes"});
  ASSERT_EQ(a->register_peer().kind, Kind::register_ack);
  auto b = broker.client(bob, "bob", {"quotes"});
  const BrokerMessage m = b->register_peer();
  ASSERT_EQ(m.kind, Kind::reject);
  EXPECT_EQ(m.as<Reject>().code, WireError::not_allowed);
  EXPECT_TRUE(contains(reason_of(m), "'quotes'")) << reason_of(m);
  EXPECT_TRUE(contains(reason_of(m), short_key(alice.public_key()))) << reason_of(m);
  // Services nobody else holds are bob's to offer.
  b->info().services = {"news"};
  EXPECT_EQ(b->register_peer().kind, Kind::register_ack);
  EXPECT_EQ(b->peers("", "quotes").peers.size(), 1U);
}

TEST(BrokerSecurity, AclGrantsSharedServicesAndRefusesWhatItDoesNotGrant) {
  const Keys alice = make_keys("alice");
  const Keys bob = make_keys("bob");
  const std::string acl = "# who may register what\n" + alice.public_key() +
                          " name:alice-* service:quotes\n" + bob.public_key() +
                          "  name:bob service:quotes service:news  # bob shares quotes\n";
  CurveBroker broker({&alice, &bob}, acl);
  auto a = broker.client(alice, "alice-1", {"quotes"});
  ASSERT_EQ(a->register_peer().kind, Kind::register_ack);
  auto b = broker.client(bob, "bob", {"quotes", "news"});
  const BrokerMessage shared = b->register_peer();
  ASSERT_EQ(shared.kind, Kind::register_ack) << reason_of(shared);
  EXPECT_EQ(a->peers("", "quotes").peers.size(), 2U);

  b->info().name = "alice-2";  // a name granted to another key
  const BrokerMessage name = b->register_peer();
  ASSERT_EQ(name.kind, Kind::reject);
  EXPECT_EQ(name.as<Reject>().code, WireError::not_allowed);
  EXPECT_TRUE(contains(reason_of(name), "'alice-2'")) << reason_of(name);
  EXPECT_TRUE(contains(reason_of(name), "ACL")) << reason_of(name);

  b->info().name = "bob";
  b->info().services = {"admin"};  // not granted
  const BrokerMessage service = b->register_peer();
  ASSERT_EQ(service.kind, Kind::reject);
  EXPECT_EQ(service.as<Reject>().code, WireError::not_allowed);
  EXPECT_TRUE(contains(reason_of(service), "'admin'")) << reason_of(service);
}

TEST(BrokerSecurity, AclIsReloadedOnSighupAndABrokenOneKeepsTheOld) {
  const Keys bob = make_keys("bob");
  CurveBroker broker({&bob}, bob.public_key() + " name:bob\n");
  auto b = broker.client(bob, "bob", {"news"});
  ASSERT_EQ(b->register_peer().kind, Kind::reject);  // news is not granted yet

  broker.write_acl(bob.public_key() + " name:bob service:n*\n");
  broker.hangup();
  ASSERT_TRUE(wait_until([&] { return b->register_peer().kind == Kind::register_ack; }, 10s));

  // A broken ACL: the reload fails and the ACL read before stays.
  broker.write_acl(bob.public_key() + " name:bob\nthis is not a rule\n");
  broker.hangup();
  std::this_thread::sleep_for(300ms);  // several ticks: the failed reload had its chance
  b->info().services = {"news", "nightly"};
  EXPECT_EQ(b->register_peer().kind, Kind::register_ack);
}

// ------------------------------------------------------------------ what records carry

TEST(BrokerSecurity, PeerListAndEventRecordsCarryThePublicKey) {
  const Keys alice = make_keys("alice");
  const Keys bob = make_keys("bob");
  CurveBroker broker({&alice, &bob});
  auto b = broker.client(bob, "bob");
  ASSERT_EQ(b->register_peer().kind, Kind::register_ack);
  auto a = broker.client(alice, "alice", {"quotes"});
  a->info().public_key = "";  // given or not, the record carries the authenticated key
  ASSERT_EQ(a->register_peer().kind, Kind::register_ack);

  const auto joined = b->next_event();
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->type, EventType::join);
  EXPECT_EQ(joined->peer.id, alice.id());
  EXPECT_EQ(joined->peer.public_key, alice.public_key());
  const PeerList all = b->peers();
  ASSERT_EQ(all.peers.size(), 2U);
  for (const auto& r : all.peers) {
    EXPECT_EQ(r.peer.public_key, r.peer.id == alice.id() ? alice.public_key() : bob.public_key());
  }
}

TEST(BrokerSecurity, ReloadApiAndRefusalCountersInProcess) {
  TempDir dir;
  const Keys alice = make_keys("alice");
  const Keys bob = make_keys("bob");
  const fs::path trust = dir.path() / "trust";
  fs::create_directory(trust);
  for (const Keys* k : {&alice, &bob}) {
    save_certificate(Certificate{k->curve.public_key, k->curve.secret_key, {}},
                     (dir.path() / (k->name + ".key")).string());
    fs::copy_file(dir.path() / (k->name + ".key"), trust / (k->name + ".key"));
  }
  const Keys keys = make_keys("broker");
  BrokerOptions o;
  o.bind = "tcp://127.0.0.1:*";
  o.curve = keys.curve;
  o.curve.trust_dir = trust.string();
  Broker broker(o);
  broker.start();

  BrokerClient a("alice", std::vector<std::string>{"quotes"});
  a.use_curve(alice.curve, keys.public_key());
  a.connect(broker.endpoint());
  ASSERT_EQ(a.register_peer().kind, Kind::register_ack);
  BrokerClient b("bob", std::vector<std::string>{"quotes"});
  b.use_curve(bob.curve, keys.public_key());
  b.connect(broker.endpoint());
  EXPECT_EQ(b.register_peer().kind, Kind::reject);  // alice's service
  b.info().id ^= 1;
  b.info().services.clear();
  EXPECT_EQ(b.register_peer().kind, Kind::reject);  // not bob's id
  EXPECT_TRUE(wait_until([&] {
    const BrokerStats s = broker.stats();
    return s.acl_refused == 1 && s.key_claims_refused == 1;
  }));

  // A reload that cannot read the directory changes nothing.
  fs::rename(trust, dir.path() / "moved");
  broker.reload();
  ASSERT_TRUE(wait_until([&] { return broker.stats().reload_failures == 1; }));
  EXPECT_EQ(broker.stats().reloads, 0U);
  const auto still = first_handshake(broker.endpoint(), bob.curve, keys.public_key());
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->kind, HandshakeEvent::Kind::succeeded) << still->reason(true);

  // One that reads it without bob's certificate shuts bob out.
  fs::rename(dir.path() / "moved", trust);
  fs::remove(trust / "bob.key");
  broker.reload();
  ASSERT_TRUE(wait_until([&] { return broker.stats().reloads == 1; }));
  const auto refused = first_handshake(broker.endpoint(), bob.curve, keys.public_key());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->kind, HandshakeEvent::Kind::auth);
  EXPECT_EQ(a.renew().kind, Kind::register_ack);
}

// ------------------------------------------------------------------ configuration

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// zmesh-broker with `args` and exactly the ZMESH_BROKER_* variables of `env`, to its end.
Outcome run_broker(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("ZMESH_BROKER_", 0) != 0) environment.emplace_back(*e);
  }
  environment.insert(environment.end(), env.begin(), env.end());
  test::ChildProcess child(ZMESH_BROKER_BIN, args, {environment, /*capture_stderr=*/true});
  Outcome r;
  r.out = child.read_all(Stream::out, 10s);
  r.err = child.read_all(Stream::err, 10s);
  const int status = child.wait(10s);
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

TEST(BrokerSecurity, AclParseErrorsNameTheFileAndLine) {
  TempDir dir;
  const Keys broker = make_keys("broker");
  const std::string acl =
      dir.write("acl", "# ok\n* name:x-*\n\n" + broker.public_key() + " name:a nmae:b\n");
  const Outcome r = run_broker({"--check-config", "--secret-key", broker.curve.secret_key,
                                "--trust-key", make_keys("c").public_key(), "--acl", acl});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // every setting involved came from a flag
  EXPECT_TRUE(contains(r.err, "line 4")) << r.err;
  EXPECT_TRUE(contains(r.err, "nmae:b")) << r.err;
  EXPECT_TRUE(contains(r.err, acl)) << r.err;
}

TEST(BrokerSecurity, KeysTrustAndAclComeFromTheEnvironment) {
  TempDir dir;
  const Keys broker = make_keys("broker");
  const Keys c1 = make_keys("c1");
  const Keys c2 = make_keys("c2");
  fs::create_directory(dir.path() / "trust");
  const std::string acl = dir.write("acl", "* name:* service:*\n");
  const Outcome r = run_broker({"--check-config"},
                               {"ZMESH_BROKER_SECRET_KEY=" + broker.curve.secret_key,
                                "ZMESH_BROKER_TRUST=" + (dir.path() / "trust").string(),
                                "ZMESH_BROKER_TRUST_KEY=" + c1.public_key() + "," + c2.public_key(),
                                "ZMESH_BROKER_ACL=" + acl});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "# public key: " + broker.public_key())) << r.out;
  EXPECT_TRUE(contains(r.out, "trust-key = " + c1.public_key())) << r.out;
  EXPECT_TRUE(contains(r.out, "trust-key = " + c2.public_key())) << r.out;
  EXPECT_TRUE(contains(r.out, "acl = " + acl)) << r.out;
  EXPECT_FALSE(contains(r.out, broker.curve.secret_key)) << "the secret key is never printed";
}

TEST(BrokerSecurity, TrustOrAclWithoutAKeyIsRefused) {
  TempDir dir;
  const Outcome r = run_broker({"--check-config", "--trust", dir.path().string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "need CURVE")) << r.err;
  const Outcome e = run_broker({"--check-config"}, {"ZMESH_BROKER_ACL=" + dir.write("acl", "")});
  EXPECT_EQ(e.exit_code, 3) << e.err;
  const Outcome none =
      run_broker({"--check-config", "--secret-key", make_keys("b").curve.secret_key});
  EXPECT_EQ(none.exit_code, 2) << none.err;  // CURVE with no client trusted
  EXPECT_TRUE(contains(none.err, "trust")) << none.err;
}

}  // namespace
}  // namespace zmesh
