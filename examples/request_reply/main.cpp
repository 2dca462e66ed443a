// request_reply — a service and its client.
//
// A "pricing" peer answers GetQuote requests; a "desk" peer connects to it and asks for
// a few quotes, some at once (many requests in flight, replies in any order), and shows
// what a failure looks like. Both peers live in this process for the sake of the
// example; in real life they are two programs on two machines.
//
//   ./example_request_reply                       # everything on loopback, no broker
//   ./example_request_reply --broker tcp://127.0.0.1:7400
//                                                  # find the service through a broker
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "zmesh/peer.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const std::string broker = argc == 3 && std::string(argv[1]) == "--broker" ? argv[2] : "";

  // 1. The service: a name, the services it offers, a handler per message type.
  zmesh::PeerOptions service_opts;
  service_opts.name = "pricing";
  service_opts.services = {"quotes"};
  service_opts.broker = broker;
  zmesh::Peer pricing(service_opts);
  // Handlers run on worker threads. Return the reply; throw to send an error back.
  auto quote = pricing.on("GetQuote", [](const zmesh::Message& m) {
    const std::string symbol(m.text());
    if (symbol.empty()) throw std::invalid_argument("empty symbol");
    return symbol + "=" + std::to_string(1.0 + static_cast<double>(symbol.size()) / 10);
  });
  pricing.start();
  std::printf("pricing listening on %s\n", pricing.endpoint().c_str());

  // 2. The client: connect (greeted and ready when the future resolves), or with a
  //    broker just name the service and let zmesh pick a peer that offers it.
  zmesh::PeerOptions client_opts;
  client_opts.name = "desk";
  client_opts.bind = "";  // a pure client: no ROUTER of its own
  client_opts.broker = broker;
  zmesh::Peer desk(client_opts);
  desk.start();

  auto ask = [&](const std::string& symbol) -> zmesh::Future<zmesh::Response> {
    if (!broker.empty()) return desk.request_service("quotes", "GetQuote", symbol, 2s);
    static const zmesh::PeerId kPricing = desk.connect(pricing.endpoint()).get();  // once
    return desk.request(kPricing, "GetQuote", symbol, 2s);
  };
  if (!broker.empty()) {
    // Wait until the broker has told us about the service: at once if it registered
    // before us (our first listing has it), else by an Event. A broker that has just
    // started sends its Events once per renew interval (3 s by default) while it fills.
    for (int i = 0; i < 250 && desk.members().empty(); ++i) std::this_thread::sleep_for(20ms);
  }

  // 3. Many requests in flight at once; each future gets its own reply.
  std::vector<std::string> symbols = {"EURUSD", "GBPUSD", "USDJPY", "AUDNZD"};
  std::vector<zmesh::Future<zmesh::Response>> replies;
  replies.reserve(symbols.size());
  for (const auto& s : symbols) replies.push_back(ask(s));
  for (auto& r : replies) std::printf("reply: %s\n", r.get().payload.c_str());

  // 4. Errors arrive as zmesh::Error with a kind and a message naming the peer.
  try {
    ask("").get();
  } catch (const zmesh::Error& e) {
    std::printf("error (as expected): %s\n", e.what());
  }

  const auto stats = desk.stats();
  std::printf("desk sent %llu requests, %llu replies, %llu errors\n",
              static_cast<unsigned long long>(stats.requests_sent),
              static_cast<unsigned long long>(stats.replies_received),
              static_cast<unsigned long long>(stats.errors));
  desk.stop();
  pricing.stop();
  return stats.replies_received == symbols.size() ? 0 : 1;
}
