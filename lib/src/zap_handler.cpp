#include "zmesh/core/zap_handler.hpp"

#include <zmq.h>

#include <array>
#include <vector>

#include <zmq_addon.hpp>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr std::size_t kCurveKeyBytes = 32;
constexpr std::size_t kZ85KeyChars = 40;

std::string z85(const zmq::message_t& raw) {
  if (raw.size() != kCurveKeyBytes) return {};
  std::array<char, kZ85KeyChars + 1> text{};
  if (zmq_z85_encode(text.data(), raw.data<std::uint8_t>(), kCurveKeyBytes) == nullptr) return {};
  return std::string(text.data(), kZ85KeyChars);
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& ctx, const TrustStore& trust, Refused on_refused)
    : socket_(ctx, zmq::socket_type::rep), trust_(trust), on_refused_(std::move(on_refused)) {
  socket_.set(zmq::sockopt::linger, 0);
  try {
    socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    throw Error(errc::invalid_argument,
                std::string("cannot bind the ZAP handler (") + kZapEndpoint + "): " + e.what());
  }
}

int ZapHandler::handle() {
  int answered = 0;
  for (;;) {
    // A request (rfc 27): version, request id, domain, address, routing id, mechanism,
    // then the mechanism's credentials (CURVE: the client's 32-byte public key).
    std::vector<zmq::message_t> frames;
    zmq::message_t part;
    if (!socket_.recv(part, zmq::recv_flags::dontwait)) return answered;
    frames.push_back(std::move(part));
    while (frames.back().more()) {
      zmq::message_t next;
      (void)socket_.recv(next, zmq::recv_flags::none);  // the rest of a message is there
      frames.push_back(std::move(next));
    }
    std::string version = frames.empty() ? std::string() : frames[0].to_string();
    const std::string request_id = frames.size() > 1 ? frames[1].to_string() : std::string();
    const std::string address = frames.size() > 3 ? frames[3].to_string() : std::string();
    const std::string mechanism = frames.size() > 5 ? frames[5].to_string() : std::string();
    const std::string key = mechanism == "CURVE" && frames.size() > 6 ? z85(frames[6]) : "";

    const bool ok = version == "1.0" && !key.empty() && trust_.trusts(key);
    if (ok) {
      ++accepted_;
    } else {
      ++refused_;
      if (on_refused_) on_refused_(key, address);
    }
    const std::string user_id = ok ? key : std::string();
    // The reply: version, request id, status code and text, user id, metadata.
    std::array<zmq::const_buffer, 6> reply{
        zmq::buffer(std::string_view("1.0")),
        zmq::buffer(request_id),
        zmq::buffer(std::string_view(ok ? "200" : "400")),
        zmq::buffer(std::string_view(ok ? "OK" : "client key not trusted")),
        zmq::buffer(user_id),
        zmq::const_buffer()};
    (void)zmq::send_multipart(socket_, reply, zmq::send_flags::dontwait);
    ++answered;
  }
}

}  // namespace zmesh
