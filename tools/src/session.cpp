#include "session.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <thread>

#include "zmesh/core/ids.hpp"

namespace zmesh::cli {
namespace {

std::atomic<bool> g_signalled{false};

sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}

PeerOptions prepared(const Common& c, const std::string& command, PeerOptions o) {
  o.name = c.name.empty() ? "zmesh-" + command + "-" + std::to_string(getpid()) : c.name;
  o.broker = c.broker;
  o.connect_timeout = c.timeout;
  o.request_timeout = c.timeout;
  o.workers = std::max<std::size_t>(o.workers, 1);
  if (!c.secret_key.empty()) {
    o.curve.public_key = c.public_key;
    o.curve.secret_key = c.secret_key;
    o.curve.trust_dir = c.trust_dir;
    const bool serves = command == "reply" || command == "publish";
    if (c.trust_dir.empty()) {
      if (serves) throw UsageError("--key: " + command + " needs --trust DIR (who may connect)");
      // A client: nobody else may connect to its sockets.
      o.curve.trusted_keys = {c.public_key};
    }
    o.broker_key = c.broker_key;
  }
  return o;
}

std::optional<PeerId> as_peer_id(const std::string& text) {
  if (text.size() != 16) return std::nullopt;
  return id_from_hex(text);
}

}  // namespace

void block_signals() {
  sigset_t s = stop_signals();
  sigaddset(&s, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

bool signalled(std::chrono::milliseconds d) {
  if (g_signalled.load()) return true;
  const sigset_t s = stop_signals();
  timespec ts{static_cast<std::time_t>(d.count() / 1000),
              static_cast<long>(d.count() % 1000) * 1'000'000};
  if (sigtimedwait(&s, nullptr, &ts) > 0) g_signalled.store(true);
  return g_signalled.load();
}

Session::Session(const Common& common, const std::string& command, PeerOptions options)
    : common_(common),
      started_(Clock::now()),
      registering_(options.register_with_brokers),
      peer_([&] {
        try {
          return Peer(prepared(common, command, std::move(options)));
        } catch (const Error& e) {
          throw UsageError(reason_of(e));
        }
      }()) {
  try {
    peer_.start();
  } catch (const Error& e) {
    throw Failure(kExitFailure, reason_of(e));
  }
}

Session::~Session() {
  peer_.stop();
}

std::chrono::milliseconds Session::remaining() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      started_ + common_.timeout - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

bool Session::join_broker(std::chrono::milliseconds within) {
  const auto deadline = Clock::now() + within;
  // Registered (commands that serve or publish) and a broker's full listing in (every
  // page): from then on the membership is complete.
  while ((registering_ && !peer_.registered()) || !peer_.membership_listed()) {
    if (signalled(std::chrono::milliseconds(10))) {
      throw Failure(kExitInterrupted, "waiting for the broker interrupted");
    }
    if (auto refused = peer_.broker_auth_error(); !refused.empty()) {
      throw Failure(kExitAuth, refused);
    }
    if (Clock::now() >= deadline) return false;
  }
  return true;
}

void Session::require_broker(const std::string& why) {
  if (common_.broker.empty()) {
    throw UsageError("no broker: " + why + " needs --broker EP (or $ZMESH_BROKER)");
  }
  if (!join_broker(remaining())) {
    throw Failure(kExitUnreachable, "broker at " + common_.broker + " did not answer within " +
                                        std::to_string(common_.timeout.count()) + " ms");
  }
}

zmesh::Future<PeerId> Session::start_connect(const std::string& endpoint, const std::string& what,
                                             int exit_code, const std::string& key) {
  try {
    return peer_.connect(endpoint, key.empty() ? common_.server_key : key);
  } catch (const Error& e) {
    // Peer::connect refuses a malformed or unresolvable endpoint at once.
    throw Failure(exit_code != 0 ? exit_code : exit_code_for(e.kind()),
                  what + " failed: " + reason_of(e));
  }
}

void Session::connect_all() {
  for (const auto& endpoint : common_.connect) {
    const std::string what = "connecting to '" + endpoint + "'";
    auto f = start_connect(endpoint, what);
    (void)await(f, what, remaining());
  }
}

PeerId Session::connect(const std::string& target) {
  const std::string what = "connecting to '" + target + "'";
  if (target.find("://") != std::string::npos) {
    auto f = start_connect(target, what);
    return await(f, what, remaining());
  }
  if (common_.broker.empty()) {
    throw UsageError("'" + target +
                     "' is not an endpoint (tcp://host:port), and resolving a peer name or id "
                     "needs --broker EP (or $ZMESH_BROKER)");
  }
  require_broker("resolving '" + target + "'");
  if (const auto id = as_peer_id(target)) {
    auto f = peer_.lookup("", "", remaining());
    const auto all = await(f, "asking the broker for peer " + target, remaining());
    bool is_a_name = false;
    for (const auto& m : all) {
      is_a_name = is_a_name || m.name == target;
      if (m.id != *id) continue;
      if (m.endpoints.empty()) {
        throw Failure(kExitUnreachable, "peer " + target + " ('" + m.name +
                                            "') takes no requests: it has no endpoint");
      }
      // Not the user's input: an endpoint the peer registered that we cannot use.
      auto c = start_connect(m.endpoints.front(),
                             what + " ('" + m.name + "') at its registered endpoint",
                             kExitUnreachable, m.public_key);
      return await(c, what, remaining());
    }
    if (!is_a_name) {
      throw Failure(kExitUnreachable,
                    "no peer with id " + target + " is registered at " + common_.broker);
    }
  }
  auto f = peer_.connect_by_name(target);
  return await(f, what, remaining());
}

}  // namespace zmesh::cli
