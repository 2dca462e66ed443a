// The peer library's log (PeerOptions::log, zmesh/peer/log.hpp): what an operator should
// know reaches the application's sink, one record a second per kind of event at most.
#include <signal.h>

#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "peer_fixture.hpp"
#include "test_support.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/peer/log.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;

/// Records a Peer's log; the sink runs on the engine thread.
struct LogRecorder {
  LogSink sink() {
    return [this](const LogRecord& r) {
      std::lock_guard lock(mu);
      records.emplace_back(std::string(r.event), std::string(r.message));
    };
  }
  [[nodiscard]] std::vector<std::string> of(const std::string& event) {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& [e, m] : records) {
      if (e == event) out.push_back(m);
    }
    return out;
  }
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> records;
};

/// Sends `n` two-frame messages whose header is not a zmesh header.
void send_malformed(zmq::socket_t& d, int n) {
  for (int i = 0; i < n; ++i) {
    d.send(zmq::str_buffer("not a header"), zmq::send_flags::sndmore);
    d.send(zmq::str_buffer("payload"), zmq::send_flags::none);
  }
}

TEST(PeerLog, OneMalformedFrameIsOneRecordAndAFloodIsHeldBack) {
  LogRecorder log;
  PeerOptions o = test::test_options("logged");
  o.log = log.sink();
  auto peer = test::started(o);
  zmq::context_t ctx(1);
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.set(zmq::sockopt::linger, 0);
  d.connect(peer->endpoint());

  send_malformed(d, 1);
  ASSERT_TRUE(test::wait_until([&] { return peer->stats().malformed == 1; }));
  ASSERT_TRUE(test::wait_until([&] { return log.of("malformed").size() == 1; }));
  EXPECT_EQ(log.of("malformed").front().rfind("malformed input on our ROUTER from ", 0), 0U)
      << log.of("malformed").front();

  // 10,000 more: every one counted, a record at most once a second.
  const auto t0 = std::chrono::steady_clock::now();
  send_malformed(d, 10000);
  ASSERT_TRUE(test::wait_until([&] { return peer->stats().malformed == 10001; }, 60s))
      << peer->stats().malformed;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0)
          .count();
  const auto records = log.of("malformed");
  EXPECT_LE(records.size(), static_cast<std::size_t>(2 + seconds));
  // What was held back is said by the next record: a later flood would name it.
  send_malformed(d, 1);
  ASSERT_TRUE(test::wait_until([&] { return peer->stats().malformed == 10002; }));
  std::this_thread::sleep_for(1100ms);  // past the second: the next one goes out
  send_malformed(d, 1);
  ASSERT_TRUE(test::wait_until([&] { return log.of("malformed").size() > records.size(); }));
  EXPECT_NE(log.of("malformed").back().find("similar held back)"), std::string::npos)
      << log.of("malformed").back();
}

TEST(PeerLog, APeerKilledIsLoggedGoneOnce) {
  LogRecorder log;
  PeerOptions o = test::test_options("client");
  o.log = log.sink();
  auto client = test::started(o);
  test::ChildProcess child(test::helper_path("echo_responder"));
  std::istringstream ready(child.read_line());
  std::string word, endpoint, hex;
  ready >> word >> endpoint >> hex;
  ASSERT_FALSE(endpoint.empty()) << "helper did not start";
  const PeerId victim = client->connect(endpoint).get();
  child.signal(SIGKILL);
  ASSERT_NE(child.wait(), -1);
  ASSERT_TRUE(test::wait_until([&] { return !log.of("peer_gone").empty(); }, 20s));
  std::this_thread::sleep_for(500ms);  // nothing more comes for it
  const auto gone = log.of("peer_gone");
  ASSERT_EQ(gone.size(), 1U);
  EXPECT_NE(gone.front().find(id_to_hex(victim)), std::string::npos) << gone.front();
  EXPECT_LE(log.of("peer_suspect").size(), 1U);
}

TEST(PeerLog, WithoutASinkNothingIsCalledAndNothingBreaks) {
  auto peer = test::started(test::test_options("silent"));  // PeerOptions::log empty
  zmq::context_t ctx(1);
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.set(zmq::sockopt::linger, 0);
  d.connect(peer->endpoint());
  send_malformed(d, 100);
  ASSERT_TRUE(test::wait_until([&] { return peer->stats().malformed == 100; }));
}

}  // namespace
}  // namespace zmesh
