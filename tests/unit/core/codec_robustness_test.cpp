// Feeds 100,000+ random and mutated frame sets to the decoders: no crash, no sanitizer
// report, and every input either decodes to a header that passes the decoder's own rules
// or is refused with a DecodeError.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codec_samples.hpp"
#include "zmesh/core/control.hpp"

namespace zmesh {
namespace {

zmq::message_t mutate(const zmq::message_t& base, std::mt19937_64& rng) {
  std::string bytes(static_cast<const char*>(base.data()), base.size());
  switch (rng() % 5) {
    case 0:  // flip some bits
      for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n && !bytes.empty(); ++i) {
        // Same draws in the same order as `bytes[rng() % n] ^= mask(rng())` (the right side first).
        const auto mask = static_cast<char>(1u << (rng() % 8));
        char& b = bytes[rng() % bytes.size()];
        b = static_cast<char>(b ^ mask);
      }
      break;
    case 1:  // overwrite a byte with an interesting value
      if (!bytes.empty()) {
        static constexpr unsigned char kValues[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
        bytes[rng() % bytes.size()] = static_cast<char>(kValues[rng() % 5]);
      }
      break;
    case 2:  // truncate
      bytes.resize(bytes.empty() ? 0 : rng() % bytes.size());
      break;
    case 3:  // extend with junk
      for (int i = 0, n = 1 + static_cast<int>(rng() % 16); i < n; ++i) {
        bytes.push_back(static_cast<char>(rng()));
      }
      break;
    default:  // fully random
      bytes.resize(rng() % 128);
      for (char& c : bytes) c = static_cast<char>(rng());
      break;
  }
  return zmq::message_t(bytes.data(), bytes.size());
}

TEST(CodecRobustness, HundredThousandRandomAndMutatedFrameSets) {
  std::mt19937_64 rng(20261123);
  EnvelopeEncoder enc;
  EnvelopeDecoder dec;
  const auto kinds = test::all_kinds();
  std::vector<zmq::message_t> seeds;
  seeds.reserve(kinds.size());
  for (Kind k : kinds) seeds.push_back(enc.encode(test::sample_header(k)));

  constexpr int kCases = 120'000;
  int decoded = 0;
  int rejected = 0;
  for (int i = 0; i < kCases; ++i) {
    const auto layout = static_cast<Layout>(rng() % 3);
    FrameSet fs;
    std::size_t frames = frame_count(layout);
    if (rng() % 10 == 0) frames = rng() % 6;  // wrong frame counts too
    for (std::size_t f = 0; f < frames; ++f) {
      const bool header_slot = f + 2 == frame_count(layout);
      fs.push(header_slot ? mutate(seeds[rng() % seeds.size()], rng)
                          : zmq::message_t(static_cast<std::size_t>(rng() % 16)));
    }
    auto env = dec.decode(layout, fs);
    if (env.ok()) {
      ++decoded;
      // Whatever decodes obeys the rules the decoder promises.
      // Greetings pass with any version: the greeting answers them (protocol.md 9).
      const bool greeting = env->header.kind == Kind::hello || env->header.kind == Kind::reg;
      if (!greeting) {
        EXPECT_EQ(env->header.version, kProtocolVersion);
      }
      EXPECT_TRUE(is_known_kind(static_cast<std::uint8_t>(env->header.kind)));
      EXPECT_NE(env->header.sender_id, 0u);
      EXPECT_LE(env->header.type.size(), dec.limits().max_type_bytes);
    } else {
      ++rejected;
      EXPECT_EQ(&env.error().category(), &decode_category());
    }
  }
  EXPECT_EQ(decoded + rejected, kCases);
  EXPECT_GT(rejected, kCases / 2);  // most mutations break something
  EXPECT_GT(decoded, 0);            // and some survive (bit flips in values)
}

TEST(CodecRobustness, RandomControlPayloadsNeverCrash) {
  std::mt19937_64 rng(7);
  const PeerInfo peer{5, 6, "n", {"tcp://127.0.0.1:1"}, {}, {"s"}};
  const std::vector<zmq::message_t> seeds = [&] {
    std::vector<zmq::message_t> v;
    v.push_back(encode(Hello{1, peer, 100}));
    v.push_back(encode(PeerList{3, {{peer, 1}, {peer, 2}}}));
    v.push_back(encode(Event{3, EventType::join, peer, "x"}));
    return v;
  }();
  int rejected = 0;
  constexpr int kCases = 30'000;
  for (int i = 0; i < kCases; ++i) {
    const zmq::message_t m = mutate(seeds[rng() % seeds.size()], rng);
    const auto b = bytes_of(m);
    // Every decoder runs on every input (no short-circuit), counting those that accept it.
    int accepted = 0;
    accepted += decode_control<Hello>(b, {}).ok() ? 1 : 0;
    accepted += decode_control<PeerList>(b, {}).ok() ? 1 : 0;
    accepted += decode_control<Event>(b, {}).ok() ? 1 : 0;
    accepted += decode_control<Register>(b, {}).ok() ? 1 : 0;
    if (accepted == 0) ++rejected;
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace zmesh
