// The liveness rule of protocol.md 5.4: W = max(own, announced); suspect after 2 W;
// gone after max(own timeout, 3 W).
#include "liveness.hpp"

#include <gtest/gtest.h>

namespace zmesh::detail {
namespace {

using namespace std::chrono_literals;
using V = Liveness::Verdict;

TEST(Liveness, WindowIsTheLargerOfTheTwoIntervals) {
  const Liveness l(500ms, 3000ms);
  EXPECT_EQ(l.window(0ms), 500ms);  // not announced yet: our own
  EXPECT_EQ(l.window(100ms), 500ms);
  EXPECT_EQ(l.window(2000ms), 2000ms);
}

TEST(Liveness, DefaultsGiveSuspectAfterOneSecondAndGoneAfterThree) {
  const Liveness l(500ms, 3000ms);
  EXPECT_EQ(l.judge(1000ms, 500ms), V::live);
  EXPECT_EQ(l.judge(1001ms, 500ms), V::suspect);
  EXPECT_EQ(l.judge(3000ms, 500ms), V::suspect);
  EXPECT_EQ(l.judge(3001ms, 500ms), V::gone);
}

TEST(Liveness, APeerWithALongerIntervalIsNeverGoneBeforeThreeOfItsIntervals) {
  const Liveness l(100ms, 300ms);  // our own setting alone: gone after 300 ms
  EXPECT_EQ(l.gone_after(2000ms), 6000ms);
  EXPECT_EQ(l.judge(5999ms, 2000ms), V::suspect);
  EXPECT_EQ(l.judge(6001ms, 2000ms), V::gone);
  EXPECT_EQ(l.judge(301ms, 100ms), V::gone);
}

TEST(Liveness, OwnTimeoutOnlyLengthensTheGoneTimeout) {
  const Liveness l(100ms, 20000ms);
  EXPECT_EQ(l.suspect_after(100ms), 200ms);
  EXPECT_EQ(l.gone_after(100ms), 20000ms);
  EXPECT_EQ(l.judge(201ms, 100ms), V::suspect);
}

}  // namespace
}  // namespace zmesh::detail
