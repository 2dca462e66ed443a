// kStatsRequestType: every Peer answers it with its stats as JSON; applications cannot
// register a handler for a reserved type.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "zmesh/core/ids.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {
namespace {

TEST(StatsRequest, ReservedTypesAreRefused) {
  Peer p(PeerOptions{.name = "app"});
  EXPECT_THROW((void)p.on(std::string(kStatsRequestType), [](const Message&) { return ""; }),
               Error);
  EXPECT_THROW((void)p.on("zmesh.anything", [](const Message&) { return ""; }), Error);
  EXPECT_NO_THROW((void)p.on("zmeshy", [](const Message&) { return ""; }));
}

TEST(StatsRequest, EveryPeerAnswersWithItsCountersAndConnections) {
  Peer server(PeerOptions{.name = "stats-server"});
  auto echo = server.on("Echo", [](const Message& m) { return std::string(m.text()); });
  server.start();
  Peer client(PeerOptions{.name = "stats-client"});
  client.start();
  const PeerId to = client.connect(server.endpoint()).get();
  for (int i = 0; i < 4; ++i) (void)client.request(to, "Echo", "x").get();

  const Response r = client.request(to, kStatsRequestType, "").get();
  const auto j = nlohmann::json::parse(r.payload);
  EXPECT_EQ(j["id"], id_to_hex(server.id()));
  EXPECT_EQ(j["name"], "stats-server");
  EXPECT_EQ(j["endpoint"], server.endpoint());
  EXPECT_EQ(j["pub_endpoint"], server.pub_endpoint());
  EXPECT_EQ(j["stats"]["handled"], 4);  // the Echo requests; this one is still running
  EXPECT_EQ(j["stats"]["received"], 5);
  ASSERT_EQ(j["connections"].size(), 1u) << j.dump();
  EXPECT_EQ(j["connections"][0]["peer"], id_to_hex(client.id()));
  EXPECT_EQ(j["connections"][0]["name"], "stats-client");
  EXPECT_EQ(j["connections"][0]["state"], "ready");
  EXPECT_TRUE(j["publishers"].is_array());
}

}  // namespace
}  // namespace zmesh
