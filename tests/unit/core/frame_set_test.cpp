#include "zmesh/core/frame_set.hpp"

#include <string>

#include <gtest/gtest.h>

namespace zmesh {
namespace {

TEST(FrameSet, ReceivesWholeMultipartAndCountsExtraFrames) {
  zmq::context_t ctx;
  zmq::socket_t a(ctx, zmq::socket_type::pair);
  zmq::socket_t b(ctx, zmq::socket_type::pair);
  a.bind("inproc://frames");
  b.connect("inproc://frames");
  for (int i = 0; i < 6; ++i) {
    const std::string s = "f" + std::to_string(i);
    a.send(zmq::buffer(s), i < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  a.send(zmq::str_buffer("next"), zmq::send_flags::none);

  FrameSet fs;
  ASSERT_TRUE(fs.recv(b));
  EXPECT_EQ(fs.size(), FrameSet::kMaxFrames);
  EXPECT_EQ(fs.total(), 6u);
  EXPECT_EQ(view_of(fs[0]), "f0");
  EXPECT_EQ(view_of(fs[3]), "f3");
  // The socket is left at the next message boundary.
  ASSERT_TRUE(fs.recv(b));
  EXPECT_EQ(fs.total(), 1u);
  EXPECT_EQ(view_of(fs[0]), "next");
  EXPECT_FALSE(fs.recv(b, zmq::recv_flags::dontwait));
}

}  // namespace
}  // namespace zmesh
