#include "broker_endpoints.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "zmesh/core/errors.hpp"

namespace zmesh::detail {
namespace {

PeerOptions with(std::string broker, std::vector<std::string> brokers = {}) {
  PeerOptions o;
  o.broker = std::move(broker);
  o.brokers = std::move(brokers);
  return o;
}

TEST(BrokerEndpoints, TheStringAndTheListAreOneListInOrderWithoutDuplicates) {
  EXPECT_TRUE(broker_endpoints(with("")).empty());
  EXPECT_EQ(
      broker_endpoints(
          with("tcp://127.0.0.1:1, tcp://127.0.0.2:2", {"tcp://127.0.0.3:3", "tcp://127.0.0.1:1"})),
      (std::vector<std::string>{"tcp://127.0.0.1:1", "tcp://127.0.0.2:2", "tcp://127.0.0.3:3"}));
}

TEST(BrokerEndpoints, AHostNameStandsForEachOfItsAddresses) {
  const auto eps = broker_endpoints(with("tcp://localhost:7400"));
  ASSERT_FALSE(eps.empty());
  EXPECT_NE(std::find(eps.begin(), eps.end(), "tcp://127.0.0.1:7400"), eps.end())
      << "localhost did not resolve to 127.0.0.1";
  for (const auto& e : eps) EXPECT_EQ(e.find("localhost"), std::string::npos) << e;
}

TEST(BrokerEndpoints, ABadItemIsRefusedByName) {
  try {
    (void)broker_endpoints(with("tcp://127.0.0.1:1,tcp://127.0.0.1:99999"));
    FAIL() << "a bad port was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("tcp://127.0.0.1:99999"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zmesh::detail
