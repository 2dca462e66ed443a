#include "broker_bench_clients.hpp"

#include <malloc.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "zmesh/core/ids.hpp"

namespace zmesh::bench {

using namespace std::chrono_literals;

std::string client_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-%05d", i);
  return buf;
}
std::string client_service(int i) {
  return "svc-" + std::to_string(i % 10);
}

namespace {

/// Connections of one client thread. Each first sends a Lookup (so that its connection is
/// up), then, once the parent says so, registers and renews every renew interval (the one
/// its RegisterAck names), draining what the broker pushes. The thread sleeps in epoll on
/// the sockets' ZMQ_FDs, so its cost follows the traffic, not the number of sockets.
class ClientThread {
 public:
  ClientThread(zmq::context_t& ctx, FleetShared& sh, int first_peer, int peers)
      : ctx_(ctx), sh_(sh), first_(first_peer), peers_(peers) {}

  void run() {
    rng_.seed(static_cast<std::uint64_t>(first_) * 7919 + 1);
    const int brokers = sh_.brokers;
    conns_.reserve(static_cast<std::size_t>(peers_) * static_cast<std::size_t>(brokers));
    for (int i = first_; i < first_ + peers_; ++i) {
      PeerInfo info;
      info.id = random_id();
      info.session = random_id();
      info.name = client_name(i);
      info.endpoints = {"tcp://127.0.0.1:" + std::to_string(20000 + i % 40000)};
      info.services = {client_service(i)};
      for (int b = 0; b < brokers; ++b) {
        Conn c{zmq::socket_t(ctx_, zmq::socket_type::dealer), info, b};
        c.dealer.set(zmq::sockopt::linger, 0);
        c.dealer.set(zmq::sockopt::rcvhwm, 1000);  // a real peer's default (SocketTuning)
        c.dealer.connect(sh_.endpoints[b]);
        conns_.push_back(std::move(c));
      }
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep_, EPOLL_CTL_ADD, conns_[i].dealer.get(zmq::sockopt::fd), &ev);
      send(conns_[i], Kind::lookup, encode(Lookup{"nobody", ""}));
    }
    ++sh_.threads_ready;
    loop();
    conns_.clear();
    close(ep_);
  }

 private:
  struct Conn {
    zmq::socket_t dealer;
    PeerInfo info;
    int broker = 0;
    std::uint64_t next_correlation = 1;
    std::uint64_t renew_correlation = 0;  ///< the Renew in flight, 0 = none
    Clock::time_point renew_sent{};
    Clock::time_point next_renew = Clock::time_point::max();
    Clock::time_point register_at = Clock::time_point::max();
    int burst_left = 0;  ///< Lookups still to send
    int burst_due = 0;   ///< answers received since the last send: send that many more
    bool connected = false;
    bool registered = false;
  };

  BrokerCounters& counters(const Conn& c) { return sh_.per_broker[c.broker]; }

  std::uint64_t send(Conn& c, Kind kind, zmq::message_t payload) {
    const std::uint64_t corr = c.next_correlation++;
    send_to_broker(c.dealer, enc_, c.info, kind, corr, std::move(payload));
    return corr;
  }
  void send_lookups(Conn& c, int n) {
    for (; n > 0 && c.burst_left > 0; --n) {
      --c.burst_left;
      send(c, Kind::lookup, encode(Lookup{"nobody", ""}));
    }
  }
  /// Registers, and again after a renew interval if no RegisterAck came (the broker
  /// drops what a full queue cannot take), as a real peer does.
  void send_register(Conn& c, Clock::time_point now) {
    send(c, Kind::reg, encode(Register{c.info, 0}));
    c.register_at = now + renew_interval_;
  }
  void send_renew(Conn& c, Clock::time_point now) {
    c.renew_sent = now;
    c.renew_correlation = send(c, Kind::renew, zmq::message_t());
    c.next_renew += renew_interval_;
    if (c.next_renew <= now) c.next_renew = now + renew_interval_;  // fell behind
  }

  /// Runs `act` on every connection `due` selects, then drains it (a send may take the
  /// socket's wake-up, so look at once).
  template <class Due, class Act>
  void for_each_due(Clock::time_point now, Due due, Act act) {
    for (auto& c : conns_) {
      if (!due(c)) continue;
      act(c);
      drain(c, now);
    }
  }

  void registered(Conn& c, Clock::time_point now, std::chrono::milliseconds interval) {
    c.registered = true;
    c.register_at = Clock::time_point::max();
    renew_interval_ = interval;
    // Spread the renews evenly over one interval.
    c.next_renew = now + std::chrono::microseconds(std::uniform_int_distribution<long>(
                             0, renew_interval_.count() * 1000)(rng_));
    ++counters(c).registered;
  }
  void renewed(Conn& c, Clock::time_point now) {
    const double us = std::chrono::duration<double, std::micro>(now - c.renew_sent).count();
    ++sh_.renew_rtt[LogHistogram::bucket(us)];
    c.renew_correlation = 0;
    ++counters(c).renew_acks;
  }

  /// Receives everything waiting on `c` (until EAGAIN, which also re-arms its ZMQ_FD).
  void drain(Conn& c, Clock::time_point now) {
    while (frames_.recv(c.dealer, zmq::recv_flags::dontwait)) {
      auto env = dec_.decode(Layout::dealer, frames_);
      BrokerCounters& k = counters(c);
      if (!env) {
        ++k.undecodable;
        continue;
      }
      switch (env->header.kind) {
        case Kind::peer_list:
        case Kind::lookup:  // the raw server echoes the request's header
          if (!c.connected) {
            c.connected = true;
            ++k.connected;
          } else {
            ++k.answers;
            if (c.burst_left > 0) ++c.burst_due;
          }
          break;
        case Kind::reg:  // the raw server's echo of a Register
          if (!c.registered) registered(c, now, std::chrono::milliseconds(sh_.renew_ms.load()));
          break;
        case Kind::renew:  // the raw server's echo of a Renew
          if (env->header.correlation_id == c.renew_correlation) renewed(c, now);
          break;
        case Kind::register_ack:
          if (!c.registered) {
            auto ack = decode_control<RegisterAck>(env->payload, {});
            registered(c, now, std::chrono::milliseconds(ack ? ack->renew_interval_ms : 1000));
          } else if (env->header.correlation_id == c.renew_correlation) {
            renewed(c, now);
          }
          break;
        case Kind::error: {  // UnknownPeer: the broker restarted; register again
          auto err = decode_control<ErrorReply>(env->payload, {});
          if (!err || err->code != WireError::unknown_peer) {
            ++k.other_errors;  // DuplicateId: the old connection is still live; renew on
            if (env->header.correlation_id == c.renew_correlation) c.renew_correlation = 0;
            break;
          }
          ++k.unknown_peer;
          if (c.registered) --k.registered;
          c.registered = false;
          c.renew_correlation = 0;
          c.next_renew = Clock::time_point::max();
          send_register(c, now);
          break;
        }
        case Kind::reject: ++k.rejected; break;
        case Kind::event:
          // Counted, not decoded: thousands of simulated peers per thread decoding every
          // batch would make the clients, not the broker, the bottleneck.
          ++k.events;
          k.event_bytes += static_cast<long>(env->payload.size());
          break;
        case Kind::bye: ++k.byes; break;
        default: break;
      }
    }
  }

  void loop() {
    std::vector<epoll_event> ready(std::min<std::size_t>(conns_.size(), 4096));
    auto next_sweep = Clock::now();
    int register_seen = 0;
    int burst_seen = 0;
    while (sh_.stop.load() == 0) {
      auto now = Clock::now();
      if (const int seq = sh_.register_seq; seq != register_seen) {
        register_seen = seq;
        const long spread_ms = sh_.register_spread_ms;
        const auto n = static_cast<long>(conns_.size());
        for (long i = 0; i < n; ++i)
          conns_[static_cast<std::size_t>(i)].register_at =
              now + std::chrono::milliseconds(spread_ms * i / n);
      }
      if (const int seq = sh_.burst_seq; seq != burst_seen) {
        burst_seen = seq;
        const int n = sh_.burst_n;
        for_each_due(
            now, [](Conn&) { return true; },
            [&](Conn& c) {
              c.burst_left = n;
              send_lookups(c, kWindow);
            });
      }
      for_each_due(
          now, [](Conn& c) { return c.burst_due > 0; },
          [&](Conn& c) { send_lookups(c, std::exchange(c.burst_due, 0)); });
      for_each_due(
          now, [&](Conn& c) { return c.register_at <= now; },
          [&](Conn& c) { send_register(c, now); });
      // Sleep until the next renew or registration is due (at most 10 ms).
      auto wake = now + 10ms;
      for (const auto& c : conns_) wake = std::min({wake, c.next_renew, c.register_at});
      const int timeout_ms = static_cast<int>(std::max<long>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count()));
      const int n = epoll_wait(ep_, ready.data(), static_cast<int>(ready.size()), timeout_ms);
      now = Clock::now();
      for (int k = 0; k < n; ++k) drain(conns_[ready[static_cast<std::size_t>(k)].data.u64], now);
      if (now >= next_sweep) {  // belt and braces: a readiness we might have consumed
        for (auto& c : conns_) drain(c, now);
        next_sweep = now + 1s;
      }
      for_each_due(
          now, [&](Conn& c) { return c.registered && c.next_renew <= now; },
          [&](Conn& c) { send_renew(c, now); });
    }
  }

  zmq::context_t& ctx_;
  FleetShared& sh_;
  int first_;
  int peers_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  EnvelopeEncoder enc_;
  EnvelopeDecoder dec_;
  FrameSet frames_;
  std::mt19937_64 rng_;
  std::chrono::milliseconds renew_interval_{1000};
};

}  // namespace

int client_process_main(int fd, int first, int count, int threads) {
  void* mem = mmap(nullptr, sizeof(FleetShared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) return 3;
  close(fd);
  auto& sh = *static_cast<FleetShared*>(mem);
  const pid_t parent = getppid();
  // Events are up to 1 MiB, allocated by libzmq's I/O thread and freed by a client thread:
  // keep them out of the heap arenas (glibc's dynamic threshold would move them in, and
  // RSS would then show the arenas' high-water mark instead of what is held).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  {
    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, count * sh.brokers + 64);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      const int lo = first + count * t / threads;
      const int hi = first + count * (t + 1) / threads;
      ts.emplace_back([&ctx, &sh, lo, hi] { ClientThread(ctx, sh, lo, hi - lo).run(); });
    }
    // Exit with the parent, whatever happens to it.
    while (sh.stop.load() == 0) {
      if (getppid() != parent) sh.stop = 1;
      std::this_thread::sleep_for(50ms);
    }
    for (auto& t : ts) t.join();
  }
  munmap(mem, sizeof(FleetShared));
  return 0;
}

// ----------------------------------------------------------------- Fleet (parent side)

Fleet::Fleet(const std::vector<std::string>& endpoints, int peers, int procs, int threads,
             bool echo_server, int renew_ms)
    : brokers_(static_cast<int>(endpoints.size())), peers_(peers) {
  if (brokers_ < 1 || brokers_ > kMaxBrokers) throw std::invalid_argument("1 to 8 brokers");
  memfd_ = memfd_create("bench_broker", 0);  // inherited by the children (no CLOEXEC)
  if (memfd_ < 0 || ftruncate(memfd_, sizeof(FleetShared)) != 0)
    throw std::runtime_error("memfd_create failed");
  void* mem = mmap(nullptr, sizeof(FleetShared), PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap failed");
  shared_ = new (mem) FleetShared();
  for (int b = 0; b < brokers_; ++b) {
    std::snprintf(shared_->endpoints[b], sizeof shared_->endpoints[b], "%s",
                  endpoints[static_cast<std::size_t>(b)].c_str());
  }
  shared_->brokers = brokers_;
  shared_->echo_server = echo_server ? 1 : 0;
  shared_->renew_ms = renew_ms;
  for (int p = 0; p < procs; ++p) {
    const int first = peers * p / procs;
    const int last = peers * (p + 1) / procs;
    per_proc_conns_ = std::max(per_proc_conns_, (last - first) * brokers_);
    procs_.push_back(std::make_unique<Process>(std::vector<std::string>{
        "/proc/self/exe", "--client-proc", std::to_string(memfd_), std::to_string(first),
        std::to_string(last - first), std::to_string(threads)}));
  }
}

Fleet::~Fleet() {
  (void)stop();
  munmap(shared_, sizeof(FleetShared));
  close(memfd_);
}

bool Fleet::wait_connected(std::chrono::milliseconds timeout) {
  const long want = static_cast<long>(peers_) * brokers_;
  const bool ok = wait_until(
      [&] { return total(&BrokerCounters::connected) >= want || exited() > 0; }, timeout);
  if (!ok) {
    std::fprintf(stderr, "only %ld of %ld connections answered within %lld ms\n",
                 total(&BrokerCounters::connected), want, static_cast<long long>(timeout.count()));
  }
  return ok;
}

void Fleet::register_all(std::chrono::milliseconds spread) {
  shared_->register_spread_ms = spread.count();
  ++shared_->register_seq;
}

bool Fleet::burst(int n, std::chrono::milliseconds timeout) {
  const long per_round = static_cast<long>(peers_) * brokers_ * n;
  const long want = total(&BrokerCounters::answers) + per_round;
  shared_->burst_n = n;
  ++shared_->burst_seq;
  const auto t0 = Clock::now();
  auto next_progress = t0 + 1s;
  // A connection whose answer the broker dropped (a full queue: slow consumer) stops
  // sending; so give up once nothing moved for 15 s.
  long last = -1;
  auto last_move = t0;
  bool stalled = false;
  (void)wait_until(
      [&] {
        const long now_answers = total(&BrokerCounters::answers);
        if (now_answers != last) {
          last = now_answers;
          last_move = Clock::now();
        }
        stalled = Clock::now() - last_move > 15s;
        if (Clock::now() >= next_progress) {
          std::fprintf(stderr, "\r[bench] answered %ld of %ld   ", now_answers - (want - per_round),
                       per_round);
          next_progress += 1s;
        }
        return now_answers >= want || stalled || exited() > 0;
      },
      timeout, 5ms);
  const long missing = want - total(&BrokerCounters::answers);
  std::fprintf(stderr, "\n[bench] burst took %.0f ms%s\n", us_since(t0) / 1000,
               missing > 0 ? (stalled ? ", stalled" : ", timed out") : "");
  if (missing > 0) std::fprintf(stderr, "[bench] %ld answers missing\n", missing);
  return missing <= 0;
}

int Fleet::exited() {
  int n = 0;
  for (auto& p : procs_) {
    const int status = p->wait(0ms);
    if (status == -1) continue;
    ++n;
    if (!reported_.insert(p->pid()).second) continue;
    std::fprintf(stderr, "[bench] client process %d ended early: %s %d\n", p->pid(),
                 WIFSIGNALED(status) ? "signal" : "exit status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  }
  return n;
}

bool Fleet::stop() {
  if (shared_->stop == 0) (void)exited();
  shared_->stop = 1;
  bool ok = true;
  for (auto& p : procs_) ok = exited_ok(p->wait(10s)) && ok;  // ~Process SIGKILLs the rest
  procs_.clear();
  return ok;
}

long Fleet::total(std::atomic<long> BrokerCounters::*field) const {
  long sum = 0;
  for (int b = 0; b < brokers_; ++b) sum += (shared_->per_broker[b].*field).load();
  return sum;
}

std::vector<long> Fleet::renew_rtts() const {
  std::vector<long> out(LogHistogram::kBuckets);
  for (int b = 0; b < LogHistogram::kBuckets; ++b)
    out[static_cast<std::size_t>(b)] = shared_->renew_rtt[b];
  return out;
}

double Fleet::cpu_seconds() const {
  double sum = 0;
  for (const auto& p : procs_) sum += p->cpu_seconds();
  return sum;
}

}  // namespace zmesh::bench
