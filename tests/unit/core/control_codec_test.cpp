#include "zmesh/core/control.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <type_traits>

#include "zmesh/core/frame_set.hpp"

namespace zmesh {
namespace {

PeerInfo sample_peer(std::uint64_t id = 7) {
  return PeerInfo{id,
                  0xabcdef,
                  "pricing",
                  {"tcp://127.0.0.1:6001"},
                  {"tcp://127.0.0.1:6002"},
                  {"quotes", "fx"}};
}

template <class T>
T round_trip(const T& v) {
  const zmq::message_t frame = encode(v);
  auto got = decode_control<T>(bytes_of(frame), Limits{});
  EXPECT_TRUE(got.ok()) << got.error().message();
  return got.ok() ? *got : T{};
}

TEST(ControlCodec, RoundTripsHello) {
  Hello v{kProtocolVersion, sample_peer(), 500};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, PeerInfoPublicKeyIsAbsentOrAZ85Key) {
  Hello v{kProtocolVersion, sample_peer(), 500};
  v.peer.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";  // rfc 32's test key
  EXPECT_EQ(round_trip(v), v);
  const std::vector<std::string> bad_keys{"short", std::string(40, ' '), std::string(41, 'a')};
  for (const auto& bad : bad_keys) {
    Hello w{kProtocolVersion, sample_peer(), 500};
    w.peer.public_key = bad;
    const zmq::message_t frame = encode(w);
    auto got = decode_control<Hello>(bytes_of(frame), Limits{});
    EXPECT_FALSE(got.ok()) << "accepted public_key '" << bad << "'";
  }
  // Absent reads as "" (a plaintext mesh).
  Hello plain{kProtocolVersion, sample_peer(), 500};
  EXPECT_EQ(round_trip(plain).peer.public_key, "");
}

TEST(ControlCodec, RoundTripsWelcome) {
  Welcome v{kProtocolVersion, sample_peer(9), 250};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsReject) {
  Reject v{WireError::duplicate_id, "peer id 7 is already connected"};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsErrorReply) {
  ErrorReply v{WireError::handler_failed, "division by zero"};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsPing) {
  Ping v{0x1234, 987654321};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsSequences) {
  Sequences v{{{"weather/paris", 10}, {std::string("a\0b", 3), 1}, {"x", 0xffffffffffffULL}}};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, SequencesValueRules) {
  auto error_of = [](const Sequences& v, Limits l = {}) {
    const zmq::message_t frame = encode(v);
    auto got = decode_control<Sequences>(bytes_of(frame), l);
    return got.ok() ? DecodeError{} : got.error();
  };
  EXPECT_EQ(error_of(Sequences{}), DecodeError::bad_value);            // no entries
  EXPECT_EQ(error_of(Sequences{{{"t", 0}}}), DecodeError::bad_value);  // sequence 0
  EXPECT_EQ(error_of(Sequences{{{"", 1}}}), DecodeError::bad_value);   // empty topic
  Limits small;
  small.max_topic_bytes = 4;
  EXPECT_EQ(error_of(Sequences{{{"12345", 1}}}, small), DecodeError::bad_value);
  Sequences many;
  many.topics.assign(kMaxTopicSequences + 1, TopicSequence{"t", 1});
  EXPECT_EQ(error_of(many), DecodeError::bad_value);
  many.topics.pop_back();
  EXPECT_EQ(round_trip(many).topics.size(), kMaxTopicSequences);
}

TEST(ControlCodec, RoundTripsRegister) {
  Register v{sample_peer(), 10000};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsRegisterAck) {
  RegisterAck v{0x55, 10000, 3000};
  EXPECT_EQ(round_trip(v), v);
  RegisterAck numbered{0x55, 10000, 3000, 42};
  EXPECT_EQ(round_trip(numbered), numbered);
}

TEST(ControlCodec, RoundTripsLookup) {
  Lookup v{"pricing", "quotes"};
  EXPECT_EQ(round_trip(v), v);
  Lookup all{};
  EXPECT_EQ(round_trip(all), all);
  Lookup page{"", "quotes", 1234, 50};
  EXPECT_EQ(round_trip(page), page);
}

TEST(ControlCodec, RoundTripsPeerList) {
  PeerList v{0x77, {{sample_peer(1), 10}, {sample_peer(2), 20}, {sample_peer(3), 30}}};
  EXPECT_EQ(round_trip(v), v);
  PeerList empty{0x77, {}};
  EXPECT_EQ(round_trip(empty), empty);
  PeerList first_page{0x77, {{sample_peer(1), 10}}, 500, 17};
  EXPECT_EQ(round_trip(first_page), first_page);
}

TEST(ControlCodec, PeerListWriterEncodesWhatEncodeDoesAndKeepsItsBuffer) {
  PeerListWriter writer;
  for (int round = 0; round < 2; ++round) {  // the second page reuses the buffer
    writer.begin();
    PeerList expected{0x77, {}, 900, round == 0 ? 2u : 0u};
    for (std::uint64_t i = 1; i <= 3; ++i) {
      expected.peers.push_back({sample_peer(i + 10 * static_cast<std::uint64_t>(round)), i});
      writer.add(expected.peers.back().peer, i);
      EXPECT_LE(writer.bytes(), 3 * encoded_size(sample_peer(1)) + 64);
    }
    EXPECT_EQ(writer.records(), 3u);
    const zmq::message_t page = writer.finish(0x77, 900, expected.next);
    EXPECT_LE(page.size(), 3 * encoded_size(sample_peer(1)) + 64);
    EXPECT_EQ(decode_control<PeerList>(bytes_of(page), {}).value(), expected);
  }
}

TEST(ControlCodec, RoundTripsEvent) {
  Event v{0x99, EventType::leave, sample_peer(), "expired"};
  EXPECT_EQ(round_trip(v), v);
  Event batch{0x99,
              EventType::join,
              sample_peer(1),
              "",
              7,
              {{EventType::leave, sample_peer(2), "bye"}, {EventType::update, sample_peer(3), ""}}};
  EXPECT_EQ(round_trip(batch), batch);
  Event bad_change = batch;
  bad_change.more[1].type = static_cast<EventType>(9);
  EXPECT_EQ(decode_control<Event>(bytes_of(encode(bad_change)), {}).error(),
            DecodeError::bad_value);
}

TEST(ControlCodec, RejectsEmptyAndRandomPayloads) {
  const std::string junk = "\xff\xff\xff\xff garbage garbage";
  const auto empty = std::span<const std::byte>{};
  const auto random = std::as_bytes(std::span(junk));
  EXPECT_EQ(decode_control<Hello>(empty, {}).error(), DecodeError::payload_malformed);
  EXPECT_EQ(decode_control<Hello>(random, {}).error(), DecodeError::payload_malformed);
  EXPECT_EQ(decode_control<PeerList>(random, {}).error(), DecodeError::payload_malformed);
}

// Found by fuzz_control_decoder (corpus: crash-empty-misaligned-payload): an empty span
// at a misaligned address took the aligned-copy path and memcpy'd to a null pointer.
TEST(ControlCodec, RejectsShortPayloadsAtMisalignedAddresses) {
  alignas(8) const std::byte buf[8]{};
  for (std::size_t size = 0; size < 4; ++size) {
    const auto bytes = std::span<const std::byte>(buf + 1, size);
    EXPECT_EQ(decode_control<PeerList>(bytes, {}).error(), DecodeError::payload_malformed);
    EXPECT_EQ(decode_control<Ping>(bytes, {}).error(), DecodeError::payload_malformed);
  }
}

TEST(ControlCodec, RejectsPeerInfoWithoutIdOrName) {
  Hello no_id{kProtocolVersion, sample_peer(0), 500};
  Hello no_name{kProtocolVersion, sample_peer(), 500};
  no_name.peer.name.clear();
  EXPECT_EQ(decode_control<Hello>(bytes_of(encode(no_id)), {}).error(), DecodeError::bad_value);
  EXPECT_EQ(decode_control<Hello>(bytes_of(encode(no_name)), {}).error(), DecodeError::bad_value);
}

TEST(ControlCodec, RejectsTooManyListItems) {
  Register v{sample_peer(), 0};
  Limits limits;
  limits.max_list_items = 2;
  v.peer.services = {"a", "b", "c"};
  EXPECT_EQ(decode_control<Register>(bytes_of(encode(v)), limits).error(), DecodeError::bad_value);
}

TEST(ControlCodec, RejectsOverlongStrings) {
  Limits limits;
  ErrorReply v{WireError::handler_failed, std::string(limits.max_string_bytes + 1, 'e')};
  EXPECT_EQ(decode_control<ErrorReply>(bytes_of(encode(v)), limits).error(),
            DecodeError::bad_value);
}

TEST(ControlCodec, RejectsOutOfRangeValues) {
  Event bad_type{0x99, static_cast<EventType>(9), sample_peer(), ""};
  EXPECT_EQ(decode_control<Event>(bytes_of(encode(bad_type)), {}).error(), DecodeError::bad_value);
  Ping zero_nonce{0, 1};
  EXPECT_EQ(decode_control<Ping>(bytes_of(encode(zero_nonce)), {}).error(), DecodeError::bad_value);
  RegisterAck zero_epoch{0, 1, 1};
  EXPECT_EQ(decode_control<RegisterAck>(bytes_of(encode(zero_epoch)), {}).error(),
            DecodeError::bad_value);
  Reject no_code{WireError::none, "?"};
  EXPECT_EQ(decode_control<Reject>(bytes_of(encode(no_code)), {}).error(), DecodeError::bad_value);
}

TEST(ControlCodec, HelloAndWelcomeValueRules) {
  Hello ok{3, sample_peer(), 500, 2};
  EXPECT_EQ(round_trip(ok), ok);
  auto error_of = [](const auto& v) {
    using T = std::decay_t<decltype(v)>;
    auto got = decode_control<T>(bytes_of(encode(v)), Limits{});
    return got.ok() ? std::error_code() : got.error();
  };
  const auto bad = make_error_code(DecodeError::bad_value);
  EXPECT_EQ(error_of(Hello{1, sample_peer(), 0, 1}), bad);      // interval 0
  EXPECT_EQ(error_of(Hello{1, sample_peer(), 9, 1}), bad);      // below 10 ms
  EXPECT_EQ(error_of(Hello{1, sample_peer(), 60001, 1}), bad);  // above 60 s
  EXPECT_EQ(error_of(Hello{2, sample_peer(), 100, 3}), bad);    // min above max
  EXPECT_EQ(error_of(Welcome{1, sample_peer(), 0}), bad);
  EXPECT_EQ(error_of(Hello{1, sample_peer(), 10, 1}), std::error_code());
  EXPECT_EQ(error_of(Welcome{1, sample_peer(), 60000}), std::error_code());
}

TEST(ControlCodec, MinProtocolVersionOneIsLeftOutAndAbsentReadsAsOne) {
  // The Hello of protocol.md 6.2 has no min_protocol_version slot (its vtable has three).
  const zmq::message_t frame = encode(Hello{1, sample_peer(), 1000, 1});
  const auto* b = static_cast<const unsigned char*>(frame.data());
  const std::uint32_t root = b[0] | (b[1] << 8);
  const std::int32_t soffset = b[root] | (b[root + 1] << 8);
  const std::uint32_t vtable = root - soffset;
  EXPECT_EQ(b[vtable] | (b[vtable + 1] << 8), 4 + 2 * 3);
  EXPECT_EQ(round_trip(Hello{1, sample_peer(), 1000, 1}).min_protocol_version, 1);
}

// The byte-level examples of protocol.md 6.4, exactly.
TEST(ControlCodec, EncodesTheSpecExamplesByteForByte) {
  auto hex = [](const zmq::message_t& m) {
    std::string out;
    char buf[4];
    for (std::size_t i = 0; i < m.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%02x", static_cast<const unsigned char*>(m.data())[i]);
      out += buf;
    }
    return out;
  };
  EXPECT_EQ(hex(encode(ErrorReply{WireError::no_handler, "no handler for 'GetQuote'"})),
            "0c00000008000c0006000800080000000000040004000000190000006e6f2068"
            "616e646c657220666f72202747657451756f746527000000");
  EXPECT_EQ(hex(encode(Ping{0x0123456789abcdefULL, 5000000})),
            "0c0000000800140004000c0008000000efcdab8967452301404b4c0000000000");
}

TEST(ControlCodec, MapsWireErrorsToErrc) {
  EXPECT_EQ(to_errc(WireError::no_handler), errc::no_handler);
  EXPECT_EQ(to_errc(WireError::handler_failed), errc::remote_error);
  EXPECT_EQ(to_errc(static_cast<WireError>(999)), errc::remote_error);
  EXPECT_EQ(wire_error_name(WireError::deadline_exceeded), "deadline_exceeded");
  EXPECT_EQ(to_errc(WireError::duplicate_name), errc::duplicate_name);
  EXPECT_EQ(wire_error_name(WireError::duplicate_name), "duplicate_name");
  EXPECT_EQ(to_errc(WireError::not_allowed), errc::not_allowed);
  EXPECT_EQ(wire_error_name(WireError::not_allowed), "not_allowed");
}

}  // namespace
}  // namespace zmesh
