// Command line, environment and config file of zmesh-broker, mapped into BrokerOptions
// with Boost.Program_options. Precedence: flags > environment > file > defaults.
#pragma once

#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "zmesh/broker/broker.hpp"

namespace zmesh::broker_cli {

/// Exit codes of zmesh-broker (documented in docs/operations.md).
enum ExitCode : int {
  kExitOk = 0,       ///< clean shutdown, --help, --version, --check-config passed
  kExitRuntime = 1,  ///< failed while running
  kExitUsage = 2,    ///< unknown flag, stray argument, or bad flag value
  kExitConfig = 3,   ///< bad config file or environment value (or a combination with one)
  kExitBind = 4,     ///< could not bind the endpoint
};

struct Config {
  BrokerOptions options;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string config_file;  ///< "" = none
  std::string key_file;     ///< CURVE secret certificate given ("" = none, or secret-key)
  bool help = false;
  bool version = false;
  bool check_config = false;
  std::string help_text;
  std::string metrics_bind;  ///< "HOST:PORT" for GET /metrics; "" = off
};

/// Why the configuration was refused, with the exit code that goes with it.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(int exit_code, const std::string& what)
      : std::runtime_error(what), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

/// Parses flags, the ZMESH_BROKER_* variables of `environment` (NAME=value entries, null
/// terminated, like ::environ; nullptr = none) and the config file; validates. --help and --version
/// return before the environment and the file are read.
/// Throws ConfigError.
Config parse(const std::vector<std::string>& args, char** environment);

/// The effective configuration, one "key = value" per line (the config file format).
void print_config(std::ostream& out, const Config& config);

}  // namespace zmesh::broker_cli
