// zmesh request/response next to raw cppzmq DEALER/ROUTER, same frames, tcp loopback,
// one process, one run.
//   build/bench/bench_peer [--quick]
//   build/bench/bench_peer --curve [--quick]
//   build/bench/bench_peer --shape [--quick]
// With --shape: zmesh next to raw cppzmq in zmesh's own thread shape (raw_shaped.hpp) and
// the two-thread raw program, one run: what zmesh's code costs beyond its threads.
// With --curve: zmesh plaintext next to zmesh with CURVE (docs/security.md), the same
// peers, handlers, frames and threads, one run: RTT p50/p99 and pipelined requests/s for
// 16 B and 1 KiB, with the cost of each per request.
// Prints a Markdown table: one-at-a-time round trip p50/p99 and pipelined requests/s
// (windows 1, 16, 256; zmesh with futures and with callbacks) for 16 B and 1 KiB
// payloads, zmesh / raw ratios, and beside each figure its cost per request for the
// whole process (both ends): CPU µs, syscalls, context switches, operator new calls
// (meters.hpp says how each is measured). Rows marked "inline" use a handler registered
// with HandlerOptions::run_inline and callbacks with CallbackOptions::run_inline. Then
// the time of an idle Peer::stop(), and requests/s with metrics served and scraped vs
// without (PeerOptions::metrics_bind).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <zmq.hpp>

#include "meters.hpp"
#include "raw_shaped.hpp"
#include "zmesh/core/keys.hpp"
#include "zmesh/core/socket_factory.hpp"
#include "zmesh/peer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Latency {
  double p50_us = 0;
  double p99_us = 0;
};

Latency percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

// ----------------------------------------------------------------- raw cppzmq

// A ROUTER that echoes [identity, header, payload] unchanged, on its own thread.
class RawServer {
 public:
  /// `curve`: the server's key pair (a CURVE server accepting any client key), or null.
  explicit RawServer(const zmesh::CurveOptions* curve = nullptr)
      : router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::sndhwm, 100000);
    router_.set(zmq::sockopt::rcvhwm, 100000);
    if (curve != nullptr) zmesh::set_curve_server(router_, *curve);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { run(); });
  }
  ~RawServer() {
    stop_ = true;
    thread_.join();
  }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  void run() {
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    std::vector<zmq::message_t> parts(3);
    while (!stop_) {
      if (zmq::poll(&item, 1, 50ms) == 0) continue;
      while (router_.recv(parts[0], zmq::recv_flags::dontwait)) {
        (void)router_.recv(parts[1]);
        (void)router_.recv(parts[2]);
        router_.send(parts[0], zmq::send_flags::sndmore);
        router_.send(parts[1], zmq::send_flags::sndmore);
        router_.send(parts[2], zmq::send_flags::none);
      }
    }
  }
  zmq::context_t ctx_;
  zmq::socket_t router_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class RawClient {
 public:
  /// `curve`: the client's key pair and `server_key` (CURVE), or null.
  explicit RawClient(const std::string& endpoint, const zmesh::CurveOptions* curve = nullptr,
                     const std::string& server_key = {})
      : dealer_(ctx_, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::sndhwm, 100000);
    dealer_.set(zmq::sockopt::rcvhwm, 100000);
    if (curve != nullptr) zmesh::set_curve_client(dealer_, *curve, server_key);
    dealer_.connect(endpoint);
    header_ = bench::echo_request_header();
  }
  void send(const std::string& payload) {
    zmq::message_t header;
    header.copy(header_);
    dealer_.send(header, zmq::send_flags::sndmore);
    dealer_.send(zmq::buffer(payload), zmq::send_flags::none);
  }
  void recv() {
    (void)dealer_.recv(in_[0]);
    (void)dealer_.recv(in_[1]);
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t dealer_;
  zmq::message_t header_;
  zmq::message_t in_[2];
};

// RawClient, or ShapedClient (raw_shaped.hpp): send() one request, recv() one reply.
template <class Client>
Latency raw_latency(Client& c, const std::string& payload, int n) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    c.send(payload);
    c.recv();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return percentiles(std::move(us));
}

template <class Client>
double raw_throughput(Client& c, const std::string& payload, int window, int n) {
  const auto t0 = Clock::now();
  int sent = 0;
  for (; sent < window && sent < n; ++sent) c.send(payload);
  for (int got = 0; got < n; ++got) {
    c.recv();
    if (sent < n) {
      c.send(payload);
      ++sent;
    }
  }
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

// ----------------------------------------------------------------- zmesh

zmesh::PeerOptions bench_options(const std::string& name) {
  zmesh::PeerOptions o;
  o.name = name;
  o.workers = 1;  // one sender: its requests run in order on one worker anyway
  o.request_timeout = 30s;
  return o;
}

Latency zmesh_latency(zmesh::Peer& c, zmesh::PeerId to, const std::string& payload, int n,
                      const char* type = "Echo") {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    (void)c.request(to, type, payload).get();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return percentiles(std::move(us));
}

double zmesh_throughput(zmesh::Peer& c, zmesh::PeerId to, const std::string& payload, int window,
                        int n, const char* type = "Echo") {
  std::deque<zmesh::Future<zmesh::Response>> inflight;
  const auto t0 = Clock::now();
  int sent = 0;
  for (; sent < window && sent < n; ++sent) inflight.push_back(c.request(to, type, payload));
  for (int got = 0; got < n; ++got) {
    (void)inflight.front().get();
    inflight.pop_front();
    if (sent < n) {
      inflight.push_back(c.request(to, type, payload));
      ++sent;
    }
  }
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

double zmesh_callback_throughput(zmesh::Peer& c, zmesh::PeerId to, const std::string& payload,
                                 int window, int n, const char* type = "Echo",
                                 zmesh::CallbackOptions options = {}) {
  // A mutex and a condition variable (futex waits), not std::counting_semaphore: GCC 12's
  // spins and sched_yield()s before it sleeps, which on a loaded machine gives the core away.
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;  // guarded by mu
  int got = 0;        // guarded by mu
  std::atomic<int> failed{0};
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    c.request(
        to, type, payload, {},
        [&](std::error_code ec, const zmesh::Response&) {
          if (ec) failed.fetch_add(1);
          std::lock_guard lock(mu);
          --in_flight;
          ++got;
          cv.notify_one();
        },
        options);
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return got == n; });
  }
  const double rate = n / std::chrono::duration<double>(Clock::now() - t0).count();
  if (failed.load() != 0) std::fprintf(stderr, "bench_peer: %d callbacks failed\n", failed.load());
  return rate;
}

// One measured figure and what it cost per request.
struct Measured {
  double value = 0;
  bench::Cost cost;
};

template <class Fn>
Measured metered(double requests, Fn&& fn) {
  const auto a = bench::Meters::sample();
  Measured m;
  m.value = fn();
  const auto b = bench::Meters::sample();
  m.cost = bench::Meters::per(a, b, requests);
  return m;
}

/// A figure as a table cell, printed with `fmt_value` ("%.1f", "%.0f").
std::string cell(const char* fmt_value, double value) {
  char text[32];
  std::snprintf(text, sizeof text, fmt_value, value);
  return text;
}

void row(std::size_t size, const std::string& measure, const Measured& raw, const Measured& zm,
         const char* fmt_value) {
  std::printf(
      "| %zu B | %s | %s | %s | %.2fx | %.1f / %.1f | %s / %s | %.2f / %.2f | %.1f / %.1f |\n",
      size, measure.c_str(), cell(fmt_value, raw.value).c_str(), cell(fmt_value, zm.value).c_str(),
      zm.value / raw.value, raw.cost.cpu_us, zm.cost.cpu_us,
      bench::fmt_syscalls(raw.cost.syscalls).c_str(), bench::fmt_syscalls(zm.cost.syscalls).c_str(),
      raw.cost.switches, zm.cost.switches, raw.cost.news, zm.cost.news);
  std::fflush(stdout);
}

// Metrics on vs off: the same pipelined requests (16 B, window 16, callbacks) between a
// pair of Peers without metrics and a pair with PeerOptions::metrics_bind whose two
// endpoints are scraped (GET /metrics over HTTP, from this process) every 100 ms while the
// requests run. Alternated, three rounds each; medians. (The request duration histogram
// behind zmesh_peer_request_duration_seconds is kept by both pairs: it is always on.)
void metrics_cost(int n) {
  const std::string payload(16, 'p');
  const auto pair_rate = [&](bool metrics) {
    zmesh::PeerOptions so = bench_options(metrics ? "bench-server-m" : "bench-server-n");
    zmesh::PeerOptions co = bench_options(metrics ? "bench-client-m" : "bench-client-n");
    if (metrics) so.metrics_bind = co.metrics_bind = "127.0.0.1:0";
    zmesh::Peer server(so);
    auto reg = server.on("Echo", [](const zmesh::Message& m) { return std::string(m.text()); });
    server.start();
    zmesh::Peer client(co);
    client.start();
    const zmesh::PeerId to = client.connect(server.endpoint()).get();
    (void)zmesh_callback_throughput(client, to, payload, 16, n / 10);  // warm up
    std::atomic<bool> done{false};
    std::atomic<int> scrapes{0};
    std::thread scraper([&] {
      while (metrics && !done.load()) {
        for (const auto* p : {&server, &client}) {
          const std::string ep = p->metrics_endpoint();
          httplib::Client http("127.0.0.1", std::stoi(ep.substr(ep.rfind(':') + 1)));
          if (auto r = http.Get("/metrics"); r && r->status == 200) scrapes.fetch_add(1);
        }
        std::this_thread::sleep_for(100ms);
      }
    });
    const double rate = zmesh_callback_throughput(client, to, payload, 16, n);
    done.store(true);
    scraper.join();
    if (metrics && scrapes.load() == 0) std::fprintf(stderr, "bench_peer: no scrape answered\n");
    return rate;
  };
  std::vector<double> off;
  std::vector<double> on;
  for (int round = 0; round < 3; ++round) {
    off.push_back(pair_rate(false));
    on.push_back(pair_rate(true));
  }
  std::sort(off.begin(), off.end());
  std::sort(on.begin(), on.end());
  std::printf(
      "\nmetrics cost, 16 B, window 16, callbacks: off %.0f req/s, on (scraped every 100 ms) "
      "%.0f req/s, on/off %.3f (medians of 3, alternated)\n",
      off[1], on[1], on[1] / off[1]);
}

/// A server/client pair of Peers, plaintext or with CURVE (each trusting the other). The
/// server echoes "Echo" on a worker and "EchoInline" on its engine thread
/// (HandlerOptions::run_inline).
struct Pair {
  explicit Pair(bool curve)
      : server(options("bench-server", curve)), client(options("bench-client", curve)) {
    reg = server.on("Echo", [](const zmesh::Message& m) { return std::string(m.text()); });
    inline_reg = server.on(
        "EchoInline", [](const zmesh::Message& m) { return std::string(m.text()); },
        zmesh::HandlerOptions{.run_inline = true});
    server.start();
    client.start();
    to = curve ? client.connect(server.endpoint(), server_key).get()
               : client.connect(server.endpoint()).get();
  }
  ~Pair() {
    client.stop();
    server.stop();
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  zmesh::PeerOptions options(const std::string& name, bool curve) {
    zmesh::PeerOptions o = bench_options(name);
    if (!curve) return o;
    if (keys.empty()) {
      keys.push_back(zmesh::generate_certificate("bench-server"));
      keys.push_back(zmesh::generate_certificate("bench-client"));
      server_key = keys[0].public_key;
    }
    const auto& mine = keys[name == "bench-server" ? 0 : 1];
    o.curve.public_key = mine.public_key;
    o.curve.secret_key = mine.secret_key;
    o.curve.trusted_keys = {keys[0].public_key, keys[1].public_key};
    return o;
  }

  std::vector<zmesh::Certificate> keys;
  std::string server_key;
  zmesh::Peer server;
  zmesh::Peer client;
  zmesh::Registration reg;
  zmesh::Registration inline_reg;
  zmesh::PeerId to = 0;
};

void curve_row(std::size_t size, const std::string& measure, const Measured& plain,
               const Measured& curve, const char* fmt_value) {
  std::printf("| %zu B | %s | %s | %s | %.2fx | %.1f / %.1f | %s / %s | %.2f / %.2f |\n", size,
              measure.c_str(), cell(fmt_value, plain.value).c_str(),
              cell(fmt_value, curve.value).c_str(), curve.value / plain.value, plain.cost.cpu_us,
              curve.cost.cpu_us, bench::fmt_syscalls(plain.cost.syscalls).c_str(),
              bench::fmt_syscalls(curve.cost.syscalls).c_str(), plain.cost.switches,
              curve.cost.switches);
  std::fflush(stdout);
}

/// The median of each figure over rounds: measure(plain, curve) fills one round.
Measured median_of(std::vector<Measured> v) {
  std::sort(v.begin(), v.end(),
            [](const Measured& a, const Measured& b) { return a.value < b.value; });
  return v[v.size() / 2];
}

int run_curve(bool quick) {
  const int lat_n = quick ? 2000 : 10000;
  const int tput_n = quick ? 5000 : 50000;
  const int rounds = quick ? 3 : 7;
  std::printf(
      "medians of %d rounds, plaintext and CURVE measured in turn (the first of each "
      "round alternates)\n\n",
      rounds);
  std::printf(
      "| payload | measure | plaintext | CURVE | CURVE/plaintext | CPU us/req plain / CURVE | "
      "syscalls/req plain / CURVE | ctx switches/req plain / CURVE |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  Pair plain(false);
  Pair curve(true);
  // The same CURVE on raw cppzmq (no ZAP: any client key), to tell libzmq's cost of
  // CURVE from zmesh's.
  zmesh::CurveOptions raw_server_keys;
  zmesh::CurveOptions raw_client_keys;
  for (auto* k : {&raw_server_keys, &raw_client_keys}) {
    const auto c = zmesh::generate_certificate("raw");
    k->public_key = c.public_key;
    k->secret_key = c.secret_key;
  }
  RawServer raw_plain_server;
  RawClient raw_plain(raw_plain_server.endpoint());
  RawServer raw_curve_server(&raw_server_keys);
  RawClient raw_curve(raw_curve_server.endpoint(), &raw_client_keys, raw_server_keys.public_key);
  for (std::size_t size : {std::size_t{16}, std::size_t{1024}}) {
    const std::string payload(size, 'p');
    (void)zmesh_latency(plain.client, plain.to, payload, 500);
    (void)zmesh_latency(curve.client, curve.to, payload, 500);
    (void)raw_latency(raw_plain, payload, 500);
    (void)raw_latency(raw_curve, payload, 500);
    // One figure per pair and round: [0] plaintext, [1] CURVE; zmesh, then raw.
    std::vector<Measured> p50[2], p99[2], w16[2], w256[2];
    std::vector<Measured> rp50[2], rw256[2];
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < 2; ++k) {
        const int which = (r + k) % 2;
        Pair& pair = which == 0 ? plain : curve;
        RawClient& raw = which == 0 ? raw_plain : raw_curve;
        Latency l;
        const auto lm = metered(lat_n, [&] {
          l = zmesh_latency(pair.client, pair.to, payload, lat_n);
          return l.p50_us;
        });
        p50[which].push_back(lm);
        p99[which].push_back(Measured{l.p99_us, lm.cost});
        w16[which].push_back(metered(
            tput_n, [&] { return zmesh_throughput(pair.client, pair.to, payload, 16, tput_n); }));
        w256[which].push_back(metered(
            tput_n, [&] { return zmesh_throughput(pair.client, pair.to, payload, 256, tput_n); }));
        rp50[which].push_back(
            metered(lat_n, [&] { return raw_latency(raw, payload, lat_n).p50_us; }));
        rw256[which].push_back(
            metered(tput_n, [&] { return raw_throughput(raw, payload, 256, tput_n); }));
      }
    }
    curve_row(size, "RTT p50 (us)", median_of(p50[0]), median_of(p50[1]), "%.1f");
    curve_row(size, "RTT p99 (us)", median_of(p99[0]), median_of(p99[1]), "%.1f");
    curve_row(size, "req/s, window 16", median_of(w16[0]), median_of(w16[1]), "%.0f");
    curve_row(size, "req/s, window 256", median_of(w256[0]), median_of(w256[1]), "%.0f");
    curve_row(size, "raw cppzmq RTT p50 (us)", median_of(rp50[0]), median_of(rp50[1]), "%.1f");
    curve_row(size, "raw cppzmq req/s, window 256", median_of(rw256[0]), median_of(rw256[1]),
              "%.0f");
  }
  return 0;
}

// --shape: zmesh beside raw cppzmq written in zmesh's own thread shape (raw_shaped.hpp),
// and beside the two-thread raw program of the main table, so that zmesh's own cost and
// the cost of its threads are told apart. Futures only (the caller waits for its oldest
// reply, as with raw); default handlers against the shape with a worker, inline handlers
// against the shape without one. Medians of `rounds` rounds, the three measured in turn.
void shape_row(std::size_t size, const std::string& measure, const Measured& raw,
               const Measured& shaped, const Measured& zm, const char* fmt_value) {
  std::printf("| %zu B | %s | %s | %s | %s | %.2fx | %.2fx | %.1f / %.1f / %.1f | %s / %s / %s |\n",
              size, measure.c_str(), cell(fmt_value, raw.value).c_str(),
              cell(fmt_value, shaped.value).c_str(), cell(fmt_value, zm.value).c_str(),
              shaped.value / raw.value, zm.value / shaped.value, raw.cost.cpu_us,
              shaped.cost.cpu_us, zm.cost.cpu_us, bench::fmt_syscalls(raw.cost.syscalls).c_str(),
              bench::fmt_syscalls(shaped.cost.syscalls).c_str(),
              bench::fmt_syscalls(zm.cost.syscalls).c_str());
  std::fflush(stdout);
}

int run_shape(bool quick) {
  const int lat_n = quick ? 2000 : 10000;
  const int tput_n = quick ? 20000 : 100000;
  const int rounds = quick ? 1 : 3;
  RawServer raw_server;
  RawClient raw(raw_server.endpoint());
  bench::ShapedServer shaped_server(true);
  bench::ShapedClient shaped(shaped_server.endpoint());
  bench::ShapedServer shaped_inline_server(false);
  bench::ShapedClient shaped_inline(shaped_inline_server.endpoint());
  Pair pair(false);
  zmesh::Peer& client = pair.client;
  const zmesh::PeerId to = pair.to;

  std::printf(
      "medians of %d round(s); \"shape\" is raw cppzmq in zmesh's threads (bench/raw_shaped.hpp)"
      "\n\n| payload | measure | raw | shape | zmesh | shape/raw | zmesh/shape | CPU us/req raw / "
      "shape / zmesh | syscalls/req raw / shape / zmesh |\n|---|---|---|---|---|---|---|---|---|\n",
      rounds);
  for (std::size_t size : {std::size_t{16}, std::size_t{1024}}) {
    const std::string payload(size, 'p');
    (void)raw_latency(raw, payload, 500);
    (void)raw_latency(shaped, payload, 500);
    (void)raw_latency(shaped_inline, payload, 500);
    (void)zmesh_latency(client, to, payload, 500);
    (void)zmesh_latency(client, to, payload, 500, "EchoInline");
    // [case][0 raw, 1 shape, 2 zmesh]; cases: p50, p99, then req/s per window, then the
    // same three with inline handlers.
    struct Case {
      std::string name;
      bool inline_ = false;
      int window = 0;  // 0: latency
    };
    const std::vector<Case> cases{{"RTT p50 (us)", false, 0},
                                  {"req/s, window 1", false, 1},
                                  {"req/s, window 16", false, 16},
                                  {"req/s, window 256", false, 256},
                                  {"RTT p50 (us), inline handler", true, 0},
                                  {"req/s, window 16, inline handler", true, 16},
                                  {"req/s, window 256, inline handler", true, 256}};
    std::vector<std::array<std::vector<Measured>, 3>> got(cases.size());
    std::vector<std::array<std::vector<Measured>, 3>> p99(cases.size());
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t c = 0; c < cases.size(); ++c) {
        const Case& k = cases[c];
        bench::ShapedClient& sc = k.inline_ ? shaped_inline : shaped;
        const char* type = k.inline_ ? "EchoInline" : "Echo";
        for (int who = 0; who < 3; ++who) {
          if (k.window == 0) {
            Latency l;
            const auto m = metered(lat_n, [&] {
              l = who == 0   ? raw_latency(raw, payload, lat_n)
                  : who == 1 ? raw_latency(sc, payload, lat_n)
                             : zmesh_latency(client, to, payload, lat_n, type);
              return l.p50_us;
            });
            got[c][static_cast<std::size_t>(who)].push_back(m);
            p99[c][static_cast<std::size_t>(who)].push_back(Measured{l.p99_us, m.cost});
          } else {
            const int n = k.window == 1 ? tput_n / 10 : tput_n;  // one at a time is slow
            got[c][static_cast<std::size_t>(who)].push_back(metered(n, [&] {
              return who == 0   ? raw_throughput(raw, payload, k.window, n)
                     : who == 1 ? raw_throughput(sc, payload, k.window, n)
                                : zmesh_throughput(client, to, payload, k.window, n, type);
            }));
          }
        }
      }
    }
    for (std::size_t c = 0; c < cases.size(); ++c) {
      const char* fmt = cases[c].window == 0 ? "%.1f" : "%.0f";
      shape_row(size, cases[c].name, median_of(got[c][0]), median_of(got[c][1]),
                median_of(got[c][2]), fmt);
      if (cases[c].window == 0) {
        std::string name = cases[c].name;
        name.replace(name.find("p50"), 3, "p99");
        shape_row(size, name, median_of(p99[c][0]), median_of(p99[c][1]), median_of(p99[c][2]),
                  fmt);
      }
    }
  }
  // What one inproc hop costs at the least (no wake-ups): the part of the shape's cost
  // that no code inside it can remove.
  std::printf("\ninproc PUSH/PULL, CPU us per message (send + receive), 10^6 messages:");
  for (int frames : {1, 2, 3}) {
    for (std::size_t size : {std::size_t{16}, std::size_t{1024}}) {
      std::printf(" %d x %zu B %.2f;", frames, size,
                  bench::inproc_cpu_us(frames, size, quick ? 200000 : 1000000));
    }
  }
  std::printf("\n");
  return 0;
}

// --profile W [--count N]: only zmesh futures, 16 B, window W, N requests (a million) and
// nothing else, for a profiler (perf record/stat) to look at one case alone.
int run_profile(int window, int n) {
  Pair pair(false);
  const std::string payload(16, 'p');
  const auto m =
      metered(n, [&] { return zmesh_throughput(pair.client, pair.to, payload, window, n); });
  std::printf("zmesh futures, 16 B, window %d: %.0f req/s, CPU %.1f us/req, syscalls %s/req\n",
              window, m.value, m.cost.cpu_us, bench::fmt_syscalls(m.cost.syscalls).c_str());
  return 0;
}

int run(int argc, char** argv) {
  bool quick = false;
  bool curve = false;
  bool shape = false;
  int profile_window = 0;
  int profile_count = 1000000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--curve") == 0) curve = true;
    if (std::strcmp(argv[i], "--shape") == 0) shape = true;
    if (std::strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
      profile_window = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) profile_count = std::atoi(argv[++i]);
  }
  if (curve) return run_curve(quick);
  if (profile_window > 0) return run_profile(profile_window, profile_count);
  if (shape) return run_shape(quick);
  const int lat_n = quick ? 2000 : 20000;
  const int tput_n = quick ? 5000 : 100000;

  RawServer raw_server;
  RawClient raw(raw_server.endpoint());
  auto pair = std::make_unique<Pair>(false);
  zmesh::Peer& client = pair->client;
  const zmesh::PeerId to = pair->to;

  std::printf(
      "| payload | measure | raw cppzmq | zmesh | zmesh/raw | CPU us/req raw / zmesh | "
      "syscalls/req raw / zmesh | ctx switches/req raw / zmesh | operator new/req raw / "
      "zmesh |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t size : {std::size_t{16}, std::size_t{1024}}) {
    const std::string payload(size, 'p');
    // Warm up both paths.
    (void)raw_latency(raw, payload, 500);
    (void)zmesh_latency(client, to, payload, 500);
    Latency rl;
    Latency zl;
    const auto rlm = metered(lat_n, [&] {
      rl = raw_latency(raw, payload, lat_n);
      return rl.p50_us;
    });
    const auto zlm = metered(lat_n, [&] {
      zl = zmesh_latency(client, to, payload, lat_n);
      return zl.p50_us;
    });
    row(size, "RTT p50 (us)", rlm, zlm, "%.1f");
    row(size, "RTT p99 (us)", Measured{rl.p99_us, rlm.cost}, Measured{zl.p99_us, zlm.cost}, "%.1f");
    (void)zmesh_latency(client, to, payload, 500, "EchoInline");
    Latency il;
    const auto ilm = metered(lat_n, [&] {
      il = zmesh_latency(client, to, payload, lat_n, "EchoInline");
      return il.p50_us;
    });
    row(size, "RTT p50 (us), inline handler", rlm, ilm, "%.1f");
    row(size, "RTT p99 (us), inline handler", Measured{rl.p99_us, rlm.cost},
        Measured{il.p99_us, ilm.cost}, "%.1f");
    for (int window : {1, 16, 256}) {
      const auto rt = metered(tput_n, [&] { return raw_throughput(raw, payload, window, tput_n); });
      const auto zt =
          metered(tput_n, [&] { return zmesh_throughput(client, to, payload, window, tput_n); });
      row(size, "req/s, window " + std::to_string(window) + ", futures", rt, zt, "%.0f");
      if (window == 1) continue;
      const auto zc = metered(
          tput_n, [&] { return zmesh_callback_throughput(client, to, payload, window, tput_n); });
      row(size, "req/s, window " + std::to_string(window) + ", callbacks", rt, zc, "%.0f");
      const auto zi = metered(tput_n, [&] {
        return zmesh_callback_throughput(client, to, payload, window, tput_n, "EchoInline",
                                         zmesh::CallbackOptions{.run_inline = true});
      });
      row(size, "req/s, window " + std::to_string(window) + ", inline handler + callbacks", rt, zi,
          "%.0f");
    }
  }
  pair.reset();  // both stopped before the idle ones are timed

  // Idle stop(): a started peer with nothing in flight.
  std::vector<double> stop_ms;
  for (int i = 0; i < 10; ++i) {
    zmesh::Peer idle(bench_options("idle"));
    idle.start();
    const auto t0 = Clock::now();
    idle.stop();
    stop_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(stop_ms.begin(), stop_ms.end());
  std::printf("\nidle stop(): median %.2f ms, max %.2f ms (10 runs)\n", stop_ms[5], stop_ms[9]);
  metrics_cost(tput_n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("%s\n\n", bench::Meters::open().c_str());
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_peer: %s\n", e.what());
    return 1;
  }
}
