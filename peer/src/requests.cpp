#include "requests.hpp"

#include "zmesh/core/ids.hpp"

namespace zmesh::detail {

Requests::Requests(EngineContext& ctx, Hooks hooks) : ctx_(ctx), hooks_(std::move(hooks)) {}

void Requests::request(PeerId to, const Deadline& deadline, std::string_view type,
                       zmq::message_t payload, std::unique_ptr<RequestCompletion> done) {
  const std::uint64_t correlation = ctx_.next_correlation();
  bump(ctx_.counters().pending);
  PendingRequest r{to, deadline.steady, std::move(done), nullptr, ctx_.now()};
  if (ctx_.stopping)
    return fail(std::move(r), correlation, errc::shutting_down, "peer is shutting down");
  if (r.started >= deadline.steady) {
    bump(ctx_.counters().timeouts);
    return fail(std::move(r), correlation, errc::timeout,
                "request to peer " + hooks_.describe(to) + " timed out before it could be sent");
  }
  bump(ctx_.counters().requests_sent);
  pending_.add(correlation, std::move(r));
  auto failure = hooks_.send(to, AppSend{.kind = Kind::request,
                                         .correlation_id = correlation,
                                         .type = type,
                                         .payload = std::move(payload),
                                         .deadline_unix_ms = deadline.unix_ms});
  if (!failure) return;
  if (auto p = pending_.take(correlation))
    fail(std::move(*p), correlation, failure->code, failure->text);
}

void Requests::request_service(std::string service, const Deadline& deadline, std::string_view type,
                               zmq::message_t payload, std::unique_ptr<RequestCompletion> done) {
  const std::uint64_t correlation = ctx_.next_correlation();
  bump(ctx_.counters().pending);
  PendingRequest r{0, deadline.steady, std::move(done), std::make_unique<PendingRequest::Retry>(),
                   ctx_.now()};
  r.retry->service = std::move(service);
  r.retry->type = std::string(type);
  r.retry->payload = std::move(payload);
  r.retry->deadline_unix_ms = deadline.unix_ms;
  if (ctx_.stopping)
    return fail(std::move(r), correlation, errc::shutting_down, "peer is shutting down");
  bump(ctx_.counters().requests_sent);
  if (route(r, correlation)) return;
  const std::string text = "no reachable peer offers service '" + r.retry->service + "'";
  r.retry.reset();  // nothing to move to
  fail(std::move(r), correlation, errc::unknown_peer, text);
}

bool Requests::route(PendingRequest& r, std::uint64_t correlation_id) {
  auto& retry = *r.retry;
  for (;;) {
    const PeerId to = hooks_.pick(retry.service, retry.tried);
    if (to == 0) return false;
    retry.tried.push_back(to);
    r.to = to;
    zmq::message_t payload;
    payload.copy(retry.payload);
    const std::string type = retry.type;
    const std::uint64_t deadline_ms = retry.deadline_unix_ms;
    pending_.add(correlation_id, std::move(r));
    auto failure = hooks_.send(to, AppSend{.kind = Kind::request,
                                           .correlation_id = correlation_id,
                                           .type = type,
                                           .payload = std::move(payload),
                                           .deadline_unix_ms = deadline_ms});
    if (!failure) return true;
    r = std::move(*pending_.take(correlation_id));
  }
}

void Requests::on_answer(PeerId from, const std::function<std::string()>& who,
                         const Envelope& env) {
  const Header& h = env.header;
  std::optional<ErrorReply> err;
  if (h.kind == Kind::error) {
    auto decoded = decode_control<ErrorReply>(env.payload, ctx_.opts.limits);
    if (!decoded) {
      bump(ctx_.counters().malformed);
      if (auto p = pending_.take(h.correlation_id)) {
        fail(std::move(*p), h.correlation_id, errc::malformed,
             "malformed error reply from peer " + who());
      }
      return;
    }
    err = std::move(*decoded);
    if (err->code == WireError::unknown_peer) {
      // The process we sent it to does not know us: it restarted, and the request went
      // down with the old one (Connections greets the new one).
      if (auto p = pending_.take(h.correlation_id)) {
        fail(std::move(*p), h.correlation_id, errc::peer_gone,
             "peer " + who() + " lost our session (restarted?)");
      }
      return;
    }
  }
  if (h.sender_id != from) {
    bump(ctx_.counters().unexpected);
    return;
  }
  auto pending = pending_.take(h.correlation_id);
  if (!pending) {
    bump(ctx_.counters().late_replies);
    return;
  }
  if (pending->to != h.sender_id) {  // not from whom we asked: not our reply
    bump(ctx_.counters().unexpected);
    pending_.add(h.correlation_id, std::move(*pending));
    return;
  }
  bump(ctx_.counters().received);
  if (h.kind == Kind::reply) {
    complete(std::move(*pending),
             Response{h.sender_id, std::string(reinterpret_cast<const char*>(env.payload.data()),
                                               env.payload.size())});
    return;
  }
  fail(std::move(*pending), h.correlation_id, to_errc(err->code),
       "peer " + who() + ": " + err->text);
}

void Requests::lost(PeerId peer, errc code, const std::string& text) {
  for (auto& [id, r] : pending_.take_for(peer)) fail(std::move(r), id, code, text);
}

void Requests::expire(SteadyClock::time_point now) {
  for (auto& [id, r] : pending_.take_expired(now)) {
    bump(ctx_.counters().timeouts);
    const std::string who = r.to != 0 ? hooks_.describe(r.to) : "for its service";
    fail(std::move(r), id, errc::timeout, "request to peer " + who + " timed out");
  }
}

void Requests::fail_all(errc code, const std::string& text) {
  for (auto& [id, r] : pending_.take_all()) fail(std::move(r), id, code, text);
}

void Requests::complete(PendingRequest r, Response response) {
  drop(ctx_.counters().pending);
  bump(ctx_.counters().replies_received);
  ctx_.counters().request_durations.observe(ctx_.now() - r.started);
  if (!r.completion->callback) {
    if (batching_) {
      replies_.emplace_back(std::move(r.completion), std::move(response));
      return;
    }
    r.completion->promise.set_value(std::move(response));
    return;
  }
  if (r.completion->run_inline) return run_inline(*r.completion, {}, std::move(response));
  hooks_.run_callback(std::move(r.completion), r.to, errc::ok, response.payload);
}

void Requests::fail(PendingRequest r, std::uint64_t correlation_id, errc code,
                    const std::string& text) {
  // A request to a service moves on when its peer goes, while it has time left.
  const bool peer_failed =
      code == errc::peer_gone || code == errc::peer_unreachable || code == errc::shutting_down;
  if (r.retry && peer_failed && !ctx_.stopping && SteadyClock::now() < r.deadline &&
      route(r, correlation_id)) {
    return;
  }
  drop(ctx_.counters().pending);
  if (code != errc::timeout) bump(ctx_.counters().errors);
  if (!r.completion->callback) {
    r.completion->promise.set_exception(error_ptr(code, text));
    return;
  }
  if (r.completion->run_inline) {
    return run_inline(*r.completion, make_error_code(code), Response{r.to, text});
  }
  hooks_.run_callback(std::move(r.completion), r.to, code, text);
}

void Requests::flush_replies() {
  for (auto& [done, response] : replies_) done->promise.set_value(std::move(response));
  replies_.clear();  // keeps its capacity: no allocation per round
}

void Requests::run_inline(RequestCompletion& done, std::error_code ec, Response response) {
  // CallbackOptions::run_inline: here, on the engine thread; its exceptions are counted.
  try {
    done.callback(ec, std::move(response));
  } catch (...) {
    bump(ctx_.counters().handler_errors);
  }
  ctx_.user_code_ran();
}

}  // namespace zmesh::detail
