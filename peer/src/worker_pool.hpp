// WorkerPool — the handler threads of one Peer ("zmesh-worker-N"). Each worker owns one
// PAIR socket to the engine: it receives work (deliveries, callback completions, the
// stop marker) and sends back replies. Workers run user code; the engine never does.
#pragma once

#include <cstddef>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "peer_shared.hpp"

namespace zmesh::detail {

class WorkerPool {
 public:
  WorkerPool(zmq::context_t& ctx, PeerShared& shared) : ctx_(ctx), shared_(shared) {}
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() { join(); }

  /// Starts options.workers threads; the engine must have bound their endpoints.
  void start();
  /// Joins every worker (they leave on the stop marker or when the context terminates).
  void join();

 private:
  void run(std::size_t index);

  zmq::context_t& ctx_;
  PeerShared& shared_;
  std::vector<std::thread> threads_;
};

}  // namespace zmesh::detail
