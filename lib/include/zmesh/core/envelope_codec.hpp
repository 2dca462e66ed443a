// zmesh/core/envelope_codec.hpp — frames <-> typed envelopes (docs/protocol.md, "Frames").
//
// The only place that turns network bytes into a Header. decode() checks, in this order:
// frame count for the layout, the size of every frame against Limits, the "ZMH1"
// identifier, the FlatBuffers verifier, then each value (version, kind, type, ids). It
// never throws on bad input: it returns the DecodeError naming what was wrong.
//
// Both classes keep scratch state so that steady-state encoding and decoding allocate
// nothing beyond the ZeroMQ frames themselves. They are not thread-safe: one per thread
// (the engine thread owns one of each).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include <zmq.hpp>

#include "zmesh/core/export.hpp"
#include "zmesh/core/frame_set.hpp"
#include "zmesh/core/header.hpp"
#include "zmesh/core/limits.hpp"
#include "zmesh/core/result.hpp"

namespace ZMESH_API zmesh {

/// Frame layout of each socket pairing, as the receiver sees it.
enum class Layout {
  dealer,  ///< [header, payload]            DEALER receiving from a ROUTER
  router,  ///< [identity, header, payload]  ROUTER receiving from a DEALER
  sub,     ///< [topic, header, payload]     SUB receiving from a PUB
};

/// A decoded frame set. Views point into the FrameSet it was decoded from (or, for a
/// misaligned header frame, into the decoder's scratch buffer): valid until that
/// FrameSet is cleared or the decoder decodes again.
struct Envelope {
  Header header;
  std::string_view identity;           ///< Layout::router only
  std::string_view topic;              ///< Layout::sub only
  std::span<const std::byte> payload;  ///< may be empty
  std::size_t payload_index = 0;       ///< index of the payload frame in the FrameSet
};

class EnvelopeEncoder {
 public:
  EnvelopeEncoder();
  ~EnvelopeEncoder();
  EnvelopeEncoder(EnvelopeEncoder&&) noexcept;
  EnvelopeEncoder& operator=(EnvelopeEncoder&&) noexcept;

  /// Encodes a header frame. The builder's buffer is reused across calls.
  [[nodiscard]] zmq::message_t encode(const Header& header);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class EnvelopeDecoder {
 public:
  explicit EnvelopeDecoder(const Limits& limits = {});

  /// Checks and decodes a frame set received on a socket of the given layout.
  [[nodiscard]] Result<Envelope> decode(Layout layout, const FrameSet& frames);
  /// Checks and decodes one header frame's bytes.
  [[nodiscard]] Result<Header> decode_header(std::span<const std::byte> bytes);

  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }

 private:
  Limits limits_;
  std::unique_ptr<std::byte[]> scratch_;  // aligned copy of a misaligned header frame
};

/// Number of frames in each layout.
[[nodiscard]] constexpr std::size_t frame_count(Layout layout) noexcept {
  return layout == Layout::dealer ? 2 : 3;
}

}  // namespace zmesh
