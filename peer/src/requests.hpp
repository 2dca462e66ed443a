// Requests — our requests waiting for an answer: the pending table, deadlines, and the
// completion of each exactly once (by its reply, an error reply, its timeout, its peer
// going, or shutdown). A request to a service moves to the next peer offering it when
// its peer goes, while it has time left. Engine thread only.
//
// Requests sends nothing itself: it asks through Hooks, so that it can be driven alone.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "connections.hpp"
#include "deadline.hpp"
#include "engine_context.hpp"
#include "pending_requests.hpp"

namespace zmesh::detail {

/// Why a send could not be done.
struct SendFailure {
  errc code;
  std::string text;
};

class Requests {
 public:
  struct Hooks {
    /// Sends (or queues) a request to `to`; the failure when it cannot.
    std::function<std::optional<SendFailure>(PeerId to, AppSend send)> send;
    /// The next peer offering `service` that is not in `tried` (0 = none), connecting
    /// to it if needed.
    std::function<PeerId(const std::string& service, const std::vector<PeerId>& tried)> pick;
    /// Runs a callback-style completion on a worker.
    std::function<void(std::unique_ptr<RequestCompletion>, PeerId, errc, std::string_view)>
        run_callback;
    /// "'name' (id)" of a peer, for error texts.
    std::function<std::string(PeerId)> describe;
  };

  Requests(EngineContext& ctx, Hooks hooks);

  /// A request to one peer.
  void request(PeerId to, const Deadline& deadline, std::string_view type, zmq::message_t payload,
               std::unique_ptr<RequestCompletion> done);
  /// A request to whichever peer offers `service`.
  void request_service(std::string service, const Deadline& deadline, std::string_view type,
                       zmq::message_t payload, std::unique_ptr<RequestCompletion> done);
  /// A Reply or Error from `from` (`who()` names it in errors; only they call it, so a
  /// reply costs no name string).
  void on_answer(PeerId from, const std::function<std::string()>& who, const Envelope& env);
  void on_answer(PeerId from, const std::string& who, const Envelope& env) {
    on_answer(
        from, [&] { return who; }, env);
  }
  /// Everything pending on `peer` fails (or, for a service, moves on).
  void lost(PeerId peer, errc code, const std::string& text);
  /// Fails what is past its deadline.
  void expire(SteadyClock::time_point now);
  /// Fails everything (shutdown).
  void fail_all(errc code, const std::string& text);

  /// Batching: replies to futures are kept and fulfilled together by flush_replies()
  /// (the Engine calls it once per round), so that a waiting caller is woken once the
  /// engine has read what arrived rather than in the middle of it. Off by default (the
  /// component driven alone fulfils each at once).
  void batch_replies(bool on) noexcept { batching_ = on; }
  void flush_replies();

  [[nodiscard]] std::optional<SteadyClock::time_point> next_deadline() {
    return pending_.next_deadline();
  }
  [[nodiscard]] std::size_t size() const noexcept { return pending_.size(); }
  [[nodiscard]] std::size_t count_for(PeerId peer) const { return pending_.count_for(peer); }

 private:
  void complete(PendingRequest r, Response response);
  void run_inline(RequestCompletion& done, std::error_code ec, Response response);
  void fail(PendingRequest r, std::uint64_t correlation_id, errc code, const std::string& text);
  /// Sends a service request to the next candidate; false (and `r` untouched) if none.
  bool route(PendingRequest& r, std::uint64_t correlation_id);

  EngineContext& ctx_;
  Hooks hooks_;
  PendingRequests pending_;  // engine thread only
  bool batching_ = false;
  std::vector<std::pair<std::unique_ptr<RequestCompletion>, Response>> replies_;
};

}  // namespace zmesh::detail
