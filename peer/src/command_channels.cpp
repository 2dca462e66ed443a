#include "command_channels.hpp"

#include <atomic>
#include <unordered_map>

#include "tsan_annotations.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::detail {
namespace {
std::atomic<std::uint64_t> g_next_key{1};
// The command pipeline (its sync address) whose engine this thread is, if any.
thread_local const void* tl_engine_of = nullptr;
}  // namespace

void mark_engine_thread(const void* sync) noexcept {
  tl_engine_of = sync;
}

bool is_engine_thread(const void* sync) noexcept {
  return tl_engine_of == sync;
}

CommandChannels::CommandChannels(zmq::context_t& ctx, std::string endpoint, int depth, void* sync)
    : ctx_(ctx),
      endpoint_(std::move(endpoint)),
      depth_(depth),
      key_(g_next_key.fetch_add(1)),
      sync_(sync) {}

namespace {

// The calling thread's sockets, one per Peer it called. When the thread ends, its
// sockets close with it (the Peer forgets them at its next new caller).
struct ThreadSlots {
  std::unordered_map<std::uint64_t, std::weak_ptr<CommandChannels::Slot>> by_peer;
  ThreadSlots() = default;
  ThreadSlots(const ThreadSlots&) = delete;
  ThreadSlots& operator=(const ThreadSlots&) = delete;
  ~ThreadSlots() {
    for (auto& [key, weak] : by_peer) {
      if (auto slot = weak.lock()) {
        std::lock_guard lock(slot->mu);
        slot->socket.reset();
      }
    }
  }
};

}  // namespace

std::shared_ptr<CommandChannels::Slot> CommandChannels::slot_for_this_thread() {
  thread_local ThreadSlots slots;
  auto& cache = slots.by_peer;
  if (auto it = cache.find(key_); it != cache.end()) {
    if (auto slot = it->second.lock()) return slot;
  }
  if (cache.size() > 64) std::erase_if(cache, [](const auto& kv) { return kv.second.expired(); });
  auto slot = std::make_shared<Slot>();
  {
    std::lock_guard lock(slot->mu);
    slot->socket.emplace(make_pipe(ctx_, zmq::socket_type::push, depth_));
    slot->socket->connect(endpoint_);
  }
  {
    std::lock_guard lock(mu_);
    // Forget the sockets of threads that ended.
    std::erase_if(slots_, [](const std::shared_ptr<Slot>& s) {
      std::lock_guard slot_lock(s->mu);
      return !s->socket;
    });
    slots_.push_back(slot);
  }
  cache[key_] = slot;
  return slot;
}

bool CommandChannels::send(std::span<zmq::message_t> frames, std::chrono::milliseconds wait) {
  auto slot = slot_for_this_thread();
  std::lock_guard lock(slot->mu);
  if (!slot->socket) throw Error(errc::shutting_down, "peer is stopped");
  auto& socket = *slot->socket;
  if (tl_engine_of == sync_) wait = std::chrono::milliseconds(0);  // inline, on our engine
  const auto more = frames.size() > 1 ? zmq::send_flags::sndmore : zmq::send_flags::none;
  pipeline_release(sync_);
  // ZeroMQ takes a multipart message whole or not at all: once the first part is
  // accepted, the rest are too.
  if (!socket.send(frames[0], more | zmq::send_flags::dontwait)) {
    if (wait.count() <= 0) return false;
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLOUT, 0};
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      zmq::poll(&item, 1, left);
      if (socket.send(frames[0], more | zmq::send_flags::dontwait)) break;
    }
  }
  for (std::size_t i = 1; i < frames.size(); ++i) {
    socket.send(frames[i],
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  return true;
}

void CommandChannels::close_all() {
  std::lock_guard lock(mu_);
  for (auto& slot : slots_) {
    std::lock_guard slot_lock(slot->mu);
    slot->socket.reset();
  }
  slots_.clear();
}

}  // namespace zmesh::detail
