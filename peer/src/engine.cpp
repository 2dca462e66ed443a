#include "engine.hpp"

#include <pthread.h>

#include <algorithm>

#include "tsan_annotations.hpp"
#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

using std::chrono::milliseconds;

namespace {
constexpr std::string_view kShuttingDown = "peer is shutting down";
}  // namespace

Engine::Engine(zmq::context_t& ctx, PeerShared& shared)
    : ctx_(ctx, shared),
      dispatcher_(ctx_,
                  [this](const ResultMeta& r, zmq::message_t payload) {
                    if (r.op == ResultOp::error) {
                      payload = encode(ErrorReply{r.code, std::string(view_of(payload))});
                    }
                    connections_.send_answer(r.route,
                                             r.op == ResultOp::reply ? Kind::reply : Kind::error,
                                             r.correlation_id, std::move(payload));
                  }),
      broadcasts_(ctx_, dispatcher_),
      connections_(
          ctx_,
          Connections::Events{
              .ready =
                  [this](Connection& c) {
                    // Follow the publishers it announced (its latest announcement).
                    for (const auto& e : c.info.pub_endpoints) broadcasts_.announce(e, +1);
                    for (const auto& e : c.followed_pubs) broadcasts_.announce(e, -1);
                    c.followed_pubs = c.info.pub_endpoints;
                  },
              .closing =
                  [this](Connection& c) {
                    for (const auto& e : c.followed_pubs) broadcasts_.announce(e, -1);
                    c.followed_pubs.clear();
                    dispatcher_.departed(c.key);
                  },
              .lost = [this](PeerId peer, errc code,
                             const std::string& text) { requests_.lost(peer, code, text); },
              .inbound =
                  [this](Connection& c, const Route& route, const Envelope& env, FrameSet& frames) {
                    dispatcher_.deliver(c.info.id, route, env,
                                        std::move(frames[env.payload_index]));
                  },
              .answer =
                  [this](Connection& c, const Envelope& env) {
                    requests_.on_answer(c.info.id, c.describe(), env);
                  },
          }),
      requests_(
          ctx_,
          Requests::Hooks{
              .send = [this](PeerId to, AppSend s) -> std::optional<SendFailure> {
                Connection* c = connections_.find(to);
                if (c == nullptr) {
                  std::string gone = connections_.gone_reason(to);
                  if (!gone.empty()) return SendFailure{errc::peer_gone, std::move(gone)};
                  return SendFailure{errc::unknown_peer, "no connection to peer " + id_to_hex(to)};
                }
                switch (connections_.send_app(*c, std::move(s))) {
                  case Connections::Admit::accepted: return std::nullopt;
                  case Connections::Admit::greeting_full:
                    return SendFailure{errc::queue_full,
                                       "greeting queue for peer " + c->describe() + " is full"};
                  case Connections::Admit::over_bound: break;
                }
                return SendFailure{errc::queue_full, std::to_string(c->backlog_bytes) +
                                                         " bytes wait for peer " + c->describe() +
                                                         ", which is not reading"};
              },
              .pick =
                  [this](const std::string& service, const std::vector<PeerId>& tried) {
                    return services_.pick(service, tried);
                  },
              .run_callback =
                  [this](std::unique_ptr<RequestCompletion> done, PeerId from, errc code,
                         std::string_view body) {
                    dispatcher_.complete(std::move(done), from, code, body);
                  },
              .describe =
                  [this](PeerId peer) {
                    Connection* c = connections_.find(peer);
                    return c != nullptr ? c->describe() : id_to_hex(peer);
                  },
          }),
      discovery_(ctx_, Discovery::Events{
                           .joined =
                               [this](const PeerInfo& m) {
                                 for (const auto& e : m.pub_endpoints) broadcasts_.announce(e, +1);
                               },
                           .left =
                               [this](const PeerInfo& m) {
                                 for (const auto& e : m.pub_endpoints) broadcasts_.announce(e, -1);
                               },
                           .connect =
                               [this](const PeerInfo& m, std::unique_ptr<ConnectCompletion>& done) {
                                 Connection* c = connections_.ensure(m);
                                 if (c == nullptr) return false;
                                 if (c->ready()) {
                                   done->promise.set_value(c->info.id);
                                 } else {
                                   c->waiters.push_back(std::move(done));
                                 }
                                 return true;
                               },
                       }),
      services_(
          ctx_.self.id,
          ServiceRouter::Hooks{
              .known =
                  [this](const std::function<void(const PeerInfo&)>& fn) {
                    discovery_.visit(fn);
                    connections_.visit([&](Connection& c) {
                      if (c.ready()) fn(c.info);
                    });
                  },
              .reach = [this](const PeerInfo& p) { return connections_.ensure(p) != nullptr; },
          }) {}

// ------------------------------------------------------------------ lifecycle

void Engine::run(std::promise<Endpoints> ready) noexcept {
  pthread_setname_np(pthread_self(), "zmesh-engine");
  try {
    open();
    ready.set_value(Endpoints{
        ctx_.self.endpoints.empty() ? std::string() : ctx_.self.endpoints.front(),
        ctx_.self.pub_endpoints.empty() ? std::string() : ctx_.self.pub_endpoints.front()});
  } catch (...) {
    close_all();
    ready.set_exception(std::current_exception());
    return;
  }
  try {
    loop();
  } catch (...) {
    // ETERM: the context was shut down under us (stop() gave up waiting), or a socket
    // error we cannot recover from. Fail what is left so no future is abandoned.
    try {
      requests_.fail_all(errc::shutting_down, "peer stopped");
    } catch (...) {
    }
  }
  close_all();
  if (stop_done_) stop_done_->promise.set_value();
}

void Engine::open() {
  commands_ = make_pipe(ctx_.zmq, zmq::socket_type::pull, ctx_.opts.command_queue_depth);
  commands_.bind(command_endpoint(ctx_.shared.uid));
  dispatcher_.open();
  if (auto router = connections_.open(); !router.empty()) ctx_.self.endpoints.push_back(router);
  if (auto pub = broadcasts_.open(); !pub.empty()) ctx_.self.pub_endpoints.push_back(pub);
  discovery_.open();
  next_timers_ = SteadyClock::now();
}

void Engine::close_all() noexcept {
  connections_.close(stopped_ ? kByeLinger : milliseconds(0));
  broadcasts_.close();
  discovery_.close();
  dispatcher_.close();
  if (commands_) commands_.close();
}

// ------------------------------------------------------------------ loop

void Engine::loop() {
  bool busy = false;
  while (!stopped_) {
    // Under load, sweep every socket with non-blocking reads and skip zmq::poll (each
    // poll costs system calls); poll only once a sweep finds nothing to do.
    if (busy) {
      busy = sweep();
    } else {
      poll_once();
      busy = sweep();
    }
    after_io();
  }
}

void Engine::poll_once() {
  items_.clear();
  dealer_keys_.clear();
  const short network = paused() ? 0 : ZMQ_POLLIN;
  items_.push_back(
      {commands_.handle(), 0, static_cast<short>(taking_commands() ? ZMQ_POLLIN : 0), 0});
  for (std::size_t i = 0; i < dispatcher_.workers(); ++i) {
    short events = ZMQ_POLLIN;
    if (paused() && dispatcher_.blocked_on() == i) events |= ZMQ_POLLOUT;
    items_.push_back({dispatcher_.pipe(i).handle(), 0, events, 0});
  }
  if (auto* r = connections_.router()) items_.push_back({r->handle(), 0, network, 0});
  if (auto* x = broadcasts_.xpub()) items_.push_back({x->handle(), 0, ZMQ_POLLIN, 0});
  items_.push_back({broadcasts_.sub().handle(), 0, network, 0});
  for (auto* b : discovery_.sockets()) items_.push_back({b->handle(), 0, ZMQ_POLLIN, 0});
  if (!paused()) {
    connections_.dealer_keys(dealer_keys_);
    for (const auto key : dealer_keys_) {
      items_.push_back({connections_.dealer(key)->handle(), 0, ZMQ_POLLIN, 0});
    }
  }
  zmq::poll(items_.data(), items_.size(), poll_timeout(SteadyClock::now()));
}

bool Engine::sweep() {
  int done = 0;
  // Workers first: their replies free capacity everywhere else.
  for (std::size_t i = 0; i < dispatcher_.workers(); ++i) done += dispatcher_.read(i);
  dispatcher_.flush();
  done += connections_.flush();
  if (!paused()) {
    const std::function<bool()> full = [this] { return paused(); };
    if (connections_.router() != nullptr) done += connections_.read_router(full);
    dealer_keys_.clear();
    connections_.dealer_keys(dealer_keys_);
    for (const auto key : dealer_keys_) {
      if (paused()) break;
      done += connections_.read_dealer(key, full);
    }
    done += broadcasts_.read_sub();
  }
  if (broadcasts_.xpub() != nullptr) done += broadcasts_.read_xpub();
  done += discovery_.read();
  if (parked_) retry_parked();
  if (taking_commands()) done += read_commands();
  return done > 0;
}

void Engine::after_io() {
  const auto now = SteadyClock::now();
  if (paused() != was_paused_) {
    was_paused_ = paused();
    if (!was_paused_) connections_.resume(now);
  }
  if (now >= next_timers_) {
    next_timers_ = now + kTimerTick;
    requests_.expire(now);
    broadcasts_.on_timers(now);
    discovery_.on_timers(now);
    connections_.on_timers(now, paused());
  }
  if (ctx_.stopping && (dispatcher_.all_stopped() || now >= stop_deadline_)) finish_stop();
}

milliseconds Engine::poll_timeout(SteadyClock::time_point now) {
  if (connections_.backlogged() || parked_) return milliseconds(1);
  auto next = std::min(next_timers_, connections_.next_heartbeat());
  if (auto d = requests_.next_deadline()) next = std::min(next, *d);
  if (ctx_.stopping) next = std::min(next, stop_deadline_);
  const auto wait = std::chrono::ceil<milliseconds>(next - now);
  return std::clamp(wait, milliseconds(0), kMaxPollWait);
}

// ------------------------------------------------------------------ commands

int Engine::read_commands() {
  int n = 0;
  for (; n < kBurst && taking_commands(); ++n) {
    if (!frames_.recv(commands_, zmq::recv_flags::dontwait)) break;
    pipeline_acquire(&ctx_.shared.command_sync);
    on_command(frames_);
  }
  return n;
}

bool Engine::must_wait(const CommandMeta& meta) {
  if (meta.op != CommandOp::send && meta.op != CommandOp::request) return false;
  Connection* c = connections_.find(meta.to);
  return c != nullptr && c->ready() && connections_.over_bound(*c) &&
         (meta.op == CommandOp::send ||
          SteadyClock::now() < Deadline::from(meta.deadline_us, 0).steady);
}

void Engine::retry_parked() {
  const auto meta = pod_from<CommandMeta>((*parked_)[0]);
  if (meta && must_wait(*meta) && !ctx_.stopping) return;
  FrameSet frames = std::move(*parked_);
  parked_.reset();
  on_command(frames);
}

void Engine::on_command(FrameSet& frames) {
  auto meta = pod_from<CommandMeta>(frames[0]);
  if (!meta || frames.size() < 3) return;  // cannot happen: the Peer wrote it
  if (!ctx_.stopping && must_wait(*meta)) {
    parked_.emplace(std::move(frames));
    return;
  }
  const auto text = [&](std::size_t i) { return std::string(view_of(frames[i])); };
  const Deadline deadline = Deadline::from(meta->deadline_us, meta->deadline_unix_ms);
  switch (meta->op) {
    case CommandOp::connect:
      connections_.connect(text(1), meta->completion.take<ConnectCompletion>());
      break;
    case CommandOp::disconnect: connections_.disconnect(meta->to); break;
    case CommandOp::send: send_message(*meta, frames); break;
    case CommandOp::request:
      requests_.request(meta->to, deadline, view_of(frames[1]), std::move(frames[2]),
                        meta->completion.take<RequestCompletion>());
      break;
    case CommandOp::connections:
      meta->completion.take<ConnectionsCompletion>()->promise.set_value(
          connections_.snapshot([this](PeerId p) { return requests_.count_for(p); }));
      break;
    case CommandOp::stop: begin_stop(*meta); break;
    case CommandOp::publish:
      if (frames.size() == 4) {
        broadcasts_.publish(std::move(frames[3]), view_of(frames[1]), std::move(frames[2]));
      }
      break;
    case CommandOp::subscribe: broadcasts_.subscribe(text(1)); break;
    case CommandOp::unsubscribe: broadcasts_.unsubscribe(text(1)); break;
    case CommandOp::subscribe_to: broadcasts_.follow(text(1)); break;
    case CommandOp::sync:
      broadcasts_.sync(deadline, meta->completion.take<SyncCompletion>());
      break;
    case CommandOp::publishers:
      meta->completion.take<PublishersCompletion>()->promise.set_value(broadcasts_.publishers());
      break;
    case CommandOp::members:
      meta->completion.take<MembersCompletion>()->promise.set_value(discovery_.members());
      break;
    case CommandOp::lookup:
      discovery_.lookup(text(1), text(2), deadline, meta->completion.take<MembersCompletion>());
      break;
    case CommandOp::connect_name:
      discovery_.connect_name(text(1), deadline, meta->completion.take<ConnectCompletion>());
      break;
    case CommandOp::request_service:
      if (frames.size() == 4) {
        requests_.request_service(text(3), deadline, view_of(frames[1]), std::move(frames[2]),
                                  meta->completion.take<RequestCompletion>());
      }
      break;
  }
}

void Engine::send_message(const CommandMeta& meta, FrameSet& frames) {
  // Fire-and-forget: what cannot be delivered is counted (the caller is gone already).
  Connection* c = ctx_.stopping ? nullptr : connections_.find(meta.to);
  if (c == nullptr || connections_.send_app(*c, AppSend{.kind = Kind::message,
                                                        .type = view_of(frames[1]),
                                                        .payload = std::move(frames[2])}) !=
                          Connections::Admit::accepted) {
    bump(ctx_.counters().errors);
  }
}

// ------------------------------------------------------------------ stop

void Engine::begin_stop(CommandMeta& meta) {
  stop_done_ = meta.completion.take<StopCompletion>();
  ctx_.stopping = true;
  stop_deadline_ = Deadline::from(meta.deadline_us, 0).steady;
  // Behind whatever each worker has queued: it answers once that is done.
  dispatcher_.stop_workers();
}

void Engine::finish_stop() {
  const std::string text(kShuttingDown);
  // Our own requests still waiting will not be answered now.
  requests_.fail_all(errc::shutting_down, text);
  // Say goodbye, so that the other side fails its requests to us at once.
  connections_.goodbye(text);
  broadcasts_.fail_syncs(text);
  discovery_.leave(text);
  // Commands that were queued before the gate closed: fail their completions.
  if (parked_) retry_parked();
  while (frames_.recv(commands_, zmq::recv_flags::dontwait)) {
    pipeline_acquire(&ctx_.shared.command_sync);
    on_command(frames_);
  }
  connections_.flush();  // last replies, if their pipes take them now
  stopped_ = true;
}

}  // namespace zmesh::detail
