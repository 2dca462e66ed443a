#include "delivery.hpp"

#include <algorithm>
#include <exception>

#include "zmesh/core/clock.hpp"

namespace zmesh::detail {
namespace {

// ErrorReply texts are capped on the wire (Limits::max_string_bytes, 1024 by default).
constexpr std::size_t kMaxErrorText = 1024;

Outcome error(WireError code, std::string text) {
  if (text.size() > kMaxErrorText) text.resize(kMaxErrorText);
  return Outcome{Outcome::What::error, code, std::move(text)};
}

}  // namespace

Outcome run_delivery(PeerShared& shared, const WorkMeta& meta, std::string_view type,
                     std::span<const std::byte> payload,
                     const std::shared_ptr<HandlerTable::Entry>& entry,
                     std::string_view sender_key) {
  const bool is_request = meta.kind == Kind::request;
  // NoReply: the handler runs, and nothing at all goes back (protocol.md 3.1).
  const bool answer = is_request && (meta.flags & kFlagNoReply) == 0;
  const auto nothing_or = [&](Outcome o) { return answer ? std::move(o) : Outcome{}; };
  if (is_request && shared.departed.contains(meta.route.connection)) {
    // Its sender is gone: nobody would read the answer. Skip the work.
    bump(shared.counters.departed_skipped);
    return {};
  }
  if (is_request && meta.deadline_unix_ms != 0 && unix_now_ms() > meta.deadline_unix_ms) {
    bump(shared.counters.expired);
    return nothing_or(error(WireError::deadline_exceeded,
                            "deadline passed before '" + std::string(type) + "' was handled"));
  }
  const auto drain = shared.drain_deadline_us.load();
  if (drain != 0 && static_cast<std::int64_t>(steady_now_us()) > drain) {
    return nothing_or(error(WireError::shutting_down, "responder is shutting down"));
  }
  const Message message(meta.sender, type, payload, is_request, meta.deadline_unix_ms, {}, 0,
                        sender_key);
  Outcome out{Outcome::What::reply, WireError::none, {}};
  bool ran = false;
  try {
    ran = entry && HandlerTable::call(*entry, message, out.body);
  } catch (const std::exception& e) {
    bump(shared.counters.handler_errors);
    bump(shared.counters.handled);
    return nothing_or(error(WireError::handler_failed, e.what()));
  } catch (...) {
    bump(shared.counters.handler_errors);
    bump(shared.counters.handled);
    return nothing_or(error(WireError::handler_failed, "unknown exception"));
  }
  if (!ran) {
    bump(shared.counters.no_handler);
    return nothing_or(error(WireError::no_handler, "no handler for '" + std::string(type) + "'"));
  }
  bump(shared.counters.handled);
  return nothing_or(std::move(out));
}

}  // namespace zmesh::detail
