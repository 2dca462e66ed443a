#include "discovery.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "unit_harness.hpp"
#include "zmesh/core/control.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;
using test::ComponentEnv;

/// A raw ROUTER playing the broker (docs/protocol.md, broker protocol).
struct FakeBroker {
  explicit FakeBroker(zmq::context_t& zctx) : router(zctx, zmq::socket_type::router) {
    router.set(zmq::sockopt::linger, 0);
    router.bind("tcp://127.0.0.1:*");
    endpoint = router.get(zmq::sockopt::last_endpoint);
  }
  struct Got {
    Kind kind = Kind::invalid;
    std::uint64_t correlation = 0;
    std::vector<std::byte> payload;
  };
  /// Next message from the client, pumping `step` meanwhile; kind invalid if none.
  Got next(const std::function<void()>& step, std::chrono::milliseconds timeout = 2s) {
    Got got;
    (void)test::pump_until(
        [&] {
          if (!frames.recv(router, zmq::recv_flags::dontwait)) return false;
          auto env = dec.decode(Layout::router, frames);
          if (!env) return false;
          identity = std::string(env->identity);
          got.kind = env->header.kind;
          got.correlation = env->header.correlation_id;
          got.payload.assign(env->payload.begin(), env->payload.end());
          return true;
        },
        step, timeout);
    return got;
  }
  /// The next message of `kind`, skipping others.
  Got next_of(Kind kind, const std::function<void()>& step) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
      Got g = next(step, 200ms);
      if (g.kind == kind) return g;
    }
    return {};
  }
  void send(Kind kind, std::uint64_t correlation, zmq::message_t payload) {
    router.send(zmq::buffer(identity), zmq::send_flags::sndmore);
    router.send(enc.encode(test::make_header(kind, correlation, kId, 1)), zmq::send_flags::sndmore);
    router.send(payload, zmq::send_flags::none);
  }
  static constexpr PeerId kId = 0xB0B;
  zmq::socket_t router;
  std::string endpoint;
  std::string identity;
  FrameSet frames;
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
};

PeerInfo member(PeerId id, std::string name) {
  PeerInfo p;
  p.id = id;
  p.session = id + 1;
  p.name = std::move(name);
  p.endpoints = {"tcp://127.0.0.1:" + std::to_string(20000 + id % 1000)};
  return p;
}

/// Discovery events that record who joined and left, and connect nobody.
Discovery::Events recording(std::vector<PeerId>& joined, std::vector<PeerId>& left) {
  return Discovery::Events{
      .joined = [&joined](const PeerInfo& p) { joined.push_back(p.id); },
      .left = [&left](const PeerInfo& p) { left.push_back(p.id); },
      .connect = [](const PeerInfo&, std::unique_ptr<ConnectCompletion>&) { return false; },
  };
}

struct DiscoveryTest : ::testing::Test {
  DiscoveryTest()
      : broker(zctx),
        env(zctx,
            [&] {
              PeerOptions o;
              o.name = "me";
              o.broker = broker.endpoint;
              return o;
            }()),
        discovery(*env.ctx, recording(joined, left)) {
    discovery.open();
  }
  ~DiscoveryTest() override { discovery.close(); }

  void step() {
    discovery.on_timers(SteadyClock::now());
    (void)discovery.read();
  }
  /// Answers the next Lookup (which must ask for the page after `after`) with `peers`
  /// and `next`.
  void answer_page(std::uint64_t epoch, std::uint64_t after, std::vector<PeerInfo> peers,
                   std::uint64_t next, std::uint64_t uptime_ms = 60000) {
    auto lookup = broker.next_of(Kind::lookup, [&] { step(); });
    ASSERT_EQ(lookup.kind, Kind::lookup) << "no Lookup for the page after " << after;
    const auto q = decode_control<Lookup>(lookup.payload, Limits{});
    ASSERT_TRUE(q);
    EXPECT_EQ(q->after, after);
    PeerList list{epoch, {}, uptime_ms, next};
    for (auto& p : peers) list.peers.push_back(PeerRecord{std::move(p), 5});
    broker.send(Kind::peer_list, lookup.correlation, encode(list));
  }
  /// Register, ack with `epoch`, answer the full listing with `peers`.
  void register_with(std::uint64_t epoch, std::vector<PeerInfo> peers) {
    auto reg = broker.next_of(Kind::reg, [&] { step(); });
    ASSERT_EQ(reg.kind, Kind::reg) << "no Register within 2 s";
    auto r = decode_control<Register>(reg.payload, Limits{});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->peer.id, env.shared.id);
    EXPECT_EQ(r->peer.name, "me");
    broker.send(Kind::register_ack, reg.correlation,
                encode(RegisterAck{epoch, 3000, 1000, ack_sequence}));
    auto lookup = broker.next_of(Kind::lookup, [&] { (void)discovery.read(); });
    ASSERT_EQ(lookup.kind, Kind::lookup) << "no full listing asked after the ack";
    EXPECT_TRUE(env.shared.registered.load());
    PeerList list{epoch, {}, 60000};  // a broker past its warm-up
    for (auto& p : peers) list.peers.push_back(PeerRecord{std::move(p), 5});
    broker.send(Kind::peer_list, lookup.correlation, encode(list));
  }

  std::uint64_t ack_sequence = 0;  // RegisterAck.event_sequence register_with() sends
  zmq::context_t zctx;
  FakeBroker broker;
  ComponentEnv env;
  std::vector<PeerId> joined, left;
  Discovery discovery;
};

TEST_F(DiscoveryTest, RegistersThenListingPopulatesMembers) {
  PeerInfo self = member(env.shared.id, "me");
  register_with(7, {member(0x10, "x"), member(0x20, "y"), self});
  ASSERT_TRUE(test::pump_until([&] { return joined.size() >= 2; }, [&] { step(); }));
  EXPECT_EQ(joined, (std::vector<PeerId>{0x10, 0x20}));  // never ourselves
  const auto members = discovery.members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].name, "x");
  EXPECT_EQ(members[1].name, "y");
  EXPECT_TRUE(left.empty());
}

TEST_F(DiscoveryTest, LeaveAndJoinEventsUpdateMembers) {
  register_with(7, {member(0x10, "x"), member(0x20, "y")});
  ASSERT_TRUE(test::pump_until([&] { return joined.size() >= 2; }, [&] { step(); }));

  broker.send(Kind::event, 0, encode(Event{7, EventType::leave, member(0x10, "x"), "bye"}));
  ASSERT_TRUE(test::pump_until([&] { return !left.empty(); }, [&] { step(); }));
  EXPECT_EQ(left, std::vector<PeerId>{0x10});
  ASSERT_EQ(discovery.members().size(), 1u);
  EXPECT_EQ(discovery.members()[0].id, 0x20u);

  broker.send(Kind::event, 0, encode(Event{7, EventType::join, member(0x30, "z"), ""}));
  ASSERT_TRUE(test::pump_until([&] { return joined.size() == 3; }, [&] { step(); }));
  EXPECT_EQ(joined.back(), 0x30u);
  EXPECT_EQ(discovery.members().size(), 2u);
}

TEST_F(DiscoveryTest, EventFromAnotherBrokerRunRegistersAgain) {
  register_with(7, {});
  broker.send(Kind::event, 0, encode(Event{8, EventType::join, member(0x30, "z"), ""}));
  auto reg = broker.next_of(Kind::reg, [&] { (void)discovery.read(); });
  EXPECT_EQ(reg.kind, Kind::reg) << "no new Register after an event of epoch 8";
  EXPECT_TRUE(joined.empty()) << "took a member from a broker run we are not registered with";
  EXPECT_FALSE(env.shared.registered.load());
}

TEST_F(DiscoveryTest, AListingInPagesIsFollowedToTheLastPage) {
  auto reg = broker.next_of(Kind::reg, [&] { step(); });
  ASSERT_EQ(reg.kind, Kind::reg);
  broker.send(Kind::register_ack, reg.correlation, encode(RegisterAck{7, 3000, 1000}));
  answer_page(7, 0, {member(0x10, "x"), member(0x20, "y")}, 2);
  answer_page(7, 2, {member(0x30, "z")}, 0);
  ASSERT_TRUE(test::pump_until([&] { return joined.size() == 3; }, [&] { step(); }));
  EXPECT_EQ(discovery.members().size(), 3u);
  EXPECT_TRUE(left.empty()) << "the first page is not the whole membership";
}

TEST_F(DiscoveryTest, AJumpInTheEventSequenceResyncsFromAFullListing) {
  ack_sequence = 4;  // the next Event is 5
  register_with(7, {member(0x10, "x")});
  ASSERT_TRUE(test::pump_until([&] { return joined.size() == 1; }, [&] { step(); }));

  Event five{7, EventType::join, member(0x20, "y"), "", 5};
  broker.send(Kind::event, 0, encode(five));
  ASSERT_TRUE(test::pump_until([&] { return joined.size() == 2; }, [&] { step(); }));
  EXPECT_EQ(env.shared.counters.membership_resyncs.load(), 0u);

  // Event 6 was lost (say, while we did not read): 7 tells, and we list again. Meanwhile
  // y left (Event 6) and w joined: the listing shows x, w and z.
  Event seven{7, EventType::join, member(0x40, "z"), "", 7};
  broker.send(Kind::event, 0, encode(seven));
  answer_page(7, 0, {member(0x10, "x"), member(0x30, "w"), member(0x40, "z")}, 0);
  ASSERT_TRUE(test::pump_until([&] { return !left.empty(); }, [&] { step(); }));
  EXPECT_EQ(env.shared.counters.membership_resyncs.load(), 1u);
  EXPECT_EQ(left, std::vector<PeerId>{0x20});
  std::vector<PeerId> now;
  for (const auto& m : discovery.members()) now.push_back(m.id);
  EXPECT_EQ(now, (std::vector<PeerId>{0x10, 0x30, 0x40}));

  // A RegisterAck naming a later Event than the last we saw (9, we saw 7) tells too.
  auto renew = broker.next_of(Kind::renew, [&] { step(); });
  ASSERT_EQ(renew.kind, Kind::renew);
  broker.send(Kind::register_ack, renew.correlation, encode(RegisterAck{7, 3000, 1000, 9}));
  answer_page(7, 0, {member(0x10, "x")}, 0);
  ASSERT_TRUE(test::pump_until([&] { return discovery.members().size() == 1; }, [&] { step(); }));
  EXPECT_EQ(env.shared.counters.membership_resyncs.load(), 2u);

  // An Event in one message carries several changes.
  Event ten{
      7,
      EventType::join,
      member(0x50, "p"),
      "",
      10,
      {{EventType::join, member(0x60, "q"), ""}, {EventType::leave, member(0x10, "x"), "bye"}}};
  broker.send(Kind::event, 0, encode(ten));
  ASSERT_TRUE(test::pump_until([&] { return discovery.members().size() == 2; }, [&] { step(); }));
  EXPECT_EQ(env.shared.counters.membership_resyncs.load(), 2u);
}

TEST_F(DiscoveryTest, AYoungBrokersListingDropsNobodyBeforeItsWarmUpIsOver) {
  register_with(7, {member(0x10, "x"), member(0x20, "y")});
  ASSERT_TRUE(test::pump_until([&] { return joined.size() == 2; }, [&] { step(); }));

  // The broker restarted (epoch 8): we register there; it has heard from x only so far.
  broker.send(Kind::event, 0, encode(Event{8, EventType::join, member(0x10, "x"), "", 1}));
  auto reg = broker.next_of(Kind::reg, [&] { step(); });
  ASSERT_EQ(reg.kind, Kind::reg);
  broker.send(Kind::register_ack, reg.correlation, encode(RegisterAck{8, 300, 100, 1}));
  answer_page(8, 0, {member(0x10, "x")}, 0, /*uptime_ms=*/50);
  // y is kept while the broker warms up (300 ms: its TTL for us) ...
  (void)test::pump_until([] { return false; }, [&] { step(); }, 100ms);
  EXPECT_TRUE(left.empty());
  EXPECT_EQ(discovery.members().size(), 2u);
  // ... and dropped by the listing after it, if y did not register again meanwhile.
  answer_page(8, 0, {member(0x10, "x")}, 0, /*uptime_ms=*/400);
  ASSERT_TRUE(test::pump_until([&] { return !left.empty(); }, [&] { step(); }));
  EXPECT_EQ(left, std::vector<PeerId>{0x20});
}

TEST_F(DiscoveryTest, ARefusedRegistrationIsRetriedOncePerRenewIntervalAndSaysWhy) {
  auto reg = broker.next_of(Kind::reg, [&] { step(); });
  ASSERT_EQ(reg.kind, Kind::reg);
  broker.send(Kind::reject, reg.correlation,
              encode(Reject{WireError::duplicate_name, "name 'me' is held by live peer id 42"}));
  ASSERT_TRUE(test::pump_until(
      [&] { return env.shared.counters.registrations_refused.load() == 1; }, [&] { step(); }));
  {
    std::lock_guard lock(env.shared.registration_mu);
    EXPECT_NE(env.shared.registration_error.find("duplicate_name"), std::string::npos);
    EXPECT_NE(env.shared.registration_error.find("held by live peer"), std::string::npos);
  }
  // Not at the 100 ms retry pace: the next Register comes a renew interval later.
  const auto refused_at = std::chrono::steady_clock::now();
  auto again = broker.next_of(Kind::reg, [&] { step(); });
  ASSERT_EQ(again.kind, Kind::reg);
  EXPECT_GE(std::chrono::steady_clock::now() - refused_at, 500ms);
  broker.send(Kind::register_ack, again.correlation, encode(RegisterAck{7, 3000, 1000}));
  ASSERT_TRUE(test::pump_until([&] { return env.shared.registered.load(); }, [&] { step(); }));
  std::lock_guard lock(env.shared.registration_mu);
  EXPECT_EQ(env.shared.registration_error, "");
}

// Two brokers: the membership is the union of their views, one record per peer id; a
// lookup moves on from a broker that does not answer.
struct TwoBrokersTest : ::testing::Test {
  TwoBrokersTest()
      : one(zctx),
        two(zctx),
        env(zctx,
            [&] {
              PeerOptions o;
              o.name = "me";
              o.brokers = {one.endpoint, two.endpoint};
              return o;
            }()),
        discovery(*env.ctx, recording(joined, left)) {
    discovery.open();
  }
  ~TwoBrokersTest() override { discovery.close(); }

  void step() {
    discovery.on_timers(SteadyClock::now());
    (void)discovery.read();
  }
  void register_at(FakeBroker& b, std::uint64_t epoch, std::vector<PeerInfo> peers) {
    auto reg = b.next_of(Kind::reg, [&] { step(); });
    ASSERT_EQ(reg.kind, Kind::reg) << "no Register at " << b.endpoint;
    // Long intervals: the fake brokers answer no Renew, and must not be taken for gone
    // (and their views forgotten) while a slow machine runs the test.
    b.send(Kind::register_ack, reg.correlation, encode(RegisterAck{epoch, 60000, 20000}));
    auto lookup = b.next_of(Kind::lookup, [&] { step(); });
    ASSERT_EQ(lookup.kind, Kind::lookup) << "no listing asked of " << b.endpoint;
    PeerList list{epoch, {}, 60000};
    for (auto& p : peers) list.peers.push_back(PeerRecord{std::move(p), 5});
    b.send(Kind::peer_list, lookup.correlation, encode(list));
  }

  zmq::context_t zctx;
  FakeBroker one;
  FakeBroker two;
  ComponentEnv env;
  std::vector<PeerId> joined, left;
  Discovery discovery;
};

TEST_F(TwoBrokersTest, TheMembershipIsTheUnionOfTheBrokersViews) {
  register_at(one, 7, {member(0x10, "x"), member(0x20, "y")});
  register_at(two, 9, {member(0x10, "x"), member(0x40, "w")});
  // w is only in the second broker's listing: once it is a member, both listings are in.
  ASSERT_TRUE(test::pump_until(
      [&] { return discovery.members().size() == 3 && env.shared.membership_listed.load(); },
      [&] { step(); }));
  EXPECT_EQ(joined, (std::vector<PeerId>{0x10, 0x20, 0x40}));  // x once, though both list it
  EXPECT_TRUE(env.shared.registered.load());

  // x leaves one broker's view only (it expired there, say): still a member.
  one.send(Kind::event, 0, encode(Event{7, EventType::leave, member(0x10, "x"), "expired"}));
  test::pump_until([] { return false; }, [&] { step(); }, 200ms);
  EXPECT_TRUE(left.empty());
  EXPECT_EQ(discovery.members().size(), 3u);
  // ...and then the other's: gone.
  two.send(Kind::event, 0, encode(Event{9, EventType::leave, member(0x10, "x"), "bye"}));
  ASSERT_TRUE(test::pump_until([&] { return !left.empty(); }, [&] { step(); }));
  EXPECT_EQ(left, std::vector<PeerId>{0x10});
  // A join heard from either broker counts.
  two.send(Kind::event, 0, encode(Event{9, EventType::join, member(0x30, "z"), ""}));
  ASSERT_TRUE(test::pump_until([&] { return discovery.members().size() == 3; }, [&] { step(); }));
  EXPECT_EQ(joined.back(), 0x30u);
}

TEST_F(TwoBrokersTest, ALookupMovesOnFromABrokerThatDoesNotAnswer) {
  register_at(one, 7, {});
  register_at(two, 9, {});
  auto done = std::make_unique<MembersCompletion>();
  auto answer = done->promise.get_future();
  discovery.lookup("x", "", Deadline::after(2s), std::move(done));
  // Whichever broker is asked first stays silent; the other one must be asked in time.
  FakeBroker* first = nullptr;
  FakeBroker::Got asked;
  ASSERT_TRUE(test::pump_until(
      [&] {
        for (FakeBroker* b : {&one, &two}) {
          if (!b->frames.recv(b->router, zmq::recv_flags::dontwait)) continue;
          auto env_in = b->dec.decode(Layout::router, b->frames);
          if (env_in && env_in->header.kind == Kind::lookup) {
            first = b;
            return true;
          }
        }
        return false;
      },
      [&] { step(); }));
  FakeBroker& second = first == &one ? two : one;
  asked = second.next_of(Kind::lookup, [&] { step(); });
  ASSERT_EQ(asked.kind, Kind::lookup) << "the second broker was never asked";
  second.send(
      Kind::peer_list, asked.correlation,
      encode(PeerList{
          second.endpoint == one.endpoint ? 7u : 9u, {PeerRecord{member(0x10, "x"), 5}}, 60000}));
  ASSERT_TRUE(test::pump_until([&] { return answer.wait_for(0ms) == std::future_status::ready; },
                               [&] { step(); }));
  const auto found = answer.get();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "x");
}

TEST_F(TwoBrokersTest, AnAnswerBrokenOffAfterAPageStartsAgainFromTheFirstPageElsewhere) {
  register_at(one, 7, {});
  register_at(two, 9, {});
  auto done = std::make_unique<MembersCompletion>();
  auto answer = done->promise.get_future();
  discovery.lookup("", "", Deadline::after(3s), std::move(done));
  FakeBroker* first = nullptr;
  FakeBroker::Got asked;
  ASSERT_TRUE(test::pump_until(
      [&] {
        for (FakeBroker* b : {&one, &two}) {
          asked = b->next([] {}, 1ms);
          if (asked.kind == Kind::lookup) {
            first = b;
            return true;
          }
        }
        return false;
      },
      [&] { step(); }));
  // The first broker sends one page of two and then nothing more.
  first->send(Kind::peer_list, asked.correlation,
              encode(PeerList{7, {PeerRecord{member(0x10, "x"), 5}}, 60000, 1}));
  FakeBroker& second = first == &one ? two : one;
  auto again = second.next_of(Kind::lookup, [&] { step(); });
  ASSERT_EQ(again.kind, Kind::lookup) << "the second broker was never asked";
  const auto q = decode_control<Lookup>(again.payload, Limits{});
  ASSERT_TRUE(q);
  EXPECT_EQ(q->after, 0u) << "asked another broker for the first broker's next page";
  second.send(Kind::peer_list, again.correlation,
              encode(PeerList{
                  9, {PeerRecord{member(0x10, "x"), 5}, PeerRecord{member(0x20, "y"), 5}}, 60000}));
  ASSERT_TRUE(test::pump_until([&] { return answer.wait_for(0ms) == std::future_status::ready; },
                               [&] { step(); }));
  EXPECT_EQ(answer.get().size(), 2u) << "records of the broken-off answer were kept";
}

}  // namespace
}  // namespace zmesh::detail
