// zmesh stats: the counters, connections and publishers of peers, asked over the mesh
// itself (the request type zmesh::kStatsRequestType, which every Peer answers).
#include <algorithm>

#include "commands.hpp"
#include "session.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::cli {
namespace {

// One peer to ask: what the user named it (for errors) and how to reach it.
struct Target {
  std::string label;
  std::string endpoint;  // "" = resolve `label` through Session::connect
};

std::vector<Target> targets_of(const Parsed& p, Session& s) {
  const auto service = opt<std::string>(p.vm, "service");
  const bool all = p.vm.count("all") != 0;
  if (!service && !all) return {Target{p.args[0], ""}};
  s.require_broker(all ? "--all" : "--service");
  auto f = s.peer().lookup("", service.value_or(""), s.remaining());
  auto members = s.await(f, "asking the broker", p.common.timeout);
  std::sort(members.begin(), members.end(), [](const MemberInfo& a, const MemberInfo& b) {
    return std::tie(a.name, a.id) < std::tie(b.name, b.id);
  });
  std::vector<Target> targets;
  for (const auto& m : members) {
    if (!m.endpoints.empty()) targets.push_back({m.name, m.endpoints.front()});
  }
  if (targets.empty()) {
    throw Failure(kExitUnreachable, service ? "no peer offers service '" + *service + "'"
                                            : "no peer with an endpoint is registered");
  }
  return targets;
}

std::string num(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() ? "-" : it->dump();
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

void print_text(Output& out, const std::vector<nlohmann::json>& answers, bool connections) {
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "CONNS", "SENT", "RECV", "REQS",
                                              "PENDING", "TIMEOUTS", "ERRORS", "HANDLED",
                                              "PUBLISHED", "BCAST_RECV", "GAPS", "MALFORMED"}};
  for (const auto& a : answers) {
    const auto& s = a["stats"];
    rows.push_back({a.value("name", ""), a.value("id", ""), num(s, "connections"), num(s, "sent"),
                    num(s, "received"), num(s, "requests_sent"), num(s, "pending"),
                    num(s, "timeouts"), num(s, "errors"), num(s, "handled"), num(s, "published"),
                    num(s, "broadcasts_received"), num(s, "gaps"), num(s, "malformed")});
  }
  print_table(out, rows);
  if (!connections) return;
  std::vector<std::vector<std::string>> conns{{"PEER", "REMOTE", "REMOTE_ID", "STATE", "DIR",
                                               "SENT", "RECV", "PENDING", "QUEUED_BYTES",
                                               "RTT_MS"}};
  for (const auto& a : answers) {
    for (const auto& c : a.value("connections", nlohmann::json::array())) {
      conns.push_back({a.value("name", ""), c.value("name", ""), c.value("peer", ""),
                       c.value("state", ""), c.value("outbound", false) ? "out" : "in",
                       num(c, "sent"), num(c, "received"), num(c, "pending"),
                       num(c, "queued_bytes"),
                       format_ms(static_cast<double>(c.value("rtt_us", 0)) / 1000.0)});
    }
  }
  out.line("");
  print_table(out, conns);
}

}  // namespace

CommandLine describe_stats() {
  CommandLine c;
  c.name = "stats";
  c.summary = "show peers' counters and connections, asked over the mesh";
  c.synopsis =
      "zmesh stats <peer> [options]\n"
      "zmesh stats (--service SERVICE | --all) [options]";
  c.description =
      "Asks each peer for its stats with a request of the reserved type zmesh.stats, which\n"
      "every zmesh Peer answers (applications cannot take it), and prints one row per peer:\n"
      "NAME, ID, CONNS (ready), SENT, RECV, REQS (sent), PENDING, TIMEOUTS, ERRORS, HANDLED,\n"
      "PUBLISHED, BCAST_RECV, GAPS, MALFORMED; with --connections also one row per\n"
      "connection of each. --service asks every peer offering the service, --all every peer\n"
      "the broker lists. With --format json: each peer's answer, one object per line: id,\n"
      "name, endpoint, pub_endpoint, stats, connections, publishers. A peer that does not\n"
      "answer is reported on stderr and the exit code is its failure's.\n";
  c.examples =
      "  zmesh stats pricing --broker tcp://127.0.0.1:7400\n"
      "  zmesh stats --all --connections\n"
      "  zmesh stats --service echo --format json\n";
  c.options.add_options()("service,s", po::value<std::string>()->value_name("SERVICE"),
                          "every peer offering SERVICE")("all", "every peer the broker lists")(
      "connections", "also list each peer's connections");
  c.arg_names = {"<peer> (or --service S or --all)"};
  c.min_args = 0;
  c.max_args = 1;
  return c;
}

int run_stats(const Parsed& p) {
  const int ways = static_cast<int>(p.args.size()) + static_cast<int>(p.vm.count("service")) +
                   static_cast<int>(p.vm.count("all"));
  if (ways != 1) throw UsageError("give exactly one of <peer>, --service S and --all");
  if (!p.args.empty()) check_target(p.args[0]);
  PeerOptions o;
  o.register_with_brokers = false;
  o.bind.clear();
  o.pub_bind.clear();
  o.workers = 1;
  Output out(p.common.format, p.common.quiet);
  Session s(p.common, "stats", o);
  s.connect_all();
  const std::vector<Target> targets = targets_of(p, s);

  // Connect to all, then ask all: one slow peer costs one --timeout, not one each.
  struct Asking {
    const Target* target;
    zmesh::Future<Response> answer;
  };
  std::vector<Asking> asking;
  int code = kExitOk;
  const auto failed = [&](const Failure& f) {
    out.info("zmesh: " + std::string(f.what()));
    if (code == kExitOk) code = f.code();
  };
  std::vector<std::pair<const Target*, zmesh::Future<PeerId>>> connecting;
  for (const auto& t : targets) {
    if (t.endpoint.empty()) {
      auto id = s.connect(t.label);  // one <peer>: its failure is the command's
      asking.push_back({&t, s.peer().request(id, kStatsRequestType, "", s.remaining())});
      continue;
    }
    try {
      connecting.emplace_back(&t, s.peer().connect(t.endpoint));
    } catch (const Error& e) {
      failed(failure_from(e, "connecting to '" + t.label + "'"));
    }
  }
  for (auto& [t, f] : connecting) {
    const std::string what = "connecting to '" + t->label + "'";
    try {
      const PeerId id = s.await(f, what, s.remaining());
      asking.push_back({t, s.peer().request(id, kStatsRequestType, "", s.remaining())});
    } catch (const Failure& e) {
      if (e.code() == kExitInterrupted) throw;
      failed(e);
    } catch (const Error& e) {
      failed(failure_from(e, what));
    }
  }
  std::vector<nlohmann::json> answers;
  for (auto& a : asking) {
    try {
      const Response r =
          s.await(a.answer, "stats request to '" + a.target->label + "'", p.common.timeout);
      auto j = nlohmann::json::parse(r.payload, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) {
        failed(Failure(kExitRemote, "'" + a.target->label + "' answered stats that are not JSON"));
        continue;
      }
      answers.push_back(std::move(j));
    } catch (const Failure& e) {
      if (e.code() == kExitInterrupted) throw;
      failed(e);
    }
  }
  if (out.json()) {
    for (const auto& a : answers) out.object(a);
  } else if (!answers.empty()) {
    print_text(out, answers, p.vm.count("connections") != 0);
  }
  return code;
}

}  // namespace zmesh::cli
