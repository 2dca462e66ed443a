// A zmesh-broker process for tests, on a free loopback port, as a user would run it.
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "broker_client.hpp"
#include "test_support.hpp"

namespace zmesh::test {

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to :*, read, closed).
inline int free_port() {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.set(zmq::sockopt::linger, 0);
  s.bind("tcp://127.0.0.1:*");
  const std::string ep = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(ep.substr(ep.rfind(':') + 1));
}

/// A zmesh-broker process on a free loopback port, known to be serving once constructed.
/// It prints nothing on stdout, so "serving" means: a Lookup got its PeerList.
class BrokerProcess {
 public:
  /// `extra`: more flags (e.g. {"--send-queue", "4"}).
  explicit BrokerProcess(int ttl_ms = 10000, int renew_ms = 2000,
                         std::vector<std::string> extra = {})
      : ttl_ms_(ttl_ms), renew_ms_(renew_ms), extra_(std::move(extra)) {
    for (int attempt = 0; attempt < 5; ++attempt) {  // someone may take the port meanwhile
      port_ = free_port();
      if (start()) return;
    }
    throw std::runtime_error("zmesh-broker did not start");
  }

  /// On a port chosen by the caller (a peer may already be trying to reach it).
  struct AtPort {
    int port;
  };
  explicit BrokerProcess(AtPort at, int ttl_ms = 10000, int renew_ms = 2000,
                         std::vector<std::string> extra = {})
      : ttl_ms_(ttl_ms), renew_ms_(renew_ms), extra_(std::move(extra)), port_(at.port) {
    if (!start()) throw std::runtime_error("zmesh-broker did not start on its port");
  }

  /// Starts the process (again, after kill(): same port). True once it answers.
  bool start() {
    using namespace std::chrono_literals;
    std::vector<std::string> args{"--bind",      endpoint(),
                                  "--ttl-ms",    std::to_string(ttl_ms_),
                                  "--renew-ms",  std::to_string(renew_ms_),
                                  "--log-level", "warn"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    process_ = std::make_unique<ChildProcess>(ZMESH_BROKER_BIN, args);
    // The probe's DEALER keeps reconnecting until the broker has bound; its Lookup waits
    // in the DEALER's queue until then.
    BrokerClient probe(endpoint(), "probe");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe.lookup("", "", 100ms).kind == Kind::peer_list) {
        // The answer may have come from another process that took the port after
        // free_port() read it (tests run in parallel): ours then fails to bind and exits
        // at once. Make sure it is still there.
        std::this_thread::sleep_for(200ms);
        return process_->wait(0ms) == -1;
      }
      if (process_->wait(0ms) != -1) return false;  // it exited: the bind failed
    }
    return false;
  }
  /// SIGKILL, and reap.
  void kill() {
    process_->signal(SIGKILL);
    process_->wait();
  }
  [[nodiscard]] std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return *process_; }
  /// Its resident set size, KiB.
  [[nodiscard]] long rss_kib() const { return test::rss_kib(process_->pid()); }

 private:
  int ttl_ms_;
  int renew_ms_;
  std::vector<std::string> extra_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace zmesh::test
