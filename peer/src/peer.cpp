// Peer, the facade: making, starting and stopping a Peer, handlers, connecting by
// endpoint, and the counters and snapshots. Each call goes to Peer::Impl (peer_impl.hpp);
// requests, broadcasts and discovery are in peer_requests.cpp, peer_broadcasts.cpp and
// peer_discovery.cpp.
#include "zmesh/peer.hpp"

#include "peer_impl.hpp"
#include "zmesh/core/endpoint.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh {

using detail::CommandMeta;
using detail::CommandOp;

// ------------------------------------------------------------------ Registration

Registration& Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    reset();
    table_ = std::move(o.table_);
    token_ = o.token_;
    o.token_ = 0;
  }
  return *this;
}

void Registration::reset() noexcept {
  if (token_ == 0) return;
  if (auto table = table_.lock()) table->remove(token_);
  token_ = 0;
  table_.reset();
}

// ------------------------------------------------------------------ Peer

Peer::Peer(PeerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Peer::~Peer() = default;
Peer::Peer(Peer&&) noexcept = default;
Peer& Peer::operator=(Peer&&) noexcept = default;

void Peer::start() {
  impl_->start();
}
void Peer::stop(std::chrono::milliseconds drain) {
  impl_->stop(drain);
}
PeerId Peer::id() const noexcept {
  return impl_->shared_.id;
}
const std::string& Peer::name() const noexcept {
  return impl_->shared_.options.name;
}
std::string Peer::endpoint() const {
  return impl_->endpoint_;
}

Registration Peer::on(std::string type, Handler handler) {
  return on(std::move(type), std::move(handler), HandlerOptions{});
}

Registration Peer::on(std::string type, Handler handler, HandlerOptions options) {
  if (type.starts_with(kReservedTypePrefix)) {
    throw Error(errc::invalid_argument, "message type '" + type + "' is reserved for zmesh");
  }
  const auto token =
      impl_->shared_.handlers->add(std::move(type), std::move(handler), options.run_inline);
  return Registration(impl_->shared_.handlers, token);
}

Future<PeerId> Peer::connect(const std::string& endpoint) {
  return connect(endpoint, {});
}

Future<PeerId> Peer::connect(const std::string& endpoint, const std::string& server_key) {
  if (!server_key.empty() && !is_z85_key(server_key)) {
    throw Error(errc::invalid_argument, "cannot connect to '" + endpoint + "': server key '" +
                                            server_key + "' is not 40 characters of Z85");
  }
  // Checked here, on the caller's thread: the lookup may block, and the engine must not.
  try {
    (void)check_endpoint(endpoint, EndpointUse::connect);
  } catch (const Error& e) {
    throw Error(e.kind(), "cannot connect to '" + endpoint + "': " + e.what());
  }
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::ConnectCompletion>();
  auto future = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::connect, .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::ConnectCompletion>(meta, zmq::message_t(endpoint.data(), endpoint.size()),
                                           zmq::message_t(server_key.data(), server_key.size()),
                                           impl_->shared_.options.send_timeout);
  return future;
}

void Peer::disconnect(PeerId peer) {
  Impl::Call call(*impl_);
  CommandMeta meta{.op = CommandOp::disconnect, .to = peer};
  impl_->submit<detail::ConnectCompletion>(meta, zmq::message_t(), zmq::message_t(),
                                           impl_->shared_.options.send_timeout);
}

// ------------------------------------------------------------------ counters and snapshots

std::size_t Peer::reload_trust() {
  return impl_->ask<detail::ReloadCompletion>(CommandOp::reload_trust);
}

std::string Peer::metrics_endpoint() const {
  return impl_->metrics_endpoint_;
}

PeerStats Peer::stats() const {
  return impl_->shared_.counters.snapshot();
}

std::vector<TopicPolicyStats> Peer::delivery_stats() const {
  return impl_->shared_.policies->stats();
}

std::vector<ConnectionStats> Peer::connections() const {
  return impl_->ask<detail::ConnectionsCompletion>(CommandOp::connections);
}

}  // namespace zmesh
