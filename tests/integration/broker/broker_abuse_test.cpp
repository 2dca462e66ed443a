// A broker no client can wedge (issue 11, item 6): each abuse found from outside, played
// against the real zmesh-broker process with raw DEALERs (tests/support/broker_client.hpp).
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "broker_process.hpp"
#include "test_support.hpp"
#include "zmesh/broker/broker.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::BrokerClient;
using test::BrokerMessage;
using test::BrokerProcess;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ what one registration carries

TEST(BrokerAbuse, OversizedRegistrationsAreRefusedNamingTheLimitAndListingsStayUsable) {
  BrokerProcess broker;
  BrokerClient fat(broker.endpoint(), "fat");
  for (int i = 0; i < 33; ++i) fat.info().services.push_back("s" + std::to_string(i));
  const BrokerMessage many = fat.register_peer();
  ASSERT_EQ(many.kind, Kind::reject);
  EXPECT_EQ(many.as<Reject>().code, WireError::bad_request);
  EXPECT_NE(many.as<Reject>().reason.find("max-services"), std::string::npos)
      << many.as<Reject>().reason;

  fat.info().services.assign(8, std::string(1000, 'x'));  // 8,000 bytes of services
  for (std::size_t i = 0; i < fat.info().services.size(); ++i) {
    fat.info().services[i][0] = static_cast<char>('a' + i);
  }
  const BrokerMessage big = fat.register_peer();
  ASSERT_EQ(big.kind, Kind::reject);
  EXPECT_EQ(big.as<Reject>().code, WireError::bad_request);
  EXPECT_NE(big.as<Reject>().reason.find("max-peer-bytes"), std::string::npos)
      << big.as<Reject>().reason;

  // 300 registrations as large as allowed (about 4 KiB each: 1.2 MB in all) list in
  // pages of about 64 KiB, and a by-name lookup is one small page.
  BrokerClient registrar(broker.endpoint(), "registrar");
  std::vector<PeerInfo> big_ones;
  for (int i = 0; i < 300; ++i) {
    PeerInfo p;
    p.id = 0x6000 + i;
    p.session = 0x9000 + i;
    p.name = "big-" + std::to_string(i);
    for (int s = 0; s < 4; ++s) p.services.push_back(std::to_string(s) + std::string(990, 'y'));
    big_ones.push_back(std::move(p));
  }
  ASSERT_EQ(registrar.register_all(big_ones), 300u);
  BrokerClient reader(broker.endpoint(), "reader");
  std::size_t pages = 0;
  EXPECT_EQ(reader.peers("", "", &pages).peers.size(), 300u);
  EXPECT_GE(pages, 18u);
  const BrokerMessage one = reader.lookup("big-299");
  ASSERT_EQ(one.kind, Kind::peer_list);
  EXPECT_EQ(one.as<PeerList>().peers.size(), 1u);
  EXPECT_LT(one.payload.size(), 8192u);
}

// ------------------------------------------------------------------ clients that never read

/// A raw DEALER that asks for the full listing again and again and never reads: the
/// smallest receive queue and TCP window, so what it does not read piles up at the broker.
class NonReader {
 public:
  NonReader(zmq::context_t& ctx, const std::string& endpoint)
      : dealer_(ctx, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::rcvhwm, 1);
    dealer_.set(zmq::sockopt::rcvbuf, 4096);
    dealer_.set(zmq::sockopt::sndhwm, 100000);
    dealer_.connect(endpoint);
  }
  void ask(int times) {
    for (int i = 0; i < times; ++i) {
      Header h;
      h.kind = Kind::lookup;
      h.correlation_id = ++correlation_;
      h.sender_id = id_;
      h.sender_session = session_;
      dealer_.send(encoder_.encode(h), zmq::send_flags::sndmore);
      dealer_.send(encode(Lookup{}), zmq::send_flags::none);
    }
  }

 private:
  zmq::socket_t dealer_;
  EnvelopeEncoder encoder_;
  std::uint64_t id_ = random_id();
  std::uint64_t session_ = random_id();
  std::uint64_t correlation_ = 0;
};

/// Registers `n` members of about 4 KiB each, so that a full listing is pages of about
/// page-bytes.
void register_fat_members(const std::string& endpoint, int n, std::size_t window = 32) {
  BrokerClient registrar(endpoint, "registrar");
  std::vector<PeerInfo> fat;
  for (int i = 0; i < n; ++i) {
    PeerInfo p;
    p.id = 0x8000 + i;
    p.session = 0xa000 + i;
    p.name = "fat-" + std::to_string(i);
    for (int s = 0; s < 4; ++s) p.services.push_back(std::to_string(s) + std::string(990, 'z'));
    fat.push_back(std::move(p));
  }
  ASSERT_EQ(registrar.register_all(fat, window), static_cast<std::size_t>(n));
}

TEST(BrokerAbuse, ClientsThatNeverReadHoldABoundedAmountOfBrokerMemory) {
  // Each non-reader may make the broker hold about send-queue (8) pages of 64 KiB.
  BrokerProcess broker(60000, 20000, {"--send-queue", "8"});
  // A full listing: about 800 KB, 13 pages. (Registered two at a time: the registrar's
  // queue is small too.)
  register_fat_members(broker.endpoint(), 200, 2);
  BrokerClient normal(broker.endpoint(), "normal");
  ASSERT_EQ(normal.peers().peers.size(), 200u);
  const long before = broker.rss_kib();
  ASSERT_GT(before, 0);

  // 20 clients x 100 full lookups = 2,000 first pages of 64 KiB: 125 MiB if held (and
  // 1.6 GB before listings were paged).
  zmq::context_t ctx(1);
  std::vector<std::unique_ptr<NonReader>> flood;
  flood.reserve(20);
  for (int i = 0; i < 20; ++i) flood.push_back(std::make_unique<NonReader>(ctx, broker.endpoint()));
  long peak = before;
  for (int round = 0; round < 5; ++round) {
    for (auto& f : flood) f->ask(20);
    // Meanwhile a client that reads is answered, whole.
    EXPECT_EQ(normal.peers().peers.size(), 200u) << "round " << round;
    peak = std::max(peak, broker.rss_kib());
  }
  std::this_thread::sleep_for(500ms);  // let the broker work through what it was sent
  EXPECT_EQ(normal.peers().peers.size(), 200u);
  peak = std::max(peak, broker.rss_kib());
  RecordProperty("broker_rss_growth_kib", std::to_string(peak - before));
  // 20 clients x (8 queued + 2 in flight) x 64 KiB = 12.5 MiB, with room for allocator
  // slack. (ASan's quarantine keeps every freed page for a while: RSS means little there.)
  if (test::kRssTimed) {
    EXPECT_LT(peak - before, 32 * 1024) << "broker RSS " << before << " -> " << peak << " KiB";
  }
}

TEST(BrokerAbuse, AnswersAClientDoesNotReadAreDroppedAndCounted) {
  BrokerOptions o;
  o.bind = "tcp://127.0.0.1:*";
  Broker broker(o);
  broker.start();
  register_fat_members(broker.endpoint(), 200);
  zmq::context_t ctx(1);
  NonReader slow(ctx, broker.endpoint());
  slow.ask(500);  // 500 pages of 64 KiB: more than its queue (64) and the TCP buffers
  ASSERT_TRUE(test::wait_until([&] { return broker.stats().slow_consumer > 0; }, 10s));
  BrokerClient normal(broker.endpoint(), "normal");
  EXPECT_EQ(normal.peers().peers.size(), 200u);
}

// ------------------------------------------------------------------ a registration belongs to its
// connection

TEST(BrokerAbuse, ARegistrationCannotBeHijackedOrRemovedFromAnotherConnection) {
  // Live = heard from within two renew intervals (2 s here): the victim renews every
  // round, far more often, however loaded the machine.
  BrokerProcess broker(6000, 1000);
  BrokerClient victim(broker.endpoint(), "victim");
  BrokerClient watcher(broker.endpoint(), "watcher");
  ASSERT_EQ(victim.register_peer().kind, Kind::register_ack);
  ASSERT_EQ(watcher.register_peer().kind, Kind::register_ack);
  const std::vector<std::string> real = victim.info().endpoints;
  watcher.skip_joins_of(victim.id());  // it may hear of the victim in its own tick

  // The attacker read the victim's id and session from a lookup; it claims them from its
  // own connection, with its own endpoint, again and again while the victim renews.
  BrokerClient attacker(broker.endpoint(), "attacker");
  attacker.info() = victim.info();
  attacker.info().endpoints = {"tcp://127.0.0.1:1"};
  for (int i = 0; i < 10; ++i) {
    const BrokerMessage hijack = attacker.register_peer();
    ASSERT_EQ(hijack.kind, Kind::reject);
    EXPECT_EQ(hijack.as<Reject>().code, WireError::duplicate_id);
    const BrokerMessage renew = attacker.wait_answer(
        attacker.send_new(Kind::renew, zmq::message_t(), victim.id(), victim.info().session), 5s);
    ASSERT_EQ(renew.kind, Kind::error);
    EXPECT_EQ(renew.as<ErrorReply>().code, WireError::duplicate_id);
    // A spoofed Bye is ignored.
    attacker.send(Kind::bye, 0, zmq::message_t(), victim.id(), victim.info().session);
    ASSERT_EQ(victim.renew().kind, Kind::register_ack);
    const PeerList by_name = watcher.peers("victim");
    ASSERT_EQ(by_name.peers.size(), 1u) << "round " << i;
    EXPECT_EQ(by_name.peers[0].peer.endpoints, real) << "round " << i;
    std::this_thread::sleep_for(100ms);
  }
  // The watcher heard nothing about the victim: no Update, no Leave.
  while (const std::optional<Event> e = watcher.next_event(300ms)) {
    EXPECT_NE(e->peer.id, victim.id()) << "event type " << int(e->type);
  }

  // The real peer's DEALER reconnects (a new identity): refused while the old connection
  // still counts as live, it takes its registration over once that one has missed two
  // renewals (2 s), keeping its place.
  BrokerClient reconnected(broker.endpoint(), "victim");
  reconnected.info() = victim.info();
  const auto deadline = Clock::now() + 10s;
  BrokerMessage answer;
  while (Clock::now() < deadline) {
    answer = reconnected.renew();
    if (answer.kind == Kind::register_ack) break;
    ASSERT_EQ(answer.kind, Kind::error);
    EXPECT_EQ(answer.as<ErrorReply>().code, WireError::duplicate_id);
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(answer.kind, Kind::register_ack) << "not taken over within 10 s";
  EXPECT_EQ(watcher.peers("victim").peers.at(0).peer.endpoints, real);
  // ... and the attacker still cannot take it from there.
  EXPECT_EQ(attacker.register_peer().kind, Kind::reject);
}

TEST(BrokerAbuse, ALiveNameCannotBeTakenByAnotherPeer) {
  BrokerProcess broker(6000, 1000);  // live: heard from within 2 s
  BrokerClient holder(broker.endpoint(), "pricing");
  ASSERT_EQ(holder.register_peer().kind, Kind::register_ack);
  BrokerClient squatter(broker.endpoint(), "pricing");
  squatter.info().endpoints = {"tcp://127.0.0.1:1"};
  for (int i = 0; i < 5; ++i) {
    const BrokerMessage refused = squatter.register_peer();
    ASSERT_EQ(refused.kind, Kind::reject);
    EXPECT_EQ(refused.as<Reject>().code, WireError::duplicate_name);
    EXPECT_NE(refused.as<Reject>().reason.find(id_to_hex(holder.id())), std::string::npos);
    ASSERT_EQ(holder.renew().kind, Kind::register_ack);
    const PeerList list = squatter.peers("pricing");
    ASSERT_EQ(list.peers.size(), 1u);
    EXPECT_EQ(list.peers[0].peer.id, holder.id());
    std::this_thread::sleep_for(100ms);
  }
}

// ------------------------------------------------------------------ logging

TEST(BrokerAbuse, JoinsAreLoggedAsAPerSecondSummaryNotALinePerPeer) {
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(test::free_port());
  test::ChildProcess broker(ZMESH_BROKER_BIN, {"--bind", endpoint, "--log-level", "info"},
                            {std::nullopt, /*capture_stderr=*/true});
  BrokerClient registrar(endpoint, "registrar");
  constexpr int kFakes = 2000;
  std::vector<PeerInfo> fakes;
  for (int i = 0; i < kFakes; ++i) {
    PeerInfo p;
    p.id = 0x4000 + i;
    p.session = 0x5000 + i;
    p.name = "fake-" + std::to_string(i);
    fakes.push_back(std::move(p));
  }
  ASSERT_EQ(registrar.register_all(fakes), static_cast<std::size_t>(kFakes));
  broker.signal(SIGTERM);
  const std::string log = broker.read_all(test::ChildProcess::Stream::err, 10s);
  ASSERT_NE(broker.wait(10s), -1);
  std::size_t lines = 0;
  std::size_t joined_lines = 0;
  long joined = 0;  // the sum of the summaries' counts
  for (std::size_t at = 0; at < log.size();) {
    const auto end = log.find('\n', at);
    const std::string line = log.substr(at, end == std::string::npos ? end : end - at);
    ++lines;
    if (const auto j = line.find("joined="); j != std::string::npos) {
      ++joined_lines;
      joined += std::stol(line.substr(j + 7));
    }
    if (end == std::string::npos) break;
    at = end + 1;
  }
  EXPECT_GE(joined_lines, 1u) << log.substr(0, 2000);
  EXPECT_LE(joined_lines, 20u) << log.substr(0, 2000);
  EXPECT_LE(lines, 40u) << log.substr(0, 2000);
  EXPECT_EQ(joined, kFakes) << log.substr(0, 2000);
}

}  // namespace
}  // namespace zmesh
