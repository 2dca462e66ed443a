// zmesh: the command line tool. `zmesh <command> [arguments] [options]`; see usage below
// and `zmesh <command> --help`. Every failure ends as one line on stderr and an exit code
// from exit_codes.hpp; nothing escapes as an uncaught exception.
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "session.hpp"
#include "zmesh/core/header.hpp"
#include "zmesh/core/limits.hpp"

namespace zmesh::cli {
namespace {

std::string overview() {
  std::ostringstream out;
  out << "zmesh: send, request, answer, publish and subscribe over zmesh from a shell.\n\n"
         "Usage:\n"
         "  zmesh <command> [arguments] [options]\n"
         "  zmesh <command> --help      (or: zmesh help <command>)\n"
         "  zmesh --version\n\n"
         "Commands:\n";
  for (const auto& c : commands()) {
    const CommandLine cl = c.describe();
    out << "  " << cl.name << std::string(12 - cl.name.size(), ' ') << cl.summary << "\n";
  }
  out << "\nCommon options (every command, before or after it):\n"
         "  --broker EP[,EP...]  brokers for names, services, membership ($ZMESH_BROKER)\n"
         "  --connect EP         connect to this peer first (subscribe: a PUB endpoint)\n"
         "  --name NAME          our peer name (default zmesh-<command>-<pid>)\n"
         "  --format text|json   text, or one JSON object per line\n"
         "  --timeout DURATION   how long to wait for an answer: 500ms, 5s, 1m (default 5s)\n"
         "  -q, --quiet          no informational lines on stderr\n"
         "  --key FILE           CURVE: our secret certificate, from zmesh keygen ($ZMESH_KEY;\n"
         "                       or the Z85 secret key itself in $ZMESH_SECRET_KEY)\n"
         "  --trust DIR          CURVE: public certificates of the keys that may connect to us\n"
         "                       ($ZMESH_TRUST)\n"
         "  --broker-key KEY|FILE[,...]  CURVE: the brokers' public keys ($ZMESH_BROKER_KEY)\n"
         "  --server-key KEY|FILE  CURVE: the public key of a peer given by endpoint\n\n"
         "<peer> is an endpoint (tcp://host:port), a peer name or a 16-hex-digit peer id; names\n"
         "and ids are resolved through the broker. [payload] is the text itself, @FILE for a\n"
         "file's bytes, or - for stdin. stdout carries results only; informational lines, running\n"
         "counts and errors go to stderr, errors as one line starting with \"zmesh: \". Payloads\n"
         "that are not UTF-8 text are shown as base64 (in JSON: \"encoding\":\"base64\").\n\n"
         "Exit codes:\n"
         "  0    ok (long-running commands also after SIGINT/SIGTERM)\n"
         "  1    other failure (cannot bind, cannot read a payload file, ...)\n"
         "  2    usage error: unknown flag, missing or extra argument, bad value (a negative\n"
         "       or non-numeric count, a bad duration), a malformed endpoint or one whose host\n"
         "       does not resolve (<peer>, --connect, --broker or $ZMESH_BROKER)\n"
         "  3    timeout: no reply, subscriptions not confirmed, subscribers not there in time\n"
         "  4    unreachable: peer unreachable or gone, unknown peer name or id, no peer offers\n"
         "       the service, the broker does not answer\n"
         "  5    remote error: no handler for the type, the handler failed, the peer rejected us\n"
         "  6    payload too large: [payload] is over "
      << Limits{}.max_payload_bytes
      << " bytes, the most one message carries;\n"
         "       refused before anything is read past that or sent\n"
         "  7    authentication: a CURVE handshake failed (wrong key, our key not trusted, one\n"
         "       side plaintext), or our key may not claim that id, name or service\n"
         "  130  interrupted by SIGINT/SIGTERM while waiting for an answer\n\n"
         "Examples:\n"
         "  zmesh-broker &  export ZMESH_BROKER=tcp://127.0.0.1:7400\n"
         "  zmesh reply Echo --echo --service echo --name echo-1 &\n"
         "  zmesh request echo-1 Echo hello\n"
         "  zmesh request --service echo Echo hello --format json\n"
         "  zmesh subscribe weather/ &  zmesh publish weather/paris Forecast sunny\n"
         "  zmesh peers\n";
  return out.str();
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands()) {
    if (c.describe().name == name) return &c;
  }
  return nullptr;
}

int usage_error(const std::string& what, const std::string& usage) {
  std::cerr << "zmesh: " << what << "\n" << usage;
  return kExitUsage;
}

int run(const std::vector<std::string>& args) {
  // Common options may come before the command: `zmesh --broker EP peers`.
  std::vector<std::string> before;
  std::size_t i = 0;
  for (; i < args.size() && !args[i].empty() && args[i][0] == '-' && args[i] != "-"; ++i) {
    before.push_back(args[i]);
    if (common_option_takes_value(args[i]) && i + 1 < args.size()) before.push_back(args[++i]);
  }
  const auto has = [&](const char* flag) {
    return std::find(before.begin(), before.end(), flag) != before.end();
  };
  if (i == args.size()) {
    if (has("--version")) {
      std::cout << "zmesh " << ZMESH_VERSION << " (protocol v" << int{kProtocolVersion} << ")\n";
      return kExitOk;
    }
    if (has("--help") || has("-h")) {
      std::cout << overview();
      return kExitOk;
    }
    return usage_error(before.empty() ? "no command given" : "no command given after options",
                       "usage: zmesh <command> [arguments] [options]; see zmesh --help\n");
  }
  std::string name = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  if (name == "help") {
    if (rest.empty()) {
      std::cout << overview();
      return kExitOk;
    }
    name = rest.front();
    rest = {"--help"};
  }
  const Command* cmd = find_command(name);
  if (cmd == nullptr) {
    std::string names;
    for (const auto& c : commands()) names += " " + c.describe().name;
    return usage_error("unknown command '" + name + "'",
                       "commands:" + names + "; see zmesh --help\n");
  }
  const CommandLine cl = cmd->describe();
  before.insert(before.end(), rest.begin(), rest.end());
  try {
    const Parsed p = parse_command(cl, before);
    if (p.help) {
      std::cout << help_text(cl);
      return kExitOk;
    }
    return cmd->run(p);
  } catch (const UsageError& e) {
    std::string usage;
    std::istringstream lines(cl.synopsis);
    for (std::string line; std::getline(lines, line);)
      usage += (usage.empty() ? "usage: " : "       ") + line + "\n";
    return usage_error(e.what(), usage + "see 'zmesh " + cl.name + " --help'\n");
  }
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> kAll = {
      {describe_send, run_send},           {describe_request, run_request},
      {describe_reply, run_reply},         {describe_publish, run_publish},
      {describe_subscribe, run_subscribe}, {describe_peers, run_peers},
      {describe_ping, run_ping},           {describe_keygen, run_keygen},
      {describe_bench, run_bench},         {describe_stats, run_stats},
  };
  return kAll;
}

}  // namespace zmesh::cli

int main(int argc, char** argv) {
  using namespace zmesh::cli;
  block_signals();  // before any thread starts: see session.hpp
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const Failure& e) {
    std::cerr << "zmesh: " << e.what() << "\n";
    return e.code();
  } catch (const zmesh::Error& e) {
    std::cerr << "zmesh: " << reason_of(e) << "\n";
    return exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "zmesh: " << e.what() << "\n";
    return kExitFailure;
  }
}
