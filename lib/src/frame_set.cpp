#include "zmesh/core/frame_set.hpp"

#include <utility>

namespace zmesh {

bool FrameSet::recv(zmq::socket_ref socket, zmq::recv_flags flags) {
  clear();
  zmq::message_t part;
  if (!socket.recv(part, flags)) return false;
  // The remaining parts of a multipart message are already queued: plain recv is fine.
  for (;;) {
    const bool more = part.more();
    push(std::move(part));
    if (!more) break;
    part = zmq::message_t();  // a fresh message for the next part
    (void)socket.recv(part, zmq::recv_flags::none);
  }
  return true;
}

void FrameSet::push(zmq::message_t frame) {
  ++total_;
  if (kept_ < kMaxFrames) frames_[kept_++] = std::move(frame);
}

void FrameSet::clear() noexcept {
  // Move-assigning a fresh message releases the old one; unlike rebuild() it cannot throw.
  for (std::size_t i = 0; i < kept_; ++i) frames_[i] = zmq::message_t();
  kept_ = 0;
  total_ = 0;
}

}  // namespace zmesh
