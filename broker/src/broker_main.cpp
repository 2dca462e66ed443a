// zmesh-broker: runs the discovery broker as a service. See docs/operations.md.
#include <csignal>
#include <iostream>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "broker_config.hpp"
#include "broker_metrics.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/header.hpp"

extern char** environ;

namespace {

using namespace zmesh::broker_cli;

// %* in a pattern: the log message as a JSON string (quoted and escaped).
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string s =
        nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump();
    dest.append(s.data(), s.data() + s.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessage>();
  }
};

void setup_logging(const Config& c) {
  auto logger = std::make_shared<spdlog::logger>("zmesh-broker",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (c.log_format == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JsonMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":%*})");
    logger->set_formatter(std::move(f));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  logger->set_level(spdlog::level::from_str(c.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  try {
    config = parse(std::vector<std::string>(argv + 1, argv + argc), environ);
  } catch (const ConfigError& e) {
    std::cerr << "zmesh-broker: " << e.what() << "\n";
    return e.exit_code();
  }
  if (config.help) {
    std::cout << config.help_text;
    return kExitOk;
  }
  if (config.version) {
    std::cout << "zmesh-broker " << ZMESH_VERSION << " (protocol v" << int{zmesh::kProtocolVersion}
              << ")\n";
    return kExitOk;
  }
  if (config.check_config) {
    print_config(std::cout, config);
    std::cout << "# configuration OK\n";
    return kExitOk;
  }
  setup_logging(config);

  // Signals are taken by sigwait below, on this thread only: block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reload the trust directory and the ACL
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    zmesh::Broker broker(config.options);
    try {
      broker.start();
    } catch (const zmesh::Error& e) {
      spdlog::error("{}", e.what());
      return kExitBind;
    }
    std::unique_ptr<zmesh::MetricsServer> metrics;  // reads broker.stats(); goes first
    if (!config.metrics_bind.empty()) {
      try {
        metrics = serve_broker_metrics(config.metrics_bind, broker);
      } catch (const zmesh::Error& e) {
        spdlog::error("{}", e.what());
        return kExitBind;
      }
      spdlog::info("metrics listening endpoint=http://{}/metrics", metrics->endpoint());
    }
    int sig = 0;
    for (;;) {
      sigwait(&signals, &sig);
      if (sig != SIGHUP) break;
      if (config.options.curve.enabled()) {
        spdlog::info("signal SIGHUP received: reloading the trust directory and the ACL");
        broker.reload();  // done by the broker thread; it logs the outcome
      } else {
        spdlog::info("signal SIGHUP received: nothing to reload (CURVE is off)");
      }
    }
    spdlog::info("signal {} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    broker.stop();
  } catch (const std::exception& e) {
    spdlog::error("broker failed: {}", e.what());
    return kExitRuntime;
  }
  return kExitOk;
}
