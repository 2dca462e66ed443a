// bench_broker's small parts: child processes, latency figures, waiting, the lookup client.
// Every function here runs on the calling thread; nothing is shared between threads.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"

namespace zmesh::bench {

using Clock = std::chrono::steady_clock;

struct Latency {
  double p50_us = 0;
  double p99_us = 0;
  std::size_t n = 0;
};

/// p50 and p99 of `us` (sorted here).
[[nodiscard]] Latency percentiles(std::vector<double> us);

[[nodiscard]] inline double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

/// Polls `done` every `step` until it holds or `timeout` passed; true if it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(1));

/// Waits (at most `timeout`) until `count()` stops moving for one `quiet` interval.
void wait_quiet(const std::function<long()>& count, std::chrono::milliseconds quiet,
                std::chrono::milliseconds timeout);

/// A TCP port on 127.0.0.1 that was free a moment ago.
[[nodiscard]] int free_port();

/// A child process (a broker, or this program in another role), started with posix_spawn,
/// and SIGKILLed by its pid and reaped at destruction if still running.
class Process {
 public:
  explicit Process(std::vector<std::string> args);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Sends `sig` to the child (not if already reaped).
  void signal(int sig) const;
  /// Raw wait status, or -1 if it did not exit within `timeout`.
  int wait(std::chrono::milliseconds timeout);
  /// SIGTERM, then SIGKILL after `grace`; the raw wait status.
  int stop(std::chrono::milliseconds grace);
  /// VmRSS or VmHWM (peak) in kB from /proc/<pid>/status, -1 if unreadable.
  [[nodiscard]] long status_kb(const char* key) const;
  /// utime + stime in seconds from /proc/<pid>/stat.
  [[nodiscard]] double cpu_seconds() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C, `timeout`), SIGKILL every child Process still
/// running, by its pid, and exit 128 + the signal: nothing the bench started outlives it.
void kill_children_on_signal();

/// True if `status` (from Process::wait) is a clean exit 0.
[[nodiscard]] bool exited_ok(int status);

/// Sends [header, payload] on a DEALER.
void send_to_broker(zmq::socket_ref s, EnvelopeEncoder& enc, const PeerInfo& me, Kind kind,
                    std::uint64_t correlation_id, zmq::message_t payload);

/// One DEALER that asks one question at a time (the lookup client).
class Requester {
 public:
  Requester(zmq::context_t& ctx, const std::string& endpoint);
  /// One round trip; the answer's payload size, or -1 after `timeout`. `out` gets the
  /// payload bytes when given.
  long round_trip(Kind kind, zmq::message_t payload, std::vector<std::byte>* out = nullptr,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Every page of a Lookup (following PeerList.next); the records, or -1 if a page did
  /// not come. `pages` and `bytes` get what it took.
  long listing(const std::string& name, const std::string& service, long* pages, long* bytes,
               std::chrono::milliseconds timeout = std::chrono::seconds(5),
               std::vector<long>* page_bytes = nullptr);

 private:
  zmq::socket_t dealer_;
  PeerInfo me_;
  std::uint64_t next_ = 1;
  EnvelopeEncoder enc_;
  EnvelopeDecoder dec_;
  FrameSet frames_;
  std::vector<std::byte> page_;
};

/// Round trip times in log-spaced buckets (about 4.4 % wide), summed across processes:
/// the buckets are plain counters that the caller may keep in shared memory.
struct LogHistogram {
  static constexpr int kBuckets = 512;
  [[nodiscard]] static int bucket(double us);
  /// The upper edge of bucket `b`, microseconds.
  [[nodiscard]] static double upper_us(int b);
  /// p50 and p99 of counts[0..kBuckets) (upper edges).
  [[nodiscard]] static Latency percentiles(const std::vector<long>& counts);
};

}  // namespace zmesh::bench
