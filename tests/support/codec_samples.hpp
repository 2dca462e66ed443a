// Valid sample envelopes for every kind, shared by the codec tests and the fuzz corpus.
#pragma once

#include <string>
#include <vector>

#include "zmesh/core/envelope_codec.hpp"

namespace zmesh::test {

/// A header for `kind` that satisfies every rule the decoder checks.
inline Header sample_header(Kind kind) {
  Header h;
  h.kind = kind;
  h.sender_id = 0x1122334455667788ULL;
  h.sender_session = 0x0badc0ffee0ddf00ULL;
  h.correlation_id = 42;
  h.timestamp_us = 1'700'000'000'000'000ULL;
  switch (kind) {
    case Kind::request:
      h.type = "GetQuote";
      h.deadline_unix_ms = 1'700'000'000'500ULL;
      break;
    case Kind::message:
      h.type = "Tick";
      h.correlation_id = 0;
      break;
    case Kind::publish:
      h.type = "Price";
      h.correlation_id = 0;
      h.sequence = 9;
      break;
    case Kind::bye:
    case Kind::sync:
    case Kind::event: h.correlation_id = 0; break;
    default: break;
  }
  return h;
}

/// Every kind a v1 peer may send.
inline std::vector<Kind> all_kinds() {
  return {Kind::hello,  Kind::welcome,   Kind::reject,  Kind::request,      Kind::reply,
          Kind::error,  Kind::message,   Kind::publish, Kind::ping,         Kind::pong,
          Kind::bye,    Kind::sync,      Kind::reg,     Kind::register_ack, Kind::renew,
          Kind::lookup, Kind::peer_list, Kind::event};
}

/// Builds a frame set for `layout` from a header and payload.
inline FrameSet frames_for(Layout layout, EnvelopeEncoder& enc, const Header& h,
                           const std::string& payload, const std::string& first = "topic.a") {
  FrameSet fs;
  if (layout != Layout::dealer) fs.push(zmq::message_t(first.data(), first.size()));
  fs.push(enc.encode(h));
  fs.push(zmq::message_t(payload.data(), payload.size()));
  return fs;
}

}  // namespace zmesh::test
