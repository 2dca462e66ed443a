#include "zmesh/core/control.hpp"

#include <gtest/gtest.h>

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

TEST(ControlCodec, RoundTripsRegister) {
  Register v{sample_peer(), 10000};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsRegisterAck) {
  RegisterAck v{0x55, 10000, 3000};
  EXPECT_EQ(round_trip(v), v);
}

TEST(ControlCodec, RoundTripsLookup) {
  Lookup v{"pricing", "quotes"};
  EXPECT_EQ(round_trip(v), v);
  Lookup all{};
  EXPECT_EQ(round_trip(all), all);
}

TEST(ControlCodec, RoundTripsPeerList) {
  PeerList v{0x77, {{sample_peer(1), 10}, {sample_peer(2), 20}, {sample_peer(3), 30}}};
  EXPECT_EQ(round_trip(v), v);
  PeerList empty{0x77, {}};
  EXPECT_EQ(round_trip(empty), empty);
}

TEST(ControlCodec, RoundTripsEvent) {
  Event v{0x99, EventType::leave, sample_peer(), "expired"};
  EXPECT_EQ(round_trip(v), v);
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

TEST(ControlCodec, MapsWireErrorsToErrc) {
  EXPECT_EQ(to_errc(WireError::no_handler), errc::no_handler);
  EXPECT_EQ(to_errc(WireError::handler_failed), errc::remote_error);
  EXPECT_EQ(to_errc(static_cast<WireError>(999)), errc::remote_error);
  EXPECT_EQ(wire_error_name(WireError::deadline_exceeded), "deadline_exceeded");
}

}  // namespace
}  // namespace zmesh
