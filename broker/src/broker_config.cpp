#include "broker_config.hpp"

#include <fstream>
#include <ostream>
#include <sstream>

#include <boost/program_options.hpp>

namespace zmesh::broker_cli {
namespace po = boost::program_options;

namespace {

// ZMESH_BROKER_TTL_MS -> ttl-ms; other variables are ignored.
std::string env_to_option(const std::string& name) {
  static const std::string prefix = "ZMESH_BROKER_";
  if (name.rfind(prefix, 0) != 0) return {};
  std::string key = name.substr(prefix.size());
  for (char& c : key)
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

po::options_description settings() {
  po::options_description d("Settings (flag, ZMESH_BROKER_<NAME> variable, or config file key)");
  d.add_options()("bind", po::value<std::string>()->default_value("tcp://127.0.0.1:7400"),
                  "ZeroMQ endpoint to listen on for peers")(
      "ttl-ms", po::value<long>()->default_value(10000),
      "how long a registration lives without a renew, in milliseconds")(
      "renew-ms", po::value<long>()->default_value(3000),
      "how often peers are told to renew, in milliseconds (at most ttl-ms / 2)")(
      "max-peers", po::value<long>()->default_value(100000), "registrations refused beyond this")(
      "max-payload-bytes", po::value<long>()->default_value(16 * 1024 * 1024),
      "largest payload frame accepted")("log-level",
                                        po::value<std::string>()->default_value("info"),
                                        "trace, debug, info, warn, error or off")(
      "log-format", po::value<std::string>()->default_value("text"),
      "text or json (one object per line)")(
      "config", po::value<std::string>(),
      "config file (key = value lines; see deploy/zmesh-broker.conf)");
  return d;
}

po::options_description commands() {
  po::options_description d("Commands");
  d.add_options()("help,h", "print this help and exit")("version", "print the version and exit")(
      "check-config", "validate the configuration, print it, and exit (0 when valid)");
  return d;
}

void fill(Config& c, const po::variables_map& vm) {
  c.options.bind = vm["bind"].as<std::string>();
  const long ttl = vm["ttl-ms"].as<long>();
  const long renew = vm["renew-ms"].as<long>();
  const long max_peers = vm["max-peers"].as<long>();
  const long max_payload = vm["max-payload-bytes"].as<long>();
  if (ttl <= 0 || renew <= 0 || max_peers <= 0 || max_payload <= 0) {
    throw ConfigError(kExitConfig,
                      "ttl-ms, renew-ms, max-peers and max-payload-bytes must be positive");
  }
  c.options.ttl = std::chrono::milliseconds(ttl);
  c.options.renew_interval = std::chrono::milliseconds(renew);
  c.options.max_peers = static_cast<std::size_t>(max_peers);
  c.options.limits.max_payload_bytes = static_cast<std::size_t>(max_payload);
  c.log_level = vm["log-level"].as<std::string>();
  c.log_format = vm["log-format"].as<std::string>();
  static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(levels.begin(), levels.end(), c.log_level) == levels.end()) {
    throw ConfigError(kExitConfig,
                      "log-level must be one of trace, debug, info, warn, error, off (got '" +
                          c.log_level + "')");
  }
  if (c.log_format != "text" && c.log_format != "json") {
    throw ConfigError(kExitConfig, "log-format must be text or json (got '" + c.log_format + "')");
  }
  try {
    c.options.validate();
  } catch (const std::exception& e) {
    throw ConfigError(kExitConfig, e.what());
  }
}

}  // namespace

Config parse(const std::vector<std::string>& args, char** environ_) {
  Config c;
  po::options_description all;
  all.add(commands()).add(settings());
  std::ostringstream help;
  help << "zmesh-broker: the zmesh discovery service. Peers register with it, renew, look\n"
          "each other up and hear who joins and leaves. Data never passes through it.\n\n"
          "Usage: zmesh-broker [options]\n\n"
       << all
       << "\nPrecedence: flags > environment (ZMESH_BROKER_BIND, ZMESH_BROKER_TTL_MS, ...) > "
          "config file > defaults.\n"
          "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 bad configuration, 4 cannot "
          "bind.\n";
  c.help_text = help.str();

  po::variables_map vm;
  // store() keeps the first value it sees, so sources go in order of precedence.
  try {
    po::store(po::command_line_parser(args).options(all).run(), vm);
  } catch (const po::error& e) {
    throw ConfigError(kExitUsage, std::string(e.what()) + " (see --help)");
  }
  try {
    if (environ_ != nullptr) {
      // parse_environment reads ::environ; the explicit pointer only decides whether to.
      po::store(po::parse_environment(settings(), env_to_option), vm);
    }
  } catch (const po::error& e) {
    throw ConfigError(kExitConfig, std::string("in the environment: ") + e.what());
  }
  if (vm.count("config") != 0) {
    c.config_file = vm["config"].as<std::string>();
    std::ifstream file(c.config_file);
    if (!file) throw ConfigError(kExitConfig, "cannot read config file '" + c.config_file + "'");
    try {
      po::store(po::parse_config_file(file, settings(), /*allow_unregistered=*/false), vm);
    } catch (const po::error& e) {
      throw ConfigError(kExitConfig, "in config file '" + c.config_file + "': " + e.what());
    }
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(kExitUsage, e.what());
  }
  c.help = vm.count("help") != 0;
  c.version = vm.count("version") != 0;
  c.check_config = vm.count("check-config") != 0;
  if (c.help || c.version) return c;
  fill(c, vm);
  return c;
}

void print_config(std::ostream& out, const Config& c) {
  out << "bind = " << c.options.bind << "\n"
      << "ttl-ms = " << c.options.ttl.count() << "\n"
      << "renew-ms = " << c.options.renew_interval.count() << "\n"
      << "max-peers = " << c.options.max_peers << "\n"
      << "max-payload-bytes = " << c.options.limits.max_payload_bytes << "\n"
      << "log-level = " << c.log_level << "\n"
      << "log-format = " << c.log_format << "\n";
}

}  // namespace zmesh::broker_cli
