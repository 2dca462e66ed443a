// Test helper: a responder Peer in its own process, so tests can SIGKILL it.
//   echo_responder [--bind EP] [--workers N] [--id HEX] [--name N] [--broker EP] [--service S]
//                  [--announce-slow 1]
// Handlers: "Echo" (returns the payload), "Slow" (sleeps the payload's ms, then echoes;
// with --announce-slow 1 it first prints "SLOW <ms>", so a test knows it is running),
// "Who" (returns its peer id in hex).
// Prints "READY <endpoint> <peer-id-hex>" once serving; exits on SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "zmesh/core/ids.hpp"
#include "zmesh/peer.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;
}

int main(int argc, char** argv) {
  zmesh::PeerOptions opts;
  bool announce_slow = false;
  opts.name = "echo-responder";
  opts.heartbeat_interval = std::chrono::milliseconds(100);
  opts.heartbeat_timeout = std::chrono::milliseconds(2000);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bind") opts.bind = argv[i + 1];
    if (flag == "--workers") opts.workers = std::stoul(argv[i + 1]);
    if (flag == "--id") opts.id = zmesh::id_from_hex(argv[i + 1]).value_or(0);
    if (flag == "--name") opts.name = argv[i + 1];
    if (flag == "--broker") opts.broker = argv[i + 1];
    if (flag == "--service") opts.services.emplace_back(argv[i + 1]);
    if (flag == "--announce-slow") announce_slow = std::string(argv[i + 1]) == "1";
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  zmesh::Peer peer(opts);
  auto echo = peer.on("Echo", [](const zmesh::Message& m) { return std::string(m.text()); });
  auto slow = peer.on("Slow", [announce_slow](const zmesh::Message& m) {
    if (announce_slow) {
      std::printf("SLOW %s\n", std::string(m.text()).c_str());
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(std::string(m.text()))));
    return std::string(m.text());
  });
  auto who = peer.on("Who", [&peer](const zmesh::Message&) { return zmesh::id_to_hex(peer.id()); });
  peer.start();
  std::printf("READY %s %s\n", peer.endpoint().c_str(), zmesh::id_to_hex(peer.id()).c_str());
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  peer.stop();
  return 0;
}
