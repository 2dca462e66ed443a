// zmesh/core/frame_set.hpp — one received ZeroMQ multipart message, held without
// allocation. Up to kMaxFrames frames are kept; further frames are still received (so
// the socket is left at a message boundary) but dropped, and counted in total().
// A FrameSet belongs to the thread that owns the socket it receives from.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include <zmq.hpp>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

class FrameSet {
 public:
  static constexpr std::size_t kMaxFrames = 4;

  /// Receives one whole multipart message. Returns false when flags is dontwait and
  /// nothing is waiting. Throws zmq::error_t on socket errors (ETERM, ...).
  bool recv(zmq::socket_ref socket, zmq::recv_flags flags = zmq::recv_flags::none);

  /// Frames kept (at most kMaxFrames).
  [[nodiscard]] std::size_t size() const noexcept { return kept_; }
  /// Frames the message had, kept or not.
  [[nodiscard]] std::size_t total() const noexcept { return total_; }
  zmq::message_t& operator[](std::size_t i) noexcept { return frames_[i]; }
  const zmq::message_t& operator[](std::size_t i) const noexcept { return frames_[i]; }
  [[nodiscard]] std::span<zmq::message_t> frames() noexcept { return {frames_.data(), kept_}; }

  /// Appends a frame (tests and tools that build frame sets by hand).
  void push(zmq::message_t frame);
  void clear() noexcept;

 private:
  std::array<zmq::message_t, kMaxFrames> frames_;
  std::size_t kept_ = 0;
  std::size_t total_ = 0;
};

/// The bytes of a frame.
inline std::span<const std::byte> bytes_of(const zmq::message_t& m) noexcept {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}
inline std::span<const std::byte> bytes_of(std::string_view v) noexcept {
  return {reinterpret_cast<const std::byte*>(v.data()), v.size()};
}
inline std::string_view view_of(const zmq::message_t& m) noexcept {
  return {static_cast<const char*>(m.data()), m.size()};
}

}  // namespace zmesh
