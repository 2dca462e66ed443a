// The one file that turns header bytes from the network into a Header (via GetRoot).
#include "zmesh/core/envelope_codec.hpp"

#include <cstring>
#include <memory>

#include <flatbuffers/flatbuffers.h>
#include <zmesh/wire/envelope_generated.h>

namespace zmesh {
namespace {

static_assert(static_cast<int>(wire::Kind::Event) == static_cast<int>(Kind::event));
static_assert(static_cast<int>(wire::Kind::Register) == static_cast<int>(Kind::reg));
static_assert(static_cast<int>(wire::Kind::Sync) == static_cast<int>(Kind::sync));
static_assert(static_cast<int>(wire::Kind::Sequences) == static_cast<int>(Kind::sequences));
static_assert(static_cast<std::uint32_t>(wire::Flags::NoReply) == kFlagNoReply);
static_assert(static_cast<std::uint32_t>(wire::Flags::Retained) == kFlagRetained);

// Kinds whose header must carry a correlation id (they are, or answer, a request).
bool needs_correlation_id(Kind k) noexcept {
  switch (k) {
    case Kind::message:
    case Kind::publish:
    case Kind::bye:
    case Kind::sync:
    case Kind::sequences:
    case Kind::event: return false;
    default: return true;
  }
}

bool needs_type(Kind k) noexcept {
  return k == Kind::request || k == Kind::message || k == Kind::publish;
}

}  // namespace

// ---------------------------------------------------------------------------- encoder

struct EnvelopeEncoder::Impl {
  flatbuffers::FlatBufferBuilder fbb{256};
};

EnvelopeEncoder::EnvelopeEncoder() : impl_(std::make_unique<Impl>()) {}
EnvelopeEncoder::~EnvelopeEncoder() = default;
EnvelopeEncoder::EnvelopeEncoder(EnvelopeEncoder&&) noexcept = default;
EnvelopeEncoder& EnvelopeEncoder::operator=(EnvelopeEncoder&&) noexcept = default;

zmq::message_t EnvelopeEncoder::encode(const Header& h) {
  auto& fbb = impl_->fbb;
  fbb.Clear();  // keeps the buffer: no allocation once it has grown to a header's size
  flatbuffers::Offset<flatbuffers::String> type;
  if (!h.type.empty()) type = fbb.CreateString(h.type.data(), h.type.size());
  wire::HeaderBuilder b(fbb);
  b.add_version(h.version);
  b.add_kind(static_cast<wire::Kind>(h.kind));
  b.add_correlation_id(h.correlation_id);
  if (!h.type.empty()) b.add_type(type);
  b.add_sender_id(h.sender_id);
  b.add_sender_session(h.sender_session);
  b.add_timestamp_us(h.timestamp_us);
  b.add_deadline_unix_ms(h.deadline_unix_ms);
  b.add_sequence(h.sequence);
  b.add_flags(h.flags);
  wire::FinishHeaderBuffer(fbb, b.Finish());
  return zmq::message_t(fbb.GetBufferPointer(), fbb.GetSize());
}

// ---------------------------------------------------------------------------- decoder

EnvelopeDecoder::EnvelopeDecoder(const Limits& limits)
    : limits_(limits), scratch_(std::make_unique<std::byte[]>(limits.max_header_bytes)) {
  limits_.validate();
}

Result<Header> EnvelopeDecoder::decode_header(std::span<const std::byte> bytes) {
  if (bytes.size() > limits_.max_header_bytes) return DecodeError::header_too_large;
  if (bytes.size() < 8 ||
      !flatbuffers::BufferHasIdentifier(bytes.data(), wire::HeaderIdentifier())) {
    return DecodeError::bad_identifier;
  }
  // FlatBuffers reads scalars in place: a frame that is not 8-byte aligned is read from
  // an aligned copy (ZeroMQ's own buffers always are aligned, so this is the rare path).
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    std::memcpy(scratch_.get(), bytes.data(), bytes.size());
    data = reinterpret_cast<const std::uint8_t*>(scratch_.get());
  }
  flatbuffers::Verifier verifier(data, bytes.size(), limits_.max_verifier_depth,
                                 limits_.max_verifier_tables);
  if (!wire::VerifyHeaderBuffer(verifier)) return DecodeError::header_malformed;
  const wire::Header* w = wire::GetHeader(data);

  Header h;
  h.version = w->version();
  const auto raw_kind = static_cast<std::uint8_t>(w->kind());
  // The greetings (Hello, Register) are let through with any version: the greeting
  // answers them with Reject UnsupportedVersion (protocol.md 5.1, 9) instead of silence.
  const bool greeting = raw_kind == static_cast<std::uint8_t>(Kind::hello) ||
                        raw_kind == static_cast<std::uint8_t>(Kind::reg);
  if ((h.version == 0 || h.version > kProtocolVersion) && !greeting) {
    return DecodeError::unsupported_version;
  }
  if (!is_known_kind(raw_kind)) return DecodeError::unknown_kind;
  h.kind = static_cast<Kind>(raw_kind);
  if (const auto* t = w->type()) h.type = std::string_view(t->c_str(), t->size());
  if (h.type.size() > limits_.max_type_bytes) return DecodeError::type_too_long;
  if (h.type.empty() && needs_type(h.kind)) return DecodeError::empty_type;
  h.correlation_id = w->correlation_id();
  h.sender_id = w->sender_id();
  h.sender_session = w->sender_session();
  h.timestamp_us = w->timestamp_us();
  h.deadline_unix_ms = w->deadline_unix_ms();
  h.sequence = w->sequence();
  h.flags = w->flags();
  if (h.sender_id == 0) return DecodeError::missing_sender;
  if (h.correlation_id == 0 && needs_correlation_id(h.kind)) {
    return DecodeError::missing_correlation_id;
  }
  if ((h.kind == Kind::publish || h.kind == Kind::hello) && h.sender_session == 0) {
    return DecodeError::missing_session;
  }
  if (h.kind == Kind::publish && h.sequence == 0) return DecodeError::missing_sequence;
  return h;
}

Result<Envelope> EnvelopeDecoder::decode(Layout layout, const FrameSet& frames) {
  const std::size_t want = frame_count(layout);
  if (frames.total() < want) return DecodeError::missing_frames;
  if (frames.total() > want) return DecodeError::extra_frames;

  Envelope env;
  std::size_t header_index = 0;
  switch (layout) {
    case Layout::dealer: break;
    case Layout::router: {
      const auto& id = frames[0];
      if (id.size() == 0) return DecodeError::empty_identity;
      if (id.size() > limits_.max_identity_bytes) return DecodeError::identity_too_large;
      env.identity = view_of(id);
      header_index = 1;
      break;
    }
    case Layout::sub: {
      const auto& topic = frames[0];
      if (topic.size() > limits_.max_topic_bytes) return DecodeError::topic_too_large;
      env.topic = view_of(topic);
      header_index = 1;
      break;
    }
  }
  // Sizes of every frame before anything reads any of them.
  const auto& header = frames[header_index];
  const auto& payload = frames[header_index + 1];
  if (header.size() > limits_.max_header_bytes) return DecodeError::header_too_large;
  if (payload.size() > limits_.max_payload_bytes) return DecodeError::payload_too_large;

  auto h = decode_header(bytes_of(header));
  if (!h) return h.error();
  env.header = *h;
  env.payload = bytes_of(payload);
  env.payload_index = header_index + 1;
  return env;
}

}  // namespace zmesh
