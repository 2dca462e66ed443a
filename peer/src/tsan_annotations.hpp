// Happens-before annotations for ThreadSanitizer at the inproc pipelines.
//
// Debian's libzmq is not instrumented, so TSan cannot see that a message sent on an
// inproc socket is received after it was written: every hand-over through a pipeline
// (a command's completion pointer, a frame's bytes) would be reported as a race. Each
// pipeline therefore releases a sync address before sending and acquires it after
// receiving, modelling the queue as the synchronisation point it is. No-ops otherwise.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define ZMESH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZMESH_TSAN 1
#endif
#endif

#ifdef ZMESH_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace zmesh::detail {

/// Call before sending on a pipeline.
inline void pipeline_release([[maybe_unused]] void* sync) noexcept {
#ifdef ZMESH_TSAN
  __tsan_release(sync);
#endif
}

/// Call after receiving from a pipeline.
inline void pipeline_acquire([[maybe_unused]] void* sync) noexcept {
#ifdef ZMESH_TSAN
  __tsan_acquire(sync);
#endif
}

}  // namespace zmesh::detail
