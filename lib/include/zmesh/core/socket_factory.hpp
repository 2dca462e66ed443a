// zmesh/core/socket_factory.hpp — every ZeroMQ socket zmesh opens is made here, and every
// socket option zmesh sets is set here (typed zmq::sockopt, never integer setsockopt).
// The functions only create and configure; the socket then belongs to the caller's thread.
#pragma once

#include <chrono>
#include <string>

#include <zmq.hpp>

#include "zmesh/core/curve.hpp"
#include "zmesh/core/export.hpp"
#include "zmesh/core/limits.hpp"

namespace ZMESH_API zmesh {

struct SocketTuning {
  int send_hwm = 1000;  ///< ZMQ_SNDHWM, messages
  int recv_hwm = 1000;  ///< ZMQ_RCVHWM, messages
  Limits limits;        ///< ZMQ_MAXMSGSIZE follows the largest frame the limits allow
  std::chrono::milliseconds reconnect_ivl{100};
  std::chrono::milliseconds reconnect_ivl_max{2000};
  bool immediate = false;  ///< ZMQ_IMMEDIATE: queue only on completed connections (DEALER)
};

/// ROUTER for a peer's requests: ROUTER_MANDATORY (unroutable sends fail, never drop
/// silently), LINGER 0, HWMs, MAXMSGSIZE. Not bound yet.
[[nodiscard]] zmq::socket_t make_router(zmq::context_t& ctx, const SocketTuning& tuning);
/// DEALER to one remote ROUTER: LINGER 0, HWMs, MAXMSGSIZE, reconnect intervals.
[[nodiscard]] zmq::socket_t make_dealer(zmq::context_t& ctx, const SocketTuning& tuning);
/// XPUB for broadcasts: XPUB_VERBOSE so every subscription (markers too) is seen. What
/// comes in is bounded here, not by `tuning`: MAXMSGSIZE fits one subscription, RCVHWM is
/// 16 (so libzmq files a few dozen subscriptions at most before the caller sees them) and
/// the TCP receive window is the smallest. `tuning.recv_hwm` is not used.
[[nodiscard]] zmq::socket_t make_xpub(zmq::context_t& ctx, const SocketTuning& tuning);
/// SUB for broadcasts.
[[nodiscard]] zmq::socket_t make_sub(zmq::context_t& ctx, const SocketTuning& tuning);
/// One end of an inproc pipeline between two threads of one peer. `depth` bounds the
/// messages queued on this end (SNDHWM and RCVHWM).
[[nodiscard]] zmq::socket_t make_pipe(zmq::context_t& ctx, zmq::socket_type type, int depth);

/// Makes a socket that binds (ROUTER, XPUB) a CURVE server with our key pair; the clients
/// it accepts are decided by the ZAP handler of its context (zap_handler.hpp), domain
/// "zmesh". Call before bind(). Does nothing when `own` is not enabled.
void set_curve_server(zmq::socket_ref socket, const CurveOptions& own);
/// Makes a socket that connects (DEALER, SUB) a CURVE client with our key pair, expecting
/// the server to hold `server_key`. libzmq takes the options at connect(): a SUB that
/// follows several publishers sets each one's key before connecting to it. Does nothing
/// when `own` is not enabled.
void set_curve_client(zmq::socket_ref socket, const CurveOptions& own,
                      const std::string& server_key);

/// Sets how long close() may wait to flush queued messages (shutdown: let Byes and
/// last replies leave, but never hang).
void set_close_linger(zmq::socket_ref socket, std::chrono::milliseconds linger);

/// Binds and returns the resolved endpoint ("tcp://127.0.0.1:*" -> "tcp://127.0.0.1:40123").
[[nodiscard]] std::string bind_resolved(zmq::socket_ref socket, const std::string& endpoint);

}  // namespace zmesh
