#!/usr/bin/env bash
# Builds zmesh (warnings as errors) and runs the whole test suite.
#   scripts/test.sh                    plain build in build/
#   ZMESH_SANITIZE=address,undefined scripts/test.sh   sanitizer build in build-asan/
#   ZMESH_SANITIZE=thread scripts/test.sh              TSan build in build-tsan/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

sanitize="${ZMESH_SANITIZE:-}"
case "$sanitize" in
  "") dir=build ;;
  thread) dir=build-tsan ;;
  *) dir=build-asan ;;
esac
jobs="$(nproc)"

cmake -S . -B "$dir" -G Ninja -DZMESH_WERROR=ON -DZMESH_SANITIZE="$sanitize"
cmake --build "$dir" -j "$jobs"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp}"
ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 120
