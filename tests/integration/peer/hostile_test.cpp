// A Peer facing hostile or broken clients: raw ZeroMQ DEALERs (tests/support/raw_peer.hpp)
// that greet twice over one socket, never read their replies, leave with work queued, or
// ask for no reply; and application threads that come and go or race stop().
//
// Each test is bounded in time: a victim that wedges makes the test fail, not hang. A
// victim whose stop() may not return is stopped on a helper thread and, past the bound,
// leaked on purpose (a wedged Peer cannot be destroyed). An in-process victim known to
// abort runs inside an isolated child (run_isolated, a gtest death test), and the process
// variants run echo_responder as a child and kill it if it does not exit.
#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "peer_fixture.hpp"
#include "raw_peer.hpp"
#include "test_support.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using test::started;
using test::test_options;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

struct StopOutcome {
  bool returned = false;
  std::chrono::milliseconds elapsed{0};
};

/// Runs peer->stop(drain) on a helper thread and waits at most `cap` for it. A stop that
/// does not return is abandoned: the thread is detached and the Peer leaked, so that the
/// test can fail instead of hanging in the Peer's destructor.
StopOutcome stop_bounded(std::unique_ptr<Peer>& peer, std::chrono::milliseconds drain,
                         std::chrono::milliseconds cap) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  Peer* victim = peer.get();
  const auto t0 = Clock::now();
  std::thread stopper([victim, drain, done] {
    try {
      victim->stop(drain);
    } catch (...) {
    }
    done->set_value();
  });
  if (finished.wait_for(cap) != std::future_status::ready) {
    stopper.detach();
    (void)peer.release();  // leaked on purpose (see above)
    return {false, since(t0)};
  }
  stopper.join();
  return {true, since(t0)};
}

/// A fresh client Peer connects to `endpoint` and asks "Echo"; true when the echo came
/// back within `bound` (connect included). `why` says what failed otherwise.
bool echo_within(const std::string& endpoint, std::chrono::milliseconds bound, std::string& why) {
  auto opts = test_options("fresh-client");
  opts.connect_timeout = bound;
  auto client = started(opts);
  const auto t0 = Clock::now();
  try {
    auto connected = client->connect(endpoint);
    if (connected.wait_for(bound + 1s) != std::future_status::ready) {
      why = "connect did not complete";
      return false;
    }
    const PeerId id = connected.get();
    const auto left = bound - since(t0);
    if (left.count() <= 0) {
      why = "connect took the whole bound";
      return false;
    }
    auto reply = client->request(id, "Echo", "still alive?", left);
    if (reply.wait_for(left + 1s) != std::future_status::ready) {
      why = "request never completed";
      return false;
    }
    if (reply.get().payload != "still alive?") {
      why = "wrong echo";
      return false;
    }
    return true;
  } catch (const Error& e) {
    why = std::string(e.what()) + " after " + std::to_string(since(t0).count()) + " ms";
    return false;
  }
}

/// In an isolated child (run_isolated) gtest prints nothing, and the parent shows only the
/// child's stderr: writes the failures recorded since the last call there. Call it before
/// a step that may kill the child.
void report_failures() {
  static int reported = 0;
  const auto* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  for (; reported < result->total_part_count(); ++reported) {
    const auto& part = result->GetTestPartResult(reported);
    if (part.failed()) {
      std::fprintf(stderr, "%s:%d: Failure\n%s\n", part.file_name() ? part.file_name() : "?",
                   part.line_number(), part.message());
    }
  }
  std::fflush(stderr);
}

/// Ends an isolated child: reports its failures and exits 1 after any, else 0.
[[noreturn]] void end_isolated() {
  report_failures();
  std::fflush(nullptr);
  std::_Exit(::testing::Test::HasFailure() ? 1 : 0);
}

/// Runs `scenario` in a child process: a gtest death test in the "threadsafe" style, which
/// re-runs this test binary for this one test, so that a victim that aborts (std::terminate
/// in its engine, today) takes down only the child and not the whole test binary.
void run_isolated(const std::function<void()>& scenario) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        scenario();
        end_isolated();
      },
      ::testing::ExitedWithCode(0), "")
      << "the isolated scenario failed or died (its stderr is above)";
}

/// Greets twice over one DEALER with two different peer ids and sessions, then closes.
void greet_twice_and_leave(const std::string& endpoint) {
  test::RawPeer raw("two-faced");
  raw.connect(endpoint);
  const auto first = raw.greet(random_id(), random_id());
  ASSERT_EQ(first.kind, Kind::welcome) << kind_name(first.kind);
  const auto second = raw.greet(random_id(), random_id());
  EXPECT_TRUE(second.kind == Kind::welcome || second.kind == Kind::reject)
      << "second HELLO answered with '" << kind_name(second.kind) << "'";
  raw.close();
}

// ---------------------------------------------------------------- 1: two HELLOs, one DEALER

TEST(Hostile, TwoHellosOnOneDealerThenDisconnectDoesNotWedge) {
  run_isolated([] {
    auto opts = test_options("victim");
    opts.heartbeat_interval = 50ms;
    auto victim = started(opts);
    auto echo = victim->on("Echo", [](const Message& m) { return std::string(m.text()); });

    greet_twice_and_leave(victim->endpoint());
    if (::testing::Test::HasFatalFailure()) return;
    // Time passing is the point here, not a synchronisation: let several heartbeats
    // (50 ms) run over the identity that has just vanished.
    std::this_thread::sleep_for(300ms);

    std::string why;
    EXPECT_TRUE(echo_within(victim->endpoint(), 5s, why)) << "victim does not serve: " << why;
    report_failures();
    const auto out = stop_bounded(victim, 200ms, 10s);
    EXPECT_TRUE(out.returned) << "victim stop() did not return within 10 s";
    EXPECT_LT(out.elapsed, 1500ms) << "victim stop(200ms) took " << out.elapsed.count() << " ms";
  });
}

TEST(Hostile, TwoHellosOnOneDealerThenDisconnectLetsTheProcessExit) {
  test::ChildProcess child(test::helper_path("echo_responder"));
  const std::string ready = child.read_line(10s);
  ASSERT_EQ(ready.rfind("READY ", 0), 0u) << "echo_responder said '" << ready << "'";
  const std::string endpoint = ready.substr(6, ready.find(' ', 6) - 6);

  greet_twice_and_leave(endpoint);
  if (HasFatalFailure()) return;
  // Several of echo_responder's heartbeats (100 ms) over the vanished identity.
  std::this_thread::sleep_for(500ms);

  std::string why;
  EXPECT_TRUE(echo_within(endpoint, 5s, why)) << "echo_responder does not serve: " << why;
  child.signal(SIGTERM);
  const int status = child.wait(5s);
  ASSERT_NE(status, -1) << "echo_responder did not exit within 5 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status)) << "echo_responder died of signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

// ---------------------------------------------------------------- 2: stop past its drain

TEST(Hostile, StopThatOverrunsItsDrainEndsCleanly) {
  auto victim = started(test_options("victim"));
  auto entered = std::make_shared<std::atomic<int>>(0);
  auto block = victim->on("Block", [entered](const Message&) {
    entered->fetch_add(1);
    std::this_thread::sleep_for(2s);  // the handler's behaviour under test: it overruns
    return std::string("late");
  });
  auto client = started(test_options("client"));
  auto connected = client->connect(victim->endpoint());
  ASSERT_EQ(connected.wait_for(5s), std::future_status::ready);
  const PeerId id = connected.get();
  auto reply = client->request(id, "Block", "x", 10s);
  ASSERT_TRUE(test::wait_until([&] { return entered->load() == 1; }, 5s));

  const auto out = stop_bounded(victim, 200ms, 10s);
  EXPECT_TRUE(out.returned) << "stop(200ms) did not return within 10 s";
  EXPECT_LT(out.elapsed, 5s) << "stop(200ms) took " << out.elapsed.count() << " ms";

  ASSERT_EQ(reply.wait_for(5s), std::future_status::ready)
      << "the requester's future is still pending 5 s after the responder stopped";
  try {
    (void)reply.get();
    ADD_FAILURE() << "the request succeeded although its handler overran the drain";
  } catch (const Error& e) {
    EXPECT_TRUE(e.kind() == errc::shutting_down || e.kind() == errc::peer_gone)
        << e.code().message() << ": " << e.what();
  }
}

TEST(Hostile, StopThatOverrunsItsDrainLetsTheProcessExit) {
  // echo_responder stops with the default one-second drain; its "Slow" handler sleeps
  // the payload's milliseconds and, with --announce-slow, says when it starts.
  test::ChildProcess child(test::helper_path("echo_responder"), {"--announce-slow", "1"});
  const std::string ready = child.read_line(10s);
  ASSERT_EQ(ready.rfind("READY ", 0), 0u) << "echo_responder said '" << ready << "'";
  const std::string endpoint = ready.substr(6, ready.find(' ', 6) - 6);
  auto client = started(test_options("client"));
  auto connected = client->connect(endpoint);
  ASSERT_EQ(connected.wait_for(5s), std::future_status::ready);
  const PeerId id = connected.get();
  auto reply = client->request(id, "Slow", "3000", 10s);
  ASSERT_EQ(child.read_line(5s), "SLOW 3000");

  child.signal(SIGTERM);
  const int status = child.wait(5s);
  ASSERT_NE(status, -1) << "echo_responder did not exit within 5 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status)) << "echo_responder died of signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  ASSERT_EQ(reply.wait_for(5s), std::future_status::ready);
  try {
    (void)reply.get();
    ADD_FAILURE() << "the request succeeded although its handler overran the drain";
  } catch (const Error& e) {
    EXPECT_TRUE(e.kind() == errc::shutting_down || e.kind() == errc::peer_gone)
        << e.code().message() << ": " << e.what();
  }
}

// ---------------------------------------------------------------- 3: a requester that never reads

TEST(Hostile, RequesterThatNeverReadsIsBoundedAndDoesNotStallOthers) {
  constexpr int kAttack = 8000;
  constexpr std::size_t kPayload = std::size_t{10} * 1024;  // 8000 x 10 KiB = 80 MiB of requests
  constexpr long kMaxGrowthMiB = 48 * test::kRssScale;
  constexpr int kGood = 200;

  auto opts = test_options("victim", 2);
  opts.max_queued_bytes = std::size_t{1} << 20;
  // ZeroMQ's own pipes and the worker queues hold messages on top of max_queued_bytes
  // (documented); bounded here so that the RSS bound below speaks about our queues:
  // (100 + 1000) x 10 KiB in ZeroMQ, 2 x 2 x 100 x 10 KiB in the worker pipes.
  opts.send_hwm = 100;
  opts.recv_hwm = 1000;
  opts.worker_queue_depth = 100;
  // The attacker is silent while it does not read; it must stay connected so that its
  // answers (the Overloaded ones among them) are still there when it reads.
  opts.heartbeat_timeout = 15s;
  auto victim = started(opts);
  auto echo = victim->on("Echo", [](const Message& m) { return std::string(m.text()); });
  auto good = started(test_options("good"));
  auto connected = good->connect(victim->endpoint());
  ASSERT_EQ(connected.wait_for(5s), std::future_status::ready);
  const PeerId vid = connected.get();
  ASSERT_EQ(good->request(vid, "Echo", "warm", 3s).get().payload, "warm");

  test::RawPeer attacker("hog");
  attacker.set_rcvhwm(1);
  attacker.set_rcvbuf(4096);
  attacker.set_sndhwm(100);  // keeps the attacker's own buffers (in our RSS too) small
  attacker.connect(victim->endpoint());
  ASSERT_EQ(attacker.greet().kind, Kind::welcome);
  const std::string payload(kPayload, 'x');

  const long rss_before = test::rss_kib();
  std::atomic<long> rss_peak{rss_before};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      const long now = test::rss_kib();
      if (now > rss_peak.load()) rss_peak.store(now);
      std::this_thread::sleep_for(5ms);
    }
  });
  std::atomic<int> sent{0};
  std::vector<std::uint64_t> ids;
  ids.reserve(kAttack);
  std::thread attack([&] {
    const auto deadline = Clock::now() + 8s;
    for (int i = 0; i < kAttack; ++i) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      const auto corr = attacker.request("Echo", payload, 0, 0, left);
      if (corr == 0) break;
      ids.push_back(corr);
      sent.fetch_add(1);
    }
  });

  // Once the attacker's pipe is full, everyone else must still be served.
  (void)test::wait_until([&] { return sent.load() >= kAttack / 4; }, 8s);
  std::vector<zmesh::Future<Response>> replies;
  replies.reserve(kGood);
  for (int i = 0; i < kGood; ++i) {
    replies.push_back(good->request(vid, "Echo", "good-" + std::to_string(i), 3s));
  }
  int served = 0;
  std::string first_failure;
  for (int i = 0; i < kGood; ++i) {
    if (replies[i].wait_for(5s) != std::future_status::ready) {
      if (first_failure.empty())
        first_failure = "request " + std::to_string(i) + " never completed";
      continue;
    }
    try {
      if (replies[i].get().payload == "good-" + std::to_string(i)) ++served;
    } catch (const Error& e) {
      if (first_failure.empty()) first_failure = "request " + std::to_string(i) + ": " + e.what();
    }
  }
  attack.join();
  sampling.store(false);
  sampler.join();

  EXPECT_EQ(served, kGood) << "a well-behaved client was held up by the hog; first failure: "
                           << first_failure;
  EXPECT_EQ(sent.load(), kAttack) << "the victim stopped reading the attacker's requests";
  const long growth_mib = (rss_peak.load() - rss_before) / 1024;
  // ASan's quarantine keeps every freed reply for a while: RSS means little there.
  if (test::kRssTimed) {
    EXPECT_LT(growth_mib, kMaxGrowthMiB)
        << "RSS grew by " << growth_mib << " MiB while the attacker sent "
        << (static_cast<long>(sent.load()) * static_cast<long>(kPayload) >> 20) << " MiB";
  }
  EXPECT_GT(victim->stats().overloaded, 0u);

  // Now the attacker reads everything it is given.
  const std::set<std::uint64_t> asked(ids.begin(), ids.end());
  std::set<std::uint64_t> answered;
  int foreign = 0;
  int duplicate = 0;
  int overloaded = 0;
  const auto t0 = Clock::now();
  while (since(t0) < 6s) {
    const auto m = attacker.read(1s);
    if (!m) break;
    if (m.kind != Kind::reply && m.kind != Kind::error) continue;
    if (asked.count(m.correlation_id) == 0) ++foreign;
    if (!answered.insert(m.correlation_id).second) ++duplicate;
    if (m.kind == Kind::error && m.error_code() == WireError::overloaded) ++overloaded;
  }
  EXPECT_EQ(foreign, 0) << "answers whose correlation id the attacker never sent";
  EXPECT_EQ(duplicate, 0) << "requests answered twice";
  EXPECT_GT(overloaded, 0) << "no Overloaded error among " << answered.size() << " answers";
}

// ---------------------------------------------------------------- 4: a sender that left

void departed_sender_case(bool say_bye) {
  auto opts = test_options("victim", 1);
  opts.heartbeat_interval = 100ms;
  opts.heartbeat_timeout = 1s;
  auto victim = started(opts);
  auto slow = victim->on("Slow", [](const Message& m) {
    std::this_thread::sleep_for(5ms);  // the handler's cost: 1100 of them take 5.5 s
    return std::string(m.text());
  });
  auto echo = victim->on("Echo", [](const Message& m) { return std::string(m.text()); });
  {
    test::RawPeer raw("leaver");
    raw.connect(victim->endpoint());
    ASSERT_EQ(raw.greet().kind, Kind::welcome);
    const std::uint64_t far = unix_now_ms() + 60'000;
    for (int i = 0; i < 1100; ++i) ASSERT_NE(raw.request("Slow", "work", 0, far), 0u);
    ASSERT_TRUE(test::wait_until([&] { return victim->stats().received >= 1100; }, 5s))
        << "the victim took in " << victim->stats().received << " of 1100 requests";
    if (say_bye) {
      ASSERT_NE(raw.bye(), 0u);
      raw.close(500ms);  // let the BYE leave
    } else {
      raw.close();
    }
  }
  std::string why;
  EXPECT_TRUE(echo_within(victim->endpoint(), 3s, why))
      << "a newcomer waited behind a departed sender's work: " << why;
  EXPECT_GT(victim->stats().departed_skipped, 0u);
}

TEST(Hostile, RequestsFromADepartedSenderAreSkipped) {
  departed_sender_case(true);
}

TEST(Hostile, RequestsFromASenderThatVanishedAreSkipped) {
  departed_sender_case(false);
}

// ---------------------------------------------------------------- 5: NoReply

TEST(Hostile, NoReplyFlagGetsNoReply) {
  auto victim = started(test_options("victim"));
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto count = victim->on("Count", [calls](const Message&) {
    calls->fetch_add(1);
    return std::string("counted");
  });
  test::RawPeer raw("quiet");
  raw.connect(victim->endpoint());
  ASSERT_EQ(raw.greet().kind, Kind::welcome);
  const auto quiet = raw.request("Count", "no answer please", kFlagNoReply);
  const auto loud = raw.request("Count", "answer please");
  ASSERT_NE(quiet, 0u);
  ASSERT_NE(loud, 0u);

  std::vector<test::RawMessage> others;
  const auto answer = raw.wait_answer(loud, 5s, &others);
  ASSERT_EQ(answer.kind, Kind::reply) << kind_name(answer.kind);
  EXPECT_EQ(answer.payload, "counted");
  EXPECT_TRUE(test::wait_until([&] { return calls->load() == 2; }, 5s))
      << "handler ran " << calls->load() << " times";
  // One sender's requests run in order, so an answer to the NoReply request would have
  // come first; read a little longer anyway.
  while (auto m = raw.read(200ms)) others.push_back(std::move(m));
  for (const auto& m : others) {
    ADD_FAILURE() << "unexpected '" << kind_name(m.kind) << "' for correlation id "
                  << m.correlation_id
                  << (m.correlation_id == quiet ? " (the NoReply request)" : "");
  }
}

// ---------------------------------------------------------------- 6: short-lived threads

TEST(Hostile, ShortLivedCallerThreadsDoNotLeakSockets) {
  auto server = started(test_options("server"));
  auto tick = server->on("Tick", [](const Message&) { return std::string(); });
  auto client = started(test_options("client"));
  auto connected = client->connect(server->endpoint());
  ASSERT_EQ(connected.wait_for(5s), std::future_status::ready);
  const PeerId id = connected.get();
  client->send(id, "Tick", "warm-up");  // this thread's own channel exists from here on
  ASSERT_TRUE(test::wait_until([&] { return server->stats().handled >= 1; }, 5s));

  const int before = test::open_fd_count();
  std::atomic<int> failed{0};
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<std::thread> threads;
    threads.reserve(30);
    for (int i = 0; i < 30; ++i) {
      threads.emplace_back([&] {
        try {
          client->send(id, "Tick", "once");
        } catch (const Error&) {
          failed.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(failed.load(), 0);
  EXPECT_TRUE(test::wait_until([&] { return server->stats().handled >= 301; }, 5s));
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() <= before + 32; }, 5s))
      << "fds before: " << before
      << ", after 300 short-lived caller threads: " << test::open_fd_count();
}

// ---------------------------------------------------------------- 7: calls racing stop()

TEST(Hostile, CallsRacingStopAreSafe) {
  auto server = started(test_options("server"));
  auto echo = server->on("Echo", [](const Message& m) { return std::string(m.text()); });

  std::mutex mu;
  std::vector<std::string> problems;  // guarded by mu
  auto note = [&](const std::string& what) {
    std::lock_guard lock(mu);
    if (problems.size() < 10) problems.push_back(what);
  };
  auto allowed = [](errc k) { return k == errc::shutting_down || k == errc::not_running; };
  auto settle = [&](zmesh::Future<Response>& f) {
    if (f.wait_for(5s) != std::future_status::ready) {
      note("a request future never completed");
      return;
    }
    try {
      (void)f.get();
    } catch (const Error& e) {
      if (!allowed(e.kind())) note(std::string("request failed: ") + e.what());
    } catch (const std::exception& e) {
      note(std::string("request future: ") + e.what());
    }
  };

  // A few rounds: each a fresh client, four threads calling it, and stop() among them.
  for (int round = 0; round < 5; ++round) {
    auto client = started(test_options("client"));
    auto connected = client->connect(server->endpoint());
    ASSERT_EQ(connected.wait_for(5s), std::future_status::ready);
    const PeerId id = connected.get();
    Peer* peer = client.get();  // stays valid even if stop_bounded must leak the Peer
    std::atomic<bool> quit{false};
    std::atomic<int> calls{0};
    std::vector<std::thread> callers;
    callers.reserve(4);
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&, peer, id] {
        std::deque<zmesh::Future<Response>> futures;
        while (!quit.load()) {
          try {
            peer->send(id, "Echo", "m");
          } catch (const Error& e) {
            if (!allowed(e.kind())) note(std::string("send: ") + e.what());
          }
          try {
            futures.push_back(peer->request(id, "Echo", "r", 2s));
          } catch (const Error& e) {
            if (!allowed(e.kind())) note(std::string("request: ") + e.what());
          }
          (void)peer->stats();
          calls.fetch_add(1);
          if (futures.size() > 64) {
            settle(futures.front());
            futures.pop_front();
          }
        }
        for (auto& f : futures) settle(f);
      });
    }
    // Stop at a different moment each round: as the callers start, then later and later.
    const bool busy = test::wait_until([&] { return calls.load() >= 50 * round; }, 5s);
    const auto out = stop_bounded(client, 1s, 10s);
    const int at_stop = calls.load();
    (void)test::wait_until([&] { return calls.load() >= at_stop + 200; }, 2s);
    quit.store(true);
    for (auto& t : callers) t.join();
    EXPECT_TRUE(busy) << "round " << round << ": callers made only " << calls.load() << " calls";
    EXPECT_TRUE(out.returned) << "round " << round << ": stop() racing callers did not return";
  }
  std::lock_guard lock(mu);
  for (const auto& p : problems) ADD_FAILURE() << p;
}

}  // namespace
}  // namespace zmesh
