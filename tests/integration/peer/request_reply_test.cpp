// Request/response over tcp loopback between real Peers.
#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "peer_fixture.hpp"
#include "test_support.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;

errc error_of(zmesh::Future<Response>& f) {
  try {
    f.get();
  } catch (const Error& e) {
    return e.kind();
  }
  return errc::ok;
}

std::string message_of(zmesh::Future<Response>& f) {
  try {
    f.get();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

TEST(RequestReply, EchoRoundTrip) {
  auto server = started(test_options("server"));
  auto reg = server->on("Echo", [](const Message& m) { return "echo:" + std::string(m.text()); });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  EXPECT_EQ(id, server->id());
  Response r = client->request(id, "Echo", "hello").get();
  EXPECT_EQ(r.payload, "echo:hello");
  EXPECT_EQ(r.from, server->id());
  EXPECT_EQ(client->stats().replies_received, 1u);
}

TEST(RequestReply, CallbackFormRunsOnAWorker) {
  auto server = started(test_options("server"));
  auto reg = server->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  std::promise<std::pair<std::error_code, std::string>> got;
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> other_thread{false};
  client->request(id, "Echo", "cb", 2s, [&](std::error_code ec, const Response& r) {
    other_thread = std::this_thread::get_id() != caller;
    got.set_value({ec, r.payload});
  });
  auto [ec, payload] = got.get_future().get();
  EXPECT_FALSE(ec);
  EXPECT_EQ(payload, "cb");
  EXPECT_TRUE(other_thread.load());
}

TEST(RequestReply, ManyThreadsManyRequestsInFlightAllMatch) {
  // 8 requester threads x 10,000 requests in flight; the handler sleeps 0-2 ms. Each
  // thread uses its own Peer (so the responder handles them in parallel: one sender's
  // requests are handled in order, on one worker).
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10'000;
  auto opts = test_options("server", kThreads);
  auto server = started(opts);
  std::atomic<int> handled{0};
  auto reg = server->on("Echo", [&](const Message& m) {
    thread_local std::mt19937 rng(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    ++handled;
    return std::string(m.text());
  });

  std::vector<std::unique_ptr<Peer>> clients;
  // Ids chosen so that the 8 senders land on 8 different workers (the responder maps a
  // sender to a worker by a hash of its id): the test then takes ~10 s, not ~30.
  std::set<std::size_t> used;
  for (std::uint64_t candidate = 1; clients.size() < kThreads; ++candidate) {
    std::uint64_t z = candidate + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    if (!used.insert((z ^ (z >> 31)) % kThreads).second) continue;
    auto o = test_options("client-" + std::to_string(clients.size()));
    o.id = candidate;
    clients.push_back(started(o));
  }
  std::atomic<int> mismatches{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Peer& c = *clients[static_cast<std::size_t>(t)];
      const PeerId id = c.connect(server->endpoint()).get();
      std::vector<zmesh::Future<Response>> futures;
      futures.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        futures.push_back(c.request(id, "Echo", std::to_string(t) + ":" + std::to_string(i), 60s));
      }
      for (int i = 0; i < kPerThread; ++i) {
        try {
          auto r = futures[static_cast<std::size_t>(i)].get();
          if (r.payload != std::to_string(t) + ":" + std::to_string(i)) ++mismatches;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(handled.load(), kThreads * kPerThread);  // none lost, none duplicated
  for (auto& c : clients) {
    EXPECT_EQ(c->stats().replies_received, static_cast<std::uint64_t>(kPerThread));
    EXPECT_EQ(c->stats().pending, 0u);
  }
}

TEST(RequestErrors, TimeoutThenLateReplyIsCountedAndDropped) {
  auto server = started(test_options("server"));
  auto reg = server->on("Slow", [](const Message&) {
    std::this_thread::sleep_for(300ms);
    return std::string("late");
  });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  auto f = client->request(id, "Slow", "", 50ms);
  EXPECT_EQ(error_of(f), errc::timeout);
  EXPECT_TRUE(test::wait_until([&] { return client->stats().late_replies == 1; }));
  EXPECT_EQ(client->stats().timeouts, 1u);
}

TEST(RequestErrors, NoHandlerIsAnErrorReplyNotATimeout) {
  auto server = started(test_options("server"));
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  auto f = client->request(id, "Nobody", "", 5s);
  const std::string what = message_of(f);
  EXPECT_NE(what.find("no handler for 'Nobody'"), std::string::npos) << what;
  auto g = client->request(id, "Nobody", "", 5s);
  EXPECT_EQ(error_of(g), errc::no_handler);
  EXPECT_EQ(client->stats().timeouts, 0u);
  EXPECT_EQ(server->stats().no_handler, 2u);
}

TEST(RequestErrors, HandlerExceptionTravelsBackAndTheWorkerSurvives) {
  auto server = started(test_options("server", 1));
  auto bad =
      server->on("Bad", [](const Message&) -> std::string { throw std::runtime_error("boom 42"); });
  auto ok = server->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  auto f = client->request(id, "Bad", "");
  const std::string what = message_of(f);
  EXPECT_NE(what.find("boom 42"), std::string::npos) << what;
  auto g = client->request(id, "Bad", "");
  EXPECT_EQ(error_of(g), errc::remote_error);
  EXPECT_EQ(client->request(id, "Echo", "still alive").get().payload, "still alive");
  EXPECT_EQ(server->stats().handler_errors, 2u);
}

TEST(RequestErrors, ExpiredRequestIsSkippedByTheResponder) {
  auto server = started(test_options("server", 1));
  std::atomic<int> fast_calls{0};
  auto slow = server->on("Slow", [](const Message&) {
    std::this_thread::sleep_for(300ms);
    return std::string();
  });
  auto fast = server->on("Fast", [&](const Message&) {
    ++fast_calls;
    return std::string();
  });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  auto blocker = client->request(id, "Slow", "", 5s);
  auto doomed = client->request(id, "Fast", "", 100ms);  // queued behind Slow, same sender
  EXPECT_EQ(error_of(doomed), errc::timeout);
  blocker.get();
  EXPECT_TRUE(test::wait_until([&] { return server->stats().expired == 1; }));
  EXPECT_EQ(fast_calls.load(), 0);
}

TEST(RequestErrors, UnknownPeerFailsFast) {
  auto client = started(test_options("client"));
  auto f = client->request(0x1234, "Echo", "", 5s);
  EXPECT_EQ(error_of(f), errc::unknown_peer);
}

TEST(RequestErrors, ConnectToNothingFailsWithinConnectTimeout) {
  auto client = started(test_options("client"));
  // A port nobody listens on: bind a socket, note its port, close it.
  std::string endpoint;
  {
    auto probe = started(test_options("probe"));
    endpoint = probe->endpoint();
  }
  auto f = client->connect(endpoint);
  try {
    f.get();
    FAIL() << "connect succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::peer_unreachable);
    EXPECT_NE(std::string(e.what()).find(endpoint), std::string::npos);
  }
}

TEST(RequestErrors, BadEndpointThrowsAtTheCall) {
  auto client = started(test_options("client"));
  const auto reason = [&](const std::string& endpoint) -> std::string {
    try {
      (void)client->connect(endpoint);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), errc::invalid_argument) << e.what();
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(reason("tcp://127.0.0.1:99999"),
            "cannot connect to 'tcp://127.0.0.1:99999': bad port '99999' (1..65535)");
  EXPECT_EQ(reason("tcp://*:5555"),
            "cannot connect to 'tcp://*:5555': host '*' is only valid for bind, not connect");
}

TEST(RequestErrors, PeerGoneFailsPendingAtOnce) {
  auto server = started(test_options("server"));
  auto reg = server->on("Slow", [](const Message&) {
    std::this_thread::sleep_for(200ms);
    return std::string();
  });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  std::vector<zmesh::Future<Response>> fs;
  fs.reserve(20);
  for (int i = 0; i < 20; ++i) fs.push_back(client->request(id, "Slow", "", 30s));
  server->stop(0ms);  // says BYE: pending requests fail now, not after 30 s
  for (auto& f : fs) {
    const errc e = error_of(f);
    EXPECT_TRUE(e == errc::peer_gone || e == errc::shutting_down || e == errc::ok)
        << make_error_code(e).message();
  }
  auto after = client->request(id, "Slow", "", 1s);
  EXPECT_EQ(error_of(after), errc::peer_gone);
}

TEST(RequestErrors, ShutdownFailsOurPendingRequests) {
  auto server = started(test_options("server"));
  auto reg = server->on("Slow", [](const Message&) {
    std::this_thread::sleep_for(500ms);
    return std::string();
  });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  auto f = client->request(id, "Slow", "", 30s);
  client->stop(0ms);
  EXPECT_EQ(error_of(f), errc::shutting_down);
  EXPECT_THROW((void)client->request(id, "Slow", ""), Error);
}

}  // namespace
}  // namespace zmesh
