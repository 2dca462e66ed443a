// zmesh::Future and its engine side, detail::Promise: std::future's contract (one get(),
// the error rethrown, timeouts, a broken promise) on a CompletionFlag.
#include "zmesh/peer/future.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using detail::Promise;

TEST(Future, AValueSetBeforeGetIsReturnedOnceAndLeavesTheFutureInvalid) {
  Promise<std::string> p;
  auto f = p.get_future();
  EXPECT_TRUE(f.valid());
  EXPECT_FALSE(f.is_ready());
  p.set_value("answer");
  EXPECT_TRUE(f.is_ready());
  EXPECT_EQ(f.wait_for(0ms), std::future_status::ready);
  EXPECT_EQ(f.get(), "answer");
  EXPECT_FALSE(f.valid());
  EXPECT_THROW((void)f.get(), std::future_error);
}

TEST(Future, GetWaitsForAValueSetOnAnotherThread) {
  Promise<int> p;
  auto f = p.get_future();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    EXPECT_EQ(f.get(), 42);
    got = true;
  });
  std::this_thread::sleep_for(20ms);  // let it sleep in the futex (not asserted: either way)
  EXPECT_FALSE(got.load());
  p.set_value(42);
  waiter.join();
  EXPECT_TRUE(got.load());
}

TEST(Future, EveryWaiterWakesOnce) {
  Promise<void> p;
  auto f = p.get_future();
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  waiters.reserve(4);
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      f.wait();
      woken.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(woken.load(), 0);
  p.set_value();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woken.load(), 4);
  EXPECT_NO_THROW(f.get());
}

TEST(Future, WaitForTimesOutWhileUnsetAndIsReadyOnceSet) {
  Promise<int> p;
  auto f = p.get_future();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(f.wait_for(30ms), std::future_status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() + 5ms), std::future_status::timeout);
  std::thread setter([&] {
    std::this_thread::sleep_for(10ms);
    p.set_value(7);
  });
  EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
  setter.join();
  EXPECT_EQ(f.get(), 7);
}

TEST(Future, GetRethrowsTheErrorTheCallFailedWith) {
  Promise<int> p;
  auto f = p.get_future();
  p.set_exception(std::make_exception_ptr(Error(errc::peer_gone, "peer 7 is gone")));
  try {
    (void)f.get();
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::peer_gone);
  }
}

TEST(Future, APromiseDestroyedUnsetBreaksItsFuture) {
  Future<int> f;
  EXPECT_FALSE(f.valid());
  EXPECT_THROW(f.wait(), std::future_error);
  {
    Promise<int> p;
    f = p.get_future();
  }
  try {
    (void)f.get();
    FAIL() << "no exception";
  } catch (const std::future_error& e) {
    EXPECT_EQ(e.code(), std::future_errc::broken_promise);
  }
}

TEST(Future, OnlyTheFirstResultCountsAndAPromiseWithoutFutureIgnoresIt) {
  Promise<int> p;
  auto f = p.get_future();
  p.set_value(1);
  p.set_value(2);
  p.set_exception(std::make_exception_ptr(Error(errc::timeout, "late")));
  EXPECT_EQ(f.get(), 1);
  Promise<int> nobody;  // a callback-style request: no future, nothing to set
  nobody.set_value(3);
}

TEST(CompletionFlag, ManyThreadsRacingSetAndWaitAllSeeItSet) {
  for (int round = 0; round < 200; ++round) {
    CompletionFlag flag;
    std::atomic<int> done{0};
    std::thread a([&] {
      flag.wait();
      done.fetch_add(1);
    });
    std::thread b([&] {
      EXPECT_TRUE(flag.wait_until(std::chrono::steady_clock::now() + 10s));
      done.fetch_add(1);
    });
    flag.set();
    a.join();
    b.join();
    EXPECT_EQ(done.load(), 2);
    EXPECT_TRUE(flag.is_set());
  }
}

}  // namespace
}  // namespace zmesh
