// The engine <-> worker records (pipeline.hpp) survive their compact form, and the frames
// they travel in stay small enough for libzmq to keep inside the message (<= 33 bytes).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "completions.hpp"
#include "pipeline.hpp"

namespace zmesh::detail {
namespace {

constexpr std::size_t kInsideTheMessage = 33;  // libzmq 4.3's largest "very small message"

FrameSet work_message(const WorkMeta& meta, zmq::message_t topic) {
  FrameSet f;
  f.push(work_frame(meta));
  f.push(zmq::message_t(std::string_view("Type")));
  f.push(std::move(topic));
  f.push(zmq::message_t(std::string_view("payload")));
  return f;
}

TEST(PipelineRecords, ADeliveryKeepsItsRouteAndTheSendersKeyAndFitsInsideTheMessage) {
  Route route{.connection = 77, .identity_size = 5};
  std::memcpy(route.identity, "\0\x01\x02\x03\x04", 5);
  const WorkMeta in{.op = WorkOp::deliver,
                    .kind = Kind::request,
                    .sender = 0xabcdef0123456789ULL,
                    .route = route,
                    .correlation_id = 991,
                    .deadline_unix_ms = 1'700'000'000'123ULL,
                    .flags = 3};
  FrameSet f = work_message(in, route_frame(route, ""));
  EXPECT_LE(f[0].size(), kInsideTheMessage);
  EXPECT_LE(f[2].size(), kInsideTheMessage) << "a 5-byte ZeroMQ identity and no key";
  std::string_view key = "unset";
  const auto out = read_work(f, key);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->op, WorkOp::deliver);
  EXPECT_EQ(out->kind, Kind::request);
  EXPECT_EQ(out->sender, in.sender);
  EXPECT_EQ(out->correlation_id, 991u);
  EXPECT_EQ(out->deadline_unix_ms, in.deadline_unix_ms);
  EXPECT_EQ(out->flags, 3u);
  EXPECT_EQ(out->route.connection, 77u);
  EXPECT_EQ(std::string_view(out->route.identity, out->route.identity_size),
            std::string_view(route.identity, 5));
  EXPECT_TRUE(key.empty());

  FrameSet keyed = work_message(in, route_frame(route, "Z85-key-of-the-sender"));
  ASSERT_TRUE(read_work(keyed, key));
  EXPECT_EQ(key, "Z85-key-of-the-sender");

  // The result carries the route back from the same frame.
  const ResultMeta r{ResultOp::error, WireError::no_handler, out->route, out->correlation_id};
  const zmq::message_t record = result_frame(r);
  EXPECT_LE(record.size(), kInsideTheMessage);
  const auto back = read_result(record, keyed[2]);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->op, ResultOp::error);
  EXPECT_EQ(back->code, WireError::no_handler);
  EXPECT_EQ(back->correlation_id, 991u);
  EXPECT_EQ(back->route.connection, 77u);
  EXPECT_EQ(back->route.identity_size, 5u);
}

TEST(PipelineRecords, BroadcastsGapsAndCompletionsKeepTheirFields) {
  std::string_view topic;
  FrameSet b = work_message(WorkMeta{.op = WorkOp::broadcast,
                                     .kind = Kind::publish,
                                     .sender = 5,
                                     .sequence = 123456789012ULL,
                                     .flags = kFlagRetained,
                                     .latest = 2},
                            zmq::message_t(std::string_view("prices.eu")));
  EXPECT_LE(b[0].size(), kInsideTheMessage);
  auto m = read_work(b, topic);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sequence, 123456789012ULL);
  EXPECT_EQ(m->flags, kFlagRetained);
  EXPECT_EQ(m->latest, 2);
  EXPECT_EQ(topic, "prices.eu");

  FrameSet g = work_message(WorkMeta{.op = WorkOp::gap, .sender = 5, .missed = 17},
                            zmq::message_t(std::string_view("t")));
  m = read_work(g, topic);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->missed, 17u);
  EXPECT_EQ(topic, "t");

  auto done = std::make_unique<RequestCompletion>();
  RequestCompletion* const raw = done.get();
  FrameSet c = work_message(WorkMeta{.op = WorkOp::complete,
                                     .kind = Kind::error,
                                     .sender = 9,
                                     .completion = Handoff::give(std::move(done)),
                                     .error = static_cast<int>(errc::no_handler)},
                            zmq::message_t());
  m = read_work(c, topic);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->error, static_cast<int>(errc::no_handler));
  auto taken = m->completion.take<RequestCompletion>();  // owned again, freed here
  EXPECT_EQ(taken.get(), raw);
}

TEST(PipelineRecords, MalformedMessagesAreRefused) {
  std::string_view topic;
  FrameSet three;
  three.push(work_frame(WorkMeta{.op = WorkOp::stop}));
  three.push(zmq::message_t());
  three.push(zmq::message_t());
  EXPECT_FALSE(read_work(three, topic)) << "four frames or none";
  // A delivery whose topic frame is shorter than the route it announces.
  Route route{.connection = 1, .identity_size = 5};
  FrameSet short_route = work_message(WorkMeta{.op = WorkOp::deliver, .route = route},
                                      zmq::message_t(std::string_view("1234")));
  EXPECT_FALSE(read_work(short_route, topic));
  EXPECT_FALSE(read_result(zmq::message_t(std::string_view("x")), zmq::message_t()));
}

}  // namespace
}  // namespace zmesh::detail
