// CommandChannels — the application side of the command pipeline. Every thread that
// calls a Peer gets its own inproc PUSH socket to the engine's PULL (created on first
// use), so one thread's commands stay in order and no socket is shared between threads.
// close_all() closes them all at stop(), after the Peer has stopped admitting callers;
// a per-socket mutex makes that hand-over a full memory barrier, as ZeroMQ requires.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

namespace zmesh::detail {

/// Marks the calling thread as the engine of the Peer whose command pipeline `sync` stands
/// for. A call into that same Peer from this thread (an inline handler's send or publish)
/// never waits for room: the engine cannot read its commands while it waits.
void mark_engine_thread(const void* sync) noexcept;
/// Whether the calling thread is the engine of the pipeline `sync` stands for.
[[nodiscard]] bool is_engine_thread(const void* sync) noexcept;

class CommandChannels {
 public:
  /// `sync` stands for this pipeline in ThreadSanitizer's eyes (tsan_annotations.hpp).
  CommandChannels(zmq::context_t& ctx, std::string endpoint, int depth, void* sync);

  /// Sends a multipart command from the calling thread's socket, waiting up to `wait`
  /// for room. Returns false when there was none (nothing was sent).
  [[nodiscard]] bool send(std::span<zmq::message_t> frames, std::chrono::milliseconds wait);
  /// Closes every thread's socket. No send may run concurrently or afterwards.
  void close_all();

  /// One calling thread's socket. Closed by close_all() or when that thread ends.
  struct Slot {
    std::mutex mu;
    std::optional<zmq::socket_t> socket;  // guarded by mu
  };

 private:
  std::shared_ptr<Slot> slot_for_this_thread();

  zmq::context_t& ctx_;
  const std::string endpoint_;
  const int depth_;
  const std::uint64_t key_;  // process-unique, keys the thread-local slot cache
  void* const sync_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Slot>> slots_;  // guarded by mu_
};

}  // namespace zmesh::detail
