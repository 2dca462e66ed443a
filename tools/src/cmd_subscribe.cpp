// zmesh subscribe: prints broadcasts whose topic starts with one of the prefixes.
#include <algorithm>
#include <map>
#include <mutex>

#include "commands.hpp"
#include "payload.hpp"
#include "session.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::cli {
namespace {

struct Received {
  std::mutex mu;
  std::uint64_t total = 0;                  // guarded by mu
  std::uint64_t missed = 0;                 // guarded by mu
  std::map<PeerId, std::uint64_t> by_peer;  // guarded by mu
  std::atomic<bool> done{false};
};

// A broadcast is delivered once per matching subscription; a prefix that extends
// another adds nothing but duplicates, so keep only the shortest of each family.
std::vector<std::string> minimal_prefixes(std::vector<std::string> prefixes) {
  std::sort(prefixes.begin(), prefixes.end());
  prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
  std::vector<std::string> kept;
  for (const auto& p : prefixes) {  // sorted: a prefix comes before what extends it
    if (kept.empty() || !p.starts_with(kept.back())) kept.push_back(p);
  }
  return kept;
}

}  // namespace

CommandLine describe_subscribe() {
  CommandLine c;
  c.name = "subscribe";
  c.summary = "print broadcasts whose topic starts with a prefix";
  c.synopsis = "zmesh subscribe <prefix>... [--count N] [--connect PUB_EP]... [options]";
  c.description =
      "Subscribes to every publisher of the broker's membership (--broker; publishers that\n"
      "join later are followed too) and/or to the PUB endpoints given with --connect, and\n"
      "prints one line per broadcast on stdout:\n"
      "  TIME TOPIC PUBLISHER SEQUENCE TYPE PAYLOAD\n"
      "TIME is UTC ISO 8601, PUBLISHER the 16-hex-digit peer id, PAYLOAD the text with \\n, \\r,\n"
      "\\t and \\\\ escaped, or \"base64:\" and its base64 when it is not UTF-8 text. With\n"
      "--format json each line is "
      "{\"time\",\"topic\",\"publisher\",\"sequence\",\"type\",\"payload\",\n"
      "\"encoding\"} (encoding text or base64). Once the subscriptions are in effect at every\n"
      "publisher known so far, \"subscribed to ...\" goes to stderr; missed broadcasts\n"
      "(sequence gaps) are reported there as they are noticed, and the totals at exit. Runs\n"
      "until --count broadcasts or SIGINT/SIGTERM. An empty prefix ('') matches every topic.\n"
      "--last first asks every publisher known so far for the last value it retains of each\n"
      "matching topic (`zmesh publish --retain`): those lines show SEQUENCE as N(retained)\n"
      "(JSON: \"retained\":true) and come before the live ones of that publisher.\n";
  c.connect_help = "a publisher's PUB endpoint to subscribe to (repeatable)";
  c.examples =
      "  zmesh subscribe weather/ --broker tcp://127.0.0.1:7400\n"
      "  zmesh subscribe '' --connect tcp://127.0.0.1:7402 --count 10 --format json\n"
      "  zmesh subscribe weather/ --last --broker tcp://127.0.0.1:7400\n";
  c.options.add_options()("count,n", po::value<std::string>()->value_name("N")->default_value("0"),
                          "exit after N broadcasts (0 = until a signal)")(
      "last", "first receive the last value publishers retain of each matching topic");
  c.arg_names = {"<prefix>"};
  c.min_args = 1;
  c.max_args = SIZE_MAX;
  return c;
}

int run_subscribe(const Parsed& p) {
  const std::uint64_t count = parse_count(p.vm, "count");
  const std::vector<std::string> prefixes = minimal_prefixes(p.args);
  if (p.common.broker.empty() && p.common.connect.empty()) {
    throw UsageError(
        "nothing to subscribe to: give --broker EP (or $ZMESH_BROKER) or --connect PUB_EP");
  }
  PeerOptions o;
  o.bind.clear();
  o.pub_bind.clear();
  o.workers = 2;
  // Lookup-only: publishers that join later are found by listing the membership again.
  o.register_with_brokers = false;
  o.membership_refresh = std::chrono::seconds(1);
  Output out(p.common.format, p.common.quiet);
  Received st;
  Session s(p.common, "subscribe", o);

  auto on_broadcast = [&](const Message& m) {
    std::lock_guard lock(st.mu);
    if (st.done.load()) return;
    ++st.total;
    ++st.by_peer[m.sender()];
    const std::string publisher = id_to_hex(m.sender());
    if (out.json()) {
      nlohmann::json j{{"time", iso_time_now()},
                       {"topic", m.topic()},
                       {"publisher", publisher},
                       {"sequence", m.sequence()},
                       {"type", m.type()}};
      if (m.retained()) j["retained"] = true;
      add_payload(j, m.text());
      if (!out.object(j)) st.done.store(true);
    } else if (!out.line(iso_time_now() + " " + std::string(m.topic()) + " " + publisher + " " +
                         std::to_string(m.sequence()) + (m.retained() ? "(retained) " : " ") +
                         std::string(m.type()) + " " + payload_line(m.text()))) {
      st.done.store(true);  // stdout closed: nobody is reading any more
    }
    if (count != 0 && st.total >= count) st.done.store(true);
  };
  auto on_gap = [&](PeerId publisher, std::string_view topic, std::uint64_t missed) {
    {
      std::lock_guard lock(st.mu);
      st.missed += missed;
    }
    out.info("zmesh: missed " + std::to_string(missed) + " broadcast" + (missed == 1 ? "" : "s") +
             " from " + id_to_hex(publisher) + " on '" + std::string(topic) + "'");
  };

  std::vector<Registration> regs;
  try {
    for (const auto& prefix : prefixes) regs.push_back(s.peer().subscribe(prefix, on_broadcast));
    regs.push_back(s.peer().on_gap(on_gap));
    for (const auto& e : p.common.connect) s.peer().subscribe_to(e, p.common.server_key);
  } catch (const Error& e) {
    throw UsageError(reason_of(e));
  }
  if (!p.common.broker.empty() && !s.join_broker(p.common.timeout)) {
    out.info("zmesh: warning: broker at " + p.common.broker + " did not answer within " +
             std::to_string(p.common.timeout.count()) + " ms; still trying");
  }
  std::string names;
  for (const auto& prefix : prefixes) names += (names.empty() ? "'" : ", '") + prefix + "'";
  const bool last = p.vm.count("last") != 0;
  try {
    if (last) {
      // One sync per prefix, each asking for that prefix's last values.
      for (const auto& prefix : prefixes) {
        auto sync = s.peer().sync_subscriptions_with_last(prefix, s.remaining());
        s.await(sync, "confirming the subscriptions", s.remaining());
      }
    } else {
      auto sync = s.peer().sync_subscriptions(s.remaining());
      s.await(sync, "confirming the subscriptions", s.remaining());
    }
    out.info("subscribed to " + names);
  } catch (const Failure& e) {
    if (e.code() != kExitTimeout) throw;
    // A publisher that is not up yet: keep going, it gets our subscriptions when it is.
    out.info("zmesh: warning: " + std::string(e.what()) + "; subscribed to " + names +
             " anyway (broadcasts from publishers that did not confirm may be missed)");
  }

  auto next_progress = Clock::now() + std::chrono::seconds(1);
  while (!st.done.load() && !signalled(std::chrono::milliseconds(50))) {
    if (Clock::now() >= next_progress) {
      std::lock_guard lock(st.mu);
      out.progress("received " + std::to_string(st.total) + ", missed " +
                   std::to_string(st.missed));
      next_progress += std::chrono::seconds(1);
    }
  }
  s.peer().stop();
  regs.clear();
  out.done_progress();
  std::lock_guard lock(st.mu);
  out.info("received " + std::to_string(st.total) + " broadcast" + (st.total == 1 ? "" : "s") +
           " from " + std::to_string(st.by_peer.size()) + " publisher" +
           (st.by_peer.size() == 1 ? "" : "s") + ", missed " + std::to_string(st.missed));
  return kExitOk;
}

}  // namespace zmesh::cli
