#!/usr/bin/env bash
# check_exports.sh <lib.so>...: the dynamic symbols a zmesh shared library defines must
# all be zmesh's public API: zmesh:: functions and data, and the typeinfo, vtables and
# thunks of zmesh types. Fails on anything else (the standard library's or cppzmq's
# template instantiations, FlatBuffers, spdlog, fmt, Boost) and on zmesh::detail.
# Prints the count per library. Used by tests/package/run.sh.
set -euo pipefail
api='^((typeinfo|typeinfo name|vtable|VTT) for |(non-)?virtual thunk to )?zmesh::'
rc=0
for lib in "$@"; do
  symbols="$(nm -D --defined-only "$lib" | awk '{ $1 = ""; $2 = ""; sub(/^  /, ""); print }' | c++filt)"
  n="$(grep -c . <<<"$symbols" || true)"
  foreign="$(grep -Ev "$api" <<<"$symbols" || true)"
  detail="$(grep -E "${api}detail::" <<<"$symbols" || true)"
  if [ -n "$foreign" ] || [ -n "$detail" ] || [ "$n" -eq 0 ]; then
    echo "$lib: $n exported symbols, and these must not be exported:"
    printf '%s\n' "$foreign" "$detail" | grep . | sed 's/^/  /' | head -40
    rc=1
  else
    echo "$(basename "$lib"): $n exported symbols, all zmesh:: public API"
  fi
done
exit "$rc"
