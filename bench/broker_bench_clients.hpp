// bench_broker's simulated peers: a fleet of client processes (this program, started with
// --client-proc), each holding a slice of the peers on a few threads, every peer with one
// DEALER per broker, as a real peer has. The parent steers them and reads their counters
// through one shared memory block (a memfd the children inherit).
//
// Why processes: one process may hold 20,000 descriptors (ulimit -n, hard), and each
// DEALER costs two (its TCP connection and its mailbox), so 10,000 peers x 3 brokers need
// at least four processes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "broker_bench_support.hpp"

namespace zmesh::bench {

inline constexpr int kMaxBrokers = 8;

/// What the simulated peers saw, per broker (summed over every client process).
struct BrokerCounters {
  std::atomic<long> connected{0};  ///< connections whose first Lookup was answered
  std::atomic<long> answers{0};    ///< further Lookups answered (burst)
  std::atomic<long> registered{0};
  std::atomic<long> renew_acks{0};
  std::atomic<long> unknown_peer{0};  ///< renews answered UnknownPeer: registered again
  std::atomic<long> other_errors{0};  ///< Errors other than UnknownPeer (e.g. DuplicateId)
  std::atomic<long> rejected{0};
  std::atomic<long> events{0};       ///< Event messages received
  std::atomic<long> event_bytes{0};  ///< their payload bytes
  std::atomic<long> byes{0};
  std::atomic<long> undecodable{0};
};

/// The block shared between the parent and every client process. Commands are counters
/// the children compare with what they last saw; all fields are lock-free atomics, which
/// work across processes.
struct FleetShared {
  char endpoints[kMaxBrokers][64] = {};
  std::atomic<int> brokers{0};
  std::atomic<int> echo_server{0};  ///< the endpoints echo (raw ROUTER): count echoes as acks
  std::atomic<int> renew_ms{1000};  ///< renew interval when echo_server (no RegisterAck)
  std::atomic<int> register_seq{0};
  std::atomic<long> register_spread_ms{0};
  std::atomic<int> burst_seq{0};
  std::atomic<int> burst_n{0};
  std::atomic<int> stop{0};
  std::atomic<int> threads_ready{0};
  BrokerCounters per_broker[kMaxBrokers];
  std::atomic<long> renew_rtt[LogHistogram::kBuckets] = {};
};

/// The parent's handle on the client processes. Peers [0, n) are spread over the
/// processes; peer i has name client_name(i) and service client_service(i).
class Fleet {
 public:
  /// Starts `procs` processes of `threads` threads each, holding `peers` peers with one
  /// DEALER to each of `endpoints`.
  Fleet(const std::vector<std::string>& endpoints, int peers, int procs, int threads,
        bool echo_server, int renew_ms);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  /// Waits until every connection's first Lookup was answered (or `timeout`).
  bool wait_connected(std::chrono::milliseconds timeout);
  /// Every peer registers with every broker, spread over `spread`.
  void register_all(std::chrono::milliseconds spread);
  /// Every connection sends `n` more Lookups, kWindow in flight; true once all answered.
  bool burst(int n, std::chrono::milliseconds timeout);
  /// Stops the processes (they exit once they see it), SIGKILL after 10 s; all exited 0.
  bool stop();

  BrokerCounters& at(int broker) { return shared_->per_broker[broker]; }
  /// Sum of one counter over every broker.
  [[nodiscard]] long total(std::atomic<long> BrokerCounters::*field) const;
  /// The renew round-trip histogram so far (subtract two snapshots for a window).
  [[nodiscard]] std::vector<long> renew_rtts() const;
  [[nodiscard]] int processes() const { return static_cast<int>(procs_.size()); }
  [[nodiscard]] int connections_per_process() const { return per_proc_conns_; }
  /// How many client processes have ended (each reported once on stderr); none should
  /// before stop().
  int exited();
  /// Their summed CPU seconds so far.
  [[nodiscard]] double cpu_seconds() const;

 private:
  int brokers_;
  int peers_;
  int per_proc_conns_ = 0;
  int memfd_ = -1;
  FleetShared* shared_ = nullptr;
  std::vector<std::unique_ptr<Process>> procs_;
  std::set<pid_t> reported_;
};

/// `bench_broker --client-proc FD FIRST COUNT THREADS`: one client process.
int client_process_main(int fd, int first, int count, int threads);

std::string client_name(int i);
std::string client_service(int i);

/// Lookups in flight per connection during a burst.
inline constexpr int kWindow = 8;

}  // namespace zmesh::bench
