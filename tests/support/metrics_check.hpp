// Helpers for the metrics endpoint tests: a raw HTTP GET of /metrics (cpp-httplib's
// client), a line-by-line check of the text exposition format, and the samples as the
// Prometheus project's own parser reads them (python3-prometheus-client, through
// tests/support/parse_metrics.py), so that a body Prometheus would refuse fails the test.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>

namespace zmesh::test {

/// The body of GET http://<host>:<port>/metrics; "" when it did not answer 200.
inline std::string scrape(const std::string& host, int port, std::string* content_type = nullptr) {
  httplib::Client c(host, port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return {};
  if (content_type != nullptr) *content_type = r->get_header_value("Content-Type");
  return r->body;
}

/// "127.0.0.1:9464" -> port.
inline int port_of(const std::string& host_port) {
  return std::stoi(host_port.substr(host_port.rfind(':') + 1));
}

/// What is wrong with `body` as the text format (0.0.4), one entry per problem: every
/// sample's name is valid and belongs to a family whose # HELP and # TYPE came first,
/// # TYPE names a known type, families appear once, values are numbers.
inline std::vector<std::string> exposition_problems(const std::string& body) {
  static const std::regex kName("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\S+)$)");
  std::vector<std::string> problems;
  std::set<std::string> families;
  std::map<std::string, std::string> types;
  std::string current;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      if (!std::regex_match(name, kName)) problems.push_back("bad HELP name: " + line);
      if (!families.insert(name).second) problems.push_back("family twice: " + name);
      current = name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name;
      std::string type;
      t >> name >> type;
      if (name != current) problems.push_back("TYPE without its HELP: " + line);
      if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
          type != "untyped") {
        problems.push_back("unknown type: " + line);
      }
      types[name] = type;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, kSample)) {
      problems.push_back("not a sample line: " + line);
      continue;
    }
    const std::string name = m[1];
    const bool ours =
        name == current ||
        (types[current] == "histogram" &&
         (name == current + "_bucket" || name == current + "_sum" || name == current + "_count"));
    if (!ours || types.count(current) == 0)
      problems.push_back("sample outside its family: " + line);
    if (types[current] == "counter" && name.size() > 6 &&
        name.compare(name.size() - 6, 6, "_total") != 0) {
      problems.push_back("counter without _total: " + name);
    }
    try {
      const std::string v = m[5];
      if (v != "+Inf" && v != "-Inf" && v != "NaN") (void)std::stod(v);
    } catch (const std::exception&) {
      problems.push_back("bad value: " + line);
    }
  }
  return problems;
}

/// Every sample as python3-prometheus-client's parser reads it: `name{a="1",b="2"}` (labels
/// sorted) -> value. Sets `*error` (and returns what it has) when the parser refuses the
/// body or cannot run.
inline std::map<std::string, double> parse_with_prometheus(const std::string& body,
                                                           std::string* error) {
  const std::string path = "/tmp/zmesh-metrics-" + std::to_string(getpid()) + ".txt";
  {
    std::ofstream f(path, std::ios::trunc);
    f << body;
  }
  const std::string cmd = std::string(ZMESH_SYSTEM_PYTHON) + " " + ZMESH_TEST_SOURCE_DIR +
                          "/support/parse_metrics.py " + path + " 2>&1";
  std::map<std::string, double> samples;
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    if (status != 0) *error = "parse_metrics.py failed (" + std::to_string(status) + "): " + out;
  } else {
    *error = "cannot run python3";
  }
  std::remove(path.c_str());
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    try {
      samples[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    } catch (const std::exception&) {
      // A line of an error message.
    }
  }
  return samples;
}

}  // namespace zmesh::test
