#include "engine.hpp"

#include <pthread.h>

#include <algorithm>

#include "command_channels.hpp"
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
                    for (const auto& e : c.info.pub_endpoints) {
                      broadcasts_.announce(e, +1, c.info.public_key);
                    }
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
                    dispatcher_.deliver(c.info.id, route, env, std::move(frames[env.payload_index]),
                                        c.info.public_key);
                  },
              .answer =
                  [this](Connection& c, const Envelope& env) {
                    requests_.on_answer(
                        c.info.id, [&c] { return c.describe(); }, env);
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
                  case Connections::Admit::greeting_full: {
                    std::string text = "greeting queue for peer " + c->describe() + " is full";
                    ctx_.log(LogEvent::queue_full, LogLevel::warning, text);
                    return SendFailure{errc::queue_full, std::move(text)};
                  }
                  case Connections::Admit::over_bound: break;
                }
                std::string text = std::to_string(c->backlog_bytes) + " bytes wait for peer " +
                                   c->describe() + ", which is not reading";
                ctx_.log(LogEvent::queue_full, LogLevel::warning, text);
                return SendFailure{errc::queue_full, std::move(text)};
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
                                 for (const auto& e : m.pub_endpoints) {
                                   broadcasts_.announce(e, +1, m.public_key);
                                 }
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
          }) {
  ctx_.readiness = &readiness_;
  requests_.batch_replies(true);
}

// ------------------------------------------------------------------ lifecycle

void Engine::run(std::promise<Endpoints> ready) noexcept {
  pthread_setname_np(pthread_self(), "zmesh-engine");
  mark_engine_thread(&ctx_.shared.command_sync);  // inline handlers' sends never wait
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
    requests_.flush_replies();
  } catch (...) {
    // ETERM: the context was shut down under us (stop() gave up waiting), or a socket
    // error we cannot recover from. Fail what is left so no future is abandoned.
    try {
      requests_.flush_replies();
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
  security_.open();  // before any server socket binds
  dispatcher_.open();
  if (auto router = connections_.open(); !router.empty()) ctx_.self.endpoints.push_back(router);
  if (auto pub = broadcasts_.open(); !pub.empty()) ctx_.self.pub_endpoints.push_back(pub);
  discovery_.open();
  next_timers_ = SteadyClock::now();
}

void Engine::close_all() noexcept {
  // Our registrations go before the sockets do.
  readiness_.clear();
  connections_.close(stopped_ ? kByeLinger : milliseconds(0));
  // Lossless broadcasts (block, latest) queued for slow subscribers get what is left of
  // the drain time to leave; the others a moment, as ZeroMQ's PUB would.
  auto pub_linger = kByeLinger;
  if (ctx_.shared.policies->holds() && stopped_) {
    pub_linger =
        std::max(pub_linger, std::chrono::ceil<milliseconds>(stop_deadline_ - SteadyClock::now()));
  }
  broadcasts_.close(pub_linger);
  discovery_.close();
  dispatcher_.close();
  security_.close();
  if (commands_) commands_.close();
}

// ------------------------------------------------------------------ loop

void Engine::loop() {
  bool busy = false;
  while (!stopped_) {
    sync_sockets();
    // Under load (or with sockets to look at again) only collect what signalled; sleep
    // only when no socket is left to read.
    readiness_.wait(busy || readiness_.fresh() ? milliseconds(0)
                                               : poll_timeout(SteadyClock::now()));
    ctx_.start_round();
    busy = sweep();
    after_io();
  }
}

void Engine::sync_sockets() {
  readiness_.begin_sync();
  readiness_.keep(commands_);
  if (auto zap = security_.zap_socket()) readiness_.keep(zap);
  for (std::size_t i = 0; i < dispatcher_.workers(); ++i) readiness_.keep(dispatcher_.pipe(i));
  if (auto* r = connections_.router()) readiness_.keep(*r);
  if (auto* x = broadcasts_.xpub()) readiness_.keep(*x);
  readiness_.keep(broadcasts_.sub());
  for (auto* b : discovery_.sockets()) readiness_.keep(*b);
  dealer_keys_.clear();
  connections_.dealer_keys(dealer_keys_);
  for (const auto key : dealer_keys_) readiness_.keep(*connections_.dealer(key));
  readiness_.end_sync();
}

template <class Read>
int Engine::read_if_hot(zmq::socket_ref socket, Read&& read) {
  if (!readiness_.hot(socket)) return 0;
  const int n = read();
  // Fewer than a burst, and not stopped by a pause: the last read said EAGAIN.
  if (n < kBurst && !paused()) readiness_.cool(socket);
  return n;
}

bool Engine::sweep() {
  int done = 0;
  // Workers first: their replies free capacity everywhere else. (A worker pipe is read
  // whatever the pause: its replies are what ends one.)
  for (std::size_t i = 0; i < dispatcher_.workers(); ++i) {
    auto& pipe = dispatcher_.pipe(i);
    if (!readiness_.hot(pipe)) continue;
    const int n = dispatcher_.read(i);
    if (n < kBurst) readiness_.cool(pipe);
    done += n;
  }
  dispatcher_.flush();
  // Handshakes wait for these answers in libzmq's I/O thread.
  if (auto zap = security_.zap_socket(); zap && readiness_.hot(zap)) {
    done += security_.read();
    readiness_.cool(zap);
  }
  done += connections_.flush();
  if (!paused()) {
    const std::function<bool()> full = [this] { return paused(); };
    if (auto* r = connections_.router()) {
      done += read_if_hot(*r, [&] { return connections_.read_router(full); });
    }
    dealer_keys_.clear();
    connections_.dealer_keys(dealer_keys_);
    for (const auto key : dealer_keys_) {
      if (paused()) break;
      zmq::socket_t* d = connections_.dealer(key);
      if (d == nullptr) continue;  // gone while reading another
      done += read_if_hot(*d, [&] { return connections_.read_dealer(key, full); });
    }
    done += read_if_hot(broadcasts_.sub(), [&] { return broadcasts_.read_sub(); });
  }
  if (auto* x = broadcasts_.xpub()) {
    done += read_if_hot(*x, [&] { return broadcasts_.read_xpub(); });
  }
  if (broadcasts_.holding()) done += broadcasts_.flush_held();
  if (dispatcher_.latest_waiting()) dispatcher_.flush_latest();
  const auto& brokers = discovery_.sockets();
  for (std::size_t i = 0; i < brokers.size(); ++i) {
    if (!readiness_.hot(*brokers[i])) continue;
    const int n = discovery_.read(i);
    if (n < kBurst) readiness_.cool(*brokers[i]);
    done += n;
  }
  if (parked_) retry_parked();
  if (taking_commands() && readiness_.hot(commands_)) {
    const int n = read_commands();
    if (n < kBurst && taking_commands()) readiness_.cool(commands_);
    done += n;
  }
  requests_.flush_replies();  // the round's replies, together
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
    // Timers send (pings, the broker's renewals) and Discovery sends from inside; and a
    // socket that changed at a reused address keeps its old registration until it is
    // looked at: look at every socket once per tick.
    readiness_.touch_all();
    requests_.expire(now);
    broadcasts_.on_timers(now);
    discovery_.on_timers(now);
    connections_.on_timers(now, paused());
  }
  // Stopping: the workers finish what they have, and block/latest broadcasts still held
  // keep going out, until the drain deadline.
  if (ctx_.stopping &&
      ((dispatcher_.all_stopped() && !broadcasts_.holding()) || now >= stop_deadline_)) {
    finish_stop();
  }
}

milliseconds Engine::poll_timeout(SteadyClock::time_point now) {
  if (connections_.backlogged() || parked_ || broadcasts_.holding() ||
      dispatcher_.latest_waiting()) {
    return milliseconds(1);
  }
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
         (meta.op == CommandOp::send || SteadyClock::now() < Deadline::steady_at(meta.deadline_us));
}

void Engine::retry_parked() {
  const auto meta = pod_from<CommandMeta>((*parked_)[0]);
  if (meta && must_wait(*meta) && !ctx_.stopping) return;
  FrameSet frames = std::move(*parked_);
  parked_.reset();
  on_command(frames);
}

void Engine::on_command(FrameSet& frames) {
  if (frames.size() <= 2) {  // a publish, the only command of one or two frames
    if (const auto names = read_publish(frames)) {
      zmq::message_t payload = frames.size() == 2
                                   ? std::move(frames[1])
                                   : zmq::message_t(names->payload.data(), names->payload.size());
      broadcasts_.publish(zmq::message_t(names->topic.data(), names->topic.size()), names->type,
                          std::move(payload));
    }
    return;
  }
  auto meta = pod_from<CommandMeta>(frames[0]);
  if (!meta || frames.size() < 3) return;  // cannot happen: the Peer wrote it
  if (!ctx_.stopping && must_wait(*meta)) {
    parked_.emplace(std::move(frames));
    return;
  }
  const auto text = [&](std::size_t i) { return std::string(view_of(frames[i])); };
  // Made only by the commands that carry one (a publish or send reads no clock for it).
  const auto deadline = [&] { return ctx_.deadline(meta->deadline_us); };
  switch (meta->op) {
    case CommandOp::connect:
      connections_.connect(text(1), text(2), meta->completion.take<ConnectCompletion>());
      break;
    case CommandOp::reload_trust: {
      auto done = meta->completion.take<ReloadCompletion>();
      try {
        done->promise.set_value(security_.reload());
      } catch (const Error&) {
        done->promise.set_exception(std::current_exception());
      }
      break;
    }
    case CommandOp::disconnect: connections_.disconnect(meta->to); break;
    case CommandOp::send: send_message(*meta, frames); break;
    case CommandOp::request:
      requests_.request(meta->to, deadline(), view_of(frames[1]), std::move(frames[2]),
                        meta->completion.take<RequestCompletion>());
      break;
    case CommandOp::connections:
      meta->completion.take<ConnectionsCompletion>()->promise.set_value(
          connections_.snapshot([this](PeerId p) { return requests_.count_for(p); }));
      break;
    case CommandOp::stop: begin_stop(*meta); break;
    case CommandOp::publish: break;  // one or two frames, no CommandMeta: above
    case CommandOp::subscribe: broadcasts_.subscribe(text(1)); break;
    case CommandOp::unsubscribe: broadcasts_.unsubscribe(text(1)); break;
    case CommandOp::subscribe_to: broadcasts_.follow(text(1), text(2)); break;
    case CommandOp::sync:
      broadcasts_.sync(deadline(), meta->completion.take<SyncCompletion>(),
                       frames.size() > 2 && frames[2].size() != 0
                           ? std::optional<std::string>(text(1))
                           : std::nullopt);
      break;
    case CommandOp::publishers:
      meta->completion.take<PublishersCompletion>()->promise.set_value(broadcasts_.publishers());
      break;
    case CommandOp::members:
      meta->completion.take<MembersCompletion>()->promise.set_value(discovery_.members());
      break;
    case CommandOp::lookup:
      discovery_.lookup(text(1), text(2), deadline(), meta->completion.take<MembersCompletion>());
      for (auto* b : discovery_.sockets()) readiness_.touch(*b);  // it asked a broker
      break;
    case CommandOp::connect_name:
      discovery_.connect_name(text(1), deadline(), meta->completion.take<ConnectCompletion>());
      for (auto* b : discovery_.sockets()) readiness_.touch(*b);
      break;
    case CommandOp::request_service:
      if (frames.size() == 4) {
        requests_.request_service(text(3), deadline(), view_of(frames[1]), std::move(frames[2]),
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
  stop_deadline_ = Deadline::steady_at(meta.deadline_us);
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
