// zmesh/core/zap_handler.hpp — the ZAP handler (rfc.zeromq.org/spec:27) of one ZeroMQ
// context: libzmq asks it, for every CURVE handshake a server socket of that context
// takes, whether the client's public key may connect. It answers from a TrustStore and
// names the accepted client by its key (the "User-Id" property of every message that
// connection brings: zmq_msg_gets(msg, "User-Id")).
//
// It owns a REP socket bound at inproc://zeromq.zap.01, so there is one per context, and
// it must be bound before any CURVE server socket of the context binds (until then,
// libzmq lets every key in). The thread that owns the context's sockets polls socket()
// and calls handle(): no state is shared with libzmq's I/O threads but the messages.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <zmq.hpp>

#include "zmesh/core/trust_store.hpp"

namespace zmesh {

class ZapHandler {
 public:
  /// Told of each refused client: its key (Z85, "" if none) and address ("127.0.0.1").
  using Refused = std::function<void(const std::string& client_key, const std::string& address)>;

  /// Binds the ZAP endpoint of `ctx`. Throws Error(invalid_argument) when another
  /// handler holds it already. `trust` must outlive the handler.
  ZapHandler(zmq::context_t& ctx, const TrustStore& trust, Refused on_refused);

  /// The socket to poll for ZMQ_POLLIN.
  [[nodiscard]] zmq::socket_ref socket() noexcept { return socket_; }
  /// Answers every request waiting; never blocks. Returns how many were answered.
  int handle();

  [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_; }
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }

 private:
  zmq::socket_t socket_;
  const TrustStore& trust_;
  Refused on_refused_;
  std::uint64_t accepted_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace zmesh
