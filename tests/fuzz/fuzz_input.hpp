// Splits a fuzzer's byte string into frames: [layout][count] then per frame a 2-byte
// little-endian length and that many bytes (cut short at the end of the input).
#pragma once

#include <cstddef>
#include <cstdint>

#include "zmesh/core/frame_set.hpp"

namespace zmesh::fuzz {

inline FrameSet split_frames(const std::uint8_t* data, std::size_t size, std::size_t count) {
  FrameSet fs;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = 0;
    if (pos + 2 <= size) {
      len = data[pos] | (static_cast<std::size_t>(data[pos + 1]) << 8);
      pos += 2;
    } else {
      pos = size;
    }
    if (len > size - pos) len = size - pos;
    fs.push(zmq::message_t(data + pos, len));
    pos += len;
  }
  return fs;
}

}  // namespace zmesh::fuzz
