// zmesh/peer/log.hpp — the peer library's log: what it saw that an operator should know
// (refused handshakes with the offending key, malformed input and from whom, peers gone,
// failed handshakes, the broker refusing us), handed to a sink the application gives in
// PeerOptions::log. Silent without one. Each kind of event is rate-limited (one record per
// second, the next one saying how many were held back). zmesh/peer/spdlog_sink.hpp has a
// ready sink for spdlog.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

enum class LogLevel : std::uint8_t { debug, info, warning, error };

/// One record. Views valid during the sink call only.
struct LogRecord {
  LogLevel level = LogLevel::info;
  std::string_view event;    ///< a fixed name: "handshake_refused", "malformed", "peer_gone", ...
  std::string_view message;  ///< what happened, in words ("... (3 similar held back)")
};

/// Called on the Peer's engine thread, as the event happens: must be quick and must not
/// call into the Peer.
using LogSink = std::function<void(const LogRecord&)>;

}  // namespace zmesh
