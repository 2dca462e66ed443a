// zmesh-broker --metrics-bind (and ZMESH_BROKER_METRICS_BIND): GET /metrics over real HTTP
// from a broker process, after known traffic from raw broker clients; the counters moved
// by exactly that much, and the body parses with the Prometheus Python client.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_client.hpp"
#include "broker_process.hpp"
#include "metrics_check.hpp"
#include "test_support.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::BrokerClient;
using test::BrokerProcess;

std::map<std::string, double> scrape_parsed(int port) {
  const std::string body = test::scrape("127.0.0.1", port);
  EXPECT_FALSE(body.empty());
  for (const auto& p : test::exposition_problems(body)) ADD_FAILURE() << p;
  std::string error;
  auto samples = test::parse_with_prometheus(body, &error);
  EXPECT_EQ(error, "");
  return samples;
}

void expect_counts_traffic(int port, BrokerProcess& broker) {
  auto before = scrape_parsed(port);
  EXPECT_EQ(before["zmesh_broker_members"], 0);
  EXPECT_EQ(before["zmesh_broker_registrations_total"], 0);

  BrokerClient a(broker.endpoint(), "metrics-a", {"svc"});
  BrokerClient b(broker.endpoint(), "metrics-b");
  ASSERT_EQ(a.register_peer().kind, Kind::register_ack);
  ASSERT_EQ(b.register_peer().kind, Kind::register_ack);
  ASSERT_EQ(a.renew().kind, Kind::register_ack);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(b.lookup("", "svc").kind, Kind::peer_list);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(b.lookup("metrics-a", "").kind, Kind::peer_list);
  ASSERT_EQ(b.lookup("metrics-a", "svc").kind, Kind::peer_list);  // a name: counted as by name
  ASSERT_EQ(b.lookup("", "").kind, Kind::peer_list);

  auto after = scrape_parsed(port);
  EXPECT_EQ(after["zmesh_broker_members"], 2);
  EXPECT_EQ(after["zmesh_broker_registrations_total"], 2);
  EXPECT_EQ(after["zmesh_broker_renewals_total"], 1);
  const auto lookups = [&](const char* kind) {
    const std::string key = std::string("zmesh_broker_lookups_total{kind=\"") + kind + "\"}";
    return after[key] - before[key];
  };
  EXPECT_EQ(lookups("service"), 3);
  EXPECT_EQ(lookups("name"), 3);
  EXPECT_EQ(lookups("all"), 1);
  EXPECT_EQ(after["zmesh_broker_registrations_rejected_total"], 0);
  EXPECT_EQ(after["zmesh_broker_malformed_total"], 0);

  b.bye();
  std::map<std::string, double> left;
  EXPECT_TRUE(test::wait_until([&] {
    left = scrape_parsed(port);
    return left["zmesh_broker_leaves_total"] == 1;
  }));
  EXPECT_EQ(left["zmesh_broker_members"], 1);
  EXPECT_EQ(left["zmesh_broker_expiries_total"], 0);
}

TEST(BrokerMetrics, FlagServesCountersThatMoveWithTheTraffic) {
  const int port = test::free_port();
  BrokerProcess broker(10000, 2000, {"--metrics-bind", "127.0.0.1:" + std::to_string(port)});
  expect_counts_traffic(port, broker);
}

TEST(BrokerMetrics, EnvironmentVariableServesToo) {
  const int port = test::free_port();
  std::vector<std::string> env{"ZMESH_BROKER_METRICS_BIND=127.0.0.1:" + std::to_string(port)};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("ZMESH_BROKER_", 0) != 0) env.emplace_back(*e);
  }
  test::ChildProcess broker(
      ZMESH_BROKER_BIN,
      {"--bind", "tcp://127.0.0.1:" + std::to_string(test::free_port()), "--log-level", "warn"},
      {env, /*capture_stderr=*/false});
  std::string body;
  ASSERT_TRUE(test::wait_until([&] {
    body = test::scrape("127.0.0.1", port);
    return !body.empty();
  }));
  const auto s = scrape_parsed(port);
  EXPECT_EQ(s.count("zmesh_broker_members"), 1u);
  EXPECT_EQ(s.count("zmesh_broker_events_sent_total"), 1u);
  broker.signal(SIGTERM);
  const int status = broker.wait(10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(BrokerMetrics, ABadBindIsAUsageError) {
  test::ChildProcess broker(ZMESH_BROKER_BIN, {"--metrics-bind", "nope", "--check-config"},
                            {std::nullopt, /*capture_stderr=*/true});
  const std::string err = broker.read_all(test::ChildProcess::Stream::err, 10s);
  const int status = broker.wait(10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status << err;
  EXPECT_NE(err.find("metrics bind 'nope'"), std::string::npos) << err;
}

// Every metric the Grafana dashboard (deploy/grafana) queries is served by a broker or a
// Peer, so that renaming one without the dashboard fails here.
TEST(BrokerMetrics, TheDashboardQueriesOnlyServedNames) {
  const int port = test::free_port();
  BrokerProcess broker(10000, 2000, {"--metrics-bind", "127.0.0.1:" + std::to_string(port)});
  PeerOptions o;
  o.name = "dashboard-peer";
  o.metrics_bind = "127.0.0.1:0";
  Peer peer(o);
  peer.start();
  const std::string served = test::scrape("127.0.0.1", port) +
                             test::scrape("127.0.0.1", test::port_of(peer.metrics_endpoint()));
  std::ifstream in(std::string(ZMESH_SOURCE_DIR) + "/deploy/grafana/zmesh-dashboard.json");
  std::stringstream dashboard;
  dashboard << in.rdbuf();
  const std::string text = dashboard.str();
  ASSERT_FALSE(text.empty());
  const std::regex name(R"(zmesh_[a-z_]+)");
  int checked = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it) {
    const std::string metric = it->str();
    EXPECT_NE(served.find("\n" + metric), std::string::npos) << metric;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace zmesh
