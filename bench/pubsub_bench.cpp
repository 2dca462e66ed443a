// zmesh publish -> subscribe handler next to raw cppzmq PUB/SUB with the same frames
// ([topic][header][payload]), tcp loopback, one process, one run.
//   build/bench/bench_pubsub [--quick]
// For each payload size the publisher sends N broadcasts as fast as it can; the rate is
// what the subscriber received per second, from the first send to the last receipt.
// Like is compared with like: the raw publisher is lossless (XPUB with ZMQ_XPUB_NODROP:
// a full subscriber queue makes it wait, never drop), and so is zmesh under its `block`
// delivery policy; the zmesh/raw ratio is block's. zmesh under `drop` (the default, which
// sheds what a full queue cannot take, as ZeroMQ's PUB does) is shown beside it with its
// loss, for reference, not as the result. Beside each rate, its cost per broadcast for
// the whole process (both ends): CPU µs, syscalls, context switches, operator new calls
// (meters.hpp).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "meters.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/peer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr int kHwm = 100000;

struct Result {
  double msgs_per_s = 0;
  double mb_per_s = 0;
  double ratio = 0;  // received / sent
  bench::Cost cost;  // per broadcast sent
  long refused = 0;  // zmesh: publish() calls that threw (queue_full under block)
};

// Waits until `received` stops growing (or reaches `sent`); returns the time of the last
// change.
Clock::time_point settle(const std::atomic<long>& received, long sent,
                         const std::atomic<std::int64_t>& last_ns) {
  long before = -1;
  while (received.load() != sent && received.load() != before) {
    before = received.load();
    std::this_thread::sleep_for(200ms);
  }
  return Clock::time_point(std::chrono::nanoseconds(last_ns.load()));
}

// Sends one part, waiting while a subscriber's queue is full (XPUB_NODROP says EAGAIN).
void send_lossless(zmq::socket_t& pub, zmq::const_buffer part, zmq::send_flags more) {
  zmq::pollitem_t item{pub.handle(), 0, ZMQ_POLLOUT, 0};
  while (!pub.send(part, more | zmq::send_flags::dontwait)) zmq::poll(&item, 1, 10ms);
}

Result raw_run(std::size_t size, long n) {
  zmq::context_t ctx;
  zmq::socket_t pub(ctx, zmq::socket_type::xpub);
  pub.set(zmq::sockopt::sndhwm, kHwm);
  pub.set(zmq::sockopt::linger, 0);
  pub.set(zmq::sockopt::xpub_nodrop, 1);
  pub.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pub.get(zmq::sockopt::last_endpoint);
  std::atomic<long> received{0};
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> last_ns{0};
  std::thread subscriber([&] {
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, kHwm);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(endpoint);
    zmq::message_t parts[3];
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    while (!stop) {
      if (zmq::poll(&item, 1, 50ms) == 0) continue;
      while (sub.recv(parts[0], zmq::recv_flags::dontwait)) {
        (void)sub.recv(parts[1]);
        (void)sub.recv(parts[2]);
        ++received;
        last_ns = Clock::now().time_since_epoch().count();
      }
    }
  });
  // The slow joiner, the XPUB way: the subscription arriving means it is in effect.
  zmq::message_t subscription;
  (void)pub.recv(subscription);
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
    send_lossless(pub, zmq::str_buffer("bench.topic"), zmq::send_flags::sndmore);
    const auto header = enc.encode(h);
    send_lossless(pub, zmq::buffer(header.data(), header.size()), zmq::send_flags::sndmore);
    send_lossless(pub, zmq::buffer(payload), zmq::send_flags::none);
  }
  const auto t1 = settle(received, n, last_ns);
  const auto m1 = bench::Meters::sample();
  stop = true;
  subscriber.join();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const auto got = static_cast<double>(received.load());
  return {got / secs, got * static_cast<double>(size) / secs / 1e6, got / static_cast<double>(n),
          bench::Meters::per(m0, m1, static_cast<double>(n))};
}

Result zmesh_run(std::size_t size, long n, zmesh::DeliveryPolicy policy) {
  zmesh::PeerOptions po;
  po.name = "bench-pub";
  po.workers = 1;
  po.pub_hwm = kHwm;
  po.delivery = policy;
  zmesh::Peer pub(po);
  pub.start();
  zmesh::PeerOptions so;
  so.name = "bench-sub";
  so.workers = 1;
  so.sub_hwm = kHwm;
  zmesh::Peer sub(so);
  std::atomic<long> received{0};
  std::atomic<std::int64_t> last_ns{0};
  auto reg = sub.subscribe("bench.", [&](const zmesh::Message&) {
    ++received;
    last_ns = Clock::now().time_since_epoch().count();
  });
  sub.start();
  sub.subscribe_to(pub.pub_endpoint());
  sub.sync_subscriptions(5s).get();
  const std::string payload(size, 'p');
  const auto m0 = bench::Meters::sample();
  const auto t0 = Clock::now();
  long refused = 0;
  for (long i = 0; i < n; ++i) {
    try {
      pub.publish("bench.topic", "Tick", payload);
    } catch (const zmesh::Error&) {
      ++refused;  // block: no room for send_timeout; counted as lost below
    }
  }
  const auto t1 = settle(received, n - refused, last_ns);
  const auto m1 = bench::Meters::sample();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const auto got = static_cast<double>(received.load());
  sub.stop();
  pub.stop();
  return {got / secs, got * static_cast<double>(size) / secs / 1e6, got / static_cast<double>(n),
          bench::Meters::per(m0, m1, static_cast<double>(n)), refused};
}

void row(std::size_t size, const char* sender, const Result& r, const Result& raw) {
  std::printf("| %zu B | %s | %.0f | %.1f %% | %.2fx | %.1f | %.2f | %s | %.3f | %.2f |\n", size,
              sender, r.msgs_per_s, 100 * (1 - r.ratio), r.msgs_per_s / raw.msgs_per_s, r.mb_per_s,
              r.cost.cpu_us, bench::fmt_syscalls(r.cost.syscalls).c_str(), r.cost.switches,
              r.cost.news);
}

int run(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf(
      "| payload | publisher | msgs/s received | loss | to raw lossless | MB/s | CPU us/msg | "
      "syscalls/msg | ctx switches/msg | operator new/msg |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t size : {std::size_t{16}, std::size_t{256}, std::size_t{4096}}) {
    const long n = quick ? 20000 : (size >= 4096 ? 200000 : 1000000);
    const Result raw = raw_run(size, n);
    const Result block = zmesh_run(size, n, zmesh::DeliveryPolicy::block);
    const Result drop = zmesh_run(size, n, zmesh::DeliveryPolicy::drop);
    row(size, "raw XPUB_NODROP (lossless)", raw, raw);
    row(size, "**zmesh block (lossless)**", block, raw);
    row(size, "zmesh drop (sheds, for reference)", drop, raw);
    if (block.refused != 0) {
      std::printf("|   | (block: %ld publish() calls refused with queue_full) | | | | | | | | |\n",
                  block.refused);
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("%s\n\n", bench::Meters::open().c_str());
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pubsub: %s\n", e.what());
    return 1;
  }
}
