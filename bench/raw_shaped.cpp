#include "raw_shaped.hpp"

#include <array>
#include <chrono>
#include <ctime>

#include "zmesh/core/envelope_codec.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

void deep(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
}

// Moves one whole message (all its frames) from `from` to `to`; false if none was waiting.
template <std::size_t N>
bool relay(zmq::socket_t& from, zmq::socket_t& to, std::array<zmq::message_t, N>& parts) {
  if (!from.recv(parts[0], zmq::recv_flags::dontwait)) return false;
  std::size_t n = 1;
  while (parts[n - 1].more() && n < N) (void)from.recv(parts[n++]);
  for (std::size_t i = 0; i < n; ++i)
    to.send(parts[i], i + 1 < n ? zmq::send_flags::sndmore : zmq::send_flags::none);
  return true;
}

}  // namespace

zmq::message_t echo_request_header() {
  zmesh::Header h;
  h.kind = zmesh::Kind::request;
  h.type = "Echo";
  h.sender_id = 1;
  h.correlation_id = 1;
  zmesh::EnvelopeEncoder enc;
  return enc.encode(h);
}

ShapedServer::ShapedServer(bool worker)
    : router_(ctx_, zmq::socket_type::router),
      to_work_(ctx_, zmq::socket_type::push),
      results_(ctx_, zmq::socket_type::pull),
      work_(ctx_, zmq::socket_type::pull),
      answer_(ctx_, zmq::socket_type::push),
      has_worker_(worker) {
  for (auto* s : {&router_, &to_work_, &results_, &work_, &answer_}) deep(*s);
  router_.bind("tcp://127.0.0.1:*");
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  to_work_.bind("inproc://work");
  work_.connect("inproc://work");
  results_.bind("inproc://results");
  answer_.connect("inproc://results");
  engine_ = std::thread([this] { engine(); });
  if (has_worker_) worker_ = std::thread([this] { work(); });
}

ShapedServer::~ShapedServer() {
  stop_ = true;
  engine_.join();
  if (worker_.joinable()) worker_.join();
}

void ShapedServer::engine() {
  std::array<zmq::pollitem_t, 2> items{
      {{router_.handle(), 0, ZMQ_POLLIN, 0}, {results_.handle(), 0, ZMQ_POLLIN, 0}}};
  std::array<zmq::message_t, 3> parts;
  zmq::socket_t& requests_to = has_worker_ ? to_work_ : router_;
  while (!stop_) {
    if (zmq::poll(items.data(), items.size(), 50ms) == 0) continue;
    bool busy = true;
    while (busy) {  // drain both before sleeping again
      busy = relay(router_, requests_to, parts);
      busy = relay(results_, router_, parts) || busy;
    }
  }
}

void ShapedServer::work() {
  zmq::pollitem_t item{work_.handle(), 0, ZMQ_POLLIN, 0};
  std::array<zmq::message_t, 3> parts;
  while (!stop_) {
    if (zmq::poll(&item, 1, 50ms) == 0) continue;
    while (relay(work_, answer_, parts)) {
    }
  }
}

ShapedClient::ShapedClient(const std::string& endpoint)
    : commands_(ctx_, zmq::socket_type::push),
      replies_(ctx_, zmq::socket_type::pull),
      dealer_(ctx_, zmq::socket_type::dealer),
      take_(ctx_, zmq::socket_type::pull),
      give_(ctx_, zmq::socket_type::push) {
  for (auto* s : {&commands_, &replies_, &dealer_, &take_, &give_}) deep(*s);
  take_.bind("inproc://commands");
  commands_.connect("inproc://commands");
  give_.bind("inproc://replies");
  replies_.connect("inproc://replies");
  dealer_.connect(endpoint);
  header_ = echo_request_header();
  engine_ = std::thread([this] { engine(); });
}

ShapedClient::~ShapedClient() {
  stop_ = true;
  engine_.join();
}

void ShapedClient::send(const std::string& payload) {
  zmq::message_t header;
  header.copy(header_);
  commands_.send(header, zmq::send_flags::sndmore);
  commands_.send(zmq::buffer(payload), zmq::send_flags::none);
}

void ShapedClient::recv() {
  (void)replies_.recv(in_[0]);
  (void)replies_.recv(in_[1]);
}

void ShapedClient::engine() {
  std::array<zmq::pollitem_t, 2> items{
      {{take_.handle(), 0, ZMQ_POLLIN, 0}, {dealer_.handle(), 0, ZMQ_POLLIN, 0}}};
  std::array<zmq::message_t, 2> parts;
  while (!stop_) {
    if (zmq::poll(items.data(), items.size(), 50ms) == 0) continue;
    bool busy = true;
    while (busy) {
      busy = relay(take_, dealer_, parts);
      busy = relay(dealer_, give_, parts) || busy;
    }
  }
}

double inproc_cpu_us(int frames, std::size_t size, int n) {
  zmq::context_t ctx;
  zmq::socket_t push(ctx, zmq::socket_type::push);
  zmq::socket_t pull(ctx, zmq::socket_type::pull);
  for (auto* s : {&push, &pull}) deep(*s);
  pull.bind("inproc://cost");
  push.connect("inproc://cost");
  const std::string body(size, 'p');
  const auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  };
  const double t0 = cpu();
  std::thread receiver([&] {
    zmq::message_t m;
    for (int i = 0; i < n * frames; ++i) (void)pull.recv(m);
  });
  for (int i = 0; i < n; ++i) {
    for (int f = 0; f < frames; ++f) {
      push.send(zmq::buffer(body),
                f + 1 < frames ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  receiver.join();
  return (cpu() - t0) / n;
}

}  // namespace bench
