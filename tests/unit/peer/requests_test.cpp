#include "requests.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <set>
#include <vector>

#include "unit_harness.hpp"
#include "zmesh/core/control.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;
using test::ComponentEnv;

struct Sent {
  PeerId to;
  std::uint64_t correlation;
  std::string type;
  std::string payload;
};

struct CallbackRun {
  PeerId from;
  errc code;
  std::string body;
};

struct RequestsTest : ::testing::Test {
  RequestsTest()
      : env(zctx),
        requests(*env.ctx,
                 Requests::Hooks{
                     .send = [this](PeerId to, AppSend s) -> std::optional<SendFailure> {
                       sent.push_back(Sent{to, s.correlation_id, std::string(s.type),
                                           std::string(view_of(s.payload))});
                       if (refuse.count(to) != 0) {
                         return SendFailure{errc::unknown_peer, "no such peer"};
                       }
                       return std::nullopt;
                     },
                     .pick =
                         [this](const std::string& service, const std::vector<PeerId>& tried) {
                           picked_service = service;
                           for (const PeerId p : offering) {
                             if (std::find(tried.begin(), tried.end(), p) == tried.end()) return p;
                           }
                           return PeerId{0};
                         },
                     .run_callback =
                         [this](std::unique_ptr<RequestCompletion> done, PeerId from, errc code,
                                std::string_view body) {
                           ASSERT_TRUE(done && done->callback);
                           callbacks.push_back(CallbackRun{from, code, std::string(body)});
                         },
                     .describe = [](PeerId p) { return "peer-" + std::to_string(p); },
                 }) {}

  zmesh::Future<Response> ask(PeerId to, std::chrono::milliseconds timeout = 5s) {
    auto done = std::make_unique<RequestCompletion>();
    auto fut = done->promise.get_future();
    requests.request(to, Deadline::after(timeout), "echo", test::text_frame("hi"), std::move(done));
    return fut;
  }

  zmesh::Future<Response> ask_service(const std::string& service,
                                      std::chrono::milliseconds timeout = 5s) {
    auto done = std::make_unique<RequestCompletion>();
    auto fut = done->promise.get_future();
    requests.request_service(service, Deadline::after(timeout), "echo", test::text_frame("hi"),
                             std::move(done));
    return fut;
  }

  /// An answer of `kind` from `from`, as Connections would hand it over.
  void answer(PeerId from, PeerId sender, Kind kind, std::uint64_t correlation,
              const zmq::message_t& payload) {
    Envelope env;
    env.header = test::make_header(kind, correlation, sender, 1);
    env.payload = bytes_of(payload);
    requests.on_answer(from, "peer-" + std::to_string(from), env);
  }

  static errc failure_of(zmesh::Future<Response>& fut) {
    EXPECT_EQ(fut.wait_for(0s), std::future_status::ready);
    try {
      fut.get();
    } catch (const Error& e) {
      return e.kind();
    }
    return errc::ok;
  }

  zmq::context_t zctx;
  ComponentEnv env;
  std::vector<Sent> sent;
  std::set<PeerId> refuse;
  std::vector<PeerId> offering;
  std::string picked_service;
  std::vector<CallbackRun> callbacks;
  Requests requests;
};

TEST_F(RequestsTest, UnknownPeerFailsWithTheHooksFailure) {
  refuse = {7};
  auto fut = ask(7);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, 7u);
  EXPECT_EQ(failure_of(fut), errc::unknown_peer);
  EXPECT_EQ(requests.size(), 0u);
  EXPECT_EQ(env.shared.counters.pending.load(), 0u);
}

TEST_F(RequestsTest, ReplyCompletesTheFuture) {
  auto fut = ask(7);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].type, "echo");
  EXPECT_EQ(sent[0].payload, "hi");
  EXPECT_EQ(requests.count_for(7), 1u);
  EXPECT_EQ(fut.wait_for(0s), std::future_status::timeout);
  answer(7, 7, Kind::reply, sent[0].correlation, test::text_frame("pong"));
  ASSERT_EQ(fut.wait_for(0s), std::future_status::ready);
  const Response r = fut.get();
  EXPECT_EQ(r.from, 7u);
  EXPECT_EQ(r.payload, "pong");
  EXPECT_EQ(requests.size(), 0u);
  // A second answer to the same correlation is late, not a second completion.
  answer(7, 7, Kind::reply, sent[0].correlation, test::text_frame("again"));
  EXPECT_EQ(env.shared.counters.late_replies.load(), 1u);
}

TEST_F(RequestsTest, ErrorReplyMapsWireCodeToErrc) {
  auto busy = ask(7);
  auto nohandler = ask(7);
  ASSERT_EQ(sent.size(), 2u);
  answer(7, 7, Kind::error, sent[0].correlation, encode(ErrorReply{WireError::overloaded, "busy"}));
  answer(7, 7, Kind::error, sent[1].correlation,
         encode(ErrorReply{WireError::no_handler, "no handler for echo"}));
  EXPECT_EQ(failure_of(busy), errc::overloaded);
  EXPECT_EQ(failure_of(nohandler), to_errc(WireError::no_handler));
  EXPECT_EQ(requests.size(), 0u);
}

TEST_F(RequestsTest, ReplyFromAnotherPeerIsIgnored) {
  auto fut = ask(7);
  ASSERT_EQ(sent.size(), 1u);
  // Peer 8 answers our correlation id (on its own connection): not our reply.
  answer(8, 8, Kind::reply, sent[0].correlation, test::text_frame("forged"));
  // A header naming 7 that arrives on 8's connection is not believed either.
  answer(8, 7, Kind::reply, sent[0].correlation, test::text_frame("forged"));
  EXPECT_EQ(env.shared.counters.unexpected.load(), 2u);
  EXPECT_EQ(fut.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(requests.count_for(7), 1u);
  answer(7, 7, Kind::reply, sent[0].correlation, test::text_frame("real"));
  ASSERT_EQ(fut.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(fut.get().payload, "real");
}

TEST_F(RequestsTest, ExpireFailsWithTimeout) {
  auto soon = ask(7, 50ms);
  auto later = ask(7, 10s);
  requests.expire(SteadyClock::now() + 1s);
  EXPECT_EQ(failure_of(soon), errc::timeout);
  EXPECT_EQ(later.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(requests.size(), 1u);
  EXPECT_EQ(env.shared.counters.timeouts.load(), 1u);
}

TEST_F(RequestsTest, LostFailsOnlyThatPeersRequests) {
  auto to7 = ask(7);
  auto to8 = ask(8);
  requests.lost(7, errc::peer_gone, "peer 7 left");
  EXPECT_EQ(failure_of(to7), errc::peer_gone);
  EXPECT_EQ(to8.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(requests.count_for(7), 0u);
  EXPECT_EQ(requests.count_for(8), 1u);
}

TEST_F(RequestsTest, ServiceRequestMovesToNextPeerWhenItsPeerIsLost) {
  offering = {7, 8};
  auto fut = ask_service("calc");
  EXPECT_EQ(picked_service, "calc");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, 7u);
  requests.lost(7, errc::peer_gone, "peer 7 left");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].to, 8u);
  EXPECT_EQ(sent[1].correlation, sent[0].correlation);
  EXPECT_EQ(sent[1].payload, "hi");
  EXPECT_EQ(fut.wait_for(0s), std::future_status::timeout);
  answer(8, 8, Kind::reply, sent[1].correlation, test::text_frame("done"));
  ASSERT_EQ(fut.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(fut.get().from, 8u);
}

TEST_F(RequestsTest, ServiceRequestWithNobodyLeftFails) {
  auto none = ask_service("calc");
  EXPECT_EQ(failure_of(none), errc::unknown_peer);
  offering = {7};
  auto one = ask_service("calc");
  ASSERT_EQ(sent.size(), 1u);
  requests.lost(7, errc::peer_gone, "peer 7 left");  // 7 was tried: nobody else offers it
  EXPECT_EQ(failure_of(one), errc::peer_gone);
  EXPECT_EQ(requests.size(), 0u);
}

TEST_F(RequestsTest, CallbackCompletionsGoToRunCallback) {
  bool ran_on_engine = false;
  auto make = [&] {
    auto done = std::make_unique<RequestCompletion>();
    done->callback = [&](std::error_code, const Response&) { ran_on_engine = true; };
    return done;
  };
  requests.request(7, Deadline::after(5s), "echo", test::text_frame("a"), make());
  requests.request(7, Deadline::after(20ms), "echo", test::text_frame("b"), make());
  ASSERT_EQ(sent.size(), 2u);
  answer(7, 7, Kind::reply, sent[0].correlation, test::text_frame("ok"));
  requests.expire(SteadyClock::now() + 1s);
  ASSERT_EQ(callbacks.size(), 2u);
  EXPECT_EQ(callbacks[0].from, 7u);
  EXPECT_EQ(callbacks[0].code, errc::ok);
  EXPECT_EQ(callbacks[0].body, "ok");
  EXPECT_EQ(callbacks[1].code, errc::timeout);
  EXPECT_FALSE(ran_on_engine) << "user callback ran on the engine instead of run_callback";
}

}  // namespace
}  // namespace zmesh::detail
