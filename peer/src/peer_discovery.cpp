// Peer, part four: discovery through the brokers — the membership, lookups, connecting
// by name, and the state of our registration.
#include <mutex>

#include "peer_impl.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {

using detail::CommandMeta;
using detail::CommandOp;

std::vector<MemberInfo> Peer::members() const {
  return impl_->ask<detail::MembersCompletion>(CommandOp::members);
}

Future<std::vector<MemberInfo>> Peer::lookup(std::string name, std::string service,
                                             std::chrono::milliseconds timeout) {
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::MembersCompletion>();
  auto future = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::lookup,
                   .deadline_us = Impl::deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::MembersCompletion>(meta, zmq::message_t(name.data(), name.size()),
                                           zmq::message_t(service.data(), service.size()),
                                           impl_->shared_.options.send_timeout);
  return future;
}

Future<PeerId> Peer::connect_by_name(const std::string& name) {
  Impl::Call call(*impl_);
  auto done = std::make_unique<detail::ConnectCompletion>();
  auto future = done->promise.get_future();
  CommandMeta meta{.op = CommandOp::connect_name,
                   .deadline_us = Impl::deadline_us(impl_->shared_.options.connect_timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::ConnectCompletion>(meta, zmq::message_t(name.data(), name.size()),
                                           zmq::message_t(), impl_->shared_.options.send_timeout);
  return future;
}

bool Peer::registered() const noexcept {
  return impl_->shared_.registered.load();
}

bool Peer::membership_listed() const noexcept {
  return impl_->shared_.membership_listed.load();
}

std::string Peer::registration_error() const {
  std::lock_guard lock(impl_->shared_.registration_mu);
  return impl_->shared_.registration_error;
}

std::string Peer::broker_auth_error() const {
  std::lock_guard lock(impl_->shared_.registration_mu);
  return impl_->shared_.broker_auth_error;
}

}  // namespace zmesh
