#include "zmesh/core/keys.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    return e.what();
  }
  return "(no error)";
}

TEST(Keys, CurveIsAvailableInThisLibzmq) {
  EXPECT_TRUE(curve_available()) << "Debian's libzmq5 is built with libsodium";
}

TEST(Keys, GeneratedCertificatesRoundTripThroughTheirTwoFiles) {
  TempDir dir;
  const Certificate made = generate_certificate("pricing");
  EXPECT_TRUE(is_z85_key(made.public_key));
  EXPECT_TRUE(is_z85_key(made.secret_key));
  save_certificate(made, dir.file("pricing.key"));

  struct stat st {};
  ASSERT_EQ(::stat(dir.file("pricing.key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.file("pricing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  const Certificate pub = load_certificate(dir.file("pricing.key"));
  EXPECT_EQ(pub.public_key, made.public_key);
  EXPECT_TRUE(pub.secret_key.empty()) << "the public file holds the secret key";
  EXPECT_EQ(pub.metadata.at("name"), "pricing");
  const Certificate sec = load_certificate(dir.file("pricing.key_secret"));
  EXPECT_EQ(sec.public_key, made.public_key);
  EXPECT_EQ(sec.secret_key, made.secret_key);
}

TEST(Keys, ReadsTheLayoutCzmqWrites) {
  TempDir dir;
  const Certificate made = generate_certificate("");
  std::ofstream(dir.file("czmq_cert.txt_secret"))
      << "#   ****  Generated on 2026-01-01 00:00:00 by CZMQ  ****\n"
      << "#   ZeroMQ CURVE **Secret** Certificate\n"
      << "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
      << "metadata\n    email = \"ops@example.com\"\ncurve\n"
      << "    public-key = \"" << made.public_key << "\"\n"
      << "    secret-key = \"" << made.secret_key << "\"\n";
  ::chmod(dir.file("czmq_cert.txt_secret").c_str(), 0600);
  const Certificate c = load_certificate(dir.file("czmq_cert.txt_secret"));
  EXPECT_EQ(c.secret_key, made.secret_key);
  EXPECT_EQ(c.metadata.at("email"), "ops@example.com");
}

TEST(Keys, ASecretFileOthersCanReadIsRefusedLikeSshDoes) {
  TempDir dir;
  save_certificate(generate_certificate("a"), dir.file("a.key"));
  ::chmod(dir.file("a.key_secret").c_str(), 0644);
  const std::string why = error_of([&] { (void)load_certificate(dir.file("a.key_secret")); });
  EXPECT_NE(why.find("mode 0644"), std::string::npos) << why;
  EXPECT_NE(why.find("chmod 600"), std::string::npos) << why;
}

TEST(Keys, BadOrMismatchedKeysAndOverwritesAreRefusedByName) {
  TempDir dir;
  const Certificate a = generate_certificate("a");
  save_certificate(a, dir.file("a.key"));
  EXPECT_NE(error_of([&] { save_certificate(a, dir.file("a.key")); }).find("exists already"),
            std::string::npos);

  Certificate mixed = a;
  mixed.public_key = generate_certificate("b").public_key;  // not a's
  std::ofstream(dir.file("mixed")) << "curve\n    public-key = \"" << mixed.public_key
                                   << "\"\n    secret-key = \"" << mixed.secret_key << "\"\n";
  ::chmod(dir.file("mixed").c_str(), 0600);
  EXPECT_NE(error_of([&] { (void)load_certificate(dir.file("mixed")); }).find("does not belong"),
            std::string::npos);

  std::ofstream(dir.file("short")) << "curve\n    public-key = \"tooshort\"\n";
  EXPECT_NE(error_of([&] { (void)load_certificate(dir.file("short")); }).find("Z85"),
            std::string::npos);
  std::ofstream(dir.file("none")) << "metadata\n    name = \"x\"\n";
  EXPECT_NE(error_of([&] { (void)load_certificate(dir.file("none")); }).find("no 'curve'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)load_certificate(dir.file("missing")); }).find("cannot read"),
            std::string::npos);
}

TEST(Keys, ATrustDirectoryYieldsItsPublicCertificatesOnly) {
  TempDir dir;
  const Certificate a = generate_certificate("a");
  const Certificate b = generate_certificate("b");
  save_certificate(a, dir.file("a.key"));
  save_certificate(b, dir.file("b.key"));
  std::ofstream(dir.file("README")) << "not a certificate\n";
  std::vector<std::string> skipped;
  const auto trusted = load_trusted_certificates(dir.str(), &skipped);
  ASSERT_EQ(trusted.size(), 2u);
  EXPECT_EQ(trusted[0].public_key, a.public_key);
  EXPECT_EQ(trusted[1].public_key, b.public_key);
  EXPECT_EQ(skipped.size(), 3u);  // two secret files and the README
  EXPECT_NE(
      error_of([&] { (void)load_trusted_certificates(dir.file("nope")); }).find("cannot read"),
      std::string::npos);
}

}  // namespace
}  // namespace zmesh
