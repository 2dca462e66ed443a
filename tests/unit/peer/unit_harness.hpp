// Helpers for the peer component unit tests: one component's EngineContext (with its own
// PeerShared) without a Peer or an Engine, bounded pumping loops, and frames built with
// zmesh::core's codec.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "broker_endpoints.hpp"
#include "engine_context.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/envelope_codec.hpp"
#include "zmesh/core/frame_set.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::test {

/// A PeerShared and the EngineContext over it, as the Engine would make them.
struct ComponentEnv {
  explicit ComponentEnv(zmq::context_t& zmq_ctx, PeerOptions options = {}, PeerId id = 0) {
    shared.brokers = detail::broker_endpoints(options);
    shared.options = std::move(options);
    shared.id = id != 0 ? id : random_id();
    shared.session = random_id();
    static std::atomic<int> counter{0};
    shared.uid = "unit-" + std::to_string(shared.id) + "-" + std::to_string(counter++);
    ctx = std::make_unique<detail::EngineContext>(zmq_ctx, shared);
  }
  detail::PeerShared shared;
  std::unique_ptr<detail::EngineContext> ctx;
};

/// Calls `step` until `pred` holds or `timeout` passes; returns pred's last value.
inline bool pump_until(const std::function<bool()>& pred, const std::function<void()>& step,
                       std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    step();
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// A header as another party would stamp it.
inline Header make_header(Kind kind, std::uint64_t correlation, PeerId sender,
                          std::uint64_t session) {
  Header h;
  h.kind = kind;
  h.correlation_id = correlation;
  h.sender_id = sender;
  h.sender_session = session;
  h.timestamp_us = unix_now_us();
  return h;
}

inline zmq::message_t text_frame(std::string_view s) {
  return zmq::message_t(s.data(), s.size());
}

/// Receives one whole multipart message within `timeout`; false if none came.
inline bool recv_within(zmq::socket_t& s, FrameSet& frames,
                        std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (frames.recv(s, zmq::recv_flags::dontwait)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace zmesh::test
