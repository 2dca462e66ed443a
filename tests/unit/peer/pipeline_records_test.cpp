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
  Names names{"unset", "unset", "unset"};
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

FrameSet frames_of(std::initializer_list<zmq::message_t*> parts) {
  FrameSet f;
  for (auto* m : parts) f.push(std::move(*m));
  return f;
}

TEST(PipelineRecords, ASmallPublishIsOneFrameInsideTheMessageALargerOneTwo) {
  const std::string payload16(16, 'p');
  ASSERT_TRUE(fits_inside("Tick", "bench.topic", payload16.size())) << "33 bytes exactly";
  EXPECT_FALSE(fits_inside("Tick", "bench.topic", payload16.size() + 1));
  zmq::message_t head = publish_frame("Tick", "bench.topic", payload16);
  EXPECT_EQ(head.size(), kInsideTheMessage);
  const FrameSet one = frames_of({&head});
  const auto names = read_publish(one);
  ASSERT_TRUE(names);
  EXPECT_EQ(names->type, "Tick");
  EXPECT_EQ(names->topic, "bench.topic");
  EXPECT_EQ(names->payload, payload16);
  // Binary-safe; an empty topic (every subscriber of "") and an empty payload survive.
  const std::string type("T\0pe", 4);
  zmq::message_t bare = publish_frame(type, "");
  const FrameSet no_topic = frames_of({&bare});
  const auto empty_topic = read_publish(no_topic);
  ASSERT_TRUE(empty_topic);
  EXPECT_EQ(empty_topic->type, type);
  EXPECT_TRUE(empty_topic->topic.empty());
  EXPECT_TRUE(empty_topic->payload.empty());
  // Long names (sizes over 127 take two bytes) and a payload of its own frame.
  const std::string long_topic(200, 't');
  zmq::message_t long_head = publish_frame(std::string(128, 'y'), long_topic);
  zmq::message_t big(std::string(1000, 'b'));
  const FrameSet two = frames_of({&long_head, &big});
  const auto long_names = read_publish(two);
  ASSERT_TRUE(long_names);
  EXPECT_EQ(long_names->type.size(), 128u);
  EXPECT_EQ(long_names->topic, long_topic);
  EXPECT_EQ(long_names->payload.size(), 1000u);
}

TEST(PipelineRecords, ASmallBroadcastsPayloadTravelsInsideItsNames) {
  zmq::message_t record = work_frame(WorkMeta{.op = WorkOp::broadcast, .sequence = 9});
  zmq::message_t names = names_frame("Tick", "bench.topic", "0123456789abcdef");
  EXPECT_LE(names.size(), kInsideTheMessage);
  const FrameSet f = frames_of({&record, &names});
  Names got;
  const auto m = read_work(f, got);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sequence, 9u);
  EXPECT_EQ(got.type, "Tick");
  EXPECT_EQ(got.topic, "bench.topic");
  EXPECT_EQ(got.payload, "0123456789abcdef");
}

TEST(PipelineRecords, MalformedMessagesAreRefused) {
  Names names;
  FrameSet four;
  four.push(work_frame(WorkMeta{.op = WorkOp::stop}));
  four.push(names_frame({}, {}));
  four.push(zmq::message_t());
  four.push(zmq::message_t());
  EXPECT_FALSE(read_work(four, names)) << "two or three frames, no more";
  // A payload both inside the names and in a frame of its own.
  FrameSet twice = work_message(WorkMeta{.op = WorkOp::broadcast}, names_frame("T", "t", "p"));
  EXPECT_FALSE(read_work(twice, names));
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
  // Not a publish: a size larger than what follows, no size at all, too many frames.
  zmq::message_t x(std::string_view("x"));
  EXPECT_FALSE(read_publish(frames_of({&x})));
  zmq::message_t empty;
  EXPECT_FALSE(read_publish(frames_of({&empty})));
  zmq::message_t a = publish_frame("T", "t");
  zmq::message_t b;
  zmq::message_t c;
  EXPECT_FALSE(read_publish(frames_of({&a, &b, &c})));
}

}  // namespace
}  // namespace zmesh::detail
