// zmesh reply: a responder for one message type, until a signal or --count.
#include <atomic>
#include <mutex>

#include "commands.hpp"
#include "payload.hpp"
#include "session.hpp"
#include "shell_command.hpp"
#include "zmesh/core/clock.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::cli {
namespace {

enum class Mode { echo, text, command };

struct Served {
  std::mutex mu;
  std::uint64_t requests = 0;  // guarded by mu
  std::uint64_t messages = 0;  // guarded by mu
  std::uint64_t failed = 0;    // guarded by mu
  std::atomic<bool> done{false};
};

// After its deadline the requester has given up and nobody reads the answer. The
// command is killed a little later than that, so that our error reply never overtakes
// the requester's own timeout (which would turn its "timed out" into a remote error).
constexpr std::chrono::milliseconds kDeadlineGrace{250};

// The command runs until the request's deadline (a message has none: --timeout).
Clock::time_point deadline_of(const Message& m, std::chrono::milliseconds fallback) {
  if (m.deadline_unix_ms() == 0) return Clock::now() + fallback;
  const auto now_ms = static_cast<long long>(unix_now_ms());
  return Clock::now() + kDeadlineGrace +
         std::chrono::milliseconds(static_cast<long long>(m.deadline_unix_ms()) - now_ms);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

CommandLine describe_reply() {
  CommandLine c;
  c.name = "reply";
  c.summary = "answer requests of one type (echo, fixed text, or a shell command)";
  c.synopsis = "zmesh reply <type> [--echo | --text TEXT | --command CMD] [options]";
  c.description =
      "Binds a ROUTER (--bind), registers with the broker when given one (announcing each\n"
      "--service), and answers requests of <type> until SIGINT/SIGTERM or --count. The first\n"
      "line on stdout is\n"
      "  listening on tcp://127.0.0.1:PORT as NAME (id HEX)\n"
      "(with --format json: {\"event\":\"listening\",\"endpoint\",\"name\",\"id\",\"services\"}),\n"
      "printed once the broker has the registration; then one line per request or message:\n"
      "  TIME FROM request|message TYPE PAYLOAD\n"
      "The reply is the request's payload (--echo, the default), TEXT, or the stdout of CMD run\n"
      "by /bin/sh -c with the payload on stdin. A CMD that exits non-zero fails the request\n"
      "with its stderr as the error text (the requester exits 5); one still running just after\n"
      "the request's deadline is killed. Fire-and-forget messages of <type> are handled the\n"
      "same way (CMD runs at most --timeout), their result dropped.\n";
  c.examples =
      "  zmesh reply Echo --broker tcp://127.0.0.1:7400 --service echo --name echo-1\n"
      "  zmesh reply Upper --command 'tr a-z A-Z' --bind tcp://127.0.0.1:7401\n"
      "  zmesh reply Time --command date --count 1\n";
  c.options.add_options()("echo", "reply with the request's payload (the default)")(
      "text", po::value<std::string>()->value_name("TEXT"), "reply with TEXT")(
      "command", po::value<std::string>()->value_name("CMD"),
      "reply with the stdout of /bin/sh -c CMD, fed the payload on stdin")(
      "bind", po::value<std::string>()->value_name("EP")->default_value("tcp://127.0.0.1:*"),
      "ROUTER endpoint to listen on")(
      "advertise", po::value<std::string>()->value_name("EP"),
      "endpoint announced to others instead of --bind (e.g. with tcp://0.0.0.0:PORT)")(
      "service", po::value<std::vector<std::string>>()->value_name("SERVICE")->composing(),
      "service to announce (repeatable)")(
      "count,n", po::value<std::string>()->value_name("N")->default_value("0"),
      "exit after handling N requests or messages (0 = until a signal)")(
      "workers", po::value<std::string>()->value_name("N")->default_value("4"),
      "handler threads: requests from different peers run in parallel");
  c.arg_names = {"<type>"};
  c.min_args = 1;
  c.max_args = 1;
  return c;
}

int run_reply(const Parsed& p) {
  const std::string type = p.args[0];
  check_type(type);
  if (!p.common.connect.empty()) throw UsageError("--connect is not used by zmesh reply");
  const int modes =
      static_cast<int>(p.vm.count("echo") + p.vm.count("text") + p.vm.count("command"));
  if (modes > 1) throw UsageError("choose one of --echo, --text and --command");
  const Mode mode = p.vm.count("text")      ? Mode::text
                    : p.vm.count("command") ? Mode::command
                                            : Mode::echo;
  const std::string text = opt<std::string>(p.vm, "text").value_or("");
  const std::string command = opt<std::string>(p.vm, "command").value_or("");
  const std::uint64_t count = parse_count(p.vm, "count");
  const auto workers = static_cast<std::size_t>(parse_count(p.vm, "workers", 1, 256));

  PeerOptions o;
  o.bind = p.vm["bind"].as<std::string>();
  if (o.bind.empty()) throw UsageError("--bind must not be empty");
  check_endpoint_arg(o.bind, "--bind", EndpointUse::bind, /*resolve=*/false);
  o.pub_bind.clear();
  o.advertise = opt<std::string>(p.vm, "advertise").value_or(std::string());
  // Others connect to it, perhaps from where its name resolves and ours does not.
  if (!o.advertise.empty()) {
    check_endpoint_arg(o.advertise, "--advertise", EndpointUse::connect, /*resolve=*/false);
  }
  o.services = opt<std::vector<std::string>>(p.vm, "service").value_or(std::vector<std::string>{});
  o.workers = workers;
  const std::size_t max_output = o.limits.max_payload_bytes;

  Output out(p.common.format, p.common.quiet);
  Served served;
  std::atomic<bool> cancel{false};  // kills running commands at shutdown
  Session s(p.common, "reply", o);
  auto handler = [&](const Message& m) -> std::string {
    std::string reply;
    std::string error;
    try {
      switch (mode) {
        case Mode::echo: reply = std::string(m.text()); break;
        case Mode::text: reply = text; break;
        case Mode::command: {
          const ShellResult r =
              run_shell(command, m.text(), deadline_of(m, p.common.timeout), cancel, max_output);
          if (r.exit_status != 0) {
            error = trimmed(r.err);
            if (error.empty())
              error = "command exited with status " + std::to_string(r.exit_status);
          }
          reply = r.out;
          break;
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    const std::string from = id_to_hex(m.sender());
    const char* kind = m.is_request() ? "request" : "message";
    if (out.json()) {
      nlohmann::json j{
          {"event", kind}, {"time", iso_time_now()}, {"from", from}, {"type", m.type()}};
      add_payload(j, m.text());
      j["ok"] = error.empty();
      if (!error.empty()) j["error"] = error;
      out.object(j);
    } else {
      out.line(iso_time_now() + " " + from + " " + kind + " " + std::string(m.type()) + " " +
               payload_line(m.text()));
      if (!error.empty())
        out.info("zmesh: " + std::string(kind) + " from " + from + " failed: " + error);
    }
    {
      std::lock_guard lock(served.mu);
      ++(m.is_request() ? served.requests : served.messages);
      if (!error.empty()) ++served.failed;
      if (count != 0 && served.requests + served.messages >= count) served.done.store(true);
    }
    if (!error.empty()) throw std::runtime_error(error);
    return reply;
  };
  Registration reg;
  try {
    reg = s.peer().on(type, handler);
  } catch (const Error& e) {
    throw UsageError(reason_of(e));
  }
  if (!p.common.broker.empty() && !s.join_broker(p.common.timeout)) {
    out.info("zmesh: warning: broker at " + p.common.broker + " did not answer within " +
             std::to_string(p.common.timeout.count()) + " ms; still trying");
  }
  const std::string id = id_to_hex(s.peer().id());
  if (out.json()) {
    out.object({{"event", "listening"},
                {"endpoint", s.peer().endpoint()},
                {"name", s.peer().name()},
                {"id", id},
                {"services", o.services}});
  } else {
    out.line("listening on " + s.peer().endpoint() + " as " + s.peer().name() + " (id " + id + ")");
  }
  auto next_progress = Clock::now();
  while (!served.done.load() && !signalled(std::chrono::milliseconds(50))) {
    if (Clock::now() >= next_progress) {
      std::lock_guard lock(served.mu);
      out.progress("served " + std::to_string(served.requests + served.messages));
      next_progress += std::chrono::seconds(1);
    }
  }
  // On a signal, commands still running are killed (their requesters get an error);
  // after --count, work in flight finishes within its deadline and its replies leave.
  if (!served.done.load()) cancel.store(true);
  s.peer().stop();
  reg.reset();
  out.done_progress();
  std::lock_guard lock(served.mu);
  out.info("served " + std::to_string(served.requests) + " requests and " +
           std::to_string(served.messages) + " messages (" + std::to_string(served.failed) +
           " failed)");
  return kExitOk;
}

}  // namespace zmesh::cli
