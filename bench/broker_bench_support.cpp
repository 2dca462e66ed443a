#include "broker_bench_support.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "zmesh/core/ids.hpp"

extern char** environ;

namespace zmesh::bench {

using namespace std::chrono_literals;

Latency percentiles(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100], us.size()};
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

void wait_quiet(const std::function<long()>& count, std::chrono::milliseconds quiet,
                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  long before = -1;
  while (count() != before && Clock::now() < deadline) {
    before = count();
    std::this_thread::sleep_for(quiet);
  }
}

int free_port() {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.set(zmq::sockopt::linger, 0);
  s.bind("tcp://127.0.0.1:*");
  const std::string ep = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(ep.substr(ep.rfind(':') + 1));
}

// ----------------------------------------------------------------- Process

namespace {

// The children still running, for the signal handler (lock-free slots, 0 = free).
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t free = 0;
    if (slot.compare_exchange_strong(free, pid)) return;
  }
}
void untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t mine = pid;
    if (slot.compare_exchange_strong(mine, 0)) return;
  }
}

extern "C" void on_stop_signal(int sig) {
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  _exit(128 + sig);
}

}  // namespace

void kill_children_on_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

Process::Process(std::vector<std::string> args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, args[0].c_str(), nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start " + args[0]);
  track(pid_);
}

Process::~Process() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    untrack(pid_);
  }
}

void Process::signal(int sig) const {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      status_ = status;
      untrack(pid_);
      return status;
    }
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(1ms);
  }
  return status_;
}

int Process::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  const int status = wait(grace);
  if (status != -1) return status;
  signal(SIGKILL);
  (void)wait(10s);
  return -1;
}

long Process::status_kb(const char* key) const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  const std::size_t len = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, len, key) == 0 && line.size() > len && line[len] == ':')
      return std::atol(line.c_str() + len + 1);
  }
  return -1;
}

double Process::cpu_seconds() const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  unsigned long utime = 0;
  unsigned long stime = 0;
  // After ")": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool exited_ok(int status) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// ----------------------------------------------------------------- wire

void send_to_broker(zmq::socket_ref s, EnvelopeEncoder& enc, const PeerInfo& me, Kind kind,
                    std::uint64_t correlation_id, zmq::message_t payload) {
  Header h;
  h.kind = kind;
  h.correlation_id = correlation_id;
  h.sender_id = me.id;
  h.sender_session = me.session;
  s.send(enc.encode(h), zmq::send_flags::sndmore);
  s.send(payload, zmq::send_flags::none);
}

Requester::Requester(zmq::context_t& ctx, const std::string& endpoint)
    : dealer_(ctx, zmq::socket_type::dealer) {
  dealer_.set(zmq::sockopt::linger, 0);
  dealer_.connect(endpoint);
  me_.id = random_id();
  me_.session = random_id();
}

long Requester::round_trip(Kind kind, zmq::message_t payload, std::vector<std::byte>* out,
                           std::chrono::milliseconds timeout) {
  const std::uint64_t corr = next_++;
  send_to_broker(dealer_, enc_, me_, kind, corr, std::move(payload));
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) return -1;
    frames_.recv(dealer_);
    auto env = dec_.decode(Layout::dealer, frames_);
    if (!env || env->header.correlation_id != corr) continue;  // a late answer
    if (out != nullptr) out->assign(env->payload.begin(), env->payload.end());
    return static_cast<long>(env->payload.size());
  }
}

long Requester::listing(const std::string& name, const std::string& service, long* pages,
                        long* bytes, std::chrono::milliseconds timeout,
                        std::vector<long>* page_bytes) {
  std::uint64_t after = 0;
  long records = 0;
  *pages = 0;
  *bytes = 0;
  for (;;) {
    const long n = round_trip(Kind::lookup, encode(Lookup{name, service, after}), &page_, timeout);
    if (n < 0) return -1;
    ++*pages;
    *bytes += n;
    if (page_bytes != nullptr) page_bytes->push_back(n);
    auto list = decode_control<PeerList>(page_, Limits{});
    if (!list) return -1;
    records += static_cast<long>(list->peers.size());
    if (list->next == 0) return records;
    after = list->next;
  }
}

// ----------------------------------------------------------------- LogHistogram

int LogHistogram::bucket(double us) {
  if (us < 1) return 0;
  return std::min(kBuckets - 1, 1 + static_cast<int>(16 * std::log2(us)));
}

double LogHistogram::upper_us(int b) {
  return b == 0 ? 1.0 : std::exp2(b / 16.0);
}

Latency LogHistogram::percentiles(const std::vector<long>& counts) {
  long total = 0;
  for (long c : counts) total += c;
  Latency out;
  out.n = static_cast<std::size_t>(total);
  if (total == 0) return out;
  long seen = 0;
  bool have50 = false;
  for (int b = 0; b < static_cast<int>(counts.size()); ++b) {
    seen += counts[static_cast<std::size_t>(b)];
    if (!have50 && seen * 2 >= total) {
      out.p50_us = upper_us(b);
      have50 = true;
    }
    if (seen * 100 >= total * 99) {
      out.p99_us = upper_us(b);
      break;
    }
  }
  return out;
}

}  // namespace zmesh::bench
