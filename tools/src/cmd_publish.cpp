// zmesh publish: broadcasts on a topic from a PUB this process binds.
#include <optional>

#include "commands.hpp"
#include "payload.hpp"
#include "session.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::cli {

CommandLine describe_publish() {
  CommandLine c;
  c.name = "publish";
  c.summary = "broadcast messages on a topic";
  c.synopsis = "zmesh publish <topic> <type> [payload] [options]";
  c.description =
      "Binds a PUB (--pub-bind) and broadcasts [payload] as <type> on <topic>, --count times,\n"
      "--interval apart. The first line on stdout is\n"
      "  publishing on tcp://127.0.0.1:PORT as NAME (id HEX)\n"
      "(with --format json: {\"event\":\"publishing\",\"endpoint\",\"name\",\"id\"}). With "
      "--broker it\n"
      "registers first, so that subscribers following the broker find it; otherwise give the\n"
      "endpoint to `zmesh subscribe --connect`. Subscribers only receive what is published\n"
      "after their subscription reached us: --wait-subscribers K waits (up to --timeout) until\n"
      "K topic subscriptions have arrived before publishing the first message.\n"
      "--policy says what happens when a subscriber cannot keep up: drop (the default, as\n"
      "ZeroMQ's PUB: it misses messages and counts them as gaps), block (lossless: we wait for\n"
      "it, up to --timeout per message, then fail; one that reads nothing for 5 s is\n"
      "disconnected) or latest (it gets the newest message once it has room; the skipped\n"
      "ones are counted as conflated). With block and latest, stopping waits up to --timeout\n"
      "for the messages still held to leave.\n"
      "--retain keeps the last message for subscribers that ask for last values\n"
      "(`zmesh subscribe --last`) and, after the last message, keeps serving it until\n"
      "SIGINT/SIGTERM.\n"
      "[payload] is the text itself, @FILE for a file's bytes, or - for stdin (absent = empty).\n";
  c.examples =
      "  zmesh publish weather/paris Forecast sunny --broker tcp://127.0.0.1:7400\n"
      "  zmesh publish ticks Tick @tick.bin --count 0 --interval 1s --wait-subscribers 1\n"
      "  zmesh publish weather/oslo Forecast snow --retain\n"
      "  zmesh publish prices/eur Quote @quote.json --count 0 --interval 10ms --policy latest\n";
  c.options.add_options()("count,n", po::value<std::string>()->value_name("N")->default_value("1"),
                          "messages to publish (0 = until a signal)")(
      "interval", po::value<std::string>()->value_name("DURATION")->default_value("0"),
      "pause between messages (500ms, 1s, ...)")(
      "wait-subscribers", po::value<std::string>()->value_name("K")->default_value("0"),
      "first wait until K topic subscriptions reached our PUB")(
      "retain", "keep the last message for late subscribers (--last); serve it until a signal")(
      "policy", po::value<std::string>()->value_name("POLICY")->default_value("drop"),
      "for slow subscribers: drop, block or latest")(
      "pub-bind", po::value<std::string>()->value_name("EP")->default_value("tcp://127.0.0.1:*"),
      "PUB endpoint to bind")("pub-advertise", po::value<std::string>()->value_name("EP"),
                              "PUB endpoint announced to others instead of --pub-bind");
  c.arg_names = {"<topic>", "<type>"};
  c.min_args = 2;
  c.max_args = 3;
  return c;
}

int run_publish(const Parsed& p) {
  const std::string& topic = p.args[0];
  const std::string& type = p.args[1];
  check_type(type);
  if (!p.common.connect.empty()) throw UsageError("--connect is not used by zmesh publish");
  if (topic.size() > 256) throw UsageError("<topic> must be at most 256 bytes");
  const std::uint64_t count = parse_count(p.vm, "count");
  const auto interval = parse_duration(p.vm["interval"].as<std::string>(), "interval");
  const std::uint64_t want = parse_count(p.vm, "wait-subscribers");

  PeerOptions o;
  o.bind.clear();
  o.pub_bind = p.vm["pub-bind"].as<std::string>();
  if (o.pub_bind.empty()) throw UsageError("--pub-bind must not be empty");
  check_endpoint_arg(o.pub_bind, "--pub-bind", EndpointUse::bind, /*resolve=*/false);
  o.pub_advertise = opt<std::string>(p.vm, "pub-advertise").value_or(std::string());
  if (!o.pub_advertise.empty()) {
    check_endpoint_arg(o.pub_advertise, "--pub-advertise", EndpointUse::connect,
                       /*resolve=*/false);
  }
  const std::string payload =
      read_payload(p.args.size() > 2 ? std::optional<std::string>(p.args[2]) : std::nullopt);
  o.workers = 1;
  const std::string policy = p.vm["policy"].as<std::string>();
  const auto delivery = delivery_policy_from(policy);
  if (!delivery) throw UsageError("--policy must be drop, block or latest (got '" + policy + "')");
  o.delivery = *delivery;
  o.send_timeout = p.common.timeout;  // block: how long one publish may wait for room
  const bool retain = p.vm.count("retain") != 0;
  if (retain) o.retain = {RetainRule{topic, 1, std::size_t{64} << 20}};
  Output out(p.common.format, p.common.quiet);
  Session s(p.common, "publish", o);
  if (!p.common.broker.empty() && !s.join_broker(p.common.timeout)) {
    out.info("zmesh: warning: broker at " + p.common.broker + " did not answer within " +
             std::to_string(p.common.timeout.count()) + " ms; still trying");
  }
  const std::string id = id_to_hex(s.peer().id());
  if (out.json()) {
    out.object({{"event", "publishing"},
                {"endpoint", s.peer().pub_endpoint()},
                {"name", s.peer().name()},
                {"id", id}});
  } else {
    out.line("publishing on " + s.peer().pub_endpoint() + " as " + s.peer().name() + " (id " + id +
             ")");
  }

  if (want > 0) {
    const auto deadline = Clock::now() + p.common.timeout;
    std::uint64_t seen = 0;
    while ((seen = s.peer().stats().subscriptions_seen) < want) {
      if (signalled(std::chrono::milliseconds(10))) {
        throw Failure(kExitInterrupted, "waiting for subscribers interrupted");
      }
      if (Clock::now() >= deadline) {
        throw Failure(kExitTimeout, "waiting for subscribers timed out after " +
                                        std::to_string(p.common.timeout.count()) + " ms (" +
                                        std::to_string(seen) + " of " + std::to_string(want) +
                                        " subscriptions arrived)");
      }
    }
  }

  std::uint64_t sent = 0;
  auto next_progress = Clock::now() + std::chrono::seconds(1);
  try {
    while (count == 0 || sent < count) {
      s.peer().publish(topic, type, payload);
      ++sent;
      if (Clock::now() >= next_progress) {
        out.progress("published " + std::to_string(sent));
        next_progress += std::chrono::seconds(1);
      }
      if (count != 0 && sent == count) break;
      if (signalled(interval)) break;
    }
  } catch (const Error& e) {
    throw failure_from(e, "publishing on '" + topic + "'");
  }
  if (retain && !signalled(std::chrono::milliseconds(0))) {
    out.done_progress();
    out.info("published " + std::to_string(sent) + "; retaining the last one for late " +
             "subscribers (zmesh subscribe --last) until SIGINT/SIGTERM");
    while (!signalled(std::chrono::milliseconds(50))) {
      // The engine answers subscribers' requests for the last value meanwhile.
    }
  }
  // The last broadcasts get a moment to leave; with block or latest, those still held
  // for a slow subscriber get up to --timeout.
  s.peer().stop(o.delivery == DeliveryPolicy::drop ? std::chrono::milliseconds(1000)
                                                   : p.common.timeout);
  out.done_progress();
  std::string summary = "published " + std::to_string(sent) + " message" + (sent == 1 ? "" : "s") +
                        " on '" + topic + "'";
  const auto after = s.peer().stats();
  if (o.delivery == DeliveryPolicy::latest) {
    summary += ", " + std::to_string(after.broadcasts_conflated) + " conflated";
  }
  const std::uint64_t accounted =
      after.published + after.broadcasts_conflated + after.broadcasts_overflowed;
  if (o.delivery != DeliveryPolicy::drop && accounted < sent) {
    summary +=
        "; " + std::to_string(sent - accounted) + " still held for a slow subscriber were not sent";
  }
  out.info(summary);
  return kExitOk;
}

}  // namespace zmesh::cli
