// Control payloads: typed values <-> FlatBuffers tables of control.fbs and broker.fbs.
#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include <flatbuffers/flatbuffers.h>
#include <zmesh/wire/broker_generated.h>
#include <zmesh/wire/control_generated.h>

#include "zmesh/core/control.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh {
namespace {

static_assert(static_cast<int>(wire::ErrorCode::NotAllowed) == kMaxWireError);
static_assert(static_cast<int>(wire::EventType::Update) == static_cast<int>(EventType::update));

constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kZ85KeyChars = 40;
using Fbb = flatbuffers::FlatBufferBuilder;

// ------------------------------------------------------------------ encoding helpers

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> strings(
    Fbb& fbb, const std::vector<std::string>& v) {
  return fbb.CreateVectorOfStrings(v);
}

flatbuffers::Offset<wire::PeerInfo> build(Fbb& fbb, const PeerInfo& p) {
  auto name = fbb.CreateString(p.name);
  auto eps = strings(fbb, p.endpoints);
  auto pubs = strings(fbb, p.pub_endpoints);
  auto svcs = strings(fbb, p.services);
  auto key = p.public_key.empty() ? flatbuffers::Offset<flatbuffers::String>()
                                  : fbb.CreateString(p.public_key);
  return wire::CreatePeerInfo(fbb, p.id, p.session, name, eps, pubs, svcs, key);
}

template <class Offset>
zmq::message_t finish(Fbb& fbb, Offset root) {
  fbb.Finish(root);
  return zmq::message_t(fbb.GetBufferPointer(), fbb.GetSize());
}

// ------------------------------------------------------------------ decoding helpers

// An 8-byte aligned copy of `bytes`. Out of line: inlined, GCC 12's value-range
// analysis invents impossible sizes for the memcpy and warns (-Wstringop-overflow).
[[gnu::noinline]] std::vector<std::uint64_t> aligned_copy(std::span<const std::byte> bytes) {
  std::vector<std::uint64_t> out((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

// Verifies `bytes` as a T root and calls fn(const T&) -> Result<V>.
template <class T, class V, class Fn>
Result<V> verified(std::span<const std::byte> bytes, const Limits& limits, Fn&& fn) {
  if (bytes.size() > limits.max_payload_bytes) return DecodeError::payload_too_large;
  // Too short for a root offset. Checked before the aligned copy below, which for an
  // empty span would memcpy to/from a null pointer (undefined even for 0 bytes).
  if (bytes.size() < sizeof(flatbuffers::uoffset_t)) return DecodeError::payload_malformed;
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  std::vector<std::uint64_t> aligned;  // only for a misaligned frame (rare)
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    aligned = aligned_copy(bytes);
    data = reinterpret_cast<const std::uint8_t*>(aligned.data());
  }
  flatbuffers::Verifier verifier(data, bytes.size(), limits.max_verifier_depth,
                                 limits.max_verifier_tables);
  if (!verifier.VerifyBuffer<T>(nullptr)) return DecodeError::payload_malformed;
  return fn(*flatbuffers::GetRoot<T>(data));
}

bool read_string(const flatbuffers::String* s, std::size_t max, std::string& out) {
  if (s == nullptr) return true;
  if (s->size() > max) return false;
  out.assign(s->c_str(), s->size());
  return true;
}

bool read_strings(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v,
                  const Limits& limits, std::vector<std::string>& out) {
  if (v == nullptr) return true;
  if (v->size() > limits.max_list_items) return false;
  out.reserve(v->size());
  for (const auto* s : *v) {
    std::string item;
    if (!read_string(s, limits.max_string_bytes, item) || item.empty()) return false;
    out.push_back(std::move(item));
  }
  return true;
}

// A PeerInfo must name a peer: nonzero id and session, a 1..128-byte name, and a public
// key that is absent or 40 characters of Z85.
bool read_peer(const wire::PeerInfo* w, const Limits& limits, PeerInfo& out) {
  if (w == nullptr) return false;
  out.id = w->id();
  out.session = w->session();
  if (out.id == 0 || out.session == 0) return false;
  if (!read_string(w->name(), kMaxNameBytes, out.name) || out.name.empty()) return false;
  if (!read_string(w->public_key(), kZ85KeyChars, out.public_key)) return false;
  if (!out.public_key.empty() && !is_z85_key(out.public_key)) return false;
  return read_strings(w->endpoints(), limits, out.endpoints) &&
         read_strings(w->pub_endpoints(), limits, out.pub_endpoints) &&
         read_strings(w->services(), limits, out.services);
}

bool valid_interval(std::uint32_t ms) {
  return ms >= kMinHeartbeatIntervalMs && ms <= kMaxHeartbeatIntervalMs;
}

// EventType 1..3; Unknown (0) and values of a newer version are refused (protocol.md 9).
bool read_type(wire::EventType t, EventType& out) {
  const auto raw = static_cast<std::uint8_t>(t);
  if (raw == 0 || raw > static_cast<std::uint8_t>(EventType::update)) return false;
  out = static_cast<EventType>(raw);
  return true;
}

bool read_code(wire::ErrorCode c, WireError& out) {
  const auto raw = static_cast<std::uint16_t>(c);
  // Unknown codes from a newer peer are kept as they are: callers map them to remote_error.
  out = static_cast<WireError>(raw);
  return raw != 0;
}

}  // namespace

// ------------------------------------------------------------------ encode

zmq::message_t encode(const Hello& v) {
  Fbb fbb(256);
  auto peer = build(fbb, v.peer);
  // 1 is the wire default of min_protocol_version: left out, like any default.
  const std::uint8_t min_version = v.min_protocol_version == 1 ? 0 : v.min_protocol_version;
  return finish(
      fbb, wire::CreateHello(fbb, v.protocol_version, peer, v.heartbeat_interval_ms, min_version));
}

zmq::message_t encode(const Welcome& v) {
  Fbb fbb(256);
  auto peer = build(fbb, v.peer);
  return finish(fbb, wire::CreateWelcome(fbb, v.protocol_version, peer, v.heartbeat_interval_ms));
}

zmq::message_t encode(const Reject& v) {
  Fbb fbb(128);
  auto reason = fbb.CreateString(v.reason);
  return finish(fbb, wire::CreateReject(fbb, static_cast<wire::ErrorCode>(v.code), reason));
}

zmq::message_t encode(const ErrorReply& v) {
  Fbb fbb(128);
  auto text = fbb.CreateString(v.text);
  return finish(fbb, wire::CreateErrorReply(fbb, static_cast<wire::ErrorCode>(v.code), text));
}

zmq::message_t encode(const Ping& v) {
  Fbb fbb(64);
  return finish(fbb, wire::CreatePing(fbb, v.nonce, v.sent_us));
}

zmq::message_t encode(const Sequences& v) {
  Fbb fbb(256);
  std::vector<flatbuffers::Offset<wire::TopicSequence>> entries;
  entries.reserve(v.topics.size());
  for (const auto& e : v.topics) {
    auto topic =
        fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(e.topic.data()), e.topic.size());
    entries.push_back(wire::CreateTopicSequence(fbb, topic, e.sequence));
  }
  return finish(fbb, wire::CreateSequences(fbb, fbb.CreateVector(entries)));
}

zmq::message_t encode(const Register& v) {
  Fbb fbb(256);
  auto peer = build(fbb, v.peer);
  return finish(fbb, wire::CreateRegister(fbb, peer, v.ttl_ms));
}

zmq::message_t encode(const RegisterAck& v) {
  Fbb fbb(64);
  return finish(
      fbb, wire::CreateRegisterAck(fbb, v.epoch, v.ttl_ms, v.renew_interval_ms, v.event_sequence));
}

zmq::message_t encode(const Lookup& v) {
  Fbb fbb(128);
  auto name = fbb.CreateString(v.name);
  auto service = fbb.CreateString(v.service);
  return finish(fbb, wire::CreateLookup(fbb, name, service, v.after, v.limit));
}

zmq::message_t encode(const PeerList& v) {
  Fbb fbb(1024);
  std::vector<flatbuffers::Offset<wire::PeerRecord>> records;
  records.reserve(v.peers.size());
  for (const auto& r : v.peers) {
    auto peer = build(fbb, r.peer);
    records.push_back(wire::CreatePeerRecord(fbb, peer, r.age_ms));
  }
  auto vec = fbb.CreateVector(records);
  return finish(fbb, wire::CreatePeerList(fbb, v.epoch, vec, v.uptime_ms, v.next, v.warm_up_ms));
}

zmq::message_t encode(const Event& v) {
  Fbb fbb(256);
  auto peer = build(fbb, v.peer);
  auto reason = fbb.CreateString(v.reason);
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::Change>>> more;
  if (!v.more.empty()) {
    std::vector<flatbuffers::Offset<wire::Change>> changes;
    changes.reserve(v.more.size());
    for (const auto& c : v.more) {
      auto p = build(fbb, c.peer);
      auto r = fbb.CreateString(c.reason);
      changes.push_back(wire::CreateChange(fbb, static_cast<wire::EventType>(c.type), p, r));
    }
    more = fbb.CreateVector(changes);
  }
  return finish(fbb, wire::CreateEvent(fbb, v.epoch, static_cast<wire::EventType>(v.type), peer,
                                       reason, v.sequence, more));
}

// ------------------------------------------------------------------ PeerListWriter

struct PeerListWriter::Impl {
  Fbb fbb{std::size_t{64} * 1024};
  std::vector<flatbuffers::Offset<wire::PeerRecord>> records;
};

PeerListWriter::PeerListWriter() : impl_(std::make_unique<Impl>()) {}
PeerListWriter::~PeerListWriter() = default;

void PeerListWriter::begin() {
  impl_->fbb.Clear();
  impl_->records.clear();
}

void PeerListWriter::add(const PeerInfo& peer, std::uint64_t age_ms) {
  auto p = build(impl_->fbb, peer);
  impl_->records.push_back(wire::CreatePeerRecord(impl_->fbb, p, age_ms));
}

std::size_t PeerListWriter::records() const noexcept {
  return impl_->records.size();
}

std::size_t PeerListWriter::bytes() const noexcept {
  return impl_->fbb.GetSize() + 4 * impl_->records.size();
}

zmq::message_t PeerListWriter::finish(std::uint64_t epoch, std::uint64_t uptime_ms,
                                      std::uint64_t next, std::uint32_t warm_up_ms) {
  auto vec = impl_->fbb.CreateVector(impl_->records);
  return zmesh::finish(impl_->fbb,
                       wire::CreatePeerList(impl_->fbb, epoch, vec, uptime_ms, next, warm_up_ms));
}

std::size_t encoded_size(const PeerInfo& p) noexcept {
  // The PeerInfo table (<= 48 B) and the record or change around it (<= 24 B), their
  // vtables when not shared with the previous record's (<= 28 B), the name (length,
  // terminator, padding: <= 8 B, plus its bytes), 4 B per vector and per vector item, 8 B
  // per string plus its bytes.
  auto strings = [](const std::vector<std::string>& v) {
    std::size_t n = 4;
    for (const auto& s : v) n += 12 + s.size();
    return n;
  };
  const std::size_t key = p.public_key.empty() ? 0 : 12 + p.public_key.size();
  return 108 + p.name.size() + strings(p.endpoints) + strings(p.pub_endpoints) +
         strings(p.services) + key;
}

// ------------------------------------------------------------------ decode

template <>
Result<Hello> decode_control<Hello>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Hello, Hello>(b, l, [&](const wire::Hello& w) -> Result<Hello> {
    Hello v;
    v.protocol_version = w.protocol_version();
    v.heartbeat_interval_ms = w.heartbeat_interval_ms();
    v.min_protocol_version = std::max<std::uint8_t>(w.min_protocol_version(), 1);
    if (v.protocol_version == 0 || v.min_protocol_version > v.protocol_version ||
        !valid_interval(v.heartbeat_interval_ms) || !read_peer(w.peer(), l, v.peer)) {
      return DecodeError::bad_value;
    }
    return v;
  });
}

template <>
Result<Welcome> decode_control<Welcome>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Welcome, Welcome>(b, l, [&](const wire::Welcome& w) -> Result<Welcome> {
    Welcome v;
    v.protocol_version = w.protocol_version();
    v.heartbeat_interval_ms = w.heartbeat_interval_ms();
    if (v.protocol_version == 0 || !valid_interval(v.heartbeat_interval_ms) ||
        !read_peer(w.peer(), l, v.peer)) {
      return DecodeError::bad_value;
    }
    return v;
  });
}

template <>
Result<Reject> decode_control<Reject>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Reject, Reject>(b, l, [&](const wire::Reject& w) -> Result<Reject> {
    Reject v;
    if (!read_code(w.code(), v.code) || !read_string(w.reason(), l.max_string_bytes, v.reason)) {
      return DecodeError::bad_value;
    }
    return v;
  });
}

template <>
Result<ErrorReply> decode_control<ErrorReply>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::ErrorReply, ErrorReply>(
      b, l, [&](const wire::ErrorReply& w) -> Result<ErrorReply> {
        ErrorReply v;
        if (!read_code(w.code(), v.code) || !read_string(w.text(), l.max_string_bytes, v.text)) {
          return DecodeError::bad_value;
        }
        return v;
      });
}

template <>
Result<Ping> decode_control<Ping>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Ping, Ping>(b, l, [](const wire::Ping& w) -> Result<Ping> {
    if (w.nonce() == 0) return DecodeError::bad_value;
    return Ping{w.nonce(), w.sent_us()};
  });
}

template <>
Result<Sequences> decode_control<Sequences>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Sequences, Sequences>(
      b, l, [&](const wire::Sequences& w) -> Result<Sequences> {
        const auto* topics = w.topics();
        if (topics == nullptr || topics->size() == 0 || topics->size() > kMaxTopicSequences) {
          return DecodeError::bad_value;
        }
        Sequences v;
        v.topics.reserve(topics->size());
        for (const auto* e : *topics) {
          const auto* t = e->topic();
          if (t == nullptr || t->size() == 0 || t->size() > l.max_topic_bytes ||
              e->sequence() == 0) {
            return DecodeError::bad_value;
          }
          v.topics.push_back(TopicSequence{
              std::string(reinterpret_cast<const char*>(t->data()), t->size()), e->sequence()});
        }
        return v;
      });
}

template <>
Result<Register> decode_control<Register>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Register, Register>(b, l, [&](const wire::Register& w) -> Result<Register> {
    Register v;
    v.ttl_ms = w.ttl_ms();
    if (!read_peer(w.peer(), l, v.peer)) return DecodeError::bad_value;
    return v;
  });
}

template <>
Result<RegisterAck> decode_control<RegisterAck>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::RegisterAck, RegisterAck>(
      b, l, [](const wire::RegisterAck& w) -> Result<RegisterAck> {
        if (w.epoch() == 0) return DecodeError::bad_value;
        return RegisterAck{w.epoch(), w.ttl_ms(), w.renew_interval_ms(), w.event_sequence()};
      });
}

template <>
Result<Lookup> decode_control<Lookup>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Lookup, Lookup>(b, l, [&](const wire::Lookup& w) -> Result<Lookup> {
    Lookup v;
    v.after = w.after();
    v.limit = w.limit();
    if (!read_string(w.name(), kMaxNameBytes, v.name) ||
        !read_string(w.service(), l.max_string_bytes, v.service)) {
      return DecodeError::bad_value;
    }
    return v;
  });
}

template <>
Result<PeerList> decode_control<PeerList>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::PeerList, PeerList>(b, l, [&](const wire::PeerList& w) -> Result<PeerList> {
    PeerList v;
    v.epoch = w.epoch();
    v.uptime_ms = w.uptime_ms();
    v.next = w.next();
    v.warm_up_ms = w.warm_up_ms();
    if (v.epoch == 0) return DecodeError::bad_value;
    if (const auto* peers = w.peers()) {
      if (peers->size() > l.max_peer_records) return DecodeError::bad_value;
      v.peers.reserve(peers->size());
      for (const auto* r : *peers) {
        PeerRecord rec;
        rec.age_ms = r->age_ms();
        if (!read_peer(r->peer(), l, rec.peer)) return DecodeError::bad_value;
        v.peers.push_back(std::move(rec));
      }
    }
    return v;
  });
}

template <>
Result<Event> decode_control<Event>(std::span<const std::byte> b, const Limits& l) {
  return verified<wire::Event, Event>(b, l, [&](const wire::Event& w) -> Result<Event> {
    Event v;
    v.epoch = w.epoch();
    v.sequence = w.sequence();
    if (v.epoch == 0 || !read_type(w.type(), v.type) || !read_peer(w.peer(), l, v.peer) ||
        !read_string(w.reason(), l.max_string_bytes, v.reason)) {
      return DecodeError::bad_value;
    }
    if (const auto* more = w.more()) {
      if (more->size() > l.max_peer_records) return DecodeError::bad_value;
      v.more.reserve(more->size());
      for (const auto* c : *more) {
        Change change;
        if (!read_type(c->type(), change.type) || !read_peer(c->peer(), l, change.peer) ||
            !read_string(c->reason(), l.max_string_bytes, change.reason)) {
          return DecodeError::bad_value;
        }
        v.more.push_back(std::move(change));
      }
    }
    return v;
  });
}

// ------------------------------------------------------------------ error codes

errc to_errc(WireError code) noexcept {
  switch (code) {
    case WireError::unsupported_version: return errc::unsupported_version;
    case WireError::duplicate_id: return errc::duplicate_id;
    case WireError::self_connect: return errc::self_connect;
    case WireError::no_handler: return errc::no_handler;
    case WireError::handler_failed: return errc::remote_error;
    case WireError::deadline_exceeded: return errc::deadline_exceeded;
    case WireError::too_large: return errc::too_large;
    case WireError::malformed: return errc::malformed;
    case WireError::shutting_down: return errc::shutting_down;
    case WireError::unknown_peer: return errc::unknown_peer;
    case WireError::overloaded: return errc::overloaded;
    case WireError::duplicate_name: return errc::duplicate_name;
    case WireError::not_allowed: return errc::not_allowed;
    default: return errc::remote_error;
  }
}

std::string_view wire_error_name(WireError code) noexcept {
  switch (code) {
    case WireError::none: return "none";
    case WireError::unsupported_version: return "unsupported_version";
    case WireError::duplicate_id: return "duplicate_id";
    case WireError::self_connect: return "self_connect";
    case WireError::no_handler: return "no_handler";
    case WireError::handler_failed: return "handler_failed";
    case WireError::deadline_exceeded: return "deadline_exceeded";
    case WireError::too_large: return "too_large";
    case WireError::malformed: return "malformed";
    case WireError::shutting_down: return "shutting_down";
    case WireError::unknown_peer: return "unknown_peer";
    case WireError::bad_request: return "bad_request";
    case WireError::overloaded: return "overloaded";
    case WireError::internal: return "internal";
    case WireError::duplicate_name: return "duplicate_name";
    case WireError::not_allowed: return "not_allowed";
  }
  return "unknown";
}

}  // namespace zmesh
