#include "security.hpp"

namespace zmesh::detail {

void Security::open() {
  if (!ctx_.opts.curve.enabled()) return;
  trust_.emplace(ctx_.opts.curve);
  // Refused keys are counted by the server sockets' monitors (Connections, Broadcasts),
  // with the cause; the key and the address are known here only: log them.
  zap_.emplace(ctx_.zmq, *trust_, [this](const std::string& key, const std::string& address) {
    ctx_.log(LogEvent::handshake_refused, LogLevel::warning,
             "handshake refused: client key " + (key.empty() ? std::string("(none)") : key) +
                 " is not trusted (address " + address + ")");
  });
}

void Security::close() noexcept {
  zap_.reset();
  trust_.reset();
}

zmq::socket_ref Security::zap_socket() noexcept {
  return zap_ ? zap_->socket() : zmq::socket_ref();
}

int Security::read() {
  return zap_ ? zap_->handle() : 0;
}

std::size_t Security::reload() {
  if (!trust_) throw Error(errc::invalid_argument, "CURVE is off: there is no trust to reload");
  trust_->reload();
  return trust_->size();
}

}  // namespace zmesh::detail
