// Command lines of the zmesh tool: the options every command shares, durations with
// units, and one parser for a subcommand's flags and positional arguments
// (Boost.Program_options stays in tools/, mapped into plain structs here).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "zmesh/core/endpoint.hpp"

namespace zmesh::cli {

namespace po = boost::program_options;

enum class Format { text, json };

/// Options every command takes (see common_options()).
struct Common {
  std::string broker;                       ///< --broker or $ZMESH_BROKER; "" = none
  std::vector<std::string> connect;         ///< --connect, repeatable
  std::string name;                         ///< --name; "" = zmesh-<command>-<pid>
  Format format = Format::text;             ///< --format
  std::chrono::milliseconds timeout{5000};  ///< --timeout
  bool quiet = false;                       ///< -q: no informational lines on stderr
  // CURVE (docs/security.md); all "" = plaintext.
  std::string public_key;  ///< ours, from --key FILE ($ZMESH_KEY) or $ZMESH_SECRET_KEY
  std::string secret_key;
  std::string trust_dir;   ///< --trust DIR ($ZMESH_TRUST): client keys our sockets accept
  std::string broker_key;  ///< --broker-key KEY|FILE[,...] ($ZMESH_BROKER_KEY), as Z85 keys
  std::string server_key;  ///< --server-key KEY|FILE: the key of a peer given by endpoint
};

/// What a subcommand accepts and how its help reads.
struct CommandLine {
  std::string name;         ///< "request"
  std::string summary;      ///< one line for `zmesh --help`
  std::string synopsis;     ///< usage lines, each "zmesh request ..."
  std::string description;  ///< what it does, for `zmesh <cmd> --help`
  std::string examples;     ///< example invocations
  std::string connect_help =
      "connect to this peer endpoint first (repeatable; send, request, ping)";
  po::options_description options{"Options", 100};
  std::vector<std::string> arg_names;  ///< "<peer>", "<type>", ... for "missing <type>"
  std::size_t min_args = 0;            ///< positional arguments required
  std::size_t max_args = 0;            ///< positional arguments allowed (SIZE_MAX = any number)
};

/// A parsed subcommand line.
struct Parsed {
  po::variables_map vm;
  std::vector<std::string> args;  ///< positional arguments, in order
  Common common;
  bool help = false;
};

/// "500ms", "5s", "1.5s", "2m", "1h", "250us"; a bare number is seconds (like curl -m).
/// Throws UsageError naming `option`.
[[nodiscard]] std::chrono::milliseconds parse_duration(const std::string& text,
                                                       const std::string& option);

/// Parses a subcommand's arguments (everything after the command name): its own options,
/// the common ones, positionals ("--" ends options). Throws UsageError.
[[nodiscard]] Parsed parse_command(const CommandLine& cmd, const std::vector<std::string>& args);

/// The full `zmesh <cmd> --help` text.
[[nodiscard]] std::string help_text(const CommandLine& cmd);

/// The whole number in flag `key` (declared as a string, so that Boost never wraps "-1"
/// around to 2^64-1): digits only, within min..max. Throws UsageError naming the flag
/// ("--count must not be negative (got '-1')").
[[nodiscard]] std::uint64_t parse_count(
    const po::variables_map& vm, const char* key, std::uint64_t min = 0,
    std::uint64_t max = std::numeric_limits<std::uint64_t>::max());

/// Checks an endpoint the user gave (zmesh/core/endpoint.hpp); `source` names where it
/// came from ("--broker", "$ZMESH_BROKER", "<peer>"). Host names are looked up only when
/// `resolve` (connect endpoints). Throws UsageError ("--broker 'tcp://h:99999': bad port
/// '99999' (1..65535)"), or Failure(kExitUnreachable) when the resolver cannot answer now.
void check_endpoint_arg(const std::string& endpoint, const std::string& source, EndpointUse use,
                        bool resolve = true);

/// Checks each endpoint of a comma-separated broker list (--broker, $ZMESH_BROKER).
void check_broker_list(const std::string& list, const std::string& source);
/// Checks a <peer> argument that is an endpoint (contains "://") with check_endpoint_arg;
/// names and ids are resolved later, through the broker.
void check_target(const std::string& target);

/// Checks a message type argument (1..128 bytes); throws UsageError.
void check_type(const std::string& type);

/// Options that take a value, for finding the command name after leading common options.
[[nodiscard]] bool common_option_takes_value(const std::string& token);

/// The value of an optional flag.
template <class T>
[[nodiscard]] std::optional<T> opt(const po::variables_map& vm, const char* key) {
  if (vm.count(key) == 0) return std::nullopt;
  return vm[key].as<T>();
}

}  // namespace zmesh::cli
