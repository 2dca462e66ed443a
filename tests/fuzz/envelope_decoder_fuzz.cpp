// libFuzzer target for EnvelopeDecoder::decode. Input: see fuzz_input.hpp.
#include <cstdlib>

#include "fuzz_input.hpp"
#include "zmesh/core/envelope_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static zmesh::EnvelopeDecoder decoder;
  const auto layout = static_cast<zmesh::Layout>(data[0] % 3);
  const zmesh::FrameSet frames = zmesh::fuzz::split_frames(data + 2, size - 2, data[1] % 8);
  auto env = decoder.decode(layout, frames);
  if (env.ok()) {
    // What decodes must obey the decoder's rules; anything else is a bug worth a crash.
    if (env->header.sender_id == 0 || env->header.version != zmesh::kProtocolVersion) std::abort();
    if (env->header.type.size() > decoder.limits().max_type_bytes) std::abort();
  }
  return 0;
}
