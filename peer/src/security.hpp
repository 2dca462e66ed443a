// Security — the engine's CURVE state (docs/security.md): the client keys our ROUTER and
// PUB accept (a TrustStore, reloadable) and the ZAP handler that answers libzmq for them.
// The ZAP socket lives on the engine thread, which owns every socket of the Peer's
// context, and is bound before any of them: a CURVE server socket bound earlier would let
// every key in. Does nothing when CURVE is off. Engine thread only.
#pragma once

#include <cstddef>
#include <optional>

#include "engine_context.hpp"
#include "zmesh/core/trust_store.hpp"
#include "zmesh/core/zap_handler.hpp"

namespace zmesh::detail {

class Security {
 public:
  explicit Security(EngineContext& ctx) : ctx_(ctx) {}

  /// Reads the trust directory and binds the ZAP handler. Before any socket binds.
  /// Throws Error(invalid_argument) when the trust directory cannot be read.
  void open();
  void close() noexcept;

  /// The ZAP socket to watch; a null socket_ref when CURVE is off.
  [[nodiscard]] zmq::socket_ref zap_socket() noexcept;
  /// Answers the ZAP requests waiting. Returns how many.
  int read();
  /// Reads the trust directory again; returns the number of keys trusted now. A failed
  /// reload keeps the keys held so far and throws Error(invalid_argument).
  std::size_t reload();

 private:
  EngineContext& ctx_;
  std::optional<TrustStore> trust_;
  std::optional<ZapHandler> zap_;
};

}  // namespace zmesh::detail
