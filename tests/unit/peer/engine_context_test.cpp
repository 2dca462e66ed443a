#include "engine_context.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "unit_harness.hpp"

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;

std::int64_t steady_us(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TEST(RoundClock, OutsideARoundEveryReadIsFresh) {
  zmq::context_t zctx;
  test::ComponentEnv env(zctx);
  const auto first = env.ctx->now();
  std::this_thread::sleep_for(2ms);
  EXPECT_GE(env.ctx->now() - first, 2ms);
  const auto unix_before = env.ctx->unix_now();
  std::this_thread::sleep_for(2ms);
  EXPECT_GE(env.ctx->unix_now() - unix_before, 2000U);
}

TEST(RoundClock, InsideARoundEveryReadIsTheRoundsUntilTheNext) {
  zmq::context_t zctx;
  test::ComponentEnv env(zctx);
  env.ctx->start_round();
  const auto steady = env.ctx->now();
  const auto unix_us = env.ctx->unix_now();
  EXPECT_EQ(env.ctx->header(Kind::request, 1).timestamp_us, unix_us);
  std::this_thread::sleep_for(2ms);
  EXPECT_EQ(env.ctx->now(), steady);
  EXPECT_EQ(env.ctx->unix_now(), unix_us);
  env.ctx->start_round();
  EXPECT_GE(env.ctx->now() - steady, 2ms);
  EXPECT_GE(env.ctx->unix_now() - unix_us, 2000U);
}

TEST(RoundClock, AfterUserCodeRanTheRestOfTheRoundReadsAfresh) {
  zmq::context_t zctx;
  test::ComponentEnv env(zctx);
  env.ctx->start_round();
  const auto steady = env.ctx->now();
  std::this_thread::sleep_for(2ms);  // an inline handler taking its time
  env.ctx->user_code_ran();
  EXPECT_GE(env.ctx->now() - steady, 2ms);
  const auto later = env.ctx->now();
  std::this_thread::sleep_for(2ms);
  EXPECT_GE(env.ctx->now() - later, 2ms);
}

TEST(RoundClock, ADeadlineGetsItsUnixHalfFromTheRoundsClocks) {
  zmq::context_t zctx;
  test::ComponentEnv env(zctx);
  env.ctx->start_round();
  const std::int64_t at = steady_us(env.ctx->now() + 5s);  // what a command carries
  const auto in_5s = env.ctx->deadline(at);
  EXPECT_EQ(in_5s.steady, Deadline::steady_at(at));
  // 5 s from the round's unix time, less what the microsecond rounding took off.
  EXPECT_GE(in_5s.unix_ms, env.ctx->unix_now() / 1000 + 4999);
  EXPECT_LE(in_5s.unix_ms, env.ctx->unix_now() / 1000 + 5000);
  // Already passed: the wire says "now", never a time before it.
  const auto passed = env.ctx->deadline(steady_us(env.ctx->now() - 1s));
  EXPECT_EQ(passed.unix_ms, env.ctx->unix_now() / 1000);
  // None: none on the wire either.
  EXPECT_EQ(env.ctx->deadline(0).unix_ms, 0U);
}

}  // namespace
}  // namespace zmesh::detail
