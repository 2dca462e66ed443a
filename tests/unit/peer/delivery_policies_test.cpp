// The parts of the delivery policies that stand alone: which policy covers a topic
// (PolicyTable), what a publisher holds (HeldBroadcasts), and the credit block
// publishers wait on (BroadcastCredit).
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "broadcast_credit.hpp"
#include "held_broadcasts.hpp"
#include "peer_shared.hpp"
#include "policy_table.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;

HeldBroadcast held(const std::string& topic, const std::string& payload, DeliveryPolicy p) {
  return {zmq::message_t(topic.data(), topic.size()), "T",
          zmq::message_t(payload.data(), payload.size()), p};
}

TEST(PolicyTable, TheLongestMatchingPrefixWinsElseTheDefault) {
  const PolicyTable t(DeliveryPolicy::drop, {{"a.", DeliveryPolicy::block},
                                             {"a.b.", DeliveryPolicy::latest},
                                             {"a.", DeliveryPolicy::latest}});
  EXPECT_EQ(t.of("a.x"), DeliveryPolicy::block);  // the first of equal prefixes
  EXPECT_EQ(t.of("a.b.c"), DeliveryPolicy::latest);
  EXPECT_EQ(t.of("b"), DeliveryPolicy::drop);
  EXPECT_TRUE(t.holds());
  EXPECT_FALSE(PolicyTable(DeliveryPolicy::drop, {{"x", DeliveryPolicy::drop}}).holds());
  EXPECT_TRUE(PolicyTable(DeliveryPolicy::latest, {}).holds());
}

TEST(PolicyTable, EachRuleCountsForItselfAndTheDefaultComesLast) {
  const PolicyTable t(DeliveryPolicy::block,
                      {{"a.", DeliveryPolicy::latest}, {"a.b.", DeliveryPolicy::drop}});
  const std::size_t ab = t.rule_of("a.b.c");
  const std::size_t a = t.rule_of("a.x");
  const std::size_t other = t.rule_of("zz");
  EXPECT_NE(ab, a);
  EXPECT_EQ(t.rule_of("a.b.d"), ab);
  bump(t.counters(ab).no_room);
  bump(t.counters(a).conflated, 2);
  bump(t.counters(other).publish_timeouts, 3);
  bump(t.counters(other).published, 4);
  const auto s = t.stats();
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(s[0].prefix, "a.b.");
  EXPECT_EQ(s[0].policy, DeliveryPolicy::drop);
  EXPECT_EQ(s[0].no_room, 1U);
  EXPECT_EQ(s[1].prefix, "a.");
  EXPECT_EQ(s[1].conflated, 2U);
  EXPECT_FALSE(s[1].is_default);
  EXPECT_EQ(s[2].prefix, "");
  EXPECT_TRUE(s[2].is_default);
  EXPECT_EQ(s[2].policy, DeliveryPolicy::block);
  EXPECT_EQ(s[2].publish_timeouts, 3U);
  EXPECT_EQ(s[2].published, 4U);
  EXPECT_EQ(s[2].conflated + s[2].no_room + s[2].backlog_full, 0U);
}

TEST(DeliveryPolicyNames, RoundTripAndRefuseOthers) {
  for (auto p : {DeliveryPolicy::drop, DeliveryPolicy::block, DeliveryPolicy::latest}) {
    EXPECT_EQ(delivery_policy_from(to_string(p)), p);
  }
  EXPECT_FALSE(delivery_policy_from("Block").has_value());
  EXPECT_FALSE(delivery_policy_from("").has_value());
}

TEST(HeldBroadcasts, ALatestTopicHoldsOneValueInItsPlaceAndTheBoundIsKept) {
  HeldBroadcasts h;
  h.hold(held("b", "1", DeliveryPolicy::block));
  EXPECT_EQ(h.hold_latest(held("l", "v1", DeliveryPolicy::latest), 10),
            HeldBroadcasts::Latest::held);
  h.hold(held("b", "2", DeliveryPolicy::block));
  EXPECT_EQ(h.hold_latest(held("l", "v2", DeliveryPolicy::latest), 10),
            HeldBroadcasts::Latest::replaced);
  EXPECT_EQ(h.hold_latest(held("m", "123456789", DeliveryPolicy::latest), 10),
            HeldBroadcasts::Latest::overflow);  // 3 + 10 bytes > 10
  ASSERT_EQ(h.size(), 3U);
  EXPECT_EQ(h.latest_bytes(), 3U);
  EXPECT_EQ(h.front().payload.to_string(), "1");
  h.pop_front();
  EXPECT_EQ(h.front().payload.to_string(), "v2");  // the newest, where the first one was
  h.pop_front();
  EXPECT_EQ(h.latest_bytes(), 0U);
  EXPECT_EQ(h.front().payload.to_string(), "2");
  h.pop_front();
  EXPECT_TRUE(h.empty());
  // Once its held value went, a topic is held anew.
  EXPECT_EQ(h.hold_latest(held("l", "v3", DeliveryPolicy::latest), 10),
            HeldBroadcasts::Latest::held);
}

TEST(BroadcastCredit, TakersWaitForWhatIsGivenBackOrTimeOut) {
  BroadcastCredit c(100);
  EXPECT_TRUE(c.take(60, 0ms));
  EXPECT_FALSE(c.take(60, 0ms));
  EXPECT_FALSE(c.take(60, 20ms));  // nobody gives back
  std::thread giver([&] {
    std::this_thread::sleep_for(20ms);
    c.give(60);
  });
  EXPECT_TRUE(c.take(60, 10s));  // woken by the give
  giver.join();
  EXPECT_EQ(c.held(), 60U);
  c.give(60);
  EXPECT_TRUE(c.take(500, 0ms));  // larger than the bound: granted when nothing is held
  EXPECT_FALSE(c.take(1, 0ms));
  c.give(500);
  EXPECT_EQ(c.held(), 0U);
}

}  // namespace
}  // namespace zmesh::detail
