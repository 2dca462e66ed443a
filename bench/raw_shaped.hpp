// Raw cppzmq request/response written in zmesh's own thread shape: the floor that shape
// sets, to tell what zmesh's code costs from what its threads cost.
//
// zmesh keeps one engine thread that owns the sockets, with application threads and
// handler workers talking to it over inproc (design.md). A request therefore crosses
//   caller --inproc--> client engine --tcp--> server engine --inproc--> worker
//   worker --inproc--> server engine --tcp--> client engine --(completion)--> caller
// ShapedServer and ShapedClient do exactly these hops with plain cppzmq and nothing else:
// no envelope decoding, no registry, no bookkeeping, the same frames as RawClient
// ([header][payload], the ROUTER's identity in front), zmq::poll over each engine's two
// sockets, and the completion back to the caller over an inproc socket (the ZeroMQ way a
// hand-written program would do it). With `worker = false` the server engine echoes
// itself, the shape of zmesh's inline handlers.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include <zmq.hpp>

namespace bench {

class ShapedServer {
 public:
  explicit ShapedServer(bool worker);
  ~ShapedServer();
  ShapedServer(const ShapedServer&) = delete;
  ShapedServer& operator=(const ShapedServer&) = delete;
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  void engine();
  void work();

  // Each socket is made here and then used by one thread only (engine_ or worker_).
  zmq::context_t ctx_;
  zmq::socket_t router_;   // engine: tcp
  zmq::socket_t to_work_;  // engine -> worker
  zmq::socket_t results_;  // worker -> engine (engine's end)
  zmq::socket_t work_;     // worker's end of to_work_
  zmq::socket_t answer_;   // worker's end of results_
  std::string endpoint_;
  bool has_worker_;
  std::atomic<bool> stop_{false};
  std::thread engine_;
  std::thread worker_;
};

class ShapedClient {
 public:
  explicit ShapedClient(const std::string& endpoint);
  ~ShapedClient();
  ShapedClient(const ShapedClient&) = delete;
  ShapedClient& operator=(const ShapedClient&) = delete;
  /// From the caller's thread: one request [header][payload] to the engine.
  void send(const std::string& payload);
  /// From the caller's thread: waits for one reply.
  void recv();

 private:
  void engine();

  // Each socket is made here and then used by one thread only (the caller's or engine_).
  zmq::context_t ctx_;
  zmq::socket_t commands_;  // caller -> engine (caller's end)
  zmq::socket_t replies_;   // engine -> caller (caller's end)
  zmq::socket_t dealer_;    // engine: tcp
  zmq::socket_t take_;      // engine's end of commands_
  zmq::socket_t give_;      // engine's end of replies_
  zmq::message_t header_;
  zmq::message_t in_[2];
  std::atomic<bool> stop_{false};
  std::thread engine_;
};

/// The header frame both raw clients send: a request of type "Echo" (zmesh's envelope).
zmq::message_t echo_request_header();

/// CPU microseconds per message to move `n` messages of `frames` frames of `size` bytes
/// over one inproc PUSH/PULL pair between two threads (sender and receiver both counted):
/// what each hop of the shape costs at the least, with no wake-ups (the receiver drains).
double inproc_cpu_us(int frames, std::size_t size, int n);

}  // namespace bench
