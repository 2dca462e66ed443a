// chat — peers that find each other through the broker.
//
// Starts a broker (the library form of zmesh-broker) and three chat peers. Nobody is
// told anybody else's address: each registers with the broker, hears who joins, follows
// their broadcasts on "chat/lobby", and sends a private message by name.
//
//   ./example_chat                  # starts its own broker on loopback
//   ./example_chat --broker tcp://127.0.0.1:7400   # use a running zmesh-broker
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "zmesh/broker/broker.hpp"
#include "zmesh/peer.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::string endpoint = argc == 3 && std::string(argv[1]) == "--broker" ? argv[2] : "";
  std::unique_ptr<zmesh::Broker> broker;
  if (endpoint.empty()) {
    zmesh::BrokerOptions bo;
    bo.bind = "tcp://127.0.0.1:*";
    broker = std::make_unique<zmesh::Broker>(bo);
    broker->start();
    endpoint = broker->endpoint();
  }
  std::printf("broker at %s\n", endpoint.c_str());

  const std::vector<std::string> names = {"ada", "brian", "grace"};
  std::vector<std::unique_ptr<zmesh::Peer>> peers;
  std::vector<zmesh::Registration> regs;
  std::atomic<int> heard{0};
  for (const auto& name : names) {
    zmesh::PeerOptions o;
    o.name = name;
    o.broker = endpoint;
    auto p = std::make_unique<zmesh::Peer>(o);
    // Everyone listens to the lobby, and accepts private messages.
    regs.push_back(p->subscribe("chat/lobby", [&heard, name](const zmesh::Message& m) {
      ++heard;
      std::printf("[%s hears] %.*s\n", name.c_str(), static_cast<int>(m.text().size()),
                  m.text().data());
    }));
    regs.push_back(p->on("Private", [name](const zmesh::Message& m) {
      std::printf("[%s, privately] %.*s\n", name.c_str(), static_cast<int>(m.text().size()),
                  m.text().data());
      return std::string("read by ") + name;
    }));
    p->start();
    peers.push_back(std::move(p));
  }

  // Each peer learns the others from the broker's join events.
  for (int i = 0; i < 250; ++i) {
    bool all = true;
    for (auto& p : peers) all = all && p->members().size() == names.size() - 1;
    if (all) break;
    std::this_thread::sleep_for(20ms);
  }
  for (auto& p : peers) p->sync_subscriptions(5s).get();  // every publisher is followed

  for (std::size_t i = 0; i < peers.size(); ++i) {
    peers[i]->publish("chat/lobby", "Say", names[i] + ": hello everyone");
  }
  // A private message, addressed by name: the broker resolves it, zmesh connects.
  const zmesh::PeerId grace = peers[0]->connect_by_name("grace").get();
  std::printf("ada got back: %s\n",
              peers[0]->request(grace, "Private", "ada: lunch?", 2s).get().payload.c_str());

  // Everyone hears everyone else and themselves? No: a peer does not follow its own PUB.
  const int expected = static_cast<int>(names.size() * (names.size() - 1));
  for (int i = 0; i < 200 && heard.load() < expected; ++i) std::this_thread::sleep_for(10ms);
  std::printf("%d lobby messages delivered (expected %d)\n", heard.load(), expected);

  peers.clear();  // each leaves with BYE; the broker tells the others
  if (broker) broker->stop();
  return heard.load() == expected ? 0 : 1;
}
