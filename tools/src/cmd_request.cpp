// zmesh send / zmesh request: one message or one request to a peer (or a service).
#include <optional>

#include "commands.hpp"
#include "payload.hpp"
#include "session.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::cli {
namespace {

constexpr const char* kPeerHelp =
    "\n<peer> is an endpoint (tcp://host:port), a peer name, or a 16-hex-digit peer id; names\n"
    "and ids are resolved through the broker (--broker or $ZMESH_BROKER).\n"
    "[payload] is the text itself, @FILE for a file's bytes, or - for stdin (absent = empty).\n";

// A client-only peer: no ROUTER, no PUB, and lookup-only at the brokers (not listed).
PeerOptions client_options() {
  PeerOptions o;
  o.register_with_brokers = false;
  o.bind.clear();
  o.pub_bind.clear();
  o.workers = 1;
  return o;
}

std::optional<std::string> arg_at(const Parsed& p, std::size_t i) {
  if (i < p.args.size()) return p.args[i];
  return std::nullopt;
}

std::string name_of(Session& s, PeerId id) {
  try {
    for (const auto& c : s.peer().connections()) {
      if (c.peer == id) return c.name;
    }
  } catch (const Error&) {
    // Only a nicety for the output.
  }
  return {};
}

}  // namespace

CommandLine describe_send() {
  CommandLine c;
  c.name = "send";
  c.summary = "send a fire-and-forget message to a peer";
  c.synopsis = "zmesh send <peer> <type> [payload] [options]";
  c.description =
      std::string(
          "Sends one message of <type> to <peer> and exits once it has left; no reply is\n"
          "expected (the peer's handler for <type> runs, its result is dropped).\n") +
      kPeerHelp;
  c.examples =
      "  zmesh send tcp://127.0.0.1:7401 Log 'disk almost full'\n"
      "  zmesh send --broker tcp://127.0.0.1:7400 pricing Invalidate @ids.json\n";
  c.arg_names = {"<peer>", "<type>"};
  c.min_args = 2;
  c.max_args = 3;
  return c;
}

int run_send(const Parsed& p) {
  const std::string& target = p.args[0];
  const std::string& type = p.args[1];
  check_type(type);
  check_target(target);
  const std::string payload = read_payload(arg_at(p, 2));
  Output out(p.common.format, p.common.quiet);
  Session s(p.common, "send", client_options());
  s.connect_all();
  const PeerId id = s.connect(target);
  try {
    s.peer().send(id, type, payload, s.remaining());
  } catch (const Error& e) {
    throw failure_from(e, "sending to '" + target + "'", p.common.timeout.count());
  }
  out.info("sent " + type + " (" + std::to_string(payload.size()) + " bytes) to '" + target + "'");
  return kExitOk;
}

CommandLine describe_request() {
  CommandLine c;
  c.name = "request";
  c.summary = "send a request and print the reply";
  c.synopsis =
      "zmesh request <peer> <type> [payload] [options]\n"
      "zmesh request --service <service> <type> [payload] [options]";
  c.description =
      std::string(
          "Sends a request of <type> and prints the reply on stdout: its payload as it is (a\n"
          "newline is added to text that lacks one; binary goes out untouched), or with\n"
          "--format json one object: from, name, type, payload, encoding (text|base64), bytes,\n"
          "rtt_ms. With --service the request goes to one of the peers offering that service\n"
          "(from the broker, or among the --connect peers). Resolving, connecting and the\n"
          "answer must all happen within --timeout.\n") +
      kPeerHelp;
  c.examples =
      "  zmesh request tcp://127.0.0.1:7401 Echo hello\n"
      "  zmesh request --broker tcp://127.0.0.1:7400 pricing Quote '{\"sym\":\"ACME\"}' --timeout "
      "500ms\n"
      "  echo hello | zmesh request --service echo Echo - --format json\n";
  c.options.add_options()("service,s", po::value<std::string>()->value_name("SERVICE"),
                          "ask a peer offering SERVICE instead of naming one");
  c.arg_names = {"<peer> (or --service S) and <type>"};
  c.min_args = 1;
  c.max_args = 3;
  return c;
}

int run_request(const Parsed& p) {
  const auto service = opt<std::string>(p.vm, "service");
  const std::size_t at = service ? 0 : 1;  // index of <type>
  if (p.args.size() <= at)
    throw UsageError(service ? "missing <type>" : "missing <type> (after <peer>)");
  if (p.args.size() > at + 2) throw UsageError("unexpected argument '" + p.args[at + 2] + "'");
  const std::string type = p.args[at];
  check_type(type);
  if (!service) check_target(p.args[0]);
  const std::string payload = read_payload(arg_at(p, at + 1));
  if (service && service->empty()) throw UsageError("--service must not be empty");
  if (service && p.common.broker.empty() && p.common.connect.empty()) {
    throw UsageError("--service needs --broker EP (or $ZMESH_BROKER) or --connect EP");
  }
  Output out(p.common.format, p.common.quiet);
  Session s(p.common, "request", client_options());
  s.connect_all();
  std::string what;
  zmesh::Future<Response> f;
  auto t0 = Clock::now();
  try {
    if (service) {
      what = "request to service '" + *service + "'";
      if (!p.common.broker.empty()) s.require_broker("--service");
      t0 = Clock::now();
      f = s.peer().request_service(*service, type, payload, s.remaining());
    } else {
      what = "request to '" + p.args[0] + "'";
      const PeerId id = s.connect(p.args[0]);
      t0 = Clock::now();
      f = s.peer().request(id, type, payload, s.remaining());
    }
  } catch (const Error& e) {
    throw failure_from(e, what, p.common.timeout.count());
  }
  const Response r = s.await(f, what, p.common.timeout);
  const double rtt_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (out.json()) {
    nlohmann::json j{{"from", id_to_hex(r.from)}, {"name", name_of(s, r.from)}, {"type", type}};
    add_payload(j, r.payload);
    j["bytes"] = r.payload.size();
    j["rtt_ms"] = rtt_ms;
    out.object(j);
  } else {
    std::string text = r.payload;
    if (is_text(text) && (text.empty() || text.back() != '\n')) text += '\n';
    out.raw(text);
  }
  return kExitOk;
}

}  // namespace zmesh::cli
