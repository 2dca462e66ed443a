#include "meters.hpp"

#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <new>

namespace {

std::atomic<std::uint64_t> g_news{0};
int g_syscall_fd = -1;

}  // namespace

// Counting global operator new: every allocation of the bench process, zmesh's, libzmq's
// C++ parts and the bench's own, is counted (libzmq's malloc calls are not).
void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace bench {

std::string Meters::open() {
  long id = -1;
  for (const char* path : {"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                           "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"}) {
    std::ifstream in(path);
    if (in >> id) break;
  }
  if (id < 0) return "syscalls n/a (no tracefs: mount -t tracefs nodev /sys/kernel/tracing)";
  perf_event_attr attr{};
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof(attr);
  attr.config = static_cast<std::uint64_t>(id);
  attr.inherit = 1;  // threads created afterwards count too
  attr.exclude_hv = 1;
  const long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) return std::string("syscalls n/a (perf_event_open: ") + std::strerror(errno) + ")";
  g_syscall_fd = static_cast<int>(fd);
  return "syscalls: perf_event_open counter on raw_syscalls:sys_enter, all threads";
}

Sample Meters::sample() {
  Sample s;
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  s.cpu_s = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  if (g_syscall_fd >= 0) {
    std::uint64_t v = 0;
    if (read(g_syscall_fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) {
      s.syscalls = static_cast<std::int64_t>(v);
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.switches = ru.ru_nvcsw + ru.ru_nivcsw;
  s.news = g_news.load(std::memory_order_relaxed);
  return s;
}

Cost Meters::per(const Sample& a, const Sample& b, double messages) {
  Cost c;
  c.cpu_us = (b.cpu_s - a.cpu_s) * 1e6 / messages;
  // sample() makes three syscalls (clock_gettime, read, getrusage); those between the two
  // counter reads (a's getrusage, b's clock_gettime and read) are not the path's.
  if (a.syscalls >= 0 && b.syscalls >= 0) {
    c.syscalls = static_cast<double>(b.syscalls - a.syscalls - 3) / messages;
  }
  c.switches = static_cast<double>(b.switches - a.switches) / messages;
  c.news = static_cast<double>(b.news - a.news) / messages;
  return c;
}

std::string fmt_syscalls(double per) {
  if (per < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", per);
  return buf;
}

}  // namespace bench
