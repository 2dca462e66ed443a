// PeerOptions::metrics_bind: GET /metrics over real HTTP after known traffic over tcp
// loopback; the exact counter values, the format checked line by line and by the
// Prometheus Python client's parser.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "metrics_check.hpp"
#include "test_support.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

PeerOptions metered(const std::string& name) {
  PeerOptions o;
  o.name = name;
  o.metrics_bind = "127.0.0.1:0";
  return o;
}

// The samples of a scrape of `peer`, parsed by prometheus_client; fails the test when the
// body is not valid exposition text.
std::map<std::string, double> scrape_parsed(const Peer& peer) {
  const std::string body = test::scrape("127.0.0.1", test::port_of(peer.metrics_endpoint()));
  EXPECT_FALSE(body.empty());
  for (const auto& p : test::exposition_problems(body)) ADD_FAILURE() << p;
  std::string error;
  auto samples = test::parse_with_prometheus(body, &error);
  EXPECT_EQ(error, "");
  return samples;
}

TEST(PeerMetrics, OffByDefault) {
  Peer p(PeerOptions{.name = "quiet"});
  p.start();
  EXPECT_EQ(p.metrics_endpoint(), "");
}

TEST(PeerMetrics, ABadBindIsRefusedByTheConstructor) {
  PeerOptions o;
  o.name = "bad";
  for (const char* bind : {"9464", "127.0.0.1:", "127.0.0.1:70000", ":9464", "127.0.0.1:x"}) {
    o.metrics_bind = bind;
    EXPECT_THROW(Peer{o}, Error) << bind;
  }
}

TEST(PeerMetrics, CountersMatchTheTrafficAndTheBodyParses) {
  Peer server(metered("metrics-server"));
  auto echo = server.on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto slow = server.on("Slow", [](const Message& m) {
    std::this_thread::sleep_for(20ms);
    return std::string(m.text());
  });
  server.start();
  Peer client(metered("metrics-client"));
  client.start();
  ASSERT_NE(server.metrics_endpoint(), "");
  ASSERT_NE(client.metrics_endpoint(), server.metrics_endpoint());
  std::string content_type;
  const std::string before =
      test::scrape("127.0.0.1", test::port_of(server.metrics_endpoint()), &content_type);
  EXPECT_NE(before.find("zmesh_peer_requests_sent_total 0\n"), std::string::npos) << before;
  EXPECT_EQ(content_type.rfind("text/plain; version=0.0.4", 0), 0u) << content_type;

  const PeerId to = client.connect(server.endpoint()).get();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.request(to, "Echo", "x").get().payload, "x");
  for (int i = 0; i < 2; ++i) EXPECT_THROW((void)client.request(to, "Nothing", "y").get(), Error);

  auto c = scrape_parsed(client);
  EXPECT_EQ(c["zmesh_peer_requests_sent_total"], 7);  // before the two Slow ones below
  EXPECT_EQ(c[R"(zmesh_peer_requests_completed_total{result="ok"})"], 5);
  EXPECT_EQ(c[R"(zmesh_peer_requests_completed_total{result="error"})"], 2);
  EXPECT_EQ(c[R"(zmesh_peer_requests_completed_total{result="timeout"})"], 0);
  EXPECT_EQ(c["zmesh_peer_requests_pending"], 0);
  EXPECT_EQ(c[R"(zmesh_peer_connections{state="ready"})"], 1);
  EXPECT_EQ(c[R"(zmesh_peer_connections{state="gone"})"], 0);
  EXPECT_EQ(c["zmesh_peer_malformed_total"], 0);
  // The 5 replies in the duration histogram (the 2 errors are not).
  EXPECT_EQ(c["zmesh_peer_request_duration_seconds_count"], 5);
  EXPECT_EQ(c[R"(zmesh_peer_request_duration_seconds_bucket{le="+Inf"})"], 5);
  EXPECT_GT(c["zmesh_peer_request_duration_seconds_sum"], 0);
  // Two requests that take at least 20 ms each land above the 10 ms bucket.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(client.request(to, "Slow", "z").get().payload, "z");
  c = scrape_parsed(client);
  EXPECT_EQ(c["zmesh_peer_request_duration_seconds_count"], 7);
  EXPECT_LE(c[R"(zmesh_peer_request_duration_seconds_bucket{le="0.01"})"], 5);
  EXPECT_EQ(c[R"(zmesh_peer_request_duration_seconds_bucket{le="10"})"] +
                c[R"(zmesh_peer_request_duration_seconds_bucket{le="+Inf"})"],
            14)
      << "every request under 10 s, and all in +Inf";
  EXPECT_GE(c["zmesh_peer_request_duration_seconds_sum"], 0.04);
  const std::string info =
      R"(zmesh_peer_info{id=")" + id_to_hex(client.id()) + R"(",name="metrics-client"})";
  EXPECT_EQ(c[info], 1) << info;

  // The server counts a handled request once its reply has left: wait for the last.
  std::map<std::string, double> s;
  EXPECT_TRUE(wait_until([&] {
    s = scrape_parsed(server);
    return s["zmesh_peer_handled_total"] == 7 && s["zmesh_peer_no_handler_total"] == 2;
  })) << s["zmesh_peer_handled_total"]
      << " " << s["zmesh_peer_no_handler_total"];
  EXPECT_EQ(s["zmesh_peer_requests_sent_total"], 0);
  EXPECT_EQ(s["zmesh_peer_handler_errors_total"], 0);
  EXPECT_EQ(s[R"(zmesh_peer_connections{state="ready"})"], 1);

  // Broadcasts: published by the server, received by a subscribed client.
  auto sub = client.subscribe("t/", [](const Message&) {});
  client.subscribe_to(server.pub_endpoint());
  client.sync_subscriptions().get();
  for (int i = 0; i < 3; ++i) server.publish("t/a", "T", "p");
  EXPECT_TRUE(wait_until(
      [&] { return scrape_parsed(client)["zmesh_peer_broadcasts_received_total"] == 3; }));
  EXPECT_EQ(scrape_parsed(server)["zmesh_peer_broadcasts_published_total"], 3);
  // The same per delivery-policy rule: the default one (drop), all sent.
  s = scrape_parsed(server);
  const std::string rule = R"(default="true",)";
  const std::string drop = R"(policy="drop",prefix="")";
  EXPECT_EQ(
      s.at("zmesh_peer_delivery_broadcasts_total{" + rule + R"(outcome="sent",)" + drop + "}"), 3);
  EXPECT_EQ(
      s.at("zmesh_peer_delivery_broadcasts_total{" + rule + R"(outcome="no_room",)" + drop + "}"),
      0);
  EXPECT_EQ(s.at("zmesh_peer_delivery_publish_timeouts_total{" + rule + drop + "}"), 0);
}

TEST(PeerMetrics, StopEndsServingWhileScrapesComeAndGo) {
  Peer p(metered("stopping"));
  p.start();
  const int port = test::port_of(p.metrics_endpoint());
  EXPECT_FALSE(test::scrape("127.0.0.1", port).empty());
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) (void)test::scrape("127.0.0.1", port);
  });
  std::this_thread::sleep_for(50ms);  // let some scrapes run: stop() must not hang on them
  p.stop();
  done.store(true);
  scraper.join();
  EXPECT_TRUE(test::scrape("127.0.0.1", port).empty());
}

}  // namespace
}  // namespace zmesh
