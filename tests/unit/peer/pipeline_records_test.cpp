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

FrameSet work_message(const WorkMeta& meta, zmq::message_t names) {
  FrameSet f;
  f.push(work_frame(meta));
  f.push(std::move(names));
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
  FrameSet f = work_message(in, delivery_names("Type", route, ""));
  EXPECT_EQ(f.size(), 3u) << "record, names, payload";
  EXPECT_LE(f[0].size(), kInsideTheMessage);
  EXPECT_LE(f[1].size(), kInsideTheMessage) << "a short type, a 5-byte ZeroMQ identity, no key";
  Names names{"unset", "unset"};
  const auto out = read_work(f, names);
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
  EXPECT_EQ(names.type, "Type");
  EXPECT_TRUE(names.topic.empty()) << "no sender's key";

  FrameSet keyed = work_message(in, delivery_names("Type", route, "Z85-key-of-the-sender"));
  ASSERT_TRUE(read_work(keyed, names));
  EXPECT_EQ(names.type, "Type");
  EXPECT_EQ(names.topic, "Z85-key-of-the-sender");

  // The result carries the route back in its first frame.
  const ResultMeta r{ResultOp::error, WireError::no_handler, out->route, out->correlation_id};
  const zmq::message_t record = result_frame(r);
  EXPECT_LE(record.size(), kInsideTheMessage);
  const auto back = read_result(record);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->op, ResultOp::error);
  EXPECT_EQ(back->code, WireError::no_handler);
  EXPECT_EQ(back->correlation_id, 991u);
  EXPECT_EQ(back->route.connection, 77u);
  EXPECT_EQ(std::string_view(back->route.identity, back->route.identity_size),
            std::string_view(route.identity, 5));
}

TEST(PipelineRecords, BroadcastsGapsAndCompletionsKeepTheirFields) {
  Names names;
  FrameSet b = work_message(WorkMeta{.op = WorkOp::broadcast,
                                     .kind = Kind::publish,
                                     .sender = 5,
                                     .sequence = 123456789012ULL,
                                     .flags = kFlagRetained,
                                     .latest = 2},
                            names_frame("Tick", "prices.eu"));
  EXPECT_LE(b[0].size(), kInsideTheMessage);
  EXPECT_LE(b[1].size(), kInsideTheMessage);
  auto m = read_work(b, names);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sequence, 123456789012ULL);
  EXPECT_EQ(m->flags, kFlagRetained);
  EXPECT_EQ(m->latest, 2);
  EXPECT_EQ(names.type, "Tick");
  EXPECT_EQ(names.topic, "prices.eu");

  FrameSet g =
      work_message(WorkMeta{.op = WorkOp::gap, .sender = 5, .missed = 17}, names_frame({}, "t"));
  m = read_work(g, names);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->missed, 17u);
  EXPECT_TRUE(names.type.empty());
  EXPECT_EQ(names.topic, "t");

  auto done = std::make_unique<RequestCompletion>();
  RequestCompletion* const raw = done.get();
  FrameSet c = work_message(WorkMeta{.op = WorkOp::complete,
                                     .kind = Kind::error,
                                     .sender = 9,
                                     .completion = Handoff::give(std::move(done)),
                                     .error = static_cast<int>(errc::no_handler)},
                            names_frame({}, {}));
  m = read_work(c, names);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->error, static_cast<int>(errc::no_handler));
  auto taken = m->completion.take<RequestCompletion>();  // owned again, freed here
  EXPECT_EQ(taken.get(), raw);
}

TEST(PipelineRecords, APublishTravelsInTwoFramesTheFirstInsideTheMessage) {
  const zmq::message_t head = publish_frame("Tick", "bench.topic");
  EXPECT_LE(head.size(), kInsideTheMessage);
  const auto names = read_publish(head);
  ASSERT_TRUE(names);
  EXPECT_EQ(names->type, "Tick");
  EXPECT_EQ(names->topic, "bench.topic");
  // Binary-safe, and an empty topic (every subscriber of "") survives.
  const std::string type("T\0pe", 4);
  const zmq::message_t no_topic = publish_frame(type, "");
  const auto empty_topic = read_publish(no_topic);
  ASSERT_TRUE(empty_topic);
  EXPECT_EQ(empty_topic->type, type);
  EXPECT_TRUE(empty_topic->topic.empty());
  // Long names still travel, in a frame libzmq allocates.
  const std::string long_topic(200, 't');
  const zmq::message_t long_head = publish_frame(std::string(128, 'y'), long_topic);
  const auto long_names = read_publish(long_head);
  ASSERT_TRUE(long_names);
  EXPECT_EQ(long_names->type.size(), 128u);
  EXPECT_EQ(long_names->topic, long_topic);
}

TEST(PipelineRecords, MalformedMessagesAreRefused) {
  Names names;
  FrameSet four;
  four.push(work_frame(WorkMeta{.op = WorkOp::stop}));
  four.push(names_frame({}, {}));
  four.push(zmq::message_t());
  four.push(zmq::message_t());
  EXPECT_FALSE(read_work(four, names)) << "three frames or none";
  // A names frame shorter than the type it announces.
  FrameSet short_names =
      work_message(WorkMeta{.op = WorkOp::broadcast}, zmq::message_t(std::string_view("\x09\x00"
                                                                                      "abc",
                                                                                      5)));
  EXPECT_FALSE(read_work(short_names, names));
  // A delivery whose names are shorter than the route it announces.
  Route route{.connection = 1, .identity_size = 5};
  FrameSet short_route =
      work_message(WorkMeta{.op = WorkOp::deliver, .route = route}, names_frame("T", "1234"));
  EXPECT_FALSE(read_work(short_route, names));
  EXPECT_FALSE(read_result(zmq::message_t(std::string_view("x"))));
  // A result whose route is not the size its record says.
  Route five{.connection = 1, .identity_size = 5};
  const zmq::message_t good = result_frame(ResultMeta{ResultOp::reply, WireError::none, five, 1});
  const std::string cut(view_of(good).substr(0, good.size() - 1));
  EXPECT_FALSE(read_result(zmq::message_t(cut.data(), cut.size())));
  // Not a publish.
  EXPECT_FALSE(read_publish(zmq::message_t(std::string_view("x"))));
  EXPECT_FALSE(read_publish(zmq::message_t()));
}

}  // namespace
}  // namespace zmesh::detail
