// zmesh_soak — a bounded soak run, not part of the default suite (see README.md here).
//
// One responder peer ("victim") serves Echo. Eight client peers send a steady mix of
// requests, messages and broadcasts to it for --seconds. Meanwhile a hostile raw client
// cycles through the attacks of issue 9: two HELLOs on one DEALER then vanishing, a flood
// of requests it never reads, 1,100 queued requests then leaving, NoReply requests, and a
// subscription flood at the victim's PUB. At the end it prints the valid traffic's
// success rate and p99 latency, the victim's peak RSS, its counters, and whether stop()
// returned cleanly; the exit code is 0 only if the valid traffic kept flowing (>= 99 %
// success), the RSS stayed under --max-rss-mib, and stop() returned.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "raw_peer.hpp"
#include "test_support.hpp"
#include "zmesh/peer.hpp"
#include "zmtp_client.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

zmesh::PeerOptions options(const std::string& name) {
  zmesh::PeerOptions o;
  o.name = name;
  o.workers = 2;
  o.heartbeat_interval = 100ms;
  o.heartbeat_timeout = 2000ms;
  o.max_queued_bytes = 4u << 20;
  // A small ZeroMQ pipe per peer, so that a requester that does not read meets our own
  // bound (max_queued_bytes) and not only libzmq's.
  o.send_hwm = 100;
  o.max_subscriptions = 2000;
  return o;
}

struct Totals {
  std::atomic<long> ok{0}, failed{0};
  std::mutex mu;
  std::vector<double> latencies_us;  // guarded by mu
};

void client(zmesh::Peer& peer, zmesh::PeerId to, Totals& totals, Clock::time_point until) {
  std::vector<double> mine;
  int i = 0;
  while (Clock::now() < until) {
    const auto t0 = Clock::now();
    try {
      auto f = peer.request(to, "Echo", "hello " + std::to_string(i), 2s);
      if (f.get().payload.size() > 0) ++totals.ok;
      mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    } catch (const zmesh::Error&) {
      ++totals.failed;
    }
    if (i % 10 == 0) {
      try {
        peer.send(to, "Note", "fire and forget");
        peer.publish("soak.tick", "Tick", std::to_string(i));
      } catch (const zmesh::Error&) {
      }
    }
    ++i;
    std::this_thread::sleep_for(1ms);
  }
  std::lock_guard lock(totals.mu);
  totals.latencies_us.insert(totals.latencies_us.end(), mine.begin(), mine.end());
}

void hostile(const std::string& endpoint, const std::string& pub_endpoint, Clock::time_point until,
             std::atomic<int>& rounds) {
  std::mt19937_64 rng(42);
  const std::string big(std::size_t{10} * 1024, 'x');
  while (Clock::now() < until) {
    switch (rounds.load() % 5) {
      case 0: {  // two HELLOs on one DEALER, then gone
        zmesh::test::RawPeer raw("twice");
        raw.connect(endpoint);
        (void)raw.greet(rng(), rng());
        (void)raw.greet(rng(), rng());
        break;
      }
      case 1: {  // requests it never reads
        zmesh::test::RawPeer raw("hog");
        raw.set_rcvhwm(1);
        raw.set_rcvbuf(4096);
        raw.connect(endpoint);
        (void)raw.greet();
        for (int i = 0; i < 2000 && Clock::now() < until; ++i) {
          if (raw.request("Echo", big, 0, 0, 200ms) == 0) break;
        }
        break;
      }
      case 2: {  // 1,100 queued requests, then leave without a word
        zmesh::test::RawPeer raw("leaver");
        raw.connect(endpoint);
        (void)raw.greet();
        for (int i = 0; i < 1100; ++i) (void)raw.request("Slow", "1", 0, 0, 200ms);
        break;
      }
      case 3: {  // NoReply requests
        zmesh::test::RawPeer raw("noreply");
        raw.connect(endpoint);
        (void)raw.greet();
        for (int i = 0; i < 100; ++i) (void)raw.request("Echo", "x", zmesh::kFlagNoReply, 0, 200ms);
        break;
      }
      case 4: {  // a subscription flood
        zmesh::test::ZmtpSubscriber sub;
        if (!sub.connect(pub_endpoint)) break;
        for (int i = 0; i < 20000; ++i) {
          std::string topic(64, 'a');
          for (auto& ch : topic) ch = static_cast<char>('a' + rng() % 26);
          sub.queue_subscribe(topic);
          if (sub.queued_bytes() >= std::size_t{64} * 1024 && !sub.flush(2s)) break;
        }
        (void)sub.flush(2s);
        break;
      }
    }
    ++rounds;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 120;
  long max_rss_mib = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::stoi(argv[i + 1]);
    if (flag == "--max-rss-mib") max_rss_mib = std::stol(argv[i + 1]);
  }
  zmesh::Peer victim(options("victim"));
  auto echo = victim.on("Echo", [](const zmesh::Message& m) { return std::string(m.text()); });
  auto slow = victim.on("Slow", [](const zmesh::Message&) {
    std::this_thread::sleep_for(1ms);
    return std::string("slow");
  });
  auto note = victim.on("Note", [](const zmesh::Message&) { return std::string(); });
  victim.start();

  std::vector<std::unique_ptr<zmesh::Peer>> clients;
  std::vector<zmesh::PeerId> ids;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<zmesh::Peer>(options("client-" + std::to_string(i))));
    clients.back()->start();
    ids.push_back(clients.back()->connect(victim.endpoint()).get());
  }
  const long rss_start = zmesh::test::rss_kib();
  std::atomic<long> rss_peak{rss_start};
  const auto until = Clock::now() + std::chrono::seconds(seconds);
  Totals totals;
  std::atomic<int> rounds{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] { client(*clients[i], ids[i], totals, until); });
  }
  threads.emplace_back([&] { hostile(victim.endpoint(), victim.pub_endpoint(), until, rounds); });
  while (Clock::now() < until) {
    rss_peak = std::max(rss_peak.load(), zmesh::test::rss_kib());
    std::this_thread::sleep_for(50ms);
    static auto last = Clock::now();
    if (Clock::now() - last > 10s) {
      last = Clock::now();
      std::printf("... ok %ld failed %ld hostile rounds %d rss %ld MiB\n", totals.ok.load(),
                  totals.failed.load(), rounds.load(), zmesh::test::rss_kib() / 1024);
      std::fflush(stdout);
    }
  }
  for (auto& t : threads) t.join();
  auto& lat = totals.latencies_us;
  std::sort(lat.begin(), lat.end());
  const double p99 = lat.empty() ? 0 : lat[lat.size() * 99 / 100];
  const double p50 = lat.empty() ? 0 : lat[lat.size() / 2];
  const long total = totals.ok + totals.failed;
  const double rate =
      total == 0 ? 0 : 100.0 * static_cast<double>(totals.ok) / static_cast<double>(total);
  const auto s = victim.stats();
  const auto t0 = Clock::now();
  for (auto& c : clients) c->stop();
  victim.stop(1s);
  const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  std::printf(
      "soak %d s: valid requests %ld, success %.2f %%, p50 %.0f us, p99 %.0f us; hostile rounds "
      "%d\nvictim RSS %ld -> peak %ld MiB (bound %ld); overloaded %lu, departed_skipped %lu, "
      "subscriptions_refused %lu, malformed %lu, unexpected %lu; stop of all peers %lld ms\n",
      seconds, total, rate, p50, p99, rounds.load(), rss_start / 1024, rss_peak.load() / 1024,
      max_rss_mib, static_cast<unsigned long>(s.overloaded),
      static_cast<unsigned long>(s.departed_skipped),
      static_cast<unsigned long>(s.subscriptions_refused), static_cast<unsigned long>(s.malformed),
      static_cast<unsigned long>(s.unexpected), static_cast<long long>(stop_ms.count()));
  const bool ok = rate >= 99.0 && rss_peak / 1024 < max_rss_mib;
  return ok ? 0 : 1;
}
