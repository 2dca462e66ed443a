// What an API call leaves with the engine to be completed later. Each travels through
// the command pipeline as a pointer released from a unique_ptr; the receiving side adopts
// it back into a unique_ptr at once, so exactly one owner exists at any time.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "zmesh/core/errors.hpp"
#include "zmesh/peer.hpp"

namespace zmesh::detail {

struct RequestCompletion {
  std::promise<Response> promise;  // used when callback is empty
  ResponseCallback callback;       // run on a worker, never on the engine
};

struct ConnectCompletion {
  std::promise<PeerId> promise;
};

struct ConnectionsCompletion {
  std::promise<std::vector<ConnectionStats>> promise;
};

struct StopCompletion {
  std::promise<void> done;
};

struct SyncCompletion {
  std::promise<void> done;
};

struct MembersCompletion {
  std::promise<std::vector<MemberInfo>> promise;
};

struct PublishersCompletion {
  std::promise<std::vector<PublisherStats>> promise;
};

template <class T>
std::uintptr_t release_ptr(std::unique_ptr<T> p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p.release());
}

template <class T>
std::unique_ptr<T> adopt_ptr(std::uintptr_t raw) noexcept {
  return std::unique_ptr<T>(reinterpret_cast<T*>(raw));
}

/// The exception a failed future carries.
inline std::exception_ptr error_ptr(errc code, const std::string& what) {
  return std::make_exception_ptr(Error(code, what));
}

}  // namespace zmesh::detail
