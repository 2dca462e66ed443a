// zmesh-broker under a population of simulated peers, next to a raw cppzmq ROUTER doing
// the same socket work, tcp loopback, one run.
//   build/bench/bench_broker [--brokers K] [--clients N] [--quick] [--duration S]
//       [--renew-ms R] [--ttl-ms T] [--procs P] [--threads T] [--register-over-ms M]
//       [--broker PATH] [--storm-only]
// Defaults: 1 broker, 10,000 clients, renew-ms 1000, ttl-ms 3000, lookups for 20 s
// (--quick: 5 s), client processes: enough for 8,000 connections each.
//
// 1. K real zmesh-broker processes start on free loopback ports. N simulated peers, each
//    with one DEALER per broker (as a real peer registers with and renews at every
//    broker), live in P client processes (this program, --client-proc) of T threads that
//    sleep in epoll: one process may hold 20,000 descriptors and a DEALER costs two. Every
//    connection sends a Lookup (so it is up); then every peer registers with every broker
//    at once (a young broker batches the joins of a renew interval into a few Events).
// 2. They renew at the interval the RegisterAck names: renews only (a quarter of the
//    duration, at least one renew interval), then renews plus lookups from a separate
//    client for the duration, taking the brokers in turn: by name (1 record), by service
//    (N/10 records, every page), everyone (every page), one of each every ~5 ms, one at
//    a time; answers are checked now and then. Right after each broker lookup by name or
//    by service, the same thread sends the same frames to a raw cppzmq ROUTER process
//    (this program, --raw-server) that answers with the broker's reply sizes (as many
//    pages): the raw reference, taken at the same moments of a shared machine.
// 3. Every connection sends 150 more lookups (8 in flight), so that it has carried more
//    than a libzmq pipe chunk (256 frames) each way, as it will after a few minutes.
// 4. Restart storm: SIGKILL broker 0 and start a new one on the same port. Each peer's
//    next Renew there is answered UnknownPeer and it registers again. Measured: the
//    Events and bytes the new broker sends, its CPU seconds, and the time from the SIGKILL
//    until a full listing, a by-service and a by-name lookup there are complete; with
//    K > 1 the other brokers keep answering lookups meanwhile (counted).
// 5. SIGTERM every broker (every connection should hear Bye).
// 6. The raw ROUTER process (which echoes everything but those lookups) under N clients
//    (one connection each, as one broker has) renewing at the same interval: the same
//    lookups again from the same client thread, and its RSS after step 3.
// --storm-only runs steps 1, 4 and 5 only (no lookups, no raw server).
// Stopped by SIGINT/SIGTERM/SIGHUP, it SIGKILLs every process it started (by pid).
// RSS (VmRSS, VmHWM) and CPU (utime+stime) come from /proc. Progress goes to stderr, the
// Markdown table to stdout; the exit status is 1 if a check failed.
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "broker_bench_clients.hpp"
#include "broker_bench_support.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::bench {
namespace {

using namespace std::chrono_literals;

struct Args {
  int brokers = 1;
  int clients = 10000;
  int duration_s = 20;  ///< lookups under renew load
  int renew_ms = 1000;
  int ttl_ms = 3000;
  int procs = 0;             ///< client processes; 0 = enough for kConnsPerProc each
  int threads = 2;           ///< threads per client process
  int register_over_ms = 0;  ///< spread the registrations over this long (0 = all at once)
  bool storm_only = false;   ///< registration and restart storm only
  std::string broker = ZMESH_BROKER_BIN;
};

// Connections per client process by default: 2 descriptors each, under the 20,000 limit.
constexpr int kConnsPerProc = 8000;
// Lookups each connection sends at the end: with what it sent before, more than the 128
// two-frame messages that fill one 256-slot libzmq pipe chunk, in both directions.
constexpr int kBurst = 150;

double mb(long kb) {
  return static_cast<double>(kb) / 1024.0;
}

/// Bound on a burst: a minute, plus a second per 5,000 lookups (the loaded 2-core VM
/// answered about 35,000 a second over three brokers).
std::chrono::milliseconds burst_timeout(long connections) {
  return std::chrono::milliseconds(60000 + connections * kBurst / 5);
}

// ----------------------------------------------------------------- raw server

/// `bench_broker --raw-server PORT NAME_BYTES PAGE_BYTES,PAGE_BYTES,...`: the raw cppzmq
/// counterpart of a broker. A ROUTER (one I/O thread, the broker's HWMs) that checks each
/// request as the broker does (header verified), answers a Lookup by name with NAME_BYTES
/// and one by service with page `after` of the given sizes, and sends everything else
/// straight back (Register, Renew, the burst's Lookups of "nobody"). Runs until SIGTERM.
int raw_server_main(int port, std::size_t name_bytes, const std::string& page_list) {
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
  zmq::message_t by_name(name_bytes);
  std::memset(by_name.data(), 'x', by_name.size());
  std::vector<zmq::message_t> by_service;
  for (std::size_t at = 0; at < page_list.size();) {
    const std::size_t comma = std::min(page_list.find(',', at), page_list.size());
    by_service.emplace_back(std::stoul(page_list.substr(at, comma - at)));
    std::memset(by_service.back().data(), 'x', by_service.back().size());
    at = comma + 1;
  }
  EnvelopeDecoder dec;
  FrameSet frames;
  const timespec zero{0, 0};
  while (sigtimedwait(&term, nullptr, &zero) != SIGTERM) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 50ms) == 0) continue;
    while (frames.recv(router, zmq::recv_flags::dontwait)) {
      auto env = dec.decode(Layout::router, frames);
      if (!env) continue;
      zmq::message_t reply;
      if (env->header.kind == Kind::lookup) {
        auto q = decode_control<Lookup>(env->payload, {});
        if (q && !q->service.empty() && !by_service.empty()) {
          reply.copy(by_service[std::min<std::size_t>(q->after, by_service.size() - 1)]);
        } else if (q && !q->name.empty() && q->name != "nobody") {
          reply.copy(by_name);
        }
      }
      if (reply.size() == 0) reply.move(frames[2]);
      try {
        router.send(frames[0], zmq::send_flags::sndmore);
        router.send(frames[1], zmq::send_flags::sndmore);
        router.send(reply, zmq::send_flags::none);
      } catch (const zmq::error_t&) {  // EHOSTUNREACH: that client is gone
      }
    }
  }
  return 0;
}

// ----------------------------------------------------------------- arguments

void usage_exit(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--brokers K] [--clients N] [--quick] [--duration S] [--renew-ms R] "
               "[--ttl-ms T] [--procs P] [--threads T] [--register-over-ms M] [--broker PATH] "
               "[--storm-only]\n",
               argv0);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> int {
      if (i + 1 >= argc) usage_exit(argv[0]);
      return std::stoi(argv[++i]);
    };
    if (arg == "--quick") {
      a.duration_s = 5;
    } else if (arg == "--duration") {
      a.duration_s = value();
    } else if (arg == "--brokers") {
      a.brokers = value();
    } else if (arg == "--clients") {
      a.clients = value();
    } else if (arg == "--renew-ms") {
      a.renew_ms = value();
    } else if (arg == "--ttl-ms") {
      a.ttl_ms = value();
    } else if (arg == "--procs") {
      a.procs = value();
    } else if (arg == "--threads") {
      a.threads = value();
    } else if (arg == "--register-over-ms") {
      a.register_over_ms = value();
    } else if (arg == "--broker") {
      if (i + 1 >= argc) usage_exit(argv[0]);
      a.broker = argv[++i];
    } else if (arg == "--storm-only") {
      a.storm_only = true;
    } else {
      usage_exit(argv[0]);
    }
  }
  if (a.clients < 10 || a.duration_s < 1 || a.threads < 1 || a.brokers < 1 ||
      a.brokers > kMaxBrokers || a.procs < 0)
    usage_exit(argv[0]);
  return a;
}

long fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {  // take what we may
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(rl.rlim_cur);
}

// ----------------------------------------------------------------- brokers

class Brokers {
 public:
  Brokers(const Args& a, zmq::context_t& ctx) : args_(a), ctx_(ctx) {
    for (int b = 0; b < a.brokers; ++b) {
      ports_.push_back(free_port());
      procs_.push_back(nullptr);
      lookers_.push_back(nullptr);
      start(b);
    }
  }
  /// (Re)starts broker `b` on its port; false if it did not answer within 10 s.
  bool start(int b) {
    const int port = ports_[static_cast<std::size_t>(b)];
    procs_[static_cast<std::size_t>(b)] = std::make_unique<Process>(std::vector<std::string>{
        args_.broker, "--bind", endpoint(b), "--ttl-ms", std::to_string(args_.ttl_ms), "--renew-ms",
        std::to_string(args_.renew_ms), "--log-level", "warn"});
    (void)port;
    if (!lookers_[static_cast<std::size_t>(b)])
      lookers_[static_cast<std::size_t>(b)] = std::make_unique<Requester>(ctx_, endpoint(b));
    return wait_until(
               [&] {
                 return looker(b).round_trip(Kind::lookup, encode(Lookup{}), nullptr, 100ms) >= 0 ||
                        process(b).wait(0ms) != -1;
               },
               10s) &&
           process(b).wait(0ms) == -1;
  }
  [[nodiscard]] std::string endpoint(int b) const {
    return "tcp://127.0.0.1:" + std::to_string(ports_[static_cast<std::size_t>(b)]);
  }
  [[nodiscard]] std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    out.reserve(procs_.size());
    for (int b = 0; b < count(); ++b) out.push_back(endpoint(b));
    return out;
  }
  [[nodiscard]] int count() const { return static_cast<int>(procs_.size()); }
  Process& process(int b) { return *procs_[static_cast<std::size_t>(b)]; }
  Requester& looker(int b) { return *lookers_[static_cast<std::size_t>(b)]; }
  /// Largest VmRSS over the brokers, kB.
  long max_rss_kb() {
    long m = 0;
    for (int b = 0; b < count(); ++b) m = std::max(m, process(b).status_kb("VmRSS"));
    return m;
  }
  double cpu_seconds() {
    double s = 0;
    for (int b = 0; b < count(); ++b) s += process(b).cpu_seconds();
    return s;
  }

 private:
  const Args& args_;
  zmq::context_t& ctx_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::vector<std::unique_ptr<Requester>> lookers_;
};

// ----------------------------------------------------------------- lookups

/// Lookup latencies, by name and by service (and for the broker, full listings), at the
/// broker and, interleaved, at the raw server.
struct LookupRun {
  std::vector<double> by_name;
  std::vector<double> by_service;
  std::vector<double> everyone;
  std::vector<double> raw_by_name;
  std::vector<double> raw_by_service;
  long lost = 0;
  long wrong = 0;
  long name_bytes = 0;
  long service_bytes = 0;
  long service_pages = 0;
  long all_bytes = 0;
  long all_pages = 0;
};

/// What the raw server answers: the broker's reply sizes (a by-service answer may take
/// several pages: the raw client asks for as many, with Lookup.after = 0, 1, 2...).
struct RawShape {
  long name_bytes = 0;
  std::vector<long> service_pages;
};

/// The raw counterpart of a by-service listing: as many round trips as the broker's pages.
bool raw_service(Requester& q, const std::string& service, std::size_t pages) {
  for (std::size_t k = 0; k < pages; ++k)
    if (q.round_trip(Kind::lookup, encode(Lookup{"", service, k})) < 0) return false;
  return true;
}

/// Paced lookups for `duration` (or `rounds`), one at a time, ~5 ms apart: by name, by
/// service (every page) and everyone (every page) at `pick(round)` if `broker`; by name
/// and by service at `raw` if given, right after the broker's of the same kind, so both
/// see the same moment of a shared machine. `sample` runs every 250 ms.
template <class Pick, class Sample>
LookupRun run_lookups(const Args& a, bool broker, Pick pick, Requester* raw, const RawShape& shape,
                      std::chrono::seconds duration, std::size_t rounds, Sample sample) {
  LookupRun r;
  std::mt19937 rng(42);
  std::vector<std::byte> bytes;
  const auto t0 = Clock::now();
  auto next_sample = t0 + 250ms;
  auto next_progress = t0 + 1s;
  for (std::size_t round = 0; round < rounds && Clock::now() < t0 + duration; ++round) {
    const int who = std::uniform_int_distribution<int>(0, a.clients - 1)(rng);
    const bool check = round % 64 == 0;
    const std::string name = client_name(who);
    const std::string service = client_service(who);
    if (broker) {
      Requester& q = pick(round);
      const auto t = Clock::now();
      const long n = q.round_trip(Kind::lookup, encode(Lookup{name, ""}), &bytes);
      if (n < 0) {
        ++r.lost;
      } else {
        r.by_name.push_back(us_since(t));
        r.name_bytes = n;
        auto list = decode_control<PeerList>(bytes, Limits{});
        if (check && (!list || list->peers.size() != 1)) ++r.wrong;
      }
    }
    if (raw != nullptr) {
      const auto t = Clock::now();
      if (raw->round_trip(Kind::lookup, encode(Lookup{name, ""})) < 0) {
        ++r.lost;
      } else {
        r.raw_by_name.push_back(us_since(t));
      }
    }
    if (broker) {
      Requester& q = pick(round);
      const auto t = Clock::now();
      long pages = 0;
      long total = 0;
      const long n = q.listing("", service, &pages, &total);
      if (n < 0) {
        ++r.lost;
      } else {
        r.by_service.push_back(us_since(t));
        r.service_bytes = total;
        r.service_pages = pages;
        if (check && n != a.clients / 10 + (who % 10 < a.clients % 10 ? 1 : 0)) ++r.wrong;
      }
    }
    if (raw != nullptr) {
      const auto t = Clock::now();
      if (!raw_service(*raw, service, shape.service_pages.size())) {
        ++r.lost;
      } else {
        r.raw_by_service.push_back(us_since(t));
      }
    }
    if (broker) {
      const auto t = Clock::now();
      long pages = 0;
      long total = 0;
      const long n = pick(round).listing("", "", &pages, &total);
      if (n < 0) {
        ++r.lost;
      } else {
        r.everyone.push_back(us_since(t));
        r.all_bytes = total;
        r.all_pages += pages;
        if (check && n != a.clients) ++r.wrong;
      }
    }
    const auto now = Clock::now();
    if (now >= next_sample) {
      sample();
      next_sample += 250ms;
    }
    if (now >= next_progress) {
      std::fprintf(stderr, "\r[bench] %2llds rounds=%zu lost=%ld wrong=%ld   ",
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::seconds>(now - t0).count()),
                   round + 1, r.lost, r.wrong);
      next_progress += 1s;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::fprintf(stderr, "\n");
  return r;
}

// ----------------------------------------------------------------- output

const char* verdict(bool met) {
  return met ? "**met**" : "**not met**";
}

void row(const std::string& what, const std::string& broker, const std::string& raw = "",
         const std::string& ratio = "", const std::string& target = "") {
  std::printf("| %s | %s | %s | %s | %s |\n", what.c_str(), broker.c_str(), raw.c_str(),
              ratio.c_str(), target.c_str());
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string fmt2(const char* f, double v, double w) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, v, w);
  return buf;
}

// ----------------------------------------------------------------- the run

int run(const Args& args) {
  const long limit = fd_limit();
  const long conns = static_cast<long>(args.clients) * args.brokers;
  const int procs =
      args.procs > 0 ? args.procs : static_cast<int>((conns + kConnsPerProc - 1) / kConnsPerProc);
  const long per_proc = (conns + procs - 1) / procs;
  // Each client connection: its TCP descriptor and its socket's mailbox; a broker holds
  // one descriptor per peer (it inherits our limit).
  if (2 * per_proc + 200 > limit || args.clients + 200 > limit) {
    std::fprintf(stderr,
                 "%ld connections per client process need %ld descriptors, the limit is %ld "
                 "(ulimit -n): use more --procs\n",
                 per_proc, 2 * per_proc + 200, limit);
    return 1;
  }
  std::fprintf(stderr,
               "[bench] %d brokers, %d simulated peers x %d connections = %ld DEALERs in %d "
               "client processes (%ld connections, %ld descriptors each; limit %ld), %d "
               "threads each\n",
               args.brokers, args.clients, args.brokers, conns, procs, per_proc, 2 * per_proc,
               limit, args.threads);

  zmq::context_t ctx(1);
  Brokers brokers(args, ctx);
  for (int b = 0; b < brokers.count(); ++b) {
    if (brokers.process(b).wait(0ms) != -1) {
      std::fprintf(stderr, "zmesh-broker did not start on %s\n", brokers.endpoint(b).c_str());
      return 1;
    }
  }
  const long rss_start_kb = brokers.max_rss_kb();

  // Connect everyone (each connection's first Lookup is answered), then register
  // everyone with every broker at once: what a restarted broker sees.
  auto fleet = std::make_unique<Fleet>(brokers.endpoints(), args.clients, procs, args.threads,
                                       false, args.renew_ms);
  if (!fleet->wait_connected(180s)) return 1;
  const long rss_connected_kb = brokers.max_rss_kb();
  const double cpu_before_register = brokers.cpu_seconds();
  const auto t_register = Clock::now();
  fleet->register_all(std::chrono::milliseconds(args.register_over_ms));
  auto all_registered = [&] {
    for (int b = 0; b < args.brokers; ++b)
      if (fleet->at(b).registered < args.clients) return false;
    return true;
  };
  if (!wait_until([&] { return all_registered() || fleet->exited() > 0; }, 300s) ||
      !all_registered()) {
    std::fprintf(stderr, "only %ld of %ld registrations within 300 s\n",
                 fleet->total(&BrokerCounters::registered), conns);
    return 1;
  }
  const double register_ms = us_since(t_register) / 1000;
  std::fprintf(stderr, "[bench] %ld registrations in %.0f ms; waiting for the Events\n", conns,
               register_ms);
  const auto events_total = [&] { return fleet->total(&BrokerCounters::events); };
  const auto quiet = std::chrono::milliseconds(std::max(500, args.renew_ms));
  wait_quiet(events_total, quiet, 300s);
  const double events_ms = us_since(t_register) / 1000 - static_cast<double>(quiet.count());
  const double register_cpu_s = brokers.cpu_seconds() - cpu_before_register;
  const long join_events = fleet->at(0).events;
  const long join_bytes = fleet->at(0).event_bytes;
  const long rss_registered_kb = brokers.max_rss_kb();

  // Phases 2 and 3: renews, lookups, burst.
  LookupRun look;
  RawShape shape;
  std::string raw_ep;
  std::unique_ptr<Process> raw_server;  // answers the lookups like the broker, interleaved
  double cpu_idle_pct = 0;
  double cpu_busy_pct = 0;
  double renews_per_s = 0;
  long rss_max_kb = rss_registered_kb;
  long rss_steady_kb = -1;
  bool burst_ok = true;
  Latency renew_rtt;
  if (!args.storm_only) {
    // At least one renew interval, so that every peer renews in the window.
    const int idle_s = std::max({2, args.duration_s / 4, (args.renew_ms + 999) / 1000});
    std::fprintf(stderr, "[bench] renews only for %d s\n", idle_s);
    const long acks0 = fleet->total(&BrokerCounters::renew_acks);
    double cpu0 = brokers.cpu_seconds();
    auto t0 = Clock::now();
    for (int s = 0; s < idle_s * 4; ++s) {
      std::this_thread::sleep_for(250ms);
      rss_max_kb = std::max(rss_max_kb, brokers.max_rss_kb());
    }
    const double idle_wall = us_since(t0) / 1e6;
    cpu_idle_pct = 100 * (brokers.cpu_seconds() - cpu0) / idle_wall / args.brokers;
    renews_per_s =
        static_cast<double>(fleet->total(&BrokerCounters::renew_acks) - acks0) / idle_wall;

    std::fprintf(stderr, "[bench] renews + lookups for %d s\n", args.duration_s);
    // The raw server answers with the broker's sizes: learn them from broker 0.
    {
      long pages = 0;
      long bytes = 0;
      shape.name_bytes =
          brokers.looker(0).round_trip(Kind::lookup, encode(Lookup{client_name(0), ""}));
      (void)brokers.looker(0).listing("", client_service(0), &pages, &bytes, 5s,
                                      &shape.service_pages);
    }
    const int raw_port = free_port();
    raw_ep = "tcp://127.0.0.1:" + std::to_string(raw_port);
    std::string page_list;
    for (long n : shape.service_pages)
      page_list += (page_list.empty() ? "" : ",") + std::to_string(n);
    raw_server = std::make_unique<Process>(
        std::vector<std::string>{"/proc/self/exe", "--raw-server", std::to_string(raw_port),
                                 std::to_string(shape.name_bytes), page_list});
    Requester raw_q(ctx, raw_ep);
    (void)wait_until(
        [&] {
          return raw_q.round_trip(Kind::lookup, encode(Lookup{"nobody", ""}), nullptr, 100ms) >= 0;
        },
        10s);
    const auto rtt0 = fleet->renew_rtts();
    cpu0 = brokers.cpu_seconds();
    t0 = Clock::now();
    look = run_lookups(
        args, true,
        [&](std::size_t round) -> Requester& {
          return brokers.looker(static_cast<int>(round % static_cast<std::size_t>(args.brokers)));
        },
        &raw_q, shape, std::chrono::seconds(args.duration_s), SIZE_MAX,
        [&] { rss_max_kb = std::max(rss_max_kb, brokers.max_rss_kb()); });
    cpu_busy_pct = 100 * (brokers.cpu_seconds() - cpu0) / (us_since(t0) / 1e6) / args.brokers;
    auto rtt = fleet->renew_rtts();
    for (std::size_t i = 0; i < rtt.size(); ++i) rtt[i] -= rtt0[i];
    renew_rtt = LogHistogram::percentiles(rtt);

    std::fprintf(stderr, "[bench] %d more lookups from every connection, %d in flight\n", kBurst,
                 kWindow);
    burst_ok = fleet->burst(kBurst, burst_timeout(conns));
    rss_steady_kb = brokers.process(0).status_kb("VmRSS");
    rss_max_kb = std::max(rss_max_kb, brokers.max_rss_kb());
  }

  // Phase 4: the restart storm at broker 0.
  std::fprintf(stderr, "[bench] SIGKILL broker 0 and start a new one on the same port\n");
  const long events0 = fleet->at(0).events;
  const long bytes0 = fleet->at(0).event_bytes;
  const long unknown0 = fleet->at(0).unknown_peer;
  long others_events0 = 0;
  for (int b = 1; b < args.brokers; ++b) others_events0 += fleet->at(b).events;
  const auto t_kill = Clock::now();
  brokers.process(0).signal(SIGKILL);
  (void)brokers.process(0).wait(10s);
  if (!brokers.start(0)) {
    std::fprintf(stderr, "the restarted broker did not answer\n");
    return 1;
  }
  const double start_ms = us_since(t_kill) / 1000;
  // Until every kind of lookup there is complete again: a full listing of N, one service's
  // N/10, and one name (the last client's: it registers again like the others).
  double recovered_ms = -1;
  long polls = 0;
  long other_lookups = 0;
  long other_failed = 0;
  {
    std::mt19937 rng(7);
    const auto deadline = t_kill + 120s;
    while (Clock::now() < deadline) {
      ++polls;
      long pages = 0;
      long bytes = 0;
      const int who = std::uniform_int_distribution<int>(0, args.clients - 1)(rng);
      const long want_service = args.clients / 10 + (who % 10 < args.clients % 10 ? 1 : 0);
      const bool complete =
          brokers.looker(0).listing("", "", &pages, &bytes, 2s) == args.clients &&
          brokers.looker(0).listing("", client_service(who), &pages, &bytes, 2s) == want_service &&
          brokers.looker(0).listing(client_name(who), "", &pages, &bytes, 2s) == 1;
      if (complete) {
        recovered_ms = us_since(t_kill) / 1000;
        break;
      }
      for (int b = 1; b < args.brokers; ++b) {  // the others must not notice
        ++other_lookups;
        if (brokers.looker(b).listing(client_name(who), "", &pages, &bytes, 2s) != 1)
          ++other_failed;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  std::fprintf(stderr, "[bench] lookups complete again %.0f ms after the SIGKILL\n", recovered_ms);
  const bool reregistered = wait_until(
      [&] {
        return fleet->at(0).unknown_peer - unknown0 >= args.clients &&
               fleet->at(0).registered >= args.clients;
      },
      120s);
  const double reregister_ms = us_since(t_kill) / 1000;
  const auto events_at0 = [&] { return fleet->at(0).events.load(); };
  wait_quiet(events_at0, quiet, 120s);
  const double storm_drained_ms = us_since(t_kill) / 1000 - static_cast<double>(quiet.count());
  const double storm_cpu_s = brokers.process(0).cpu_seconds();  // the new broker's whole life
  const long storm_rss_kb = brokers.process(0).status_kb("VmRSS");
  const long storm_events = fleet->at(0).events - events0;
  const long storm_unknown = fleet->at(0).unknown_peer - unknown0;
  const long storm_bytes = fleet->at(0).event_bytes - bytes0;
  long others_events = -others_events0;
  for (int b = 1; b < args.brokers; ++b) others_events += fleet->at(b).events;

  // Phase 5: SIGTERM says Bye to every peer.
  const long byes0 = fleet->total(&BrokerCounters::byes);
  const auto t_term = Clock::now();
  bool brokers_ok = true;
  for (int b = 0; b < args.brokers; ++b) brokers.process(b).signal(SIGTERM);
  for (int b = 0; b < args.brokers; ++b)
    brokers_ok = exited_ok(brokers.process(b).wait(30s)) && brokers_ok;
  const double term_ms = us_since(t_term) / 1000;
  (void)wait_until([&] { return fleet->total(&BrokerCounters::byes) - byes0 >= conns; }, 5s, 5ms);
  const long byes = fleet->total(&BrokerCounters::byes) - byes0;
  const long unknown_total = fleet->total(&BrokerCounters::unknown_peer);
  const long rejected = fleet->total(&BrokerCounters::rejected);
  const long other_errors = fleet->total(&BrokerCounters::other_errors);
  const long undecodable = fleet->total(&BrokerCounters::undecodable);
  const double fleet_cpu_s = fleet->cpu_seconds();
  const bool fleet_ok = fleet->stop();
  fleet.reset();

  // Phase 6: the raw cppzmq ROUTER under the same clients (one connection each).
  long raw_connected_kb = -1;
  long raw_steady_kb = -1;
  LookupRun raw_look;
  if (!args.storm_only) {
    std::fprintf(stderr, "[bench] raw cppzmq ROUTER process, %d connections\n", args.clients);
    const int raw_procs = (args.clients + kConnsPerProc - 1) / kConnsPerProc;
    Fleet raw(std::vector<std::string>{raw_ep}, args.clients, raw_procs, args.threads, true,
              args.renew_ms);
    if (raw.wait_connected(180s)) {
      raw_connected_kb = raw_server->status_kb("VmRSS");
      raw.register_all(std::chrono::milliseconds(args.register_over_ms));
      (void)wait_until([&] { return raw.at(0).registered >= args.clients; }, 120s);
      Requester q(ctx, raw_ep);
      raw_look = run_lookups(
          args, false, [&](std::size_t) -> Requester& { return q; }, &q, shape,
          std::chrono::seconds(args.duration_s), look.by_name.size(), [] {});
      if (raw.burst(kBurst, burst_timeout(args.clients)))
        raw_steady_kb = raw_server->status_kb("VmRSS");
    }
    (void)raw.stop();
    (void)raw_server->stop(10s);
  }

  // ----------------------------------------------------------------- the table
  std::printf(
      "zmesh-broker x %d, %d simulated peers (%ld connections in %d client processes of %d "
      "threads; the limit is %ld descriptors per process), renew-ms %d, ttl-ms %d\n\n",
      args.brokers, args.clients, conns, procs, args.threads, limit, args.renew_ms, args.ttl_ms);
  std::printf("| measure | zmesh-broker | raw cppzmq | broker/raw | target |\n");
  std::printf("|---|---|---|---|---|\n");
  bool lookup_met = true;
  if (!args.storm_only) {
    const Latency ln = percentiles(look.by_name);
    const Latency ls = percentiles(look.by_service);
    const Latency la = percentiles(look.everyone);
    const struct {
      std::string what;
      Latency broker;
      Latency raw;     // interleaved with the broker's
      Latency loaded;  // later, the raw server holding N renewing connections
    } rows[] = {{"lookup by name (1 record, " + std::to_string(look.name_bytes) + " B)", ln,
                 percentiles(look.raw_by_name), percentiles(raw_look.raw_by_name)},
                {"lookup by service (" + std::to_string((args.clients + 9) / 10) + " records, " +
                     std::to_string(look.service_pages) + " pages, " +
                     std::to_string(look.service_bytes) + " B)",
                 ls, percentiles(look.raw_by_service), percentiles(raw_look.raw_by_service)}};
    for (const auto& r : rows) {
      row(r.what + " p50 (us)", fmt("%.1f", r.broker.p50_us), fmt("%.1f", r.raw.p50_us),
          fmt("%.2fx", r.broker.p50_us / r.raw.p50_us));
      const double ratio = r.broker.p99_us / r.raw.p99_us;
      const double loaded_ratio = r.broker.p99_us / r.loaded.p99_us;
      lookup_met = lookup_met && ratio <= 2.0 && loaded_ratio <= 2.0;
      row(r.what + " p99 (us)", fmt("%.1f", r.broker.p99_us), fmt("%.1f", r.raw.p99_us),
          fmt("%.2fx", ratio), std::string("<= 2x: ") + verdict(ratio <= 2.0));
      row(r.what + " p50 / p99 (us), raw measured after, holding " + std::to_string(args.clients) +
              " renewing connections",
          "", fmt2("%.1f / %.1f", r.loaded.p50_us, r.loaded.p99_us),
          fmt2("%.2fx / %.2fx", r.broker.p50_us / r.loaded.p50_us, loaded_ratio),
          std::string("<= 2x: ") + verdict(loaded_ratio <= 2.0));
    }
    row(("full listing (" + std::to_string(args.clients) + " records, " +
         fmt("%.2f", static_cast<double>(look.all_pages) /
                         static_cast<double>(std::max<std::size_t>(look.everyone.size(), 1))) +
         " pages, " + std::to_string(look.all_bytes) + " B) p50 / p99 (us)")
            .c_str(),
        fmt2("%.0f / %.0f", la.p50_us, la.p99_us));
    row("lookups measured (each kind; raw: interleaved, after)",
        std::to_string(look.by_name.size()),
        std::to_string(look.raw_by_name.size()) + ", " +
            std::to_string(raw_look.raw_by_name.size()));
    row("renew round trip p50 / p99 (us), during lookups",
        fmt2("%.0f / %.0f", renew_rtt.p50_us, renew_rtt.p99_us));
    row("renews answered per second (all brokers)", fmt("%.0f", renews_per_s));
    row("broker CPU, renews only (% of one core, per broker)", fmt("%.1f", cpu_idle_pct));
    row("broker CPU, renews + lookups (% of one core, per broker)", fmt("%.1f", cpu_busy_pct));
  }
  row("broker RSS at start (MB)", fmt("%.1f", mb(rss_start_kb)));
  row(("RSS, " + std::to_string(args.clients) + " connections, one request each (MB)").c_str(),
      fmt("%.1f", mb(rss_connected_kb)), args.storm_only ? "" : fmt("%.1f", mb(raw_connected_kb)),
      args.storm_only ? ""
                      : fmt("%.2fx", static_cast<double>(rss_connected_kb) /
                                         static_cast<double>(raw_connected_kb)));
  row("broker RSS after registration and its Events (MB)", fmt("%.1f", mb(rss_registered_kb)));
  bool rss_met = true;
  if (!args.storm_only) {
    const double ratio = static_cast<double>(rss_steady_kb) / static_cast<double>(raw_steady_kb);
    rss_met = raw_steady_kb > 0 && ratio <= 1.5;
    row(("RSS, " + std::to_string(args.clients) + " registered, renewing, after " +
         std::to_string(kBurst) + " more requests per connection (MB)")
            .c_str(),
        fmt("%.1f", mb(rss_steady_kb)), fmt("%.1f", mb(raw_steady_kb)), fmt("%.2fx", ratio),
        std::string("<= 1.5x: ") + verdict(rss_met));
    row("broker RSS, largest sample (MB)", fmt("%.1f", mb(rss_max_kb)));
  }
  row(("register " + std::to_string(args.clients) + " peers at every broker at once, all acks (ms)")
          .c_str(),
      fmt("%.0f", register_ms));
  row("first start: Event messages / MB per broker; drained after (ms)",
      fmt2("%.0f / %.1f", static_cast<double>(join_events), static_cast<double>(join_bytes) / 1e6) +
          fmt("; %.0f", events_ms));
  row("first start: broker CPU, registrations and Events (s, all brokers)",
      fmt("%.2f", register_cpu_s));
  const bool events_met = storm_events <= 3L * args.clients;
  const bool recovery_met = recovered_ms >= 0 && recovered_ms <= 5000;
  row("restart storm: Event messages sent by the new broker (N = " +
          std::string(std::to_string(args.clients)) + ")",
      fmt2("%.0f (%.2f per peer)", static_cast<double>(storm_events),
           static_cast<double>(storm_events) / args.clients),
      "", "", std::string("<= 3 N: ") + verdict(events_met));
  row("restart storm: Event bytes sent by the new broker (MB)",
      fmt("%.1f", static_cast<double>(storm_bytes) / 1e6));
  row("restart storm: SIGKILL to answering / all re-registered / Events drained (ms)",
      fmt2("%.0f / %.0f", start_ms, reregister_ms) + fmt(" / %.0f", storm_drained_ms));
  row("restart storm: SIGKILL until every lookup there is complete (ms)", fmt("%.0f", recovered_ms),
      "", "", std::string("<= 5000: ") + verdict(recovery_met));
  row("restart storm: the new broker's CPU over its life so far (s)", fmt("%.2f", storm_cpu_s));
  row("restart storm: the new broker's RSS (MB)", fmt("%.1f", mb(storm_rss_kb)));
  if (args.brokers > 1) {
    row("restart storm: by-name lookups at the other brokers meanwhile, failed",
        std::to_string(other_lookups) + ", " + std::to_string(other_failed));
    row("restart storm: Events received from the other brokers meanwhile",
        std::to_string(others_events));
  }
  row("client processes' CPU over the run (s)", fmt("%.1f", fleet_cpu_s));
  row("SIGTERM to exit (ms); Byes received",
      fmt("%.0f", term_ms) + "; " + std::to_string(byes) + " of " + std::to_string(conns));
  const bool ok = brokers_ok && fleet_ok && burst_ok && reregistered && recovered_ms >= 0 &&
                  look.lost == 0 && look.wrong == 0 && undecodable == 0 && other_failed == 0 &&
                  (args.storm_only || raw_steady_kb > 0);
  std::printf(
      "\nchecks: %s; brokers exited %s, clients exited %s, lost lookups %ld, wrong lookup "
      "counts %ld, renews answered UnknownPeer %ld (broker 0 after its restart: %ld), other "
      "Errors %ld, rejects %ld, undecodable %ld, recovery polls %ld\n",
      ok ? "ok" : "BAD", brokers_ok ? "0" : "BAD", fleet_ok ? "0" : "BAD", look.lost, look.wrong,
      unknown_total, storm_unknown, other_errors, rejected, undecodable, polls);
  std::printf(
      "targets: lookup p99 <= 2x raw %s; RSS <= 1.5x raw %s; storm events <= 3 N %s; "
      "recovery <= 5 s %s\n",
      args.storm_only ? "(not run)" : verdict(lookup_met),
      args.storm_only ? "(not run)" : verdict(rss_met), verdict(events_met), verdict(recovery_met));
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace zmesh::bench

int main(int argc, char** argv) {
  using namespace zmesh::bench;
  try {
    if (argc == 6 && std::strcmp(argv[1], "--client-proc") == 0)
      return client_process_main(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]),
                                 std::atoi(argv[5]));
    if (argc == 5 && std::strcmp(argv[1], "--raw-server") == 0)
      return raw_server_main(std::atoi(argv[2]), std::strtoul(argv[3], nullptr, 10), argv[4]);
    kill_children_on_signal();  // the brokers and client processes go with us
    return run(parse_args(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_broker: %s\n", e.what());
    return 1;
  }
}
