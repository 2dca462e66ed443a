#include "broadcasts.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <vector>

#include "unit_harness.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;
using test::ComponentEnv;

PeerOptions publisher_options() {
  PeerOptions o;
  o.workers = 1;
  return o;
}

PeerOptions subscriber_options(std::size_t max_followed = 1024) {
  PeerOptions o;
  o.workers = 1;
  o.pub_bind = "";  // subscribes only
  o.max_followed_publishers = max_followed;
  return o;
}

/// A Broadcasts with its Dispatcher, and the test's end of the one worker pipe.
struct Node {
  Node(zmq::context_t& zctx, PeerOptions o)
      : env(zctx, std::move(o)),
        dispatcher(*env.ctx, [](const ResultMeta&, zmq::message_t) {}),
        broadcasts(*env.ctx, dispatcher) {
    dispatcher.open();
    worker = zmq::socket_t(zctx, zmq::socket_type::pair);
    worker.set(zmq::sockopt::linger, 0);
    worker.connect(worker_endpoint(env.shared.uid, 0));
    endpoint = broadcasts.open();
  }
  ~Node() {
    broadcasts.close(kByeLinger);
    dispatcher.close();
  }
  ComponentEnv env;
  Dispatcher dispatcher;
  Broadcasts broadcasts;
  zmq::socket_t worker;
  std::string endpoint;
};

/// A raw XPUB the test binds: it sees the subscriptions a SUB sends it.
zmq::socket_t raw_xpub(zmq::context_t& zctx, std::string& endpoint) {
  zmq::socket_t s(zctx, zmq::socket_type::xpub);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::xpub_verbose, 1);
  s.bind("tcp://127.0.0.1:*");
  endpoint = s.get(zmq::sockopt::last_endpoint);
  return s;
}

/// Waits for a subscription to `topic` at a raw XPUB.
bool sees_subscription(zmq::socket_t& xpub, std::string_view topic,
                       std::chrono::milliseconds timeout = 2s) {
  const std::string want = std::string(1, '\1') + std::string(topic);
  zmq::message_t m;
  return test::pump_until([&] { return view_of(m) == want; },
                          [&] {
                            while (view_of(m) != want && xpub.recv(m, zmq::recv_flags::dontwait)) {
                            }
                          },
                          timeout);
}

TEST(Broadcasts, PublishNumbersEachTopic) {
  zmq::context_t zctx;
  Node pub(zctx, publisher_options());
  ASSERT_FALSE(pub.endpoint.empty());
  zmq::socket_t sub(zctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(pub.endpoint);
  ASSERT_TRUE(
      test::pump_until([&] { return pub.env.shared.counters.subscriptions_seen.load() >= 1; },
                       [&] { (void)pub.broadcasts.read_xpub(); }));

  for (const char* topic : {"a", "b", "a", "a", "b"}) {
    pub.broadcasts.publish(test::text_frame(topic), "tick", test::text_frame("p"));
  }
  EXPECT_EQ(pub.env.shared.counters.published.load(), 5u);

  EnvelopeDecoder dec;
  std::map<std::string, std::vector<std::uint64_t>> seqs;
  for (int i = 0; i < 5; ++i) {
    FrameSet frames;
    ASSERT_TRUE(test::recv_within(sub, frames));
    auto env = dec.decode(Layout::sub, frames);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->header.kind, Kind::publish);
    EXPECT_EQ(env->header.sender_id, pub.env.shared.id);
    EXPECT_EQ(env->header.type, "tick");
    seqs[std::string(env->topic)].push_back(env->header.sequence);
  }
  EXPECT_EQ(seqs["a"], (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(seqs["b"], (std::vector<std::uint64_t>{1, 2}));
}

TEST(Broadcasts, FollowsAnnouncedPublishersOnlyWhileSubscribed) {
  zmq::context_t zctx;
  Node node(zctx, subscriber_options());
  EXPECT_TRUE(node.endpoint.empty());
  std::string ep;
  zmq::socket_t xpub = raw_xpub(zctx, ep);

  node.broadcasts.announce(ep, +1);
  zmq::message_t m;
  EXPECT_FALSE(test::pump_until([&] { return xpub.recv(m, zmq::recv_flags::dontwait).has_value(); },
                                [] {}, 200ms))
      << "the SUB connected without any subscription";
  // Nothing followed: a sync is trivially complete.
  auto done = std::make_unique<SyncCompletion>();
  auto synced = done->done.get_future();
  node.broadcasts.sync(Deadline::after(1s), std::move(done));
  EXPECT_EQ(synced.wait_for(0s), std::future_status::ready);

  node.broadcasts.subscribe("t");
  EXPECT_TRUE(sees_subscription(xpub, "t")) << "subscribed, yet not following " << ep;
}

TEST(Broadcasts, FollowsAtMostMaxFollowedPublishers) {
  zmq::context_t zctx;
  Node node(zctx, subscriber_options(/*max_followed=*/1));
  std::string ep1, ep2;
  zmq::socket_t x1 = raw_xpub(zctx, ep1);
  zmq::socket_t x2 = raw_xpub(zctx, ep2);
  node.broadcasts.subscribe("t");
  node.broadcasts.announce(ep1, +1);
  node.broadcasts.announce(ep2, +1);
  EXPECT_EQ(node.env.shared.counters.publishers_refused.load(), 1u);
  EXPECT_TRUE(sees_subscription(x1, "t"));
  EXPECT_FALSE(sees_subscription(x2, "t", 200ms)) << "followed past the bound";

  // The first publisher goes: there is room for the second.
  node.broadcasts.announce(ep1, -1);
  EXPECT_TRUE(sees_subscription(x2, "t"));
  EXPECT_EQ(node.env.shared.counters.publishers_refused.load(), 1u);
}

TEST(Broadcasts, SequenceJumpCountsAGap) {
  zmq::context_t zctx;
  Node node(zctx, subscriber_options());
  std::string ep;
  zmq::socket_t xpub = raw_xpub(zctx, ep);
  node.broadcasts.subscribe("t");
  node.broadcasts.follow(ep);
  ASSERT_TRUE(sees_subscription(xpub, "t"));

  const PeerId publisher = 0x5150;
  EnvelopeEncoder enc;
  for (const std::uint64_t seq : {1, 2, 5}) {
    Header h = test::make_header(Kind::publish, 0, publisher, 99);
    h.type = "tick";
    h.sequence = seq;
    xpub.send(test::text_frame("t"), zmq::send_flags::sndmore);
    xpub.send(enc.encode(h), zmq::send_flags::sndmore);
    xpub.send(test::text_frame("p"), zmq::send_flags::none);
  }
  ASSERT_TRUE(
      test::pump_until([&] { return node.env.shared.counters.broadcasts_received.load() == 3; },
                       [&] { (void)node.broadcasts.read_sub(); }));
  EXPECT_EQ(node.env.shared.counters.gaps.load(), 2u);
  const auto pubs = node.broadcasts.publishers();
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].publisher, publisher);
  EXPECT_EQ(pubs[0].received, 3u);
  EXPECT_EQ(pubs[0].gaps, 2u);

  // The worker is told: broadcasts 1 and 2, a gap of 2 on "t", then broadcast 5.
  std::vector<std::pair<WorkOp, std::uint64_t>> work;
  for (int i = 0; i < 4; ++i) {
    FrameSet frames;
    ASSERT_TRUE(test::recv_within(node.worker, frames));
    Names names;
    auto meta = read_work(frames, names);
    ASSERT_TRUE(meta);
    work.emplace_back(meta->op, meta->op == WorkOp::gap ? meta->missed : meta->sequence);
    if (meta->op == WorkOp::gap) {
      EXPECT_EQ(names.topic, "t");
    }
  }
  EXPECT_EQ(work, (std::vector<std::pair<WorkOp, std::uint64_t>>{{WorkOp::broadcast, 1},
                                                                 {WorkOp::broadcast, 2},
                                                                 {WorkOp::gap, 2},
                                                                 {WorkOp::broadcast, 5}}));
}

}  // namespace
}  // namespace zmesh::detail
