#include "exit_codes.hpp"

namespace zmesh::cli {

int exit_code_for(errc e) noexcept {
  switch (e) {
    case errc::timeout:
    case errc::deadline_exceeded: return kExitTimeout;
    case errc::peer_gone:
    case errc::peer_unreachable:
    case errc::unknown_peer: return kExitUnreachable;
    case errc::rejected:
    case errc::no_handler:
    case errc::remote_error:
    case errc::self_connect:
    case errc::duplicate_id:
    case errc::duplicate_name:
    case errc::unsupported_version:
    case errc::overloaded: return kExitRemote;
    case errc::invalid_argument: return kExitUsage;
    case errc::too_large: return kExitTooLarge;
    case errc::auth_failed:
    case errc::not_allowed: return kExitAuth;
    default: return kExitFailure;
  }
}

std::string reason_of(const Error& e) {
  std::string text = e.what();
  const std::string tail = ": " + e.code().message();
  if (text.size() > tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0)
    text.resize(text.size() - tail.size());
  return text;
}

Failure failure_from(const Error& e, const std::string& what, long long timeout_ms) {
  const errc kind = e.kind();
  const int code = exit_code_for(kind);
  std::string reason = reason_of(e);
  if (kind == errc::timeout && timeout_ms > 0) {
    // Say what did not answer when the error knows more ("the broker did not answer").
    const std::string why = reason.empty() || reason.find("timed out") != std::string::npos
                                ? std::string()
                                : " (" + reason + ")";
    return {code, what + " timed out after " + std::to_string(timeout_ms) + " ms" + why};
  }
  // Name the kind of failure when the peer's text does not already say it.
  const std::string generic = e.code().message();
  if (reason.empty()) {
    reason = generic;
  } else if (kind == errc::remote_error || kind == errc::rejected) {
    if (reason.find(generic) == std::string::npos) reason = generic + ": " + reason;
  }
  return {code, what + " failed: " + reason};
}

}  // namespace zmesh::cli
