#include "options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "exit_codes.hpp"
#include "zmesh/core/curve.hpp"
#include "zmesh/core/errors.hpp"

namespace zmesh::cli {
namespace {

constexpr unsigned kHelpWidth = 100;

po::options_description common_options(const CommandLine& cmd) {
  po::options_description d("Common options", kHelpWidth);
  d.add_options()("broker", po::value<std::string>()->value_name("EP[,EP...]"),
                  "brokers, for names, services, membership ($ZMESH_BROKER); commands that "
                  "serve or publish register with every one, the others only look up")(
      "connect", po::value<std::vector<std::string>>()->value_name("EP")->composing(),
      cmd.connect_help.c_str())("name", po::value<std::string>()->value_name("NAME"),
                                "our peer name (default: zmesh-<command>-<pid>)")(
      "format", po::value<std::string>()->value_name("FMT")->default_value("text"),
      "output: text, or json (one object per line)")(
      "timeout", po::value<std::string>()->value_name("DURATION")->default_value("5s"),
      "how long to wait for an answer: 500ms, 5s, 1m (bare number: s)")(
      "quiet,q", "no informational lines on stderr (errors still show)")(
      "key", po::value<std::string>()->value_name("FILE"),
      "CURVE: our secret certificate (zmesh keygen's NAME.key_secret; $ZMESH_KEY, or the Z85 "
      "secret key itself in $ZMESH_SECRET_KEY)")(
      "trust", po::value<std::string>()->value_name("DIR"),
      "CURVE: directory of the public certificates whose keys may connect to us ($ZMESH_TRUST)")(
      "broker-key", po::value<std::string>()->value_name("KEY|FILE[,...]"),
      "CURVE: the brokers' public keys, one for all or one per --broker item "
      "($ZMESH_BROKER_KEY)")("server-key", po::value<std::string>()->value_name("KEY|FILE"),
                             "CURVE: the public key of the peer given by endpoint (<peer>, "
                             "--connect)")("help,h", "show this help");
  return d;
}

/// A flag's value, else the environment variable's ("" when neither is set).
std::string flag_or_env(const po::variables_map& vm, const char* key, const char* env) {
  if (vm.count(key) != 0) return vm[key].as<std::string>();
  const char* v = std::getenv(env);
  return v == nullptr ? std::string() : std::string(v);
}

/// --key, --trust, --broker-key, --server-key and their environment variables.
void read_security(const po::variables_map& vm, Common& c) {
  try {
    const std::string key_file = flag_or_env(vm, "key", "ZMESH_KEY");
    const char* inline_secret = std::getenv("ZMESH_SECRET_KEY");
    if (!key_file.empty()) {
      const CurveOptions own = curve_keys_from_file(key_file);
      c.public_key = own.public_key;
      c.secret_key = own.secret_key;
    } else if (inline_secret != nullptr && *inline_secret != '\0') {
      c.secret_key = inline_secret;
      c.public_key = public_key_of(c.secret_key);
      if (c.public_key.empty()) throw UsageError("$ZMESH_SECRET_KEY is not a Z85 secret key");
    }
    c.trust_dir = flag_or_env(vm, "trust", "ZMESH_TRUST");
    const std::string broker_keys = flag_or_env(vm, "broker-key", "ZMESH_BROKER_KEY");
    for (const auto& item : split_endpoint_list(broker_keys)) {
      c.broker_key += (c.broker_key.empty() ? "" : ",") + public_key_from(item, "--broker-key");
    }
    if (vm.count("server-key") != 0) {
      c.server_key = public_key_from(vm["server-key"].as<std::string>(), "--server-key");
    }
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const bool curve = !c.secret_key.empty();
  // Flags without a key are a mistake; the environment may set them for every command,
  // a plaintext one too (which then fails its handshakes with exit 7, saying why).
  if (!curve &&
      (vm.count("trust") != 0 || vm.count("broker-key") != 0 || vm.count("server-key") != 0)) {
    throw UsageError("--trust, --broker-key and --server-key need --key (our CURVE key pair)");
  }
  if (!curve) {
    c.trust_dir.clear();
    c.broker_key.clear();
  }
  if (curve && !c.broker.empty() && c.broker_key.empty()) {
    throw UsageError("--key with --broker needs --broker-key (the broker's public key)");
  }
}

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  const std::string unit(ptr, end);
  const auto bad = [&](const std::string& why) {
    return UsageError("bad duration '" + text + "' for --" + option + ": " + why +
                      " (examples: 500ms, 5s, 1.5s, 2m)");
  };
  if (ec == std::errc::result_out_of_range) throw bad("out of range");
  if (ec != std::errc() || ptr == begin) throw bad("not a number");
  if (std::isnan(value)) throw bad("not a number");
  if (std::isinf(value)) throw bad("must be finite");
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "us" || unit == "µs") {
    ms = value / 1000;
  } else if (unit == "m" || unit == "min") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else {
    throw bad("unknown unit '" + unit + "'");
  }
  if (ms < 0) throw bad("must not be negative");
  if (ms > 1e12) throw bad("too long");
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(ms)));
}

std::uint64_t parse_count(const po::variables_map& vm, const char* key, std::uint64_t min,
                          std::uint64_t max) {
  const std::string text = vm[key].as<std::string>();
  const std::string flag = std::string("--") + key;
  const std::string got = " (got '" + text + "')";
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (!text.empty() && text.front() == '-') throw UsageError(flag + " must not be negative" + got);
  if (ec == std::errc::result_out_of_range) {
    throw UsageError(flag + " must be at most " + std::to_string(max) + got);
  }
  if (ec != std::errc() || ptr != end) throw UsageError(flag + " must be a whole number" + got);
  if (value < min || value > max) {
    throw UsageError(flag + " must be " + std::to_string(min) + ".." + std::to_string(max) + got);
  }
  return value;
}

void check_endpoint_arg(const std::string& endpoint, const std::string& source, EndpointUse use,
                        bool resolve) {
  try {
    (void)(resolve ? check_endpoint(endpoint, use) : parse_endpoint(endpoint, use));
  } catch (const Error& e) {
    const std::string what = source + " '" + endpoint + "': " + e.what();
    if (e.kind() == errc::invalid_argument) throw UsageError(what);
    throw Failure(exit_code_for(e.kind()), what);
  }
}

void check_broker_list(const std::string& list, const std::string& source) {
  if (list.empty()) return;
  const auto items = split_endpoint_list(list);
  if (items.empty()) throw UsageError(source + " '" + list + "': no endpoint in the list");
  for (const auto& e : items) check_endpoint_arg(e, source, EndpointUse::connect);
}

void check_target(const std::string& target) {
  if (target.find("://") != std::string::npos) {
    check_endpoint_arg(target, "<peer>", EndpointUse::connect);
  }
}

void check_type(const std::string& type) {
  if (type.empty() || type.size() > 128) {
    throw UsageError("<type> must be 1..128 bytes (got " + std::to_string(type.size()) + ")");
  }
}

bool common_option_takes_value(const std::string& token) {
  for (const char* o : {"--broker", "--connect", "--name", "--format", "--timeout", "--key",
                        "--trust", "--broker-key", "--server-key"}) {
    if (token == o) return true;
  }
  return false;
}

Parsed parse_command(const CommandLine& cmd, const std::vector<std::string>& args) {
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(cmd.options).add(common_options(cmd)).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);

  Parsed p;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), p.vm);
    po::notify(p.vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  p.help = p.vm.count("help") != 0;
  if (p.help) return p;
  if (p.vm.count("args") != 0) p.args = p.vm["args"].as<std::vector<std::string>>();
  if (p.args.size() < cmd.min_args) {
    const std::size_t i = p.args.size();
    throw UsageError("missing " + (i < cmd.arg_names.size() ? cmd.arg_names[i] : "arguments"));
  }
  if (p.args.size() > cmd.max_args) {
    throw UsageError("unexpected argument '" + p.args[cmd.max_args] + "'");
  }

  Common& c = p.common;
  if (auto b = opt<std::string>(p.vm, "broker")) {
    c.broker = *b;
    check_broker_list(c.broker, "--broker");
  } else if (const char* env = std::getenv("ZMESH_BROKER")) {
    c.broker = env;
    // An empty variable means no broker, like an unset one.
    check_broker_list(c.broker, "$ZMESH_BROKER");
  }
  if (auto v = opt<std::vector<std::string>>(p.vm, "connect")) c.connect = *v;
  for (const auto& e : c.connect) check_endpoint_arg(e, "--connect", EndpointUse::connect);
  if (auto n = opt<std::string>(p.vm, "name")) {
    if (n->empty() || n->size() > 128) throw UsageError("--name must be 1..128 bytes");
    c.name = *n;
  }
  const std::string format = p.vm["format"].as<std::string>();
  if (format == "json") {
    c.format = Format::json;
  } else if (format != "text") {
    throw UsageError("--format must be text or json (got '" + format + "')");
  }
  c.timeout = parse_duration(p.vm["timeout"].as<std::string>(), "timeout");
  if (c.timeout.count() == 0) throw UsageError("--timeout must be more than zero");
  c.quiet = p.vm.count("quiet") != 0;
  read_security(p.vm, c);
  return p;
}

std::string help_text(const CommandLine& cmd) {
  std::ostringstream out;
  out << "Usage:\n";
  std::istringstream lines(cmd.synopsis);
  for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  out << "\n" << cmd.description;
  if (!cmd.options.options().empty()) out << "\n" << cmd.options;
  out << "\n" << common_options(cmd);
  if (!cmd.examples.empty()) out << "\nExamples:\n" << cmd.examples;
  out << "\nExit codes: 0 ok, 1 failure, 2 usage, 3 timeout, 4 unreachable, 5 remote error,"
         " 6 payload too large (see zmesh --help).\n";
  return out.str();
}

}  // namespace zmesh::cli
