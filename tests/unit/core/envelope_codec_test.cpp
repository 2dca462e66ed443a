#include "zmesh/core/envelope_codec.hpp"

#include <string>

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>
#include <zmesh/wire/envelope_generated.h>

#include "codec_samples.hpp"

namespace zmesh {
namespace {

using test::frames_for;
using test::sample_header;

std::error_code decode_error(Layout layout, const FrameSet& fs, const Limits& limits = {}) {
  EnvelopeDecoder dec(limits);
  return dec.decode(layout, fs).error();
}

// A raw header frame with any field values, bypassing EnvelopeEncoder's typed API.
struct RawHeader {
  std::uint8_t version = 1;
  std::uint8_t kind = static_cast<std::uint8_t>(Kind::request);
  std::uint64_t correlation_id = 1;
  std::string type = "T";
  bool with_type = true;
  std::uint64_t sender_id = 1;
  std::uint64_t sender_session = 1;
  std::uint64_t sequence = 1;

  [[nodiscard]] zmq::message_t frame(bool identifier = true) const {
    flatbuffers::FlatBufferBuilder fbb;
    auto t = with_type ? fbb.CreateString(type) : flatbuffers::Offset<flatbuffers::String>();
    wire::HeaderBuilder b(fbb);
    b.add_version(version);
    b.add_kind(static_cast<wire::Kind>(kind));
    b.add_correlation_id(correlation_id);
    if (with_type) b.add_type(t);
    b.add_sender_id(sender_id);
    b.add_sender_session(sender_session);
    b.add_sequence(sequence);
    if (identifier) {
      wire::FinishHeaderBuffer(fbb, b.Finish());
    } else {
      fbb.Finish(b.Finish());
    }
    return zmq::message_t(fbb.GetBufferPointer(), fbb.GetSize());
  }
};

FrameSet dealer_frames(zmq::message_t header, std::string payload = "p") {
  FrameSet fs;
  fs.push(std::move(header));
  fs.push(zmq::message_t(payload.data(), payload.size()));
  return fs;
}

std::error_code raw_error(const RawHeader& raw) {
  return decode_error(Layout::dealer, dealer_frames(raw.frame()));
}

// ------------------------------------------------------------------- round trips

class EnvelopeRoundTrip : public ::testing::TestWithParam<Kind> {};

TEST_P(EnvelopeRoundTrip, EveryLayoutGivesBackTheSameHeaderAndPayload) {
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
  const Header h = sample_header(GetParam());
  for (Layout layout : {Layout::dealer, Layout::router, Layout::sub}) {
    const FrameSet fs = frames_for(layout, enc, h, "payload-bytes", "id-or-topic");
    auto env = dec.decode(layout, fs);
    ASSERT_TRUE(env.ok()) << kind_name(h.kind) << ": " << env.error().message();
    EXPECT_EQ(env->header, h);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(env->payload.data()), env->payload.size()),
              "payload-bytes");
    EXPECT_EQ(env->payload_index, frame_count(layout) - 1);
    if (layout == Layout::router) {
      EXPECT_EQ(env->identity, "id-or-topic");
    }
    if (layout == Layout::sub) {
      EXPECT_EQ(env->topic, "id-or-topic");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, EnvelopeRoundTrip, ::testing::ValuesIn(test::all_kinds()),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

TEST(EnvelopeCodec, KeepsEveryFieldAtItsLimits) {
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
  const std::string type(Limits{}.max_type_bytes, 'x');
  Header h = sample_header(Kind::publish);
  h.type = type;
  h.correlation_id = ~0ULL;
  h.sender_id = ~0ULL;
  h.sender_session = ~0ULL;
  h.timestamp_us = ~0ULL;
  h.deadline_unix_ms = ~0ULL;
  h.sequence = ~0ULL;
  h.flags = ~0U;
  const FrameSet fs = frames_for(Layout::sub, enc, h, "");
  auto env = dec.decode(Layout::sub, fs);
  ASSERT_TRUE(env.ok()) << env.error().message();
  EXPECT_EQ(env->header, h);
  EXPECT_TRUE(env->payload.empty());
}

TEST(EnvelopeCodec, EncoderReusesItsBufferAcrossMessages) {
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
  for (int i = 1; i <= 1000; ++i) {
    Header h = sample_header(Kind::request);
    h.correlation_id = static_cast<std::uint64_t>(i);
    const std::string type = "type-" + std::to_string(i);
    h.type = type;
    // The decoded Header's type views the frame: keep the frame alive while reading it.
    const zmq::message_t frame = enc.encode(h);
    auto got = dec.decode_header(bytes_of(frame));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->correlation_id, static_cast<std::uint64_t>(i));
    EXPECT_EQ(got->type, type);
  }
}

TEST(EnvelopeCodec, DecodesMisalignedHeaderFrames) {
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
  const Header h = sample_header(Kind::request);
  const zmq::message_t frame = enc.encode(h);
  std::vector<std::byte> shifted(frame.size() + 1);
  std::memcpy(shifted.data() + 1, frame.data(), frame.size());
  auto got = dec.decode_header(std::span(shifted).subspan(1));
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(*got, h);
}

// ------------------------------------------------------------------- frame counts and sizes

TEST(EnvelopeCodec, RejectsMissingFrames) {
  EnvelopeEncoder enc;
  FrameSet fs;
  fs.push(enc.encode(sample_header(Kind::request)));
  EXPECT_EQ(decode_error(Layout::dealer, fs), DecodeError::missing_frames);
  EXPECT_EQ(decode_error(Layout::router, FrameSet{}), DecodeError::missing_frames);
}

TEST(EnvelopeCodec, RejectsExtraFrames) {
  EnvelopeEncoder enc;
  FrameSet fs = frames_for(Layout::router, enc, sample_header(Kind::request), "p");
  fs.push(zmq::message_t("x", 1));
  EXPECT_EQ(decode_error(Layout::router, fs), DecodeError::extra_frames);
  // Frames past FrameSet::kMaxFrames are counted even though they are not kept.
  for (int i = 0; i < 5; ++i) fs.push(zmq::message_t("y", 1));
  EXPECT_EQ(fs.size(), FrameSet::kMaxFrames);
  EXPECT_EQ(decode_error(Layout::router, fs), DecodeError::extra_frames);
}

TEST(EnvelopeCodec, RejectsOversizedHeader) {
  FrameSet fs = dealer_frames(zmq::message_t(Limits{}.max_header_bytes + 1));
  EXPECT_EQ(decode_error(Layout::dealer, fs), DecodeError::header_too_large);
}

TEST(EnvelopeCodec, RejectsOversizedPayload) {
  EnvelopeEncoder enc;
  Limits limits;
  limits.max_payload_bytes = 1000;
  FrameSet fs =
      frames_for(Layout::dealer, enc, sample_header(Kind::request), std::string(1001, 'p'));
  EXPECT_EQ(decode_error(Layout::dealer, fs, limits), DecodeError::payload_too_large);
  FrameSet ok =
      frames_for(Layout::dealer, enc, sample_header(Kind::request), std::string(1000, 'p'));
  EXPECT_FALSE(decode_error(Layout::dealer, ok, limits));
}

TEST(EnvelopeCodec, RejectsOversizedTopic) {
  EnvelopeEncoder enc;
  const std::string topic(Limits{}.max_topic_bytes + 1, 't');
  FrameSet fs = frames_for(Layout::sub, enc, sample_header(Kind::publish), "p", topic);
  EXPECT_EQ(decode_error(Layout::sub, fs), DecodeError::topic_too_large);
}

TEST(EnvelopeCodec, RejectsBadIdentityFrames) {
  EnvelopeEncoder enc;
  FrameSet empty = frames_for(Layout::router, enc, sample_header(Kind::request), "p", "");
  EXPECT_EQ(decode_error(Layout::router, empty), DecodeError::empty_identity);
  Limits limits;
  limits.max_identity_bytes = 8;
  FrameSet big = frames_for(Layout::router, enc, sample_header(Kind::request), "p", "123456789");
  EXPECT_EQ(decode_error(Layout::router, big, limits), DecodeError::identity_too_large);
}

// ------------------------------------------------------------------- bytes of the header

TEST(EnvelopeCodec, RejectsTruncatedHeader) {
  EnvelopeEncoder enc;
  const zmq::message_t full = enc.encode(sample_header(Kind::request));
  for (std::size_t n : {std::size_t{0}, std::size_t{3}, std::size_t{7}}) {
    EXPECT_EQ(decode_error(Layout::dealer, dealer_frames(zmq::message_t(full.data(), n))),
              DecodeError::bad_identifier)
        << n;
  }
  // Identifier intact, table cut off: the verifier refuses it.
  for (std::size_t n = 8; n < full.size(); n += 4) {
    EXPECT_EQ(decode_error(Layout::dealer, dealer_frames(zmq::message_t(full.data(), n))),
              DecodeError::header_malformed)
        << n;
  }
}

TEST(EnvelopeCodec, RejectsHeaderWithoutIdentifier) {
  RawHeader raw;
  EXPECT_EQ(decode_error(Layout::dealer, dealer_frames(raw.frame(false))),
            DecodeError::bad_identifier);
}

TEST(EnvelopeCodec, RejectsRandomBytesBehindTheIdentifier) {
  std::string junk("\x08\x00\x00\x00ZMH1", 8);
  junk += std::string("\xff\xff\xff\x7f\x01\x02\x03\x04\xff\xff\xff\xff", 12);
  EXPECT_EQ(decode_error(Layout::dealer, dealer_frames(zmq::message_t(junk.data(), junk.size()))),
            DecodeError::header_malformed);
}

TEST(EnvelopeCodec, RejectsUnknownVersion) {
  RawHeader zero;
  zero.version = 0;
  RawHeader future;
  future.version = kProtocolVersion + 1;
  EXPECT_EQ(raw_error(zero), DecodeError::unsupported_version);
  EXPECT_EQ(raw_error(future), DecodeError::unsupported_version);
}

TEST(EnvelopeCodec, LetsGreetingsOfAnyVersionThroughForTheGreetingToAnswer) {
  for (const Kind k : {Kind::hello, Kind::reg}) {
    for (const std::uint8_t v : {std::uint8_t{0}, std::uint8_t{2}, std::uint8_t{255}}) {
      RawHeader raw;
      raw.kind = static_cast<std::uint8_t>(k);
      raw.version = v;
      raw.with_type = false;
      EnvelopeDecoder dec{Limits{}};
      auto env = dec.decode(Layout::router, [&] {
        FrameSet fs;
        fs.push(zmq::message_t(std::string("id")));
        fs.push(raw.frame());
        fs.push(zmq::message_t());
        return fs;
      }());
      ASSERT_TRUE(env.ok()) << kind_name(k) << " v" << int(v) << ": " << env.error().message();
      EXPECT_EQ(env->header.version, v);
    }
  }
}

TEST(EnvelopeCodec, RejectsUnknownKind) {
  for (std::uint8_t k : {0, 14, 19, 26, 255}) {
    RawHeader raw;
    raw.kind = k;
    EXPECT_EQ(raw_error(raw), DecodeError::unknown_kind) << int(k);
  }
}

TEST(EnvelopeCodec, RejectsEmptyMessageType) {
  for (Kind k : {Kind::request, Kind::message, Kind::publish}) {
    RawHeader missing;
    missing.kind = static_cast<std::uint8_t>(k);
    missing.with_type = false;
    RawHeader empty = missing;
    empty.with_type = true;
    empty.type.clear();
    EXPECT_EQ(raw_error(missing), DecodeError::empty_type) << kind_name(k);
    EXPECT_EQ(raw_error(empty), DecodeError::empty_type) << kind_name(k);
  }
  RawHeader ping;  // control kinds need no type
  ping.kind = static_cast<std::uint8_t>(Kind::ping);
  ping.with_type = false;
  EXPECT_FALSE(raw_error(ping));
}

TEST(EnvelopeCodec, RejectsOverlongMessageType) {
  RawHeader raw;
  raw.type = std::string(Limits{}.max_type_bytes + 1, 'x');
  EXPECT_EQ(raw_error(raw), DecodeError::type_too_long);
}

TEST(EnvelopeCodec, RejectsZeroSender) {
  RawHeader raw;
  raw.sender_id = 0;
  EXPECT_EQ(raw_error(raw), DecodeError::missing_sender);
}

TEST(EnvelopeCodec, RejectsZeroCorrelationIdWhereNeeded) {
  for (Kind k : {Kind::request, Kind::reply, Kind::error, Kind::hello, Kind::ping, Kind::pong,
                 Kind::lookup}) {
    RawHeader raw;
    raw.kind = static_cast<std::uint8_t>(k);
    raw.correlation_id = 0;
    EXPECT_EQ(raw_error(raw), DecodeError::missing_correlation_id) << kind_name(k);
  }
  RawHeader msg;
  msg.kind = static_cast<std::uint8_t>(Kind::message);
  msg.correlation_id = 0;
  EXPECT_FALSE(raw_error(msg));
}

TEST(EnvelopeCodec, RejectsPublishWithoutSequenceOrSession) {
  RawHeader seq;
  seq.kind = static_cast<std::uint8_t>(Kind::publish);
  seq.sequence = 0;
  EXPECT_EQ(raw_error(seq), DecodeError::missing_sequence);
  RawHeader session;
  session.kind = static_cast<std::uint8_t>(Kind::publish);
  session.sender_session = 0;
  EXPECT_EQ(raw_error(session), DecodeError::missing_session);
}

TEST(EnvelopeCodec, RejectsHelloWithoutSession) {
  RawHeader raw;
  raw.kind = static_cast<std::uint8_t>(Kind::hello);
  raw.sender_session = 0;
  EXPECT_EQ(raw_error(raw), DecodeError::missing_session);
}

TEST(EnvelopeCodec, RejectsInvalidLimits) {
  Limits limits;
  limits.max_header_bytes = 10;
  EXPECT_THROW(EnvelopeDecoder{limits}, Error);
}

}  // namespace
}  // namespace zmesh
