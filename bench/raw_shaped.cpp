#include "raw_shaped.hpp"

#include <array>
#include <chrono>
#include <initializer_list>
#include <vector>

#include "meters.hpp"
#include "zmesh/core/envelope_codec.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

void deep(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
}

// Moves one whole message (all its frames, three at most: the ROUTER's identity, the
// header, the payload) from `from` to `to`; false if none was waiting.
bool relay(zmq::socket_t& from, zmq::socket_t& to, std::array<zmq::message_t, 3>& parts) {
  if (!from.recv(parts[0], zmq::recv_flags::dontwait)) return false;
  std::size_t n = 1;
  while (parts[n - 1].more() && n < parts.size()) (void)from.recv(parts[n++]);
  for (std::size_t i = 0; i < n; ++i)
    to.send(parts[i], i + 1 < n ? zmq::send_flags::sndmore : zmq::send_flags::none);
  return true;
}

struct Route {
  zmq::socket_t* from;
  zmq::socket_t* to;
};

// One thread's loop: sleeps in zmq::poll on every route's `from`, then relays on every
// route until none has anything waiting, and sleeps again; until `stop`.
void pump(std::initializer_list<Route> routes, const std::atomic<bool>& stop) {
  std::vector<zmq::pollitem_t> items;
  for (const Route& r : routes) items.push_back({r.from->handle(), 0, ZMQ_POLLIN, 0});
  std::array<zmq::message_t, 3> parts;
  while (!stop) {
    if (zmq::poll(items.data(), items.size(), 50ms) == 0) continue;
    for (bool busy = true; busy;) {
      busy = false;
      for (const Route& r : routes) busy = relay(*r.from, *r.to, parts) || busy;
    }
  }
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
  // Requests to the worker (or straight back: the inline shape), results back out.
  pump({{&router_, has_worker_ ? &to_work_ : &router_}, {&results_, &router_}}, stop_);
}

void ShapedServer::work() {
  pump({{&work_, &answer_}}, stop_);  // the echo handler: the request is its answer
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
  pump({{&take_, &dealer_}, {&dealer_, &give_}}, stop_);  // requests out, replies back
}

double inproc_cpu_us(int frames, std::size_t size, int n) {
  zmq::context_t ctx;
  zmq::socket_t push(ctx, zmq::socket_type::push);
  zmq::socket_t pull(ctx, zmq::socket_type::pull);
  for (auto* s : {&push, &pull}) deep(*s);
  pull.bind("inproc://cost");
  push.connect("inproc://cost");
  const std::string body(size, 'p');
  const Sample before = Meters::sample();
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
  return Meters::per(before, Meters::sample(), n).cpu_us;
}

}  // namespace bench
