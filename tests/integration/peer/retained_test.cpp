// Last values for late joiners (protocol.md 5.10): a publisher retains the last broadcast
// of topics under PeerOptions::retain; a subscriber that asks for them in its sync gets
// each matching one once, marked retained, with its sequence, then the live stream.
#include <atomic>
#include <map>
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

// What one subscriber receives, per topic: "r<seq>=<payload>" for retained values,
// "<seq>=<payload>" for live ones, in arrival order.
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> by_topic;  // guarded by mu
  std::atomic<int> retained{0};
  std::atomic<int> live{0};

  BroadcastHandler handler() {
    return [this](const Message& m) {
      std::lock_guard lock(mu);
      by_topic[std::string(m.topic())].push_back(
          (m.retained() ? "r" : "") + std::to_string(m.sequence()) + "=" + std::string(m.text()));
      ++(m.retained() ? retained : live);
    };
  }
  std::map<std::string, std::vector<std::string>> snapshot() {
    std::lock_guard lock(mu);
    return by_topic;
  }
};

std::string topic_of(int n) {
  return "t/" + std::to_string(n % 10) + "/" + std::to_string(n);
}

TEST(BroadcastRetained, ALateJoinerGetsEachRetainedValueOnceThenTheLiveStream) {
  constexpr int kTopics = 1000;
  auto popts = test_options("pub", 1);
  popts.retain = {RetainRule{"t/", std::size_t{2} * kTopics, std::size_t{16} << 20}};
  auto pub = started(popts);
  for (int round = 1; round <= 3; ++round) {
    for (int n = 0; n < kTopics; ++n) pub->publish(topic_of(n), "V", "v" + std::to_string(round));
  }
  // publish() only queues: wait until the publisher has numbered (and retained) them all.
  ASSERT_TRUE(
      test::wait_until([&] { return pub->stats().published == std::uint64_t{3} * kTopics; }));
  auto sub = started(test_options("sub", 2));
  Seen seen;
  auto reg = sub->subscribe("t/1/", seen.handler());
  sub->subscribe_to(pub->pub_endpoint());
  sub->sync_subscriptions_with_last("t/1/", 5s).get();
  // Handed to the workers before the sync resolved: 100 topics match "t/1/".
  ASSERT_TRUE(test::wait_until([&] { return seen.retained.load() == kTopics / 10; }))
      << "retained " << seen.retained.load() << ", live " << seen.live.load();
  EXPECT_EQ(seen.live.load(), 0);
  for (int n = 0; n < kTopics; ++n) pub->publish(topic_of(n), "V", "v4");
  ASSERT_TRUE(test::wait_until([&] { return seen.live.load() == kTopics / 10; }));
  const auto got = seen.snapshot();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kTopics / 10));
  for (const auto& [topic, values] : got) {
    ASSERT_TRUE(topic.starts_with("t/1/")) << topic;
    EXPECT_EQ(values, (std::vector<std::string>{"r3=v3", "4=v4"})) << topic;
  }
  EXPECT_EQ(sub->stats().gaps, 0U);
  // Asking again delivers nothing twice: each value is older than what arrived live.
  sub->sync_subscriptions_with_last("t/1/", 5s).get();
  EXPECT_FALSE(test::wait_until([&] { return seen.retained.load() != kTopics / 10; }, 300ms));
}

TEST(BroadcastRetained, OnlyASubscriberThatAsksGetsThemAndOnlyRetainedTopics) {
  auto popts = test_options("pub", 1);
  popts.retain = {RetainRule{"keep/"}};
  auto pub = started(popts);
  pub->publish("keep/a", "V", "1");
  pub->publish("keep/a", "V", "2");
  pub->publish("drop/a", "V", "1");
  ASSERT_TRUE(test::wait_until([&] { return pub->stats().published == 3U; }));
  auto plain = started(test_options("plain", 1));
  auto asking = started(test_options("asking", 1));
  Seen plain_seen;
  Seen asking_seen;
  auto r1 = plain->subscribe("", plain_seen.handler());
  auto r2 = asking->subscribe("", asking_seen.handler());
  plain->subscribe_to(pub->pub_endpoint());
  asking->subscribe_to(pub->pub_endpoint());
  plain->sync_subscriptions(5s).get();
  asking->sync_subscriptions_with_last("", 5s).get();
  ASSERT_TRUE(test::wait_until([&] { return asking_seen.retained.load() == 1; }));
  EXPECT_EQ(asking_seen.snapshot(),
            (std::map<std::string, std::vector<std::string>>{{"keep/a", {"r2=2"}}}));
  // The plain subscriber (subscribed to everything, the asker's marker topics too) is
  // given nothing that it did not ask for.
  EXPECT_FALSE(test::wait_until(
      [&] { return plain_seen.retained.load() + plain_seen.live.load() > 0; }, 300ms));
  pub->publish("keep/a", "V", "3");
  ASSERT_TRUE(test::wait_until([&] { return plain_seen.live.load() == 1; }));
  ASSERT_TRUE(test::wait_until([&] { return asking_seen.live.load() == 1; }));
  EXPECT_EQ(asking_seen.snapshot().at("keep/a"), (std::vector<std::string>{"r2=2", "3=3"}));
  EXPECT_EQ(asking->stats().gaps, 0U);
}

TEST(BroadcastRetained, AHeartbeatHeardFirstDoesNotHideTheRetainedValue) {
  auto popts = test_options("pub", 1);
  popts.retain = {RetainRule{"hb/"}};
  popts.broadcast_heartbeat = 10ms;  // announced at 10, 20, 40 ... 5120 ms
  auto pub = started(popts);
  pub->publish("hb/x", "V", "last");
  ASSERT_TRUE(test::wait_until([&] { return pub->stats().published == 1U; }));
  auto sub = started(test_options("sub", 1));
  Seen seen;
  auto reg = sub->subscribe("hb/", seen.handler());
  sub->subscribe_to(pub->pub_endpoint());
  sub->sync_subscriptions(5s).get();
  // Several announcements of hb/x (sequence 1) reach us before we ask for last values.
  std::this_thread::sleep_for(100ms);
  sub->sync_subscriptions_with_last("hb/", 5s).get();
  ASSERT_TRUE(test::wait_until([&] { return seen.retained.load() == 1; }));
  EXPECT_EQ(seen.snapshot().at("hb/x"), (std::vector<std::string>{"r1=last"}));
  EXPECT_EQ(sub->stats().gaps, 0U);
}

TEST(BroadcastRetained, RetainOptionsAndReservedPrefixesAreRefused) {
  auto opts = test_options("pub", 1);
  opts.retain = {RetainRule{std::string("\0x", 2)}};
  EXPECT_THROW(opts.validate(), Error);
  opts.retain = {RetainRule{"ok/", 0, 10}};
  EXPECT_THROW(opts.validate(), Error);
  auto sub = started(test_options("sub", 1));
  EXPECT_THROW((void)sub->sync_subscriptions_with_last(std::string("\0zmesh", 6)), Error);
}

}  // namespace
}  // namespace zmesh
