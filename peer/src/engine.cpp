#include "engine.hpp"

#include <pthread.h>

#include <algorithm>

#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

using std::chrono::milliseconds;

Engine::Engine(zmq::context_t& ctx, PeerShared& shared)
    : ctx_(ctx),
      shared_(shared),
      opts_(shared.options),
      tuning_{opts_.send_hwm, opts_.recv_hwm, opts_.limits, milliseconds(100), milliseconds(2000)},
      decoder_(opts_.limits) {
  self_.id = shared.id;
  self_.session = shared.session;
  self_.name = opts_.name;
  self_.services = opts_.services;
}

void Engine::run(std::promise<Endpoints> ready) {
  pthread_setname_np(pthread_self(), "zmesh-engine");
  try {
    open();
  } catch (...) {
    close_all(milliseconds(0));
    ready.set_exception(std::current_exception());
    return;
  }
  ready.set_value(
      Endpoints{self_.endpoints.empty() ? std::string() : self_.endpoints.front(),
                self_.pub_endpoints.empty() ? std::string() : self_.pub_endpoints.front()});
  try {
    loop();
  } catch (const zmq::error_t& e) {
    // ETERM: the context was shut down under us (stop() gave up waiting). Fail what is
    // left so no future is abandoned.
    for (auto& [id, r] : pending_.take_all())
      fail(std::move(r), id, errc::shutting_down, "peer stopped");
  }
  close_all(milliseconds(0));
  if (stop_done_) stop_done_->done.set_value();
}

void Engine::open() {
  commands_ = make_pipe(ctx_, zmq::socket_type::pull, opts_.command_queue_depth);
  commands_.bind(command_endpoint(shared_.uid));
  for (std::size_t i = 0; i < opts_.workers; ++i) {
    workers_.push_back(make_pipe(ctx_, zmq::socket_type::pair, opts_.worker_queue_depth));
    workers_.back().bind(worker_endpoint(shared_.uid, i));
  }
  if (!opts_.bind.empty()) {
    router_.emplace(make_router(ctx_, tuning_));
    try {
      const std::string bound = bind_resolved(*router_, opts_.bind);
      self_.endpoints.push_back(opts_.advertise.empty() ? bound : opts_.advertise);
    } catch (const zmq::error_t& e) {
      throw Error(errc::invalid_argument, "cannot bind '" + opts_.bind + "': " + e.what());
    }
  }
  open_pubsub();
  open_broker();
  const auto now = SteadyClock::now();
  next_heartbeat_ = now + opts_.heartbeat_interval;
  next_timers_ = now;
}

void Engine::close_all(milliseconds linger) {
  registry_.for_each([&](Connection& c) {
    if (c.dealer) set_close_linger(*c.dealer, linger);
  });
  for (const auto key : registry_.keys()) registry_.erase(key);
  if (router_) {
    set_close_linger(*router_, linger);
    router_.reset();
  }
  if (xpub_) {
    set_close_linger(*xpub_, linger);
    xpub_.reset();
  }
  if (sub_) sub_.close();
  broker_.reset();
  workers_.clear();
  if (commands_) commands_.close();
}

void Engine::loop() {
  std::vector<zmq::pollitem_t> items;
  std::vector<std::uint64_t> dealer_keys;
  bool busy = false;
  while (!stopped_) {
    // Under load, sweep every socket with non-blocking reads and skip zmq::poll (each
    // poll costs system calls); poll only once a sweep finds nothing to do.
    if (busy) {
      busy = sweep();
      after_io();
      continue;
    }
    items.clear();
    dealer_keys.clear();
    const bool read_network = !network_paused();
    items.push_back(
        {commands_.handle(), 0, static_cast<short>(outbox_.empty() ? ZMQ_POLLIN : 0), 0});
    const std::size_t workers_at = items.size();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      short events = ZMQ_POLLIN;
      if (!dispatch_.empty() && dispatch_.front().worker == i) events |= ZMQ_POLLOUT;
      items.push_back({workers_[i].handle(), 0, events, 0});
    }
    const std::size_t router_at = items.size();
    if (router_) {
      items.push_back({router_->handle(), 0, static_cast<short>(read_network ? ZMQ_POLLIN : 0), 0});
    }
    const std::size_t xpub_at = items.size();
    if (xpub_) items.push_back({xpub_->handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t sub_at = items.size();
    items.push_back({sub_.handle(), 0, static_cast<short>(read_network ? ZMQ_POLLIN : 0), 0});
    const std::size_t broker_at = items.size();
    if (broker_) items.push_back({broker_->handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t dealers_at = items.size();
    if (read_network) {
      registry_.visit([&](Connection& c) {
        if (!c.dealer) return;
        items.push_back({c.dealer->handle(), 0, ZMQ_POLLIN, 0});
        dealer_keys.push_back(c.key);
      });
    }

    zmq::poll(items.data(), items.size(), poll_timeout(SteadyClock::now()));

    // Workers first: their replies free capacity everywhere else.
    int done = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (items[workers_at + i].revents & ZMQ_POLLIN) done += on_worker(i);
    }
    flush_dispatch();
    flush_outbox();
    if (router_ && (items[router_at].revents & ZMQ_POLLIN)) done += on_router();
    for (std::size_t i = 0; i < dealer_keys.size(); ++i) {
      if (items[dealers_at + i].revents & ZMQ_POLLIN) done += on_dealer(dealer_keys[i]);
    }
    if (xpub_ && (items[xpub_at].revents & ZMQ_POLLIN)) done += on_xpub();
    if (broker_ && (items[broker_at].revents & ZMQ_POLLIN)) done += on_broker();
    if (items[sub_at].revents & ZMQ_POLLIN) done += on_sub(frames_, false);
    if (items[0].revents & ZMQ_POLLIN) done += on_commands();
    busy = done > 0;
    after_io();
  }
}

bool Engine::sweep() {
  int done = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) done += on_worker(i);
  flush_dispatch();
  flush_outbox();
  if (!network_paused()) {
    if (router_) done += on_router();
    registry_.visit([&](Connection& c) {
      if (c.dealer) sweep_keys_.push_back(c.key);
    });
    for (const auto key : sweep_keys_) done += on_dealer(key);
    sweep_keys_.clear();
    done += on_sub(frames_, false);
  }
  if (xpub_) done += on_xpub();
  if (broker_) done += on_broker();
  if (outbox_.empty()) done += on_commands();
  return done > 0;
}

void Engine::after_io() {
  const auto now = SteadyClock::now();
  if (network_paused() != was_paused_) {
    was_paused_ = network_paused();
    if (!was_paused_) {
      // We did not read while paused: silence in that time is ours, not the peers'.
      registry_.visit([&](Connection& c) { c.last_rx = std::max(c.last_rx, now); });
    }
  }
  if (now >= next_timers_) on_timers(now);
  if (stopping_ && (workers_stopped_ == workers_.size() || now >= stop_deadline_)) finish_stop();
}

milliseconds Engine::poll_timeout(SteadyClock::time_point now) {
  if (!outbox_.empty()) return milliseconds(1);
  auto next = std::min(next_timers_, next_heartbeat_);
  if (auto d = pending_.next_deadline()) next = std::min(next, *d);
  if (stopping_) next = std::min(next, stop_deadline_);
  const auto wait = std::chrono::ceil<milliseconds>(next - now);
  return std::clamp(wait, milliseconds(0), milliseconds(100));
}

void Engine::on_timers(SteadyClock::time_point now) {
  next_timers_ = now + milliseconds(10);
  check_syncs(now);
  broker_timers(now);
  for (auto& [id, r] : pending_.take_expired(now)) {
    bump(shared_.counters.timeouts);
    const std::string who =
        registry_.by_peer(r.to) ? registry_.by_peer(r.to)->describe() : id_to_hex(r.to);
    fail(std::move(r), id, errc::timeout, "request to peer " + who + " timed out");
  }
  // Greetings that never completed.
  registry_.for_each([&](Connection& c) {
    if (c.state == ConnectionState::greeting && now >= c.greeting_deadline) {
      const auto ms = std::chrono::duration_cast<milliseconds>(opts_.connect_timeout).count();
      const std::string where = c.endpoint.empty() ? c.describe() : c.endpoint;
      drop_connection(c, errc::peer_unreachable,
                      "no greeting from " + where + " within " + std::to_string(ms) + " ms");
    }
  });
  if (now >= next_heartbeat_) heartbeat(now);
}

void Engine::heartbeat(SteadyClock::time_point now) {
  next_heartbeat_ = now + opts_.heartbeat_interval;
  const bool paused = network_paused();
  registry_.for_each([&](Connection& c) {
    if (!c.ready()) return;
    const auto silence = now - c.last_rx;
    if (!paused && silence > opts_.heartbeat_timeout) {
      const auto ms = std::chrono::duration_cast<milliseconds>(silence).count();
      drop_connection(c, errc::peer_gone,
                      "peer " + c.describe() + " gone: silent for " + std::to_string(ms) + " ms");
      return;
    }
    if (!paused && silence > 2 * opts_.heartbeat_interval) c.state = ConnectionState::suspect;
    c.ping_nonce = random_id();
    Header h = header_for(Kind::ping, next_correlation_++);
    send_control(c, Route{c.key}, h, encode(Ping{c.ping_nonce, steady_now_us()}));
  });
}

void Engine::finish_stop() {
  // Our own requests still waiting will not be answered now.
  for (auto& [id, r] : pending_.take_all()) {
    fail(std::move(r), id, errc::shutting_down, "peer is shutting down");
  }
  // Say goodbye, so that the other side fails its requests to us at once.
  registry_.for_each([&](Connection& c) {
    for (auto& w : c.waiters)
      w->promise.set_exception(error_ptr(errc::shutting_down, "peer is shutting down"));
    c.waiters.clear();
    if (c.ready()) send_control(c, Route{c.key}, header_for(Kind::bye, 0), zmq::message_t());
  });
  for (auto& [marker, s] : syncs_) {
    s.done->done.set_exception(error_ptr(errc::shutting_down, "peer is shutting down"));
  }
  syncs_.clear();
  for (auto& [corr, q] : queries_) {
    auto e = error_ptr(errc::shutting_down, "peer is shutting down");
    if (q.members) q.members->promise.set_exception(e);
    if (q.connect) q.connect->promise.set_exception(e);
  }
  queries_.clear();
  if (broker_ && registered_) broker_send(Kind::bye, 0, zmq::message_t());  // leave at once
  // Commands that were queued before the gate closed: fail their completions.
  while (frames_.recv(commands_, zmq::recv_flags::dontwait)) on_command(frames_);
  for (auto& item : dispatch_) {
    if (item.meta.op != WorkOp::complete) continue;
    const std::error_code ec = item.meta.error == 0
                                   ? std::error_code{}
                                   : make_error_code(static_cast<errc>(item.meta.error));
    orphans_.push_back({adopt_ptr<RequestCompletion>(item.meta.completion), ec,
                        Response{item.meta.sender, std::string(view_of(item.payload))}});
  }
  dispatch_.clear();
  outbox_.clear();
  stopped_ = true;
  // Byes and last replies get a moment to leave; close() itself never blocks.
  close_all(milliseconds(100));
}

}  // namespace zmesh::detail
