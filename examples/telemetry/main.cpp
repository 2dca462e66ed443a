// telemetry — one publisher, two subscribers, topics and sequence numbers.
//
// A "sensor" peer publishes readings on topics "telemetry/<room>/<kind>". A dashboard
// subscribes to everything under "telemetry/", an alarm only to temperatures of one
// room. sync_subscriptions() makes sure nothing published afterwards is missed (no
// sleeping for the "slow joiner"); the sequence numbers let subscribers count gaps.
//
//   ./example_telemetry [--broker tcp://127.0.0.1:7400]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "zmesh/peer.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const std::string broker = argc == 3 && std::string(argv[1]) == "--broker" ? argv[2] : "";
  auto options = [&](const char* name) {
    zmesh::PeerOptions o;
    o.name = name;
    o.broker = broker;
    return o;
  };

  zmesh::Peer sensor(options("sensor"));
  sensor.start();

  // Subscriptions are RAII: destroying the Registration unsubscribes.
  zmesh::Peer dashboard(options("dashboard"));
  std::atomic<int> seen{0};
  auto all = dashboard.subscribe("telemetry/", [&](const zmesh::Message& m) {
    ++seen;
    std::printf("dashboard  %-28.*s #%llu %.*s\n", static_cast<int>(m.topic().size()),
                m.topic().data(), static_cast<unsigned long long>(m.sequence()),
                static_cast<int>(m.text().size()), m.text().data());
  });
  dashboard.start();

  zmesh::Peer alarm(options("alarm"));
  std::atomic<int> alarms{0};
  auto hot = alarm.subscribe("telemetry/lab/temperature", [&](const zmesh::Message& m) {
    if (std::stod(std::string(m.text())) > 30.0) {
      ++alarms;
      std::printf("ALARM      lab is at %.*s C\n", static_cast<int>(m.text().size()),
                  m.text().data());
    }
  });
  alarm.start();

  // Without a broker, subscribers are pointed at the publisher; with one, they find
  // every publisher that joins by themselves.
  if (broker.empty()) {
    dashboard.subscribe_to(sensor.pub_endpoint());
    alarm.subscribe_to(sensor.pub_endpoint());
  } else {
    // Up to 5 s: a broker that has just started sends joins once per renew interval (3 s).
    for (int i = 0; i < 250 && (dashboard.members().size() < 2 || alarm.members().size() < 2);
         ++i) {
      std::this_thread::sleep_for(20ms);
    }
  }
  dashboard.sync_subscriptions(5s).get();
  alarm.sync_subscriptions(5s).get();

  const char* rooms[] = {"lab", "office"};
  for (int i = 0; i < 5; ++i) {
    for (const char* room : rooms) {
      const double t = 24.0 + i * 2.5 + (room[0] == 'l' ? 1.0 : 0.0);
      sensor.publish(std::string("telemetry/") + room + "/temperature", "Reading",
                     std::to_string(t));
      sensor.publish(std::string("telemetry/") + room + "/humidity", "Reading",
                     std::to_string(40 + i));
    }
  }
  for (int i = 0; i < 200 && seen.load() < 20; ++i) std::this_thread::sleep_for(10ms);

  std::printf("dashboard got %d readings, %llu missed; alarm fired %d times\n", seen.load(),
              static_cast<unsigned long long>(dashboard.stats().gaps), alarms.load());
  alarm.stop();
  dashboard.stop();
  sensor.stop();
  return seen.load() == 20 && alarms.load() == 2 ? 0 : 1;
}
