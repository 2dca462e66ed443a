// The discovery broker, spoken to over tcp loopback by hand-written clients (a raw
// DEALER each, tests/support/broker_client.hpp): against the real zmesh-broker process
// where a user would run one, and against an in-process zmesh::Broker where its counters
// are what is checked.
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "broker_process.hpp"
#include "test_support.hpp"
#include "zmesh/broker/broker.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::BrokerClient;
using test::BrokerMessage;
using test::BrokerProcess;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ fixtures

/// Checks that the next Event `c` receives (within 5 s) is `type` about `about`.
testing::AssertionResult next_event_is(BrokerClient& c, EventType type, const PeerInfo& about,
                                       const std::string& reason = "", std::uint64_t epoch = 0) {
  const std::optional<Event> e = c.next_event(5s);
  if (!e) return testing::AssertionFailure() << "no event within 5 s";
  if (e->type != type) {
    return testing::AssertionFailure() << "event type " << int(e->type) << ", expected "
                                       << int(type) << " (about '" << e->peer.name << "')";
  }
  if (!(e->peer == about)) {
    return testing::AssertionFailure()
           << "event about '" << e->peer.name << "' " << id_to_hex(e->peer.id) << ", expected '"
           << about.name << "' " << id_to_hex(about.id) << " with its PeerInfo";
  }
  if (e->reason != reason) {
    return testing::AssertionFailure()
           << "reason '" << e->reason << "', expected '" << reason << "'";
  }
  if (epoch != 0 && e->epoch != epoch) {
    return testing::AssertionFailure()
           << "epoch " << id_to_hex(e->epoch) << ", expected " << id_to_hex(epoch);
  }
  return testing::AssertionSuccess();
}

std::vector<std::string> names(const PeerList& list) {
  std::vector<std::string> out;
  for (const auto& r : list.peers) out.push_back(r.peer.name);
  return out;
}

using Names = std::vector<std::string>;

// ------------------------------------------------------------------ in-process

TEST(BrokerService, StartsStopsAndReportsItsEndpoint) {
  BrokerOptions o;
  o.bind = "tcp://127.0.0.1:*";
  Broker broker(o);
  broker.start();
  EXPECT_EQ(broker.endpoint().rfind("tcp://127.0.0.1:", 0), 0u);
  EXPECT_NE(broker.epoch(), 0u);
  broker.stop();
  EXPECT_EQ(broker.stats().registered, 0u);
}

// ------------------------------------------------------------------ the process

TEST(BrokerService, RegisterThenLookUpByNameByServiceAndEveryone) {
  BrokerProcess broker(10000, 2000);
  BrokerClient a(broker.endpoint(), "alpha", {"quotes"});
  BrokerClient b(broker.endpoint(), "beta", {"quotes", "news"});
  BrokerClient c(broker.endpoint(), "gamma");

  const BrokerMessage ack_a = a.register_peer();
  ASSERT_EQ(ack_a.kind, Kind::register_ack);
  const auto ra = ack_a.as<RegisterAck>();
  EXPECT_NE(ra.epoch, 0u);
  EXPECT_EQ(ra.ttl_ms, 10000u) << "ttl 0 asks for the broker's default";
  EXPECT_EQ(ra.renew_interval_ms, 2000u);
  EXPECT_NE(ack_a.sender_id, 0u) << "the broker's own id";
  EXPECT_NE(ack_a.sender_id, a.id());

  // A peer may ask for a shorter TTL, never for a longer one.
  const BrokerMessage ack_b = b.register_peer(5000);
  ASSERT_EQ(ack_b.kind, Kind::register_ack);
  EXPECT_EQ(ack_b.as<RegisterAck>(), (RegisterAck{ra.epoch, 5000, 2000}));
  const BrokerMessage ack_c = c.register_peer(60000);
  ASSERT_EQ(ack_c.kind, Kind::register_ack);
  EXPECT_EQ(ack_c.as<RegisterAck>(), (RegisterAck{ra.epoch, 10000, 2000}));
  EXPECT_EQ(ack_c.sender_id, ack_a.sender_id);
  // ... nor for less than two renew intervals (the same session registering again).
  const BrokerMessage again_c = c.register_peer(1000);
  ASSERT_EQ(again_c.kind, Kind::register_ack);
  EXPECT_EQ(again_c.as<RegisterAck>().ttl_ms, 4000u);

  // By name: exactly what was registered.
  const PeerList by_name = c.peers("beta");
  EXPECT_EQ(by_name.epoch, ra.epoch);
  ASSERT_EQ(by_name.peers.size(), 1u);
  EXPECT_EQ(by_name.peers[0].peer, b.info());
  EXPECT_TRUE(c.peers("nobody").peers.empty());

  // By service, in registration order; both criteria must hold when both are given.
  EXPECT_EQ(names(c.peers("", "quotes")), (Names{"alpha", "beta"}));
  EXPECT_EQ(names(c.peers("", "news")), (Names{"beta"}));
  EXPECT_TRUE(c.peers("", "weather").peers.empty());
  EXPECT_EQ(names(a.peers("alpha", "quotes")), (Names{"alpha"}));
  EXPECT_TRUE(a.peers("alpha", "news").peers.empty());

  // Everyone, in registration order, with ages that grow: wait until a millisecond has
  // passed since the first registration (the age is in whole milliseconds).
  PeerList all;
  ASSERT_TRUE(test::wait_until([&] {
    all = a.peers();
    return !all.peers.empty() && all.peers[0].age_ms > 0;
  }));
  ASSERT_EQ(names(all), (Names{"alpha", "beta", "gamma"}));
  EXPECT_EQ(all.peers[0].peer, a.info());
  EXPECT_EQ(all.peers[1].peer, b.info());
  EXPECT_EQ(all.peers[2].peer, c.info());
  EXPECT_GE(all.peers[0].age_ms, all.peers[1].age_ms);
  EXPECT_GE(all.peers[1].age_ms, all.peers[2].age_ms);

  // Someone who never registered may look up too.
  BrokerClient stranger(broker.endpoint(), "stranger");
  EXPECT_EQ(names(stranger.peers()), (Names{"alpha", "beta", "gamma"}));
  EXPECT_EQ(a.undecodable() + b.undecodable() + c.undecodable(), 0u);
}

TEST(BrokerService, AnEntryNotRenewedExpiresAndTheOthersHearLeaveExpired) {
  BrokerProcess broker(1000, 200);
  BrokerClient keeper(broker.endpoint(), "keeper");
  BrokerClient lapser(broker.endpoint(), "lapser");
  ASSERT_EQ(keeper.register_peer().kind, Kind::register_ack);
  const BrokerMessage ack = lapser.register_peer();
  ASSERT_EQ(ack.kind, Kind::register_ack);
  const std::uint64_t epoch = ack.as<RegisterAck>().epoch;
  EXPECT_TRUE(next_event_is(keeper, EventType::join, lapser.info(), "", epoch));
  EXPECT_EQ(names(keeper.peers("lapser")), (Names{"lapser"}));

  // The keeper renews at the renew interval (its pacing is the bounded wait for an
  // event); the lapser sends nothing more.
  std::optional<Event> leave;
  const auto deadline = Clock::now() + 10s;
  while (!leave && Clock::now() < deadline) {
    const BrokerMessage renewed = keeper.renew();
    ASSERT_EQ(renewed.kind, Kind::register_ack);
    const auto got = renewed.as<RegisterAck>();
    EXPECT_EQ(got.epoch, epoch);
    EXPECT_EQ(got.ttl_ms, 1000u);
    EXPECT_EQ(got.renew_interval_ms, 200u);
    leave = keeper.next_event(200ms);
  }
  ASSERT_TRUE(leave) << "no Leave within 10 s";
  EXPECT_EQ(leave->type, EventType::leave);
  EXPECT_EQ(leave->peer, lapser.info());
  EXPECT_EQ(leave->reason, "expired");
  EXPECT_TRUE(keeper.peers("lapser").peers.empty());

  // The keeper lives on as long as it renews: two more TTLs.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(keeper.renew().kind, Kind::register_ack);
    EXPECT_FALSE(keeper.next_event(200ms)) << "an event nobody caused";
  }
  EXPECT_EQ(names(keeper.peers()), (Names{"keeper"}));

  // The lapser learns it is forgotten when it renews at last, and comes back by
  // registering again.
  const BrokerMessage late = lapser.renew();
  ASSERT_EQ(late.kind, Kind::error);
  EXPECT_EQ(late.as<ErrorReply>().code, WireError::unknown_peer);
  ASSERT_EQ(lapser.register_peer().kind, Kind::register_ack);
  EXPECT_TRUE(next_event_is(keeper, EventType::join, lapser.info(), "", epoch));
}

TEST(BrokerService, ByeRemovesAtOnceAndTheOthersHearLeaveBye) {
  BrokerProcess broker(60000, 2000);  // a TTL far beyond the test: only Bye removes
  BrokerClient stay(broker.endpoint(), "stay");
  BrokerClient go(broker.endpoint(), "go", {"svc"});
  ASSERT_EQ(stay.register_peer().kind, Kind::register_ack);
  ASSERT_EQ(go.register_peer().kind, Kind::register_ack);
  ASSERT_TRUE(next_event_is(stay, EventType::join, go.info()));

  // A Bye from another session of the same id is not the registered peer leaving. (A
  // lookup on the same connection is handled after it.)
  BrokerClient impostor(broker.endpoint(), "go");
  impostor.send(Kind::bye, 0, zmq::message_t(), go.id(), random_id());
  EXPECT_EQ(names(impostor.peers("go")), (Names{"go"}));

  go.bye();
  EXPECT_TRUE(next_event_is(stay, EventType::leave, go.info(), "bye"));
  EXPECT_TRUE(stay.peers("go").peers.empty());
  EXPECT_TRUE(stay.peers("", "svc").peers.empty());
  EXPECT_EQ(names(stay.peers()), (Names{"stay"}));
  const BrokerMessage renewed = go.renew();
  ASSERT_EQ(renewed.kind, Kind::error);
  EXPECT_EQ(renewed.as<ErrorReply>().code, WireError::unknown_peer);
}

TEST(BrokerService, DuplicateIdIsRefusedWhileTheSameSessionMayRegisterAgain) {
  BrokerProcess broker;
  BrokerClient watcher(broker.endpoint(), "watcher");
  BrokerClient a(broker.endpoint(), "alpha", {"quotes"});
  ASSERT_EQ(watcher.register_peer().kind, Kind::register_ack);
  const BrokerMessage ack = a.register_peer();
  ASSERT_EQ(ack.kind, Kind::register_ack);
  const std::uint64_t epoch = ack.as<RegisterAck>().epoch;
  ASSERT_TRUE(next_event_is(watcher, EventType::join, a.info(), "", epoch));

  // Another session claims alpha's id: refused, with a reason naming the id.
  BrokerClient intruder(broker.endpoint(), "intruder");
  intruder.info().id = a.id();
  const BrokerMessage refused = intruder.register_peer();
  ASSERT_EQ(refused.kind, Kind::reject);
  const auto reject = refused.as<Reject>();
  EXPECT_EQ(reject.code, WireError::duplicate_id);
  EXPECT_NE(reject.reason.find(id_to_hex(a.id())), std::string::npos) << reject.reason;
  const PeerList still = watcher.peers("alpha");
  ASSERT_EQ(still.peers.size(), 1u);
  EXPECT_EQ(still.peers[0].peer, a.info());
  const std::uint64_t age_before = still.peers[0].age_ms;

  // The same session registering again, unchanged, is accepted and announces nothing ...
  const BrokerMessage same = a.register_peer();
  ASSERT_EQ(same.kind, Kind::register_ack);
  EXPECT_EQ(same.as<RegisterAck>().epoch, epoch);
  // From another connection, while the first one renews, it is refused: a registration
  // belongs to the connection that made it (a reconnected DEALER takes it over once the
  // old connection has missed two renewals: ConnectionBinding tests).
  BrokerClient reconnected(broker.endpoint(), "alpha");
  reconnected.info() = a.info();
  const BrokerMessage foreign = reconnected.register_peer();
  ASSERT_EQ(foreign.kind, Kind::reject);
  EXPECT_EQ(foreign.as<Reject>().code, WireError::duplicate_id);

  // With changed information it is an Update: the first event the watcher hears since
  // the Join, so neither the refusals nor the unchanged registration announced anything.
  a.info().services = {"quotes", "news"};
  ASSERT_EQ(a.register_peer().kind, Kind::register_ack);
  EXPECT_TRUE(next_event_is(watcher, EventType::update, a.info(), "", epoch));

  // The entry kept its place and its age.
  const PeerList all = watcher.peers();
  ASSERT_EQ(names(all), (Names{"watcher", "alpha"}));
  EXPECT_EQ(all.peers[1].peer, a.info());
  EXPECT_GE(all.peers[1].age_ms, age_before);

  // Once that session has left, the id is free again.
  a.bye();
  EXPECT_TRUE(next_event_is(watcher, EventType::leave, a.info(), "bye"));
  ASSERT_EQ(intruder.register_peer().kind, Kind::register_ack);
  EXPECT_TRUE(next_event_is(watcher, EventType::join, intruder.info()));
}

TEST(BrokerService, MalformedRegistrationsAreRefusedWithAReasonAndCounted) {
  BrokerOptions o;
  o.bind = "tcp://127.0.0.1:*";
  Broker broker(o);
  broker.start();
  BrokerClient good(broker.endpoint(), "good");
  ASSERT_EQ(good.register_peer().kind, Kind::register_ack);
  BrokerClient bad(broker.endpoint(), "bad");

  // Not a FlatBuffer at all: Malformed.
  const BrokerMessage garbage = bad.register_raw(zmq::message_t(std::string("\x01garbage!")));
  ASSERT_EQ(garbage.kind, Kind::reject);
  const auto r1 = garbage.as<Reject>();
  EXPECT_EQ(r1.code, WireError::malformed);
  EXPECT_NE(r1.reason.find("Register"), std::string::npos) << r1.reason;

  // A well-formed Register whose PeerInfo has no name: its values are refused, BadRequest.
  PeerInfo nameless = bad.info();
  nameless.name.clear();
  const BrokerMessage unnamed = bad.register_raw(encode(Register{nameless, 0}));
  ASSERT_EQ(unnamed.kind, Kind::reject);
  const auto r2 = unnamed.as<Reject>();
  EXPECT_EQ(r2.code, WireError::bad_request);
  EXPECT_FALSE(r2.reason.empty());

  // A PeerInfo for someone other than the header's sender (id, then session): BadRequest.
  PeerInfo other_id = bad.info();
  other_id.id = random_id();
  const BrokerMessage mismatch = bad.register_raw(encode(Register{other_id, 0}));
  ASSERT_EQ(mismatch.kind, Kind::reject);
  const auto r3 = mismatch.as<Reject>();
  EXPECT_EQ(r3.code, WireError::bad_request);
  EXPECT_NE(r3.reason.find("header"), std::string::npos) << r3.reason;
  PeerInfo other_session = bad.info();
  other_session.session = random_id();
  const BrokerMessage mismatch2 = bad.register_raw(encode(Register{other_session, 0}));
  ASSERT_EQ(mismatch2.kind, Kind::reject);
  EXPECT_EQ(mismatch2.as<Reject>().code, WireError::bad_request);

  // A Lookup that does not decode is answered with Error Malformed.
  const BrokerMessage bad_lookup =
      bad.wait_answer(bad.send_new(Kind::lookup, zmq::message_t(std::string("xx"))), 5s);
  ASSERT_EQ(bad_lookup.kind, Kind::error);
  EXPECT_EQ(bad_lookup.as<ErrorReply>().code, WireError::malformed);

  // Frame sets that are not zmesh messages are dropped unanswered; the connection lives.
  bad.send_frames({"not", "a zmesh", "message"});
  bad.send_frames({"one frame"});

  // Everyone keeps working: the lookup right after is answered, the refused are not in it.
  EXPECT_EQ(names(bad.peers()), (Names{"good"}));
  const BrokerMessage renewed = good.renew();
  ASSERT_EQ(renewed.kind, Kind::register_ack);
  const BrokerStats s = broker.stats();
  EXPECT_EQ(s.rejected, 4u);
  EXPECT_EQ(s.malformed, 5u) << "garbage, nameless, bad lookup, two bad frame sets";
  EXPECT_EQ(s.registrations, 1u);

  // Registered at last, and the first event the good client hears is that Join: the
  // refusals announced nothing.
  ASSERT_EQ(bad.register_peer().kind, Kind::register_ack);
  EXPECT_TRUE(next_event_is(good, EventType::join, bad.info()));
  EXPECT_TRUE(test::wait_until([&] { return broker.stats().registered == 2; }));
}

TEST(BrokerService, RenewFromAnUnknownPeerGetsUnknownPeerAlsoAfterARestart) {
  BrokerProcess broker;
  BrokerClient stranger(broker.endpoint(), "stranger");
  const BrokerMessage unknown = stranger.renew();
  ASSERT_EQ(unknown.kind, Kind::error);
  EXPECT_EQ(unknown.as<ErrorReply>().code, WireError::unknown_peer);

  BrokerClient a(broker.endpoint(), "alpha", {"quotes"});
  const BrokerMessage first = a.register_peer();
  ASSERT_EQ(first.kind, Kind::register_ack);
  const std::uint64_t epoch1 = first.as<RegisterAck>().epoch;

  broker.kill();
  ASSERT_TRUE(broker.start()) << "could not start again on " << broker.endpoint();

  // Alpha's DEALER reconnects by itself; the new broker never heard of it. (A Renew
  // written into the dying connection may be lost: ask again.)
  BrokerMessage renewed;
  ASSERT_TRUE(test::wait_until([&] { return (renewed = a.renew(500ms)).kind != Kind::invalid; }));
  ASSERT_EQ(renewed.kind, Kind::error);
  EXPECT_EQ(renewed.as<ErrorReply>().code, WireError::unknown_peer);
  EXPECT_TRUE(a.peers("alpha").peers.empty());

  const BrokerMessage second = a.register_peer();
  ASSERT_EQ(second.kind, Kind::register_ack);
  const std::uint64_t epoch2 = second.as<RegisterAck>().epoch;
  EXPECT_NE(epoch2, epoch1) << "a restarted broker has a new epoch";
  const BrokerMessage after = a.renew();
  ASSERT_EQ(after.kind, Kind::register_ack);
  EXPECT_EQ(after.as<RegisterAck>().epoch, epoch2);
  const PeerList list = a.peers("", "quotes");
  EXPECT_EQ(list.epoch, epoch2);
  ASSERT_EQ(list.peers.size(), 1u);
  EXPECT_EQ(list.peers[0].peer, a.info());
}

TEST(BrokerService, JoinAndUpdateEventsReachEveryOtherRegisteredPeer) {
  BrokerProcess broker;
  BrokerClient one(broker.endpoint(), "one", {"s1"});
  BrokerClient two(broker.endpoint(), "two");
  BrokerClient three(broker.endpoint(), "three");
  const BrokerMessage ack = one.register_peer();
  ASSERT_EQ(ack.kind, Kind::register_ack);
  const std::uint64_t epoch = ack.as<RegisterAck>().epoch;
  ASSERT_EQ(two.register_peer().kind, Kind::register_ack);
  two.skip_joins_of(one.id());  // it may hear of one in the Event of its own tick
  EXPECT_TRUE(next_event_is(one, EventType::join, two.info(), "", epoch));
  ASSERT_EQ(three.register_peer().kind, Kind::register_ack);
  three.skip_joins_of(one.id());
  three.skip_joins_of(two.id());
  EXPECT_TRUE(next_event_is(one, EventType::join, three.info(), "", epoch));
  EXPECT_TRUE(next_event_is(two, EventType::join, three.info(), "", epoch));

  // One re-registers with another service: the others hear an Update carrying it (for
  // three the first event at all: nobody told it about its own Join).
  one.info().services = {"s1", "s2"};
  ASSERT_EQ(one.register_peer().kind, Kind::register_ack);
  EXPECT_TRUE(next_event_is(two, EventType::update, one.info(), "", epoch));
  EXPECT_TRUE(next_event_is(three, EventType::update, one.info(), "", epoch));
  EXPECT_EQ(names(three.peers("", "s2")), (Names{"one"}));

  // Two leaves: one's next event is that Leave (it was not told about its own Update).
  two.bye();
  EXPECT_TRUE(next_event_is(one, EventType::leave, two.info(), "bye", epoch));
  EXPECT_TRUE(next_event_is(three, EventType::leave, two.info(), "bye", epoch));
  EXPECT_EQ(one.queued() + two.queued() + three.queued(), 0u);
}

TEST(BrokerService, SigtermSaysByeToEveryRegisteredPeerAndExitsZero) {
  BrokerProcess broker;
  BrokerClient a(broker.endpoint(), "alpha");
  BrokerClient b(broker.endpoint(), "beta");
  const BrokerMessage ack = a.register_peer();
  ASSERT_EQ(ack.kind, Kind::register_ack);
  ASSERT_EQ(b.register_peer().kind, Kind::register_ack);

  broker.process().signal(SIGTERM);
  for (BrokerClient* c : {&a, &b}) {
    const BrokerMessage bye = c->next_pushed(Kind::bye, 5s);
    ASSERT_EQ(bye.kind, Kind::bye) << c->info().name << " heard no Bye";
    EXPECT_EQ(bye.sender_id, ack.sender_id) << "from the broker";
  }
  const int status = broker.process().wait(10s);
  ASSERT_NE(status, -1) << "still running 10 s after SIGTERM";
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace zmesh
