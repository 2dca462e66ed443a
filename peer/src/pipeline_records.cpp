// How WorkMeta and ResultMeta travel on the engine <-> worker pipes, and a publish on the
// command pipe (pipeline.hpp): few frames, small enough for libzmq to keep inside the
// message when the names are short.
#include <bit>
#include <cstring>
#include <initializer_list>

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

// Sizes as LEB128 varints, 7 bits a byte: a name under 128 bytes has a one-byte size.
// (A type is shorter than a header, which Limits keeps within 64 KiB; a topic or a route
// with its key is shorter still: three bytes always suffice.)
constexpr std::size_t kMaxVarint = 3;

constexpr std::size_t varint_size(std::size_t n) noexcept {
  return n < 0x80 ? 1 : (n < 0x4000 ? 2 : 3);
}

char* put_varint(char* p, std::size_t n) noexcept {
  while (n >= 0x80) {
    *p++ = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  *p++ = static_cast<char>(n);
  return p;
}

bool take_varint(std::string_view& bytes, std::size_t& n) noexcept {
  n = 0;
  for (std::size_t i = 0; i < kMaxVarint && i < bytes.size(); ++i) {
    const auto b = static_cast<std::uint8_t>(bytes[i]);
    n |= static_cast<std::size_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      bytes.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

std::size_t names_size(std::size_t type, std::size_t topic, std::size_t payload) noexcept {
  return varint_size(type) + type + varint_size(topic) + topic + payload;
}

// [type size][type][topic size][topic: its parts one after the other][payload].
zmq::message_t names_of(std::string_view type, std::initializer_list<std::string_view> topic,
                        std::string_view payload) {
  std::size_t topic_size = 0;
  for (const auto part : topic) topic_size += part.size();
  zmq::message_t f(names_size(type.size(), topic_size, payload.size()));
  char* p = static_cast<char*>(f.data());
  const auto put = [&p](std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    p += bytes.size();
  };
  p = put_varint(p, type.size());
  put(type);
  p = put_varint(p, topic_size);
  for (const auto part : topic) put(part);
  put(payload);
  return f;
}

std::optional<Names> split_names(std::string_view bytes) {
  std::size_t type_size = 0;
  std::size_t topic_size = 0;
  if (!take_varint(bytes, type_size) || bytes.size() < type_size) return std::nullopt;
  const std::string_view type = bytes.substr(0, type_size);
  bytes.remove_prefix(type_size);
  if (!take_varint(bytes, topic_size) || bytes.size() < topic_size) return std::nullopt;
  return Names{type, bytes.substr(0, topic_size), bytes.substr(topic_size)};
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

bool fits_inside(std::string_view type, std::string_view topic, std::size_t payload) noexcept {
  return names_size(type.size(), topic.size(), payload) <= kInsideTheMessage;
}

zmq::message_t names_frame(std::string_view type, std::string_view topic,
                           std::string_view payload) {
  return names_of(type, {topic}, payload);
}

zmq::message_t delivery_names(std::string_view type, const Route& route, std::string_view key) {
  return names_of(
      type,
      {std::string_view(reinterpret_cast<const char*>(&route.connection), sizeof route.connection),
       std::string_view(route.identity, route.identity_size), key},
      {});
}

std::optional<WorkMeta> read_work(const FrameSet& frames, Names& names) {
  if (frames.size() != 2 && frames.size() != 3) return std::nullopt;
  const auto r = pod_from<WorkRecord>(frames[0]);
  const auto split = split_names(view_of(frames[1]));
  if (!r || !split) return std::nullopt;
  names = *split;
  if (frames.size() == 3) {  // the payload in a frame of its own, none inside the names
    if (!names.payload.empty()) return std::nullopt;
    names.payload = view_of(frames[2]);
  }
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

zmq::message_t publish_frame(std::string_view type, std::string_view topic,
                             std::string_view payload) {
  return names_frame(type, topic, payload);
}

std::optional<Names> read_publish(const FrameSet& frames) {
  if (frames.size() != 1 && frames.size() != 2) return std::nullopt;
  auto names = split_names(view_of(frames[0]));
  if (!names) return std::nullopt;
  if (frames.size() == 2) {
    if (!names->payload.empty()) return std::nullopt;
    names->payload = view_of(frames[1]);
  }
  return names;
}

}  // namespace zmesh::detail
