// Per-figure cost meters for the benchmarks that run zmesh and raw cppzmq side by side:
// CPU time, system calls, context switches and operator new calls of the whole process
// between two samples. Both sides of a conversation run in the bench process, so a
// figure divided by the messages it moved is the cost per message of that path.
//
//   CPU        clock_gettime(CLOCK_PROCESS_CPUTIME_ID): every thread of the process.
//   syscalls   a perf_event_open counter on the tracepoint raw_syscalls:sys_enter,
//              inherited by every thread created after Meters::open() (call it first
//              thing in main). Needs tracefs mounted (/sys/kernel/tracing) and root or
//              perf_event_paranoid <= 1; when it cannot open, syscalls print as "n/a".
//   switches   getrusage(RUSAGE_SELF): voluntary + involuntary context switches.
//   news       a counting global operator new (meters.cpp) in the bench binary.
#pragma once

#include <cstdint>
#include <string>

namespace bench {

struct Sample {
  double cpu_s = 0;
  std::int64_t syscalls = -1;  // -1: no counter
  long switches = 0;
  std::uint64_t news = 0;
};

/// Cost per message between two samples.
struct Cost {
  double cpu_us = 0;
  double syscalls = -1;  // < 0: not measured
  double switches = 0;
  double news = 0;
};

class Meters {
 public:
  /// Opens the syscall counter; call before any thread starts. Returns how syscalls are
  /// measured ("perf raw_syscalls:sys_enter" or why not).
  static std::string open();
  [[nodiscard]] static Sample sample();
  [[nodiscard]] static Cost per(const Sample& a, const Sample& b, double messages);
};

/// "12.3" or "n/a" for a syscall figure.
std::string fmt_syscalls(double per);

}  // namespace bench
