// An application built against the installed packages with nothing but pkg-config:
//   c++ -o app app.cpp $(pkg-config --cflags --libs zmesh-peer)
// Run by tests/package/run.sh: first against libzmesh1 as installed, then with a
// compatible rebuild of the libraries (same soname) swapped in under it.
//
// It prints the version it was compiled against and the one it runs with, then does a
// request/reply and a refused request between two Peers in this process over tcp
// loopback. The refusal arrives as a zmesh::Error thrown by the library and caught here:
// the exception's type info crosses the shared library boundary.
//   ./app [expected run-time version]   exits 0 when all went as it should
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

#include <zmesh/peer.hpp>
#include <zmesh/version.hpp>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::printf("app: compiled against zmesh %s, running with %s (protocol v%d)\n",
              std::string(zmesh::kVersion).c_str(), zmesh::version(), zmesh::protocol_version());
  if (argc > 1 && std::string(argv[1]) != zmesh::version()) {
    std::fprintf(stderr, "app: expected zmesh %s at run time\n", argv[1]);
    return 1;
  }

  zmesh::Peer server({.name = "upper"});
  auto reg = server.on("Upper", [](const zmesh::Message& m) {
    std::string s(m.text());
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  });
  server.start();
  zmesh::Peer client({.name = "app", .bind = ""});
  client.start();
  const zmesh::PeerId id = client.connect(server.endpoint()).get();

  const std::string reply = client.request(id, "Upper", "hello mesh", 5s).get().payload;
  if (reply != "HELLO MESH") {
    std::fprintf(stderr, "app: unexpected reply '%s'\n", reply.c_str());
    return 1;
  }
  try {
    client.request(id, "Nothing", "x", 5s).get();
    std::fprintf(stderr, "app: a request without a handler succeeded\n");
    return 1;
  } catch (const zmesh::Error& e) {
    if (e.code() != zmesh::errc::no_handler) {
      std::fprintf(stderr, "app: wrong error: %s\n", e.what());
      return 1;
    }
  }
  client.stop();
  server.stop();
  std::printf("app: request/reply ok (%s), refusal ok\n", reply.c_str());
  return 0;
}
