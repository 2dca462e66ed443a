#include "raw_peer.hpp"

#include <utility>

#include "zmesh/core/clock.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/socket_factory.hpp"

namespace zmesh::test {

WireError RawMessage::error_code() const {
  if (kind == Kind::error) return as<ErrorReply>().code;
  if (kind == Kind::reject) return as<Reject>().code;
  return WireError::none;
}

RawPeer::RawPeer(std::string name)
    : dealer_(ctx_, zmq::socket_type::dealer),
      name_(std::move(name)),
      id_(random_id()),
      session_(random_id()) {
  dealer_.set(zmq::sockopt::linger, 0);
}

RawPeer::~RawPeer() {
  try {
    close();
  } catch (...) {
    // A destructor must not throw: the socket and context close all the same.
  }
}

void RawPeer::set_rcvhwm(int messages) {
  dealer_.set(zmq::sockopt::rcvhwm, messages);
}
void RawPeer::set_sndhwm(int messages) {
  dealer_.set(zmq::sockopt::sndhwm, messages);
}
void RawPeer::set_rcvbuf(int bytes) {
  dealer_.set(zmq::sockopt::rcvbuf, bytes);
}
void RawPeer::set_curve(const CurveOptions& own, const std::string& server_key) {
  set_curve_client(dealer_, own, server_key);
}
void RawPeer::connect(const std::string& endpoint) {
  dealer_.connect(endpoint);
}

Header RawPeer::header(Kind kind, std::uint64_t correlation_id) const {
  Header h;
  h.version = version_;
  h.kind = kind;
  h.correlation_id = correlation_id;
  h.sender_id = id_;
  h.sender_session = session_;
  h.timestamp_us = unix_now_us();
  return h;
}

bool RawPeer::send_frames(const Header& h, zmq::message_t payload, std::chrono::milliseconds wait) {
  if (closed_) return false;
  zmq::message_t head = encoder_.encode(h);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // ZeroMQ takes a multipart message whole or not at all: once the first frame is
  // accepted, the second is too.
  while (!dealer_.send(head, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLOUT, 0};
    zmq::poll(&item, 1, left);
  }
  dealer_.send(payload, zmq::send_flags::none);
  return true;
}

RawMessage RawPeer::greet(PeerId id, std::uint64_t session, std::chrono::milliseconds timeout) {
  id_ = id;
  session_ = session;
  PeerInfo info{id, session, name_, {}, {}, {}};
  const std::uint64_t corr = ++next_correlation_;
  if (!send_frames(header(Kind::hello, corr), encode(Hello{kProtocolVersion, info, 100}),
                   timeout)) {
    return {};
  }
  return wait_answer(corr, timeout);
}

RawMessage RawPeer::greet(std::chrono::milliseconds timeout) {
  return greet(id_, session_, timeout);
}

RawMessage RawPeer::greet_with(const Hello& hello, std::chrono::milliseconds timeout) {
  return greet_raw(encode(hello), timeout);
}

RawMessage RawPeer::greet_raw(zmq::message_t payload, std::chrono::milliseconds timeout) {
  const std::uint64_t corr = ++next_correlation_;
  if (!send_frames(header(Kind::hello, corr), std::move(payload), timeout)) return {};
  return wait_answer(corr, timeout);
}

std::uint64_t RawPeer::request(std::string_view type, std::string_view payload, std::uint32_t flags,
                               std::uint64_t deadline_unix_ms, std::chrono::milliseconds wait) {
  const std::uint64_t corr = ++next_correlation_;
  Header h = header(Kind::request, corr);
  h.type = type;
  h.flags = flags;
  h.deadline_unix_ms = deadline_unix_ms;
  return send_frames(h, zmq::message_t(payload.data(), payload.size()), wait) ? corr : 0;
}

std::uint64_t RawPeer::message(std::string_view type, std::string_view payload,
                               std::chrono::milliseconds wait) {
  Header h = header(Kind::message, 0);
  h.type = type;
  return send_frames(h, zmq::message_t(payload.data(), payload.size()), wait) ? 1 : 0;
}

std::uint64_t RawPeer::ping(std::chrono::milliseconds wait) {
  const std::uint64_t corr = ++next_correlation_;
  return send_frames(header(Kind::ping, corr), encode(Ping{random_id(), steady_now_us()}), wait)
             ? corr
             : 0;
}

std::uint64_t RawPeer::send_kind(Kind kind, zmq::message_t payload,
                                 std::chrono::milliseconds wait) {
  const std::uint64_t corr = ++next_correlation_;
  return send_frames(header(kind, corr), std::move(payload), wait) ? corr : 0;
}

std::uint64_t RawPeer::bye(std::chrono::milliseconds wait) {
  return send_frames(header(Kind::bye, 0), zmq::message_t(), wait) ? 1 : 0;
}

RawMessage RawPeer::read(std::chrono::milliseconds timeout) {
  if (closed_) return {};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(0))) == 0) {
      if (left.count() <= 0) return {};
      continue;
    }
    frames_.recv(dealer_);
    auto env = decoder_.decode(Layout::dealer, frames_);
    if (!env) {
      ++undecodable_;
      continue;
    }
    const Header& h = env->header;
    if (h.kind == Kind::ping && auto_pong_) {
      (void)send_frames(header(Kind::pong, h.correlation_id),
                        zmq::message_t(env->payload.data(), env->payload.size()),
                        std::chrono::milliseconds(0));
      continue;
    }
    RawMessage m;
    m.kind = h.kind;
    m.correlation_id = h.correlation_id;
    m.sender_id = h.sender_id;
    m.flags = h.flags;
    m.type = std::string(h.type);
    m.payload.assign(reinterpret_cast<const char*>(env->payload.data()), env->payload.size());
    return m;
  }
}

RawMessage RawPeer::wait_answer(std::uint64_t correlation_id, std::chrono::milliseconds timeout,
                                std::vector<RawMessage>* others) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    RawMessage m = read(left);
    if (!m) return m;
    const bool answer = m.kind != Kind::request && m.kind != Kind::message &&
                        m.kind != Kind::ping && m.kind != Kind::bye;
    if (answer && m.correlation_id == correlation_id) return m;
    if (others != nullptr) others->push_back(std::move(m));
  }
}

void RawPeer::close(std::chrono::milliseconds linger) {
  if (closed_) return;
  closed_ = true;
  dealer_.set(zmq::sockopt::linger, static_cast<int>(linger.count()));
  dealer_.close();
  ctx_.close();  // waits for unsent messages at most `linger`
}

}  // namespace zmesh::test
