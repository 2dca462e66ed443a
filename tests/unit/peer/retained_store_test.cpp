// What a publisher keeps for late joiners (protocol.md 5.10): the last value per topic,
// under the rule with the longest matching prefix, bounded by count and bytes.
#include "retained_store.hpp"

#include <gtest/gtest.h>

namespace zmesh::detail {
namespace {

std::vector<std::string> matching(const RetainedStore& s, std::string_view prefix) {
  std::vector<std::string> out;
  s.each_matching(prefix, [&](const RetainedStore::Value& v) {
    out.push_back(v.topic + "=" + v.payload + "#" + std::to_string(v.sequence));
  });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RetainedStore, KeepsTheLastValuePerTopicOnlyUnderARule) {
  RetainedStore s({RetainRule{"weather/"}});
  s.keep("weather/paris", "F", 1, "rain");
  s.keep("weather/paris", "F", 2, "sun");
  s.keep("weather/oslo", "F", 1, "snow");
  s.keep("news/x", "N", 1, "nothing kept");
  EXPECT_EQ(matching(s, ""),
            (std::vector<std::string>{"weather/oslo=snow#1", "weather/paris=sun#2"}));
  EXPECT_EQ(matching(s, "weather/p"), (std::vector<std::string>{"weather/paris=sun#2"}));
  EXPECT_TRUE(matching(s, "news/").empty());
  EXPECT_EQ(s.size(), 2U);
  EXPECT_EQ(s.bytes(),
            std::string("weather/osloFsnow").size() + std::string("weather/parisFsun").size());
}

TEST(RetainedStore, CountBoundForgetsTheLeastRecentlyPublished) {
  RetainedStore s({RetainRule{"t/", 2, 1 << 20}});
  s.keep("t/a", "T", 1, "a");
  s.keep("t/b", "T", 1, "b");
  s.keep("t/a", "T", 2, "a2");  // a is now the most recent
  s.keep("t/c", "T", 1, "c");   // b goes
  EXPECT_EQ(matching(s, "t/"), (std::vector<std::string>{"t/a=a2#2", "t/c=c#1"}));
}

TEST(RetainedStore, ByteBoundHoldsAndAValueThatNeverFitsIsNotKept) {
  RetainedStore s({RetainRule{"t/", 100, 20}});
  s.keep("t/a", "T", 1, std::string(10, 'x'));  // 14 bytes
  s.keep("t/b", "T", 1, std::string(5, 'y'));   // 9 more: over 20, a goes
  EXPECT_EQ(matching(s, "t/"), (std::vector<std::string>{"t/b=yyyyy#1"}));
  EXPECT_LE(s.bytes(), 20U);
  s.keep("t/b", "T", 2, std::string(50, 'z'));  // can never fit: b has no last value now
  EXPECT_TRUE(matching(s, "t/").empty());
  EXPECT_EQ(s.bytes(), 0U);
}

TEST(RetainedStore, TheLongestMatchingPrefixDecidesTheBound) {
  RetainedStore s({RetainRule{"", 100, 1 << 20}, RetainRule{"tiny/", 1, 1 << 20}});
  s.keep("tiny/1", "T", 1, "1");
  s.keep("tiny/2", "T", 1, "2");  // the tiny rule keeps one
  s.keep("big/1", "T", 1, "1");
  s.keep("big/2", "T", 1, "2");
  EXPECT_EQ(matching(s, ""), (std::vector<std::string>{"big/1=1#1", "big/2=2#1", "tiny/2=2#1"}));
}

}  // namespace
}  // namespace zmesh::detail
