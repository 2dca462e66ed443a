// Test helper: a publishing Peer in its own process, so that tests can read its memory
// (/proc/<pid>/status), stop it with SIGTERM and SIGKILL it if it hangs.
//   publisher [--max-subscriptions N] [--topic T] [--count N] [--max-vm-mb M]
// Prints "READY <endpoint> <pub-endpoint>" once serving. Then, driven by signals:
//   SIGUSR1  publishes --count broadcasts (default 1000) on --topic (default "real.x"),
//            payloads "0", "1", ...; then prints "PUBLISHED <count>"
//   SIGUSR2  prints "STATS <subscriptions_seen> <subscriptions_refused> <published>"
//   SIGTERM  stops the Peer, prints "STOPPED", exits 0 (SIGINT alike)
// --max-vm-mb caps the address space (RLIMIT_AS), so that a runaway allocation ends this
// process rather than exhausting the machine the tests share.
#include <sys/resource.h>

#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>

#include "zmesh/peer.hpp"

int main(int argc, char** argv) {
  zmesh::PeerOptions opts;
  opts.name = "publisher";
  opts.workers = 1;
  opts.bind = "tcp://127.0.0.1:*";
  opts.pub_bind = "tcp://127.0.0.1:*";
  opts.heartbeat_interval = std::chrono::milliseconds(100);
  opts.heartbeat_timeout = std::chrono::milliseconds(2000);
  std::string topic = "real.x";
  long count = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--max-subscriptions") opts.max_subscriptions = std::stoul(value);
    if (flag == "--topic") topic = value;
    if (flag == "--count") count = std::stol(value);
    if (flag == "--max-vm-mb") {
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
      // (Sanitizers reserve terabytes of address space for their shadow: no cap there.)
      const rlim_t bytes = static_cast<rlim_t>(std::stoul(value)) << 20;
      const rlimit lim{bytes, bytes};
      (void)setrlimit(RLIMIT_AS, &lim);
#endif
    }
  }
  // Blocked in every thread (the Peer's threads inherit the mask); taken by sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  zmesh::Peer peer(opts);
  peer.start();
  std::printf("READY %s %s\n", peer.endpoint().c_str(), peer.pub_endpoint().c_str());
  std::fflush(stdout);
  for (;;) {
    const timespec tick{0, 50'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGUSR1) {
      for (long n = 0; n < count; ++n) peer.publish(topic, "Tick", std::to_string(n));
      std::printf("PUBLISHED %ld\n", count);
    } else if (sig == SIGUSR2) {
      const zmesh::PeerStats s = peer.stats();
      std::printf("STATS %llu %llu %llu\n", static_cast<unsigned long long>(s.subscriptions_seen),
                  static_cast<unsigned long long>(s.subscriptions_refused),
                  static_cast<unsigned long long>(s.published));
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
    std::fflush(stdout);
  }
  peer.stop();
  std::printf("STOPPED\n");
  std::fflush(stdout);
  return 0;
}
