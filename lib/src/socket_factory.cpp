#include "zmesh/core/socket_factory.hpp"

#include <algorithm>
#include <cstdint>

namespace zmesh {
namespace {

/// Subscriptions a subscriber may have in flight to an XPUB (in libzmq's pipe, not yet in
/// its table). This is what bounds a flood. Each call made into the XPUB files what its
/// pipes hold in libzmq's table, about 32 bytes per topic byte, in a loop
/// (xpub_t::xread_activated) that ends only when a pipe is empty; a pipe lets its sender
/// (libzmq's I/O thread) write more each time the reader has taken (hwm + 1) / 2. At
/// 1000, a flood kept that loop running for as long as the I/O thread refilled the pipe,
/// which on a fast loopback was the whole flood: hundreds of MiB filed before the caller
/// saw the first. At 16, each 8 cost a round trip to the I/O thread, far slower than the
/// loop, so a call files a few dozen at most and the caller counts a flood as it comes.
/// (Not 1: under CURVE libzmq writes the peer's key into the pipe first and never counts
/// it as read, so one slot is lost for good, and with one slot nothing would pass.)
constexpr int kXpubRecvHwm = 16;

void apply_common(zmq::socket_t& s, const SocketTuning& t) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, t.send_hwm);
  s.set(zmq::sockopt::rcvhwm, t.recv_hwm);
  // A frame bigger than anything the decoder would accept is cut off at the transport:
  // ZeroMQ drops the connection instead of buffering it.
  const auto largest =
      std::max({t.limits.max_payload_bytes, t.limits.max_header_bytes, t.limits.max_topic_bytes}) +
      64;
  s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(largest));
}

// Sockets that connect: how soon to try again after a connection drops.
void apply_reconnect(zmq::socket_t& s, const SocketTuning& t) {
  s.set(zmq::sockopt::reconnect_ivl, static_cast<int>(t.reconnect_ivl.count()));
  s.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(t.reconnect_ivl_max.count()));
}

}  // namespace

zmq::socket_t make_router(zmq::context_t& ctx, const SocketTuning& tuning) {
  zmq::socket_t s(ctx, zmq::socket_type::router);
  apply_common(s, tuning);
  s.set(zmq::sockopt::router_mandatory, 1);
  return s;
}

zmq::socket_t make_dealer(zmq::context_t& ctx, const SocketTuning& tuning) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  apply_common(s, tuning);
  apply_reconnect(s, tuning);
  s.set(zmq::sockopt::immediate, tuning.immediate ? 1 : 0);
  return s;
}

zmq::socket_t make_xpub(zmq::context_t& ctx, const SocketTuning& tuning) {
  zmq::socket_t s(ctx, zmq::socket_type::xpub);
  apply_common(s, tuning);
  // What an XPUB receives is subscriptions: one flag byte and a topic. A longer message
  // makes libzmq drop that subscriber's connection, and with it all it subscribed.
  s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(tuning.limits.max_topic_bytes + 1));
  s.set(zmq::sockopt::xpub_verbose, 1);
  s.set(zmq::sockopt::rcvhwm, kXpubRecvHwm);
  // The smallest TCP receive window the kernel allows (it rounds 1 KiB up to ~2.3 KiB)
  // on every connection the XPUB accepts. Inbound is only subscriptions, a few hundred
  // bytes per subscriber; what a flooder has sent and libzmq has not yet taken waits in
  // the kernel's receive buffer, which autotuning would otherwise let grow to tcp_rmem's
  // maximum (MiBs per connection). (What libzmq files in its table is bounded by
  // kXpubRecvHwm.)
  s.set(zmq::sockopt::rcvbuf, 1024);
  return s;
}

zmq::socket_t make_sub(zmq::context_t& ctx, const SocketTuning& tuning) {
  zmq::socket_t s(ctx, zmq::socket_type::sub);
  apply_common(s, tuning);
  apply_reconnect(s, tuning);
  return s;
}

zmq::socket_t make_pipe(zmq::context_t& ctx, zmq::socket_type type, int depth) {
  zmq::socket_t s(ctx, type);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, depth);
  s.set(zmq::sockopt::rcvhwm, depth);
  return s;
}

void set_curve_server(zmq::socket_ref socket, const CurveOptions& own) {
  if (!own.enabled()) return;
  // The handshake's commands count against ZMQ_MAXMSGSIZE too: a CURVE INITIATE with its
  // metadata is a few hundred bytes, more than an XPUB's limit (one subscription).
  constexpr std::int64_t kHandshakeBytes = 1024;
  const auto limit = socket.get(zmq::sockopt::maxmsgsize);
  if (limit >= 0 && limit < kHandshakeBytes) socket.set(zmq::sockopt::maxmsgsize, kHandshakeBytes);
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  socket.set(zmq::sockopt::zap_domain, "zmesh");
}

void set_curve_client(zmq::socket_ref socket, const CurveOptions& own,
                      const std::string& server_key) {
  if (!own.enabled()) return;
  socket.set(zmq::sockopt::curve_server, 0);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  socket.set(zmq::sockopt::curve_serverkey, server_key);
}

void set_close_linger(zmq::socket_ref socket, std::chrono::milliseconds linger) {
  socket.set(zmq::sockopt::linger, static_cast<int>(linger.count()));
}

std::string bind_resolved(zmq::socket_ref socket, const std::string& endpoint) {
  socket.bind(endpoint);
  return socket.get(zmq::sockopt::last_endpoint);
}

}  // namespace zmesh
