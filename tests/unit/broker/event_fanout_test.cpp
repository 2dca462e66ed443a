// The broker's Event fan-out (broker/src/event_fanout.cpp): a tick's changes go out as
// one numbered Event per ROUTER identity, however many registrations share it, and the
// flushes come a renew interval apart while the broker warms up, a tick apart after.
#include "event_fanout.hpp"

#include <chrono>
#include <span>
#include <string>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_context.hpp"
#include "client_sender.hpp"
#include "membership.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::detail {
namespace {

using std::chrono::milliseconds;

PeerInfo peer(std::uint64_t id, const std::string& name) {
  PeerInfo p;
  p.id = id;
  p.session = 1;
  p.name = name;
  return p;
}

/// A DEALER named `identity` on `router`, seen by it (it has read one message from it),
/// so that the ROUTER can route to it.
zmq::socket_t dealer_seen(zmq::context_t& zmq, zmq::socket_t& router, const std::string& identity,
                          const std::string& endpoint) {
  zmq::socket_t d(zmq, zmq::socket_type::dealer);
  d.set(zmq::sockopt::routing_id, identity);
  d.set(zmq::sockopt::linger, 0);
  d.connect(endpoint);
  d.send(zmq::str_buffer("hello"), zmq::send_flags::none);
  zmq::message_t from;
  zmq::message_t body;
  EXPECT_TRUE(router.recv(from));
  EXPECT_TRUE(router.recv(body));
  EXPECT_EQ(from.to_string(), identity);
  return d;
}

/// The Event a DEALER received next (header frame, then payload).
Event next_event(zmq::socket_t& dealer, const Limits& limits) {
  dealer.set(zmq::sockopt::rcvtimeo, 5000);
  zmq::message_t head;
  zmq::message_t payload;
  EXPECT_TRUE(dealer.recv(head));
  EXPECT_TRUE(dealer.recv(payload));
  auto e = decode_control<Event>(
      std::span(static_cast<const std::byte*>(payload.data()), payload.size()), limits);
  EXPECT_TRUE(e.ok()) << e.error().message();
  return e ? *e : Event{};
}

bool has_message(zmq::socket_t& dealer) {
  zmq::message_t m;
  return dealer.recv(m, zmq::recv_flags::dontwait).has_value();
}

TEST(EventFanout, SendsATicksChangesAsOneEventToEachIdentity) {
  zmq::context_t zmq(1);
  BrokerContext ctx{BrokerOptions{}};
  zmq::socket_t router = make_router(zmq, SocketTuning{});
  const std::string endpoint = "inproc://event-fanout-test";
  router.bind(endpoint);
  zmq::socket_t a = dealer_seen(zmq, router, "a", endpoint);
  zmq::socket_t b = dealer_seen(zmq, router, "b", endpoint);

  const auto now = SteadyClock::now();
  Membership members;
  // Two registrations over one DEALER: it hears each Event once.
  (void)members.upsert(peer(1, "one"), "a", milliseconds(10000), now);
  (void)members.upsert(peer(2, "two"), "a", milliseconds(10000), now);
  (void)members.upsert(peer(3, "three"), "b", milliseconds(10000), now);

  ClientSender out(router, ctx);
  EventFanout events(ctx);
  events.announce(EventType::join, peer(1, "one"), "");
  events.announce(EventType::join, peer(2, "two"), "");
  events.announce(EventType::leave, peer(9, "gone"), "expired");
  EXPECT_EQ(events.pending(), 3U);
  ASSERT_TRUE(events.due(now));
  events.flush(now, members, out);
  EXPECT_EQ(events.pending(), 0U);
  EXPECT_EQ(events.sequence(), 1U);

  for (zmq::socket_t* d : {&a, &b}) {
    const Event e = next_event(*d, ctx.options.limits);
    EXPECT_EQ(e.epoch, ctx.epoch);
    EXPECT_EQ(e.sequence, 1U);
    EXPECT_EQ(e.type, EventType::join);
    EXPECT_EQ(e.peer.name, "one");
    ASSERT_EQ(e.more.size(), 2U);
    EXPECT_EQ(e.more[0].peer.name, "two");
    EXPECT_EQ(e.more[1].type, EventType::leave);
    EXPECT_EQ(e.more[1].reason, "expired");
    EXPECT_FALSE(has_message(*d));
  }
  const BrokerStats s = ctx.counters.snapshot();
  EXPECT_EQ(s.changes, 3U);
  EXPECT_EQ(s.events_sent, 2U);
  EXPECT_EQ(s.slow_consumer, 0U);

  // Nothing pending: nothing sent, and the sequence stays.
  events.flush(now + ctx.options.ttl, members, out);
  EXPECT_EQ(events.sequence(), 1U);
  EXPECT_FALSE(has_message(a));
}

TEST(EventFanout, FlushesARenewIntervalApartWhileWarmingUpThenEveryTick) {
  BrokerContext ctx{BrokerOptions{}};
  zmq::context_t zmq(1);
  zmq::socket_t router = make_router(zmq, SocketTuning{});
  ClientSender out(router, ctx);
  EventFanout events(ctx);
  const Membership members;

  const auto warming = ctx.started;
  events.flush(warming, members, out);
  EXPECT_FALSE(events.due(warming + kBrokerTick));
  EXPECT_FALSE(events.due(warming + ctx.options.renew_interval - milliseconds(1)));
  EXPECT_TRUE(events.due(warming + ctx.options.renew_interval));

  const auto warm = ctx.started + ctx.options.ttl;
  events.flush(warm, members, out);
  EXPECT_FALSE(events.due(warm + kBrokerTick - milliseconds(1)));
  EXPECT_TRUE(events.due(warm + kBrokerTick));
}

}  // namespace
}  // namespace zmesh::detail
