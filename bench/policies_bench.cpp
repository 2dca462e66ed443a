// Broadcast delivery policies (PeerOptions::delivery: drop, block, latest), tcp loopback,
// one process, four parts (docs/benchmarks.md, "Delivery policies (issue 14)"):
//
//   build-bench/bench/bench_policies [--quick] [--part table|heartbeat|slow|latest]
//       [--kernel-buffer BYTES] [--latest-seconds S] [--stuck-timeout MS]    (default: all)
//
//   table      At 16 B, 256 B and 4 KB, in one run: raw cppzmq PUB/SUB (lossy), raw cppzmq
//              XPUB with ZMQ_XPUB_NODROP (lossless), and zmesh under drop, block and latest,
//              all with high-water marks of 1000 (ZeroMQ's default) at both ends, so that
//              loss can happen. The frames are bench_pubsub's ([topic][header][payload],
//              one topic). Per row: the rate received, the loss, what zmesh accounted for
//              (gaps at the subscriber, conflated at the publisher; publish() calls =
//              received + gaps + conflated and PeerStats::published = received + gaps are
//              checked), and CPU and syscalls per broadcast sent for the whole process,
//              both ends (meters.hpp).
//   heartbeat  What the broadcast heartbeat costs (broadcast_heartbeat 100 ms vs 0): zmesh
//              drop with high-water marks above what is sent (nothing can be dropped, both
//              settings do the same work), 16 B, round-robin over 1 and 1,000 topics;
//              interleaved rounds, medians of msgs/s and of CPU per broadcast, on/off.
//   slow       10^6 broadcasts under block to a subscriber that sleeps 2 ms every 100
//              (sequences consecutive? held at most?), the same under drop, then a raw SUB
//              that never reads next to a zmesh subscriber: publish() timeouts, the cut of
//              the stuck subscriber, and publishing going on.
//   latest     The claim for latest: a subscriber reading 10/s from a 10,000/s
//              publisher on 10 topics sees the newest value within one read. A latest
//              publisher paced at 10,000/s round-robin over lat.0 .. lat.9 for 5 s (quick:
//              2 s), payload "index publish_time_ns"; a zmesh subscriber (1 worker) whose
//              handler sleeps 100 ms per broadcast. Per read: its age and how many newer
//              broadcasts of its topic had been published by then. When publishing stops
//              the handler stops sleeping and reads until idle: the last value per topic
//              must be the newest, publish() calls = published + conflated + overflowed,
//              no gap. Three settings: high-water marks 1000; high-water marks 1 and
//              worker_queue_depth 1; the same with the kernel socket buffers shrunk (no
//              PeerOptions field does that: the bench sets SO_SNDBUF / SO_RCVBUF to
//              --kernel-buffer, 4096 by default, on libzmq's descriptors of the
//              connection, found by address). A second table says where the broadcasts
//              not yet read were when publishing stopped. --latest-seconds sets how long
//              to publish, --stuck-timeout the publisher's stuck_subscriber_timeout (ms).
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "meters.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/peer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using zmesh::DeliveryPolicy;

constexpr int kTableHwm = 1000;  // ZeroMQ's default high-water mark
constexpr std::string_view kTopic = "bench.topic";

struct Args {
  bool quick = false;
  std::string part = "all";  // table, heartbeat, slow, latest or all
  // latest: SO_SNDBUF and SO_RCVBUF asked for in setting 3 (Linux doubles it; its least
  // is 4,608 B to send and 2,304 B to receive), seconds of publishing (0: 5, quick 2),
  // the publisher's stuck_subscriber_timeout in ms (-1: PeerOptions' default).
  int kernel_buffer = 4096;
  int latest_seconds = 0;
  int stuck_timeout_ms = -1;
};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double since(Clock::time_point t0) {
  return seconds_between(t0, Clock::now());
}

const char* policy_name(DeliveryPolicy p) {
  switch (p) {
    case DeliveryPolicy::drop: return "drop";
    case DeliveryPolicy::block: return "block";
    case DeliveryPolicy::latest: return "latest";
  }
  return "?";
}

// The load averages, for the machine note beside each part.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  std::string five;
  std::string fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// What a subscriber received: a count and the time of the last receipt.
struct Tally {
  std::atomic<long> received{0};
  std::atomic<std::int64_t> last_ns{0};

  void add() {
    received.fetch_add(1, std::memory_order_relaxed);
    last_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  [[nodiscard]] Clock::time_point last() const {
    return Clock::time_point(std::chrono::nanoseconds(last_ns.load()));
  }
};

// A subscriber's handler: counts, checks that sequences are consecutive, and sleeps 2 ms
// every `sleep_every` broadcasts (0: never).
class Reader {
 public:
  explicit Reader(long sleep_every) : sleep_every_(sleep_every) {}
  void on(const zmesh::Message& m) {
    if (m.sequence() != last_sequence_.load() + 1) not_consecutive_.fetch_add(1);
    last_sequence_ = m.sequence();
    tally_.add();
    if (sleep_every_ > 0 && tally_.received.load() % sleep_every_ == 0) {
      std::this_thread::sleep_for(2ms);
    }
  }
  [[nodiscard]] const Tally& tally() const { return tally_; }
  [[nodiscard]] long received() const { return tally_.received.load(); }
  [[nodiscard]] long not_consecutive() const { return not_consecutive_.load(); }

 private:
  long sleep_every_;
  Tally tally_;
  std::atomic<std::uint64_t> last_sequence_{0};
  std::atomic<long> not_consecutive_{0};
};

// Waits until the tally reaches `expected` or stops growing for 200 ms; returns the time
// of the last receipt.
Clock::time_point settle(const Tally& tally, long expected) {
  long before = -1;
  while (tally.received.load() < expected && tally.received.load() != before) {
    before = tally.received.load();
    std::this_thread::sleep_for(200ms);
  }
  return tally.last();
}

// Runs `fn` every `period` on a thread of its own until stop() or destruction.
class Every {
 public:
  Every(std::chrono::milliseconds period, std::function<void()> fn)
      : thread_([period, fn = std::move(fn)](const std::stop_token& stop) {
          while (!stop.stop_requested()) {
            fn();
            std::this_thread::sleep_for(period);
          }
        }) {}
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::jthread thread_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// ---------------------------------------------------------------------------------------
// Part 1: the table.

// A raw SUB on a thread of its own, counting [topic][header][payload] messages. A
// one-frame message is the publisher's probe: seeing one means the subscription is in
// effect (the slow joiner, the same way for PUB and XPUB).
class RawSubscriber {
 public:
  RawSubscriber(zmq::context_t& ctx, std::string endpoint, int hwm)
      : thread_([this, &ctx, endpoint = std::move(endpoint), hwm](const std::stop_token& stop) {
          run(ctx, endpoint, hwm, stop);
        }) {}
  [[nodiscard]] bool joined() const { return joined_.load(); }
  [[nodiscard]] const Tally& tally() const { return tally_; }

 private:
  void run(zmq::context_t& ctx, const std::string& endpoint, int hwm, const std::stop_token& stop) {
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, hwm);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(endpoint);
    zmq::message_t part;
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    while (!stop.stop_requested()) {
      if (zmq::poll(&item, 1, 50ms) == 0) continue;
      while (sub.recv(part, zmq::recv_flags::dontwait)) {
        if (!part.more()) {
          joined_ = true;
          continue;
        }
        (void)sub.recv(part);
        (void)sub.recv(part);
        tally_.add();
      }
    }
  }

  Tally tally_;
  std::atomic<bool> joined_{false};
  std::jthread thread_;  // last: starts after the members it uses, stops before them
};

// Sends one part, waiting while a subscriber's queue is full (XPUB_NODROP says EAGAIN).
// From bench_pubsub.
void send_lossless(zmq::socket_t& pub, zmq::const_buffer part, zmq::send_flags more) {
  zmq::pollitem_t item{pub.handle(), 0, ZMQ_POLLOUT, 0};
  while (!pub.send(part, more | zmq::send_flags::dontwait)) zmq::poll(&item, 1, 10ms);
}

void send_part(zmq::socket_t& pub, bool lossless, zmq::const_buffer part, zmq::send_flags more) {
  if (lossless) {
    send_lossless(pub, part, more);
  } else {
    (void)pub.send(part, more);  // a PUB never waits: it drops at the high-water mark
  }
}

// Sends probes until the subscriber has seen one.
void wait_joined(zmq::socket_t& pub, const RawSubscriber& sub) {
  const auto deadline = Clock::now() + 5s;
  while (!sub.joined()) {
    if (Clock::now() > deadline) throw std::runtime_error("the raw subscriber did not join");
    (void)pub.send(zmq::str_buffer("probe"), zmq::send_flags::dontwait);
    std::this_thread::sleep_for(1ms);
  }
}

struct RowResult {
  long sent = 0;  // messages sent (raw) or publish() calls that returned (zmesh)
  long received = 0;
  double msgs_per_s = 0;
  bench::Cost cost;  // per broadcast sent, the whole process
  // zmesh only:
  long failed = 0;  // publish() calls that threw
  std::uint64_t published = 0;
  std::uint64_t gaps = 0;
  std::uint64_t conflated = 0;
  long not_consecutive = 0;  // broadcasts whose sequence is not the last one + 1
  std::string balance;       // sent == received + gaps + conflated?
};

double rate(long received, Clock::time_point t0, Clock::time_point last) {
  return received > 0 ? static_cast<double>(received) / seconds_between(t0, last) : 0.0;
}

RowResult raw_row(bool lossless, std::size_t size, long n) {
  zmq::context_t ctx;
  zmq::socket_t pub(ctx, lossless ? zmq::socket_type::xpub : zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, kTableHwm);
  pub.set(zmq::sockopt::linger, 0);
  if (lossless) pub.set(zmq::sockopt::xpub_nodrop, 1);
  pub.bind("tcp://127.0.0.1:*");
  RawSubscriber sub(ctx, pub.get(zmq::sockopt::last_endpoint), kTableHwm);
  wait_joined(pub, sub);
  zmesh::EnvelopeEncoder enc;
  zmesh::Header h;
  h.kind = zmesh::Kind::publish;
  h.type = "Tick";
  h.sender_id = 1;
  h.sender_session = 1;
  const std::string payload(size, 'p');
  const auto m0 = bench::Meters::sample();
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    h.sequence = static_cast<std::uint64_t>(i + 1);
    send_part(pub, lossless, zmq::buffer(kTopic), zmq::send_flags::sndmore);
    const auto header = enc.encode(h);
    send_part(pub, lossless, zmq::buffer(header.data(), header.size()), zmq::send_flags::sndmore);
    send_part(pub, lossless, zmq::buffer(payload), zmq::send_flags::none);
  }
  const auto last = settle(sub.tally(), n);
  const auto m1 = bench::Meters::sample();
  RowResult r;
  r.sent = n;
  r.received = sub.tally().received.load();
  r.msgs_per_s = rate(r.received, t0, last);
  r.cost = bench::Meters::per(m0, m1, static_cast<double>(n));
  return r;
}

// What a zmesh row accounted for. Every publish() call that returned is received, missed
// (a gap at the subscriber) or conflated (replaced at the publisher before it went out,
// never numbered); PeerStats::published counts the numbered ones: received + gaps.
struct Accounting {
  std::uint64_t calls = 0;
  std::uint64_t published = 0;
  std::uint64_t received = 0;
  std::uint64_t gaps = 0;
  std::uint64_t conflated = 0;
  [[nodiscard]] long long off() const {
    return static_cast<long long>(calls) - static_cast<long long>(received + gaps + conflated);
  }
  [[nodiscard]] bool adds_up() const { return off() == 0 && published == received + gaps; }
};

Accounting account(long calls, const zmesh::Peer& pub, const zmesh::Peer& sub, const Tally& tally) {
  const zmesh::PeerStats ps = pub.stats();
  return {static_cast<std::uint64_t>(calls), ps.published,
          static_cast<std::uint64_t>(tally.received.load()), sub.stats().gaps,
          ps.broadcasts_conflated};
}

std::string describe(const Accounting& a) {
  char text[160];
  std::snprintf(text, sizeof text, "off by %lld, published - received - gaps = %lld", a.off(),
                static_cast<long long>(a.published) - static_cast<long long>(a.received + a.gaps));
  return text;
}

// Reads the accounting 300 ms after the stream went idle (a heartbeat has then told the
// subscriber about losses at the tail); when it does not add up, watches 3 s more and
// says whether and when it did.
std::pair<Accounting, std::string> settled_accounting(long calls, const zmesh::Peer& pub,
                                                      const zmesh::Peer& sub, const Tally& tally) {
  std::this_thread::sleep_for(300ms);
  const Accounting at_300 = account(calls, pub, sub, tally);
  if (at_300.adds_up()) return {at_300, "yes"};
  const auto t0 = Clock::now();
  Accounting later = at_300;
  while (!later.adds_up() && since(t0) < 3.0) {
    std::this_thread::sleep_for(10ms);
    later = account(calls, pub, sub, tally);
  }
  std::string text = "**NO** at 300 ms (" + describe(at_300) + ")";
  char after[64];
  std::snprintf(after, sizeof after, "; yes %.0f ms later", since(t0) * 1000);
  text += later.adds_up() ? after : "; 3 s later " + describe(later);
  return {later, text};
}

RowResult zmesh_row(DeliveryPolicy policy, std::size_t size, long n) {
  zmesh::PeerOptions po;
  po.name = "policies-pub";
  po.workers = 1;
  po.pub_hwm = kTableHwm;
  po.delivery = policy;
  po.send_timeout = 10s;  // block: publish() waits for room; nothing should time out
  zmesh::Peer pub(po);
  pub.start();
  zmesh::PeerOptions so;
  so.name = "policies-sub";
  so.workers = 1;
  so.sub_hwm = kTableHwm;
  zmesh::Peer sub(so);
  Reader reader(0);
  auto reg = sub.subscribe("bench.", [&reader](const zmesh::Message& m) { reader.on(m); });
  sub.start();
  sub.subscribe_to(pub.pub_endpoint());
  sub.sync_subscriptions(5s).get();
  const Tally& tally = reader.tally();
  const std::string payload(size, 'p');
  RowResult r;
  const auto m0 = bench::Meters::sample();
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    try {
      pub.publish(kTopic, "Tick", payload);
    } catch (const zmesh::Error&) {
      ++r.failed;
    }
  }
  const auto last = settle(tally, n);
  const auto m1 = bench::Meters::sample();
  r.sent = n - r.failed;
  r.received = tally.received.load();
  r.msgs_per_s = rate(r.received, t0, last);
  r.cost = bench::Meters::per(m0, m1, static_cast<double>(n));
  auto [acc, balance] = settled_accounting(r.sent, pub, sub, tally);
  r.published = acc.published;
  r.gaps = acc.gaps;
  r.conflated = acc.conflated;
  r.balance = std::move(balance);
  r.not_consecutive = reader.not_consecutive();
  sub.stop();
  pub.stop();
  return r;
}

void print_row(std::size_t size, const char* sender, const RowResult& r, bool zmesh) {
  const double loss =
      r.sent > 0 ? 100.0 * static_cast<double>(r.sent - r.received) / static_cast<double>(r.sent)
                 : 0.0;
  // The columns only zmesh fills: conflated, gaps, not consecutive, published, accounted.
  std::string z[5] = {"-", "-", "-", "-", "-"};
  if (zmesh) {
    z[0] = std::to_string(r.conflated);
    z[1] = std::to_string(r.gaps);
    z[2] = std::to_string(r.not_consecutive);
    z[3] = std::to_string(r.published);
    z[4] = std::to_string(r.sent) + " = " + std::to_string(r.received) + " + " +
           std::to_string(r.gaps) + " + " + std::to_string(r.conflated) + ": " + r.balance;
    if (r.failed > 0) z[4] += " (" + std::to_string(r.failed) + " publish() threw)";
  }
  std::printf("| %zu B | %s | %ld | %ld | %.0f | %.1f %% | %s | %s | %s | %s | %s | %.2f | %s |\n",
              size, sender, r.sent, r.received, r.msgs_per_s, loss, z[0].c_str(), z[1].c_str(),
              z[2].c_str(), z[3].c_str(), z[4].c_str(), r.cost.cpu_us,
              bench::fmt_syscalls(r.cost.syscalls).c_str());
  std::fflush(stdout);
}

void part_table(bool quick) {
  std::printf(
      "### table: high-water marks %d at both ends, one topic; load %s\n\n"
      "| payload | sender | sent | received | msgs/s received | loss | conflated | gaps "
      "(subscriber) | not consecutive | PeerStats::published | sent = received + gaps + "
      "conflated | CPU us/msg | syscalls/msg |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      kTableHwm, load_average().c_str());
  for (const std::size_t size : {std::size_t{16}, std::size_t{256}, std::size_t{4096}}) {
    const long n = size >= 4096 ? (quick ? 5000 : 50000) : (quick ? 20000 : 200000);
    print_row(size, "raw PUB/SUB (lossy)", raw_row(false, size, n), false);
    print_row(size, "raw XPUB_NODROP (lossless)", raw_row(true, size, n), false);
    for (const DeliveryPolicy p :
         {DeliveryPolicy::drop, DeliveryPolicy::block, DeliveryPolicy::latest}) {
      const std::string sender = std::string("zmesh ") + policy_name(p);
      print_row(size, sender.c_str(), zmesh_row(p, size, n), true);
    }
  }
  std::printf("\n");
}

// ---------------------------------------------------------------------------------------
// Part 2: the heartbeat's cost.

struct HeartbeatRun {
  double msgs_per_s = 0;
  double cpu_us = 0;  // per broadcast, the whole process
  long lost = 0;
};

HeartbeatRun heartbeat_run(bool heartbeat, const std::vector<std::string>& topics, long n) {
  const int hwm = static_cast<int>(2 * n);  // above everything sent: nothing is dropped
  const auto period = heartbeat ? std::chrono::milliseconds(100) : std::chrono::milliseconds(0);
  zmesh::PeerOptions po;
  po.name = "hb-pub";
  po.workers = 1;
  po.pub_hwm = hwm;
  po.broadcast_heartbeat = period;
  zmesh::Peer pub(po);
  pub.start();
  zmesh::PeerOptions so;
  so.name = "hb-sub";
  so.workers = 1;
  so.sub_hwm = hwm;
  so.broadcast_heartbeat = period;
  zmesh::Peer sub(so);
  Tally tally;
  auto reg = sub.subscribe("hb.", [&tally](const zmesh::Message&) { tally.add(); });
  sub.start();
  sub.subscribe_to(pub.pub_endpoint());
  sub.sync_subscriptions(5s).get();
  const std::string payload(16, 'p');
  const std::size_t count = topics.size();
  const auto m0 = bench::Meters::sample();
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    pub.publish(topics[static_cast<std::size_t>(i) % count], "Tick", payload);
  }
  const auto last = settle(tally, n);
  const auto m1 = bench::Meters::sample();
  const long received = tally.received.load();
  sub.stop();
  pub.stop();
  return {rate(received, t0, last), bench::Meters::per(m0, m1, static_cast<double>(n)).cpu_us,
          n - received};
}

std::string join_rates(const std::vector<double>& v) {
  std::string out;
  for (const double x : v) {
    if (!out.empty()) out += ", ";
    out += std::to_string(static_cast<long>(x));
  }
  return out;
}

void part_heartbeat(bool quick) {
  const int rounds = quick ? 2 : 5;
  const long n = quick ? 20000 : 500000;
  std::printf(
      "### heartbeat: zmesh drop, 16 B, %ld broadcasts per run, high-water marks %ld at both "
      "ends (nothing can be dropped), %d interleaved rounds; load %s\n\n"
      "| topics | heartbeat 100 ms: msgs/s per round | median | heartbeat off: msgs/s per "
      "round | median | on/off msgs/s | CPU us/msg on / off (medians) | on/off CPU | lost (all "
      "runs) |\n"
      "|---|---|---|---|---|---|---|---|---|\n",
      n, 2 * n, rounds, load_average().c_str());
  for (const int topic_count : {1, 1000}) {
    std::vector<std::string> topics;
    topics.reserve(static_cast<std::size_t>(topic_count));
    for (int t = 0; t < topic_count; ++t) topics.push_back("hb.topic." + std::to_string(t));
    std::vector<double> on;
    std::vector<double> off;
    std::vector<double> cpu_on;
    std::vector<double> cpu_off;
    long lost = 0;
    for (int r = 0; r < rounds; ++r) {
      for (const bool hb : {r % 2 == 0, r % 2 != 0}) {  // alternate which goes first
        const HeartbeatRun run = heartbeat_run(hb, topics, n);
        (hb ? on : off).push_back(run.msgs_per_s);
        (hb ? cpu_on : cpu_off).push_back(run.cpu_us);
        lost += run.lost;
      }
    }
    const double on_median = median(on);
    const double off_median = median(off);
    const double cpu_on_median = median(cpu_on);
    const double cpu_off_median = median(cpu_off);
    std::printf("| %d | %s | %.0f | %s | %.0f | %.3f | %.3f / %.3f | %.3f | %ld |\n", topic_count,
                join_rates(on).c_str(), on_median, join_rates(off).c_str(), off_median,
                on_median / off_median, cpu_on_median, cpu_off_median,
                cpu_on_median / cpu_off_median, lost);
    std::fflush(stdout);
  }
  std::printf("\n");
}

// ---------------------------------------------------------------------------------------
// Part 3: a slow subscriber, and a stuck one.

struct SlowResult {
  long published = 0;  // publish() calls that returned
  long received = 0;
  long not_consecutive = 0;
  std::uint64_t gaps = 0;
  long caught = 0;  // publish() calls that threw queue_full
  std::uint64_t publish_timeouts = 0;
  std::uint64_t max_held = 0;
  double secs = 0;  // first publish to last receipt
  std::string balance;
};

// Waits until received + gaps == published, or nothing has moved for 3 s, or 10 minutes.
void wait_accounted(const zmesh::Peer& sub, const Reader& reader, long published) {
  const auto start = Clock::now();
  auto moved = Clock::now();
  std::uint64_t before = 0;
  for (;;) {
    const std::uint64_t now = static_cast<std::uint64_t>(reader.received()) + sub.stats().gaps;
    if (now == static_cast<std::uint64_t>(published)) return;
    if (now != before) {
      before = now;
      moved = Clock::now();
    }
    if (since(moved) > 3.0 || since(start) > 600.0) return;
    std::this_thread::sleep_for(10ms);
  }
}

SlowResult slow_run(DeliveryPolicy policy, long n) {
  zmesh::PeerOptions po;
  po.name = "slow-pub";
  po.workers = 1;
  po.delivery = policy;
  po.pub_hwm = 100;
  po.send_timeout = 10s;
  zmesh::Peer pub(po);
  pub.start();
  zmesh::PeerOptions so;
  so.name = "slow-sub";
  so.workers = 1;
  so.sub_hwm = 100;
  so.worker_queue_depth = 64;
  zmesh::Peer sub(so);
  Reader reader(100);
  auto reg = sub.subscribe("slow.", [&reader](const zmesh::Message& m) { reader.on(m); });
  sub.start();
  sub.subscribe_to(pub.pub_endpoint());
  sub.sync_subscriptions(5s).get();
  std::atomic<std::uint64_t> max_held{0};
  Every sampler(50ms, [&pub, &max_held] {
    max_held = std::max(max_held.load(), pub.stats().broadcasts_held);
  });
  SlowResult r;
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    try {
      pub.publish("slow.topic", "Tick", "0123456789abcdef");
    } catch (const zmesh::Error& e) {
      if (e.kind() != zmesh::errc::queue_full) throw;
      ++r.caught;
    }
  }
  r.published = n - r.caught;
  wait_accounted(sub, reader, r.published);
  sampler.stop();
  const zmesh::PeerStats ps = pub.stats();
  const zmesh::PeerStats ss = sub.stats();
  r.received = reader.received();
  r.not_consecutive = reader.not_consecutive();
  r.gaps = ss.gaps;
  r.publish_timeouts = ps.publish_timeouts;
  r.max_held = max_held.load();
  r.secs = seconds_between(t0, reader.tally().last());
  r.balance = static_cast<std::uint64_t>(r.received) + r.gaps == ps.published
                  ? "yes"
                  : "**NO** (published " + std::to_string(ps.published) + ")";
  sub.stop();
  pub.stop();
  return r;
}

struct StuckResult {
  long attempts = 0;
  long published = 0;  // publish() calls that returned
  long timeouts = 0;   // publish() calls that threw queue_full
  double first_timeout_s = -1;
  std::vector<double> cuts_s;  // when PeerStats::subscribers_cut rose (sampled every 10 ms)
  long received_at_first_cut = -1;
  std::uint64_t subscribers_cut = 0;
  std::uint64_t publish_timeouts = 0;
  std::uint64_t max_held = 0;
  long received = 0;
  long not_consecutive = 0;
  std::uint64_t gaps = 0;
  // PeerStats::subscriptions_seen once the stuck SUB subscribed, and at the end: more
  // means it subscribed again after a cut (it reconnects by itself).
  std::uint64_t subscriptions_at_start = 0;
  std::uint64_t subscriptions_at_end = 0;
};

// Connects a raw SUB that never reads to `endpoint`; returns once `pub` has its
// subscription.
void connect_stuck(zmq::socket_t& stuck, const zmesh::Peer& pub) {
  stuck.set(zmq::sockopt::rcvhwm, 100);
  stuck.set(zmq::sockopt::rcvbuf, 4096);
  stuck.set(zmq::sockopt::linger, 0);
  stuck.set(zmq::sockopt::subscribe, "");
  const std::uint64_t seen = pub.stats().subscriptions_seen;
  stuck.connect(pub.pub_endpoint());
  const auto deadline = Clock::now() + 5s;
  while (pub.stats().subscriptions_seen <= seen) {
    if (Clock::now() > deadline)
      throw std::runtime_error("the stuck SUB's subscription never came");
    std::this_thread::sleep_for(5ms);
  }
}

StuckResult stuck_run(std::chrono::milliseconds duration) {
  zmesh::PeerOptions po;
  po.name = "stuck-pub";
  po.workers = 1;
  po.delivery = DeliveryPolicy::block;
  po.pub_hwm = 100;
  po.send_timeout = 200ms;
  po.stuck_subscriber_timeout = 1s;
  po.broadcast_backlog_bytes = std::size_t{1} << 20;
  zmesh::Peer pub(po);
  pub.start();
  zmesh::PeerOptions so;
  so.name = "stuck-sub";
  so.workers = 1;
  zmesh::Peer sub(so);
  Reader reader(0);
  auto reg = sub.subscribe("stuck.", [&reader](const zmesh::Message& m) { reader.on(m); });
  sub.start();
  sub.subscribe_to(pub.pub_endpoint());
  sub.sync_subscriptions(5s).get();
  zmq::context_t ctx;
  zmq::socket_t stuck(ctx, zmq::socket_type::sub);
  connect_stuck(stuck, pub);

  StuckResult r;
  r.subscriptions_at_start = pub.stats().subscriptions_seen;
  std::atomic<std::uint64_t> max_held{0};
  std::uint64_t cuts_seen = 0;
  const auto t0 = Clock::now();
  Every sampler(10ms, [&] {
    const zmesh::PeerStats ps = pub.stats();
    max_held = std::max(max_held.load(), ps.broadcasts_held);
    if (ps.subscribers_cut > cuts_seen) {
      if (cuts_seen == 0) r.received_at_first_cut = reader.received();
      cuts_seen = ps.subscribers_cut;
      r.cuts_s.push_back(since(t0));
    }
  });
  while (Clock::now() - t0 < duration) {
    ++r.attempts;
    try {
      pub.publish("stuck.topic", "Tick", "0123456789abcdef");
      ++r.published;
    } catch (const zmesh::Error& e) {
      if (e.kind() != zmesh::errc::queue_full) throw;
      if (r.timeouts++ == 0) r.first_timeout_s = since(t0);
    }
  }
  stuck.close();  // the stuck subscriber goes; what is held for it can go out
  wait_accounted(sub, reader, r.published);
  sampler.stop();
  const zmesh::PeerStats ps = pub.stats();
  r.subscribers_cut = ps.subscribers_cut;
  r.subscriptions_at_end = ps.subscriptions_seen;
  r.publish_timeouts = ps.publish_timeouts;
  r.max_held = max_held.load();
  r.received = reader.received();
  r.not_consecutive = reader.not_consecutive();
  r.gaps = sub.stats().gaps;
  sub.stop();
  pub.stop();
  return r;
}

void print_slow(const char* policy, long n, const SlowResult& r) {
  std::printf("| %s | %ld | %ld | %ld | %ld | %llu | %ld / %llu | %llu | %.1f | %.0f | %s |\n",
              policy, n, r.published, r.received, r.not_consecutive,
              static_cast<unsigned long long>(r.gaps), r.caught,
              static_cast<unsigned long long>(r.publish_timeouts),
              static_cast<unsigned long long>(r.max_held), r.secs,
              r.secs > 0 ? static_cast<double>(r.received) / r.secs : 0.0, r.balance.c_str());
  std::fflush(stdout);
}

std::string join_times(const std::vector<double>& v) {
  std::string out;
  char one[32];
  for (const double t : v) {
    std::snprintf(one, sizeof one, "%s%.2f s", out.empty() ? "" : ", ", t);
    out += one;
  }
  return out.empty() ? "none" : out;
}

void print_stuck(std::chrono::milliseconds duration, const StuckResult& r) {
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  char first[32] = "none";
  if (r.first_timeout_s >= 0) std::snprintf(first, sizeof first, "%.2f s", r.first_timeout_s);
  std::printf(
      "| figure | value |\n|---|---|\n"
      "| publish() calls in %.1f s | %ld |\n"
      "| returned (published) | %ld |\n"
      "| timed out (queue_full, caught) / PeerStats::publish_timeouts | %ld / %llu |\n"
      "| first timeout | %s |\n"
      "| PeerStats::subscribers_cut | %llu |\n"
      "| cuts seen at (sampled every 10 ms) | %s |\n"
      "| max broadcasts_held | %llu |\n"
      "| zmesh subscriber: received / after the first cut | %ld / %ld |\n"
      "| zmesh subscriber: not consecutive / gaps | %ld / %llu |\n"
      "| PeerStats::subscriptions_seen once the stuck SUB subscribed / at the end | %llu / "
      "%llu |\n\n",
      std::chrono::duration<double>(duration).count(), r.attempts, r.published, r.timeouts,
      u(r.publish_timeouts), first, u(r.subscribers_cut), join_times(r.cuts_s).c_str(),
      u(r.max_held), r.received,
      r.received_at_first_cut < 0 ? 0 : r.received - r.received_at_first_cut, r.not_consecutive,
      u(r.gaps), u(r.subscriptions_at_start), u(r.subscriptions_at_end));
  std::fflush(stdout);
}

void part_slow(bool quick) {
  const long n = quick ? 50000 : 1000000;
  std::printf(
      "### slow: 16 B, pub_hwm 100, sub_hwm 100, worker_queue_depth 64, send_timeout 10 s; the "
      "handler sleeps 2 ms every 100 broadcasts; load %s\n\n"
      "| policy | broadcasts | published | received | not consecutive | subscriber gaps | "
      "publish() threw / publish_timeouts | max broadcasts_held | seconds | received/s | "
      "received + gaps = published |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n",
      load_average().c_str());
  print_slow("block", n, slow_run(DeliveryPolicy::block, n));
  print_slow("drop", n, slow_run(DeliveryPolicy::drop, n));
  const auto duration = 4000ms;
  std::printf(
      "\n### stuck: a raw SUB that never reads (rcvhwm 100, rcvbuf 4096) beside a zmesh "
      "subscriber; block, pub_hwm 100, send_timeout 200 ms, stuck_subscriber_timeout 1 s, "
      "broadcast_backlog_bytes 1 MiB; load %s\n\n",
      load_average().c_str());
  print_stuck(duration, stuck_run(duration));
}

// ---------------------------------------------------------------------------------------
// Part 4: latest with a subscriber that reads 10 broadcasts a second.

constexpr int kLatestTopics = 10;
constexpr auto kPublishPeriod = std::chrono::microseconds(100);  // 10,000/s
constexpr auto kReadTime = 100ms;                                // 10 reads/s

struct LatestSetting {
  std::string name;
  int pub_hwm;
  int sub_hwm;
  int worker_queue_depth;
  bool small_kernel_buffers;
  bool latest_subscription = false;  // SubscribeOptions::latest: conflation at the subscriber
};

// The TCP connection between the publisher's XPUB and the subscriber's SUB: both ends are
// libzmq's descriptors in this process, found by address (we only query them, and set
// their buffer sizes in the third setting; libzmq keeps them).
struct Link {
  int pub_fd = -1;  // accepted by the XPUB: local port = the PUB port
  int sub_fd = -1;  // the SUB's: peer port = the PUB port
};

// The port of a connected or bound IPv4 socket's end; -1 when not one.
int port_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t n = sizeof a;
  auto* p = reinterpret_cast<sockaddr*>(&a);
  if ((peer ? getpeername(fd, p, &n) : getsockname(fd, p, &n)) != 0) return -1;
  return a.sin_family == AF_INET ? ntohs(a.sin_port) : -1;
}

Link find_link(int pub_port) {
  Link link;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    const int local = port_of(fd, false);
    const int peer = port_of(fd, true);
    if (local < 0 || peer < 0) continue;  // not a connected IPv4 socket
    if (local == pub_port) link.pub_fd = fd;
    if (peer == pub_port) link.sub_fd = fd;
  }
  return link;
}

int port_of_endpoint(const std::string& endpoint) {
  int port = -1;
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return -1;
  std::from_chars(endpoint.data() + colon + 1, endpoint.data() + endpoint.size(), port);
  return port;
}

// Bytes queued in a socket's kernel buffer: SIOCOUTQ (not yet taken by the other end) or
// SIOCINQ (received, not yet read by libzmq); -1 when unknown.
int kernel_queued(int fd, unsigned long request) {
  int n = 0;
  return fd >= 0 && ioctl(fd, request, &n) == 0 ? n : -1;
}

int buffer_size(int fd, int option) {
  int size = -1;
  socklen_t n = sizeof size;
  return fd >= 0 && getsockopt(fd, SOL_SOCKET, option, &size, &n) == 0 ? size : -1;
}

struct LatestRead {
  double age_ms = 0;  // receipt - publish time
  long behind = 0;    // newer broadcasts of its topic published by then
};

// The subscriber's handler. While paced it sleeps kReadTime per broadcast and records each
// read's age and versions behind; afterwards it reads at full speed. It always counts and
// remembers the last index per topic.
class LatestReader {
 public:
  explicit LatestReader(const std::array<std::atomic<long>, kLatestTopics>& newest)
      : newest_(newest) {}

  void on(const zmesh::Message& m) {
    const auto now = Clock::now();
    long index = -1;
    std::int64_t sent_ns = 0;
    const std::string_view text = m.text();
    const char* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, index);
    if (ec != std::errc{} || p == end || index < 0 ||
        std::from_chars(p + 1, end, sent_ns).ec != std::errc{}) {
      malformed_.fetch_add(1);
      return;
    }
    const auto topic = static_cast<std::size_t>(index % kLatestTopics);
    const long behind = std::max(0L, (newest_[topic].load() - index) / kLatestTopics);
    const bool paced = paced_.load();
    {
      const std::lock_guard lock(mutex_);
      last_[topic] = index;
      if (paced) {
        reads_.push_back(
            {std::chrono::duration<double, std::milli>(now.time_since_epoch()).count() -
                 static_cast<double>(sent_ns) / 1e6,
             behind});
      }
    }
    tally_.add();
    if (paced) std::this_thread::sleep_for(kReadTime);
  }
  void stop_pacing() { paced_ = false; }
  [[nodiscard]] const Tally& tally() const { return tally_; }
  [[nodiscard]] long malformed() const { return malformed_.load(); }
  [[nodiscard]] std::vector<LatestRead> reads() const {
    const std::lock_guard lock(mutex_);
    return reads_;
  }
  [[nodiscard]] std::array<long, kLatestTopics> last() const {
    const std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  const std::array<std::atomic<long>, kLatestTopics>& newest_;
  std::atomic<bool> paced_{true};
  std::atomic<long> malformed_{0};
  Tally tally_;
  mutable std::mutex mutex_;
  std::vector<LatestRead> reads_;  // while paced
  std::array<long, kLatestTopics> last_{};
};

struct LatestResult {
  long calls = 0;  // publish() calls that returned
  double publish_s = 0;
  std::vector<LatestRead> reads;  // while publishing
  // Where things were when publishing stopped:
  long in_flight = 0;  // handled after that (the read then under way not counted)
  std::uint64_t held = 0;
  int tcp_unsent = -1;  // bytes, the publisher's socket
  int tcp_unread = -1;  // bytes, the subscriber's socket
  std::uint64_t worker_queue = 0;
  int sndbuf = -1;  // SO_SNDBUF of the publisher's socket, SO_RCVBUF of the subscriber's
  int rcvbuf = -1;
  double wire_bytes = 0;  // one broadcast on the wire, ZMTP framing included (estimate)
  // After reading until idle:
  double drain_s = 0;             // publishing stopped -> last read
  double first_conflated_s = -1;  // since publishing started; sampled every 10 ms
  double first_cut_s = -1;
  bool last_newest = false;
  std::string last_off;  // topics whose last value was not the newest
  zmesh::PeerStats pub;
  zmesh::PeerStats sub;
  long handled = 0;
  long malformed = 0;
};

// One broadcast's bytes on the wire: three ZMTP frames (flags, 1-byte size, body) of the
// topic, a header as the publisher encodes it, and a payload of the bench's length.
double wire_bytes(const zmesh::Peer& pub, std::size_t payload_bytes) {
  zmesh::EnvelopeEncoder enc;
  zmesh::Header h;
  h.kind = zmesh::Kind::publish;
  h.type = "Tick";
  h.sender_id = pub.id();
  h.sender_session = ~std::uint64_t{0} >> 1;
  h.timestamp_us =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  h.sequence = 5000;
  const std::size_t header = enc.encode(h).size();
  return static_cast<double>((2 + std::string_view("lat.0").size()) + (2 + header) +
                             (2 + payload_bytes));
}

LatestResult latest_run(const LatestSetting& setting, std::chrono::milliseconds duration,
                        const Args& args) {
  zmesh::PeerOptions po;
  po.name = "latest-pub";
  po.workers = 1;
  po.delivery = DeliveryPolicy::latest;
  po.pub_hwm = setting.pub_hwm;
  if (args.stuck_timeout_ms >= 0) {
    po.stuck_subscriber_timeout = std::chrono::milliseconds(args.stuck_timeout_ms);
  }
  zmesh::Peer pub(po);
  pub.start();
  zmesh::PeerOptions so;
  so.name = "latest-sub";
  so.workers = 1;
  so.sub_hwm = setting.sub_hwm;
  so.worker_queue_depth = setting.worker_queue_depth;
  zmesh::Peer sub(so);
  std::array<std::atomic<long>, kLatestTopics> newest{};
  for (auto& n : newest) n = -1;
  LatestReader reader(newest);
  auto reg = sub.subscribe(
      "lat.", [&reader](const zmesh::Message& m) { reader.on(m); },
      zmesh::SubscribeOptions{.latest = setting.latest_subscription});
  sub.start();
  sub.subscribe_to(pub.pub_endpoint());
  sub.sync_subscriptions(5s).get();
  const int pub_port = port_of_endpoint(pub.pub_endpoint());
  if (setting.small_kernel_buffers) {
    const Link link = find_link(pub_port);
    if (link.pub_fd < 0 || link.sub_fd < 0) throw std::runtime_error("no TCP link found");
    const int size = args.kernel_buffer;
    if (setsockopt(link.pub_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0 ||
        setsockopt(link.sub_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
      throw std::runtime_error("setsockopt on the link failed");
    }
  }
  std::array<std::string, kLatestTopics> topics;
  for (int t = 0; t < kLatestTopics; ++t)
    topics[static_cast<std::size_t>(t)] = "lat." + std::to_string(t);

  LatestResult r;
  std::string payload;
  const auto t0 = Clock::now();
  // When the publisher first conflated (its XPUB's pipe to the subscriber was full) and
  // first cut the subscriber.
  Every sampler(10ms, [&] {
    const zmesh::PeerStats ps = pub.stats();
    if (r.first_conflated_s < 0 && ps.broadcasts_conflated > 0) r.first_conflated_s = since(t0);
    if (r.first_cut_s < 0 && ps.subscribers_cut > 0) r.first_cut_s = since(t0);
  });
  for (long i = 0;; ++i) {
    const auto due = t0 + i * kPublishPeriod;
    if (due - t0 >= duration) break;
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    const auto topic = static_cast<std::size_t>(i % kLatestTopics);
    payload = std::to_string(i) + " " + std::to_string(Clock::now().time_since_epoch().count());
    pub.publish(topics[topic], "Tick", payload);
    newest[topic] = i;
    ++r.calls;
  }
  const auto stopped = Clock::now();
  r.publish_s = seconds_between(t0, stopped);
  // Where the broadcasts not yet read are, as publishing stops.
  const long handled_at_stop = reader.tally().received.load();
  const Link link = find_link(pub_port);
  r.held = pub.stats().broadcasts_held;
  r.tcp_unsent = kernel_queued(link.pub_fd, SIOCOUTQ);
  r.tcp_unread = kernel_queued(link.sub_fd, SIOCINQ);
  r.worker_queue = sub.stats().worker_queue_depth;
  r.sndbuf = buffer_size(link.pub_fd, SO_SNDBUF);
  r.rcvbuf = buffer_size(link.sub_fd, SO_RCVBUF);
  r.wire_bytes = wire_bytes(pub, payload.size());
  reader.stop_pacing();
  r.reads = reader.reads();  // a read that began while we looked is in both

  // Read until idle: nothing is held at the publisher, every broadcast it numbered was
  // handled or counted as a gap, and nothing came for 300 ms (a heartbeat has then
  // reported any gap at the tail). Or nothing came for 10 s, or 60 s in all.
  long before = -1;
  auto moved = Clock::now();
  for (;;) {
    const long now = reader.tally().received.load();
    if (now != before) {
      before = now;
      moved = Clock::now();
    }
    const zmesh::PeerStats ps = pub.stats();
    const zmesh::PeerStats ss = sub.stats();
    const bool accounted =
        ps.broadcasts_held == 0 &&
        static_cast<std::uint64_t>(now) + ss.gaps + ss.broadcasts_skipped == ps.published;
    if ((accounted && since(moved) > 0.3) || since(moved) > 10.0 || since(stopped) > 60.0) break;
    std::this_thread::sleep_for(20ms);
  }
  r.handled = reader.tally().received.load();
  r.in_flight = r.handled - handled_at_stop;
  r.drain_s = seconds_between(stopped, reader.tally().last());
  const auto last = reader.last();
  r.last_newest = true;
  for (std::size_t t = 0; t < last.size(); ++t) {
    if (last[t] != newest[t].load()) {
      r.last_newest = false;
      r.last_off += (r.last_off.empty() ? "" : ", ") + topics[t] + " " + std::to_string(last[t]) +
                    " < " + std::to_string(newest[t].load());
    }
  }
  sampler.stop();
  r.pub = pub.stats();
  r.sub = sub.stats();
  r.malformed = reader.malformed();
  sub.stop();
  pub.stop();
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// "1.23 s", or "never" for -1.
std::string at(double seconds) {
  if (seconds < 0) return "never";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  return text;
}

void print_latest(const LatestSetting& s, const LatestResult& r) {
  std::vector<double> ages;
  std::vector<double> behind;
  long newest = 0;
  for (const LatestRead& read : r.reads) {
    ages.push_back(read.age_ms);
    behind.push_back(static_cast<double>(read.behind));
    if (read.behind == 0) ++newest;
  }
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  const std::uint64_t accounted =
      r.pub.published + r.pub.broadcasts_conflated + r.pub.broadcasts_overflowed;
  const bool adds_up = accounted == static_cast<std::uint64_t>(r.calls);
  // A latest subscription skips what a newer one replaced (counted by the subscriber).
  const bool all_read =
      static_cast<std::uint64_t>(r.handled) + r.sub.broadcasts_skipped == r.pub.published;
  std::printf(
      "| %s | %ld in %.2f s | %zu | %.0f / %.0f / %.0f | %.0f / %.0f | %ld of %zu | %ld in %.2f "
      "s | %s | %ld = %llu + %llu + %llu: %s%s | %ld + %llu skipped = %llu: %s | %llu | %s | "
      "%llu%s |\n",
      s.name.c_str(), r.calls, r.publish_s, r.reads.size(), percentile(ages, 0.5),
      percentile(ages, 0.9), percentile(ages, 1.0), percentile(behind, 0.5),
      percentile(behind, 1.0), newest, r.reads.size(), r.in_flight, r.drain_s,
      r.last_newest ? "yes" : ("**NO** (" + r.last_off + ")").c_str(), r.calls, u(r.pub.published),
      u(r.pub.broadcasts_conflated), u(r.pub.broadcasts_overflowed), adds_up ? "yes" : "**NO**",
      r.pub.broadcasts_held > 0
          ? (" (" + std::to_string(r.pub.broadcasts_held) + " still held)").c_str()
          : "",
      r.handled, u(r.sub.broadcasts_skipped), u(r.pub.published), all_read ? "yes" : "**NO**",
      u(r.sub.gaps), at(r.first_conflated_s).c_str(), u(r.pub.subscribers_cut),
      r.first_cut_s < 0 ? "" : (" (" + at(r.first_cut_s) + ")").c_str());
  if (r.malformed > 0) std::printf("(%ld payloads not parsed)\n", r.malformed);
  std::fflush(stdout);
}

// Where the broadcasts not yet read were as publishing stopped, in messages (bytes / the
// estimated wire size of one). The rest is in ZeroMQ's pipes (XPUB pipe, SUB pipe) and
// libzmq's I/O batches at both ends (8 KiB each), which nothing here can read.
void print_where(const LatestSetting& s, const LatestResult& r) {
  const auto msgs = [&r](int bytes) {
    return bytes < 0 ? -1.0 : static_cast<double>(bytes) / r.wire_bytes;
  };
  const double unsent = msgs(r.tcp_unsent);
  const double unread = msgs(r.tcp_unread);
  // The worker queue counts the read under way; in_flight does not.
  const double waiting = r.worker_queue > 0 ? static_cast<double>(r.worker_queue - 1) : 0.0;
  const double rest = static_cast<double>(r.in_flight) - static_cast<double>(r.held) -
                      std::max(unsent, 0.0) - std::max(unread, 0.0) - waiting;
  std::printf("| %s | %d / %d | %.0f | %ld | %llu | %d B = %.0f | %d B = %.0f | %.0f | %.0f |\n",
              s.name.c_str(), r.sndbuf, r.rcvbuf, r.wire_bytes, r.in_flight,
              static_cast<unsigned long long>(r.held), r.tcp_unsent, unsent, r.tcp_unread, unread,
              waiting, rest);
  std::fflush(stdout);
}

void part_latest(const Args& args) {
  int seconds = args.quick ? 2 : 5;
  if (args.latest_seconds > 0) seconds = args.latest_seconds;
  const auto duration = std::chrono::milliseconds(1000 * seconds);
  const std::string stuck = args.stuck_timeout_ms < 0 ? std::string("5000 (the default)")
                                                      : std::to_string(args.stuck_timeout_ms);
  const int kernel_buffer = args.kernel_buffer;
  const std::vector<LatestSetting> settings = {
      {"1: pub_hwm 1000, sub_hwm 1000, worker_queue_depth 1024", 1000, 1000, 1024, false},
      {"2: pub_hwm 1, sub_hwm 1, worker_queue_depth 1", 1, 1, 1, false},
      {"3: as 2, SO_SNDBUF / SO_RCVBUF set to " + std::to_string(kernel_buffer), 1, 1, 1, true},
      {"4: as 1, and the subscription is SubscribeOptions::latest", 1000, 1000, 1024, false, true},
  };
  std::printf(
      "### latest: 10 topics round-robin at 10,000/s for %d s, a subscriber (1 worker) that "
      "reads 10/s (100 ms per broadcast), then reads until idle; stuck_subscriber_timeout %s "
      "ms; load %s\n\n"
      "| setting | publish() calls | reads while publishing | age ms: median / p90 / max | "
      "versions behind: median / max | reads of the newest value | read after publishing "
      "stopped | last value per topic the newest | calls = published + conflated + "
      "overflowed | handled + skipped = published | subscriber gaps | first conflated at | "
      "subscribers_cut (first at) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      seconds, stuck.c_str(), load_average().c_str());
  std::vector<LatestResult> results;
  for (const LatestSetting& s : settings) {
    results.push_back(latest_run(s, duration, args));
    print_latest(s, results.back());
  }
  std::printf(
      "\nWhere the broadcasts not yet read were when publishing stopped (messages: bytes / "
      "the wire size of one):\n\n"
      "| setting | SO_SNDBUF pub / SO_RCVBUF sub (bytes) | wire bytes per broadcast | not yet "
      "read (read after the stop) | held at the publisher | TCP unsent at the publisher | "
      "TCP unread at the subscriber | worker queue, waiting | rest: XPUB and SUB pipes, "
      "libzmq I/O batches |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t i = 0; i < results.size(); ++i) print_where(settings[i], results[i]);
  std::printf("\n");
}

// ---------------------------------------------------------------------------------------

bool parse_int(std::string_view word, int& out) {
  const char* end = word.data() + word.size();
  const auto [p, ec] = std::from_chars(word.data(), end, out);
  return ec == std::errc{} && p == end;
}

std::optional<Args> parse(int argc, char** argv) {
  Args args;
  const std::vector<std::string_view> words(argv + 1, argv + argc);
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--quick") {
      args.quick = true;
    } else if (words[i] == "--part" && i + 1 < words.size()) {
      args.part = words[++i];
    } else if (words[i] == "--kernel-buffer" && i + 1 < words.size()) {
      if (!parse_int(words[++i], args.kernel_buffer) || args.kernel_buffer < 1) return std::nullopt;
    } else if (words[i] == "--latest-seconds" && i + 1 < words.size()) {
      if (!parse_int(words[++i], args.latest_seconds) || args.latest_seconds < 1) {
        return std::nullopt;
      }
    } else if (words[i] == "--stuck-timeout" && i + 1 < words.size()) {
      if (!parse_int(words[++i], args.stuck_timeout_ms) || args.stuck_timeout_ms < 0) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  if (args.part != "all" && args.part != "table" && args.part != "heartbeat" &&
      args.part != "slow" && args.part != "latest") {
    return std::nullopt;
  }
  return args;
}

int run(const Args& args) {
  const bool all = args.part == "all";
  if (all || args.part == "table") part_table(args.quick);
  if (all || args.part == "heartbeat") part_heartbeat(args.quick);
  if (all || args.part == "slow") part_slow(args.quick);
  if (all || args.part == "latest") part_latest(args);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Args> args = parse(argc, argv);
  if (!args) {
    std::fprintf(stderr,
                 "usage: bench_policies [--quick] [--part table|heartbeat|slow|latest]\n"
                 "                      [--kernel-buffer BYTES] [--latest-seconds S] "
                 "[--stuck-timeout MS]\n");
    return 2;
  }
  std::printf("%s\n\n", bench::Meters::open().c_str());  // before any thread starts
  try {
    return run(*args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_policies: %s\n", e.what());
    return 1;
  }
}
