// The subcommands of the zmesh tool. Each has a describe_*() (its flags and help) and a
// run_*() that returns the exit code or throws Failure/UsageError (see exit_codes.hpp).
#pragma once

#include <string>
#include <vector>

#include "options.hpp"

namespace zmesh::cli {

struct Command {
  CommandLine (*describe)();
  int (*run)(const Parsed&);
};

CommandLine describe_send();
int run_send(const Parsed& p);
CommandLine describe_request();
int run_request(const Parsed& p);
CommandLine describe_reply();
int run_reply(const Parsed& p);
CommandLine describe_publish();
int run_publish(const Parsed& p);
CommandLine describe_subscribe();
int run_subscribe(const Parsed& p);
CommandLine describe_peers();
int run_peers(const Parsed& p);
CommandLine describe_ping();
int run_ping(const Parsed& p);
CommandLine describe_keygen();
int run_keygen(const Parsed& p);
CommandLine describe_bench();
int run_bench(const Parsed& p);
CommandLine describe_stats();
int run_stats(const Parsed& p);

/// Every command, in the order `zmesh --help` lists them.
[[nodiscard]] const std::vector<Command>& commands();

}  // namespace zmesh::cli
