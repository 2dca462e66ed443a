#include "zmesh/core/metrics_server.hpp"

#include <pthread.h>

#include <charconv>
#include <chrono>
#include <thread>

#include <httplib.h>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

struct HostPort {
  std::string host;
  int port = 0;
};

HostPort parse_bind(const std::string& bind) {
  const auto bad = [&](const std::string& why) {
    return Error(errc::invalid_argument, "metrics bind '" + bind + "': " + why +
                                             " (expected HOST:PORT, e.g. 127.0.0.1:9464)");
  };
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("no host and port");
  HostPort hp;
  hp.host = bind.substr(0, colon);
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (hp.host.empty()) throw bad("no host");
  const std::string port = bind.substr(colon + 1);
  const char* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, hp.port);
  if (port.empty() || ec != std::errc() || ptr != end || hp.port < 0 || hp.port > 65535) {
    throw bad("bad port '" + port + "' (0..65535)");
  }
  return hp;
}

}  // namespace

class MetricsServer::Impl {
 public:
  Impl(const std::string& bind, Render render) : render_(std::move(render)) {
    const HostPort hp = parse_bind(bind);
    host_ = hp.host;
    // Two handler threads, and one request per connection: scrapes are seconds apart, and
    // an idle keep-alive connection would hold a thread, and stop(), until it timed out.
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_.set_keep_alive_max_count(1);
    server_.set_keep_alive_timeout(1);
    server_.set_read_timeout(5, 0);
    server_.set_write_timeout(5, 0);
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(render_(), "text/plain; version=0.0.4; charset=utf-8");
    });
    const bool bound = hp.port == 0 ? (port_ = server_.bind_to_any_port(hp.host)) > 0
                                    : server_.bind_to_port(hp.host, hp.port);
    if (!bound) {
      throw Error(errc::invalid_argument, "metrics bind '" + bind + "': cannot listen there");
    }
    if (hp.port != 0) port_ = hp.port;
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "zmesh-metrics");
      server_.listen_after_bind();
    });
    // stop() only stops a server that is running: wait until it is, so that a stop()
    // right after the constructor never leaves listen_after_bind() running for good.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  ~Impl() { stop(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();  // listen_after_bind() returns once its handler threads are joined
  }

  [[nodiscard]] std::string endpoint() const {
    const bool v6 = host_.find(':') != std::string::npos;
    return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
  }
  [[nodiscard]] std::uint16_t port() const noexcept { return static_cast<std::uint16_t>(port_); }

 private:
  Render render_;
  std::string host_;
  int port_ = 0;
  httplib::Server server_;
  std::thread thread_;
};

MetricsServer::MetricsServer(const std::string& bind, Render render)
    : impl_(std::make_unique<Impl>(bind, std::move(render))) {}

MetricsServer::~MetricsServer() = default;

void MetricsServer::check_bind(const std::string& bind) {
  (void)parse_bind(bind);
}

void MetricsServer::stop() {
  impl_->stop();
}

std::string MetricsServer::endpoint() const {
  return impl_->endpoint();
}

std::uint16_t MetricsServer::port() const noexcept {
  return impl_->port();
}

}  // namespace zmesh
