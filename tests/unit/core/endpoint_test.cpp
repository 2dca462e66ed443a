// zmesh/core/endpoint.hpp: the form of tcp/ipc/inproc endpoints, wildcards only for bind,
// and host names resolved for connect.
#include "zmesh/core/endpoint.hpp"

#include <string>

#include <gtest/gtest.h>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

// The reason an endpoint is refused with, and its kind.
std::string refusal(const std::string& text, EndpointUse use, errc kind = errc::invalid_argument) {
  try {
    (void)check_endpoint(text, use);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << text;
    return e.what();
  }
  ADD_FAILURE() << text << " was accepted";
  return {};
}

TEST(Endpoint, TakesTcpApart) {
  const Endpoint e = check_endpoint("tcp://127.0.0.1:7400", EndpointUse::connect);
  EXPECT_EQ(e.transport, "tcp");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, "7400");
  EXPECT_EQ(e.address, "127.0.0.1:7400");
  const Endpoint v6 = check_endpoint("tcp://[::1]:1", EndpointUse::connect);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, "1");
  EXPECT_EQ(check_endpoint("tcp://localhost:65535", EndpointUse::connect).host, "localhost");
  // ZeroMQ's source-address form: the remote half is what is checked.
  EXPECT_EQ(check_endpoint("tcp://127.0.0.1:0;127.0.0.1:80", EndpointUse::connect).port, "80");
}

TEST(Endpoint, AcceptsIpcAndInproc) {
  EXPECT_EQ(check_endpoint("ipc:///tmp/zmesh.sock", EndpointUse::connect).address,
            "/tmp/zmesh.sock");
  EXPECT_EQ(check_endpoint("inproc://engine", EndpointUse::bind).transport, "inproc");
}

TEST(Endpoint, WildcardsAreForBindOnly) {
  EXPECT_EQ(check_endpoint("tcp://*:*", EndpointUse::bind).host, "*");
  EXPECT_EQ(check_endpoint("tcp://127.0.0.1:0", EndpointUse::bind).port, "0");
  EXPECT_EQ(check_endpoint("tcp://eth0:7400", EndpointUse::bind).host, "eth0");  // no lookup
  EXPECT_EQ(refusal("tcp://*:5555", EndpointUse::connect),
            "host '*' is only valid for bind, not connect");
  EXPECT_EQ(refusal("tcp://127.0.0.1:*", EndpointUse::connect),
            "port '*' is only valid for bind, not connect");
}

TEST(Endpoint, RefusesBadPorts) {
  for (const char* port : {"99999", "65536", "-1", "+80", "80x", "x", " 80"}) {
    EXPECT_EQ(refusal(std::string("tcp://127.0.0.1:") + port, EndpointUse::connect),
              std::string("bad port '") + port + "' (1..65535)");
    EXPECT_EQ(refusal(std::string("tcp://*:") + port, EndpointUse::bind),
              std::string("bad port '") + port + "' (1..65535)");
  }
  EXPECT_EQ(refusal("tcp://127.0.0.1", EndpointUse::connect), "missing port (tcp://host:port)");
  EXPECT_EQ(refusal("tcp://127.0.0.1:", EndpointUse::connect), "missing port (tcp://host:port)");
}

TEST(Endpoint, RefusesBadForms) {
  EXPECT_EQ(refusal("bogus", EndpointUse::connect),
            "not an endpoint (tcp://host:port, ipc://path or inproc://name)");
  EXPECT_EQ(refusal("udp://127.0.0.1:1", EndpointUse::connect),
            "unsupported transport 'udp' (tcp://host:port, ipc://path or inproc://name)");
  EXPECT_EQ(refusal("tcp://:5555", EndpointUse::connect), "missing host (tcp://host:port)");
  EXPECT_EQ(refusal("tcp://::1:5555", EndpointUse::connect),
            "an IPv6 address goes in brackets (tcp://[::1]:port)");
  EXPECT_EQ(refusal("tcp://[::1:5555", EndpointUse::connect),
            "unclosed '[' in host (tcp://[::1]:port)");
  EXPECT_EQ(refusal("ipc://", EndpointUse::bind), "missing path after 'ipc://'");
  EXPECT_EQ(refusal("inproc://", EndpointUse::connect), "missing name after 'inproc://'");
}

TEST(Endpoint, ResolvesHostsOnlyToConnect) {
  // .invalid never resolves (RFC 2606). A resolver that cannot answer at all says so
  // with peer_unreachable instead; that is not what this test is about.
  try {
    (void)check_endpoint("tcp://nohost.invalid:5555", EndpointUse::connect);
    ADD_FAILURE() << "nohost.invalid resolved";
  } catch (const Error& e) {
    if (e.kind() == errc::peer_unreachable) GTEST_SKIP() << e.what();
    EXPECT_EQ(e.kind(), errc::invalid_argument);
    EXPECT_STREQ(e.what(), "cannot resolve host 'nohost.invalid'");
  }
  // parse_endpoint never looks a name up.
  EXPECT_EQ(parse_endpoint("tcp://nohost.invalid:5555", EndpointUse::connect).host,
            "nohost.invalid");
}

TEST(Endpoint, ListsSplitAtCommasWithBlanksTrimmed) {
  EXPECT_EQ(split_endpoint_list("tcp://a:1, tcp://b:2 ,tcp://c:3"),
            (std::vector<std::string>{"tcp://a:1", "tcp://b:2", "tcp://c:3"}));
  EXPECT_EQ(split_endpoint_list("tcp://a:1"), std::vector<std::string>{"tcp://a:1"});
  EXPECT_TRUE(split_endpoint_list("").empty());
  EXPECT_TRUE(split_endpoint_list(" , ,").empty());
  EXPECT_EQ(split_endpoint_list("tcp://a:1,,tcp://b:2,"),
            (std::vector<std::string>{"tcp://a:1", "tcp://b:2"}));
}

}  // namespace
}  // namespace zmesh
