// Peers with several zmesh-broker processes (issue 11): losing brokers is invisible while
// one remains, restarted brokers catch up, a dead endpoint in the list is harmless, and
// lookup-only peers use the brokers without being listed. Lookups issued before any
// broker is up wait for one.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "broker_process.hpp"
#include "peer_fixture.hpp"
#include "test_support.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::BrokerProcess;
using test::started;
using test::test_options;

constexpr int kTtlMs = 3000;
constexpr int kRenewMs = 300;

PeerOptions member_options(const std::string& name, const std::vector<std::string>& brokers,
                           std::vector<std::string> services = {}) {
  auto o = test_options(name, 2);
  o.brokers = brokers;
  o.services = std::move(services);
  return o;
}

std::vector<std::string> endpoints_of(const std::vector<std::unique_ptr<BrokerProcess>>& bs) {
  std::vector<std::string> out;
  out.reserve(bs.size());
  for (const auto& b : bs) out.push_back(b->endpoint());
  return out;
}

/// The names a broker lists (every page), asked directly.
std::set<std::string> listed_by(const BrokerProcess& broker) {
  test::BrokerClient c(broker.endpoint(), "probe");
  std::set<std::string> names;
  const auto list = c.lookup("", "", 1s);
  if (list.kind != Kind::peer_list) return names;
  for (const auto& r : list.as<PeerList>().peers) names.insert(r.peer.name);
  return names;
}

std::set<std::string> member_names(const Peer& p) {
  std::set<std::string> names;
  for (const auto& m : p.members()) names.insert(m.name);
  return names;
}

TEST(Brokers, LosingTwoOfThreeIsInvisibleAndRestartedOnesCatchUp) {
  std::vector<std::unique_ptr<BrokerProcess>> brokers;
  brokers.reserve(3);
  for (int i = 0; i < 3; ++i) brokers.push_back(std::make_unique<BrokerProcess>(kTtlMs, kRenewMs));
  const auto eps = endpoints_of(brokers);

  std::vector<std::unique_ptr<Peer>> peers;
  std::vector<Registration> regs;
  std::set<std::string> names;
  for (int i = 0; i < 6; ++i) {
    std::string name = "member-" + std::to_string(i);
    names.insert(name);
    peers.push_back(started(member_options(name, eps, {"echo"})));
    regs.push_back(peers.back()->on("Who", [name](const Message&) { return name; }));
  }
  // A lookup-only client: it asks, it is not asked about.
  auto client_options = member_options("client", eps);
  client_options.register_with_brokers = false;
  client_options.membership_refresh = 500ms;
  auto client = started(client_options);

  for (const auto& b : brokers) {
    ASSERT_TRUE(test::wait_until([&] { return listed_by(*b) == names; }, 10s))
        << b->endpoint() << " never listed all six";
  }
  ASSERT_TRUE(test::wait_until([&] { return member_names(*client) == names; }, 10s));
  for (auto& p : peers) ASSERT_TRUE(test::wait_until([&] { return p->members().size() == 5u; }));

  // Lookups (by service and by name) and service requests run all along.
  std::atomic<bool> done{false};
  std::atomic<int> lookups{0};
  std::atomic<int> requests{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::thread load([&] {
    for (int i = 0; !done.load(); ++i) {
      try {
        const auto found = client->lookup("", "echo", 3s).get();
        if (found.size() != 6u) {
          std::lock_guard lock(mu);
          failures.push_back("lookup by service found " + std::to_string(found.size()));
        }
        const std::string name = "member-" + std::to_string(i % 6);
        if (client->lookup(name, "", 3s).get().size() != 1u) {
          std::lock_guard lock(mu);
          failures.push_back("lookup of " + name + " found nothing");
        }
        ++lookups;
        (void)client->request_service("echo", "Who", "", 3s).get();
        ++requests;
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.emplace_back(e.what());
      }
      std::this_thread::sleep_for(10ms);
    }
  });

  std::this_thread::sleep_for(500ms);
  brokers[0]->kill();
  std::this_thread::sleep_for(2s);
  brokers[1]->kill();
  // Longer than a TTL: the dead brokers' views are forgotten, the last one's is whole.
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(member_names(*client), names);
  for (auto& p : peers) EXPECT_EQ(p->members().size(), 5u) << p->name();
  EXPECT_TRUE(peers[0]->registered());

  ASSERT_TRUE(brokers[0]->start());
  ASSERT_TRUE(brokers[1]->start());
  const auto t0 = std::chrono::steady_clock::now();  // both answer lookups from here
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(test::wait_until([&] { return listed_by(*brokers[i]) == names; }, 10s))
        << brokers[i]->endpoint() << " did not catch up";
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::cout << "[ figures  ] restarted brokers listed all 6 peers " << took.count()
            << " ms after they answered again (renew interval " << kRenewMs << " ms)\n";
  std::this_thread::sleep_for(500ms);
  done.store(true);
  load.join();
  std::cout << "[ figures  ] " << lookups.load() << " lookup rounds and " << requests.load()
            << " service requests while two of three brokers died\n";
  EXPECT_GT(lookups.load(), 10);
  EXPECT_GT(requests.load(), 10);
  std::lock_guard lock(mu);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  EXPECT_FALSE(listed_by(*brokers[2]).count("client")) << "a lookup-only client was listed";
}

TEST(Brokers, ADeadEndpointInTheListDoesNotStopAPeer) {
  BrokerProcess live(kTtlMs, kRenewMs);
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(test::free_port());
  auto server = started(member_options("server", {dead, live.endpoint()}, {"svc"}));
  auto reg = server->on("Ask", [](const Message&) { return std::string("answer"); });
  auto o = member_options("asker", {});
  o.broker = dead + "," + live.endpoint();  // the comma-separated form
  auto asker = started(o);

  ASSERT_TRUE(test::wait_until([&] { return server->registered() && asker->registered(); }, 10s));
  ASSERT_TRUE(test::wait_until([&] { return asker->members().size() == 1u; }, 10s));
  EXPECT_EQ(asker->lookup("server", "", 3s).get().size(), 1u);
  const PeerId id = asker->connect_by_name("server").get();
  EXPECT_EQ(id, server->id());
  EXPECT_EQ(asker->request(id, "Ask", "").get().payload, "answer");
  EXPECT_EQ(asker->request_service("svc", "Ask", "", 3s).get().payload, "answer");
}

TEST(Brokers, LookupOnlyPeersAreNotListedAndStillKeepAView) {
  BrokerProcess broker(kTtlMs, kRenewMs);
  auto server = started(member_options("server", {broker.endpoint()}, {"svc"}));
  // Registered first, so that the looker's first listing holds it.
  ASSERT_TRUE(test::wait_until([&] { return server->registered(); }, 10s));
  auto o = member_options("looker", {broker.endpoint()});
  o.register_with_brokers = false;
  o.membership_refresh = 200ms;
  auto looker = started(o);

  ASSERT_TRUE(test::wait_until([&] { return looker->membership_listed(); }, 10s));
  EXPECT_FALSE(looker->registered());
  EXPECT_EQ(member_names(*looker), std::set<std::string>{"server"});
  EXPECT_EQ(looker->lookup("", "svc", 3s).get().size(), 1u);
  EXPECT_EQ(listed_by(broker), std::set<std::string>{"server"});
  EXPECT_EQ(looker->connect_by_name("server").get(), server->id());

  // The view follows the membership by listing again: a later member appears.
  auto later = started(member_options("later", {broker.endpoint()}));
  EXPECT_TRUE(test::wait_until(
      [&] {
        return member_names(*looker) == std::set<std::string>{"server", "later"};
      },
      10s));
  later.reset();  // says BYE to the broker
  EXPECT_TRUE(test::wait_until(
      [&] { return member_names(*looker) == std::set<std::string>{"server"}; }, 10s));
}

TEST(Brokers, LookupsIssuedBeforeAnyBrokerIsUpWaitForOne) {
  const int port = test::free_port();
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  auto o = member_options("early", {endpoint});
  o.register_with_brokers = false;
  o.connect_timeout = 8s;  // connect_by_name's deadline
  auto early = started(o);
  auto lookup = early->lookup("", "", 8s);
  auto by_name = early->connect_by_name("late-server");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(lookup.wait_for(0ms), std::future_status::timeout) << "answered without a broker";

  BrokerProcess broker(BrokerProcess::AtPort{port}, kTtlMs, kRenewMs);
  auto server = started(member_options("late-server", {endpoint}));
  ASSERT_TRUE(test::wait_until([&] { return server->registered(); }, 10s));
  ASSERT_EQ(lookup.wait_for(10s), std::future_status::ready);
  EXPECT_NO_THROW((void)lookup.get());
  ASSERT_EQ(by_name.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(by_name.get(), server->id());
}

}  // namespace
}  // namespace zmesh
