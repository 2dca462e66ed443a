#include "completions.hpp"

namespace zmesh::detail {
namespace {

// A future request's completion and its future's state, in one allocation.
struct FutureRequest {
  FutureState<Response> state;
  RequestCompletion completion;
};

}  // namespace

std::unique_ptr<RequestCompletion> RequestCompletion::for_callback(ResponseCallback callback,
                                                                   bool run_inline) {
  auto done = std::make_unique<RequestCompletion>();
  done->callback = std::move(callback);
  done->run_inline = run_inline;
  return done;
}

std::unique_ptr<RequestCompletion> RequestCompletion::with_future(Future<Response>& future) {
  auto block = std::make_shared<FutureRequest>();
  RequestCompletion& done = block->completion;
  // The promise and the future each hold the block through the state inside it.
  done.promise = Promise<Response>(std::shared_ptr<FutureState<Response>>(block, &block->state));
  done.in_future_block_ = true;
  future = done.promise.get_future();
  return std::unique_ptr<RequestCompletion>(&done);
}

void RequestCompletion::operator delete(RequestCompletion* p, std::destroying_delete_t) noexcept {
  if (!p->in_future_block_) {
    p->~RequestCompletion();
    ::operator delete(p);
    return;
  }
  // Moved out first: letting go of the promise may free the block, *p with it.
  p->callback = nullptr;
  const Promise<Response> last = std::move(p->promise);
}

}  // namespace zmesh::detail
