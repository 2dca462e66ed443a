// What an API call leaves with the engine to be completed later, and how it travels:
// a Handoff in the command record, taken back into a unique_ptr by the engine at once,
// so exactly one owner exists at any time.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "zmesh/core/errors.hpp"
#include "zmesh/peer.hpp"
#include "zmesh/peer/future.hpp"

namespace zmesh::detail {

/// A result the engine owes an API call: the promise behind the caller's future.
template <class T>
struct Completion {
  Promise<T> promise;
};

/// A request's result: the future's promise, or (when set) a callback run on a worker.
///
/// A future request's completion lives in one allocation with the future's state
/// (with_future): one operator new per request instead of two, freed by whoever lets go
/// last, usually the caller's thread that allocated it. `delete` on it (its unique_ptr,
/// whoever owns it) is a destroying delete that knows which kind it is: a plain one is
/// destroyed and freed; one inside a future's block gives up its promise (a future not
/// set yet breaks, as a std::promise destroyed unset does) and with it its share of the
/// block.
struct RequestCompletion {
  Promise<Response> promise;  // used when callback is empty
  ResponseCallback callback;  // run on a worker, or on the engine when run_inline
  bool run_inline = false;    // CallbackOptions::run_inline

  /// A completion for a callback request (its own allocation).
  [[nodiscard]] static std::unique_ptr<RequestCompletion> for_callback(ResponseCallback callback,
                                                                       bool run_inline);
  /// A completion sharing one allocation with the future it completes, returned in
  /// `future`.
  [[nodiscard]] static std::unique_ptr<RequestCompletion> with_future(Future<Response>& future);

  void operator delete(RequestCompletion* p, std::destroying_delete_t) noexcept;

 private:
  bool in_future_block_ = false;
};

using ConnectCompletion = Completion<PeerId>;
using ConnectionsCompletion = Completion<std::vector<ConnectionStats>>;
using StopCompletion = Completion<void>;
using MembersCompletion = Completion<std::vector<MemberInfo>>;
using PublishersCompletion = Completion<std::vector<PublisherStats>>;
using ReloadCompletion = Completion<std::size_t>;

struct SyncCompletion {
  Promise<void> done;
};

/// An owning pointer crossing an inproc pipeline inside a trivially copyable record
/// (CommandMeta, WorkMeta): given from a unique_ptr on one side, taken back into one on
/// the other. Exactly one side takes it; a record that is never sent is taken back by
/// its sender.
class Handoff {
 public:
  Handoff() = default;
  template <class T>
  [[nodiscard]] static Handoff give(std::unique_ptr<T> owned) noexcept {
    Handoff h;
    h.raw_ = owned.release();
    return h;
  }
  template <class T>
  [[nodiscard]] std::unique_ptr<T> take() noexcept {
    return std::unique_ptr<T>(static_cast<T*>(std::exchange(raw_, nullptr)));
  }
  [[nodiscard]] explicit operator bool() const noexcept { return raw_ != nullptr; }

 private:
  void* raw_ = nullptr;
};

/// The exception a failed future carries.
inline std::exception_ptr error_ptr(errc code, const std::string& what) {
  return std::make_exception_ptr(Error(code, what));
}

}  // namespace zmesh::detail
