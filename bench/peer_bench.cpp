// zmesh request/response next to raw cppzmq DEALER/ROUTER, same frames, tcp loopback,
// one process, one run.
//   build/bench/bench_peer [--quick]
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
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <zmq.hpp>

#include "meters.hpp"
#include "zmesh/core/envelope_codec.hpp"
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
  RawServer() : router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::sndhwm, 100000);
    router_.set(zmq::sockopt::rcvhwm, 100000);
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
  explicit RawClient(const std::string& endpoint) : dealer_(ctx_, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::sndhwm, 100000);
    dealer_.set(zmq::sockopt::rcvhwm, 100000);
    dealer_.connect(endpoint);
    zmesh::Header h;
    h.kind = zmesh::Kind::request;
    h.type = "Echo";
    h.sender_id = 1;
    h.correlation_id = 1;
    header_ = enc_.encode(h);
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
  zmesh::EnvelopeEncoder enc_;
  zmq::message_t header_;
  zmq::message_t in_[2];
};

Latency raw_latency(RawClient& c, const std::string& payload, int n) {
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

double raw_throughput(RawClient& c, const std::string& payload, int window, int n) {
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
                        int n) {
  std::deque<std::future<zmesh::Response>> inflight;
  const auto t0 = Clock::now();
  int sent = 0;
  for (; sent < window && sent < n; ++sent) inflight.push_back(c.request(to, "Echo", payload));
  for (int got = 0; got < n; ++got) {
    (void)inflight.front().get();
    inflight.pop_front();
    if (sent < n) {
      inflight.push_back(c.request(to, "Echo", payload));
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

void row(std::size_t size, const std::string& measure, const Measured& raw, const Measured& zm,
         const char* fmt_value) {
  char rv[32];
  char zv[32];
  std::snprintf(rv, sizeof rv, fmt_value, raw.value);
  std::snprintf(zv, sizeof zv, fmt_value, zm.value);
  std::printf(
      "| %zu B | %s | %s | %s | %.2fx | %.1f / %.1f | %s / %s | %.2f / %.2f | %.1f / %.1f |\n",
      size, measure.c_str(), rv, zv, zm.value / raw.value, raw.cost.cpu_us, zm.cost.cpu_us,
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

int run(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int lat_n = quick ? 2000 : 20000;
  const int tput_n = quick ? 5000 : 100000;

  RawServer raw_server;
  RawClient raw(raw_server.endpoint());

  zmesh::Peer server(bench_options("bench-server"));
  auto reg = server.on("Echo", [](const zmesh::Message& m) { return std::string(m.text()); });
  // The same handler run on the engine thread (HandlerOptions::run_inline).
  auto inline_reg = server.on(
      "EchoInline", [](const zmesh::Message& m) { return std::string(m.text()); },
      zmesh::HandlerOptions{.run_inline = true});
  server.start();
  zmesh::Peer client(bench_options("bench-client"));
  client.start();
  const zmesh::PeerId to = client.connect(server.endpoint()).get();

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
  client.stop();
  server.stop();

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
