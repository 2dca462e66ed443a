// The zmesh command line tool as a user runs it: real zmesh and zmesh-broker processes
// over tcp loopback; output, JSON, payload sources and every exit code checked.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "process.hpp"

namespace zmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kZmesh = ZMESH_CLI_BIN;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Errors are exactly one line on stderr, starting with "zmesh: ".
void expect_one_error_line(const RunResult& r, const std::string& contains) {
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("zmesh: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
}

RunResult zmesh(const std::vector<std::string>& args, const std::string& input = {}) {
  return run(kZmesh, args, input, 15s);
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// A refusal before any work: `code`, the first stderr line exactly `line`, nothing on
// stdout, and fast (no connection attempt, no --timeout waited out).
void expect_refused(const std::vector<std::string>& args, int code, const std::string& line,
                    const std::string& input = {}, const std::vector<std::string>& env = {}) {
  std::string cmd;
  for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run(kZmesh, args, input, 15s, env);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, code) << cmd << ": " << r.err;
  EXPECT_EQ(first_line(r.err), line) << cmd;
  EXPECT_TRUE(r.out.empty()) << cmd << ": " << r.out;
  EXPECT_LT(took, 3s) << cmd;
}

// zmesh-broker on a fresh loopback port, with a short TTL so that leavers go quickly.
class Broker {
 public:
  Broker()
      : endpoint_(free_tcp_endpoint()),
        process_(ZMESH_BROKER_BIN, {"--bind", endpoint_, "--ttl-ms", "1500", "--renew-ms", "300",
                                    "--log-level", "warn"}) {}
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_;
  Process process_;
};

// A running `zmesh reply`, its first line ("listening on EP as NAME (id HEX)") read.
struct Replier {
  std::unique_ptr<Process> process;
  std::string endpoint;
  std::string name;
  std::string id;
};

Replier start_reply(const std::vector<std::string>& args) {
  Replier r;
  r.process = std::make_unique<Process>(kZmesh, args);
  const std::string line = r.process->read_line(10s);
  std::istringstream in(line);
  std::string listening, on, as, id_word;
  in >> listening >> on >> r.endpoint >> as >> r.name >> id_word >> r.id;
  EXPECT_EQ(listening + " " + on, "listening on") << line << r.process->err();
  if (!r.id.empty()) r.id.pop_back();  // ")"
  return r;
}

// Stops a long-running zmesh with SIGTERM; it must exit 0 on its own.
void stop(Process& p) {
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s), 0) << p.err();
}

TEST(ZmeshCli, RequestByNameServiceAndIdInTextAndJson) {
  Broker broker;
  auto echo = start_reply({"reply", "Echo", "--echo", "--broker", broker.endpoint(), "--service",
                           "echo", "--name", "echo-1"});
  ASSERT_EQ(echo.name, "echo-1");
  ASSERT_EQ(echo.id.size(), 16u);

  auto r = zmesh({"request", "echo-1", "Echo", "hello", "--broker", broker.endpoint()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");

  r = zmesh(
      {"request", "echo-1", "Echo", "hello", "--broker", broker.endpoint(), "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(lines_of(r.out).size(), 1u) << r.out;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["payload"], "hello");
  EXPECT_EQ(j["encoding"], "text");
  EXPECT_EQ(j["from"], echo.id);
  EXPECT_EQ(j["name"], "echo-1");
  EXPECT_EQ(j["type"], "Echo");
  EXPECT_EQ(j["bytes"], 5);
  EXPECT_GE(j["rtt_ms"].get<double>(), 0.0);

  r = zmesh(
      {"request", "--service", "echo", "Echo", "to the service", "--broker", broker.endpoint()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "to the service\n");

  // The broker from the environment, the peer by its id.
  auto by_id = run(kZmesh, {"request", echo.id, "Echo", "by id"}, {}, 15s,
                   {"ZMESH_BROKER=" + broker.endpoint()});
  EXPECT_EQ(by_id.code, 0) << by_id.err;
  EXPECT_EQ(by_id.out, "by id\n");
  stop(*echo.process);
  EXPECT_NE(echo.process->out().find(" request Echo hello"), std::string::npos);
}

TEST(ZmeshCli, SubscribeReceivesWhatPublishSendsAfterTheSubscription) {
  Process pub(kZmesh, {"publish", "p", "T", "hi", "--count", "3", "--interval", "50ms",
                       "--wait-subscribers", "1", "--timeout", "10s"});
  const std::string first = pub.read_line(10s);
  ASSERT_EQ(first.rfind("publishing on tcp://127.0.0.1:", 0), 0u) << first << pub.err();
  const std::string pub_endpoint = first.substr(14, first.find(" as ") - 14);
  const std::string pub_id = first.substr(first.size() - 17, 16);

  auto sub = zmesh({"subscribe", "p", "--count", "3", "--connect", pub_endpoint});
  EXPECT_EQ(sub.code, 0) << sub.err;
  const auto got = lines_of(sub.out);
  ASSERT_EQ(got.size(), 3u) << sub.out;
  for (std::size_t i = 0; i < got.size(); ++i) {
    // TIME TOPIC PUBLISHER SEQUENCE TYPE PAYLOAD
    EXPECT_NE(got[i].find(" p " + pub_id + " " + std::to_string(i + 1) + " T hi"),
              std::string::npos)
        << got[i];
  }
  EXPECT_NE(sub.err.find("subscribed to 'p'"), std::string::npos) << sub.err;
  EXPECT_NE(sub.err.find("received 3 broadcasts from 1 publisher, missed 0"), std::string::npos)
      << sub.err;
  EXPECT_EQ(pub.wait(10s), 0) << pub.err();
  EXPECT_NE(pub.err().find("published 3 messages on 'p'"), std::string::npos) << pub.err();
}

TEST(ZmeshCli, PublishWithPolicyBlockLosesNothingForASlowerSubscriber) {
  // 100,000 broadcasts of 100 B as fast as the publisher can: the subscriber prints each
  // one, which is slower (with --policy drop it misses thousands and waits for ever);
  // with --policy block the publisher waits for it.
  constexpr int kCount = 100000;
  const std::string payload(100, 'x');
  Process pub(kZmesh, {"publish", "p", "T", payload, "--count", std::to_string(kCount), "--policy",
                       "block", "--wait-subscribers", "1", "--timeout", "20s"});
  const std::string first = pub.read_line(10s);
  ASSERT_EQ(first.rfind("publishing on tcp://127.0.0.1:", 0), 0u) << first << pub.err();
  const std::string pub_endpoint = first.substr(14, first.find(" as ") - 14);
  auto sub = run(kZmesh,
                 {"subscribe", "p", "--count", std::to_string(kCount), "--connect", pub_endpoint,
                  "--timeout", "30s"},
                 {}, 40s);
  EXPECT_EQ(sub.code, 0) << sub.err;
  EXPECT_EQ(lines_of(sub.out).size(), static_cast<std::size_t>(kCount));
  EXPECT_NE(
      sub.err.find("received " + std::to_string(kCount) + " broadcasts from 1 publisher, missed 0"),
      std::string::npos)
      << sub.err;
  EXPECT_EQ(pub.wait(20s), 0) << pub.err();
  EXPECT_NE(pub.err().find("published " + std::to_string(kCount) + " messages on 'p'"),
            std::string::npos)
      << pub.err();
}

TEST(ZmeshCli, SubscribeFollowsPublishersThroughTheBrokerInJson) {
  Broker broker;
  Process sub(kZmesh, {"subscribe", "weather/", "--broker", broker.endpoint(), "--count", "2",
                       "--format", "json"});
  ASSERT_NE(sub.read_err_line(10s).find("subscribed to 'weather/'"), std::string::npos)
      << sub.err();
  // The publisher outlives the subscriber (a third broadcast, 300 ms later): a publisher
  // that leaves while its broadcasts still wait in a subscriber's SUB can crash that
  // subscriber inside libzmq (see the report on Engine::sub_ref and libzmq #2163).
  Process pub(kZmesh, {"publish", "weather/paris", "Forecast", "-", "--broker", broker.endpoint(),
                       "--count", "3", "--interval", "300ms", "--wait-subscribers", "1", "--format",
                       "json"});
  pub.write_stdin("sunny\n");
  pub.close_stdin();
  const json announced = json::parse(pub.read_line(10s));
  EXPECT_EQ(announced["event"], "publishing");
  ASSERT_EQ(sub.wait(10s), 0) << sub.err();
  EXPECT_EQ(pub.wait(10s), 0) << pub.err();
  const auto got = lines_of(sub.out());
  ASSERT_EQ(got.size(), 2u) << sub.out();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const json j = json::parse(got[i]);
    EXPECT_EQ(j["topic"], "weather/paris");
    EXPECT_EQ(j["type"], "Forecast");
    EXPECT_EQ(j["publisher"], announced["id"]);
    EXPECT_EQ(j["sequence"], i + 1);
    EXPECT_EQ(j["payload"], "sunny\n");
    EXPECT_EQ(j["encoding"], "text");
  }
}

TEST(ZmeshCli, PayloadComesFromStdinOrAFile) {
  auto echo = start_reply({"reply", "Echo"});
  auto r = zmesh({"request", echo.endpoint, "Echo", "-"}, "from stdin\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "from stdin\n");

  const std::string path = ::testing::TempDir() + "zmesh_cli_payload.bin";
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(
        "\x00\x01\xff"
        "abc",
        6);
  }
  r = zmesh({"request", echo.endpoint, "Echo", "@" + path, "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["encoding"], "base64");
  EXPECT_EQ(j["payload"], "AAH/YWJj");
  EXPECT_EQ(j["bytes"], 6);
  // Binary replies go to stdout untouched in text mode.
  r = zmesh({"request", echo.endpoint, "Echo", "@" + path});
  EXPECT_EQ(r.out, std::string("\x00\x01\xff"
                               "abc",
                               6));
  std::remove(path.c_str());

  r = zmesh({"request", echo.endpoint, "Echo", "@/nonexistent/payload"});
  EXPECT_EQ(r.code, 1);
  expect_one_error_line(r, "cannot read payload file '/nonexistent/payload'");
  stop(*echo.process);
}

TEST(ZmeshCli, ReplyCommandTransformsThePayloadAndSendReachesIt) {
  auto upper = start_reply({"reply", "Upper", "--command", "tr a-z A-Z", "--count", "2"});
  auto r = zmesh({"request", upper.endpoint, "Upper", "hello world"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "HELLO WORLD\n");
  // A fire-and-forget message is handled too, and makes the --count of 2.
  r = zmesh({"send", upper.endpoint, "Upper", "fire"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(upper.process->wait(10s), 0) << upper.process->err();
  EXPECT_NE(upper.process->out().find(" message Upper fire"), std::string::npos)
      << upper.process->out();
  EXPECT_NE(upper.process->err().find("served 1 requests and 1 messages (0 failed)"),
            std::string::npos)
      << upper.process->err();
}

TEST(ZmeshCli, UsageErrorsExitTwo) {
  auto r = zmesh({"request", "--bogus", "tcp://127.0.0.1:1", "Echo"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("zmesh: unrecognised option '--bogus'\nusage: zmesh request", 0), 0u)
      << r.err;
  r = zmesh({"request", "tcp://127.0.0.1:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing <type>"), std::string::npos) << r.err;
  r = zmesh({"publish", "topic-only"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing <type>"), std::string::npos) << r.err;
  r = zmesh({"request", "tcp://127.0.0.1:1", "Echo", "--timeout", "soon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad duration 'soon'"), std::string::npos) << r.err;
  r = zmesh({"request", "pricing", "Echo"});  // a name without a broker
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("needs --broker"), std::string::npos) << r.err;
  EXPECT_EQ(zmesh({"frobnicate"}).code, 2);
  EXPECT_EQ(zmesh({}).code, 2);
}

TEST(ZmeshCli, TimeoutExitsThree) {
  auto slow = start_reply({"reply", "Slow", "--command", "sleep 2"});
  auto r = zmesh({"request", slow.endpoint, "Slow", "x", "--timeout", "200ms"});
  EXPECT_EQ(r.code, 3) << r.err;
  expect_one_error_line(r, "request to '" + slow.endpoint + "' timed out after 200 ms");
  // The responder kills the command once the request's deadline is past (or skips the
  // request if it arrived too late to start); either way it stops promptly.
  stop(*slow.process);
  EXPECT_NE(slow.process->err().find("served "), std::string::npos) << slow.process->err();
}

TEST(ZmeshCli, UnreachableOrUnknownExitsFour) {
  const std::string nobody = free_tcp_endpoint();
  auto r = zmesh({"request", nobody, "Echo", "x", "--timeout", "300ms"});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r, "connecting to '" + nobody + "' failed");

  Broker broker;
  r = zmesh({"request", "nobody", "Echo", "x", "--broker", broker.endpoint()});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r, "no peer named 'nobody' is registered");
  r = zmesh({"request", "--service", "nothing", "Echo", "x", "--broker", broker.endpoint()});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r, "service 'nothing'");
  r = zmesh({"peers", "--broker", nobody, "--timeout", "300ms"});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r, "did not answer");
}

TEST(ZmeshCli, RemoteErrorsExitFive) {
  auto echo = start_reply({"reply", "Echo"});
  auto r = zmesh({"request", echo.endpoint, "Unhandled", "x"});
  EXPECT_EQ(r.code, 5) << r.err;
  expect_one_error_line(r, "no handler for 'Unhandled'");

  auto failing = start_reply({"reply", "Fail", "--command", "echo 'out of stock' >&2; exit 3"});
  r = zmesh({"request", failing.endpoint, "Fail", "x"});
  EXPECT_EQ(r.code, 5) << r.err;
  expect_one_error_line(r, "out of stock");
  stop(*echo.process);
  stop(*failing.process);
}

TEST(ZmeshCli, PeersListsTheRegisteredRepliesAndPingMeasures) {
  Broker broker;
  auto a = start_reply(
      {"reply", "A", "--broker", broker.endpoint(), "--name", "alpha", "--service", "quotes"});
  auto b = start_reply({"reply", "B", "--broker", broker.endpoint(), "--name", "beta"});

  auto r = zmesh({"peers", "--broker", broker.endpoint()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;  // header, alpha, beta (sorted by name)
  EXPECT_EQ(rows[0].rfind("NAME", 0), 0u);
  EXPECT_EQ(rows[1].rfind("alpha", 0), 0u) << rows[1];
  EXPECT_NE(rows[1].find(a.id), std::string::npos);
  EXPECT_NE(rows[1].find("quotes"), std::string::npos);
  EXPECT_NE(rows[1].find(a.endpoint), std::string::npos);
  EXPECT_EQ(rows[2].rfind("beta", 0), 0u) << rows[2];

  r = zmesh({"peers", "--broker", broker.endpoint(), "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, json> by_name;
  for (const auto& line : lines_of(r.out)) {
    const json j = json::parse(line);
    by_name[j["name"].get<std::string>()] = j;
  }
  ASSERT_EQ(by_name.size(), 2u) << r.out;
  EXPECT_EQ(by_name["alpha"]["id"], a.id);
  EXPECT_EQ(by_name["alpha"]["services"], json::array({"quotes"}));
  EXPECT_EQ(by_name["alpha"]["endpoints"], json::array({a.endpoint}));
  EXPECT_EQ(by_name["beta"]["id"], b.id);
  EXPECT_TRUE(by_name["beta"]["age_ms"].is_number());

  r = zmesh({"ping", "beta", "--broker", broker.endpoint(), "--count", "2", "--interval", "50ms"});
  EXPECT_EQ(r.code, 0) << r.err;
  const auto samples = lines_of(r.out);
  ASSERT_EQ(samples.size(), 2u) << r.out;
  EXPECT_EQ(samples[1].rfind("rtt to beta (" + b.id + "): seq=2 time=", 0), 0u) << samples[1];
  EXPECT_NE(r.err.find("2 samples, rtt min/avg/max"), std::string::npos) << r.err;
  stop(*a.process);
  stop(*b.process);
}

// Commands that only look up do not register: `zmesh peers` lists neither itself nor a
// running `zmesh subscribe`; a broker list with a dead endpoint first still works.
TEST(ZmeshCli, ToolsThatOnlyLookUpAreNotMembersAndABrokerListMayHoldADeadOne) {
  Broker broker;
  auto a = start_reply({"reply", "A", "--echo", "--broker", broker.endpoint(), "--name", "alpha"});
  Process watcher(kZmesh, {"subscribe", "news/", "--broker", broker.endpoint()});
  EXPECT_NE(watcher.read_err_line(10s).find("subscribed to"), std::string::npos) << watcher.err();

  const std::string dead = free_tcp_endpoint();
  const std::string list = dead + "," + broker.endpoint();
  auto r = zmesh({"peers", "--broker", list, "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 1u) << r.out;  // alpha only
  EXPECT_EQ(json::parse(rows[0])["name"], "alpha");

  r = zmesh({"request", "alpha", "A", "hi", "--broker", list});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  r = run(kZmesh, {"request", "alpha", "A", "hi"}, {}, 15s, {"ZMESH_BROKER=" + list});
  EXPECT_EQ(r.code, 0) << r.err;
  stop(watcher);
  stop(*a.process);
}

TEST(ZmeshCli, KeygenWritesAPublicAndAProtectedSecretCertificate) {
  const std::string dir = ::testing::TempDir() + "zmesh-keygen-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  auto r = zmesh({"keygen", "alice", "--dir", dir, "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["public_file"], dir + "/alice.key");
  const std::string key = j["public_key"];
  EXPECT_EQ(key.size(), 40u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/alice.key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream pub(dir + "/alice.key");
  const std::string text((std::istreambuf_iterator<char>(pub)), {});
  EXPECT_NE(text.find("public-key = \"" + key + "\""), std::string::npos) << text;
  EXPECT_EQ(text.find("secret-key"), std::string::npos) << "the public file holds the secret";
  // Never overwritten: one line saying why, exit 1.
  r = zmesh({"keygen", "alice", "--dir", dir});
  EXPECT_EQ(r.code, 1);
  expect_one_error_line(r, "exists already");
  expect_refused({"keygen", "a/b"}, 2,
                 "zmesh: <name> must be 1..128 bytes without '/' (got 'a/b')");
  for (const char* f : {"/alice.key", "/alice.key_secret"}) ::unlink((dir + f).c_str());
  ::rmdir(dir.c_str());
}

TEST(ZmeshCli, OversizedPayloadFailsAtOnce) {
  // A KiB over the default payload limit (Limits::max_payload_bytes,
  // 16 MiB): refused locally, before anything is sent, not after --timeout.
  auto echo = start_reply({"reply", "Echo"});
  const std::string path = ::testing::TempDir() + "zmesh_cli_oversized.bin";
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(16 * 1024 * 1024 + 1024, 'z');
  }
  for (const char* cmd : {"send", "request"}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = zmesh({cmd, echo.endpoint, "Echo", "@" + path, "--timeout", "6s"});
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.code, 6) << cmd << ": " << r.err;  // kExitTooLarge
    EXPECT_LT(took, 3s) << cmd << " took "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms";
    expect_one_error_line(r, "16777216");  // names the limit
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  std::remove(path.c_str());
  stop(*echo.process);
}

TEST(ZmeshCli, NegativeOrMalformedNumbersAreUsageErrors) {
  // Boost once read "-1" into a uint64_t as 2^64-1: reply --count -1 served forever.
  const std::string pub = "tcp://127.0.0.1:1";
  struct Case {
    std::vector<std::string> args;
    std::string line;
  };
  const std::vector<Case> cases = {
      {{"reply", "Echo", "--count", "-1"}, "zmesh: --count must not be negative (got '-1')"},
      {{"reply", "Echo", "--count", "10x"}, "zmesh: --count must be a whole number (got '10x')"},
      {{"reply", "Echo", "--count", "99999999999999999999"},
       "zmesh: --count must be at most 18446744073709551615 (got '99999999999999999999')"},
      {{"reply", "Echo", "--count", "nan"}, "zmesh: --count must be a whole number (got 'nan')"},
      {{"reply", "Echo", "--workers", "-1"}, "zmesh: --workers must not be negative (got '-1')"},
      {{"reply", "Echo", "--workers", "257"}, "zmesh: --workers must be 1..256 (got '257')"},
      {{"publish", "t", "T", "--count", "-1"}, "zmesh: --count must not be negative (got '-1')"},
      {{"publish", "t", "T", "--policy", "fast"},
       "zmesh: --policy must be drop, block or latest (got 'fast')"},
      {{"publish", "t", "T", "--wait-subscribers", "-1"},
       "zmesh: --wait-subscribers must not be negative (got '-1')"},
      {{"subscribe", "p", "--connect", pub, "--count", "-1"},
       "zmesh: --count must not be negative (got '-1')"},
      {{"ping", pub, "--count", "-1"}, "zmesh: --count must not be negative (got '-1')"},
      {{"ping", pub, "--count", "1.5"}, "zmesh: --count must be a whole number (got '1.5')"},
  };
  for (const auto& c : cases) expect_refused(c.args, 2, c.line);
}

TEST(ZmeshCli, NanAndInfiniteDurationsAreNamedAsSuch) {
  const std::string peer = "tcp://127.0.0.1:1";
  const std::string examples = " (examples: 500ms, 5s, 1.5s, 2m)";
  expect_refused({"request", peer, "Echo", "--timeout", "nan"}, 2,
                 "zmesh: bad duration 'nan' for --timeout: not a number" + examples);
  expect_refused({"request", peer, "Echo", "--timeout", "inf"}, 2,
                 "zmesh: bad duration 'inf' for --timeout: must be finite" + examples);
  expect_refused({"request", peer, "Echo", "--timeout", "-1s"}, 2,
                 "zmesh: bad duration '-1s' for --timeout: must not be negative" + examples);
  expect_refused({"request", peer, "Echo", "--timeout", "1e400"}, 2,
                 "zmesh: bad duration '1e400' for --timeout: out of range" + examples);
  expect_refused({"publish", "t", "T", "--interval", "nan"}, 2,
                 "zmesh: bad duration 'nan' for --interval: not a number" + examples);
  expect_refused({"ping", peer, "--interval", "infms"}, 2,
                 "zmesh: bad duration 'infms' for --interval: must be finite" + examples);
}

TEST(ZmeshCli, BadEndpointsAreUsageErrorsNamingWhereTheyCameFrom) {
  // Before: "no greeting from ... within 2000 ms" for the first two, exit 1 for --broker.
  expect_refused({"request", "tcp://nohost.invalid:5555", "Echo", "x"}, 2,
                 "zmesh: <peer> 'tcp://nohost.invalid:5555': cannot resolve host 'nohost.invalid'");
  expect_refused({"request", "tcp://127.0.0.1:99999", "Echo", "x"}, 2,
                 "zmesh: <peer> 'tcp://127.0.0.1:99999': bad port '99999' (1..65535)");
  expect_refused({"send", "tcp://*:5555", "Echo", "x"}, 2,
                 "zmesh: <peer> 'tcp://*:5555': host '*' is only valid for bind, not connect");
  expect_refused({"ping", "tcp://127.0.0.1", "--count", "1"}, 2,
                 "zmesh: <peer> 'tcp://127.0.0.1': missing port (tcp://host:port)");
  expect_refused({"request", "pricing", "Echo", "x", "--broker", "bogus"}, 2,
                 "zmesh: --broker 'bogus': not an endpoint (tcp://host:port, ipc://path or "
                 "inproc://name)");
  expect_refused({"peers"}, 2,
                 "zmesh: $ZMESH_BROKER 'tcp://127.0.0.1:99999': bad port '99999' (1..65535)", {},
                 {"ZMESH_BROKER=tcp://127.0.0.1:99999"});
  expect_refused({"peers", "--broker", "tcp://nohost.invalid:7400"}, 2,
                 "zmesh: --broker 'tcp://nohost.invalid:7400': cannot resolve host "
                 "'nohost.invalid'");
  expect_refused({"subscribe", "p", "--connect", "udp://127.0.0.1:5"}, 2,
                 "zmesh: --connect 'udp://127.0.0.1:5': unsupported transport 'udp' "
                 "(tcp://host:port, ipc://path or inproc://name)");
  expect_refused({"reply", "Echo", "--bind", "tcp://127.0.0.1:70000"}, 2,
                 "zmesh: --bind 'tcp://127.0.0.1:70000': bad port '70000' (1..65535)");
  expect_refused({"publish", "t", "T", "--pub-advertise", "tcp://*:7402"}, 2,
                 "zmesh: --pub-advertise 'tcp://*:7402': host '*' is only valid for bind, not "
                 "connect");
}

TEST(ZmeshCli, ARegisteredEndpointThatDoesNotResolveIsUnreachableNotUsage) {
  // Not the user's input: the peer announced it. Exit 4, naming the peer and the reason.
  Broker broker;
  auto odd = start_reply({"reply", "Echo", "--broker", broker.endpoint(), "--name", "odd",
                          "--advertise", "tcp://nohost.invalid:5555"});
  ASSERT_EQ(odd.id.size(), 16u);
  const auto r = zmesh({"request", odd.id, "Echo", "x", "--broker", broker.endpoint()});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r, "zmesh: connecting to '" + odd.id +
                               "' ('odd') at its registered endpoint failed: cannot connect to "
                               "'tcp://nohost.invalid:5555': cannot resolve host 'nohost.invalid'");
  stop(*odd.process);
}

TEST(ZmeshCli, PayloadsThatCannotBeSentFailBeforeAnyConnection) {
  // Nobody listens at the peer: each case must fail on the payload, at once.
  const std::string peer = "tcp://127.0.0.1:1";
  expect_refused({"request", peer, "Echo", "@/etc"}, 1,
                 "zmesh: cannot read payload file '/etc': is a directory");
  const std::string too_large =
      " is too large: more than 16777216 bytes, the most one message carries";
  // Endless: read only up to the limit.
  expect_refused({"request", peer, "Echo", "@/dev/zero"}, 6,
                 "zmesh: payload file '/dev/zero'" + too_large);
  expect_refused({"publish", "t", "T", "@/dev/zero"}, 6,
                 "zmesh: payload file '/dev/zero'" + too_large);
  expect_refused({"send", peer, "Echo", "-"}, 6, "zmesh: the payload from stdin" + too_large,
                 std::string(17u << 20, 's'));
  // Exactly the limit is not too large: it goes on to connect (and finds nobody).
  const auto r =
      zmesh({"send", peer, "Echo", "-", "--timeout", "300ms"}, std::string(16u << 20, 's'));
  EXPECT_EQ(r.code, 4) << r.err;
}

TEST(ZmeshCli, HelpReadsForTheToolAndEveryCommand) {
  auto r = zmesh({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Exit codes:"), std::string::npos);
  EXPECT_NE(r.out.find("  6    payload too large"), std::string::npos) << r.out;
  for (const char* cmd : {"send", "request", "reply", "publish", "subscribe", "peers", "ping"}) {
    r = zmesh({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_EQ(r.out.rfind(std::string("Usage:\n  zmesh ") + cmd, 0), 0u) << r.out;
    EXPECT_NE(r.out.find("--timeout"), std::string::npos) << cmd;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
  r = zmesh({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("zmesh ", 0), 0u);
}

TEST(ZmeshCli, KeysSecureRequestsAndAnUntrustedClientExitsSeven) {
  const std::string dir = ::testing::TempDir() + "zmesh-curve-" + std::to_string(::getpid());
  const std::string trust = dir + "/trusted";
  const std::string others = dir + "/others";
  for (const auto& d : {dir, trust, others}) ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  ASSERT_EQ(zmesh({"keygen", "server", "--dir", trust}).code, 0);
  ASSERT_EQ(zmesh({"keygen", "client", "--dir", trust}).code, 0);
  ASSERT_EQ(zmesh({"keygen", "stranger", "--dir", others}).code, 0);

  auto echo = start_reply(
      {"reply", "Echo", "--echo", "--key", trust + "/server.key_secret", "--trust", trust});
  auto r = zmesh({"request", echo.endpoint, "Echo", "secret hello", "--key",
                  trust + "/client.key_secret", "--server-key", trust + "/server.key"});
  EXPECT_EQ(r.code, 0) << r.err << " reply stderr: " << echo.process->err();
  EXPECT_EQ(r.out, "secret hello\n");

  // Not trusted by the server: exit 7, one line naming the reason, well before --timeout.
  r = zmesh({"request", echo.endpoint, "Echo", "x", "--timeout", "20s", "--key",
             others + "/stranger.key_secret", "--server-key", trust + "/server.key"});
  EXPECT_EQ(r.code, 7) << r.err;
  expect_one_error_line(r, "does not trust our key");
  // Plaintext against the CURVE server: exit 7 as well.
  r = zmesh({"request", echo.endpoint, "Echo", "x", "--timeout", "20s"});
  EXPECT_EQ(r.code, 7) << r.err;
  // The client's secret key given inline, as a container would ($ZMESH_SECRET_KEY).
  std::ifstream secret_file(trust + "/client.key_secret");
  const std::string text((std::istreambuf_iterator<char>(secret_file)), {});
  const auto at = text.find("secret-key = \"");
  ASSERT_NE(at, std::string::npos);
  const std::string secret = text.substr(at + 14, 40);
  const auto inline_key = run(
      kZmesh, {"request", echo.endpoint, "Echo", "inline", "--server-key", trust + "/server.key"},
      "", 15s, {"ZMESH_SECRET_KEY=" + secret});
  EXPECT_EQ(inline_key.code, 0) << inline_key.err;
  EXPECT_EQ(inline_key.out, "inline\n");
  expect_refused({"request", echo.endpoint, "Echo", "x", "--trust", trust}, 2,
                 "zmesh: --trust, --broker-key and --server-key need --key (our CURVE key pair)");
  stop(*echo.process);
  std::filesystem::remove_all(dir);
}

TEST(ZmeshCli, PublishRetainServesTheLastValueToSubscribeLast) {
  Process pub(kZmesh, {"publish", "weather/oslo", "Forecast", "snow", "--count", "3", "--retain"});
  const std::string first = pub.read_line(10s);
  ASSERT_EQ(first.rfind("publishing on tcp://127.0.0.1:", 0), 0u) << first << pub.err();
  const std::string pub_endpoint = first.substr(14, first.find(" as ") - 14);
  const std::string pub_id = first.substr(first.size() - 17, 16);
  // All three published before anyone subscribed; it stays to serve the last one.
  std::string said;
  for (int i = 0; i < 5 && said.find("retaining") == std::string::npos; ++i) {
    said = pub.read_err_line(10s);
  }
  ASSERT_NE(said.find("published 3; retaining the last one"), std::string::npos) << pub.err();

  auto sub = zmesh({"subscribe", "weather/", "--last", "--count", "1", "--connect", pub_endpoint});
  EXPECT_EQ(sub.code, 0) << sub.err;
  auto got = lines_of(sub.out);
  ASSERT_EQ(got.size(), 1u) << sub.out;
  // TIME TOPIC PUBLISHER SEQUENCE TYPE PAYLOAD, the sequence marked retained.
  EXPECT_NE(got[0].find(" weather/oslo " + pub_id + " 3(retained) Forecast snow"),
            std::string::npos)
      << got[0];
  EXPECT_NE(sub.err.find("missed 0"), std::string::npos) << sub.err;

  auto js = zmesh({"subscribe", "weather/", "--last", "--count", "1", "--connect", pub_endpoint,
                   "--format", "json"});
  EXPECT_EQ(js.code, 0) << js.err;
  got = lines_of(js.out);
  ASSERT_EQ(got.size(), 1u) << js.out;
  const json j = json::parse(got[0]);
  EXPECT_EQ(j["topic"], "weather/oslo");
  EXPECT_EQ(j["sequence"], 3);
  EXPECT_EQ(j["retained"], true);
  EXPECT_EQ(j["payload"], "snow");

  // Without --last there is nothing to receive: the subscriber is still waiting when
  // it is stopped, and says it received nothing.
  Process plain(kZmesh, {"subscribe", "weather/", "--count", "1", "--connect", pub_endpoint});
  ASSERT_NE(plain.read_err_line(10s).find("subscribed to 'weather/'"), std::string::npos)
      << plain.err();
  stop(plain);
  EXPECT_TRUE(plain.out().empty()) << plain.out();
  stop(pub);
}

}  // namespace
}  // namespace zmesh::test
