// zmesh/core/export.hpp — which symbols zmesh's shared libraries export.
//
// libzmesh_core and libzmesh_peer are compiled with -fvisibility=hidden and
// -fvisibility-inlines-hidden: nothing is exported unless it says so. Every public header
// opens its namespace as `namespace ZMESH_API zmesh {`, which exports what that block
// declares (the GCC/Clang namespace visibility attribute applies to that block only, like
// `#pragma GCC visibility push(default)`). Private headers under <component>/src/ open a
// plain `namespace zmesh {` and stay hidden; so does a `namespace ZMESH_HIDDEN detail {`
// block inside a public header. Generated FlatBuffers code and third-party headers
// (cppzmq, FlatBuffers, spdlog, Boost) carry no attribute and stay hidden as well.
//
// tests/package checks the result with `nm -D --defined-only` (docs/packaging.md).
#pragma once

#if defined(__GNUC__) || defined(__clang__)
/// Exports the declarations of the namespace block it opens (public API).
#define ZMESH_API [[gnu::visibility("default")]]
/// Hides the declarations of a nested namespace block of a public header (detail).
#define ZMESH_HIDDEN [[gnu::visibility("hidden")]]
#else
#define ZMESH_API
#define ZMESH_HIDDEN
#endif
