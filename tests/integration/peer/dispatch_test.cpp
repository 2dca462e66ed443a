// The handler pool: per-sender order, parallelism across senders, runtime
// (un)registration, backpressure and graceful stop.
#include <sys/resource.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "peer_fixture.hpp"
#include "test_support.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;

TEST(Dispatch, PerSenderOrderWithParallelSenders) {
  constexpr int kSenders = 10;
  constexpr int kPerSender = 10'000;
  auto receiver = started(test_options("receiver", 4));
  std::mutex mu;
  std::unordered_map<PeerId, int> next;  // guarded by mu
  std::atomic<int> out_of_order{0};
  std::atomic<int> received{0};
  std::atomic<int> active{0};
  std::atomic<int> max_active{0};
  auto reg = receiver->on("Seq", [&](const Message& m) {
    const int now = ++active;
    for (int seen = max_active.load();
         now > seen && !max_active.compare_exchange_weak(seen, now);) {
    }
    const int i = std::stoi(std::string(m.text()));
    {
      std::lock_guard lock(mu);
      int& expected = next[m.sender()];
      if (i != expected) ++out_of_order;
      expected = i + 1;
    }
    // A little work so that handlers overlap.
    std::this_thread::sleep_for(std::chrono::microseconds(i % 100 == 0 ? 200 : 0));
    --active;
    ++received;
    return std::string();
  });
  std::vector<std::unique_ptr<Peer>> senders;
  senders.reserve(kSenders);
  for (int s = 0; s < kSenders; ++s)
    senders.push_back(started(test_options("s" + std::to_string(s), 1)));
  std::vector<std::thread> threads;
  threads.reserve(senders.size());
  for (auto& sp : senders) {
    threads.emplace_back([&, p = sp.get()] {
      const PeerId to = p->connect(receiver->endpoint()).get();
      for (int i = 0; i < kPerSender; ++i) p->send(to, "Seq", std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(test::wait_until([&] { return received.load() == kSenders * kPerSender; }, 30s))
      << received.load();
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_GT(max_active.load(), 1);  // different senders ran in parallel
  std::lock_guard lock(mu);
  EXPECT_EQ(next.size(), static_cast<std::size_t>(kSenders));
}

TEST(Dispatch, HandlersAddedAndRemovedAtRuntime) {
  auto receiver = started(test_options("receiver", 2));
  auto sender = started(test_options("sender"));
  const PeerId to = sender->connect(receiver->endpoint()).get();
  std::atomic<int> calls{0};
  auto reg = receiver->on("Late", [&](const Message&) {
    ++calls;
    return std::string("ok");
  });
  EXPECT_EQ(sender->request(to, "Late", "").get().payload, "ok");
  reg.reset();
  auto f = sender->request(to, "Late", "");
  EXPECT_THROW(f.get(), Error);
  sender->send(to, "Late", "");
  EXPECT_TRUE(test::wait_until([&] { return receiver->stats().no_handler == 2; }));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_THROW((void)receiver->on("", [](const Message&) { return std::string(); }), Error);
  auto again = receiver->on("Late", [](const Message&) { return std::string("again"); });
  EXPECT_THROW((void)receiver->on("Late", [](const Message&) { return std::string(); }), Error);
  EXPECT_EQ(sender->request(to, "Late", "").get().payload, "again");
}

TEST(Dispatch, SlowHandlerPushesBackOnAFastSenderAndLosesNothing) {
  // One worker, a 200 us handler, 1 KiB messages. The sender asks to fail at once when
  // there is no room (wait = 0), so every push-back shows as a queue_full error instead
  // of a wait. Bound on what the receiving side may buffer, by construction: ROUTER
  // RCVHWM 1,000 + worker queue 64 + the sender's SNDHWM 1,000 and command queue 64,
  // about 2,100 messages, ~2 MiB, plus kernel socket buffers.
  auto ropts = test_options("receiver", 1);
  ropts.recv_hwm = 1000;
  ropts.worker_queue_depth = 64;
  auto receiver = started(ropts);
  std::atomic<long> handled{0};
  auto reg = receiver->on("Work", [&](const Message&) {
    std::this_thread::sleep_for(200us);
    ++handled;
    return std::string();
  });
  auto sopts = test_options("sender", 1);
  sopts.send_hwm = 1000;
  sopts.command_queue_depth = 64;
  sopts.max_queued_bytes = 1 << 20;  // what waits for the receiver's pipe, beyond its HWM
  auto sender = started(sopts);
  const PeerId to = sender->connect(receiver->endpoint()).get();
  const std::string payload(1024, 'x');
  const long rss_before = test::rss_kib();
  long accepted = 0;
  long pushed_back = 0;
  long peak_rss = rss_before;
  for (int i = 0; i < 200'000 && pushed_back < 2000; ++i) {
    try {
      sender->send(to, "Work", payload, 0ms);
      ++accepted;
    } catch (const Error& e) {
      ASSERT_EQ(e.kind(), errc::queue_full);
      ++pushed_back;
      std::this_thread::sleep_for(100us);
    }
    if (i % 1000 == 0) peak_rss = std::max(peak_rss, test::rss_kib());
  }
  std::cout << "[ figures  ] accepted " << accepted << ", pushed back " << pushed_back
            << ", peak RSS growth " << (peak_rss - rss_before) << " KiB\n";
  EXPECT_GT(pushed_back, 0);
  EXPECT_TRUE(test::wait_until([&] { return handled.load() == accepted; }, 60s))
      << handled.load() << " of " << accepted;
  EXPECT_LT(peak_rss - rss_before, 64L * 1024 * test::kRssScale)
      << "RSS grew by " << (peak_rss - rss_before) << " KiB";
  EXPECT_LE(receiver->stats().worker_queue_depth, 64u);
}

TEST(Dispatch, StopLetsQueuedWorkFinishAndRepliesArrive) {
  auto server = started(test_options("server", 2));
  std::atomic<int> finished{0};
  auto reg = server->on("Work", [&](const Message& m) {
    std::this_thread::sleep_for(30ms);
    ++finished;
    return "done:" + std::string(m.text());
  });
  auto client = started(test_options("client"));
  const PeerId to = client->connect(server->endpoint()).get();
  std::vector<zmesh::Future<Response>> fs;
  fs.reserve(20);
  for (int i = 0; i < 20; ++i) fs.push_back(client->request(to, "Work", std::to_string(i), 10s));
  ASSERT_TRUE(test::wait_until([&] { return finished.load() >= 1; }));
  server->stop(5s);  // 20 x 30 ms queued on one worker: well inside the drain
  EXPECT_EQ(finished.load(), 20);
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    if (fs[static_cast<std::size_t>(i)].get().payload == "done:" + std::to_string(i)) ++ok;
  }
  EXPECT_EQ(ok, 20);
  EXPECT_NO_THROW(server->stop());  // idempotent
}

}  // namespace
}  // namespace zmesh
