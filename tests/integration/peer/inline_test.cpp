// Inline handlers and inline callbacks (HandlerOptions / CallbackOptions::run_inline):
// they run on the engine thread, are counted, turn exceptions into error replies like
// worker handlers do, and keep one sender's order.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
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

std::string this_thread_name() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// Where a handler ran, written on the responder's thread and read by the test after the
// reply came back over tcp, a path ThreadSanitizer cannot see through: hence the lock.
class RanOn {
 public:
  void note() {
    std::lock_guard lock(mu_);
    name_ = this_thread_name();
  }
  std::string get() {
    std::lock_guard lock(mu_);
    return name_;
  }

 private:
  std::mutex mu_;
  std::string name_;  // guarded by mu_
};

errc error_of(zmesh::Future<Response>& f, std::string* what = nullptr) {
  try {
    f.get();
  } catch (const Error& e) {
    if (what != nullptr) *what = e.what();
    return e.kind();
  }
  return errc::ok;
}

TEST(Inline, HandlerRepliesFromTheEngineThread) {
  auto server = started(test_options("server"));
  RanOn ran_on;
  auto reg = server->on(
      "Echo",
      [&](const Message& m) {
        ran_on.note();
        return "echo:" + std::string(m.text());
      },
      HandlerOptions{.run_inline = true});
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  EXPECT_EQ(client->request(id, "Echo", "hi").get().payload, "echo:hi");
  EXPECT_EQ(ran_on.get(), "zmesh-engine");
}

TEST(Inline, DefaultHandlersStillRunOnWorkers) {
  auto server = started(test_options("server"));
  RanOn ran_on;
  auto reg = server->on("Echo", [&](const Message& m) {
    ran_on.note();
    return std::string(m.text());
  });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  EXPECT_EQ(client->request(id, "Echo", "x").get().payload, "x");
  EXPECT_EQ(ran_on.get().rfind("zmesh-worker-", 0), 0u) << ran_on.get();
}

TEST(Inline, ExceptionBecomesAnErrorReplyAndIsCounted) {
  auto server = started(test_options("server"));
  auto reg = server->on(
      "Boom", [](const Message&) -> std::string { throw std::runtime_error("inline boom"); },
      HandlerOptions{.run_inline = true});
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  auto f = client->request(id, "Boom", "");
  std::string what;
  EXPECT_EQ(error_of(f, &what), errc::remote_error);
  EXPECT_NE(what.find("inline boom"), std::string::npos) << what;
  EXPECT_EQ(server->stats().handler_errors, 1u);
  EXPECT_EQ(server->stats().handled, 1u);
}

TEST(Inline, HandledMessagesAreCounted) {
  auto server = started(test_options("server"));
  std::atomic<int> messages{0};
  auto reg = server->on(
      "Note",
      [&](const Message&) {
        ++messages;
        return std::string();
      },
      HandlerOptions{.run_inline = true});
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  for (int i = 0; i < 50; ++i) client->send(id, "Note", "n");
  ASSERT_TRUE(test::wait_until([&] { return messages.load() == 50; }, 5s));
  EXPECT_EQ(server->stats().handled, 50u);
}

TEST(Inline, OneSendersOrderHoldsAcrossInlineAndWorkerHandlers) {
  // A slow worker handler and an inline one, alternating from one sender: each inline
  // message must wait for the worker messages sent before it.
  auto server = started(test_options("server", 2));
  std::mutex mu;
  std::vector<int> seen;  // guarded by mu
  const auto record = [&](const Message& m) {
    std::lock_guard lock(mu);
    seen.push_back(std::stoi(std::string(m.text())));
  };
  auto slow = server->on("Slow", [&](const Message& m) {
    std::this_thread::sleep_for(2ms);
    record(m);
    return std::string();
  });
  auto fast = server->on(
      "Fast",
      [&](const Message& m) {
        record(m);
        return std::string();
      },
      HandlerOptions{.run_inline = true});
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i)
    client->send(id, i % 3 == 0 ? "Slow" : "Fast", std::to_string(i));
  ASSERT_TRUE(test::wait_until(
      [&] {
        std::lock_guard lock(mu);
        return seen.size() == kCount;
      },
      10s));
  std::lock_guard lock(mu);
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], i);
}

TEST(Inline, RemovedInlineHandlerIsNoLongerCalled) {
  auto server = started(test_options("server"));
  auto reg = server->on(
      "Echo", [](const Message& m) { return std::string(m.text()); },
      HandlerOptions{.run_inline = true});
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  EXPECT_EQ(client->request(id, "Echo", "a").get().payload, "a");
  reg.reset();
  auto f = client->request(id, "Echo", "b");
  EXPECT_EQ(error_of(f), errc::no_handler);
}

TEST(Inline, CallbackRunsOnTheEngineThread) {
  auto server = started(test_options("server"));
  auto reg = server->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  std::promise<std::pair<std::string, std::string>> got;
  client->request(
      id, "Echo", "cb", 2s,
      [&](std::error_code ec, const Response& r) {
        got.set_value({ec ? ec.message() : r.payload, this_thread_name()});
      },
      CallbackOptions{.run_inline = true});
  auto [payload, thread] = got.get_future().get();
  EXPECT_EQ(payload, "cb");
  EXPECT_EQ(thread, "zmesh-engine");
}

TEST(Inline, CallbackGetsErrorsAndItsExceptionsAreCounted) {
  auto server = started(test_options("server"));
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  std::promise<std::error_code> got;
  client->request(
      id, "Nobody", "", 2s,
      [&](std::error_code ec, const Response&) {
        got.set_value(ec);
        throw std::runtime_error("callback throws");
      },
      CallbackOptions{.run_inline = true});
  EXPECT_EQ(got.get_future().get(), make_error_code(errc::no_handler));
  ASSERT_TRUE(test::wait_until([&] { return client->stats().handler_errors == 1; }, 2s));
  // The engine carried on: the next request works.
  auto reg = server->on("Echo", [](const Message& m) { return std::string(m.text()); });
  EXPECT_EQ(client->request(id, "Echo", "still").get().payload, "still");
}

TEST(Inline, HandlerMaySendThroughItsOwnPeer) {
  // The send is a command into the engine that is running the handler: it must not wait
  // for the engine (it never waits for room from there).
  auto server = started(test_options("server"));
  Peer* const self = server.get();
  auto reg = server->on(
      "Ping",
      [self](const Message& m) {
        self->send(m.sender(), "Pong", "from-inline");
        return std::string("ok");
      },
      HandlerOptions{.run_inline = true});
  auto client = started(test_options("client"));
  std::promise<std::string> pong;
  auto got = client->on("Pong", [&](const Message& m) {
    pong.set_value(std::string(m.text()));
    return std::string();
  });
  const PeerId id = client->connect(server->endpoint()).get();
  EXPECT_EQ(client->request(id, "Ping", "").get().payload, "ok");
  auto f = pong.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), "from-inline");
}

}  // namespace
}  // namespace zmesh
