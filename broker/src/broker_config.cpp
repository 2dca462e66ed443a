#include "broker_config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <set>
#include <sstream>
#include <string_view>

#include <boost/program_options.hpp>

#include "acl.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/limits.hpp"
#include "zmesh/core/metrics_server.hpp"
#include "zmesh/core/trust_store.hpp"

namespace zmesh::broker_cli {
namespace po = boost::program_options;

namespace {

constexpr const char* kEnvPrefix = "ZMESH_BROKER_";

// A config file is a few hundred bytes; anything near this is not one.
constexpr std::size_t kMaxConfigFileBytes = std::size_t{1} << 20;
// What of a refused value or line is shown back: enough to find it, never a screenful.
constexpr std::size_t kMaxExcerpt = 60;

// `text` safe for one line of a terminal or a log: printable ASCII as it is, every other
// byte as \xNN, cut at `max` characters with "...".
std::string printable(std::string_view text, std::size_t max = kMaxExcerpt) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The file's text, refused with its line number when a line holds control characters
// (a binary file given by mistake): Boost would echo such a line back verbatim.
std::string read_config_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError(kExitConfig, "cannot read config file '" + path + "'");
  std::string text(kMaxConfigFileBytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (file.bad()) throw ConfigError(kExitConfig, "error reading config file '" + path + "'");
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    throw ConfigError(kExitConfig, "config file '" + path + "' is too large (over " +
                                       std::to_string(kMaxConfigFileBytes) + " bytes)");
  }
  std::size_t line_no = 1;
  for (std::size_t start = 0; start < text.size(); ++line_no) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    const bool binary = std::any_of(line.begin(), line.end(), [](char ch) {
      const auto c = static_cast<unsigned char>(ch);
      return (c < 0x20 && c != '\t' && c != '\r') || c == 0x7f;
    });
    const std::string where = "config file '" + path + "' line " + std::to_string(line_no);
    if (binary) throw ConfigError(kExitConfig, where + " is not text: '" + printable(line) + "'");
    const auto first = line.find_first_not_of(" \t\r");
    const bool blank_or_comment = first == std::string_view::npos || line[first] == '#';
    if (!blank_or_comment && line.find('=') == std::string_view::npos) {
      throw ConfigError(kExitConfig,
                        where + ": expected 'key = value', got '" + printable(line) + "'");
    }
    start = end + 1;
  }
  return text;
}

// ZMESH_BROKER_TTL_MS -> ttl-ms; "" for variables without the prefix.
std::string env_to_option(const std::string& name) {
  const std::string prefix = kEnvPrefix;
  if (name.rfind(prefix, 0) != 0) return {};
  std::string key = name.substr(prefix.size());
  for (char& c : key)
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

// CURVE (docs/security.md, "The broker"). Without key or secret-key: plaintext.
void add_curve_settings(po::options_description& d) {
  d.add_options()("key", po::value<std::string>(),
                  "CURVE: our secret certificate file (zmesh keygen's NAME.key_secret, mode 0600)")(
      "secret-key", po::value<std::string>(),
      "CURVE: our secret key itself (40 characters of Z85), for containers; instead of key")(
      "trust", po::value<std::string>(),
      "CURVE: a directory of public certificates whose keys may connect (re-read on SIGHUP)")(
      "trust-key", po::value<std::vector<std::string>>(),
      "CURVE: a public key (Z85) or certificate file that may connect; repeatable, or several "
      "separated by commas")("acl", po::value<std::string>(),
                             "CURVE: ACL file of the names and services each key may register "
                             "(re-read on SIGHUP)");
}

// The settings, shared by flags, environment and file. The file cannot name another
// file, so it is described without "config".
po::options_description settings(bool with_config) {
  po::options_description d("Settings (flag, ZMESH_BROKER_<NAME> variable, or config file key)");
  d.add_options()("bind", po::value<std::string>()->default_value("tcp://127.0.0.1:7400"),
                  "ZeroMQ endpoint to listen on for peers")(
      "ttl-ms", po::value<long>()->default_value(10000),
      "how long a registration lives without a renew, in milliseconds")(
      "renew-ms", po::value<long>()->default_value(3000),
      "how often peers are told to renew, in milliseconds (at most ttl-ms / 2)")(
      "max-peers", po::value<long>()->default_value(100000), "registrations refused beyond this")(
      "max-payload-bytes", po::value<long>()->default_value(16L * 1024 * 1024),
      "largest payload frame accepted")("max-services", po::value<long>()->default_value(32),
                                        "most services one registration may offer (1..64)")(
      "max-peer-bytes", po::value<long>()->default_value(4096),
      "most bytes of name, endpoints and services in one registration")(
      "page-records", po::value<long>()->default_value(1000),
      "most records in one PeerList page (1..100000); an Event holds up to 16 pages' worth")(
      "page-bytes", po::value<long>()->default_value(64L * 1024),
      "about the most bytes in one PeerList page; an Event up to 16 times that")(
      "send-queue", po::value<long>()->default_value(64),
      "answers and events queued for a client that does not read; beyond this they are "
      "dropped (slow consumer)")("log-level", po::value<std::string>()->default_value("info"),
                                 "trace, debug, info, warn, error or off")(
      "log-format", po::value<std::string>()->default_value("text"),
      "text or json (one object per line)")(
      "metrics-bind", po::value<std::string>()->default_value(""),
      "serve Prometheus metrics over HTTP at HOST:PORT (GET /metrics), e.g. 127.0.0.1:9464; "
      "empty = off");
  add_curve_settings(d);
  if (with_config) {
    d.add_options()("config", po::value<std::string>(),
                    "config file (key = value lines; see deploy/zmesh-broker.conf)");
  }
  return d;
}

po::options_description commands() {
  po::options_description d("Commands");
  d.add_options()("help,h", "print this help and exit")("version", "print the version and exit")(
      "check-config", "validate the configuration, print it, and exit (0 when valid)");
  return d;
}

// Where each setting came from, so that a refusal can say what to fix.
struct Sources {
  std::set<std::string> flags;
  std::set<std::string> env;
  std::string config_file;
};

// A value that fails a check is a usage error (2) when the settings involved came from
// flags or defaults, and a configuration error (3) when one came from the environment
// or the file. The message ends with where each setting involved came from.
class Checker {
 public:
  Checker(const po::variables_map& vm, Sources sources) : vm_(vm), sources_(std::move(sources)) {}

  void require(bool ok, std::initializer_list<const char*> keys, const std::string& what) const {
    if (ok) return;
    bool env_or_file = false;
    std::string from;
    for (const char* k : keys) {
      const std::string key = k;
      if (vm_.count(key) == 0) continue;  // not given anywhere: not a source
      std::string source;
      if (sources_.flags.count(key) != 0) {
        source = "--" + key;
      } else if (vm_[key].defaulted()) {
        source = "the default";
      } else if (sources_.env.count(key) != 0) {
        source = env_name(key);
        env_or_file = true;
      } else {
        source = "config file '" + sources_.config_file + "'";
        env_or_file = true;
      }
      if (!from.empty()) from += ", ";
      from += key;
      from += " from ";
      from += source;
    }
    throw ConfigError(env_or_file ? kExitConfig : kExitUsage, what + " [" + from + "]");
  }

 private:
  static std::string env_name(const std::string& key) {
    std::string name = kEnvPrefix;
    for (char c : key)
      name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
  }

  const po::variables_map& vm_;
  Sources sources_;
};

// Durations travel to peers as uint32 milliseconds (RegisterAck): nothing longer fits.
constexpr long kMaxMs = std::numeric_limits<std::uint32_t>::max();
// Register and PeerList are payloads too: below 4 KiB an ordinary Register (a name, a few
// services and endpoints: a few hundred bytes) or a short listing may not fit, and the
// broker would drop every one. The top is what Limits::validate() accepts.
constexpr long kMinPayload = 4096;
constexpr long kMaxPayload = static_cast<long>(kMaxPayloadBytes);

std::string value_or_empty(const po::variables_map& vm, const char* key) {
  return vm.count(key) != 0 ? vm[key].as<std::string>() : std::string();
}

// Keys, trust and ACL are read here, so that --check-config proves them.
void fill_curve(Config& c, const po::variables_map& vm, const Checker& check) {
  const std::string key_file = value_or_empty(vm, "key");
  const std::string secret = value_or_empty(vm, "secret-key");
  c.key_file = key_file;
  check.require(key_file.empty() || secret.empty(), {"key", "secret-key"},
                "give key (a file) or secret-key (the key itself), not both");
  CurveOptions& curve = c.options.curve;
  try {
    if (!key_file.empty()) curve = curve_keys_from_file(key_file);
  } catch (const Error& e) {
    check.require(false, {"key"}, e.what());
  }
  if (!secret.empty()) curve.secret_key = secret;
  curve.trust_dir = value_or_empty(vm, "trust");
  if (vm.count("trust-key") != 0) {
    for (const auto& value : vm["trust-key"].as<std::vector<std::string>>()) {
      std::size_t start = 0;
      while (start <= value.size()) {
        std::size_t end = value.find_first_of(", ", start);
        if (end == std::string::npos) end = value.size();
        if (end > start) {
          try {
            curve.trusted_keys.push_back(
                public_key_from(value.substr(start, end - start), "trust-key"));
          } catch (const Error& e) {
            check.require(false, {"trust-key"}, e.what());
          }
        }
        start = end + 1;
      }
    }
  }
  c.options.acl_file = value_or_empty(vm, "acl");
  if (!curve.enabled()) {
    check.require(
        curve.trust_dir.empty() && curve.trusted_keys.empty() && c.options.acl_file.empty(),
        {"trust", "trust-key", "acl"},
        "trust, trust-key and acl need CURVE: give key or secret-key too");
    return;
  }
  try {
    curve.validate("CURVE");
    const TrustStore trust(curve);  // the directory is readable
  } catch (const Error& e) {
    check.require(false, {"key", "secret-key", "trust", "trust-key"}, e.what());
  }
  if (!c.options.acl_file.empty()) {
    try {
      (void)detail::Acl::load(c.options.acl_file);
    } catch (const Error& e) {
      check.require(false, {"acl"}, e.what());
    }
  }
}

void fill(Config& c, const po::variables_map& vm, const Checker& check) {
  c.options.bind = vm["bind"].as<std::string>();
  const long ttl = vm["ttl-ms"].as<long>();
  const long renew = vm["renew-ms"].as<long>();
  const long max_peers = vm["max-peers"].as<long>();
  const long max_payload = vm["max-payload-bytes"].as<long>();
  // The bounds of BrokerOptions::validate(), checked here first to name the settings.
  check.require(!c.options.bind.empty(), {"bind"}, "bind must not be empty");
  check.require(ttl >= 100 && ttl <= kMaxMs, {"ttl-ms"},
                "ttl-ms must be between 100 and " + std::to_string(kMaxMs) + " (got " +
                    std::to_string(ttl) + ")");
  check.require(renew >= 10 && renew <= kMaxMs, {"renew-ms"},
                "renew-ms must be between 10 and " + std::to_string(kMaxMs) + " (got " +
                    std::to_string(renew) + ")");
  check.require(renew <= ttl / 2, {"renew-ms", "ttl-ms"},
                "renew-ms (" + std::to_string(renew) + ") must be at most ttl-ms / 2 (" +
                    std::to_string(ttl / 2) + "), so that one lost renew does not expire a peer");
  check.require(max_peers >= 1, {"max-peers"},
                "max-peers must be at least 1 (got " + std::to_string(max_peers) + ")");
  check.require(max_payload >= kMinPayload && max_payload <= kMaxPayload, {"max-payload-bytes"},
                "max-payload-bytes must be between " + std::to_string(kMinPayload) +
                    " (a Register must fit) and " + std::to_string(kMaxPayload) + " (got " +
                    std::to_string(max_payload) + ")");
  const long max_services = vm["max-services"].as<long>();
  const long max_peer_bytes = vm["max-peer-bytes"].as<long>();
  const long page_records = vm["page-records"].as<long>();
  const long page_bytes = vm["page-bytes"].as<long>();
  const long send_queue = vm["send-queue"].as<long>();
  check.require(max_services >= 1 && max_services <= 64, {"max-services"},
                "max-services must be between 1 and 64 (got " + std::to_string(max_services) + ")");
  check.require(max_peer_bytes >= 256 && max_peer_bytes <= 1024L * 1024, {"max-peer-bytes"},
                "max-peer-bytes must be between 256 and 1048576 (got " +
                    std::to_string(max_peer_bytes) + ")");
  check.require(
      page_records >= 1 && page_records <= 100000, {"page-records"},
      "page-records must be between 1 and 100000 (got " + std::to_string(page_records) + ")");
  check.require(page_bytes >= 2 * max_peer_bytes + 1024 && page_bytes <= 8L * 1024 * 1024,
                {"page-bytes", "max-peer-bytes"},
                "page-bytes must be at least 2 x max-peer-bytes + 1024 (" +
                    std::to_string(2 * max_peer_bytes + 1024) + ") and at most 8388608 (got " +
                    std::to_string(page_bytes) + ")");
  check.require(send_queue >= 1 && send_queue <= 100000, {"send-queue"},
                "send-queue must be between 1 and 100000 (got " + std::to_string(send_queue) + ")");
  c.options.max_services = static_cast<std::size_t>(max_services);
  c.options.max_peer_bytes = static_cast<std::size_t>(max_peer_bytes);
  c.options.page_records = static_cast<std::size_t>(page_records);
  c.options.page_bytes = static_cast<std::size_t>(page_bytes);
  c.options.send_queue = static_cast<int>(send_queue);
  c.options.ttl = std::chrono::milliseconds(ttl);
  c.options.renew_interval = std::chrono::milliseconds(renew);
  c.options.max_peers = static_cast<std::size_t>(max_peers);
  c.options.limits.max_payload_bytes = static_cast<std::size_t>(max_payload);
  c.log_level = vm["log-level"].as<std::string>();
  c.log_format = vm["log-format"].as<std::string>();
  static const std::vector<std::string> kLevels = {"trace", "debug", "info",
                                                   "warn",  "error", "off"};
  check.require(std::find(kLevels.begin(), kLevels.end(), c.log_level) != kLevels.end(),
                {"log-level"},
                "log-level must be one of trace, debug, info, warn, error, off (got '" +
                    printable(c.log_level) + "')");
  check.require(c.log_format == "text" || c.log_format == "json", {"log-format"},
                "log-format must be text or json (got '" + printable(c.log_format) + "')");
  c.metrics_bind = vm["metrics-bind"].as<std::string>();
  if (!c.metrics_bind.empty()) {
    std::string why;
    try {
      MetricsServer::check_bind(c.metrics_bind);
    } catch (const Error& e) {
      why = e.what();
    }
    check.require(why.empty(), {"metrics-bind"}, printable(why, 200));
  }
  fill_curve(c, vm, check);
  try {
    c.options.validate();
  } catch (const std::exception& e) {
    throw ConfigError(kExitConfig, e.what());
  }
}

// Stores the ZMESH_BROKER_* variables of `env`, one at a time so that an error names
// its variable. An unknown ZMESH_BROKER_* variable is an error, like an unknown key in
// the file: a misspelt setting must not be ignored silently.
// Returns the settings it stored.
std::set<std::string> store_environment(char** env, const po::options_description& desc,
                                        po::variables_map& vm) {
  std::set<std::string> stored;
  for (char** e = env; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = entry.substr(0, eq);
    const std::string key = env_to_option(name);
    if (key.empty()) continue;
    if (desc.find_nothrow(key, /*approx=*/false) == nullptr) {
      std::string what = "unknown environment variable " + name;
      what += " (no setting '" + key + "'; see --help)";
      throw ConfigError(kExitConfig, what);
    }
    po::parsed_options parsed(&desc);
    po::option opt;
    opt.string_key = key;
    opt.value.push_back(entry.substr(eq + 1));
    opt.original_tokens = {name, entry.substr(eq + 1)};
    parsed.options.push_back(std::move(opt));
    try {
      po::store(parsed, vm);
    } catch (const po::error& err) {
      throw ConfigError(kExitConfig,
                        "in environment variable " + name + ": " + printable(err.what(), 200));
    }
    stored.insert(key);
  }
  return stored;
}

}  // namespace

Config parse(const std::vector<std::string>& args, char** environment) {
  Config c;
  po::options_description all;
  all.add(commands()).add(settings(/*with_config=*/true));
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
  Sources sources;
  // store() keeps the first value it sees, so sources go in order of precedence.
  try {
    const po::parsed_options cli = po::command_line_parser(args).options(all).run();
    for (const auto& opt : cli.options) {
      // Without a positional description Boost would drop these without a word.
      if (opt.position_key >= 0) {
        throw ConfigError(kExitUsage, "unexpected argument '" + printable(opt.value.front()) +
                                          "' (zmesh-broker takes only options; see --help)");
      }
      sources.flags.insert(opt.string_key);
    }
    po::store(cli, vm);
  } catch (const po::error& e) {
    throw ConfigError(kExitUsage, printable(e.what(), 200) + " (see --help)");
  }
  c.help = vm.count("help") != 0;
  c.version = vm.count("version") != 0;
  // --help and --version answer whatever the environment or the file hold.
  if (c.help || c.version) return c;

  sources.env = store_environment(environment, settings(/*with_config=*/true), vm);
  if (vm.count("config") != 0) {
    c.config_file = vm["config"].as<std::string>();
    sources.config_file = c.config_file;
    std::error_code ec;
    if (std::filesystem::is_directory(c.config_file, ec)) {
      throw ConfigError(kExitConfig, "config file '" + c.config_file + "' is a directory");
    }
    std::istringstream file(read_config_text(c.config_file));
    try {
      po::store(po::parse_config_file(file, settings(/*with_config=*/false),
                                      /*allow_unregistered=*/false),
                vm);
    } catch (const po::error& e) {
      throw ConfigError(kExitConfig,
                        "in config file '" + c.config_file + "': " + printable(e.what(), 200));
    }
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(kExitUsage, printable(e.what(), 200));
  }
  c.check_config = vm.count("check-config") != 0;
  fill(c, vm, Checker(vm, std::move(sources)));
  return c;
}

void print_config(std::ostream& out, const Config& c) {
  out << "bind = " << c.options.bind << "\n"
      << "ttl-ms = " << c.options.ttl.count() << "\n"
      << "renew-ms = " << c.options.renew_interval.count() << "\n"
      << "max-peers = " << c.options.max_peers << "\n"
      << "max-payload-bytes = " << c.options.limits.max_payload_bytes << "\n"
      << "max-services = " << c.options.max_services << "\n"
      << "max-peer-bytes = " << c.options.max_peer_bytes << "\n"
      << "page-records = " << c.options.page_records << "\n"
      << "page-bytes = " << c.options.page_bytes << "\n"
      << "send-queue = " << c.options.send_queue << "\n"
      << "log-level = " << c.log_level << "\n"
      << "log-format = " << c.log_format << "\n"
      << "metrics-bind = " << c.metrics_bind << "\n";
  // The secret key itself is never printed.
  const CurveOptions& curve = c.options.curve;
  if (!curve.enabled()) return;
  if (!c.key_file.empty()) out << "key = " << c.key_file << "\n";
  if (c.key_file.empty()) out << "# secret-key = (set)\n";
  out << "# public key: " << curve.public_key << "\n";
  if (!curve.trust_dir.empty()) out << "trust = " << curve.trust_dir << "\n";
  for (const auto& k : curve.trusted_keys) out << "trust-key = " << k << "\n";
  if (!c.options.acl_file.empty()) out << "acl = " << c.options.acl_file << "\n";
}

}  // namespace zmesh::broker_cli
