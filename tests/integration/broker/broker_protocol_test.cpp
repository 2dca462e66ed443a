// The broker's side of the decisions in docs/protocol.md (5.7, 7, 9), checked with a
// hand-written client (tests/support/broker_client.hpp) against an in-process broker
// whose intervals the test chooses. The conformance table of protocol.md names these.
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "test_support.hpp"
#include "zmesh/broker/broker.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::BrokerClient;
using test::BrokerMessage;

class BrokerProtocol : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds ttl = 5000ms, std::chrono::milliseconds renew = 1000ms) {
    BrokerOptions o;
    o.bind = "tcp://127.0.0.1:*";
    o.ttl = ttl;
    o.renew_interval = renew;
    broker_.emplace(o);
    broker_->start();
  }
  [[nodiscard]] std::string endpoint() const { return broker_->endpoint(); }
  std::optional<Broker> broker_;
};

std::vector<std::string> names(const PeerList& list) {
  std::vector<std::string> out;
  for (const auto& r : list.peers) out.push_back(r.peer.name);
  return out;
}

TEST_F(BrokerProtocol, RegisterWithAnotherHeaderVersionIsRejectedUnsupportedVersion) {
  start();
  BrokerClient future(endpoint(), "future");
  future.set_header_version(2);
  const BrokerMessage answer = future.register_peer();
  ASSERT_EQ(answer.kind, Kind::reject);
  EXPECT_EQ(answer.as<Reject>().code, WireError::unsupported_version);
  // A Lookup at that version is not a greeting: dropped unanswered, and counted.
  EXPECT_FALSE(future.lookup("", "", 500ms));
  EXPECT_EQ(broker_->stats().registered, 0u);
  EXPECT_GE(broker_->stats().malformed, 2u);
}

TEST_F(BrokerProtocol, LookupNeedsNoRegistration) {
  start();
  BrokerClient member(endpoint(), "member");
  ASSERT_EQ(member.register_peer().kind, Kind::register_ack);
  BrokerClient tool(endpoint(), "tool");  // never registers
  EXPECT_EQ(names(tool.peers()), (std::vector<std::string>{"member"}));
}

TEST_F(BrokerProtocol, LookupValuesOutOfRangeAreBadRequestAndGarbageIsMalformed) {
  start();
  BrokerClient c(endpoint(), "c");
  const BrokerMessage too_long = c.lookup(std::string(129, 'n'));
  ASSERT_EQ(too_long.kind, Kind::error);
  EXPECT_EQ(too_long.as<ErrorReply>().code, WireError::bad_request);
  const BrokerMessage garbage =
      c.wait_answer(c.send_new(Kind::lookup, zmq::message_t(std::string("xx"))), 5s);
  ASSERT_EQ(garbage.kind, Kind::error);
  EXPECT_EQ(garbage.as<ErrorReply>().code, WireError::malformed);
}

TEST_F(BrokerProtocol, EmptyNameIsBadRequestInARegisterAsInAHello) {
  start();
  BrokerClient c(endpoint(), "c");
  c.info().name.clear();
  const BrokerMessage answer = c.register_peer();
  ASSERT_EQ(answer.kind, Kind::reject);
  EXPECT_EQ(answer.as<Reject>().code, WireError::bad_request);
}

TEST_F(BrokerProtocol, DuplicateIdIsRefusedWhileRenewingAndReplacesAfterTwoMissedRenewals) {
  start(10000ms, 100ms);  // the entry would live 10 s; suspect after 2 x 100 ms
  BrokerClient watcher(endpoint(), "watcher");
  ASSERT_EQ(watcher.register_peer().kind, Kind::register_ack);
  BrokerClient first(endpoint(), "first");
  ASSERT_EQ(first.register_peer().kind, Kind::register_ack);
  ASSERT_TRUE(watcher.next_event(5s).has_value());  // its Join

  BrokerClient second(endpoint(), "second");
  second.info().id = first.id();
  const BrokerMessage refused = second.register_peer();
  ASSERT_EQ(refused.kind, Kind::reject);
  EXPECT_EQ(refused.as<Reject>().code, WireError::duplicate_id);

  std::this_thread::sleep_for(400ms);  // the first session misses its renewals
  ASSERT_EQ(second.register_peer().kind, Kind::register_ack);
  const auto leave = watcher.next_event(5s);
  ASSERT_TRUE(leave.has_value());
  EXPECT_EQ(leave->type, EventType::leave);
  EXPECT_EQ(leave->reason, "replaced");
  EXPECT_EQ(leave->peer.session, first.info().session);
  const auto join = watcher.next_event(5s);
  ASSERT_TRUE(join.has_value());
  EXPECT_EQ(join->type, EventType::join);
  EXPECT_EQ(join->peer, second.info());
  // The old session is unknown now: its Renew says so.
  const BrokerMessage renew = first.renew();
  ASSERT_EQ(renew.kind, Kind::error);
  EXPECT_EQ(renew.as<ErrorReply>().code, WireError::unknown_peer);
}

TEST_F(BrokerProtocol, GrantedTtlIsTheRequestCappedByTheBrokerAndAtLeastTwoRenewals) {
  start(5000ms, 1000ms);
  BrokerClient c(endpoint(), "c");
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> cases = {
      {0, 5000}, {3000, 3000}, {9000, 5000}, {500, 2000}};
  for (const auto& [asked, granted] : cases) {
    const BrokerMessage ack = c.register_peer(asked);
    ASSERT_EQ(ack.kind, Kind::register_ack);
    EXPECT_EQ(ack.as<RegisterAck>().ttl_ms, granted) << "asked " << asked;
    EXPECT_EQ(ack.as<RegisterAck>().renew_interval_ms, 1000u);
  }
}

TEST_F(BrokerProtocol, NamesAreUniqueAmongLiveRegistrationsAndFreedOnceTheHolderIsQuiet) {
  start(5000ms, 500ms);  // live: heard from within 1 s
  BrokerClient holder(endpoint(), "twin");
  BrokerClient second(endpoint(), "twin");
  ASSERT_EQ(holder.register_peer().kind, Kind::register_ack);

  // While the holder renews, a peer of another id is refused, with a reason naming it.
  for (int i = 0; i < 3; ++i) {
    const BrokerMessage refused = second.register_peer();
    ASSERT_EQ(refused.kind, Kind::reject);
    const auto reject = refused.as<Reject>();
    EXPECT_EQ(reject.code, WireError::duplicate_name);
    EXPECT_NE(reject.reason.find("'twin'"), std::string::npos) << reject.reason;
    EXPECT_NE(reject.reason.find(id_to_hex(holder.id())), std::string::npos) << reject.reason;
    ASSERT_EQ(holder.renew().kind, Kind::register_ack);
    std::this_thread::sleep_for(50ms);
  }
  const PeerList list = second.peers("twin");
  ASSERT_EQ(list.peers.size(), 1u);
  EXPECT_EQ(list.peers[0].peer.id, holder.id());
  EXPECT_EQ(broker_->stats().registered, 1u);

  // Once the holder has missed two renewals the name is free: the newcomer takes it and
  // the quiet holder is replaced (Leave "replaced"), so a name still lists one peer.
  std::this_thread::sleep_for(1200ms);
  const BrokerMessage taken = second.register_peer();
  ASSERT_EQ(taken.kind, Kind::register_ack);
  const PeerList now = second.peers("twin");
  ASSERT_EQ(now.peers.size(), 1u);
  EXPECT_EQ(now.peers[0].peer.id, second.id());
  const BrokerMessage late = holder.renew();
  ASSERT_EQ(late.kind, Kind::error);
  EXPECT_EQ(late.as<ErrorReply>().code, WireError::unknown_peer);
}

TEST_F(BrokerProtocol, PeerListCarriesTheBrokerUptimeAndWarmUp) {
  start(5000ms, 1000ms);
  BrokerClient c(endpoint(), "c");
  const PeerList first = c.peers();
  std::this_thread::sleep_for(200ms);
  const PeerList later = c.peers();
  EXPECT_GE(later.uptime_ms, first.uptime_ms + 200);
  EXPECT_LT(later.uptime_ms, 60000u);
  // max(2 x renew interval, TTL): what a lookup-only client waits for after a restart.
  EXPECT_EQ(later.warm_up_ms, 5000u);
}

}  // namespace
}  // namespace zmesh
