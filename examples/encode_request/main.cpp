// encode_request — the wire format by hand.
//
// Builds the two frames a requester's DEALER sends (header + payload), prints them as
// hex, then decodes them as the responder's ROUTER would see them (identity, header,
// payload) and prints every header field. Run: ./example_encode_request
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "zmesh/core/envelope_codec.hpp"

namespace {

void print_hex(const char* label, const zmq::message_t& frame) {
  std::printf("%-9s %3zu bytes:", label, frame.size());
  const auto* p = static_cast<const unsigned char*>(frame.data());
  for (std::size_t i = 0; i < frame.size(); ++i) {
    std::printf("%s%02x", i % 16 == 0 ? "\n    " : " ", p[i]);
  }
  std::printf("\n");
}

int run() {
  using namespace std::chrono;
  const auto now = system_clock::now();

  // 1. The requester fills in a header: what it is, who sends it, how to correlate the reply.
  zmesh::Header header;
  header.kind = zmesh::Kind::request;
  header.correlation_id = 1;                 // the reply carries this back unchanged
  header.type = "GetQuote";                  // picks the handler at the responder
  header.sender_id = 0x5eed5eed5eed5eedULL;  // our peer id
  header.timestamp_us =
      static_cast<std::uint64_t>(duration_cast<microseconds>(now.time_since_epoch()).count());
  header.deadline_unix_ms = static_cast<std::uint64_t>(
      duration_cast<milliseconds>((now + 500ms).time_since_epoch()).count());

  // 2. Encode: the header becomes one frame; the payload is its own frame, never re-encoded.
  zmesh::EnvelopeEncoder encoder;
  const std::string payload = R"({"symbol":"EURUSD"})";
  zmesh::FrameSet frames;
  frames.push(zmq::message_t(std::string_view("\x00\x6b\x8b\x45\x67", 5)));  // what ROUTER prepends
  frames.push(encoder.encode(header));
  frames.push(zmq::message_t(payload.data(), payload.size()));
  print_hex("identity", frames[0]);
  print_hex("header", frames[1]);
  print_hex("payload", frames[2]);

  // 3. Decode as the responder: sizes, identifier, FlatBuffers verifier, then every value.
  zmesh::EnvelopeDecoder decoder;
  auto env = decoder.decode(zmesh::Layout::router, frames);
  if (!env) {
    std::fprintf(stderr, "decode failed: %s\n", env.error().message().c_str());
    return 1;
  }
  const zmesh::Header& h = env->header;
  std::printf("decoded: version=%u kind=%s correlation_id=%llu type=%.*s sender=%016llx\n",
              unsigned{h.version}, std::string(zmesh::kind_name(h.kind)).c_str(),
              static_cast<unsigned long long>(h.correlation_id), static_cast<int>(h.type.size()),
              h.type.data(), static_cast<unsigned long long>(h.sender_id));
  std::printf("         deadline_unix_ms=%llu payload=%.*s\n",
              static_cast<unsigned long long>(h.deadline_unix_ms),
              static_cast<int>(env->payload.size()),
              reinterpret_cast<const char*>(env->payload.data()));
  return h == header ? 0 : 1;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {  // zmesh::Error from the encoder, for one
    std::fprintf(stderr, "encode_request: %s\n", e.what());
    return 1;
  }
}
