// `zmesh bench` as a user runs it: real zmesh (and zmesh-broker) processes over tcp
// loopback; the CSV's rows and counts, JSON totals, errors counted, usage refusals. No
// figure is asserted beyond what must hold whatever the machine's speed.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
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
constexpr const char* kCsvHeader =
    "role,index,messages,errors,lost,seconds,msgs_per_s,mb_per_s,p50_us,p90_us,p99_us,p999_us,"
    "max_us";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string f; std::getline(in, f, ',');) fields.push_back(f);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// A CSV file in the test's temporary directory, removed afterwards.
class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(::testing::TempDir() + "zmesh-bench-" + std::to_string(getpid()) + "-" + name) {}
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return lines_of(s.str());
  }

 private:
  std::string path_;
};

// The rows of a bench CSV after its header, split into fields (13 each).
std::vector<std::vector<std::string>> csv_rows(const TempFile& f) {
  const auto lines = f.lines();
  EXPECT_FALSE(lines.empty());
  if (lines.empty()) return {};
  EXPECT_EQ(lines[0], kCsvHeader);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    rows.push_back(fields_of(lines[i]));
    EXPECT_EQ(rows.back().size(), 13u) << lines[i];
  }
  return rows;
}

double num(const std::string& field) {
  return std::stod(field);
}

TEST(ZmeshBench, SelfWritesOneCsvRowPerClientWithEveryRequestAnswered) {
  TempFile csv("self.csv");
  const auto r = run(kZmesh,
                     {"bench", "request", "--self", "--clients", "3", "--window", "4", "--count",
                      "3000", "--size", "64", "--csv", csv.path()},
                     {}, 60s);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = csv_rows(csv);
  ASSERT_EQ(rows.size(), 3u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& f = rows[i];
    EXPECT_EQ(f[0], "client");
    EXPECT_EQ(f[1], std::to_string(i));
    EXPECT_EQ(f[2], "1000");  // 3000 split over 3 clients
    EXPECT_EQ(f[3], "0");     // errors
    EXPECT_EQ(f[4], "0");     // lost
    EXPECT_GT(num(f[5]), 0.0);
    EXPECT_GT(num(f[6]), 0.0);
    // MB/s is msgs/s times 64 bytes, in 10^6 bytes.
    EXPECT_NEAR(num(f[7]), num(f[6]) * 64 / 1e6, 0.002);
    // Percentiles in order, and none above the maximum.
    EXPECT_GT(num(f[8]), 0.0);
    EXPECT_LE(num(f[8]), num(f[9]));
    EXPECT_LE(num(f[9]), num(f[10]));
    EXPECT_LE(num(f[10]), num(f[11]));
    EXPECT_LE(num(f[11]), num(f[12]));
  }
  // The text table: a header, three clients and their total.
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 5u) << r.out;
  EXPECT_EQ(out[4].rfind("total", 0), 0u) << out[4];
  EXPECT_NE(out[4].find(" 3000 "), std::string::npos) << out[4];
  EXPECT_NE(r.err.find("bench request: 3 client(s) x window 4, 64 B payloads, 3000 requests"),
            std::string::npos)
      << r.err;
}

TEST(ZmeshBench, AgainstARunningReplyByNameThroughTheBrokerInJson) {
  const std::string broker_ep = free_tcp_endpoint();
  Process broker(ZMESH_BROKER_BIN, {"--bind", broker_ep, "--log-level", "warn"});
  Process reply(kZmesh,
                {"reply", "Echo", "--echo", "--broker", broker_ep, "--name", "bench-echo", "-q"});
  ASSERT_EQ(reply.read_line(10s).rfind("listening on ", 0), 0u) << reply.err();

  // `zmesh reply` prints a line per request: read them while the bench runs, or its stdout
  // fills and its handler waits.
  const auto bench = [&](const std::vector<std::string>& args) {
    Process b(kZmesh, args);
    RunResult r;
    const auto give_up = std::chrono::steady_clock::now() + 50s;
    while ((r.code = b.wait(20ms)) == -1 && std::chrono::steady_clock::now() < give_up) {
      while (!reply.read_line(5ms).empty()) {
      }
    }
    r.out = b.out();
    r.err = b.err();
    return r;
  };
  const auto r = bench({"bench", "request", "bench-echo", "--broker", broker_ep, "--clients", "2",
                        "--window", "8", "--count", "501", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 3u) << r.out;  // two clients and the total
  const json c0 = json::parse(out[0]);
  const json c1 = json::parse(out[1]);
  const json total = json::parse(out[2]);
  EXPECT_EQ(c0["role"], "client");
  EXPECT_EQ(c0["messages"], 251);
  EXPECT_EQ(c1["messages"], 250);
  EXPECT_EQ(total["role"], "total");
  EXPECT_EQ(total["messages"], 501);
  EXPECT_EQ(total["errors"], 0);
  EXPECT_LE(total["p50_us"].get<double>(), total["max_us"].get<double>());

  // A type nobody handles: every request fails, each is counted as an error, the figures
  // are printed and the run exits 1.
  const auto bad = bench({"bench", "request", "bench-echo", "--broker", broker_ep, "--type",
                          "Nothing", "--count", "20", "--format", "json"});
  ASSERT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("zmesh: bench: 20 errors"), std::string::npos) << bad.err;
  const auto bad_out = lines_of(bad.out);
  ASSERT_EQ(bad_out.size(), 2u) << bad.out;
  const json bad_total = json::parse(bad_out[1]);
  EXPECT_EQ(bad_total["messages"], 0);
  EXPECT_EQ(bad_total["errors"], 20);
  EXPECT_NE(bad_total["first_error"].get<std::string>().find("Nothing"), std::string::npos)
      << bad_total.dump();
  reply.signal(SIGTERM);
  EXPECT_EQ(reply.wait(10s), 0) << reply.err();
}

TEST(ZmeshBench, PubSubSubscribersReceiveEveryBroadcastAfterTheSync) {
  TempFile csv("pubsub.csv");
  const auto r = run(kZmesh,
                     {"bench", "pubsub", "--publishers", "2", "--subscribers", "3", "--count",
                      "2000", "--rate", "5000", "--csv", csv.path(), "--timeout", "10s"},
                     {}, 60s);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = csv_rows(csv);
  ASSERT_EQ(rows.size(), 5u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rows[i][0], "publisher");
    EXPECT_EQ(rows[i][2], "1000");
    EXPECT_EQ(rows[i][3], "0");
    EXPECT_EQ(rows[i][8], "");  // no latency for a publisher
  }
  for (std::size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(rows[i][0], "subscriber");
    EXPECT_EQ(rows[i][1], std::to_string(i - 2));
    EXPECT_EQ(rows[i][2], "2000");  // from both publishers, nothing missed
    EXPECT_EQ(rows[i][4], "0");
    EXPECT_LE(num(rows[i][8]), num(rows[i][12]));
  }
}

TEST(ZmeshBench, ProgressLineWithProgressFlagAndDuration) {
  TempFile csv("duration.csv");
  const auto r =
      run(kZmesh,
          {"bench", "request", "--self", "--duration", "1500ms", "--progress", "--csv", csv.path()},
          {}, 60s);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("\nbench: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" requests, "), std::string::npos) << r.err;
  const auto rows = csv_rows(csv);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GT(num(rows[0][2]), 0.0);
  EXPECT_EQ(rows[0][3], "0");
}

TEST(ZmeshBench, RefusesBadUsage) {
  const auto expect_usage = [](const std::vector<std::string>& args, const std::string& says) {
    const auto r = run(kZmesh, args, {}, 15s);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  };
  expect_usage({"bench"}, "missing request or pubsub");
  expect_usage({"bench", "reqrep"}, "bench mode must be request or pubsub");
  expect_usage({"bench", "request"}, "exactly one of <peer>, --service S and --self");
  expect_usage({"bench", "request", "--self", "tcp://127.0.0.1:1"}, "exactly one of");
  expect_usage({"bench", "request", "--self", "--count", "5", "--duration", "1s"},
               "choose one of --count and --duration");
  expect_usage({"bench", "request", "--self", "--clients", "0"}, "--clients must be 1..256");
  expect_usage({"bench", "pubsub", "--size", "4"}, "--size must be at least 8");
}

}  // namespace
}  // namespace zmesh::test
