// Listings in pages and Events in numbered batches (docs/protocol.md 5.7): a hundred
// thousand members through the real zmesh-broker process, and the Event sequence and
// storm coalescing against an in-process broker whose counters are what is checked.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "broker_process.hpp"
#include "test_support.hpp"
#include "zmesh/broker/broker.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::BrokerClient;
using test::BrokerMessage;
using test::BrokerProcess;

PeerInfo synthetic(std::uint64_t n) {
  PeerInfo p;
  p.id = 0x5000000000ULL + n;
  p.session = 0x7000000000ULL + n;
  p.name = "member-" + std::to_string(n);
  p.endpoints = {"tcp://10.1." + std::to_string(n / 250 % 250) + "." + std::to_string(n % 250) +
                 ":7000"};
  p.services = {"svc-" + std::to_string(n % 100)};
  return p;
}

TEST(BrokerPaging, AHundredThousandMembersAreListedCompleteInBoundedPages) {
  constexpr std::uint64_t kMembers = 100000;
  constexpr std::uint64_t kClients = 4;
  // A renew interval far beyond the test: nothing expires, and the warm-up batches
  // Events for half of it (what a DEALER that registered 25,000 ids would hear).
  BrokerProcess broker(600000, 60000);
  std::vector<std::unique_ptr<BrokerClient>> clients;
  for (std::uint64_t c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<BrokerClient>(broker.endpoint(), "registrar"));
  }
  for (std::uint64_t c = 0; c < kClients; ++c) {
    std::vector<PeerInfo> share;
    for (std::uint64_t n = c * kMembers / kClients; n < (c + 1) * kMembers / kClients; ++n) {
      share.push_back(synthetic(n));
    }
    ASSERT_EQ(clients[c]->register_all(share), share.size());
  }

  // Everyone, page by page: each page within the broker's defaults (1000 records, about
  // 64 KiB), far below the 16 MiB frame limit, and together every member once, in
  // registration order.
  BrokerClient reader(broker.endpoint(), "reader");
  std::uint64_t after = 0;
  std::size_t pages = 0;
  std::uint64_t expected = 0;
  for (;;) {
    const BrokerMessage m = reader.lookup("", "", 5s, after);
    ASSERT_EQ(m.kind, Kind::peer_list);
    EXPECT_LE(m.payload.size(), 64u * 1024 + 1024);
    const auto page = m.as<PeerList>();
    ++pages;
    EXPECT_LE(page.peers.size(), 1000u);
    for (const auto& r : page.peers) {
      ASSERT_EQ(r.peer, synthetic(expected)) << "record " << expected;
      ++expected;
    }
    if (page.next == 0) break;
    ASSERT_GT(page.next, after);
    after = page.next;
  }
  EXPECT_EQ(expected, kMembers);
  EXPECT_GE(pages, kMembers / 1000);
  EXPECT_LE(pages, kMembers / 300);

  // By service and by name: answered from the indexes, paged the same way.
  const PeerList svc = reader.peers("", "svc-7");
  ASSERT_EQ(svc.peers.size(), kMembers / 100);
  EXPECT_EQ(svc.peers.front().peer, synthetic(7));
  EXPECT_EQ(svc.peers.back().peer, synthetic(kMembers - 93));
  const PeerList one = reader.peers("member-54321");
  ASSERT_EQ(one.peers.size(), 1u);
  EXPECT_EQ(one.peers[0].peer, synthetic(54321));

  // A smaller page on request.
  const auto ten = reader.lookup("", "svc-3", 5s, 0, 10).as<PeerList>();
  ASSERT_EQ(ten.peers.size(), 10u);
  EXPECT_NE(ten.next, 0u);
  const auto more = reader.lookup("", "svc-3", 5s, ten.next, 10).as<PeerList>();
  ASSERT_FALSE(more.peers.empty());
  EXPECT_EQ(more.peers[0].peer, synthetic(1003));
}

class BrokerEvents : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds ttl, std::chrono::milliseconds renew) {
    BrokerOptions o;
    o.bind = "tcp://127.0.0.1:*";
    o.ttl = ttl;
    o.renew_interval = renew;
    broker_.emplace(o);
    broker_->start();
  }
  std::optional<Broker> broker_;
};

TEST_F(BrokerEvents, EveryEventIsNumberedAndTheAckNamesTheLastOne) {
  start(5000ms, 100ms);  // nobody expires during the test, however slow the build
  BrokerClient a(broker_->endpoint(), "a");
  BrokerClient b(broker_->endpoint(), "b");
  const BrokerMessage ack = a.register_peer();
  ASSERT_EQ(ack.kind, Kind::register_ack);
  std::uint64_t seen = ack.as<RegisterAck>().event_sequence;

  // Each Event a hears carries the next number, whatever it is about.
  for (int i = 0; i < 3; ++i) {
    b.info().services = {"round-" + std::to_string(i)};
    ASSERT_EQ(b.register_peer().kind, Kind::register_ack);
    bool heard_b = false;
    while (!heard_b) {
      const std::optional<Event> e = a.next_batch(5s);
      ASSERT_TRUE(e) << "no Event about b";
      EXPECT_EQ(e->sequence, seen + 1);
      seen = e->sequence;
      heard_b = e->peer.id == b.id();
      for (const auto& c : e->more) heard_b = heard_b || c.peer.id == b.id();
    }
  }
  // A RegisterAck names the last Event sent: a peer that saw fewer lost some.
  const BrokerMessage renewed = a.renew();
  ASSERT_EQ(renewed.kind, Kind::register_ack);
  EXPECT_EQ(renewed.as<RegisterAck>().event_sequence, seen);
}

TEST_F(BrokerEvents, ARegistrationStormCostsAFewEventsPerPeerNotOnePerJoin) {
  // A young broker (warming up: younger than its TTL) sends the changes of half a renew
  // interval together.
  start(10000ms, 2000ms);
  constexpr std::size_t kPeers = 100;
  std::vector<std::unique_ptr<BrokerClient>> peers;
  peers.reserve(kPeers);
  for (std::size_t i = 0; i < kPeers; ++i) {
    peers.push_back(
        std::make_unique<BrokerClient>(broker_->endpoint(), "storm-" + std::to_string(i)));
  }
  // The first registers before the storm, so that it hears of every other by Events
  // (a peer that registers during the storm learns of the earlier ones from its listing).
  ASSERT_EQ(peers[0]->register_peer().kind, Kind::register_ack);
  std::vector<std::uint64_t> corr(kPeers, 0);
  for (std::size_t i = 1; i < kPeers; ++i) {
    corr[i] = peers[i]->send_new(Kind::reg, encode(Register{peers[i]->info(), 0}));
  }
  for (std::size_t i = 1; i < kPeers; ++i) {
    ASSERT_EQ(peers[i]->wait_answer(corr[i], 5s).kind, Kind::register_ack);
  }
  std::set<PeerId> joined;
  while (joined.size() < kPeers - 1) {
    const std::optional<Event> e = peers[0]->next_event(5s);
    ASSERT_TRUE(e) << "heard of " << joined.size() << " joins only";
    EXPECT_EQ(e->type, EventType::join);
    joined.insert(e->peer.id);
  }
  const BrokerStats s = broker_->stats();
  EXPECT_EQ(s.changes, kPeers);
  // One Event per join per peer would be kPeers * (kPeers - 1) / 2 = 4950.
  EXPECT_LE(s.events_sent, 5 * kPeers) << "changes " << s.changes;
}

}  // namespace
}  // namespace zmesh
