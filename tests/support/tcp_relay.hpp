// A TCP relay for tests: listens on 127.0.0.1 (a free port), and for every connection it
// accepts opens one to the target and copies bytes both ways, keeping a copy of all it
// saw. A test puts it between two peers to see what travels on the wire (is the payload
// in clear?). One thread of its own, stopped and joined by the destructor; every wait in
// it is bounded.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace zmesh::test {

class TcpRelay {
 public:
  TcpRelay();
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  /// "tcp://127.0.0.1:PORT": where to connect to reach the target through the relay.
  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  /// Where accepted connections go ("tcp://127.0.0.1:PORT"). Set before anyone connects.
  void set_target(const std::string& endpoint);
  /// Every byte relayed so far, both directions interleaved.
  [[nodiscard]] std::string captured() const;
  /// True when `needle` appears in what was relayed.
  [[nodiscard]] bool saw(const std::string& needle) const;

 private:
  void run();

  int listener_ = -1;
  std::string endpoint_;
  std::atomic<int> target_port_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string captured_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace zmesh::test
