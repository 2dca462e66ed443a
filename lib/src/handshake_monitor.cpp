#include "zmesh/core/handshake_monitor.hpp"

#include <zmq.h>

#include <atomic>
#include <cstring>

namespace zmesh {
namespace {

std::string next_monitor_endpoint() {
  static std::atomic<std::uint64_t> counter{0};
  return "inproc://zmesh-handshake-monitor-" + std::to_string(counter.fetch_add(1) + 1);
}

bool is_mechanism_mismatch(int value) {
  return value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH;
}

bool is_cryptographic(int value) {
  return value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC;
}

}  // namespace

std::string HandshakeEvent::reason(bool curve) const {
  switch (kind) {
    case Kind::succeeded: return "handshake succeeded";
    case Kind::accepted: return "connection accepted";
    case Kind::disconnected: return "connection ended";
    case Kind::auth:
      return "the server does not trust our key (ZAP status " + std::to_string(value) + ")";
    case Kind::closed:
      return curve ? "the server closed the connection during the CURVE handshake (wrong server "
                     "key, or the server is not CURVE)"
                   : "the server closed the connection during the handshake (it may speak CURVE: "
                     "we speak plaintext)";
    case Kind::protocol:
      if (is_mechanism_mismatch(value)) {
        return curve ? "security mechanism mismatch: we speak CURVE, the other side plaintext"
                     : "security mechanism mismatch: we speak plaintext, the other side CURVE";
      }
      if (is_cryptographic(value)) return "CURVE cryptographic failure (wrong server key?)";
      return "handshake protocol error " + std::to_string(value);
  }
  return "handshake failed";
}

const char* HandshakeEvent::cause() const noexcept {
  switch (kind) {
    case Kind::succeeded: return "succeeded";
    case Kind::accepted: return "accepted";
    case Kind::disconnected: return "disconnected";
    case Kind::auth: return "untrusted_key";
    case Kind::closed: return "closed";
    case Kind::protocol:
      if (is_mechanism_mismatch(value)) return "mechanism_mismatch";
      if (is_cryptographic(value)) return "bad_key";
      return "protocol";
  }
  return "protocol";
}

bool handshake_failed(const HandshakeEvent& e, bool curve, int& closes) noexcept {
  switch (e.kind) {
    case HandshakeEvent::Kind::succeeded: closes = 0; return false;
    case HandshakeEvent::Kind::accepted:
    case HandshakeEvent::Kind::disconnected: return false;
    case HandshakeEvent::Kind::closed: return ++closes >= (curve ? 1 : 2);
    case HandshakeEvent::Kind::protocol:
    case HandshakeEvent::Kind::auth: return true;
  }
  return false;
}

HandshakeMonitor::HandshakeMonitor(zmq::context_t& ctx, zmq::socket_ref watched, bool connections)
    : watched_(watched), pair_(ctx, zmq::socket_type::pair) {
  const std::string endpoint = next_monitor_endpoint();
  constexpr int kHandshakes = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                              ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  const int events = kHandshakes | (connections ? ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED : 0);
  if (zmq_socket_monitor(watched.handle(), endpoint.c_str(), events) != 0) throw zmq::error_t();
  pair_.set(zmq::sockopt::linger, 0);
  pair_.connect(endpoint);
}

HandshakeMonitor::~HandshakeMonitor() {
  // Stops libzmq's side (it closes its PAIR) before ours goes.
  if (watched_) (void)zmq_socket_monitor(watched_.handle(), nullptr, 0);
}

std::optional<HandshakeEvent> HandshakeMonitor::next() {
  for (;;) {
    zmq::message_t head;
    if (!pair_.recv(head, zmq::recv_flags::dontwait)) return std::nullopt;
    zmq::message_t where;
    if (head.more()) (void)pair_.recv(where, zmq::recv_flags::none);
    if (head.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, head.data(), sizeof id);
    std::memcpy(&value, head.data<char>() + 2, sizeof value);
    HandshakeEvent e;
    e.value = static_cast<int>(value);
    e.endpoint = where.to_string();
    switch (id) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: e.kind = HandshakeEvent::Kind::succeeded; break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: e.kind = HandshakeEvent::Kind::closed; break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: e.kind = HandshakeEvent::Kind::protocol; break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: e.kind = HandshakeEvent::Kind::auth; break;
      case ZMQ_EVENT_ACCEPTED: e.kind = HandshakeEvent::Kind::accepted; break;
      case ZMQ_EVENT_DISCONNECTED: e.kind = HandshakeEvent::Kind::disconnected; break;
      default: continue;
    }
    return e;
  }
}

}  // namespace zmesh
