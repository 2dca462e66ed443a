// The broadcast heartbeat (protocol.md 5.9): a publisher announces the latest sequence
// of the topics it published lately, so that a loss after the last broadcast a
// subscriber received is counted without waiting for another broadcast, exactly once.
#include <atomic>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "peer_fixture.hpp"
#include "test_support.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;

const std::string kHeartbeatTopic("\0zmesh.hb.", 10);

TEST(BroadcastHeartbeat, TailLossIsCountedExactlyWithoutAnotherBroadcast) {
  auto popts = test_options("pub", 1);
  popts.pub_hwm = 10;
  auto pub = started(popts);
  auto sopts = test_options("sub", 1);
  sopts.sub_hwm = 10;
  sopts.worker_queue_depth = 4;
  auto sub = started(sopts);
  std::atomic<long> received{0};
  std::atomic<long> gap_total{0};
  auto reg = sub->subscribe("load", [&](const Message&) {
    std::this_thread::sleep_for(50us);
    ++received;
  });
  auto gaps = sub->on_gap([&](PeerId, std::string_view topic, std::uint64_t missed) {
    EXPECT_EQ(topic, "load");
    gap_total += static_cast<long>(missed);
  });
  (void)sub->connect(pub->endpoint()).get();
  sub->sync_subscriptions(5s).get();
  const std::string payload(512, 'x');
  constexpr long kPublished = 20'000;
  for (long i = 0; i < kPublished; ++i) pub->publish("load", "L", payload);
  // No broadcast follows the burst: only the heartbeat can tell what the tail lost.
  auto adds_up = [&] {
    return received.load() + static_cast<long>(sub->stats().gaps) == kPublished;
  };
  ASSERT_TRUE(test::wait_until(adds_up, 30s))
      << "received " << received.load() << ", gaps " << sub->stats().gaps;
  std::cout << "[ figures  ] published " << kPublished << ", received " << received.load()
            << ", gaps " << sub->stats().gaps << "\n";
  EXPECT_GT(sub->stats().gaps, 0U) << "the tiny HWM should have dropped something";
  // Repeated announcements of the same sequence count nothing more.
  EXPECT_FALSE(test::wait_until([&] { return !adds_up(); }, 500ms))
      << "received " << received.load() << ", gaps " << sub->stats().gaps;
  // Nor does the next broadcast, which continues from the announced sequence.
  pub->publish("load", "L", payload);
  ASSERT_TRUE(test::wait_until(
      [&] { return received.load() + static_cast<long>(sub->stats().gaps) == kPublished + 1; }));
  EXPECT_FALSE(test::wait_until(
      [&] { return received.load() + static_cast<long>(sub->stats().gaps) != kPublished + 1; },
      300ms));
  ASSERT_TRUE(test::wait_until(
      [&] { return gap_total.load() == static_cast<long>(sub->stats().gaps); }, 5s));
  const auto pubs = sub->publishers();
  ASSERT_EQ(pubs.size(), 1U);
  EXPECT_EQ(pubs[0].gaps, sub->stats().gaps);
  EXPECT_EQ(pubs[0].received, static_cast<std::uint64_t>(received.load()));
}

TEST(BroadcastHeartbeat, AStreamWithoutLossReportsNoGaps) {
  auto pub = started(test_options("pub", 1));
  auto sub = started(test_options("sub", 1));
  std::atomic<long> received{0};
  auto reg = sub->subscribe("calm/", [&](const Message&) { ++received; });
  (void)sub->connect(pub->endpoint()).get();
  sub->sync_subscriptions(5s).get();
  constexpr long kPublished = 1000;
  for (long i = 0; i < kPublished; ++i) pub->publish("calm/" + std::to_string(i % 7), "C", "x");
  ASSERT_TRUE(test::wait_until([&] { return received.load() == kPublished; }));
  // Several heartbeats go by: they must find nothing missing.
  EXPECT_FALSE(test::wait_until([&] { return sub->stats().gaps > 0; }, 500ms));
  EXPECT_EQ(sub->stats().malformed, 0U);
}

TEST(BroadcastHeartbeat, AnIdlePublisherSendsNothing) {
  auto pub = started(test_options("pub", 1));
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::sub);
  raw.set(zmq::sockopt::subscribe, "");  // everything, the heartbeat topic included
  raw.connect(pub->pub_endpoint());
  // A sync marker of our own: once it is answered, our subscription is in effect.
  const std::string marker = std::string("\0zmesh.sync.00000000000000aa.1", 30);
  raw.set(zmq::sockopt::subscribe, marker);
  zmq::message_t m;
  ASSERT_TRUE(test::wait_until([&] {
    while (raw.recv(m, zmq::recv_flags::dontwait)) {
      if (m.to_string() == marker) return true;
    }
    return false;
  }));
  while (raw.recv(m, zmq::recv_flags::dontwait)) {
  }
  // Nothing published: no heartbeat in several periods.
  EXPECT_FALSE(
      test::wait_until([&] { return raw.recv(m, zmq::recv_flags::dontwait).has_value(); }, 500ms));
  // One publish: the Publish itself and then an announcement of its sequence.
  pub->publish("t", "T", "x");
  bool announced = false;
  ASSERT_TRUE(test::wait_until([&] {
    while (raw.recv(m, zmq::recv_flags::dontwait)) {
      if (m.to_string() == kHeartbeatTopic) announced = true;
    }
    return announced;
  }));
}

// A raw XPUB plays the publisher, so that the rules are checked message by message.
class RawPublisher {
 public:
  RawPublisher() : xpub_(ctx_, zmq::socket_type::xpub) {
    xpub_.set(zmq::sockopt::xpub_verbose, 1);
    xpub_.bind("tcp://127.0.0.1:*");
    endpoint_ = xpub_.get(zmq::sockopt::last_endpoint);
  }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }
  /// Waits until the subscription `topic` is in effect here.
  bool wait_subscription(const std::string& topic) {
    return test::wait_until([&] {
      zmq::message_t m;
      while (xpub_.recv(m, zmq::recv_flags::dontwait)) seen_.insert(m.to_string());
      return seen_.count(std::string(1, '\1') + topic) != 0;
    });
  }
  void publish(const std::string& topic, std::uint64_t sequence) {
    Header h;
    h.kind = Kind::publish;
    h.sender_id = kId;
    h.sender_session = kSession;
    h.type = "T";
    h.sequence = sequence;
    send(topic, h, zmq::message_t(std::string_view("x")));
  }
  void announce(const Sequences& s) { announce(encode(s)); }
  void announce(zmq::message_t payload) {
    Header h;
    h.kind = Kind::sequences;
    h.sender_id = kId;
    h.sender_session = kSession;
    send(kHeartbeatTopic, h, std::move(payload));
  }
  static constexpr PeerId kId = 0x5eed;
  static constexpr std::uint64_t kSession = 0xc0ffee;

 private:
  void send(const std::string& topic, const Header& h, zmq::message_t payload) {
    xpub_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    xpub_.send(encoder_.encode(h), zmq::send_flags::sndmore);
    xpub_.send(payload, zmq::send_flags::none);
  }
  zmq::context_t ctx_;
  zmq::socket_t xpub_;
  std::string endpoint_;
  std::set<std::string> seen_;  // subscription messages received
  EnvelopeEncoder encoder_;
};

TEST(BroadcastHeartbeat, AnnouncementsCountWhatWasMissedOnceAndOnlyForOurPrefixes) {
  RawPublisher raw;
  auto sub = started(test_options("sub", 1));
  std::atomic<long> received{0};
  std::atomic<long> gap_calls{0};
  std::atomic<long> gap_total{0};
  auto reg = sub->subscribe("weather/", [&](const Message&) { ++received; });
  auto gaps = sub->on_gap([&](PeerId from, std::string_view topic, std::uint64_t missed) {
    EXPECT_EQ(from, RawPublisher::kId);
    EXPECT_EQ(topic, "weather/paris");
    ++gap_calls;
    gap_total += static_cast<long>(missed);
  });
  sub->subscribe_to(raw.endpoint());
  ASSERT_TRUE(raw.wait_subscription("weather/"));
  ASSERT_TRUE(raw.wait_subscription(kHeartbeatTopic));

  raw.publish("weather/paris", 3);  // starts tracking at 3
  ASSERT_TRUE(test::wait_until([&] { return received.load() == 1; }));
  // 4..10 never arrived; news/x is not ours; weather/oslo was never received: not
  // tracked, so its announcement counts nothing (tracking starts with its first Publish).
  raw.announce(Sequences{{{"weather/paris", 10}, {"news/x", 7}, {"weather/oslo", 4}}});
  ASSERT_TRUE(test::wait_until([&] { return sub->stats().gaps == 7; }));
  raw.announce(Sequences{{{"weather/paris", 10}, {"weather/oslo", 4}}});  // a repeat
  raw.publish("weather/paris", 11);                                       // continues
  raw.publish("weather/oslo", 5);
  ASSERT_TRUE(test::wait_until([&] { return received.load() == 3; }));
  raw.announce(Sequences{{{"weather/paris", 11}, {"weather/oslo", 5}}});
  raw.announce(zmq::message_t(std::string_view("not a flatbuffer")));
  ASSERT_TRUE(test::wait_until([&] { return sub->stats().malformed == 1; }));
  EXPECT_EQ(sub->stats().gaps, 7U);
  ASSERT_TRUE(test::wait_until([&] { return gap_calls.load() == 1; }));
  EXPECT_EQ(gap_total.load(), 7);
  const auto pubs = sub->publishers();
  ASSERT_EQ(pubs.size(), 1U);
  EXPECT_EQ(pubs[0].gaps, 7U);
  EXPECT_EQ(pubs[0].received, 3U);
  EXPECT_EQ(pubs[0].topics, 2U) << "news/x is not tracked";
}

}  // namespace
}  // namespace zmesh
