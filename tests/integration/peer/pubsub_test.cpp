// Broadcasts over tcp loopback: prefix filtering, the subscription sync, sequence gaps,
// publisher restarts, unsubscribe.
#include <atomic>
#include <map>
#include <mutex>
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

// Collects what one subscriber receives, per publisher, in arrival order.
struct Inbox {
  std::mutex mu;
  std::map<PeerId, std::vector<std::string>> topics;  // guarded by mu
  std::atomic<int> count{0};

  BroadcastHandler handler() {
    return [this](const Message& m) {
      std::lock_guard lock(mu);
      topics[m.sender()].push_back(std::string(m.topic()) + "|" + std::string(m.text()));
      ++count;
    };
  }
};

TEST(PubSub, ThreePublishersFiveSubscribersOverlappingPrefixes) {
  constexpr int kPublishers = 3;
  constexpr int kTopics = 1000;
  std::vector<std::unique_ptr<Peer>> pubs;
  pubs.reserve(kPublishers);
  for (int i = 0; i < kPublishers; ++i)
    pubs.push_back(started(test_options("pub" + std::to_string(i), 1)));

  // Topics "t/<group>/<n>" with group = n % 10. Subscriber prefixes overlap on purpose.
  const std::vector<std::vector<std::string>> prefixes = {
      {"t/1/"}, {"t/1/", "t/2/"}, {"t/"}, {"t/3/", "t/3/1"}, {"t/9/", "t/1/1"}};
  std::vector<std::unique_ptr<Peer>> subs;
  std::vector<std::unique_ptr<Inbox>> inboxes;
  std::vector<Registration> regs;
  for (std::size_t s = 0; s < prefixes.size(); ++s) {
    subs.push_back(started(test_options("sub" + std::to_string(s), 2)));
    inboxes.push_back(std::make_unique<Inbox>());
    for (const auto& p : prefixes[s]) regs.push_back(subs[s]->subscribe(p, inboxes[s]->handler()));
    for (auto& pub : pubs) (void)subs[s]->connect(pub->endpoint()).get();
    subs[s]->sync_subscriptions(5s).get();
  }
  auto topic_of = [](int n) { return "t/" + std::to_string(n % 10) + "/" + std::to_string(n); };
  for (int n = 0; n < kTopics; ++n) {
    for (auto& pub : pubs) pub->publish(topic_of(n), "Tick", std::to_string(n));
  }
  for (std::size_t s = 0; s < subs.size(); ++s) {
    // Expected, per publisher, in publish order: one delivery per matching prefix.
    std::vector<std::string> expected;
    for (int n = 0; n < kTopics; ++n) {
      for (const auto& p : prefixes[s]) {
        if (topic_of(n).starts_with(p)) expected.push_back(topic_of(n) + "|" + std::to_string(n));
      }
    }
    const int want = static_cast<int>(expected.size()) * kPublishers;
    ASSERT_TRUE(test::wait_until([&] { return inboxes[s]->count.load() >= want; }, 20s))
        << "subscriber " << s << " got " << inboxes[s]->count.load() << " of " << want;
    std::this_thread::sleep_for(50ms);  // nothing more may arrive (checked below)
    std::lock_guard lock(inboxes[s]->mu);
    ASSERT_EQ(inboxes[s]->topics.size(), static_cast<std::size_t>(kPublishers));
    for (auto& [publisher, got] : inboxes[s]->topics) {
      // Handlers of one broadcast may interleave with the next one's only within a
      // publisher's own order, which is kept: compare exactly.
      EXPECT_EQ(got, expected) << "subscriber " << s << ", publisher " << publisher;
    }
    EXPECT_EQ(subs[s]->stats().gaps, 0u);
  }
}

TEST(PubSub, FirstMessageAfterSyncIsNeverMissed) {
  for (int round = 0; round < 100; ++round) {
    auto pub = started(test_options("pub", 1));
    auto sub = started(test_options("sub", 1));
    std::promise<std::string> first;
    std::atomic<bool> got{false};
    auto reg = sub->subscribe("news", [&](const Message& m) {
      if (!got.exchange(true)) first.set_value(std::string(m.text()));
    });
    (void)sub->connect(pub->endpoint()).get();
    sub->sync_subscriptions(5s).get();
    pub->publish("news", "Headline", "first-" + std::to_string(round));
    auto f = first.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready) << "round " << round;
    EXPECT_EQ(f.get(), "first-" + std::to_string(round));
  }
}

TEST(PubSub, SyncWithDirectEndpointAndNoPublishers) {
  auto lonely = started(test_options("lonely", 1));
  EXPECT_NO_THROW(lonely->sync_subscriptions(1s).get());  // nobody to wait for
  auto pub = started(test_options("pub", 1));
  Inbox inbox;
  auto reg = lonely->subscribe("", inbox.handler());
  lonely->subscribe_to(pub->pub_endpoint());
  lonely->sync_subscriptions(5s).get();
  pub->publish("any/topic", "T", "x");
  EXPECT_TRUE(test::wait_until([&] { return inbox.count.load() == 1; }));
}

TEST(PubSub, ForcedLossIsCountedExactly) {
  auto popts = test_options("pub", 1);
  popts.pub_hwm = 10;
  auto pub = started(popts);
  auto sopts = test_options("sub", 1);
  sopts.sub_hwm = 10;
  sopts.worker_queue_depth = 4;
  auto sub = started(sopts);
  std::atomic<long> received{0};
  std::atomic<long> gap_calls{0};
  std::atomic<long> gap_total{0};
  auto reg = sub->subscribe("load", [&](const Message&) {
    std::this_thread::sleep_for(50us);
    ++received;
  });
  auto gaps = sub->on_gap([&](PeerId, std::string_view topic, std::uint64_t missed) {
    EXPECT_EQ(topic, "load");
    ++gap_calls;
    gap_total += static_cast<long>(missed);
  });
  (void)sub->connect(pub->endpoint()).get();
  sub->sync_subscriptions(5s).get();
  const std::string payload(512, 'x');
  constexpr long kPublished = 20'000;
  for (long i = 0; i < kPublished - 1; ++i) pub->publish("load", "L", payload);
  // Let the subscriber drain, then a last broadcast that surely arrives: any loss at
  // the tail shows as a jump before it.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const long before = received.load();
        std::this_thread::sleep_for(100ms);
        return received.load() == before;
      },
      30s));
  pub->publish("load", "L", payload);
  ASSERT_TRUE(test::wait_until(
      [&] { return received.load() + static_cast<long>(sub->stats().gaps) == kPublished; }, 10s))
      << "received " << received.load() << ", gaps " << sub->stats().gaps;
  const auto stats = sub->stats();
  std::cout << "[ figures  ] published " << kPublished << ", received " << received.load()
            << ", gaps " << stats.gaps << "\n";
  EXPECT_GT(stats.gaps, 0u) << "the tiny HWM should have dropped something";
  EXPECT_EQ(kPublished - received.load(), static_cast<long>(stats.gaps));
  EXPECT_EQ(gap_total.load(), static_cast<long>(stats.gaps));
  const auto pubs = sub->publishers();
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].gaps, stats.gaps);
  EXPECT_EQ(pubs[0].received, static_cast<std::uint64_t>(received.load()));
  EXPECT_EQ(pub->stats().published, static_cast<std::uint64_t>(kPublished));
}

TEST(PubSub, PublisherRestartResetsTrackingWithoutABogusGap) {
  auto sub = started(test_options("sub", 1));
  Inbox inbox;
  auto reg = sub->subscribe("r/", inbox.handler());
  std::string pub_endpoint;
  {
    auto first = started(test_options("pub", 1));
    pub_endpoint = first->pub_endpoint();
    sub->subscribe_to(pub_endpoint);
    sub->sync_subscriptions(5s).get();
    for (int i = 0; i < 50; ++i) first->publish("r/x", "T", std::to_string(i));
    ASSERT_TRUE(test::wait_until([&] { return inbox.count.load() == 50; }));
  }
  // A new publisher process (new session) on the same endpoint numbers from 1 again.
  auto opts = test_options("pub", 1);
  opts.pub_bind = pub_endpoint;
  auto second = started(opts);
  sub->sync_subscriptions(5s).get();
  for (int i = 0; i < 10; ++i) second->publish("r/x", "T", std::to_string(i));
  ASSERT_TRUE(test::wait_until([&] { return inbox.count.load() == 60; }));
  EXPECT_EQ(sub->stats().gaps, 0u);
  const auto pubs = sub->publishers();
  std::uint64_t restarts = 0;
  for (const auto& p : pubs) restarts += p.restarts;
  // Same id only if configured; with random ids the new process is a new publisher.
  EXPECT_EQ(pubs.size() + restarts, 2u);
}

TEST(PubSub, SameIdPublisherRestartCountsAsRestart) {
  auto sub = started(test_options("sub", 1));
  Inbox inbox;
  auto reg = sub->subscribe("r/", inbox.handler());
  auto opts = test_options("pub", 1);
  opts.id = 0x77;
  std::string endpoint;
  {
    auto first = started(opts);
    endpoint = first->pub_endpoint();
    sub->subscribe_to(endpoint);
    sub->sync_subscriptions(5s).get();
    for (int i = 0; i < 30; ++i) first->publish("r/x", "T", "a");
    ASSERT_TRUE(test::wait_until([&] { return inbox.count.load() == 30; }));
  }
  opts.pub_bind = endpoint;
  auto second = started(opts);
  sub->sync_subscriptions(5s).get();
  for (int i = 0; i < 5; ++i) second->publish("r/x", "T", "b");
  ASSERT_TRUE(test::wait_until([&] { return inbox.count.load() == 35; }));
  EXPECT_EQ(sub->stats().gaps, 0u);
  const auto pubs = sub->publishers();
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].restarts, 1u);
  EXPECT_EQ(pubs[0].received, 35u);
}

TEST(PubSub, UnsubscribeStopsDeliveryAndRemovedHandlersAreNeverCalled) {
  auto pub = started(test_options("pub", 1));
  auto sub = started(test_options("sub", 2));
  std::atomic<int> a_calls{0};
  std::atomic<int> b_calls{0};
  auto a = sub->subscribe("x", [&](const Message&) { ++a_calls; });
  auto b = sub->subscribe("x", [&](const Message&) { ++b_calls; });
  (void)sub->connect(pub->endpoint()).get();
  sub->sync_subscriptions(5s).get();
  pub->publish("x", "T", "1");
  ASSERT_TRUE(test::wait_until([&] { return a_calls == 1 && b_calls == 1; }));
  a.reset();
  const int a_after = a_calls.load();
  pub->publish("x", "T", "2");
  ASSERT_TRUE(test::wait_until([&] { return b_calls == 2; }));
  b.reset();
  // Nothing subscribed any more: an unsubscribe then a sync makes it take effect at the
  // publisher, so later broadcasts are filtered there.
  sub->sync_subscriptions(5s).get();
  for (int i = 0; i < 20; ++i) pub->publish("x", "T", "3");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(a_calls.load(), a_after);
  EXPECT_EQ(b_calls.load(), 2);
  EXPECT_EQ(sub->stats().broadcasts_received, 2u);
}

TEST(PubSub, ReservedTopicsAreRefused) {
  auto pub = started(test_options("pub", 1));
  EXPECT_THROW(pub->publish(std::string_view("\0zmesh.sync.x", 13), "T", ""), Error);
  EXPECT_THROW((void)pub->subscribe(std::string("\0x", 2), [](const Message&) {}), Error);
}

TEST(PubSub, EachTopicIsNumberedOnItsOwnAndNoBogusGaps) {
  // Regression: the engine once read a topic's bytes after handing its frame on, so
  // every topic shared one sequence and a subscriber counted gaps that never happened.
  auto pub = started(test_options("pub", 1));
  auto sub = started(test_options("sub", 1));
  std::mutex mu;
  std::map<std::string, std::vector<std::uint64_t>> seen;  // guarded by mu
  std::atomic<int> count{0};
  auto reg = sub->subscribe("", [&](const Message& m) {
    std::lock_guard lock(mu);
    seen[std::string(m.topic())].push_back(m.sequence());
    ++count;
  });
  sub->subscribe_to(pub->pub_endpoint());
  sub->sync_subscriptions(5s).get();
  const std::vector<std::string> topics = {"a", "bb", "a/long/topic/name/beyond/inline/size"};
  for (int i = 0; i < 5; ++i) {
    for (const auto& t : topics) pub->publish(t, "Tick", std::to_string(i));
  }
  ASSERT_TRUE(test::wait_until([&] { return count.load() == 15; }, 5s)) << count.load();
  std::lock_guard lock(mu);
  for (const auto& t : topics) {
    EXPECT_EQ(seen[t], (std::vector<std::uint64_t>{1, 2, 3, 4, 5})) << "topic " << t;
  }
  EXPECT_EQ(sub->stats().gaps, 0u);
}

}  // namespace
}  // namespace zmesh
