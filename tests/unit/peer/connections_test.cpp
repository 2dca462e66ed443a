#include "connections.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>
#include <vector>

#include "unit_harness.hpp"
#include "zmesh/core/control.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;
using test::ComponentEnv;

struct Inbound {
  PeerId from;
  Route route;
  Kind kind;
  std::uint64_t correlation;
  std::string type;
  std::string payload;
};

/// One side: its EngineContext, its Connections and what the events told.
struct Side {
  Side(zmq::context_t& zctx, PeerId id, PeerOptions o = {})
      : env(zctx, std::move(o), id),
        conns(*env.ctx,
              Connections::Events{
                  .ready = [this](Connection& c) { ready.push_back(c.peer()); },
                  .closing = [this](Connection& c) { closing.push_back(c.peer()); },
                  .lost = [this](PeerId p, errc code,
                                 const std::string&) { lost.emplace_back(p, code); },
                  .inbound =
                      [this](Connection& c, const Route& route, const Envelope& e, FrameSet&) {
                        inbound.push_back(
                            Inbound{c.peer(), route, e.header.kind, e.header.correlation_id,
                                    std::string(e.header.type),
                                    std::string(reinterpret_cast<const char*>(e.payload.data()),
                                                e.payload.size())});
                      },
                  .answer =
                      [this](Connection& c, const Envelope& e) {
                        answers.emplace_back(c.peer(), e.header.correlation_id);
                      },
              }) {
    endpoint = conns.open();
    env.ctx->self.endpoints = {endpoint};
  }
  ~Side() { conns.close(0ms); }

  void pump() {
    if (conns.router() != nullptr) (void)conns.read_router();
    std::vector<std::uint64_t> keys;
    conns.dealer_keys(keys);
    for (const auto k : keys) (void)conns.read_dealer(k);
    (void)conns.flush();
  }
  [[nodiscard]] PeerId id() const { return env.shared.id; }

  ComponentEnv env;
  std::vector<PeerId> ready, closing;
  std::vector<std::pair<PeerId, errc>> lost;
  std::vector<Inbound> inbound;
  std::vector<std::pair<PeerId, std::uint64_t>> answers;
  Connections conns;
  std::string endpoint;
};

bool contains(const std::vector<PeerId>& v, PeerId id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

/// a connects to b and both finish the greeting; returns a's connection to b.
Connection* greet(Side& a, Side& b) {
  auto done = std::make_unique<ConnectCompletion>();
  auto fut = done->promise.get_future();
  a.conns.connect(b.endpoint, "", std::move(done));
  const bool ok = test::pump_until([&] { return fut.wait_for(0s) == std::future_status::ready; },
                                   [&] {
                                     a.pump();
                                     b.pump();
                                   });
  EXPECT_TRUE(ok) << "greeting did not complete";
  if (!ok) return nullptr;
  EXPECT_EQ(fut.get(), b.id());
  return a.conns.find(b.id());
}

TEST(Connections, ConnectCompletesTheGreetingOnBothSides) {
  zmq::context_t zctx;
  Side a(zctx, 0xA1), b(zctx, 0xB2);
  Connection* c = greet(a, b);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->ready());
  EXPECT_TRUE(contains(a.ready, b.id()));
  EXPECT_TRUE(test::pump_until([&] { return contains(b.ready, a.id()); }, [&] { b.pump(); }));
  ASSERT_NE(b.conns.find(a.id()), nullptr);
  EXPECT_TRUE(b.conns.find(a.id())->ready());
  EXPECT_EQ(a.env.shared.counters.connections.load(), 1u);
  EXPECT_EQ(b.env.shared.counters.connections.load(), 1u);
}

TEST(Connections, RequestArrivesInboundAndItsAnswerComesBack) {
  zmq::context_t zctx;
  Side a(zctx, 0xA1), b(zctx, 0xB2);
  Connection* c = greet(a, b);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(a.conns.send_app(*c, AppSend{.kind = Kind::request,
                                         .correlation_id = 77,
                                         .type = "ping",
                                         .payload = test::text_frame("hi")}),
            Connections::Admit::accepted);
  ASSERT_TRUE(test::pump_until([&] { return !b.inbound.empty(); },
                               [&] {
                                 a.pump();
                                 b.pump();
                               }));
  const Inbound& in = b.inbound[0];
  EXPECT_EQ(in.from, a.id());
  EXPECT_EQ(in.kind, Kind::request);
  EXPECT_EQ(in.correlation, 77u);
  EXPECT_EQ(in.type, "ping");
  EXPECT_EQ(in.payload, "hi");

  b.conns.send_answer(in.route, Kind::reply, 77, test::text_frame("ho"));
  ASSERT_TRUE(test::pump_until([&] { return !a.answers.empty(); },
                               [&] {
                                 a.pump();
                                 b.pump();
                               }));
  EXPECT_EQ(a.answers[0], std::make_pair(b.id(), std::uint64_t{77}));
}

TEST(Connections, RemoveFiresClosingAndLost) {
  zmq::context_t zctx;
  Side a(zctx, 0xA1), b(zctx, 0xB2);
  Connection* c = greet(a, b);
  ASSERT_NE(c, nullptr);
  a.conns.remove(*c, errc::peer_gone, "gone for the test");
  EXPECT_EQ(a.closing, std::vector<PeerId>{b.id()});
  ASSERT_EQ(a.lost.size(), 1u);
  EXPECT_EQ(a.lost[0], std::make_pair(b.id(), errc::peer_gone));
  EXPECT_EQ(a.conns.find(b.id()), nullptr);
  EXPECT_EQ(a.conns.gone_reason(b.id()), "gone for the test");
  EXPECT_EQ(a.env.shared.counters.connections.load(), 0u);
}

TEST(Connections, SecondHelloFromOneDealerMovesItsIdentity) {
  zmq::context_t zctx;
  Side b(zctx, 0xB2);
  zmq::socket_t raw(zctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(b.endpoint);
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
  auto hello_as = [&](PeerId id, std::uint64_t session) {
    PeerInfo who;
    who.id = id;
    who.session = session;
    who.name = "raw";
    raw.send(enc.encode(test::make_header(Kind::hello, id, id, session)), zmq::send_flags::sndmore);
    raw.send(encode(Hello{kProtocolVersion, who, 500}), zmq::send_flags::none);
  };
  auto expect_welcome = [&](std::uint64_t correlation) {
    FrameSet frames;
    ASSERT_TRUE(test::pump_until([&] { return frames.recv(raw, zmq::recv_flags::dontwait); },
                                 [&] { b.pump(); }));
    auto env = dec.decode(Layout::dealer, frames);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->header.kind, Kind::welcome);
    EXPECT_EQ(env->header.correlation_id, correlation);
  };

  hello_as(0x111, 1);
  expect_welcome(0x111);
  EXPECT_TRUE(contains(b.ready, 0x111));
  ASSERT_NE(b.conns.find(0x111), nullptr);

  // The same DEALER greets again as another peer: the first connection has no route
  // left and goes; the new one is the only one.
  hello_as(0x222, 2);
  expect_welcome(0x222);
  (void)b.conns.flush();
  EXPECT_TRUE(contains(b.ready, 0x222));
  EXPECT_NE(b.conns.find(0x222), nullptr);
  EXPECT_EQ(b.conns.find(0x111), nullptr);
  EXPECT_TRUE(contains(b.closing, 0x111));
  ASSERT_FALSE(b.lost.empty());
  EXPECT_EQ(b.lost[0].first, 0x111u);
  EXPECT_EQ(b.env.shared.counters.connections.load(), 1u);
}

TEST(Connections, BacklogOverTheBoundRefusesSendsUntilThePeerReads) {
  zmq::context_t zctx;
  PeerOptions tiny;
  tiny.max_queued_bytes = 1;
  tiny.send_hwm = 1;
  PeerOptions slow;
  slow.recv_hwm = 1;
  Side a(zctx, 0xA1, tiny), b(zctx, 0xB2, slow);
  Connection* c = greet(a, b);
  ASSERT_NE(c, nullptr);

  // b stops reading: a's pipe, the TCP buffers and then a's backlog fill.
  const std::string chunk(std::size_t{64} * 1024, 'x');
  Connections::Admit admit = Connections::Admit::accepted;
  int sent = 0;
  for (; sent < 2000 && admit == Connections::Admit::accepted; ++sent) {
    admit = a.conns.send_app(
        *c, AppSend{.kind = Kind::message, .type = "bulk", .payload = test::text_frame(chunk)});
  }
  ASSERT_EQ(admit, Connections::Admit::over_bound) << "after " << sent << " sends";
  EXPECT_TRUE(a.conns.over_bound(*c));
  EXPECT_TRUE(a.conns.backlogged());
  EXPECT_GT(c->backlog_bytes, 0u);

  // b reads again: the backlog drains and sends are admitted again.
  ASSERT_TRUE(test::pump_until([&] { return !a.conns.backlogged(); },
                               [&] {
                                 a.pump();
                                 b.pump();
                               },
                               4s));
  EXPECT_FALSE(a.conns.over_bound(*c));
  EXPECT_EQ(
      a.conns.send_app(
          *c, AppSend{.kind = Kind::message, .type = "bulk", .payload = test::text_frame("small")}),
      Connections::Admit::accepted);
}

}  // namespace
}  // namespace zmesh::detail
