// The greeting, driven from the other end by a hand-written fake peer: a raw ZeroMQ
// ROUTER that speaks the protocol through zmesh::core only (as another implementation
// would), so each step is under the test's control.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "peer_fixture.hpp"
#include "test_support.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;

class FakePeer {
 public:
  FakePeer() : router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    info_ = PeerInfo{0xfa4e, random_id(), "fake", {endpoint_}, {}, {}};
  }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }
  [[nodiscard]] PeerId id() const { return info_.id; }

  /// Receives the next message (skipping pings); false after `timeout`.
  bool next(Envelope& env, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) return false;
      frames_.recv(router_);
      auto decoded = decoder_.decode(Layout::router, frames_);
      if (!decoded) return false;
      identity_ = std::string(decoded->identity);
      if (decoded->header.kind == Kind::ping) continue;
      env = *decoded;
      return true;
    }
  }

  void reply(Kind kind, std::uint64_t correlation_id, zmq::message_t payload) {
    Header h;
    h.kind = kind;
    h.correlation_id = correlation_id;
    h.sender_id = info_.id;
    h.sender_session = info_.session;
    router_.send(zmq::buffer(identity_), zmq::send_flags::sndmore);
    router_.send(encoder_.encode(h), zmq::send_flags::sndmore);
    router_.send(payload, zmq::send_flags::none);
  }
  void welcome(std::uint64_t correlation_id) {
    reply(Kind::welcome, correlation_id, encode(Welcome{kProtocolVersion, info_, 100}));
  }

  [[nodiscard]] std::string payload_text(const Envelope& env) const {
    return {reinterpret_cast<const char*>(env.payload.data()), env.payload.size()};
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t router_;
  std::string endpoint_;
  PeerInfo info_;
  std::string identity_;
  FrameSet frames_;
  EnvelopeEncoder encoder_;
  EnvelopeDecoder decoder_;
};

TEST(Greeting, HelloComesFirstAndCarriesWhoWeAre) {
  FakePeer fake;
  auto opts = test_options("greeter");
  opts.services = {"quotes"};
  auto peer = started(opts);
  auto connected = peer->connect(fake.endpoint());
  Envelope env;
  ASSERT_TRUE(fake.next(env));
  ASSERT_EQ(env.header.kind, Kind::hello);
  EXPECT_EQ(env.header.sender_id, peer->id());
  auto hello = decode_control<Hello>(env.payload, {});
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(hello->peer.name, "greeter");
  EXPECT_EQ(hello->peer.services, std::vector<std::string>{"quotes"});
  EXPECT_EQ(hello->peer.endpoints, std::vector<std::string>{peer->endpoint()});
  fake.welcome(env.header.correlation_id);
  EXPECT_EQ(connected.get(), fake.id());
}

TEST(Greeting, AdvertisedEndpointsAreAnnouncedInsteadOfTheBoundOnes) {
  FakePeer fake;
  auto opts = test_options("behind-nat");
  opts.advertise = "tcp://zmesh-a.example:7500";
  opts.pub_advertise = "tcp://zmesh-a.example:7501";
  auto peer = started(opts);
  EXPECT_EQ(peer->endpoint(), "tcp://zmesh-a.example:7500");
  auto connected = peer->connect(fake.endpoint());
  Envelope env;
  ASSERT_TRUE(fake.next(env));
  auto hello = decode_control<Hello>(env.payload, {});
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(hello->peer.endpoints, std::vector<std::string>{"tcp://zmesh-a.example:7500"});
  EXPECT_EQ(hello->peer.pub_endpoints, std::vector<std::string>{"tcp://zmesh-a.example:7501"});
  fake.welcome(env.header.correlation_id);
  EXPECT_EQ(connected.get(), fake.id());
}

TEST(Greeting, RejectReachesTheCallerWithItsReason) {
  FakePeer fake;
  auto peer = started(test_options("greeter"));
  auto connected = peer->connect(fake.endpoint());
  Envelope env;
  ASSERT_TRUE(fake.next(env));
  fake.reply(Kind::reject, env.header.correlation_id,
             encode(Reject{WireError::unsupported_version, "this peer speaks v7 only"}));
  try {
    connected.get();
    FAIL() << "connect succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::unsupported_version);
    EXPECT_NE(std::string(e.what()).find("v7 only"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(peer->connections().empty());
}

TEST(Greeting, TrafficDuringAGreetingWaitsAndIsDeliveredInOrderAfter) {
  FakePeer fake;
  auto peer = started(test_options("greeter"));
  auto connected = peer->connect(fake.endpoint());
  Envelope env;
  ASSERT_TRUE(fake.next(env));
  fake.welcome(env.header.correlation_id);
  const PeerId id = connected.get();

  // The fake "restarts": it answers a request with UnknownPeer, which makes the peer
  // greet again. While that greeting is unanswered, sends wait in the greeting queue.
  auto lost = peer->request(id, "Q", "lost", 5s);
  ASSERT_TRUE(fake.next(env));
  ASSERT_EQ(env.header.kind, Kind::request);
  fake.reply(Kind::error, env.header.correlation_id,
             encode(ErrorReply{WireError::unknown_peer, "who are you?"}));
  try {
    lost.get();
    FAIL() << "request survived the restart";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::peer_gone);
  }
  ASSERT_TRUE(fake.next(env));
  ASSERT_EQ(env.header.kind, Kind::hello);
  const auto hello_id = env.header.correlation_id;
  for (int i = 0; i < 5; ++i) peer->send(id, "Tick", std::to_string(i));
  ASSERT_TRUE(test::wait_until([&] {
    auto c = peer->connections();
    return c.size() == 1 && c[0].queued == 5 && c[0].state == ConnectionState::greeting;
  }));
  Envelope early;
  EXPECT_FALSE(fake.next(early, 200ms)) << "traffic went out before the WELCOME";

  fake.welcome(hello_id);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(fake.next(env));
    EXPECT_EQ(env.header.kind, Kind::message);
    EXPECT_EQ(env.header.type, "Tick");
    EXPECT_EQ(fake.payload_text(env), std::to_string(i));
  }
}

TEST(Greeting, MalformedFramesAreCountedAndDroppedWithoutHarm) {
  auto server = started(test_options("server"));
  auto reg = server->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto client = started(test_options("client"));
  const PeerId id = client->connect(server->endpoint()).get();
  {
    zmq::context_t ctx;
    zmq::socket_t raw(ctx, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(server->endpoint());
    raw.send(zmq::str_buffer("garbage"), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer("more garbage"), zmq::send_flags::none);
    raw.send(zmq::str_buffer("one frame only"), zmq::send_flags::none);
    ASSERT_TRUE(test::wait_until([&] { return server->stats().malformed == 2; }));
  }
  EXPECT_EQ(client->request(id, "Echo", "unharmed").get().payload, "unharmed");
}

}  // namespace
}  // namespace zmesh
