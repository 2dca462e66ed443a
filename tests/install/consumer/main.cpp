// Encodes a request header with the installed zmesh::core, decodes it again as a DEALER
// frame set, and exits 0 when every field came back unchanged.
#include <cstdio>
#include <span>
#include <string>

#include <zmesh/core/envelope_codec.hpp>
#include <zmesh/core/errors.hpp>

int main() {
  zmesh::Header h;
  h.kind = zmesh::Kind::request;
  h.correlation_id = 7;
  h.type = "GetQuote";
  h.sender_id = 0x1122334455667788ULL;
  h.sender_session = 3;
  h.deadline_unix_ms = 1'700'000'000'500ULL;

  zmesh::EnvelopeEncoder encoder;
  const std::string payload = "payload";
  zmesh::FrameSet frames;
  frames.push(encoder.encode(h));
  frames.push(zmq::message_t(payload.data(), payload.size()));

  zmesh::EnvelopeDecoder decoder;
  auto env = decoder.decode(zmesh::Layout::dealer, frames);
  if (!env) {
    std::fprintf(stderr, "consumer: decode failed: %s\n", env.error().message().c_str());
    return 1;
  }
  if (!(env->header == h) || env->payload.size() != payload.size()) {
    std::fprintf(stderr, "consumer: decoded header differs from the encoded one\n");
    return 1;
  }
  // Bad bytes must come back as an error code, not an exception.
  const std::string junk = "not a header";
  auto bad = decoder.decode_header(std::as_bytes(std::span(junk)));
  if (bad.ok() || bad.error() != zmesh::make_error_condition(zmesh::errc::malformed)) {
    std::fprintf(stderr, "consumer: junk header was not refused as malformed\n");
    return 1;
  }
  std::printf("consumer: %zu-byte %s header round-tripped\n", frames[0].size(),
              std::string(zmesh::kind_name(env->header.kind)).c_str());
  return 0;
}
