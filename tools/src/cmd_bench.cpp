// zmesh bench: request/reply and pub/sub load from one process, like `nats bench`.
// The parties are in bench_runs.hpp; this file reads the flags, finds the responder, runs
// them on threads of their own with a progress line, and prints the figures.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "bench_report.hpp"
#include "bench_runs.hpp"
#include "commands.hpp"
#include "session.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/limits.hpp"

namespace zmesh::cli {
namespace {

constexpr std::size_t kMaxParties = 256;
constexpr std::uint64_t kDefaultCount = 10000;

struct Plan {
  std::size_t size = 128;
  std::uint64_t count = 0;  // 0: --duration
  std::chrono::milliseconds duration{0};
  std::string csv;
  bool progress = false;
};

PeerOptions party_options(const std::string& name, bool publishes) {
  PeerOptions o;
  o.name = name;
  o.register_with_brokers = false;
  o.bind.clear();
  if (!publishes) o.pub_bind.clear();
  o.workers = 1;
  return o;
}

std::string party_name(const char* role, std::size_t i) {
  return "zmesh-bench-" + std::to_string(getpid()) + "-" + role + "-" + std::to_string(i);
}

// `count` split over `parties`: the first ones take the remainder.
std::uint64_t share(std::uint64_t count, std::size_t parties, std::size_t i) {
  return count / parties + (i < count % parties ? 1 : 0);
}

// The live progress line: on a terminal rewritten in place, with --progress elsewhere
// one line a second.
class Progress {
 public:
  Progress(bool forced, bool quiet)
      : tty_(isatty(STDERR_FILENO) == 1), on_(!quiet && (forced || tty_)) {}
  void show(const std::string& text) {
    if (!on_) return;
    std::fprintf(stderr, tty_ ? "\r%s\x1b[K" : "%s\n", text.c_str());
    std::fflush(stderr);
  }
  void done() {
    if (on_ && tty_) std::fputs("\r\x1b[K", stderr);
  }

 private:
  bool tty_;
  bool on_;
};

// Waits for `done()` while showing `line()` once a second; a signal sets `stop` (the
// parties then finish what is in flight and return).
template <class Done, class Line>
void watch(Progress& progress, std::atomic<bool>& stop, Done&& done, Line&& line) {
  auto next = Clock::now() + std::chrono::seconds(1);
  while (!done()) {
    if (signalled(std::chrono::milliseconds(20))) stop.store(true);
    if (Clock::now() >= next) {
      progress.show(line());
      next += std::chrono::seconds(1);
    }
  }
}

std::string quota_text(const Plan& plan, const char* what) {
  return plan.count != 0 ? std::to_string(plan.count) + " " + what
                         : what + std::string(" for ") + human_duration(plan.duration);
}

// ----------------------------------------------------------------- request/reply

// The endpoints of the responders: <peer> (endpoint, name or id through the broker) or
// every peer offering --service (the clients take them in turn).
std::vector<std::string> find_responders(const Parsed& p, const std::optional<std::string>& peer,
                                         const std::optional<std::string>& service) {
  if (peer && peer->find("://") != std::string::npos) return {*peer};
  PeerOptions o = party_options("", false);
  Session s(p.common, "bench", o);
  s.require_broker(service ? "--service" : "resolving '" + *peer + "'");
  const bool by_id = peer && peer->size() == 16 && id_from_hex(*peer).has_value();
  auto f = s.peer().lookup(service || by_id ? "" : *peer, service.value_or(""), s.remaining());
  const auto members = s.await(f, "asking the broker", p.common.timeout);
  std::vector<std::string> endpoints;
  for (const auto& m : members) {
    if (m.endpoints.empty()) continue;
    if (by_id && m.id != *id_from_hex(*peer) && m.name != *peer) continue;
    endpoints.push_back(m.endpoints.front());
  }
  if (endpoints.empty()) {
    throw Failure(kExitUnreachable, service ? "no peer offers service '" + *service + "'"
                                            : "no peer '" + *peer +
                                                  "' with an endpoint is known "
                                                  "to the broker");
  }
  return endpoints;
}

int run_requests(const Parsed& p, const Plan& plan) {
  const auto service = opt<std::string>(p.vm, "service");
  const bool self = p.vm.count("self") != 0;
  const std::optional<std::string> peer =
      p.args.size() > 1 ? std::optional<std::string>(p.args[1]) : std::nullopt;
  if (static_cast<int>(self) + static_cast<int>(service.has_value()) +
          static_cast<int>(peer.has_value()) !=
      1) {
    throw UsageError("bench request needs exactly one of <peer>, --service S and --self");
  }
  if (peer) check_target(*peer);
  const std::string type = p.vm["type"].as<std::string>();
  check_type(type);
  const auto clients = static_cast<std::size_t>(parse_count(p.vm, "clients", 1, kMaxParties));
  const auto window = static_cast<std::size_t>(parse_count(p.vm, "window", 1, 100000));
  Output out(p.common.format, p.common.quiet);

  // --self: an echo responder in this process, on its own Peer (and so its own sockets).
  std::unique_ptr<Peer> responder;
  Registration echo;
  std::vector<std::string> endpoints;
  if (self) {
    PeerOptions o;
    o.name = party_name("responder", 0);
    o.pub_bind.clear();
    o.workers = 1;
    responder = std::make_unique<Peer>(o);
    echo = responder->on(type, [](const Message& m) { return std::string(m.text()); });
    responder->start();
    endpoints.push_back(responder->endpoint());
  } else {
    endpoints = find_responders(p, peer, service);
  }

  std::vector<std::unique_ptr<BenchRequester>> parties;
  for (std::size_t i = 0; i < clients; ++i) {
    PeerOptions o = party_options(party_name("client", i), false);
    o.request_timeout = p.common.timeout;
    o.connect_timeout = p.common.timeout;
    parties.push_back(std::make_unique<BenchRequester>(i, o));
    const std::string& ep = endpoints[i % endpoints.size()];
    try {
      parties.back()->connect(ep, p.common.timeout);
    } catch (const Error& e) {
      throw failure_from(e, "connecting to '" + ep + "'", p.common.timeout.count());
    }
  }
  out.info("bench request: " + std::to_string(clients) + " client(s) x window " +
           std::to_string(window) + ", " + std::to_string(plan.size) + " B payloads, " +
           quota_text(plan, "requests") + ", type " + type + ", to " +
           (self ? endpoints.front() + " (--self)" : endpoints.front()) +
           (endpoints.size() > 1 ? " and " + std::to_string(endpoints.size() - 1) + " more" : ""));

  const std::string payload(plan.size, 'r');
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> finished{0};
  const auto start = BenchClock::now();
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (std::size_t i = 0; i < clients; ++i) {
    const BenchQuota q{plan.count == 0 ? 0 : share(plan.count, clients, i), start + plan.duration};
    threads.emplace_back([&, i, q] {
      parties[i]->run(type, payload, window, q, start, stop);
      finished.fetch_add(1);
    });
  }
  Progress progress(plan.progress, p.common.quiet);
  watch(
      progress, stop, [&] { return finished.load() == clients; },
      [&] {
        std::uint64_t done = 0;
        for (const auto& c : parties) done += c->completed();
        const double s = std::chrono::duration<double>(BenchClock::now() - start).count();
        return "bench: " + std::to_string(done) +
               (plan.count != 0 ? "/" + std::to_string(plan.count) : "") + " requests, " +
               format_fixed(static_cast<double>(done) / s, 0) + " msgs/s";
      });
  for (auto& t : threads) t.join();
  progress.done();
  std::vector<BenchResult> results;
  results.reserve(parties.size());
  for (auto& c : parties) results.push_back(c->result());
  parties.clear();
  if (responder) responder->stop();
  report_bench(out, plan.size, plan.csv, results);
  return stop.load() ? kExitInterrupted : kExitOk;
}

// ----------------------------------------------------------------- pub/sub

int run_pubsub(const Parsed& p, const Plan& plan) {
  if (p.args.size() > 1) throw UsageError("unexpected argument '" + p.args[1] + "'");
  const auto publishers = static_cast<std::size_t>(parse_count(p.vm, "publishers", 1, kMaxParties));
  const auto subscribers =
      static_cast<std::size_t>(parse_count(p.vm, "subscribers", 0, kMaxParties));
  const auto rate = static_cast<double>(parse_count(p.vm, "rate", 0, 100'000'000));
  if (plan.size < 8) throw UsageError("--size must be at least 8 for pubsub (a timestamp)");
  Output out(p.common.format, p.common.quiet);

  std::vector<std::unique_ptr<BenchPublisher>> pubs;
  std::vector<std::unique_ptr<BenchSubscriber>> subs;
  for (std::size_t i = 0; i < publishers; ++i) {
    pubs.push_back(std::make_unique<BenchPublisher>(i, party_options(party_name("pub", i), true)));
  }
  for (std::size_t i = 0; i < subscribers; ++i) {
    PeerOptions o = party_options(party_name("sub", i), false);
    // One worker per publisher (up to 4): each publisher's broadcasts stay in order on
    // theirs, and several publishers are not handled one at a time.
    o.workers = std::min<std::size_t>(publishers, 4);
    subs.push_back(std::make_unique<BenchSubscriber>(i, o));
    for (const auto& pub : pubs) subs.back()->follow(pub->pub_endpoint());
  }
  // Lossless start: every subscription in effect at every publisher before the first
  // broadcast.
  for (auto& s : subs) {
    try {
      s->sync(p.common.timeout);
    } catch (const Error& e) {
      throw failure_from(e, "waiting for the subscriptions", p.common.timeout.count());
    }
  }
  out.info("bench pubsub: " + std::to_string(publishers) + " publisher(s), " +
           std::to_string(subscribers) + " subscriber(s), " + std::to_string(plan.size) +
           " B payloads, " + quota_text(plan, "broadcasts") +
           (rate > 0 ? ", " + format_fixed(rate, 0) + "/s each" : std::string()));

  std::atomic<bool> stop{false};
  std::atomic<std::size_t> finished{0};
  const auto start = BenchClock::now();
  std::vector<std::thread> threads;
  threads.reserve(publishers);
  for (std::size_t i = 0; i < publishers; ++i) {
    const BenchQuota q{plan.count == 0 ? 0 : share(plan.count, publishers, i),
                       start + plan.duration};
    threads.emplace_back([&, i, q] {
      pubs[i]->run(plan.size, rate, q, start, stop);
      finished.fetch_add(1);
    });
  }
  Progress progress(plan.progress, p.common.quiet);
  const auto published = [&] {
    std::uint64_t n = 0;
    for (const auto& pub : pubs) n += pub->published();
    return n;
  };
  const auto received = [&] {
    std::uint64_t n = 0;
    for (const auto& s : subs) n += s->received();
    return n;
  };
  const auto line = [&] {
    return "bench: " + std::to_string(published()) + " published, " + std::to_string(received()) +
           " received";
  };
  watch(
      progress, stop, [&] { return finished.load() == publishers; }, line);
  for (auto& t : threads) t.join();
  // The subscribers get until --timeout after the last publish to receive the rest;
  // what has not arrived by then is lost.
  const std::uint64_t total = published();
  const auto drain_end = Clock::now() + p.common.timeout;
  std::atomic<bool> no_stop{false};
  watch(
      progress, no_stop,
      [&] {
        if (Clock::now() >= drain_end || stop.load() || signalled()) return true;
        for (const auto& s : subs) {
          if (s->received() < total) return false;
        }
        return true;
      },
      line);
  progress.done();
  std::vector<BenchResult> results;
  results.reserve(publishers + subscribers);
  for (auto& pub : pubs) results.push_back(pub->result());
  for (auto& s : subs) results.push_back(s->result(total, start));
  subs.clear();
  pubs.clear();
  report_bench(out, plan.size, plan.csv, results);
  return stop.load() ? kExitInterrupted : kExitOk;
}

}  // namespace

CommandLine describe_bench() {
  CommandLine c;
  c.name = "bench";
  c.summary = "measure request/reply or pub/sub: msgs/s, MB/s, latency percentiles";
  c.synopsis =
      "zmesh bench request (<peer> | --service S | --self) [options]\n"
      "zmesh bench pubsub [--publishers N] [--subscribers M] [options]";
  c.description =
      "Runs load from this process and prints, per client and in total: messages, errors,\n"
      "losses, seconds, msgs/s, MB/s (10^6 bytes of payload a second, one way) and latency\n"
      "percentiles p50/p90/p99/p99.9/max in microseconds, from a log-linear histogram (within\n"
      "0.8 %). Each client, publisher and subscriber is a Peer of its own, with its own\n"
      "connection and thread. A progress line goes to stderr each second on a terminal (and\n"
      "with --progress elsewhere). SIGINT/SIGTERM stop the load, the figures so far are\n"
      "printed, and the exit code is 130. A run in which any request or publish failed, or a\n"
      "subscriber lost a broadcast, prints its figures and exits 1 (\"zmesh: bench: N "
      "errors\").\n\n"
      "request: --clients clients, each keeping up to --window requests of <type> (--type)\n"
      "in flight, to <peer> (an endpoint, or a name or id through the broker), to the peers\n"
      "offering --service (the clients take them in turn), or with --self to an echo\n"
      "responder this process starts. Latency is the round trip. A request that fails\n"
      "(timeout after --timeout, remote error, ...) counts as an error.\n"
      "pubsub: --publishers publishers, each broadcasting on its own topic, and --subscribers\n"
      "subscribers to all of them; the subscribers' subscriptions are confirmed in effect\n"
      "before the first broadcast. Latency is one way, publish to handler. A subscriber gets\n"
      "up to --timeout after the last broadcast; what it has not received by then is lost.\n\n"
      "--count is the total over the clients (or publishers); with --duration they run that\n"
      "long instead. --csv FILE writes a header and one row per client, publisher and\n"
      "subscriber, with the columns\n"
      "  role,index,messages,errors,lost,seconds,msgs_per_s,mb_per_s,p50_us,p90_us,p99_us,\n"
      "  p999_us,max_us\n"
      "(latency columns empty for publishers). --format json prints one object per row and\n"
      "one per role's total.\n";
  c.examples =
      "  zmesh bench request --self --clients 4 --window 16 --count 100000\n"
      "  zmesh bench request echo-1 --type Echo --size 1024 --duration 10s --csv run.csv\n"
      "  zmesh bench request --service echo --clients 8\n"
      "  zmesh bench pubsub --publishers 2 --subscribers 4 --count 200000 --rate 20000\n";
  c.options.add_options()("self", "request: bench against a responder started in this process")(
      "service,s", po::value<std::string>()->value_name("SERVICE"),
      "request: bench the peers offering SERVICE")(
      "type", po::value<std::string>()->value_name("TYPE")->default_value("Echo"),
      "request: the message type")("clients,c",
                                   po::value<std::string>()->value_name("N")->default_value("1"),
                                   "request: clients, each a Peer of its own (1..256)")(
      "window,w", po::value<std::string>()->value_name("W")->default_value("1"),
      "request: requests in flight per client")(
      "publishers", po::value<std::string>()->value_name("N")->default_value("1"),
      "pubsub: publishers (1..256)")("subscribers",
                                     po::value<std::string>()->value_name("M")->default_value("1"),
                                     "pubsub: subscribers (0..256)")(
      "rate", po::value<std::string>()->value_name("R")->default_value("0"),
      "pubsub: broadcasts a second per publisher (0 = as fast as it can)")(
      "size", po::value<std::string>()->value_name("BYTES")->default_value("128"), "payload size")(
      "count,n", po::value<std::string>()->value_name("N"), "messages in all (default 10000)")(
      "duration,d", po::value<std::string>()->value_name("DURATION"),
      "run this long instead of --count: 10s, 1m")(
      "csv", po::value<std::string>()->value_name("FILE"), "write one CSV row per client to FILE")(
      "progress", "show the progress line even when stderr is not a terminal");
  c.arg_names = {"request or pubsub"};
  c.min_args = 1;
  c.max_args = 2;
  return c;
}

int run_bench(const Parsed& p) {
  const std::string& mode = p.args[0];
  if (mode != "request" && mode != "pubsub") {
    throw UsageError("bench mode must be request or pubsub (got '" + mode + "')");
  }
  if (!p.common.secret_key.empty()) {
    // Its clients, publishers and subscribers are Peers of their own, built without the
    // Session's CURVE settings: refuse rather than measure a handshake failure.
    throw UsageError("zmesh bench does not take --key yet: its parties run plaintext");
  }
  Plan plan;
  plan.size = static_cast<std::size_t>(parse_count(p.vm, "size", 0, Limits{}.max_payload_bytes));
  if (p.vm.count("count") != 0 && p.vm.count("duration") != 0) {
    throw UsageError("choose one of --count and --duration");
  }
  if (p.vm.count("duration") != 0) {
    plan.duration = parse_duration(p.vm["duration"].as<std::string>(), "duration");
    if (plan.duration.count() == 0) throw UsageError("--duration must be more than zero");
  } else {
    plan.count = p.vm.count("count") != 0 ? parse_count(p.vm, "count", 1) : kDefaultCount;
  }
  plan.csv = opt<std::string>(p.vm, "csv").value_or("");
  plan.progress = p.vm.count("progress") != 0;
  return mode == "request" ? run_requests(p, plan) : run_pubsub(p, plan);
}

}  // namespace zmesh::cli
