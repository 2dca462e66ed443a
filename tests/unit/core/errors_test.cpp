#include "zmesh/core/errors.hpp"

#include <gtest/gtest.h>

#include "zmesh/core/result.hpp"

namespace zmesh {
namespace {

TEST(Errors, ErrcHasCategoryAndMessage) {
  std::error_code ec = errc::peer_gone;
  EXPECT_EQ(ec.category().name(), std::string("zmesh"));
  EXPECT_EQ(ec.message(), "peer gone");
}

TEST(Errors, DecodeErrorsMapToBroadErrc) {
  std::error_code big = DecodeError::payload_too_large;
  std::error_code bad = DecodeError::header_malformed;
  std::error_code ver = DecodeError::unsupported_version;
  EXPECT_TRUE(big == make_error_condition(errc::too_large));
  EXPECT_TRUE(bad == make_error_condition(errc::malformed));
  EXPECT_FALSE(bad == make_error_condition(errc::too_large));
  EXPECT_TRUE(ver == make_error_condition(errc::unsupported_version));
  EXPECT_EQ(bad.category().name(), std::string("zmesh.decode"));
}

TEST(Errors, ExceptionCarriesKindAndText) {
  try {
    throw Error(errc::peer_gone, "peer 'pricing' gone");
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), make_error_code(errc::peer_gone));
    EXPECT_NE(std::string(e.what()).find("pricing"), std::string::npos);
    EXPECT_EQ(dynamic_cast<const Error&>(e).kind(), errc::peer_gone);
  }
}

TEST(Errors, ResultHoldsValueOrError) {
  Result<int> good = 7;
  Result<int> bad = DecodeError::empty_type;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), make_error_code(DecodeError::empty_type));
  EXPECT_THROW((void)bad.value(), Error);
}

}  // namespace
}  // namespace zmesh
