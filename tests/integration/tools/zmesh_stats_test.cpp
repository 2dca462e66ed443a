// `zmesh stats` as a user runs it: a peer's stats asked over the mesh (the reserved
// request type zmesh.stats) by name through a broker, by service and for all, in text and
// JSON; real zmesh and zmesh-broker processes over tcp loopback.
#include <signal.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "process.hpp"

namespace zmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kZmesh = ZMESH_CLI_BIN;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A broker and two `zmesh reply` peers registered with it, one of which has served
// three requests.
class StatsMesh : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ep_ = free_tcp_endpoint();
    broker_ = std::make_unique<Process>(
        ZMESH_BROKER_BIN, std::vector<std::string>{"--bind", broker_ep_, "--log-level", "warn"});
    a_ = start({"reply", "Echo", "--echo", "--broker", broker_ep_, "--name", "stats-a", "--service",
                "svc", "-q"});
    b_ = start({"reply", "Echo", "--echo", "--broker", broker_ep_, "--name", "stats-b", "-q"});
    for (int i = 0; i < 3; ++i) {
      const auto r = run(kZmesh, {"request", "stats-a", "Echo", "hi", "--broker", broker_ep_});
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_FALSE(a_->read_line(10s).empty());  // its line for the request
    }
  }
  void TearDown() override {
    for (auto* p : {a_.get(), b_.get()}) {
      if (p == nullptr) continue;
      p->signal(SIGTERM);
      EXPECT_EQ(p->wait(10s), 0) << p->err();
    }
  }
  std::unique_ptr<Process> start(const std::vector<std::string>& args) {
    auto p = std::make_unique<Process>(kZmesh, args);
    EXPECT_EQ(p->read_line(10s).rfind("listening on ", 0), 0u) << p->err();
    return p;
  }
  RunResult stats(std::vector<std::string> args) {
    args.insert(args.begin(), "stats");
    args.insert(args.end(), {"--broker", broker_ep_});
    return run(kZmesh, args, {}, 30s);
  }

  std::string broker_ep_;
  std::unique_ptr<Process> broker_;
  std::unique_ptr<Process> a_;
  std::unique_ptr<Process> b_;
};

TEST_F(StatsMesh, APeerByNameInJsonAndText) {
  auto r = stats({"stats-a", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 1u) << r.out;
  const json j = json::parse(out[0]);
  EXPECT_EQ(j["name"], "stats-a");
  EXPECT_EQ(j["id"].get<std::string>().size(), 16u);
  EXPECT_EQ(j["endpoint"].get<std::string>().rfind("tcp://127.0.0.1:", 0), 0u);
  // Three Echo requests, and the stats request being answered is not counted yet.
  EXPECT_EQ(j["stats"]["handled"], 3);
  EXPECT_EQ(j["stats"]["malformed"], 0);
  ASSERT_TRUE(j["connections"].is_array());
  bool asker_ready = false;  // the connection our stats request came in on
  for (const auto& c : j["connections"]) asker_ready = asker_ready || c["state"] == "ready";
  EXPECT_TRUE(asker_ready) << j.dump();
  ASSERT_TRUE(j["publishers"].is_array());
  // One delivery-policy rule, the default: `zmesh reply` publishes nothing.
  ASSERT_EQ(j["delivery"].size(), 1u) << j.dump();
  EXPECT_EQ(j["delivery"][0]["policy"], "drop");
  EXPECT_EQ(j["delivery"][0]["default"], true);
  EXPECT_EQ(j["delivery"][0]["published"], 0);

  r = stats({"stats-a", "--connections"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto text = lines_of(r.out);
  ASSERT_GE(text.size(), 4u) << r.out;
  EXPECT_EQ(text[0].rfind("NAME", 0), 0u) << text[0];
  EXPECT_EQ(text[1].rfind("stats-a ", 0), 0u) << text[1];
  EXPECT_NE(r.out.find("\nPEER "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ready "), std::string::npos) << r.out;
}

TEST_F(StatsMesh, EveryPeerAndByService) {
  auto r = stats({"--all", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;  // sorted by name
  EXPECT_EQ(json::parse(out[0])["name"], "stats-a");
  EXPECT_EQ(json::parse(out[1])["name"], "stats-b");
  EXPECT_EQ(json::parse(out[1])["stats"]["handled"], 0);

  r = stats({"--service", "svc", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  out = lines_of(r.out);
  ASSERT_EQ(out.size(), 1u) << r.out;
  EXPECT_EQ(json::parse(out[0])["name"], "stats-a");
}

TEST_F(StatsMesh, UsageAndUnknownPeers) {
  auto r = stats({});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("exactly one of <peer>, --service S and --all"), std::string::npos);
  r = stats({"stats-a", "--all"});
  EXPECT_EQ(r.code, 2) << r.err;
  r = stats({"nobody-here", "--timeout", "1s"});
  EXPECT_EQ(r.code, 4) << r.err;
  r = stats({"--service", "none"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("no peer offers service 'none'"), std::string::npos) << r.err;
}

// An application cannot take the reserved type: `zmesh reply zmesh.stats` is refused.
TEST(ZmeshStats, ReservedTypeCannotBeServedByAnApplication) {
  const auto r = run(kZmesh, {"reply", "zmesh.stats", "--echo"}, {}, 15s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("message type 'zmesh.stats' is reserved for zmesh"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace zmesh::test
