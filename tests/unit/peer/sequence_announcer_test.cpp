// The publisher's side of the broadcast heartbeat (protocol.md 5.9): numbering per
// topic, what each heartbeat announces, and silence once topics stay idle.
#include "sequence_announcer.hpp"

#include <gtest/gtest.h>

namespace zmesh::detail {
namespace {

// The entries of one heartbeat, all payloads together.
std::vector<TopicSequence> entries(const std::vector<Sequences>& batches) {
  std::vector<TopicSequence> out;
  for (const auto& b : batches) out.insert(out.end(), b.topics.begin(), b.topics.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.topic < b.topic; });
  return out;
}

TEST(SequenceAnnouncer, NumbersEachTopicFromOne) {
  SequenceAnnouncer a;
  EXPECT_EQ(a.next("a"), 1U);
  EXPECT_EQ(a.next("a"), 2U);
  EXPECT_EQ(a.next("b"), 1U);
  EXPECT_EQ(a.next("a"), 3U);
  EXPECT_EQ(a.topics(), 2U);
}

TEST(SequenceAnnouncer, NothingIsAnnouncedBeforeAnythingIsPublished) {
  SequenceAnnouncer a;
  EXPECT_TRUE(a.take().empty());
}

TEST(SequenceAnnouncer, AnnouncesTheLatestSequenceOfEachChangedTopic) {
  SequenceAnnouncer a;
  for (int i = 0; i < 5; ++i) (void)a.next("weather/paris");
  (void)a.next("weather/oslo");
  const auto got = entries(a.take());
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0], (TopicSequence{"weather/oslo", 1}));
  EXPECT_EQ(got[1], (TopicSequence{"weather/paris", 5}));
}

TEST(SequenceAnnouncer, RepeatsAtPowersOfTwoThenFallsSilent) {
  SequenceAnnouncer a;
  (void)a.next("t");
  std::vector<std::uint32_t> announced_at;
  for (std::uint32_t beat = 1; beat <= 2 * SequenceAnnouncer::kLastRepeat; ++beat) {
    if (!a.take().empty()) announced_at.push_back(beat);
  }
  EXPECT_EQ(announced_at, (std::vector<std::uint32_t>{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}));
  EXPECT_EQ(a.active(), 0U);
  EXPECT_TRUE(a.take().empty());
  // Published again: announced again at once, with the sequence counting on.
  EXPECT_EQ(a.next("t"), 2U);
  EXPECT_EQ(entries(a.take()), (std::vector<TopicSequence>{{"t", 2}}));
}

TEST(SequenceAnnouncer, APublishRestartsTheRepeats) {
  SequenceAnnouncer a;
  (void)a.next("t");
  (void)a.take();  // age 1
  (void)a.take();  // age 2
  (void)a.take();  // age 3: not announced
  (void)a.next("t");
  EXPECT_EQ(entries(a.take()), (std::vector<TopicSequence>{{"t", 2}}));
  EXPECT_EQ(a.active(), 1U);
}

TEST(SequenceAnnouncer, ManyTopicsAreSplitIntoBoundedPayloads) {
  SequenceAnnouncer a;
  const std::size_t n = 2 * SequenceAnnouncer::kMaxEntries + 5;
  for (std::size_t i = 0; i < n; ++i) (void)a.next("topic/" + std::to_string(i));
  const auto batches = a.take();
  ASSERT_EQ(batches.size(), 3U);
  std::size_t total = 0;
  for (const auto& b : batches) {
    EXPECT_LE(b.topics.size(), SequenceAnnouncer::kMaxEntries);
    total += b.topics.size();
  }
  EXPECT_EQ(total, n);
}

}  // namespace
}  // namespace zmesh::detail
