// The connection registry over tcp loopback: one logical connection per peer, greetings,
// heartbeats, and what happens when peers vanish or restart.
#include <signal.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "peer_fixture.hpp"
#include "test_support.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;

template <class T>
errc error_of(zmesh::Future<T>& f) {
  try {
    f.get();
  } catch (const Error& e) {
    return e.kind();
  }
  return errc::ok;
}

// "READY <endpoint> <id>" from the echo_responder helper.
struct Ready {
  std::string endpoint;
  PeerId id = 0;
};
Ready parse_ready(const std::string& line) {
  std::istringstream in(line);
  std::string word, hex;
  Ready r;
  in >> word >> r.endpoint >> hex;
  r.id = id_from_hex(hex).value_or(0);
  return r;
}

TEST(Registry, ConcurrentConnectsCoalesceIntoOneConnection) {
  auto server = started(test_options("server"));
  auto client = started(test_options("client"));
  constexpr int kThreads = 50;
  std::vector<PeerId> ids(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { ids[static_cast<std::size_t>(i)] = client->connect(server->endpoint()).get(); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<PeerId>(ids.begin(), ids.end()), std::set<PeerId>{server->id()});
  const auto conns = client->connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].peer, server->id());
  EXPECT_TRUE(conns[0].outbound);
  EXPECT_EQ(server->connections().size(), 1u);
}

TEST(Registry, ConnectingToAPeerThatConnectedToUsReusesTheConnection) {
  auto a = started(test_options("a"));
  auto b = started(test_options("b"));
  const PeerId b_id = a->connect(b->endpoint()).get();
  ASSERT_TRUE(test::wait_until([&] { return b->connections().size() == 1; }));
  const PeerId a_id = b->connect(a->endpoint()).get();
  EXPECT_EQ(a_id, a->id());
  EXPECT_EQ(b_id, b->id());
  EXPECT_EQ(a->connections().size(), 1u);
  EXPECT_EQ(b->connections().size(), 1u);
  auto reg = a->on("Echo", [](const Message& m) { return std::string(m.text()); });
  EXPECT_EQ(b->request(a_id, "Echo", "both ways").get().payload, "both ways");
}

TEST(Registry, ConnectDisconnectCyclesReleaseDescriptors) {
  auto server = started(test_options("server"));
  auto client = started(test_options("client"));
  // Warm up: the first connection creates ZeroMQ's lasting internals.
  client->disconnect(client->connect(server->endpoint()).get());
  ASSERT_TRUE(test::wait_until([&] { return server->connections().empty(); }));
  const int baseline = test::open_fd_count();
  for (int i = 0; i < 200; ++i) {
    const PeerId id = client->connect(server->endpoint()).get();
    ASSERT_EQ(id, server->id());
    client->disconnect(id);
  }
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() <= baseline; }, 10s))
      << "open fds: " << test::open_fd_count() << ", baseline " << baseline;
  EXPECT_TRUE(test::wait_until([&] { return server->connections().empty(); }));
  EXPECT_TRUE(client->connections().empty());
}

TEST(Registry, ConnectingToOurselvesIsRejected) {
  auto peer = started(test_options("self"));
  auto direct = peer->connect(peer->endpoint());
  EXPECT_EQ(error_of(direct), errc::self_connect);
  // Another spelling of the same endpoint gets as far as the greeting: REJECT.
  const std::string port = peer->endpoint().substr(peer->endpoint().rfind(':') + 1);
  auto via_name = peer->connect("tcp://localhost:" + port);
  try {
    via_name.get();
    FAIL() << "self connect succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::self_connect);
    EXPECT_NE(std::string(e.what()).find("rejected the greeting"), std::string::npos) << e.what();
  }
}

TEST(Registry, DuplicatePeerIdIsRejectedWithItsReason) {
  auto server = started(test_options("server"));
  auto o1 = test_options("first");
  o1.id = 0xd0d0;
  auto o2 = test_options("second");
  o2.id = 0xd0d0;
  auto first = started(o1);
  auto second = started(o2);
  EXPECT_EQ(first->connect(server->endpoint()).get(), server->id());
  auto f = second->connect(server->endpoint());
  try {
    f.get();
    FAIL() << "duplicate id accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::duplicate_id);
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
}

TEST(Registry, HeartbeatsMeasureRoundTripTime) {
  auto server = started(test_options("server"));
  auto client = started(test_options("client"));
  (void)client->connect(server->endpoint()).get();
  EXPECT_TRUE(test::wait_until([&] {
    auto c = client->connections();
    return c.size() == 1 && c[0].last_rtt.count() > 0;
  }));
  EXPECT_TRUE(test::wait_until([&] {
    auto c = server->connections();
    return c.size() == 1 && c[0].last_rtt.count() > 0;
  }));
}

TEST(Registry, KilledResponderFailsEveryPendingRequestAndOthersKeepWorking) {
  test::ChildProcess child(test::helper_path("echo_responder"), {"--workers", "1"});
  const Ready ready = parse_ready(child.read_line());
  ASSERT_NE(ready.id, 0u) << "helper did not start";
  auto other = started(test_options("other"));
  auto reg = other->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto client = started(test_options("client"));
  const PeerId victim = client->connect(ready.endpoint).get();
  const PeerId healthy = client->connect(other->endpoint()).get();
  ASSERT_EQ(victim, ready.id);

  std::vector<zmesh::Future<Response>> pending;
  pending.reserve(1000);
  for (int i = 0; i < 1000; ++i) pending.push_back(client->request(victim, "Slow", "50", 60s));
  // Every request has reached the engine (a few may be answered already).
  ASSERT_TRUE(test::wait_until([&] {
    const auto s = client->stats();
    return s.pending + s.replies_received == 1000;
  }));
  const auto answered_before_kill = client->stats().replies_received;
  child.signal(SIGKILL);
  ASSERT_NE(child.wait(), -1);

  int gone = 0;
  int other_errors = 0;
  for (auto& f : pending) {
    // Each future completes within the heartbeat timeout (2 s) plus a tick; the
    // generous bound only keeps a broken build from hanging.
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    const errc e = error_of(f);
    if (e == errc::peer_gone) {
      ++gone;
    } else if (e != errc::ok) {
      ++other_errors;
    }
  }
  EXPECT_EQ(other_errors, 0);
  EXPECT_GE(static_cast<std::uint64_t>(gone), 1000 - answered_before_kill - 2);
  EXPECT_GE(gone, 900);
  EXPECT_EQ(client->request(healthy, "Echo", "fine").get().payload, "fine");
  auto after = client->request(victim, "Echo", "", 1s);
  EXPECT_EQ(error_of(after), errc::peer_gone);
}

TEST(Registry, RestartedResponderReplacesItsEntry) {
  auto client = started(test_options("client"));
  std::string endpoint;
  PeerId first_id = 0;
  {
    test::ChildProcess first(test::helper_path("echo_responder"), {"--id", "00000000000abcde"});
    const Ready r = parse_ready(first.read_line());
    ASSERT_FALSE(r.endpoint.empty());
    endpoint = r.endpoint;
    first_id = client->connect(endpoint).get();
    EXPECT_EQ(client->request(first_id, "Echo", "one").get().payload, "one");
    first.signal(SIGKILL);
    ASSERT_NE(first.wait(), -1);
  }
  // Same id and endpoint, new process (new session). Our DEALER reconnects by itself;
  // the new process does not know us, says so, and we greet again.
  test::ChildProcess second(test::helper_path("echo_responder"),
                            {"--id", "00000000000abcde", "--bind", endpoint});
  ASSERT_FALSE(parse_ready(second.read_line()).endpoint.empty());
  bool answered = false;
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto f = client->request(first_id, "Echo", "two", 300ms);
        try {
          answered = f.get().payload == "two";
        } catch (const Error&) {
        }
        return answered;
      },
      10s));
  const auto conns = client->connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].peer, first_id);
}

}  // namespace
}  // namespace zmesh
