// RequestCompletion: a future request's completion shares one allocation with the
// future's state, and whichever of the two is let go of last frees it; a callback
// request's completion is its own. Run under ASan/TSan: a block freed early or never
// shows there.
#include "completions.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;

TEST(RequestCompletion, WithAFutureTheValueOutlivesTheCompletion) {
  Future<Response> future;
  auto done = RequestCompletion::with_future(future);
  ASSERT_TRUE(future.valid());
  EXPECT_FALSE(future.is_ready());
  done->promise.set_value(Response{7, "pong"});
  done.reset();  // the engine lets go first, as it does after completing it
  ASSERT_TRUE(future.is_ready());
  const Response r = future.get();
  EXPECT_EQ(r.from, 7U);
  EXPECT_EQ(r.payload, "pong");
}

TEST(RequestCompletion, WithAFutureLetGoUnsetBreaksTheFuture) {
  Future<Response> future;
  auto done = RequestCompletion::with_future(future);
  done.reset();  // e.g. a command that never reached the engine
  ASSERT_TRUE(future.is_ready());
  try {
    (void)future.get();
    FAIL() << "a future whose completion went unset returned a value";
  } catch (const std::future_error& e) {
    EXPECT_EQ(e.code(), std::future_errc::broken_promise);
  }
}

TEST(RequestCompletion, WithAFutureDroppedFirstTheCompletionStillCompletes) {
  auto done = [] {
    Future<Response> future;
    return RequestCompletion::with_future(future);  // the caller gave up on it at once
  }();
  done->promise.set_value(Response{1, std::string(1000, 'x')});  // nobody to tell: fine
  done.reset();  // frees the block (ASan: no leak, no use after free)
}

TEST(RequestCompletion, CompletedOnAnotherThreadWhileTheCallerWaits) {
  for (int i = 0; i < 200; ++i) {
    Future<Response> future;
    auto done = RequestCompletion::with_future(future);
    std::thread engine([d = std::move(done), i]() mutable {
      d->promise.set_value(Response{static_cast<PeerId>(i), "r"});
      d.reset();
    });
    EXPECT_EQ(future.get().from, static_cast<PeerId>(i));
    engine.join();
  }
}

TEST(RequestCompletion, ForACallbackItKeepsTheCallbackAndNeedsNoFuture) {
  int ran = 0;
  auto done = RequestCompletion::for_callback(
      [&](std::error_code ec, const Response& r) {
        EXPECT_FALSE(ec);
        EXPECT_EQ(r.payload, "ok");
        ++ran;
      },
      true);
  EXPECT_TRUE(done->run_inline);
  done->callback({}, Response{2, "ok"});
  done->promise.set_value(Response{});  // no future was asked for: nothing happens
  done.reset();
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace zmesh::detail
