// How WorkMeta and ResultMeta travel on the engine <-> worker pipes, and a publish on the
// command pipe (pipeline.hpp): few frames, small enough for libzmq to keep inside the
// message when the names are short.
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

// A result's first frame, packed: [op][code][identity size][correlation id, 8 bytes], then
// the route: [connection, 8 bytes][identity].
constexpr std::size_t kResultHead = 3 + sizeof(std::uint64_t);

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

// A route at the head of `bytes`: [connection, 8 bytes][identity][what follows].
std::optional<Route> route_of(std::string_view bytes, std::size_t identity_size) {
  Route r;
  if (bytes.size() < sizeof r.connection + identity_size || identity_size > kInlineIdentity) {
    return std::nullopt;
  }
  std::memcpy(&r.connection, bytes.data(), sizeof r.connection);
  r.identity_size = static_cast<std::uint8_t>(identity_size);
  std::memcpy(r.identity, bytes.data() + sizeof r.connection, identity_size);
  return r;
}

// [type size, 2 bytes][type][parts...] into one frame. (A type is shorter than a header,
// and Limits keeps headers within 64 KiB: its size fits the two bytes.)
template <class... Parts>
zmq::message_t names_of(std::string_view lead, std::string_view type, Parts... parts) {
  const auto type_size = static_cast<std::uint16_t>(type.size());
  zmq::message_t f(lead.size() + sizeof type_size + type.size() + (parts.size() + ... + 0));
  char* p = static_cast<char*>(f.data());
  const auto put = [&p](const void* data, std::size_t n) {
    if (n != 0) std::memcpy(p, data, n);
    p += n;
  };
  put(lead.data(), lead.size());
  put(&type_size, sizeof type_size);
  put(type.data(), type.size());
  (put(parts.data(), parts.size()), ...);
  return f;
}

std::optional<Names> split_names(std::string_view bytes) {
  std::uint16_t type_size = 0;
  if (bytes.size() < sizeof type_size) return std::nullopt;
  std::memcpy(&type_size, bytes.data(), sizeof type_size);
  bytes.remove_prefix(sizeof type_size);
  if (bytes.size() < type_size) return std::nullopt;
  return Names{bytes.substr(0, type_size), bytes.substr(type_size)};
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

zmq::message_t names_frame(std::string_view type, std::string_view topic) {
  return names_of({}, type, topic);
}

zmq::message_t delivery_names(std::string_view type, const Route& route, std::string_view key) {
  return names_of(
      {}, type,
      std::string_view(reinterpret_cast<const char*>(&route.connection), sizeof route.connection),
      std::string_view(route.identity, route.identity_size), key);
}

std::optional<WorkMeta> read_work(const FrameSet& frames, Names& names) {
  if (frames.size() != 3) return std::nullopt;
  const auto r = pod_from<WorkRecord>(frames[0]);
  const auto split = split_names(view_of(frames[1]));
  if (!r || !split) return std::nullopt;
  names = *split;
  WorkMeta m{.op = r->op,
             .kind = r->kind,
             .sender = r->sender,
             .deadline_unix_ms = r->deadline_unix_ms,
             .latest = r->latest};
  switch (r->op) {
    case WorkOp::deliver: {
      const auto route = route_of(names.topic, r->identity_size);
      if (!route) return std::nullopt;
      m.route = *route;
      names.topic.remove_prefix(sizeof route->connection + route->identity_size);
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
  const Route& route = meta.route;
  zmq::message_t f(kResultHead + sizeof route.connection + route.identity_size);
  auto* p = static_cast<char*>(f.data());
  p[0] = static_cast<char>(meta.op);
  p[1] = static_cast<char>(meta.code);
  p[2] = static_cast<char>(route.identity_size);
  std::memcpy(p + 3, &meta.correlation_id, sizeof meta.correlation_id);
  std::memcpy(p + kResultHead, &route.connection, sizeof route.connection);
  std::memcpy(p + kResultHead + sizeof route.connection, route.identity, route.identity_size);
  return f;
}

std::optional<ResultMeta> read_result(const zmq::message_t& frame) {
  std::string_view bytes = view_of(frame);
  if (bytes.size() < kResultHead) return std::nullopt;
  ResultMeta m{static_cast<ResultOp>(bytes[0]), static_cast<WireError>(bytes[1]), Route{}, 0};
  const auto identity_size = static_cast<std::uint8_t>(bytes[2]);
  std::memcpy(&m.correlation_id, bytes.data() + 3, sizeof m.correlation_id);
  const auto route = route_of(bytes.substr(kResultHead), identity_size);
  if (!route || bytes.size() != kResultHead + sizeof route->connection + identity_size) {
    return std::nullopt;
  }
  m.route = *route;
  return m;
}

zmq::message_t publish_frame(std::string_view type, std::string_view topic) {
  const char op = static_cast<char>(CommandOp::publish);
  return names_of(std::string_view(&op, 1), type, topic);
}

std::optional<Names> read_publish(const zmq::message_t& frame) {
  std::string_view bytes = view_of(frame);
  if (bytes.empty() || bytes[0] != static_cast<char>(CommandOp::publish)) return std::nullopt;
  return split_names(bytes.substr(1));
}

}  // namespace zmesh::detail
