// Engine: commands from application threads (the Peer API), one inproc PUSH per thread.
#include "engine.hpp"
#include "tsan_annotations.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {
namespace {

SteadyClock::time_point steady_from_us(std::int64_t us) {
  return SteadyClock::time_point(std::chrono::microseconds(us));
}

}  // namespace

int Engine::on_commands() {
  // Stop taking commands as soon as one of them has to wait for the network.
  int n = 0;
  for (; n < kBurst && outbox_.empty(); ++n) {
    if (!frames_.recv(commands_, zmq::recv_flags::dontwait)) break;
    on_command(frames_);
  }
  return n;
}

void Engine::on_command(FrameSet& frames) {
  pipeline_acquire(&shared_.command_sync);
  const auto meta = pod_from<CommandMeta>(frames[0]);
  if (!meta || frames.size() < 3) return;  // cannot happen: the Peer wrote it
  switch (meta->op) {
    case CommandOp::connect: cmd_connect(*meta, std::string(view_of(frames[1]))); break;
    case CommandOp::disconnect: cmd_disconnect(*meta); break;
    case CommandOp::send:
    case CommandOp::request: cmd_send(*meta, frames); break;
    case CommandOp::connections: cmd_connections(*meta); break;
    case CommandOp::stop: cmd_stop(*meta); break;
    case CommandOp::publish:
      if (frames.size() == 4) cmd_publish(*meta, frames);
      break;
    case CommandOp::subscribe:
    case CommandOp::unsubscribe: cmd_subscription(meta->op, std::string(view_of(frames[1]))); break;
    case CommandOp::subscribe_to: sub_ref(std::string(view_of(frames[1])), +1); break;
    case CommandOp::sync: cmd_sync(*meta); break;
    case CommandOp::publishers: cmd_publishers(*meta); break;
    case CommandOp::members: cmd_members(*meta); break;
    case CommandOp::lookup:
      cmd_lookup(*meta, std::string(view_of(frames[1])), std::string(view_of(frames[2])));
      break;
    case CommandOp::connect_name: cmd_connect_name(*meta, std::string(view_of(frames[1]))); break;
    case CommandOp::request_service:
      if (frames.size() == 4) cmd_request_service(*meta, frames);
      break;
  }
}

void Engine::send_hello(Connection& c) {
  if (c.ready()) drop(shared_.counters.connections);
  c.state = ConnectionState::greeting;
  c.hello_correlation = next_correlation_++;
  c.greeting_deadline = SteadyClock::now() + opts_.connect_timeout;
  Header h = header_for(Kind::hello, c.hello_correlation);
  zmq::message_t header = encoder_.encode(h);
  zmq::message_t payload = encode(
      Hello{kProtocolVersion, self_, static_cast<std::uint32_t>(opts_.heartbeat_interval.count())});
  // A new DEALER queues this until its TCP connection is up; dropping it is no risk:
  // the greeting deadline fails the connect.
  (void)c.dealer->send(header, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)c.dealer->send(payload, zmq::send_flags::dontwait);
}

void Engine::cmd_connect(const CommandMeta& meta, const std::string& endpoint) {
  auto done = adopt_ptr<ConnectCompletion>(meta.completion);
  if (stopping_) {
    done->promise.set_exception(error_ptr(errc::shutting_down, "peer is shutting down"));
    return;
  }
  if (!self_.endpoints.empty() && endpoint == self_.endpoints.front()) {
    done->promise.set_exception(error_ptr(errc::self_connect, "a peer cannot connect to itself"));
    return;
  }
  if (Connection* c = registry_.by_endpoint(endpoint)) {
    if (c->ready()) {
      done->promise.set_value(c->info.id);
    } else {
      c->waiters.push_back(std::move(done));
    }
    return;
  }
  zmq::socket_t dealer = make_dealer(ctx_, tuning_);
  try {
    dealer.connect(endpoint);
  } catch (const zmq::error_t& e) {
    done->promise.set_exception(
        error_ptr(errc::invalid_argument, "cannot connect to '" + endpoint + "': " + e.what()));
    return;
  }
  Connection& c = registry_.create();
  c.endpoint = endpoint;
  c.dealer.emplace(std::move(dealer));
  registry_.index_endpoint(c);
  c.waiters.push_back(std::move(done));
  send_hello(c);
}

void Engine::cmd_disconnect(const CommandMeta& meta) {
  Connection* c = registry_.by_peer(meta.to);
  if (c == nullptr) return;
  if (c->ready()) send_control(*c, Route{c->key}, header_for(Kind::bye, 0), zmq::message_t());
  if (c->dealer) set_close_linger(*c->dealer, std::chrono::milliseconds(100));  // let BYE leave
  drop_connection(*c, errc::peer_gone, "disconnected from peer " + c->describe());
}

void Engine::cmd_send(const CommandMeta& meta, FrameSet& frames) {
  const bool is_request = meta.op == CommandOp::request;
  std::unique_ptr<RequestCompletion> done;
  if (is_request) done = adopt_ptr<RequestCompletion>(meta.completion);
  const std::uint64_t correlation = is_request ? next_correlation_++ : 0;
  auto fail_now = [&](errc code, const std::string& text) {
    if (is_request) {
      bump(shared_.counters.pending);
      fail(PendingRequest{meta.to, {}, std::move(done), nullptr}, correlation, code, text);
    } else {
      bump(shared_.counters.errors);  // a fire-and-forget send that cannot be delivered
    }
  };
  if (stopping_) return fail_now(errc::shutting_down, "peer is shutting down");
  Connection* c = registry_.by_peer(meta.to);
  if (c == nullptr) {
    const std::string gone = gone_reason(meta.to);
    if (!gone.empty()) return fail_now(errc::peer_gone, gone);
    return fail_now(errc::unknown_peer, "no connection to peer " + id_to_hex(meta.to));
  }
  if (is_request) {
    bump(shared_.counters.pending);
    bump(shared_.counters.requests_sent);
    pending_.add(correlation, PendingRequest{meta.to, steady_from_us(meta.deadline_us),
                                             std::move(done), nullptr});
  }
  const Kind kind = is_request ? Kind::request : Kind::message;
  if (send_app(*c, kind, correlation, view_of(frames[1]), std::move(frames[2]),
               meta.deadline_unix_ms)) {
    return;
  }
  const std::string full = "greeting queue for peer " + c->describe() + " is full";
  if (auto p = pending_.take(correlation)) {
    fail(std::move(*p), correlation, errc::queue_full, full);
  } else {
    bump(shared_.counters.errors);
  }
}

void Engine::cmd_connections(const CommandMeta& meta) {
  auto done = adopt_ptr<ConnectionsCompletion>(meta.completion);
  std::vector<ConnectionStats> out;
  registry_.for_each([&](Connection& c) {
    ConnectionStats s;
    s.peer = c.info.id;
    s.name = c.info.name;
    s.endpoint = c.endpoint;
    s.state = c.state;
    s.outbound = c.dealer.has_value();
    s.sent = c.sent;
    s.received = c.received;
    s.pending = c.info.id != 0 ? pending_.count_for(c.info.id) : 0;
    s.queued = c.queued.size();
    s.last_rtt = std::chrono::microseconds(c.last_rtt_us);
    out.push_back(std::move(s));
  });
  done->promise.set_value(std::move(out));
}

void Engine::cmd_stop(const CommandMeta& meta) {
  stop_done_ = adopt_ptr<StopCompletion>(meta.completion);
  stopping_ = true;
  stop_deadline_ = steady_from_us(meta.deadline_us);
  // Behind whatever each worker has queued: it answers once that is done.
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    dispatch(WorkItem{i, WorkMeta{WorkOp::stop, Kind::invalid, 0, {}, 0, 0, 0, 0}, zmq::message_t(),
                      zmq::message_t(), zmq::message_t()});
  }
}

}  // namespace zmesh::detail
