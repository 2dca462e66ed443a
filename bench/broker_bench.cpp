// zmesh-broker under a population of simulated peers, next to raw cppzmq ROUTERs doing
// the same socket work, tcp loopback, one run.
//   build/bench/bench_broker [--quick] [--duration S] [--clients N] [--renew-ms R]
//                            [--ttl-ms T] [--threads K] [--register-over-ms M] [--broker PATH]
// Defaults: 1000 clients, renew-ms 1000, ttl-ms 3000, lookups for 20 s (--quick: 5 s).
//
// 1. A real zmesh-broker process starts on a free loopback port. N lightweight clients
//    (one DEALER each, its own peer id and session, on K threads that sleep in epoll)
//    connect; then all register at once: a restart storm (a young broker batches the
//    joins of half a renew interval into one Event per peer; it used to send N(N-1)/2).
// 2. They renew at the interval the RegisterAck names: renews only, for a quarter of
//    the duration, then renews plus lookups from a separate client for the duration:
//    by name (1 record), by service (N/10 records), everyone (N records, every page), one
//    of each every ~5 ms, one at a time. Answers are checked (record counts) now and then.
// 3. Every client sends 150 more lookups (8 in flight), so that every connection has
//    carried more than a libzmq pipe chunk (256 frames) each way, as it will after a
//    couple of minutes of renews; then SIGTERM, and every client should hear Bye.
// 4. Raw cppzmq floors: the same lookup round trips against an in-process ROUTER that
//    answers at once with replies of the broker's sizes; and the same N connections and
//    steps 1 and 3 against a ROUTER process (this program, --raw-server) that echoes.
// The broker's RSS (VmRSS, VmHWM from /proc/<pid>/status) and CPU (utime+stime from
// /proc/<pid>/stat, as % of one core) are sampled throughout. Progress goes to stderr,
// the Markdown table to stdout; the exit status is 1 if a check failed.
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/ids.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using zmesh::Kind;

struct Args {
  int clients = 1000;
  int duration_s = 20;  ///< lookups under renew load
  int renew_ms = 1000;
  int ttl_ms = 3000;
  int threads = 2;           ///< client threads
  int register_over_ms = 0;  ///< spread the registrations over this long (0 = all at once)
  bool storm_only = false;   ///< stop after the restart storm (step 1): its table only
  std::string broker = ZMESH_BROKER_BIN;
};

struct Latency {
  double p50_us = 0;
  double p99_us = 0;
  std::size_t n = 0;
};

Latency percentiles(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100], us.size()};
}

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// ----------------------------------------------------------------- the broker process

int free_port() {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.set(zmq::sockopt::linger, 0);
  s.bind("tcp://127.0.0.1:*");
  const std::string ep = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(ep.substr(ep.rfind(':') + 1));
}

/// A child process (the broker, or this program as the raw server), killed if still
/// running at the end.
class Process {
 public:
  explicit Process(std::vector<std::string> args) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, args[0].c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      std::fprintf(stderr, "cannot start %s\n", args[0].c_str());
      std::exit(1);
    }
  }
  ~Process() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Raw wait status, or -1 if it did not exit within `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!reaped_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return status;
      }
      if (Clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(1ms);
    }
    return -1;
  }

  /// VmRSS or VmHWM (peak) in kB from /proc/<pid>/status.
  [[nodiscard]] long status_kb(const char* key) const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    const std::size_t len = std::strlen(key);
    while (std::getline(f, line)) {
      if (line.compare(0, len, key) == 0 && line.size() > len && line[len] == ':')
        return std::atol(line.c_str() + len + 1);
    }
    return -1;
  }
  /// utime + stime in seconds from /proc/<pid>/stat.
  [[nodiscard]] double cpu_seconds() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = all.rfind(')');  // the command name may contain spaces
    if (close == std::string::npos) return 0;
    std::istringstream rest(all.substr(close + 2));
    std::string field;
    unsigned long utime = 0;
    unsigned long stime = 0;
    // After ")": state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoul(field);
      if (i == 15) stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// ----------------------------------------------------------------- wire helpers

/// Sends [header, payload] on a DEALER.
void send_to_broker(zmq::socket_t& s, zmesh::EnvelopeEncoder& enc, const zmesh::PeerInfo& me,
                    Kind kind, std::uint64_t correlation_id, zmq::message_t payload) {
  zmesh::Header h;
  h.kind = kind;
  h.correlation_id = correlation_id;
  h.sender_id = me.id;
  h.sender_session = me.session;
  s.send(enc.encode(h), zmq::send_flags::sndmore);
  s.send(payload, zmq::send_flags::none);
}

std::vector<std::string> broker_args(const Args& a, int port) {
  return {a.broker,
          "--bind",
          "tcp://127.0.0.1:" + std::to_string(port),
          "--ttl-ms",
          std::to_string(a.ttl_ms),
          "--renew-ms",
          std::to_string(a.renew_ms),
          "--log-level",
          "warn"};
}

std::string client_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-%05d", i);
  return buf;
}
std::string client_service(int i) {
  return "svc-" + std::to_string(i % 10);
}

// ----------------------------------------------------------------- simulated peers

// Lookups in flight per client during burst().
constexpr int kWindow = 8;

struct Counters {
  std::atomic<long> connected{0};  ///< clients whose first Lookup was answered
  std::atomic<long> answers{0};    ///< further Lookups answered (burst())
  std::atomic<long> registered{0};
  std::atomic<long> renew_acks{0};
  std::atomic<long> unknown_peer{0};  ///< renews the broker did not know: an entry expired
  std::atomic<long> rejected{0};
  std::atomic<long> events{0};       ///< Event messages received
  std::atomic<long> event_bytes{0};  ///< their payload bytes (Events are batched)
  std::atomic<long> byes{0};
  std::atomic<long> undecodable{0};
};

/// Clients [first, first+count) on one thread. Each first sends a Lookup (so that its
/// connection is up), then, once register_all() is called, registers and renews every renew
/// interval (the one its RegisterAck names), draining what the broker pushes. The thread
/// sleeps in epoll on the sockets' ZMQ_FDs, so its cost follows the traffic, not the
/// number of sockets (zmq_poll would look at every socket on every wake-up).
class ClientGroup {
 public:
  ClientGroup(zmq::context_t& ctx, std::string endpoint, int first, int count, Counters& c)
      : ctx_(ctx), endpoint_(std::move(endpoint)), first_(first), count_(count), c_(c) {}
  ~ClientGroup() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  /// Registers every client, spread evenly over `spread` (0 = all at once).
  void register_all(std::chrono::milliseconds spread) {
    spread_ms_ = spread.count();
    register_ = true;
  }
  /// Every client sends `n` more Lookups, at most kWindow in flight; answers count in
  /// Counters::answers.
  void burst(int n) { burst_ = n; }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// Renew round trips measured since the last call (thread-safe).
  std::vector<double> take_renew_rtts() {
    std::lock_guard lock(mu_);
    return std::exchange(renew_rtts_, {});
  }

 private:
  struct Client {
    zmq::socket_t dealer;
    zmesh::PeerInfo info;
    std::uint64_t next_correlation = 1;
    std::uint64_t renew_correlation = 0;  ///< the Renew in flight, 0 = none
    Clock::time_point renew_sent{};
    Clock::time_point next_renew = Clock::time_point::max();
    Clock::time_point register_at = Clock::time_point::max();
    int burst_left = 0;  ///< Lookups still to send
    int burst_due = 0;   ///< answers received since the last send: send that many more
    bool connected = false;
    bool registering = false;
    bool registered = false;
  };

  void send(Client& cl, Kind kind, std::uint64_t corr, zmq::message_t payload) {
    send_to_broker(cl.dealer, enc_, cl.info, kind, corr, std::move(payload));
  }
  void send_lookups(Client& cl, int n) {
    for (; n > 0 && cl.burst_left > 0; --n) {
      --cl.burst_left;
      send(cl, Kind::lookup, cl.next_correlation++, zmesh::encode(zmesh::Lookup{"nobody", ""}));
    }
  }
  void register_client(Client& cl) {
    cl.registering = true;
    send(cl, Kind::reg, cl.next_correlation++, zmesh::encode(zmesh::Register{cl.info, 0}));
  }

  /// Receives everything waiting on `cl` (until EAGAIN, which also re-arms its ZMQ_FD).
  void drain(Client& cl, Clock::time_point now) {
    while (frames_.recv(cl.dealer, zmq::recv_flags::dontwait)) {
      auto env = dec_.decode(zmesh::Layout::dealer, frames_);
      if (!env) {
        ++c_.undecodable;
        continue;
      }
      switch (env->header.kind) {
        case Kind::peer_list:
        case Kind::lookup:  // the raw server echoes the request's header
          if (!cl.connected) {
            cl.connected = true;
            ++c_.connected;
          } else {
            ++c_.answers;
            if (cl.burst_left > 0) ++cl.burst_due;
          }
          break;
        case Kind::register_ack:
          if (!cl.registered) {
            auto ack = zmesh::decode_control<zmesh::RegisterAck>(env->payload, {});
            cl.registered = true;
            cl.registering = false;
            renew_interval_ = std::chrono::milliseconds(ack ? ack->renew_interval_ms : 1000);
            // Spread the renews evenly over one interval.
            cl.next_renew = now + std::chrono::microseconds(std::uniform_int_distribution<long>(
                                      0, renew_interval_.count() * 1000)(rng_));
            ++c_.registered;
          } else if (env->header.correlation_id == cl.renew_correlation) {
            rtts_.push_back(std::chrono::duration<double, std::micro>(now - cl.renew_sent).count());
            cl.renew_correlation = 0;
            ++c_.renew_acks;
          }
          break;
        case Kind::error:  // UnknownPeer: our entry expired; register again
          ++c_.unknown_peer;
          if (cl.registered) --c_.registered;
          cl.registered = false;
          cl.renew_correlation = 0;
          cl.next_renew = Clock::time_point::max();
          register_client(cl);
          break;
        case Kind::reject: ++c_.rejected; break;
        case Kind::event:
          // Counted, not decoded: 500 simulated peers per thread decoding every batch
          // would make the clients, not the broker, the bottleneck (their renewals late).
          ++c_.events;
          c_.event_bytes += static_cast<long>(env->payload.size());
          break;
        case Kind::bye: ++c_.byes; break;
        default: break;
      }
    }
  }

  void run() {
    rng_.seed(static_cast<std::uint64_t>(first_) * 7919 + 1);
    std::vector<Client> clients;
    clients.reserve(static_cast<std::size_t>(count_));
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = first_; i < first_ + count_; ++i) {
      Client cl{zmq::socket_t(ctx_, zmq::socket_type::dealer), {}};
      cl.dealer.set(zmq::sockopt::linger, 0);
      cl.dealer.set(zmq::sockopt::rcvhwm, 100000);
      cl.dealer.connect(endpoint_);
      cl.info.id = zmesh::random_id();
      cl.info.session = zmesh::random_id();
      cl.info.name = client_name(i);
      cl.info.endpoints = {"tcp://127.0.0.1:" + std::to_string(20000 + i)};
      cl.info.services = {client_service(i)};
      clients.push_back(std::move(cl));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].dealer.get(zmq::sockopt::fd), &ev);
      send(clients[i], Kind::lookup, clients[i].next_correlation++,
           zmesh::encode(zmesh::Lookup{"nobody", ""}));
    }
    std::vector<epoll_event> ready(clients.size());
    auto next_sweep = Clock::now();
    while (!stop_) {
      auto now = Clock::now();
      if (register_ && !registering_started_) {
        registering_started_ = true;
        for (std::size_t i = 0; i < clients.size(); ++i) {
          clients[i].register_at =
              now + std::chrono::milliseconds(spread_ms_ * static_cast<long>(i) /
                                              static_cast<long>(clients.size()));
        }
      }
      if (const int n = burst_.exchange(0); n > 0) {
        for (auto& cl : clients) {
          cl.burst_left = n;
          send_lookups(cl, kWindow);
          drain(cl, now);
        }
      }
      for (auto& cl : clients) {
        if (cl.burst_due == 0) continue;
        send_lookups(cl, std::exchange(cl.burst_due, 0));
        drain(cl, now);
      }
      for (auto& cl : clients) {
        if (cl.register_at > now) continue;
        cl.register_at = Clock::time_point::max();
        register_client(cl);
        drain(cl, now);
      }
      // Sleep until the next renew or registration is due (at most 10 ms).
      auto wake = now + 10ms;
      for (const auto& cl : clients) wake = std::min({wake, cl.next_renew, cl.register_at});
      const int timeout_ms = static_cast<int>(std::max<long>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count()));
      const int n = epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), timeout_ms);
      now = Clock::now();
      for (int k = 0; k < n; ++k) drain(clients[ready[static_cast<std::size_t>(k)].data.u64], now);
      if (now >= next_sweep) {  // belt and braces: a readiness we might have consumed
        for (auto& cl : clients) drain(cl, now);
        next_sweep = now + 1s;
      }
      for (auto& cl : clients) {
        if (!cl.registered || cl.next_renew > now) continue;
        cl.renew_correlation = cl.next_correlation++;
        cl.renew_sent = now;
        send(cl, Kind::renew, cl.renew_correlation, zmq::message_t());
        cl.next_renew += renew_interval_;
        if (cl.next_renew <= now) cl.next_renew = now + renew_interval_;  // fell behind
        drain(cl, now);  // a send may take the socket's wake-up: look now
      }
      if (rtts_.size() >= 256) {
        std::lock_guard lock(mu_);
        renew_rtts_.insert(renew_rtts_.end(), rtts_.begin(), rtts_.end());
        rtts_.clear();
      }
    }
    {
      std::lock_guard lock(mu_);
      renew_rtts_.insert(renew_rtts_.end(), rtts_.begin(), rtts_.end());
    }
    clients.clear();
    close(ep);
  }

  zmq::context_t& ctx_;
  std::string endpoint_;
  int first_;
  int count_;
  Counters& c_;
  // client thread only
  zmesh::EnvelopeEncoder enc_;
  zmesh::EnvelopeDecoder dec_;
  zmesh::FrameSet frames_;
  std::mt19937_64 rng_;
  std::vector<double> rtts_;
  std::chrono::milliseconds renew_interval_{1000};
  bool registering_started_ = false;
  std::atomic<long> spread_ms_{0};

  std::atomic<bool> register_{false};
  std::atomic<int> burst_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<double> renew_rtts_;  // guarded by mu_
};

// ----------------------------------------------------------------- the lookup client

class Requester {
 public:
  Requester(zmq::context_t& ctx, const std::string& endpoint)
      : dealer_(ctx, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.connect(endpoint);
    me_.id = zmesh::random_id();
    me_.session = zmesh::random_id();
  }
  /// One round trip; returns the answer's payload size, or -1 after 5 s. `out` gets
  /// the payload bytes when given.
  long round_trip(Kind kind, zmq::message_t payload, std::vector<std::byte>* out = nullptr) {
    const std::uint64_t corr = next_++;
    send_to_broker(dealer_, enc_, me_, kind, corr, std::move(payload));
    const auto deadline = Clock::now() + 5s;
    for (;;) {
      zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) return -1;
      frames_.recv(dealer_);
      auto env = dec_.decode(zmesh::Layout::dealer, frames_);
      if (!env || env->header.correlation_id != corr) continue;
      if (out != nullptr) out->assign(env->payload.begin(), env->payload.end());
      return static_cast<long>(env->payload.size());
    }
  }

 private:
  zmq::socket_t dealer_;
  zmesh::PeerInfo me_;
  std::uint64_t next_ = 1;
  zmesh::EnvelopeEncoder enc_;
  zmesh::EnvelopeDecoder dec_;
  zmesh::FrameSet frames_;
};

// ----------------------------------------------------------------- raw cppzmq floor

/// A ROUTER that answers every [identity, header, payload] with a canned reply of a
/// given size, chosen by the first byte of the request payload.
class RawServer {
 public:
  RawServer(zmq::context_t& ctx, std::vector<zmq::message_t> replies)
      : router_(ctx, zmq::socket_type::router), replies_(std::move(replies)) {
    router_.set(zmq::sockopt::linger, 0);
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
    zmq::message_t id;
    zmq::message_t header;
    zmq::message_t payload;
    while (!stop_) {
      if (zmq::poll(&item, 1, 50ms) == 0) continue;
      while (router_.recv(id, zmq::recv_flags::dontwait)) {
        (void)router_.recv(header);
        (void)router_.recv(payload);
        const std::size_t which =
            payload.size() == 0 ? 0 : static_cast<std::size_t>(payload.data<char>()[0] - '0');
        zmq::message_t reply;
        reply.copy(replies_[std::min(which, replies_.size() - 1)]);
        router_.send(id, zmq::send_flags::sndmore);
        router_.send(header, zmq::send_flags::sndmore);
        router_.send(reply, zmq::send_flags::none);
      }
    }
  }
  zmq::socket_t router_;
  std::vector<zmq::message_t> replies_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ----------------------------------------------------------------- main

/// `bench_broker --raw-server PORT`: the raw cppzmq counterpart of the broker process for
/// the memory comparison. A ROUTER (one I/O thread, the broker's HWMs) that sends every
/// [identity, header, payload] straight back. Runs until SIGTERM.
int raw_server_main(int port) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // before any thread starts
  zmq::context_t ctx(1);
  ctx.set(zmq::ctxopt::max_sockets, 64);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::sndhwm, 10000);
  router.set(zmq::sockopt::rcvhwm, 10000);
  router.set(zmq::sockopt::router_mandatory, 1);
  router.bind("tcp://127.0.0.1:" + std::to_string(port));
  zmq::message_t parts[3];
  const timespec zero{0, 0};
  while (sigtimedwait(&term, nullptr, &zero) != SIGTERM) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 50ms) == 0) continue;
    while (router.recv(parts[0], zmq::recv_flags::dontwait)) {
      (void)router.recv(parts[1]);
      (void)router.recv(parts[2]);
      router.send(parts[0], zmq::send_flags::sndmore);
      router.send(parts[1], zmq::send_flags::sndmore);
      router.send(parts[2], zmq::send_flags::none);
    }
  }
  return 0;
}

/// Connects `n` clients to `endpoint` in `threads` groups; true once every client's
/// first Lookup was answered.
bool connect_groups(std::vector<std::unique_ptr<ClientGroup>>& groups, zmq::context_t& ctx,
                    const std::string& endpoint, int n, int threads, Counters& c) {
  for (int t = 0; t < threads; ++t) {
    const int first = n * t / threads;
    const int last = n * (t + 1) / threads;
    groups.push_back(std::make_unique<ClientGroup>(ctx, endpoint, first, last - first, c));
    groups.back()->start();
  }
  const auto deadline = Clock::now() + 60s;
  while (c.connected < n && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  if (c.connected < n)
    std::fprintf(stderr, "only %ld of %d clients connected within 60 s\n", c.connected.load(), n);
  return c.connected == n;
}

/// Every client sends `per_client` more Lookups; true once all are answered (60 s).
bool burst(std::vector<std::unique_ptr<ClientGroup>>& groups, int n, int per_client, Counters& c) {
  const long want = c.answers + static_cast<long>(n) * per_client;
  for (auto& g : groups) g->burst(per_client);
  const auto t0 = Clock::now();
  const auto deadline = t0 + 60s;
  auto next_progress = t0 + 1s;
  while (c.answers < want && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    if (Clock::now() >= next_progress) {
      std::fprintf(stderr, "\r[bench] answered %ld of %ld   ",
                   c.answers - (want - static_cast<long>(n) * per_client),
                   static_cast<long>(n) * per_client);
      next_progress += 1s;
    }
  }
  std::fprintf(stderr, "\n[bench] burst took %.0f ms\n", us_since(t0) / 1000);
  return c.answers >= want;
}

// Lookups each client sends at the end: with what it sent before, more than the 128
// two-frame messages that fill one 256-slot libzmq pipe chunk, in both directions.
constexpr int kBurst = 150;

void usage_exit(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--quick] [--duration S] [--clients N] [--renew-ms R] [--ttl-ms T] "
               "[--threads K] [--register-over-ms M] [--broker PATH] [--storm-only]\n",
               argv0);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_exit(argv[0]);
      return argv[++i];
    };
    if (arg == "--quick") {
      a.duration_s = 5;
    } else if (arg == "--duration") {
      a.duration_s = std::stoi(value());
    } else if (arg == "--clients") {
      a.clients = std::stoi(value());
    } else if (arg == "--renew-ms") {
      a.renew_ms = std::stoi(value());
    } else if (arg == "--ttl-ms") {
      a.ttl_ms = std::stoi(value());
    } else if (arg == "--threads") {
      a.threads = std::stoi(value());
    } else if (arg == "--register-over-ms") {
      a.register_over_ms = std::stoi(value());
    } else if (arg == "--broker") {
      a.broker = value();
    } else if (arg == "--storm-only") {
      a.storm_only = true;
    } else {
      usage_exit(argv[0]);
    }
  }
  if (a.clients < 10 || a.duration_s < 1 || a.threads < 1) usage_exit(argv[0]);
  return a;
}

/// Each DEALER costs a TCP descriptor and a mailbox descriptor here (and one TCP
/// descriptor in the broker, which inherits our limit).
void ensure_fd_limit(long needed) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (static_cast<long>(rl.rlim_cur) >= needed) return;
  if (rl.rlim_max == RLIM_INFINITY || static_cast<long>(rl.rlim_max) >= needed) {
    rl.rlim_cur = static_cast<rlim_t>(needed);
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return;
  }
  std::fprintf(stderr, "need %ld file descriptors, the limit is %ld (ulimit -n)\n", needed,
               static_cast<long>(rl.rlim_cur));
  std::exit(1);
}

int run(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--raw-server") == 0)
    return raw_server_main(std::atoi(argv[2]));
  const Args args = parse_args(argc, argv);
  // Two fds per simulated client (its TCP connection and its socket mailbox); the two
  // populations of DEALERs (broker, then raw server) are never open together.
  ensure_fd_limit(2L * args.clients + 96);

  const int port = free_port();
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  Process broker(broker_args(args, port));

  zmq::context_t ctx(2);
  ctx.set(zmq::ctxopt::max_sockets, 2 * args.clients + 64);
  Requester looker(ctx, endpoint);
  {  // serving once a Lookup is answered
    const auto deadline = Clock::now() + 10s;
    while (looker.round_trip(Kind::lookup, zmesh::encode(zmesh::Lookup{})) < 0) {
      if (Clock::now() >= deadline || broker.wait(0ms) != -1) {
        std::fprintf(stderr, "zmesh-broker did not start on %s\n", endpoint.c_str());
        return 1;
      }
    }
  }
  const long rss_start_kb = broker.status_kb("VmRSS");

  // Connect everyone (each client's first Lookup is answered), then register everyone:
  // what a restarted broker sees. One Event per join per peer would be N(N-1)/2.
  Counters counters;
  std::vector<std::unique_ptr<ClientGroup>> groups;
  if (!connect_groups(groups, ctx, endpoint, args.clients, args.threads, counters)) return 1;
  const long rss_connected_kb = broker.status_kb("VmRSS");
  const double cpu_before_register = broker.cpu_seconds();
  const auto t_register = Clock::now();
  for (auto& g : groups) g->register_all(std::chrono::milliseconds(args.register_over_ms));
  const long expected_events = static_cast<long>(args.clients) * (args.clients - 1) / 2;
  {
    const auto deadline = Clock::now() + 120s;
    while (counters.registered < args.clients && Clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }
  const double register_ms = us_since(t_register) / 1000;
  if (counters.registered < args.clients) {
    std::fprintf(stderr, "only %ld of %d clients registered within 120 s\n",
                 counters.registered.load(), args.clients);
    return 1;
  }
  {  // let the join events drain (bounded): while the broker is younger than its TTL it
     // sends the changes of half a renew interval together, so wait for a quiet interval
    const auto deadline = Clock::now() + 30s;
    long before = -1;
    while (counters.events != before && Clock::now() < deadline) {
      before = counters.events;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max(200, args.renew_ms)));
    }
  }
  const double events_ms = us_since(t_register) / 1000;
  const double register_cpu_s = broker.cpu_seconds() - cpu_before_register;
  const long join_events = counters.events;
  const long join_event_bytes = counters.event_bytes;
  const long rss_registered_kb = broker.status_kb("VmRSS");
  if (args.storm_only) {
    // A real restart: SIGKILL, and a new broker on the same port. Every client's DEALER
    // reconnects; its next Renew is answered UnknownPeer and it registers again, all
    // within one renew interval of the new broker's start, while it is warming up.
    std::fprintf(stderr, "[bench] SIGKILL the broker and start a new one on the same port\n");
    kill(broker.pid(), SIGKILL);
    (void)broker.wait(10s);
    const long events0 = counters.events;
    const long bytes0 = counters.event_bytes;
    const long unknown0 = counters.unknown_peer;
    const auto t_restart = Clock::now();
    Process restarted(broker_args(args, port));
    {
      const auto deadline = Clock::now() + 120s;
      while (
          (counters.unknown_peer - unknown0 < args.clients || counters.registered < args.clients) &&
          Clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
    }
    const double reregister_ms = us_since(t_restart) / 1000;
    {
      const auto deadline = Clock::now() + 60s;
      long before = -1;
      while (counters.events != before && Clock::now() < deadline) {
        before = counters.events;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max(200, args.renew_ms)));
      }
    }
    const double drained_ms = us_since(t_restart) / 1000;
    const double restart_cpu_s = restarted.cpu_seconds();  // since it started
    const long restart_rss_kb = restarted.status_kb("VmRSS");
    const long storm_events = counters.events - events0;
    const long storm_bytes = counters.event_bytes - bytes0;
    kill(restarted.pid(), SIGTERM);
    const int status = restarted.wait(30s);
    for (auto& g : groups) g->stop();
    std::printf(
        "zmesh-broker restart storm, %d clients (%d client threads), renew-ms %d, ttl-ms %d\n\n",
        args.clients, args.threads, args.renew_ms, args.ttl_ms);
    std::printf(
        "| measure | first start | after a SIGKILL restart | target |\n|---|---|---|---|\n");
    std::printf("| all %d clients registered (ms) | %.0f | %.0f | |\n", args.clients, register_ms,
                reregister_ms);
    std::printf(
        "| Event messages delivered (one per join per peer would be %ld) | %ld (%.2f per "
        "client) | %ld (%.2f per client) | <= 3 N |\n",
        expected_events, join_events,
        static_cast<double>(join_events) / static_cast<double>(args.clients), storm_events,
        static_cast<double>(storm_events) / static_cast<double>(args.clients));
    std::printf("| Event bytes delivered (MB) | %.1f | %.1f | |\n",
                static_cast<double>(join_event_bytes) / 1e6,
                static_cast<double>(storm_bytes) / 1e6);
    std::printf("| time until the Events were drained (ms) | %.0f | %.0f | |\n", events_ms,
                drained_ms);
    std::printf(
        "| broker CPU (s): registrations and Events; the new broker's whole life | %.2f | "
        "%.2f | |\n",
        register_cpu_s, restart_cpu_s);
    std::printf("| broker RSS after the storm (MB) | %.1f | %.1f | |\n",
                static_cast<double>(rss_registered_kb) / 1024,
                static_cast<double>(restart_rss_kb) / 1024);
    std::printf(
        "\nchecks: exit status %d, renews refused UnknownPeer %ld (restart: %ld), rejects "
        "%ld\n",
        status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, counters.unknown_peer.load(),
        counters.unknown_peer - unknown0, counters.rejected.load());
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  }

  // Phase 1: renews only.
  const int idle_s = std::max(2, args.duration_s / 4);
  std::fprintf(stderr, "[bench] %d clients registered in %.0f ms; renews only for %d s\n",
               args.clients, register_ms, idle_s);
  for (auto& g : groups) (void)g->take_renew_rtts();
  const long renews_before_idle = counters.renew_acks;
  double cpu0 = broker.cpu_seconds();
  auto t0 = Clock::now();
  long rss_max_kb = rss_registered_kb;
  for (int s = 0; s < idle_s * 4; ++s) {
    std::this_thread::sleep_for(250ms);
    rss_max_kb = std::max(rss_max_kb, broker.status_kb("VmRSS"));
    if (s % 4 == 3) {
      std::fprintf(stderr,
                   "\r[bench] %2ds registered=%ld renews=%ld unknown_peer=%ld events=%ld   ",
                   s / 4 + 1, counters.registered.load(), counters.renew_acks.load(),
                   counters.unknown_peer.load(), counters.events.load());
    }
  }
  std::fprintf(stderr, "\n");
  const double idle_wall = us_since(t0) / 1e6;
  const double cpu_idle_pct = 100 * (broker.cpu_seconds() - cpu0) / idle_wall;
  const double renews_per_s =
      static_cast<double>(counters.renew_acks - renews_before_idle) / idle_wall;

  // Phase 2: renews + lookups, paced: a name, a service and a full listing every ~5 ms.
  std::fprintf(stderr, "[bench] renews + lookups for %d s\n", args.duration_s);
  std::vector<double> by_name;
  std::vector<double> by_service;
  std::vector<double> everyone;
  long wrong_answers = 0;
  long lost_answers = 0;
  long size_name = 0;
  long size_service = 0;
  long size_all = 0;
  long pages_all = 0;  // pages after the first, over all full listings
  const auto expect_service = static_cast<std::size_t>((args.clients + 9) / 10);
  std::mt19937 rng(42);
  std::vector<std::byte> bytes;
  auto check = [&](std::size_t want) {
    auto list = zmesh::decode_control<zmesh::PeerList>(bytes, zmesh::Limits{});
    if (!list || list->peers.size() != want) ++wrong_answers;
  };
  cpu0 = broker.cpu_seconds();
  t0 = Clock::now();
  auto next_sample = t0 + 250ms;
  auto next_progress = t0 + 1s;
  const auto end = t0 + std::chrono::seconds(args.duration_s);
  std::size_t round = 0;
  while (Clock::now() < end) {
    const int who = std::uniform_int_distribution<int>(0, args.clients - 1)(rng);
    auto t = Clock::now();
    long n =
        looker.round_trip(Kind::lookup, zmesh::encode(zmesh::Lookup{client_name(who), ""}), &bytes);
    if (n < 0) {
      ++lost_answers;
    } else {
      by_name.push_back(us_since(t));
      size_name = n;
      if (round % 64 == 0) check(1);
    }
    t = Clock::now();
    n = looker.round_trip(Kind::lookup, zmesh::encode(zmesh::Lookup{"", client_service(who)}),
                          &bytes);
    if (n < 0) {
      ++lost_answers;
    } else {
      by_service.push_back(us_since(t));
      size_service = n;
      if (round % 64 == 0)
        check(static_cast<std::size_t>(args.clients / 10) + (who % 10 < args.clients % 10 ? 1 : 0));
    }
    t = Clock::now();
    {  // every page of the listing (PeerList.next), as a client that wants everyone does
      std::uint64_t after = 0;
      std::size_t records = 0;
      long total = 0;
      for (;;) {
        n = looker.round_trip(Kind::lookup, zmesh::encode(zmesh::Lookup{"", "", after}), &bytes);
        if (n < 0) break;
        total += n;
        auto page = zmesh::decode_control<zmesh::PeerList>(bytes, zmesh::Limits{});
        if (!page) break;
        records += page->peers.size();
        if (page->next == 0) break;
        after = page->next;
        ++pages_all;
      }
      if (n < 0) {
        ++lost_answers;
      } else {
        everyone.push_back(us_since(t));
        size_all = total;
        if (round % 64 == 0 && records != static_cast<std::size_t>(args.clients)) ++wrong_answers;
      }
    }
    ++round;
    const auto now = Clock::now();
    if (now >= next_sample) {
      rss_max_kb = std::max(rss_max_kb, broker.status_kb("VmRSS"));
      next_sample += 250ms;
    }
    if (now >= next_progress) {
      std::fprintf(
          stderr, "\r[bench] %2lds lookups=%zu renews=%ld unknown_peer=%ld   ",
          static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(now - t0).count()),
          by_name.size() * 3, counters.renew_acks.load(), counters.unknown_peer.load());
      next_progress += 1s;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::fprintf(stderr, "\n");
  const double busy_wall = us_since(t0) / 1e6;
  const double cpu_busy_pct = 100 * (broker.cpu_seconds() - cpu0) / busy_wall;
  std::vector<double> renew_rtts;
  for (auto& g : groups) {
    auto r = g->take_renew_rtts();
    renew_rtts.insert(renew_rtts.end(), r.begin(), r.end());
  }

  // Every connection carries more than a pipe chunk's worth of messages each way (as it
  // will after ~2 minutes of renews at 1/s): the broker's memory in the long run.
  std::fprintf(stderr, "[bench] %d more lookups from every client, %d in flight\n", kBurst,
               kWindow);
  const bool burst_ok = burst(groups, args.clients, kBurst, counters);
  const long rss_steady_kb = broker.status_kb("VmRSS");
  // VmHWM is updated lazily: take the larger of it and the samples.
  const long rss_peak_kb =
      std::max({broker.status_kb("VmHWM"), rss_max_kb, rss_registered_kb, rss_steady_kb});

  // Shutdown: SIGTERM says Bye to every client.
  const auto t_term = Clock::now();
  kill(broker.pid(), SIGTERM);
  const int status = broker.wait(30s);
  const double term_ms = us_since(t_term) / 1000;
  {
    const auto deadline = Clock::now() + 5s;
    while (counters.byes < args.clients && Clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
  }
  for (auto& g : groups) g->stop();
  groups.clear();

  // Raw cppzmq memory floor: a ROUTER process with as many DEALER connections carrying
  // the same number of messages each way.
  std::fprintf(stderr, "[bench] raw cppzmq ROUTER process, %d connections\n", args.clients);
  long raw_connected_kb = -1;
  long raw_steady_kb = -1;
  {
    const int raw_port = free_port();
    Process raw_server({"/proc/self/exe", "--raw-server", std::to_string(raw_port)});
    Counters raw_counters;
    std::vector<std::unique_ptr<ClientGroup>> raw_groups;
    if (connect_groups(raw_groups, ctx, "tcp://127.0.0.1:" + std::to_string(raw_port), args.clients,
                       args.threads, raw_counters)) {
      raw_connected_kb = raw_server.status_kb("VmRSS");
      if (burst(raw_groups, args.clients, kBurst, raw_counters)) {
        raw_steady_kb = raw_server.status_kb("VmRSS");
      }
    }
    for (auto& g : raw_groups) g->stop();
    kill(raw_server.pid(), SIGTERM);
    (void)raw_server.wait(10s);
  }

  // Raw cppzmq floor: the same round trips against a ROUTER that answers at once with
  // replies of the broker's sizes.
  std::vector<zmq::message_t> canned;
  for (long size : {size_name, size_service, size_all})
    canned.emplace_back(static_cast<std::size_t>(std::max(size, 1L)));
  for (auto& m : canned) std::memset(m.data(), 'x', m.size());
  Latency raw[3];
  {
    RawServer server(ctx, std::move(canned));
    Requester raw_client(ctx, server.endpoint());
    std::vector<double> us[3];
    const std::size_t rounds = std::min<std::size_t>(by_name.size(), 1000);
    for (std::size_t i = 0; i < rounds + 50; ++i) {  // paced like the broker's rounds
      for (int which = 0; which < 3; ++which) {
        const char selector = static_cast<char>('0' + which);
        const auto t = Clock::now();
        (void)raw_client.round_trip(Kind::lookup, zmq::message_t(&selector, 1));
        if (i >= 50) us[which].push_back(us_since(t));
      }
      std::this_thread::sleep_for(5ms);
    }
    for (int which = 0; which < 3; ++which) raw[which] = percentiles(std::move(us[which]));
  }

  const Latency ln = percentiles(by_name);
  const Latency ls = percentiles(by_service);
  const Latency la = percentiles(everyone);
  const Latency lr = percentiles(renew_rtts);
  auto mb = [](long kb) { return static_cast<double>(kb) / 1024.0; };

  std::printf(
      "zmesh-broker, %d clients (%d client threads), renew-ms %d, ttl-ms %d, "
      "lookups for %d s (%zu of each kind)\n\n",
      args.clients, args.threads, args.renew_ms, args.ttl_ms, args.duration_s, by_name.size());
  std::printf("| measure | zmesh-broker | raw cppzmq | broker/raw | target |\n");
  std::printf("|---|---|---|---|---|\n");
  const struct {
    const char* what;
    std::size_t records;
    long bytes;
    Latency broker;
    Latency raw;
  } rows[] = {{"lookup by name", 1, size_name, ln, raw[0]},
              {"lookup by service", expect_service, size_service, ls, raw[1]},
              {"full listing", static_cast<std::size_t>(args.clients), size_all, la, raw[2]}};
  for (const auto& r : rows) {
    std::printf("| %s (%zu records, %ld B) p50 (us) | %.1f | %.1f | %.2fx | |\n", r.what, r.records,
                r.bytes, r.broker.p50_us, r.raw.p50_us, r.broker.p50_us / r.raw.p50_us);
    std::printf("| %s (%zu records, %ld B) p99 (us) | %.1f | %.1f | %.2fx | < 200 |\n", r.what,
                r.records, r.bytes, r.broker.p99_us, r.raw.p99_us, r.broker.p99_us / r.raw.p99_us);
  }
  std::printf("| renew round trip p50 / p99 (us), during lookups | %.1f / %.1f | | | |\n",
              lr.p50_us, lr.p99_us);
  std::printf("| renews answered per second | %.0f | | | |\n", renews_per_s);
  std::printf("| broker CPU, renews only (%% of one core) | %.1f | | | |\n", cpu_idle_pct);
  std::printf("| broker CPU, renews + lookups (%% of one core) | %.1f | | | |\n", cpu_busy_pct);
  std::printf("| broker RSS at start (MB) | %.1f | | | |\n", mb(rss_start_kb));
  std::printf(
      "| RSS, %d connections, one request each, none registered (MB) | %.1f | %.1f | "
      "%.2fx | |\n",
      args.clients, mb(rss_connected_kb), mb(raw_connected_kb),
      static_cast<double>(rss_connected_kb) / static_cast<double>(raw_connected_kb));
  std::printf("| broker RSS after registration and its events (MB) | %.1f | | | |\n",
              mb(rss_registered_kb));
  std::printf("| broker RSS during renews + lookups, largest sample (MB) | %.1f | | | < 64 |\n",
              mb(rss_max_kb));
  std::printf(
      "| RSS after %d more requests per connection, %d in flight (MB) | %.1f | %.1f | "
      "%.2fx | < 64 |\n",
      kBurst, kWindow, mb(rss_steady_kb), mb(raw_steady_kb),
      static_cast<double>(rss_steady_kb) / static_cast<double>(raw_steady_kb));
  std::printf("| broker peak RSS over the run (MB) | %.1f | | | < 64 |\n", mb(rss_peak_kb));
  std::printf("| register %d clients %s, all acks (ms) | %.0f | | | |\n", args.clients,
              args.register_over_ms == 0
                  ? "at once"
                  : ("spread over " + std::to_string(args.register_over_ms) + " ms").c_str(),
              register_ms);
  std::printf(
      "| restart storm: Event messages delivered (one per join per peer would be %ld) | %ld "
      "(%.2f per client) | | | <= 3 N |\n",
      expected_events, join_events,
      static_cast<double>(join_events) / static_cast<double>(args.clients));
  std::printf(
      "| restart storm: Event bytes delivered (MB); time until drained (ms) | %.1f; %.0f "
      "| | | |\n",
      static_cast<double>(join_event_bytes) / 1e6, events_ms);
  std::printf("| broker CPU time for registration and its events (s) | %.2f | | | |\n",
              register_cpu_s);
  std::printf("| full listing: pages per listing | %.2f | | | |\n",
              1.0 + static_cast<double>(pages_all) /
                        static_cast<double>(std::max<std::size_t>(everyone.size(), 1)));
  std::printf("| SIGTERM to exit, Byes received | %.0f ms, %ld of %d | | | |\n", term_ms,
              counters.byes.load(), args.clients);
  std::printf(
      "\nchecks: exit status %d (%s), lost lookups %ld, wrong lookup counts %ld, "
      "renews refused UnknownPeer %ld, rejects %ld, undecodable %ld\n",
      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
      status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "BAD", lost_answers,
      wrong_answers, counters.unknown_peer.load(), counters.rejected.load(),
      counters.undecodable.load());
  const bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && burst_ok &&
                  raw_steady_kb > 0 && lost_answers == 0 && wrong_answers == 0 &&
                  counters.undecodable == 0;
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_broker: %s\n", e.what());
    return 1;
  }
}
