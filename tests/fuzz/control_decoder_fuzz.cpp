// libFuzzer target for the control payload decoders. Input: [which][payload bytes...].
#include <cstdint>
#include <span>

#include "zmesh/core/control.hpp"

namespace {

template <class T>
void run(std::span<const std::byte> bytes) {
  auto v = zmesh::decode_control<T>(bytes, zmesh::Limits{});
  (void)v.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto bytes = std::as_bytes(std::span(data + 1, size - 1));
  switch (data[0] % 10) {
    case 0: run<zmesh::Hello>(bytes); break;
    case 1: run<zmesh::Welcome>(bytes); break;
    case 2: run<zmesh::Reject>(bytes); break;
    case 3: run<zmesh::ErrorReply>(bytes); break;
    case 4: run<zmesh::Ping>(bytes); break;
    case 5: run<zmesh::Register>(bytes); break;
    case 6: run<zmesh::RegisterAck>(bytes); break;
    case 7: run<zmesh::Lookup>(bytes); break;
    case 8: run<zmesh::PeerList>(bytes); break;
    default: run<zmesh::Event>(bytes); break;
  }
  return 0;
}
