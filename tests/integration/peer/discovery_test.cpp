// Peers with a real zmesh-broker process: registration, the membership view, lookups,
// connect by name, service requests and failover, publishers found through the broker,
// and a broker restart.
#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_client.hpp"
#include "peer_fixture.hpp"
#include "test_support.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;

// A port nobody listens on right now (bind, read, close).
std::string free_endpoint() {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.set(zmq::sockopt::linger, 0);
  s.bind("tcp://127.0.0.1:*");
  return s.get(zmq::sockopt::last_endpoint);
}

// The zmesh-broker executable as a child process, on a fixed endpoint.
class BrokerProcess {
 public:
  /// `extra`: more flags (e.g. {"--page-records", "2"}).
  explicit BrokerProcess(std::string endpoint, std::vector<std::string> extra = {},
                         std::string ttl_ms = "1500", std::string renew_ms = "300")
      : endpoint_(std::move(endpoint)),
        extra_(std::move(extra)),
        ttl_ms_(std::move(ttl_ms)),
        renew_ms_(std::move(renew_ms)) {
    start();
  }
  void start() {
    std::vector<std::string> args{"--bind",     endpoint_, "--ttl-ms",    ttl_ms_,
                                  "--renew-ms", renew_ms_, "--log-level", "warn"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    process_ = std::make_unique<test::ChildProcess>(ZMESH_BROKER_BIN, args);
  }
  void kill() {
    process_->signal(SIGKILL);
    (void)process_->wait();
    process_.reset();
  }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_;
  std::vector<std::string> extra_;
  std::string ttl_ms_;
  std::string renew_ms_;
  std::unique_ptr<test::ChildProcess> process_;
};

PeerOptions with_broker(const std::string& name, const BrokerProcess& broker,
                        std::vector<std::string> services = {}) {
  auto o = test_options(name, 2);
  o.broker = broker.endpoint();
  o.services = std::move(services);
  return o;
}

bool sees(Peer& p, std::size_t n) {
  return test::wait_until([&] { return p.members().size() == n; }, 10s);
}

TEST(Discovery, PeersRegisterLookUpAndConnectByName) {
  BrokerProcess broker(free_endpoint());
  auto pricing = started(with_broker("pricing", broker, {"quotes"}));
  auto risk = started(with_broker("risk", broker, {"limits", "quotes"}));
  auto client = started(with_broker("client", broker));
  ASSERT_TRUE(sees(*client, 2));
  EXPECT_TRUE(client->registered());

  auto quotes = client->lookup("", "quotes").get();
  std::set<std::string> names;
  for (const auto& m : quotes) names.insert(m.name);
  EXPECT_EQ(names, (std::set<std::string>{"pricing", "risk"}));
  auto by_name = client->lookup("risk").get();
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0].id, risk->id());
  EXPECT_EQ(by_name[0].endpoints, std::vector<std::string>{risk->endpoint()});

  auto reg = pricing->on("Echo", [](const Message& m) { return std::string(m.text()); });
  const PeerId id = client->connect_by_name("pricing").get();
  EXPECT_EQ(id, pricing->id());
  EXPECT_EQ(client->connect(pricing->endpoint()).get(), id);  // still one connection
  EXPECT_EQ(client->connections().size(), 1u);
  EXPECT_EQ(client->request(id, "Echo", "by name").get().payload, "by name");
  auto nobody = client->connect_by_name("nobody");
  EXPECT_THROW(nobody.get(), Error);

  risk->stop();  // leaves with BYE: the others hear it at once
  EXPECT_TRUE(sees(*client, 1));
}

TEST(Discovery, ListingsOfSeveralPagesArriveWhole) {
  BrokerProcess broker(free_endpoint(), {"--page-records", "2"});
  auto a = started(with_broker("a", broker, {"svc"}));
  auto b = started(with_broker("b", broker, {"svc"}));
  auto c = started(with_broker("c", broker, {"svc"}));
  auto client = started(with_broker("client", broker));
  ASSERT_TRUE(sees(*client, 3));  // the listing after registering: two pages

  std::set<std::string> all;
  for (const auto& m : client->lookup("", "").get()) all.insert(m.name);
  EXPECT_EQ(all, (std::set<std::string>{"a", "b", "c", "client"}));
  std::set<std::string> svc;
  for (const auto& m : client->lookup("", "svc").get()) svc.insert(m.name);
  EXPECT_EQ(svc, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(client->connect_by_name("c").get(), c->id());
}

TEST(Discovery, SubscriberFollowsAPublisherThatJoinsLater) {
  BrokerProcess broker(free_endpoint());
  auto sub = started(with_broker("sub", broker));
  std::promise<std::string> got;
  auto reg =
      sub->subscribe("weather/", [&](const Message& m) { got.set_value(std::string(m.text())); });
  ASSERT_TRUE(test::wait_until([&] { return sub->registered(); }));
  auto pub = started(with_broker("pub", broker));
  ASSERT_TRUE(sees(*sub, 1));
  sub->sync_subscriptions(5s).get();
  pub->publish("weather/paris", "Forecast", "sunny");
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), "sunny");
}

TEST(Discovery, ServiceRequestsSpreadAndMoveOnWhenAPeerDies) {
  BrokerProcess broker(free_endpoint());
  std::vector<std::unique_ptr<test::ChildProcess>> responders;
  for (int i = 0; i < 3; ++i) {
    responders.push_back(std::make_unique<test::ChildProcess>(
        test::helper_path("echo_responder"),
        std::vector<std::string>{"--broker", broker.endpoint(), "--service", "echo", "--name",
                                 "responder-" + std::to_string(i)}));
    ASSERT_EQ(responders.back()->read_line().rfind("READY ", 0), 0u);
  }
  auto client = started(with_broker("client", broker));
  ASSERT_TRUE(sees(*client, 3));

  std::map<std::string, int> served;
  for (int i = 0; i < 30; ++i)
    served[client->request_service("echo", "Who", "", 5s).get().payload]++;
  EXPECT_EQ(served.size(), 3u);  // round-robin reached all three
  for (const auto& [who, n] : served) EXPECT_EQ(n, 10) << who;

  responders[0]->signal(SIGKILL);
  ASSERT_NE(responders[0]->wait(), -1);
  // Requests in flight or sent before anyone noticed move on to the others; none hangs.
  std::vector<zmesh::Future<Response>> fs;
  fs.reserve(30);
  for (int i = 0; i < 30; ++i) fs.push_back(client->request_service("echo", "Slow", "10", 10s));
  std::set<std::string> after;
  for (auto& f : fs) {
    ASSERT_EQ(f.wait_for(15s), std::future_status::ready);
    EXPECT_EQ(f.get().payload, "10");
  }
  for (int i = 0; i < 10; ++i)
    after.insert(client->request_service("echo", "Who", "", 5s).get().payload);
  EXPECT_EQ(after.size(), 2u);  // the dead one is no longer chosen
}

TEST(Discovery, BrokerRestartIsInvisibleAfterAMoment) {
  BrokerProcess broker(free_endpoint());
  auto a = started(with_broker("a", broker, {"svc"}));
  auto b = started(with_broker("b", broker));
  ASSERT_TRUE(sees(*b, 1));
  broker.kill();
  broker.start();  // a new process, a new epoch, an empty registry
  const auto t0 = std::chrono::steady_clock::now();
  bool back = false;
  while (!back && std::chrono::steady_clock::now() - t0 < 10s) {
    try {
      back = b->lookup("", "svc", 500ms).get().size() == 1;
    } catch (const Error&) {
    }
    if (!back) std::this_thread::sleep_for(50ms);
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::cout << "[ figures  ] lookups answered again " << took.count()
            << " ms after the broker restart\n";
  EXPECT_TRUE(back);
  EXPECT_TRUE(test::wait_until([&] { return a->registered() && b->registered(); }));
  EXPECT_TRUE(sees(*b, 1));
}

// protocol.md 5.7: names are not unique; a request by name reaches the reachable peer of
// that name that registered first.
TEST(Discovery, ASecondPeerWithATakenNameIsRefusedBacksOffAndSaysWhy) {
  // The holder is live while heard from within two renew intervals: 2 s here, whatever
  // the load (sanitizer builds).
  BrokerProcess broker(free_endpoint(), {}, "5000", "1000");
  auto first = started(with_broker("twin", broker));
  ASSERT_TRUE(test::wait_until([&] { return first->registered(); }, 10s));
  auto second = started(with_broker("twin", broker));
  ASSERT_TRUE(test::wait_until([&] { return second->stats().registrations_refused > 0; }, 10s));
  EXPECT_FALSE(second->registered());
  const std::string why = second->registration_error();
  EXPECT_NE(why.find("duplicate_name"), std::string::npos) << why;
  EXPECT_NE(why.find("'twin'"), std::string::npos) << why;

  // It tries again once per renew interval (1 s: it never got an Ack naming another),
  // not every 100 ms.
  const auto refused = second->stats().registrations_refused;
  std::this_thread::sleep_for(2s);
  EXPECT_LE(second->stats().registrations_refused - refused, 5u);
  EXPECT_FALSE(second->registered());

  // A name resolves to its one holder, for a newcomer (listing) and for a peer that
  // heard the Join.
  auto client = started(with_broker("client", broker));
  auto f = client->connect_by_name("twin");
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), first->id());

  // Once the holder leaves, the second takes the name at its next attempt.
  first->stop();
  ASSERT_TRUE(test::wait_until([&] { return second->registered(); }, 10s));
  EXPECT_EQ(second->registration_error(), "");
}

errc failure_of(zmesh::Future<PeerId>& f, std::string& text) {
  if (f.wait_for(15s) != std::future_status::ready) return errc::ok;
  try {
    f.get();
  } catch (const Error& e) {
    text = e.what();
    return static_cast<errc>(e.code().value());
  }
  return errc::ok;
}

// "No such name", "known but unreachable" and "the broker does not answer" are three
// different failures, each saying which.
TEST(Discovery, NameResolutionFailuresSayWhich) {
  BrokerProcess broker(free_endpoint());
  auto client = started(with_broker("client", broker));
  ASSERT_TRUE(test::wait_until([&] { return client->registered(); }, 10s));
  std::this_thread::sleep_for(1600ms);  // past the broker's warm-up (its TTL, 1500 ms)

  std::string text;
  auto unknown = client->connect_by_name("nobody");
  EXPECT_EQ(failure_of(unknown, text), errc::unknown_peer) << text;
  EXPECT_NE(text.find("no peer named 'nobody' is registered"), std::string::npos) << text;

  test::BrokerClient ghost(broker.endpoint(), "ghost");
  ghost.info().endpoints.clear();  // registered, but nowhere to connect to
  ASSERT_EQ(ghost.register_peer().kind, Kind::register_ack);
  auto unreachable = client->connect_by_name("ghost");
  EXPECT_EQ(failure_of(unreachable, text), errc::peer_unreachable) << text;
  EXPECT_NE(text.find("none can be reached"), std::string::npos) << text;

  auto o = test_options("lonely");
  o.broker = free_endpoint();  // nobody listens there
  o.connect_timeout = 500ms;
  auto lonely = started(o);
  auto silent = lonely->connect_by_name("anyone");
  EXPECT_EQ(failure_of(silent, text), errc::timeout) << text;
  EXPECT_NE(text.find("did not answer the lookup"), std::string::npos) << text;
}

// Right after a broker restart its registry fills as the peers renew: a name asked for
// then is looked up again after the warm-up instead of being reported unknown.
TEST(Discovery, ByNameAcrossABrokerRestartWaitsForTheRegistryToFill) {
  BrokerProcess broker(free_endpoint());
  auto target = started(with_broker("target", broker));
  auto o = with_broker("client", broker);
  auto client = started(o);
  ASSERT_TRUE(sees(*client, 1));
  broker.kill();
  broker.start();
  auto fresh_options = with_broker("fresh", broker);
  auto fresh = started(fresh_options);  // knows nobody: must ask the new broker
  auto f = fresh->connect_by_name("target");
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), target->id());
}

}  // namespace
}  // namespace zmesh
