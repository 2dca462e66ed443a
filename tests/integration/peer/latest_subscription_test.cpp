// Latest subscriptions (SubscribeOptions::latest): conflation at the subscriber. A
// handler slower than the stream gets the newest value of each topic, the replaced ones
// counted as skipped (not as gaps), while a plain subscription beside it still gets
// every broadcast in order.
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

TEST(LatestSubscription, ASlowHandlerGetsTheNewestValueOfEachTopicAndThePlainOneGetsAll) {
  constexpr int kTopics = 10;
  constexpr int kRounds = 500;
  constexpr int kCount = kTopics * kRounds;
  auto popts = test_options("pub", 1);
  popts.pub_hwm = 100000;  // nothing lost on the way: what is not handled was skipped
  auto pub = started(popts);
  auto sopts = test_options("sub", 2);
  sopts.sub_hwm = 100000;
  auto sub = started(sopts);

  std::mutex mu;
  std::map<std::string, std::vector<int>> latest;  // guarded by mu: values by topic
  std::vector<int> plain;                          // guarded by mu: lt.0's values
  std::atomic<int> calls{0};
  auto latest_reg = sub->subscribe(
      "lt.",
      [&](const Message& m) {
        std::this_thread::sleep_for(20ms);  // far slower than the stream
        std::lock_guard lock(mu);
        latest[std::string(m.topic())].push_back(std::stoi(std::string(m.text())));
        ++calls;
      },
      SubscribeOptions{.latest = true});
  auto plain_reg = sub->subscribe("lt.0", [&](const Message& m) {
    std::lock_guard lock(mu);
    plain.push_back(std::stoi(std::string(m.text())));
  });
  sub->subscribe_to(pub->pub_endpoint());
  sub->sync_subscriptions(5s).get();

  auto topic_of = [](int i) { return "lt." + std::to_string(i % kTopics); };
  for (int i = 0; i < kCount; ++i) pub->publish(topic_of(i), "V", std::to_string(i));
  // Everything received, and every one of them handled or skipped.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto s = sub->stats();
        return s.broadcasts_received == static_cast<std::uint64_t>(kCount) &&
               static_cast<std::uint64_t>(calls.load()) + s.broadcasts_skipped ==
                   static_cast<std::uint64_t>(kCount);
      },
      30s))
      << sub->stats().broadcasts_received << " received, " << calls.load() << " handled, "
      << sub->stats().broadcasts_skipped << " skipped";
  const auto s = sub->stats();
  EXPECT_EQ(s.gaps, 0U);
  EXPECT_GT(s.broadcasts_skipped, static_cast<std::uint64_t>(kCount / 2))
      << "a 20 ms handler cannot have kept up with " << kCount << " broadcasts";

  std::lock_guard lock(mu);
  ASSERT_EQ(latest.size(), static_cast<std::size_t>(kTopics));
  for (const auto& [topic, values] : latest) {
    for (std::size_t i = 1; i < values.size(); ++i) {
      ASSERT_LT(values[i - 1], values[i]) << topic << ": ever newer";
    }
    const int t = std::stoi(topic.substr(3));
    EXPECT_EQ(values.back(), kCount - kTopics + t) << topic << ": ends with the newest";
  }
  // The plain subscription beside it: every broadcast of lt.0, in order.
  ASSERT_EQ(plain.size(), static_cast<std::size_t>(kRounds));
  for (int i = 0; i < kRounds; ++i) ASSERT_EQ(plain[i], i * kTopics);
}

}  // namespace
}  // namespace zmesh
