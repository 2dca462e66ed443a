// The client side of tests/partition/partition_test.sh: a Peer in a network namespace of
// its own that keeps requests (to each target peer by name) and lookups running while it
// cuts and heals links on the test's bridge, and checks what the issue asks for:
//  - one peer cut off: what was pending on it fails with peer_gone, the other peers keep
//    answering every request, lookups stop offering it once the brokers expired it;
//  - one broker cut off: nothing fails;
//  - healed: the peer is back in lookups and answers again;
//  - throughout: every request gets exactly one outcome, and every answer is its own.
// Prints figures and the first violation; exits 0 when none, 1 otherwise.
//
// usage: partition_probe BROKERS HUB_NS CUT_PEER_LINK CUT_BROKER_LINK TARGET...
//   BROKERS          comma-separated broker endpoints
//   HUB_NS           the namespace holding the bridge (links are cut there)
//   CUT_PEER_LINK    the bridge-side interface of the peer to cut (its target is the last)
//   CUT_BROKER_LINK  the bridge-side interface of the broker to cut
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "zmesh/core/errors.hpp"
#include "zmesh/peer.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using zmesh::errc;

std::string kind_name(errc k) {
  return zmesh::make_error_code(k).message();
}

struct Outcome {
  std::size_t ok = 0;
  std::map<std::string, std::size_t> errors;  // by errc name
};

class Probe {
 public:
  Probe(zmesh::Peer& peer, std::vector<std::string> targets)
      : peer_(peer), targets_(std::move(targets)), t0_(Clock::now()) {}

  /// One round: collect answers, send what is due, look up. `phase` labels outcomes.
  void round(const std::string& phase) {
    for (const auto& t : targets_) {
      auto& s = state_[t];
      if (s.pending && s.pending->wait_for(0ms) == std::future_status::ready) {
        finish(t, s, phase);
      }
      if (!s.pending) send(t, s);
    }
    if (!lookup_ || lookup_->wait_for(0ms) == std::future_status::ready) {
      if (lookup_) {
        try {
          std::set<std::string> names;
          for (const auto& m : lookup_->get()) names.insert(m.name);
          offered_ = names;
        } catch (const zmesh::Error& e) {
          fail("a lookup failed in phase " + phase + ": " + e.what());
        }
      }
      lookup_ = peer_.lookup("", "echo", 3s);
    }
    std::this_thread::sleep_for(20ms);
  }
  /// Rounds until `done` holds (true) or `limit` passes (false).
  template <class Pred>
  bool run_until(const std::string& phase, Clock::duration limit, Pred done) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      round(phase);
      if (done()) return true;
    }
    return false;
  }
  void run_for(const std::string& phase, Clock::duration d) {
    (void)run_until(phase, d, [] { return false; });
  }
  /// Waits for every pending request to end.
  void drain(const std::string& phase) {
    for (auto& [t, s] : state_) {
      if (!s.pending) continue;
      if (s.pending->wait_for(15s) != std::future_status::ready) {
        fail("a request to " + t + " never ended");
        continue;
      }
      finish(t, s, phase);
    }
  }

  [[nodiscard]] const Outcome& outcome(const std::string& target, const std::string& phase) {
    return outcomes_[target + "/" + phase];
  }
  [[nodiscard]] const std::set<std::string>& offered() const { return offered_; }
  [[nodiscard]] double since_start_ms() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
  }
  void fail(const std::string& what) {
    if (failures_.size() < 10) failures_.push_back(what);
    ++failure_count_;
  }
  [[nodiscard]] std::size_t failure_count() const { return failure_count_; }
  [[nodiscard]] const std::vector<std::string>& failures() const { return failures_; }
  [[nodiscard]] std::size_t issued() const { return issued_; }
  [[nodiscard]] std::size_t ended() const { return ended_; }
  /// When a request to `target` first failed with peer_gone (ms since start), if ever.
  [[nodiscard]] std::optional<double> gone_at(const std::string& target) const {
    auto it = gone_at_.find(target);
    if (it == gone_at_.end()) return std::nullopt;
    return it->second;
  }

 private:
  struct Target {
    std::optional<zmesh::PeerId> id;
    std::optional<zmesh::Future<zmesh::Response>> pending;
    std::optional<zmesh::Future<zmesh::PeerId>> connecting;
    std::string payload;
  };

  void send(const std::string& t, Target& s) {
    if (!s.id) {
      if (!s.connecting) s.connecting = peer_.connect_by_name(t);
      if (s.connecting->wait_for(0ms) != std::future_status::ready) return;
      try {
        s.id = s.connecting->get();
      } catch (const zmesh::Error& e) {
        outcomes_[t + "/connect"].errors[std::string("connect:") + kind_name(e.kind())]++;
      }
      s.connecting.reset();
      if (!s.id) return;
    }
    s.payload = t + "#" + std::to_string(++seq_);
    s.pending = peer_.request(*s.id, "Echo", s.payload, 2s);
    ++issued_;
  }
  void finish(const std::string& t, Target& s, const std::string& phase) {
    ++ended_;
    try {
      const auto r = s.pending->get();
      if (r.payload != s.payload) {
        fail("a request to " + t + " was answered with another's payload: sent '" + s.payload +
             "', got '" + r.payload + "'");
      }
      outcomes_[t + "/" + phase].ok++;
    } catch (const zmesh::Error& e) {
      outcomes_[t + "/" + phase].errors[kind_name(e.kind())]++;
      if (e.kind() == errc::peer_gone) gone_at_.emplace(t, since_start_ms());  // the first
      s.id.reset();  // resolve the name again
    }
    s.pending.reset();
  }

  zmesh::Peer& peer_;
  std::vector<std::string> targets_;
  Clock::time_point t0_;
  std::map<std::string, Target> state_;
  std::map<std::string, Outcome> outcomes_;
  std::map<std::string, double> gone_at_;
  std::optional<zmesh::Future<std::vector<zmesh::MemberInfo>>> lookup_;
  std::set<std::string> offered_;
  std::size_t seq_ = 0;
  std::size_t issued_ = 0;
  std::size_t ended_ = 0;
  std::vector<std::string> failures_;
  std::size_t failure_count_ = 0;
};

void link(const std::string& hub, const std::string& ifname, const char* state) {
  const std::string cmd = "ip -n " + hub + " link set " + ifname + " " + state;
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "partition_probe: '" << cmd << "' failed\n";
    std::exit(2);
  }
}

std::string describe(const Outcome& o) {
  std::string s = std::to_string(o.ok) + " ok";
  for (const auto& [k, n] : o.errors) s += ", " + std::to_string(n) + " " + k;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: partition_probe BROKERS HUB_NS CUT_PEER_LINK CUT_BROKER_LINK TARGET...\n";
    return 2;
  }
  const std::string brokers = argv[1];
  const std::string hub = argv[2];
  const std::string peer_link = argv[3];
  const std::string broker_link = argv[4];
  std::vector<std::string> targets(argv + 5, argv + argc);
  const std::string cut = targets.back();  // the peer behind peer_link
  std::vector<std::string> others(targets.begin(), targets.end() - 1);

  zmesh::PeerOptions o;
  o.name = "probe";
  o.bind.clear();
  o.pub_bind.clear();
  o.workers = 2;
  o.broker = brokers;
  o.heartbeat_interval = 200ms;
  o.heartbeat_timeout = 1000ms;
  o.connect_timeout = 1000ms;
  zmesh::Peer peer(o);
  peer.start();
  Probe probe(peer, targets);
  const std::set<std::string> all(targets.begin(), targets.end());
  bool ok = true;
  auto check = [&](bool cond, const std::string& what) {
    if (!cond) {
      std::cout << "FAIL: " << what << "\n";
      ok = false;
    }
  };

  // Everyone answers, through every broker's view.
  check(probe.run_until("warm", 20s,
                        [&] {
                          if (probe.offered() != all) return false;
                          for (const auto& t : targets) {
                            if (probe.outcome(t, "warm").ok == 0) return false;
                          }
                          return true;
                        }),
        "the mesh never came up: not every target answered and was offered");
  probe.run_for("baseline", 1s);

  // 1. Cut one peer off.
  const double cut_at = probe.since_start_ms();
  link(hub, peer_link, "down");
  const bool dropped =
      probe.run_until("cut-peer", 30s, [&] { return probe.offered().count(cut) == 0; });
  const double dropped_at = probe.since_start_ms();
  check(dropped, "lookups kept offering " + cut + " 30 s after it was cut off");
  probe.run_for("cut-peer", 1s);
  const auto gone = probe.gone_at(cut);
  check(gone.has_value(), "no request to " + cut + " failed with peer_gone after the cut");

  // 2. Cut one broker off as well: nothing may fail.
  link(hub, broker_link, "down");
  probe.run_for("cut-broker", 4s);

  // 3. Heal both.
  const double heal_at = probe.since_start_ms();
  link(hub, peer_link, "up");
  link(hub, broker_link, "up");
  const bool back = probe.run_until("heal", 30s, [&] {
    return probe.offered().count(cut) == 1 && probe.outcome(cut, "heal").ok > 0;
  });
  const double back_at = probe.since_start_ms();
  check(back, cut + " was not offered and answering again 30 s after healing");
  probe.run_for("after", 1s);
  probe.drain("after");

  // An uncut peer answers every request in every phase.
  auto check_uncut = [&](const std::string& t, const std::string& phase) {
    const auto& o2 = probe.outcome(t, phase);
    check(o2.errors.empty(), "requests to " + t + " failed in phase " + phase + " (" +
                                 describe(o2) + ") although it was never cut off");
    check(o2.ok > 0, "no request to " + t + " was answered in phase " + phase);
  };
  for (const std::string phase : {"baseline", "cut-peer", "cut-broker", "heal", "after"}) {
    for (const auto& t : others) check_uncut(t, phase);
  }
  check(probe.outcome(cut, "after").errors.empty(),
        cut + " failed requests after it was back: " + describe(probe.outcome(cut, "after")));
  check(probe.issued() == probe.ended(), "requests issued " + std::to_string(probe.issued()) +
                                             " but ended " + std::to_string(probe.ended()));
  check(probe.failure_count() == 0, std::to_string(probe.failure_count()) + " violations");
  for (const auto& f : probe.failures()) std::cout << "  " << f << "\n";

  std::cout << "figures: requests issued " << probe.issued() << ", ended " << probe.ended() << "\n";
  for (const std::string phase : {"baseline", "cut-peer", "cut-broker", "heal", "after"}) {
    std::cout << "figures: " << phase << ":";
    for (const auto& t : targets)
      std::cout << " " << t << " [" << describe(probe.outcome(t, phase)) << "]";
    std::cout << "\n";
  }
  if (gone) {
    std::cout << "figures: first peer_gone for " << cut << " " << (*gone - cut_at)
              << " ms after the cut\n";
  }
  std::cout << "figures: lookups stopped offering " << cut << " " << (dropped_at - cut_at)
            << " ms after the cut\n";
  std::cout << "figures: " << cut << " offered and answering again " << (back_at - heal_at)
            << " ms after healing\n";
  std::cout << (ok ? "PASS" : "FAIL") << "\n";
  return ok ? 0 : 1;
}
