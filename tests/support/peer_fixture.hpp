// Peers for integration tests: loopback, short heartbeats, started and stopped by RAII.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "zmesh/peer.hpp"

namespace zmesh::test {

inline PeerOptions test_options(const std::string& name, std::size_t workers = 4) {
  PeerOptions o;
  o.name = name;
  o.workers = workers;
  o.bind = "tcp://127.0.0.1:*";
  o.heartbeat_interval = std::chrono::milliseconds(100);
  o.heartbeat_timeout = std::chrono::milliseconds(2000);  // generous: sanitizer builds are slow
  o.connect_timeout = std::chrono::milliseconds(3000);    // parallel ctest runs load the CPU
  o.request_timeout = std::chrono::milliseconds(5000);
  return o;
}

/// A started Peer that stops when it goes out of scope.
inline std::unique_ptr<Peer> started(PeerOptions options) {
  auto p = std::make_unique<Peer>(std::move(options));
  p->start();
  return p;
}

}  // namespace zmesh::test
