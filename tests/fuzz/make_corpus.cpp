// Writes the seed corpus (valid messages of every kind) for the fuzz targets:
//   make_corpus tests/fuzz/corpus
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "codec_samples.hpp"
#include "zmesh/core/control.hpp"

namespace {

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string framed(const zmq::message_t& m) {
  const auto n = m.size();
  std::string out{static_cast<char>(n & 0xff), static_cast<char>(n >> 8)};
  return out + std::string(static_cast<const char*>(m.data()), n);
}

int run(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::filesystem::path root(argv[1]);
  std::filesystem::create_directories(root / "envelope_decoder");
  std::filesystem::create_directories(root / "control_decoder");
  zmesh::EnvelopeEncoder enc;
  for (zmesh::Kind k : zmesh::test::all_kinds()) {
    const auto header = framed(enc.encode(zmesh::test::sample_header(k)));
    const zmq::message_t payload("payload", 7);
    const zmq::message_t first("topic", 5);
    for (int layout = 0; layout < 3; ++layout) {
      const auto count = static_cast<char>(zmesh::frame_count(static_cast<zmesh::Layout>(layout)));
      std::string in{static_cast<char>(layout), count};
      if (layout != 0) in += framed(first);
      in += header + framed(payload);
      write(root / "envelope_decoder" /
                (std::string(zmesh::kind_name(k)) + "-" + std::to_string(layout)),
            in);
    }
  }
  const zmesh::PeerInfo peer{5, 6, "pricing", {"tcp://127.0.0.1:6001"}, {}, {"quotes"}};
  auto control = [&](int which, const zmq::message_t& m, const char* name) {
    write(root / "control_decoder" / name,
          std::string(1, static_cast<char>(which)) +
              std::string(static_cast<const char*>(m.data()), m.size()));
  };
  control(0, zmesh::encode(zmesh::Hello{1, peer, 500}), "hello");
  control(1, zmesh::encode(zmesh::Welcome{1, peer, 500}), "welcome");
  control(2, zmesh::encode(zmesh::Reject{zmesh::WireError::duplicate_id, "dup"}), "reject");
  control(3, zmesh::encode(zmesh::ErrorReply{zmesh::WireError::no_handler, "none"}), "error");
  control(4, zmesh::encode(zmesh::Ping{1, 2}), "ping");
  control(5, zmesh::encode(zmesh::Register{peer, 1000}), "register");
  control(6, zmesh::encode(zmesh::RegisterAck{1, 2, 3}), "register_ack");
  control(7, zmesh::encode(zmesh::Lookup{"pricing", ""}), "lookup");
  control(8, zmesh::encode(zmesh::PeerList{1, {{peer, 3}}}), "peer_list");
  control(9, zmesh::encode(zmesh::Event{1, zmesh::EventType::join, peer, ""}), "event");
  control(7, zmesh::encode(zmesh::Lookup{"", "quotes", 42, 10}), "lookup-page");
  control(8, zmesh::encode(zmesh::PeerList{1, {{peer, 3}}, 500, 42}), "peer_list-page");
  control(9,
          zmesh::encode(zmesh::Event{
              1, zmesh::EventType::join, peer, "", 7, {{zmesh::EventType::leave, peer, "bye"}}}),
          "event-batch");
  std::printf("corpus written to %s\n", argv[1]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
}
