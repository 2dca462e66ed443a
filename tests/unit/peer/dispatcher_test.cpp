#include "dispatcher.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "unit_harness.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;
using test::ComponentEnv;

PeerOptions two_workers(int depth = 1024) {
  PeerOptions o;
  o.workers = 2;
  o.worker_queue_depth = depth;
  return o;
}

/// What a worker thread would hold: its end of the pipe.
zmq::socket_t worker_end(zmq::context_t& zctx, const PeerShared& shared, std::size_t i,
                         int hwm = 1000) {
  zmq::socket_t s(zctx, zmq::socket_type::pair);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, hwm);
  s.set(zmq::sockopt::rcvhwm, hwm);
  s.connect(worker_endpoint(shared.uid, i));
  return s;
}

struct Work {
  WorkMeta meta{};
  std::string type, topic, payload;
};

bool recv_work(zmq::socket_t& s, Work& out, std::chrono::milliseconds timeout = 2s) {
  FrameSet frames;
  if (!test::recv_within(s, frames, timeout)) return false;
  EXPECT_TRUE(frames.size() == 2 || frames.size() == 3) << frames.size() << " frames";
  Names names;
  auto meta = read_work(frames, names);
  EXPECT_TRUE(meta.has_value());
  if (!meta) return false;
  out = Work{*meta, std::string(names.type), std::string(names.topic), std::string(names.payload)};
  return true;
}

void deliver(Dispatcher& d, PeerId sender, std::uint64_t correlation, std::string_view payload) {
  Envelope env;
  env.header = test::make_header(Kind::request, correlation, sender, 1);
  env.header.type = "job";
  d.deliver(sender, Route{.connection = 5}, env, test::text_frame(payload));
}

/// Two senders that go to different workers.
std::pair<PeerId, PeerId> split_senders(const Dispatcher& d) {
  const PeerId a = 1000;
  for (PeerId b = a + 1; b < a + 1000; ++b) {
    if (d.worker_for(b) != d.worker_for(a)) return {a, b};
  }
  ADD_FAILURE() << "worker_for sends every sender to one worker";
  return {a, a};
}

TEST(Dispatcher, OneSendersWorkGoesToOneWorkerInOrder) {
  zmq::context_t zctx;
  ComponentEnv env(zctx, two_workers());
  Dispatcher d(*env.ctx, [](const ResultMeta&, zmq::message_t) {});
  d.open();
  ASSERT_EQ(d.workers(), 2u);
  zmq::socket_t w0 = worker_end(zctx, env.shared, 0);
  zmq::socket_t w1 = worker_end(zctx, env.shared, 1);
  zmq::socket_t* ends[] = {&w0, &w1};

  const auto [a, b] = split_senders(d);
  for (std::uint64_t i = 1; i <= 3; ++i) deliver(d, a, i, "a" + std::to_string(i));
  deliver(d, b, 9, "b");
  EXPECT_FALSE(d.paused());

  zmq::socket_t& wa = *ends[d.worker_for(a)];
  for (std::uint64_t i = 1; i <= 3; ++i) {
    Work w;
    ASSERT_TRUE(recv_work(wa, w));
    EXPECT_EQ(w.meta.op, WorkOp::deliver);
    EXPECT_EQ(w.meta.kind, Kind::request);
    EXPECT_EQ(w.meta.sender, a);
    EXPECT_EQ(w.meta.correlation_id, i);
    EXPECT_EQ(w.meta.route.connection, 5u);
    EXPECT_EQ(w.type, "job");
    EXPECT_TRUE(w.topic.empty());
    EXPECT_EQ(w.payload, "a" + std::to_string(i));
  }
  Work w;
  ASSERT_TRUE(recv_work(*ends[d.worker_for(b)], w));
  EXPECT_EQ(w.meta.sender, b);
  EXPECT_FALSE(recv_work(wa, w, 50ms)) << "a's worker got more than a's work";
  EXPECT_EQ(env.shared.counters.worker_queue_depth.load(), 4u);
  d.close();
}

TEST(Dispatcher, FullWorkerPausesAndFlushResumes) {
  zmq::context_t zctx;
  ComponentEnv env(zctx, two_workers(/*depth=*/2));
  Dispatcher d(*env.ctx, [](const ResultMeta&, zmq::message_t) {});
  d.open();
  zmq::socket_t w0 = worker_end(zctx, env.shared, 0, 1);
  zmq::socket_t w1 = worker_end(zctx, env.shared, 1, 1);
  zmq::socket_t* ends[] = {&w0, &w1};

  const PeerId sender = 77;
  constexpr std::uint64_t kItems = 100;
  for (std::uint64_t i = 1; i <= kItems; ++i) deliver(d, sender, i, "x");
  ASSERT_TRUE(d.paused()) << "100 items fit a pipe of depth 2";
  EXPECT_EQ(d.blocked_on(), d.worker_for(sender));

  // The worker reads; the engine flushes what waited, in order.
  zmq::socket_t& end = *ends[d.worker_for(sender)];
  std::uint64_t next = 1;
  Work w;
  const bool all = test::pump_until([&] { return next > kItems; },
                                    [&] {
                                      while (recv_work(end, w, 0ms)) {
                                        EXPECT_EQ(w.meta.correlation_id, next);
                                        ++next;
                                      }
                                      d.flush();
                                    });
  EXPECT_TRUE(all) << "received " << (next - 1) << " of " << kItems;
  EXPECT_FALSE(d.paused());
  d.close();
}

TEST(Dispatcher, WorkerResultsReachOnResultAndStopMarkersCount) {
  zmq::context_t zctx;
  ComponentEnv env(zctx, two_workers());
  std::vector<std::pair<ResultMeta, std::string>> results;
  Dispatcher d(*env.ctx, [&](const ResultMeta& meta, zmq::message_t payload) {
    results.emplace_back(meta, std::string(view_of(payload)));
  });
  d.open();
  zmq::socket_t w0 = worker_end(zctx, env.shared, 0);
  zmq::socket_t w1 = worker_end(zctx, env.shared, 1);

  // As a worker answers: [record, the work's route][body].
  Route route{.connection = 3, .identity_size = 5};
  std::memcpy(route.identity, "\0abcd", 5);
  ResultMeta reply{ResultOp::reply, WireError::none, route, 42};
  w1.send(result_frame(reply), zmq::send_flags::sndmore);
  w1.send(test::text_frame("answer"), zmq::send_flags::none);
  ASSERT_TRUE(test::pump_until([&] { return !results.empty(); }, [&] { (void)d.read(1); }));
  EXPECT_EQ(results[0].first.op, ResultOp::reply);
  EXPECT_EQ(results[0].first.correlation_id, 42u);
  EXPECT_EQ(results[0].first.route.connection, 3u);
  EXPECT_EQ(std::string_view(results[0].first.route.identity, results[0].first.route.identity_size),
            std::string_view("\0abcd", 5));
  EXPECT_EQ(results[0].second, "answer");

  // Each worker acknowledges its stop marker.
  d.stop_workers();
  EXPECT_FALSE(d.all_stopped());
  Work w;
  for (zmq::socket_t* end : {&w0, &w1}) {
    ASSERT_TRUE(recv_work(*end, w));
    EXPECT_EQ(w.meta.op, WorkOp::stop);
    ResultMeta stopped{ResultOp::stopped, WireError::none, Route{}, 0};
    end->send(result_frame(stopped), zmq::send_flags::sndmore);
    end->send(zmq::message_t(), zmq::send_flags::none);
  }
  ASSERT_TRUE(test::pump_until([&] { return d.all_stopped(); },
                               [&] {
                                 (void)d.read(0);
                                 (void)d.read(1);
                               }));
  EXPECT_EQ(results.size(), 1u) << "a stop marker reached OnResult";

  // Completions after the workers stopped are left for whoever stops the peer.
  auto done = std::make_unique<RequestCompletion>();
  done->callback = [](std::error_code, const Response&) {};
  d.complete(std::move(done), 7, errc::ok, "late");
  auto orphans = d.take_orphans();
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(orphans[0].response.payload, "late");
  EXPECT_FALSE(orphans[0].error);
  d.close();
}

TEST(Dispatcher, DepartedConnectionIsSeenByWorkers) {
  zmq::context_t zctx;
  ComponentEnv env(zctx, two_workers());
  Dispatcher d(*env.ctx, [](const ResultMeta&, zmq::message_t) {});
  EXPECT_FALSE(env.shared.departed.contains(42));
  d.departed(42);
  EXPECT_TRUE(env.shared.departed.contains(42));
  EXPECT_FALSE(env.shared.departed.contains(43));
}

}  // namespace
}  // namespace zmesh::detail
