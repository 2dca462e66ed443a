// The broker's ACL (broker/src/acl.cpp): the format of docs/security.md, "The broker's
// ACL", its errors naming the line, and what it grants.
#include "acl.hpp"

#include <string>

#include <gtest/gtest.h>

#include "zmesh/core/errors.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh::detail {
namespace {

const std::string kAlice = generate_certificate("alice").public_key;
const std::string kBob = generate_certificate("bob").public_key;

/// The message of the error parsing `text` throws; "" when it parses.
std::string error_of(const std::string& text) {
  try {
    (void)Acl::parse(text, "ACL file 'test'");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    return e.what();
  }
  return {};
}

TEST(Acl, GrantsNamesAndServicesByGlobPerKey) {
  const Acl acl = Acl::parse("# the pricing team\n" + kAlice +
                                 " name:pricing-* service:quotes service:q?-*\n"
                                 "\n   # indented comment\n" +
                                 kBob + "\tname:bob   # trailing comment name:evil\n",
                             "test");
  EXPECT_EQ(acl.size(), 2U);
  EXPECT_TRUE(acl.allows_name(kAlice, "pricing-eu"));
  EXPECT_FALSE(acl.allows_name(kAlice, "pricing"));
  EXPECT_TRUE(acl.allows_service(kAlice, "quotes"));
  EXPECT_TRUE(acl.allows_service(kAlice, "q1-fast"));
  EXPECT_FALSE(acl.allows_service(kAlice, "quotes2"));
  EXPECT_TRUE(acl.allows_name(kBob, "bob"));
  EXPECT_FALSE(acl.allows_name(kBob, "evil"));  // after '#': a comment
  EXPECT_FALSE(acl.allows_service(kBob, "quotes"));
  EXPECT_FALSE(acl.allows_name(generate_certificate("x").public_key, "bob"));
}

TEST(Acl, StarLinesApplyToEveryKeyAndLinesAddUp) {
  const Acl acl = Acl::parse(
      "* service:public-*\n" + kAlice + " name:a\n" + kAlice + " service:private\n", "test");
  EXPECT_TRUE(acl.allows_service(kBob, "public-x"));
  EXPECT_TRUE(acl.allows_service(kAlice, "public-y"));
  EXPECT_TRUE(acl.allows_service(kAlice, "private"));
  EXPECT_FALSE(acl.allows_service(kBob, "private"));
  EXPECT_TRUE(acl.allows_name(kAlice, "a"));
  EXPECT_FALSE(acl.allows_name(kBob, "a"));
}

TEST(Acl, EmptyAclGrantsNothing) {
  const Acl acl = Acl::parse("# nothing yet\n\n", "test");
  EXPECT_EQ(acl.size(), 0U);
  EXPECT_FALSE(acl.allows_name(kAlice, "a"));
  EXPECT_FALSE(acl.allows_service(kAlice, "s"));
}

TEST(Acl, AValueWithANulNeverMatches) {
  const Acl acl = Acl::parse("* name:pricing\n", "test");
  EXPECT_FALSE(acl.allows_name(kAlice, std::string("pricing\0evil", 12)));
}

TEST(Acl, ErrorsNameTheOriginLineAndWord) {
  const std::string not_key = error_of("# header\nalice name:a\n");
  EXPECT_NE(not_key.find("ACL file 'test' line 2"), std::string::npos) << not_key;
  EXPECT_NE(not_key.find("'alice' is not a public key"), std::string::npos) << not_key;

  const std::string bad_word = error_of("* name:a\n\n" + kAlice + " name:b nmae:c\n");
  EXPECT_NE(bad_word.find("line 3"), std::string::npos) << bad_word;
  EXPECT_NE(bad_word.find("'nmae:c'"), std::string::npos) << bad_word;

  const std::string no_colon = error_of("* pricing\n");
  EXPECT_NE(no_colon.find("line 1"), std::string::npos) << no_colon;
  EXPECT_NE(no_colon.find("expected name:<glob> or service:<glob>"), std::string::npos);

  const std::string empty_glob = error_of("* service:\n");
  EXPECT_NE(empty_glob.find("the glob is empty"), std::string::npos) << empty_glob;

  const std::string nothing = error_of(kBob + "   # only a comment after the key\n");
  EXPECT_NE(nothing.find("granted nothing"), std::string::npos) << nothing;

  EXPECT_EQ(error_of("* name:*\r\n" + kAlice + " service:x\r\n"), "");  // CRLF files read
}

TEST(Acl, LoadNamesAMissingFile) {
  try {
    (void)Acl::load("/nonexistent/zmesh-acl");
    FAIL() << "a missing file loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/zmesh-acl"), std::string::npos);
  }
}

}  // namespace
}  // namespace zmesh::detail
