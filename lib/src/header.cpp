#include "zmesh/core/header.hpp"

namespace zmesh {

bool is_known_kind(std::uint8_t raw) noexcept {
  return (raw >= static_cast<std::uint8_t>(Kind::hello) &&
          raw <= static_cast<std::uint8_t>(Kind::sequences)) ||
         (raw >= static_cast<std::uint8_t>(Kind::reg) &&
          raw <= static_cast<std::uint8_t>(Kind::event));
}

std::string_view kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::invalid: return "invalid";
    case Kind::hello: return "hello";
    case Kind::welcome: return "welcome";
    case Kind::reject: return "reject";
    case Kind::request: return "request";
    case Kind::reply: return "reply";
    case Kind::error: return "error";
    case Kind::message: return "message";
    case Kind::publish: return "publish";
    case Kind::ping: return "ping";
    case Kind::pong: return "pong";
    case Kind::bye: return "bye";
    case Kind::sync: return "sync";
    case Kind::sequences: return "sequences";
    case Kind::reg: return "register";
    case Kind::register_ack: return "register_ack";
    case Kind::renew: return "renew";
    case Kind::lookup: return "lookup";
    case Kind::peer_list: return "peer_list";
    case Kind::event: return "event";
  }
  return "unknown";
}

}  // namespace zmesh
