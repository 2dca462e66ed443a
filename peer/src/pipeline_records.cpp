// How WorkMeta and ResultMeta travel on the engine <-> worker pipes (pipeline.hpp): in
// frames small enough for libzmq to keep inside the message.
#include <bit>
#include <cstring>

#include "pipeline.hpp"

namespace zmesh::detail {
namespace {

// One 64-bit field serves the op that uses it: a delivery's correlation id, a broadcast's
// sequence, a gap's count, a completion's pointer; `word` likewise holds flags or an error.
struct WorkRecord {
  WorkOp op;
  Kind kind;
  std::uint8_t latest;
  std::uint8_t identity_size;  // a delivery's route: how much identity its topic frame holds
  std::uint32_t word;
  PeerId sender;
  std::uint64_t number;
  std::uint64_t deadline_unix_ms;
};
static_assert(sizeof(WorkRecord) == 32 && std::is_trivially_copyable_v<WorkRecord>);

struct ResultRecord {
  ResultOp op;
  WireError code;
  std::uint8_t identity_size;  // of the route at the head of the second frame
  std::uint64_t correlation_id;
};
static_assert(sizeof(ResultRecord) <= 33 && std::is_trivially_copyable_v<ResultRecord>);
static_assert(std::is_trivially_copyable_v<Handoff> && sizeof(Handoff) == sizeof(std::uint64_t));

std::uint64_t number_of(const WorkMeta& m) {
  switch (m.op) {
    case WorkOp::deliver: return m.correlation_id;
    case WorkOp::broadcast: return m.sequence;
    case WorkOp::gap: return m.missed;
    case WorkOp::complete: return std::bit_cast<std::uint64_t>(m.completion);
    case WorkOp::stop: break;
  }
  return 0;
}

// A route frame: [connection, 8 bytes][identity][what follows].
std::optional<Route> route_of(const zmq::message_t& frame, std::size_t identity_size) {
  Route r;
  if (frame.size() < sizeof r.connection + identity_size || identity_size > kInlineIdentity) {
    return std::nullopt;
  }
  std::memcpy(&r.connection, frame.data(), sizeof r.connection);
  r.identity_size = static_cast<std::uint8_t>(identity_size);
  std::memcpy(r.identity, static_cast<const char*>(frame.data()) + sizeof r.connection,
              identity_size);
  return r;
}

}  // namespace

zmq::message_t work_frame(const WorkMeta& m) {
  const bool delivery = m.op == WorkOp::deliver;
  const WorkRecord r{m.op,
                     m.kind,
                     m.latest,
                     delivery ? m.route.identity_size : std::uint8_t{0},
                     m.op == WorkOp::complete ? static_cast<std::uint32_t>(m.error) : m.flags,
                     m.sender,
                     number_of(m),
                     m.deadline_unix_ms};
  return pod_frame(r);
}

zmq::message_t route_frame(const Route& route, std::string_view key) {
  zmq::message_t f(sizeof route.connection + route.identity_size + key.size());
  auto* p = static_cast<char*>(f.data());
  std::memcpy(p, &route.connection, sizeof route.connection);
  std::memcpy(p + sizeof route.connection, route.identity, route.identity_size);
  if (!key.empty()) {
    std::memcpy(p + sizeof route.connection + route.identity_size, key.data(), key.size());
  }
  return f;
}

std::optional<WorkMeta> read_work(const FrameSet& frames, std::string_view& topic) {
  if (frames.size() != 4) return std::nullopt;
  const auto r = pod_from<WorkRecord>(frames[0]);
  if (!r) return std::nullopt;
  WorkMeta m{.op = r->op,
             .kind = r->kind,
             .sender = r->sender,
             .deadline_unix_ms = r->deadline_unix_ms,
             .latest = r->latest};
  topic = view_of(frames[2]);
  switch (r->op) {
    case WorkOp::deliver: {
      const auto route = route_of(frames[2], r->identity_size);
      if (!route) return std::nullopt;
      m.route = *route;
      topic.remove_prefix(sizeof route->connection + route->identity_size);
      m.correlation_id = r->number;
      m.flags = r->word;
      break;
    }
    case WorkOp::broadcast:
      m.sequence = r->number;
      m.flags = r->word;
      break;
    case WorkOp::gap: m.missed = r->number; break;
    case WorkOp::complete:
      m.completion = std::bit_cast<Handoff>(r->number);
      m.error = static_cast<int>(r->word);
      break;
    case WorkOp::stop: break;
  }
  return m;
}

zmq::message_t result_frame(const ResultMeta& meta) {
  return pod_frame(ResultRecord{meta.op, meta.code, meta.route.identity_size, meta.correlation_id});
}

std::optional<ResultMeta> read_result(const zmq::message_t& record, const zmq::message_t& route) {
  const auto r = pod_from<ResultRecord>(record);
  if (!r) return std::nullopt;
  ResultMeta m{r->op, r->code, Route{}, r->correlation_id};
  if (route.size() > 0) {  // no route: a stop acknowledgement
    const auto found = route_of(route, r->identity_size);
    if (!found) return std::nullopt;
    m.route = *found;
  }
  return m;
}

}  // namespace zmesh::detail
