// The decisions of docs/protocol.md that another implementation relies on, checked from
// outside: a raw DEALER (tests/support/raw_peer.hpp) or a raw ROUTER plays the other
// implementation against a real zmesh peer. The conformance table of protocol.md
// (section 11) names these tests.
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "peer_fixture.hpp"
#include "raw_peer.hpp"
#include "test_support.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::RawPeer;
using test::started;
using test::test_options;

Hello hello_of(const RawPeer& raw, std::uint32_t interval_ms = 100) {
  return Hello{1, raw.info(), interval_ms, 1};
}

std::optional<ConnectionStats> connection_to(const Peer& p, PeerId id) {
  for (auto& c : p.connections()) {
    if (c.peer == id) return c;
  }
  return std::nullopt;
}

bool connected_to(const Peer& p, PeerId id) {
  return connection_to(p, id).has_value();
}

// ------------------------------------------------------------------ versions (5.1, 9)

TEST(Conformance, HelloOfferingNewerVersionsIsWelcomedAtTheHighestCommonOne) {
  auto peer = started(test_options("v1"));
  RawPeer raw("v5");
  raw.connect(peer->endpoint());
  Hello h = hello_of(raw);
  h.protocol_version = 5;  // a future peer that still speaks 1
  const auto answer = raw.greet_with(h);
  ASSERT_EQ(answer.kind, Kind::welcome);
  EXPECT_EQ(answer.as<Welcome>().protocol_version, 1);
}

TEST(Conformance, HelloAcceptingOnlyNewerVersionsIsRejectedUnsupportedVersion) {
  auto peer = started(test_options("v1"));
  RawPeer raw("v2-only");
  raw.connect(peer->endpoint());
  Hello h = hello_of(raw);
  h.protocol_version = 3;
  h.min_protocol_version = 2;
  const auto answer = raw.greet_with(h);
  ASSERT_EQ(answer.kind, Kind::reject);
  EXPECT_EQ(answer.error_code(), WireError::unsupported_version);
  EXPECT_NE(answer.as<Reject>().reason.find("2..3"), std::string::npos);
  EXPECT_EQ(peer->stats().greetings_refused, 1u);
}

TEST(Conformance, HelloWithAHeaderVersionOtherThanOneIsRejectedNotIgnored) {
  auto peer = started(test_options("v1"));
  for (const std::uint8_t version : {std::uint8_t{0}, std::uint8_t{2}}) {
    RawPeer raw("wrong-header");
    raw.set_header_version(version);
    raw.connect(peer->endpoint());
    const auto answer = raw.greet(3s);
    ASSERT_EQ(answer.kind, Kind::reject) << int(version);
    EXPECT_EQ(answer.error_code(), WireError::unsupported_version);
  }
  // Any other kind with a version we do not read is dropped, unanswered, and counted.
  RawPeer raw("later");
  raw.connect(peer->endpoint());
  ASSERT_EQ(raw.greet().kind, Kind::welcome);
  raw.set_header_version(2);
  const auto corr = raw.request("Echo", "x");
  ASSERT_NE(corr, 0u);
  EXPECT_FALSE(raw.wait_answer(corr, 500ms));
  EXPECT_GE(peer->stats().malformed, 1u);
}

// ------------------------------------------------------------------ refused content (7)

TEST(Conformance, UndecodableGreetingIsMalformedAndABadValueIsBadRequest) {
  auto peer = started(test_options("strict"));
  RawPeer garbage("garbage");
  garbage.connect(peer->endpoint());
  const std::string bytes(40, '\x7f');
  auto answer = garbage.greet_raw(zmq::message_t(bytes.data(), bytes.size()));
  ASSERT_EQ(answer.kind, Kind::reject);
  EXPECT_EQ(answer.error_code(), WireError::malformed);

  // Decodes, but values break a rule: an empty name, a zero or too long interval.
  for (int variant = 0; variant < 3; ++variant) {
    RawPeer raw("valued");
    raw.connect(peer->endpoint());
    Hello h = hello_of(raw, variant == 1 ? 0 : variant == 2 ? 60001 : 100);
    if (variant == 0) h.peer.name.clear();
    answer = raw.greet_with(h);
    ASSERT_EQ(answer.kind, Kind::reject) << variant;
    EXPECT_EQ(answer.error_code(), WireError::bad_request) << variant;
    EXPECT_NE(answer.as<Reject>().reason.find("heartbeat_interval_ms in 10..60000"),
              std::string::npos);
  }
  EXPECT_EQ(peer->stats().greetings_refused, 4u);
}

// ------------------------------------------------------------------ greeting (5.1)

TEST(Conformance, SecondHelloOfTheSameSessionIsWelcomedAgainAndChangesNothing) {
  auto peer = started(test_options("host"));
  auto echo = peer->on("Echo", [](const Message& m) { return std::string(m.text()); });
  RawPeer raw("twice");
  raw.connect(peer->endpoint());
  ASSERT_EQ(raw.greet().kind, Kind::welcome);
  const auto pending = raw.request("Echo", "before");
  const auto again = raw.send_kind(Kind::hello, encode(hello_of(raw)));
  // Both answers come, in either order: the Welcome and the pending request's Reply.
  bool welcomed = false;
  bool replied = false;
  for (int i = 0; i < 2; ++i) {
    const auto m = raw.read(5s);
    if (m.correlation_id == again) welcomed = m.kind == Kind::welcome;
    if (m.correlation_id == pending) replied = m.kind == Kind::reply && m.payload == "before";
  }
  EXPECT_TRUE(welcomed);
  EXPECT_TRUE(replied);
  EXPECT_EQ(peer->connections().size(), 1u);
  EXPECT_EQ(peer->stats().connections, 1u);
}

TEST(Conformance, UngreetedRequestAndPingAreAnsweredUnknownPeer) {
  auto peer = started(test_options("host"));
  RawPeer raw("rude");
  raw.connect(peer->endpoint());
  const auto req = raw.request("Echo", "x");
  auto answer = raw.wait_answer(req, 5s);
  ASSERT_EQ(answer.kind, Kind::error);
  EXPECT_EQ(answer.error_code(), WireError::unknown_peer);
  const auto ping = raw.ping();
  answer = raw.wait_answer(ping, 5s);
  ASSERT_EQ(answer.kind, Kind::error);
  EXPECT_EQ(answer.error_code(), WireError::unknown_peer);
  // A Message gets nothing, but is counted.
  ASSERT_EQ(raw.message("Tick", "x"), 1u);
  EXPECT_TRUE(test::wait_until([&] { return peer->stats().unexpected >= 3; }, 5s));
}

TEST(Conformance, PongEchoesThePingsPayloadAndCorrelationId) {
  auto peer = started(test_options("host"));
  RawPeer raw("pinger");
  raw.connect(peer->endpoint());
  ASSERT_EQ(raw.greet().kind, Kind::welcome);
  const Ping ping{0x0123456789abcdefULL, 424242};
  const auto corr = raw.send_kind(Kind::ping, encode(ping));
  const auto pong = raw.wait_answer(corr, 5s);
  ASSERT_EQ(pong.kind, Kind::pong);
  EXPECT_EQ(pong.as<Ping>(), ping);
}

TEST(Conformance, UnknownFlagBitsAreIgnored) {
  auto peer = started(test_options("host"));
  auto echo = peer->on("Echo", [](const Message& m) { return std::string(m.text()); });
  RawPeer raw("flags");
  raw.connect(peer->endpoint());
  ASSERT_EQ(raw.greet().kind, Kind::welcome);
  const auto corr = raw.request("Echo", "flagged", 0xfffffffeU);  // every bit but NoReply
  const auto answer = raw.wait_answer(corr, 5s);
  ASSERT_EQ(answer.kind, Kind::reply);
  EXPECT_EQ(answer.payload, "flagged");
}

TEST(Conformance, ByeFailsWhatIsPendingOnThatPeerAtOnce) {
  auto o = test_options("requester");
  o.heartbeat_timeout = 30s;  // so that only the Bye can end it
  auto peer = started(o);
  RawPeer raw("leaver");
  raw.connect(peer->endpoint());
  ASSERT_EQ(raw.greet().kind, Kind::welcome);
  auto pending = peer->request(raw.id(), "Work", "x", 20s);
  const auto got = raw.read(5s);
  ASSERT_EQ(got.kind, Kind::request);
  ASSERT_EQ(raw.bye(), 1u);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  try {
    (void)pending.get();
    ADD_FAILURE() << "the request succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), make_error_code(errc::peer_gone)) << e.what();
  }
  EXPECT_FALSE(connected_to(*peer, raw.id()));
}

// ------------------------------------------------------------------ liveness (5.4)

TEST(Conformance, AnnouncedIntervalIsHonouredBeforeDeclaringAPeerGone) {
  // Our own setting would call a peer gone after 300 ms of silence.
  auto o = test_options("judge");
  o.heartbeat_timeout = 300ms;
  auto peer = started(o);

  // This one announced 2 s: it is gone only after 3 x 2 s = 6 s of silence.
  RawPeer slow("slow-pinger");
  slow.connect(peer->endpoint());
  ASSERT_EQ(slow.greet_with(hello_of(slow, 2000)).kind, Kind::welcome);
  // This one announced 100 ms: gone after max(300 ms, 3 x 100 ms).
  RawPeer fast("fast-pinger");
  fast.connect(peer->endpoint());
  ASSERT_EQ(fast.greet_with(hello_of(fast, 100)).kind, Kind::welcome);

  // Both fall silent (they read nothing, so they answer no Ping).
  ASSERT_TRUE(test::wait_until([&] { return !connected_to(*peer, fast.id()); }, 10s));
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(connected_to(*peer, slow.id()));
}

TEST(Conformance, DuplicateIdIsRefusedWhileLiveAndTakenAsARestartOnceSuspect) {
  auto o = test_options("arbiter");
  o.heartbeat_interval = 100ms;
  o.heartbeat_timeout = 20s;  // suspect after 200 ms, gone only after 20 s
  auto peer = started(o);
  auto echo = peer->on("Echo", [](const Message& m) { return std::string(m.text()); });

  RawPeer first("first");
  first.connect(peer->endpoint());
  ASSERT_EQ(first.greet().kind, Kind::welcome);
  const auto corr = first.request("Echo", "live");
  ASSERT_EQ(first.wait_answer(corr, 5s).kind, Kind::reply);

  // Another session with the same id, while the first one was just heard from.
  RawPeer second("second");
  second.connect(peer->endpoint());
  const auto refused = second.greet(first.id(), random_id());
  ASSERT_EQ(refused.kind, Kind::reject);
  EXPECT_EQ(refused.error_code(), WireError::duplicate_id);

  // The first one falls silent past 2 x max(100, 100) ms: suspect, so the same
  // Hello now is its restart and replaces it.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto c = connection_to(*peer, first.id());
        return c && c->state == ConnectionState::suspect;
      },
      10s));
  const auto replaced = second.greet(first.id(), random_id());
  ASSERT_EQ(replaced.kind, Kind::welcome);
  // The old session's next request finds itself not greeted.
  const auto late = first.request("Echo", "still there?");
  const auto answer = first.wait_answer(late, 5s);
  ASSERT_EQ(answer.kind, Kind::error);
  EXPECT_EQ(answer.error_code(), WireError::unknown_peer);
  const auto c = connection_to(*peer, first.id());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(peer->connections().size(), 1u);
}

// ------------------------------------------------------------------ the connecting side

// A ROUTER that answers the first Hello with `welcome` (as a peer of `id`).
class FakeAcceptor {
 public:
  explicit FakeAcceptor(Welcome welcome) : welcome_(std::move(welcome)) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAcceptor() { thread_.join(); }
  FakeAcceptor(const FakeAcceptor&) = delete;
  FakeAcceptor& operator=(const FakeAcceptor&) = delete;
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  void serve() {
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(5000)) == 0) return;
    FrameSet frames;
    frames.recv(router_);
    EnvelopeDecoder decoder{Limits{}};
    auto env = decoder.decode(Layout::router, frames);
    if (!env || env->header.kind != Kind::hello) return;
    Header h;
    h.kind = Kind::welcome;
    h.correlation_id = env->header.correlation_id;
    h.sender_id = welcome_.peer.id;
    h.sender_session = welcome_.peer.session;
    EnvelopeEncoder encoder;
    router_.send(zmq::buffer(env->identity), zmq::send_flags::sndmore);
    router_.send(encoder.encode(h), zmq::send_flags::sndmore);
    router_.send(encode(welcome_), zmq::send_flags::none);
  }

  zmq::context_t ctx_{1};
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  Welcome welcome_;
  std::string endpoint_;
  std::thread thread_;
};

TEST(Conformance, WelcomeNamingAVersionWeDidNotOfferFailsTheGreeting) {
  auto peer = started(test_options("c"));
  FakeAcceptor acceptor(Welcome{2, PeerInfo{random_id(), random_id(), "v2", {}, {}, {}}, 100});
  auto f = peer->connect(acceptor.endpoint());
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  try {
    f.get();
    ADD_FAILURE() << "a Welcome at version 2 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), make_error_code(errc::unsupported_version)) << e.what();
  }
}

TEST(Conformance, WelcomeWithAZeroIntervalFailsTheGreetingAsMalformed) {
  auto peer = started(test_options("c"));
  FakeAcceptor acceptor(Welcome{1, PeerInfo{random_id(), random_id(), "zero", {}, {}, {}}, 0});
  auto f = peer->connect(acceptor.endpoint());
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  try {
    f.get();
    ADD_FAILURE() << "a Welcome with heartbeat_interval_ms 0 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), make_error_code(errc::malformed)) << e.what();
  }
}

}  // namespace
}  // namespace zmesh
