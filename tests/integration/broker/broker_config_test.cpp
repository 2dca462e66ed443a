// zmesh-broker as a user runs it: flags, environment, config file, exit codes, signals.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace zmesh {
namespace {

TEST(BrokerConfig, VersionPrintsAndExitsZero) {
  test::ChildProcess broker(ZMESH_BROKER_BIN, {"--version"});
  const std::string line = broker.read_line();
  EXPECT_EQ(line.rfind("zmesh-broker ", 0), 0u) << line;
  const int status = broker.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace zmesh
