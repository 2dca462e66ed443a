#include "service_router.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace zmesh::detail {
namespace {

PeerInfo offering(PeerId id, std::vector<std::string> services = {"svc"}) {
  PeerInfo p;
  p.id = id;
  p.name = "p" + std::to_string(id);
  p.services = std::move(services);
  return p;
}

struct RouterFixture {
  explicit RouterFixture(PeerId self = 100)
      : router(self, ServiceRouter::Hooks{
                         .known =
                             [this](const std::function<void(const PeerInfo&)>& fn) {
                               for (const auto& p : peers) fn(p);
                             },
                         .reach =
                             [this](const PeerInfo& p) {
                               reached.push_back(p.id);
                               return unreachable.count(p.id) == 0;
                             },
                     }) {}
  std::vector<PeerInfo> peers;
  std::set<PeerId> unreachable;
  std::vector<PeerId> reached;
  ServiceRouter router;
};

TEST(ServiceRouter, RoundRobinInIdOrder) {
  RouterFixture f;
  f.peers = {offering(3), offering(1), offering(2)};
  std::vector<PeerId> picks;
  picks.reserve(6);
  for (int i = 0; i < 6; ++i) picks.push_back(f.router.pick("svc", {}));
  EXPECT_EQ(picks, (std::vector<PeerId>{1, 2, 3, 1, 2, 3}));
}

TEST(ServiceRouter, TurnIsPerService) {
  RouterFixture f;
  f.peers = {offering(1, {"a", "b"}), offering(2, {"a", "b"})};
  EXPECT_EQ(f.router.pick("a", {}), 1u);
  EXPECT_EQ(f.router.pick("b", {}), 1u);  // b's turn did not move with a's
  EXPECT_EQ(f.router.pick("a", {}), 2u);
}

TEST(ServiceRouter, SkipsTriedAndSelf) {
  RouterFixture f(/*self=*/1);
  f.peers = {offering(1), offering(2), offering(3)};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.router.pick("svc", {2}), 3u);
  EXPECT_EQ(f.router.pick("svc", {2, 3}), 0u);  // only ourselves left
  for (const PeerId id : f.reached) EXPECT_NE(id, 1u) << "tried to reach ourselves";
}

TEST(ServiceRouter, SkipsUnreachable) {
  RouterFixture f;
  f.peers = {offering(1), offering(2), offering(3)};
  f.unreachable = {2};
  std::vector<PeerId> picks;
  picks.reserve(4);
  for (int i = 0; i < 4; ++i) picks.push_back(f.router.pick("svc", {}));
  EXPECT_EQ(picks, (std::vector<PeerId>{1, 3, 1, 3}));
  f.unreachable = {1, 2, 3};
  EXPECT_EQ(f.router.pick("svc", {}), 0u);
}

TEST(ServiceRouter, ZeroWhenNobodyOffersIt) {
  RouterFixture f;
  EXPECT_EQ(f.router.pick("svc", {}), 0u);  // nobody known
  f.peers = {offering(1, {"other"}), offering(2, {})};
  EXPECT_EQ(f.router.pick("svc", {}), 0u);
  EXPECT_TRUE(f.reached.empty());
}

TEST(ServiceRouter, PeerSeenTwiceCountsOnce) {
  RouterFixture f;
  // Peer 1 is both a member and a connected peer: known() reports it twice.
  f.peers = {offering(1), offering(2), offering(1)};
  std::vector<PeerId> picks;
  picks.reserve(4);
  for (int i = 0; i < 4; ++i) picks.push_back(f.router.pick("svc", {}));
  EXPECT_EQ(picks, (std::vector<PeerId>{1, 2, 1, 2}));
}

}  // namespace
}  // namespace zmesh::detail
