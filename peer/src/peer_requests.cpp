// Peer, part two: requests and messages to one peer (send, request, request_impl) and
// requests to a service (request_service). See docs/architecture.md, "A request's path".
#include <algorithm>

#include "peer_impl.hpp"
#include "zmesh/peer.hpp"

namespace zmesh {

using detail::check_payload;
using detail::check_type;
using detail::CommandMeta;
using detail::CommandOp;

void Peer::send(PeerId to, std::string_view type, std::string_view payload) {
  send(to, type, payload, impl_->shared_.options.send_timeout);
}

void Peer::send(PeerId to, std::string_view type, std::string_view payload,
                std::chrono::milliseconds wait) {
  check_type(impl_->shared_.options, type);
  check_payload(impl_->shared_.options, payload);
  Impl::Call call(*impl_);
  CommandMeta meta{.op = CommandOp::send, .to = to};
  impl_->submit<detail::RequestCompletion>(meta, zmq::message_t(type.data(), type.size()),
                                           zmq::message_t(payload.data(), payload.size()), wait);
}

Future<Response> Peer::request(PeerId to, std::string_view type, std::string_view payload,
                               std::chrono::milliseconds timeout) {
  Future<Response> future;
  request_impl(to, type, payload, timeout, detail::RequestCompletion::with_future(future));
  return future;
}

void Peer::request(PeerId to, std::string_view type, std::string_view payload,
                   std::chrono::milliseconds timeout, ResponseCallback callback) {
  request(to, type, payload, timeout, std::move(callback), CallbackOptions{});
}

void Peer::request(PeerId to, std::string_view type, std::string_view payload,
                   std::chrono::milliseconds timeout, ResponseCallback callback,
                   CallbackOptions options) {
  if (!callback) throw Error(errc::invalid_argument, "request callback is empty");
  request_impl(to, type, payload, timeout,
               detail::RequestCompletion::for_callback(std::move(callback), options.run_inline));
}

void Peer::request_impl(PeerId to, std::string_view type, std::string_view payload,
                        std::chrono::milliseconds timeout,
                        std::unique_ptr<detail::RequestCompletion> done) {
  const auto& o = impl_->shared_.options;
  check_type(o, type);
  check_payload(o, payload);
  if (timeout.count() <= 0) timeout = o.request_timeout;
  Impl::Call call(*impl_);
  CommandMeta meta{.op = CommandOp::request,
                   .to = to,
                   .deadline_us = Impl::deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  impl_->submit<detail::RequestCompletion>(meta, zmq::message_t(type.data(), type.size()),
                                           zmq::message_t(payload.data(), payload.size()),
                                           std::min(timeout, o.send_timeout));
}

Future<Response> Peer::request_service(std::string_view service, std::string_view type,
                                       std::string_view payload,
                                       std::chrono::milliseconds timeout) {
  const auto& o = impl_->shared_.options;
  check_type(o, type);
  if (service.empty()) throw Error(errc::invalid_argument, "service name must not be empty");
  check_payload(o, payload);
  if (timeout.count() <= 0) timeout = o.request_timeout;
  Impl::Call call(*impl_);
  Future<Response> future;
  auto done = detail::RequestCompletion::with_future(future);
  CommandMeta meta{.op = CommandOp::request_service,
                   .deadline_us = Impl::deadline_us(timeout),
                   .completion = detail::Handoff::give(std::move(done))};
  std::array<zmq::message_t, 4> frames{detail::pod_frame(meta),
                                       zmq::message_t(type.data(), type.size()),
                                       zmq::message_t(payload.data(), payload.size()),
                                       zmq::message_t(service.data(), service.size())};
  impl_->submit_frames<detail::RequestCompletion>(meta, frames, std::min(timeout, o.send_timeout));
  return future;
}

}  // namespace zmesh
