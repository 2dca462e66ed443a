// zmesh peers: the broker's membership; zmesh ping: round-trip times to one peer.
#include <algorithm>
#include <limits>

#include "commands.hpp"
#include "session.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::cli {
namespace {

std::string joined(const std::vector<std::string>& items) {
  if (items.empty()) return "-";
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ",") + i;
  return s;
}

// Rows of text as columns two spaces apart.
void print_table(Output& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out.line(line);
  }
}

}  // namespace

CommandLine describe_peers() {
  CommandLine c;
  c.name = "peers";
  c.summary = "list the peers registered with the broker";
  c.synopsis = "zmesh peers [--service SERVICE] [options]";
  c.description =
      "Asks the broker (--broker or $ZMESH_BROKER) for its membership and prints one row per\n"
      "peer: NAME, ID, SERVICES, ENDPOINTS (requests), PUB (broadcasts), AGE (since it\n"
      "registered). With --format json: one object per line with name, id, services,\n"
      "endpoints, pub_endpoints and age_ms. With several brokers it asks one that answers.\n"
      "It only looks up: it does not register, so it never lists itself.\n";
  c.examples =
      "  zmesh peers --broker tcp://127.0.0.1:7400\n"
      "  ZMESH_BROKER=tcp://127.0.0.1:7400 zmesh peers --service echo --format json\n";
  c.options.add_options()("service,s", po::value<std::string>()->value_name("SERVICE"),
                          "only peers offering SERVICE");
  return c;
}

int run_peers(const Parsed& p) {
  if (!p.common.connect.empty()) throw UsageError("--connect is not used by zmesh peers");
  PeerOptions o;
  o.bind.clear();
  o.pub_bind.clear();
  o.workers = 1;
  o.register_with_brokers = false;  // asking does not make us a member
  Output out(p.common.format, p.common.quiet);
  Session s(p.common, "peers", o);
  s.require_broker("listing peers");
  auto f = s.peer().lookup("", opt<std::string>(p.vm, "service").value_or(""), s.remaining());
  auto members = s.await(f, "asking the broker", p.common.timeout);
  std::sort(members.begin(), members.end(), [](const MemberInfo& a, const MemberInfo& b) {
    return std::tie(a.name, a.id) < std::tie(b.name, b.id);
  });
  if (out.json()) {
    for (const auto& m : members) {
      out.object({{"name", m.name},
                  {"id", id_to_hex(m.id)},
                  {"services", m.services},
                  {"endpoints", m.endpoints},
                  {"pub_endpoints", m.pub_endpoints},
                  {"age_ms", m.age_ms}});
    }
    return kExitOk;
  }
  if (members.empty()) {
    out.info("no peers registered at " + p.common.broker);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SERVICES", "ENDPOINTS", "PUB", "AGE"}};
  for (const auto& m : members) {
    rows.push_back({m.name, id_to_hex(m.id), joined(m.services), joined(m.endpoints),
                    joined(m.pub_endpoints), human_duration(std::chrono::milliseconds(m.age_ms))});
  }
  print_table(out, rows);
  return kExitOk;
}

CommandLine describe_ping() {
  CommandLine c;
  c.name = "ping";
  c.summary = "measure round-trip times to a peer";
  c.synopsis = "zmesh ping <peer> [--count N] [--interval DURATION] [options]";
  c.description =
      "Connects to <peer> and prints the round-trip time of each heartbeat it answers, one\n"
      "line per sample:\n"
      "  rtt to NAME (ID): seq=N time=0.123 ms\n"
      "(with --format json: {\"peer\",\"name\",\"id\",\"seq\",\"rtt_ms\"}); min/avg/max on stderr "
      "at\n"
      "exit. Runs until --count samples or SIGINT/SIGTERM; exits 3 when no sample comes for\n"
      "--timeout, 4 when the peer goes away. <peer> is an endpoint, a name or a peer id.\n";
  c.examples =
      "  zmesh ping tcp://127.0.0.1:7401 --count 5\n"
      "  zmesh ping pricing --broker tcp://127.0.0.1:7400 --interval 1s\n";
  c.options.add_options()("count,n", po::value<std::string>()->value_name("N")->default_value("0"),
                          "stop after N samples (0 = until a signal)")(
      "interval,i", po::value<std::string>()->value_name("DURATION")->default_value("200ms"),
      "time between pings (at least 10ms)");
  c.arg_names = {"<peer>"};
  c.min_args = 1;
  c.max_args = 1;
  return c;
}

int run_ping(const Parsed& p) {
  const std::string& target = p.args[0];
  check_target(target);
  const std::uint64_t count = parse_count(p.vm, "count");
  const auto interval = parse_duration(p.vm["interval"].as<std::string>(), "interval");
  if (interval < std::chrono::milliseconds(10))
    throw UsageError("--interval must be at least 10ms");
  PeerOptions o;
  o.bind.clear();
  o.pub_bind.clear();
  o.workers = 1;
  o.register_with_brokers = false;
  // The Peer measures round trips with its heartbeats: one ping per interval.
  o.heartbeat_interval = interval;
  o.heartbeat_timeout = std::max(std::chrono::milliseconds(3000), 5 * interval);
  Output out(p.common.format, p.common.quiet);
  Session s(p.common, "ping", o);
  const PeerId id = s.connect(target);
  const auto silence_limit = std::max(p.common.timeout, 3 * interval);
  auto last_sample_at = Clock::now();
  std::chrono::microseconds last{0};
  std::uint64_t samples = 0;
  double sum = 0, lo = std::numeric_limits<double>::max(), hi = 0;
  while ((count == 0 || samples < count) &&
         !signalled(std::max(interval / 5, std::chrono::milliseconds(5)))) {
    std::vector<ConnectionStats> conns;
    try {
      conns = s.peer().connections();
    } catch (const Error& e) {
      throw failure_from(e, "ping");
    }
    const auto c = std::find_if(conns.begin(), conns.end(),
                                [&](const ConnectionStats& x) { return x.peer == id; });
    if (c == conns.end() || c->state == ConnectionState::gone) {
      throw Failure(kExitUnreachable, "peer '" + target + "' gone");
    }
    if (c->last_rtt.count() != 0 && c->last_rtt != last) {
      last = c->last_rtt;
      last_sample_at = Clock::now();
      ++samples;
      const double ms = static_cast<double>(last.count()) / 1000.0;
      sum += ms, lo = std::min(lo, ms), hi = std::max(hi, ms);
      if (out.json()) {
        out.object({{"peer", target},
                    {"name", c->name},
                    {"id", id_to_hex(id)},
                    {"seq", samples},
                    {"rtt_ms", ms}});
      } else {
        out.line("rtt to " + c->name + " (" + id_to_hex(id) + "): seq=" + std::to_string(samples) +
                 " time=" + format_ms(ms) + " ms");
      }
    } else if (Clock::now() - last_sample_at > silence_limit) {
      throw Failure(kExitTimeout, "no answer from '" + target + "' within " +
                                      std::to_string(silence_limit.count()) + " ms");
    }
  }
  if (samples > 0) {
    out.info(std::to_string(samples) + " sample" + (samples == 1 ? "" : "s") +
             ", rtt min/avg/max = " + format_ms(lo) + "/" +
             format_ms(sum / static_cast<double>(samples)) + "/" + format_ms(hi) + " ms");
  }
  return kExitOk;
}

}  // namespace zmesh::cli
