// The real zmesh-broker process, spoken to over tcp loopback.
#include <gtest/gtest.h>

#include "zmesh/broker/broker.hpp"

namespace zmesh {
namespace {

TEST(BrokerService, StartsStopsAndReportsItsEndpoint) {
  BrokerOptions o;
  o.bind = "tcp://127.0.0.1:*";
  Broker broker(o);
  broker.start();
  EXPECT_EQ(broker.endpoint().rfind("tcp://127.0.0.1:", 0), 0u);
  EXPECT_NE(broker.epoch(), 0u);
  broker.stop();
  EXPECT_EQ(broker.stats().registered, 0u);
}

}  // namespace
}  // namespace zmesh
