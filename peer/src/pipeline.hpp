// The inproc pipelines inside one Peer, and the fixed-size records that lead each
// message on them. Records are trivially copyable and travel as the first frame.
//
//   app thread --PUSH--> engine PULL       [CommandMeta][...] (see CommandOp)
//   engine PAIR <-> worker PAIR (one each)  engine->worker [WorkMeta][names][payload]
//                                           worker->engine [ResultMeta, route][payload|error]
//   (the two as compact records: see work_frame below)
// Every frame costs a send and a receive on each side of a pipe (about 0.27 µs of CPU
// for the two on inproc), so what is small travels together in one frame.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <zmq.hpp>

#include "completions.hpp"
#include "zmesh/core/frame_set.hpp"
#include "zmesh/core/header.hpp"
#include "zmesh/peer/message.hpp"

namespace zmesh::detail {

/// Inproc endpoint names of one Peer (`uid` is unique per Peer in the process).
inline std::string command_endpoint(const std::string& uid) {
  return "inproc://zmesh-" + uid + "-cmd";
}
inline std::string worker_endpoint(const std::string& uid, std::size_t i) {
  return "inproc://zmesh-" + uid + "-worker-" + std::to_string(i);
}

enum class CommandOp : std::uint8_t {
  connect,          // [meta][endpoint][server key ("" = none)]
  disconnect,       // [meta][][]
  send,             // [meta][type][payload]
  request,          // [meta][type][payload]
  connections,      // [meta][][]
  stop,             // [meta][][]
  publish,          // [names][payload] or [names with payload] (no CommandMeta)
  subscribe,        // [meta][prefix][]
  unsubscribe,      // [meta][prefix][]
  subscribe_to,     // [meta][endpoint][]
  sync,             // [meta][][]
  publishers,       // [meta][][]
  members,          // [meta][][]
  lookup,           // [meta][name][service]
  connect_name,     // [meta][name][]
  request_service,  // [meta][type][payload][service]
  reload_trust,     // [meta][][]
};

// At most 33 bytes, like every record on the request path: libzmq keeps a frame that
// small inside the message itself, where a larger one is malloc()ed on the sending thread
// and free()d on the receiving one (glibc then locks the sender's arena from another
// thread, and the two wake each other with futex calls).
struct CommandMeta {
  CommandOp op;
  PeerId to = 0;                 // send/request/disconnect
  std::int64_t deadline_us = 0;  // steady clock: request timeout, connect timeout, stop drain;
                                 // a request's deadline on the wire is made from it
  Handoff completion{};          // what the engine completes, if anything
};
static_assert(sizeof(CommandMeta) <= 33, "kept inside the zmq message: see above");

enum class WorkOp : std::uint8_t {
  deliver,    // a request or message; the topic frame carries the sender's CURVE key
  broadcast,  // a publish; `sequence` is its number
  gap,        // broadcasts missed on a topic; `missed` says how many
  complete,   // a callback-style request's completion; payload = reply or error text
  stop,       // no more work: acknowledge and leave
};

/// Largest ROUTER identity carried inline so a reply goes back on the socket and
/// identity the request came in on (ZeroMQ's own identities are 5 bytes).
inline constexpr std::size_t kInlineIdentity = 32;

struct Route {
  std::uint64_t connection = 0;    // engine connection key
  std::uint8_t identity_size = 0;  // 0 = via the connection's DEALER
  char identity[kInlineIdentity] = {};
};

struct WorkMeta {
  WorkOp op;
  Kind kind = Kind::invalid;  // deliver: request or message
  PeerId sender = 0;
  Route route{};
  std::uint64_t correlation_id = 0;  // deliver: the request's
  std::uint64_t sequence = 0;        // broadcast: its number on its topic
  std::uint64_t missed = 0;          // gap: how many broadcasts were missed
  std::uint64_t deadline_unix_ms = 0;
  Handoff completion{};     // complete: the RequestCompletion
  int error = 0;            // complete: errc value, 0 = success
  std::uint32_t flags = 0;  // deliver, broadcast: header flags (NoReply, Retained)
  // broadcast: 0 for the plain subscriptions; 1 for the latest ones; 2 for the latest
  // ones and counted in PeerShared::latest_in_flight (LatestBox).
  std::uint8_t latest = 0;
};

enum class ResultOp : std::uint8_t { reply, error, stopped };

/// A worker's answer to a delivery (or its stop acknowledgement).
struct ResultMeta {
  ResultOp op;
  WireError code;  // error
  Route route;
  std::uint64_t correlation_id;
};

// On the pipes the two records travel smaller than they are (pipeline_records.cpp), in
// frames of at most 33 bytes, which libzmq keeps inside the message: nothing is malloc()ed
// on one thread and free()d on the other (glibc would lock the allocating thread's arena
// from the freeing one, and the two would wake each other with futex calls).
//   work:    [WorkRecord, 32 bytes][names][payload], or [WorkRecord][names with payload]
//   names:   [type size][type][topic size][topic][payload, when inside]: sizes as varints;
//            a delivery's topic is its route ([connection, 8 bytes][identity]) then the
//            sender's CURVE key
//   result:  [ResultRecord, 11 bytes][connection, 8 bytes][identity] then [body]
//   publish: [names][payload], or [names with payload] (no CommandMeta: a command of one
//            or two frames is a publish; every other has three or more)
// A payload travels inside the names frame when the whole fits in 33 bytes (a 16-byte
// broadcast on a short type and topic): one frame fewer on that pipe.

/// libzmq 4.3 keeps a frame of up to this many bytes inside the message (no malloc).
inline constexpr std::size_t kInsideTheMessage = 33;

/// A message's type and topic (a delivery's: its route and the sender's key) and payload,
/// viewed in its frames.
struct Names {
  std::string_view type;
  std::string_view topic;
  std::string_view payload;
};

/// The first frame of a work message.
[[nodiscard]] zmq::message_t work_frame(const WorkMeta& meta);
/// Whether names with a payload of `payload` bytes fit in one frame inside the message.
[[nodiscard]] bool fits_inside(std::string_view type, std::string_view topic,
                               std::size_t payload) noexcept;
/// The names frame of a broadcast or gap (topic), a completion (none); with `payload`
/// inside it, if given.
[[nodiscard]] zmq::message_t names_frame(std::string_view type, std::string_view topic,
                                         std::string_view payload = {});
/// The names frame of a delivery: its type, route and the sender's key.
[[nodiscard]] zmq::message_t delivery_names(std::string_view type, const Route& route,
                                            std::string_view key);
/// The WorkMeta of a received work message (route included), and in `names` its type,
/// topic (a delivery's: the sender's key) and payload. Null when it is not one.
[[nodiscard]] std::optional<WorkMeta> read_work(const FrameSet& frames, Names& names);
/// The first frame of a result: the record and the route of the work it answers.
[[nodiscard]] zmq::message_t result_frame(const ResultMeta& meta);
[[nodiscard]] std::optional<ResultMeta> read_result(const zmq::message_t& frame);
/// A publish command's first frame (the payload inside it when given, else in a second).
[[nodiscard]] zmq::message_t publish_frame(std::string_view type, std::string_view topic,
                                           std::string_view payload = {});
/// The type, topic and payload of a publish command; null when it is not one.
[[nodiscard]] std::optional<Names> read_publish(const FrameSet& frames);

template <class T>
zmq::message_t pod_frame(const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  return zmq::message_t(&value, sizeof(T));
}

template <class T>
std::optional<T> pod_from(const zmq::message_t& frame) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (frame.size() != sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, frame.data(), sizeof(T));
  return value;
}

}  // namespace zmesh::detail
