// DepartureReasons: why recent departures went, bounded, the first remembered forgotten
// first (peer/src/departure_reasons.hpp).
#include "departure_reasons.hpp"

#include <string>

#include <gtest/gtest.h>

namespace zmesh::detail {
namespace {

TEST(DepartureReasons, UnknownPeerHasNoReason) {
  const DepartureReasons d;
  EXPECT_EQ(d.reason(42), "");
  EXPECT_EQ(d.size(), 0U);
}

TEST(DepartureReasons, RemembersWhyAPeerWent) {
  DepartureReasons d;
  d.remember(1, "peer 'a' left");
  d.remember(2, "peer 'b' gone: silent for 3000 ms");
  EXPECT_EQ(d.reason(1), "peer 'a' left");
  EXPECT_EQ(d.reason(2), "peer 'b' gone: silent for 3000 ms");
  EXPECT_EQ(d.size(), 2U);
}

TEST(DepartureReasons, ForgetsAPeerThatCameBack) {
  DepartureReasons d;
  d.remember(1, "left");
  d.forget(1);
  d.forget(7);  // never remembered: nothing happens
  EXPECT_EQ(d.reason(1), "");
  EXPECT_EQ(d.size(), 0U);
}

TEST(DepartureReasons, ForgetsTheFirstRememberedPastItsCapacity) {
  DepartureReasons d(3);
  for (PeerId p = 1; p <= 5; ++p) d.remember(p, "went " + std::to_string(p));
  EXPECT_EQ(d.size(), 3U);
  EXPECT_EQ(d.reason(1), "");
  EXPECT_EQ(d.reason(2), "");
  EXPECT_EQ(d.reason(3), "went 3");
  EXPECT_EQ(d.reason(5), "went 5");
}

TEST(DepartureReasons, RememberingAgainUpdatesTheReasonNotThePlace) {
  DepartureReasons d(2);
  d.remember(1, "first");
  d.remember(2, "second");
  d.remember(1, "again");  // still the oldest
  EXPECT_EQ(d.reason(1), "again");
  d.remember(3, "third");
  EXPECT_EQ(d.reason(1), "");
  EXPECT_EQ(d.reason(2), "second");
  EXPECT_EQ(d.reason(3), "third");
}

TEST(DepartureReasons, APeerForgottenAndRememberedAgainTakesTheNewestPlace) {
  DepartureReasons d(2);
  d.remember(1, "first");
  d.remember(2, "second");
  d.forget(1);
  d.remember(1, "back and gone");
  d.remember(3, "third");
  EXPECT_EQ(d.reason(2), "");
  EXPECT_EQ(d.reason(1), "back and gone");
  EXPECT_EQ(d.reason(3), "third");
}

TEST(DepartureReasons, DefaultCapacityIsTheDocumentedThousandTwentyFour) {
  DepartureReasons d;
  for (PeerId p = 1; p <= 1025; ++p) d.remember(p, "x");
  EXPECT_EQ(d.size(), 1024U);
  EXPECT_EQ(d.reason(1), "");
  EXPECT_EQ(d.reason(2), "x");
}

}  // namespace
}  // namespace zmesh::detail
