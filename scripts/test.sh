#!/usr/bin/env bash
# Builds zmesh (warnings as errors) and runs the whole test suite; with --all (or CI=true)
# also the checks CI runs. Each stage is announced and timed; the script goes on after a
# failed stage, then prints a summary and exits 1 if any stage failed.
#   scripts/test.sh                 build: plain build in build/, ctest, Python tests
#   scripts/test.sh --all           format build tidy asan tsan package (what .ci/run does)
#   scripts/test.sh format tidy     the named stages only
#   ZMESH_SANITIZE=address,undefined scripts/test.sh   as before: the asan stage alone
#   ZMESH_SANITIZE=thread scripts/test.sh              as before: the tsan stage alone
# Stages:
#   format  clang-format-14 --dry-run --Werror over the tracked C++ files of the check dirs
#   build   plain build (build/), ctest, then the Python package's pytest suite (python/)
#   tidy    clang-tidy-14 (.clang-tidy) over build/compile_commands.json, check dirs only
#   asan    ZMESH_SANITIZE=address,undefined build (build-asan/), ctest
#   tsan    ZMESH_SANITIZE=thread build (build-tsan/), ctest with tests/tsan.supp
#   package the Debian packages (build-pkg/): built, lintian, installed on this machine,
#           used, purged (tests/package/run.sh; root only: skipped otherwise). For a
#           disposable machine such as CI's container: it runs dpkg -i and dpkg --purge.
# ZMESH_CHECK_DIRS: the directories format and tidy cover (default: all of zmesh's code).
# ZMESH_JOBS: build, ctest and clang-tidy parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

check_dirs=(${ZMESH_CHECK_DIRS:-lib peer broker tools tests bench examples})
jobs="${ZMESH_JOBS:-$(nproc)}"
all_stages=(format build tidy asan tsan package)

stages=()
for arg in "$@"; do
  case "$arg" in
    --all) stages=("${all_stages[@]}") ;;
    format | build | tidy | asan | tsan | package) stages+=("$arg") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (stages: ${all_stages[*]}, or --all)" >&2; exit 2 ;;
  esac
done
if [ ${#stages[@]} -eq 0 ]; then
  case "${ZMESH_SANITIZE:-}" in
    "") if [ "${CI:-}" = "true" ]; then stages=("${all_stages[@]}"); else stages=(build); fi ;;
    thread) stages=(tsan) ;;
    address,undefined | undefined,address) stages=(asan) ;;
    *) echo "test.sh: ZMESH_SANITIZE='$ZMESH_SANITIZE': use address,undefined or thread" >&2
       exit 2 ;;
  esac
fi

deps_flags=()
case " ${stages[*]} " in *" format "* | *" tidy "*) deps_flags+=(--checks) ;; esac
case " ${stages[*]} " in *" package "*) deps_flags+=(--package) ;; esac
scripts/deps.sh "${deps_flags[@]}"

# Prefer the versioned tools: the committed .clang-format is checked with clang-format 14.
tool() { command -v "$1-14" || command -v "$1"; }

# configure <dir> <sanitize> [cmake args...]
configure() {
  local dir="$1" sanitize="$2"
  shift 2
  cmake -S . -B "$dir" -G Ninja -DZMESH_WERROR=ON -DZMESH_SANITIZE="$sanitize" "$@"
}

# build_and_test <dir> <sanitize> [cmake args...]
build_and_test() {
  local dir="$1"
  configure "$@"
  cmake --build "$dir" -j "$jobs"
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp}" \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 120
}

# The tracked C++ files under the check dirs.
check_files() {
  local d specs=()
  for d in "${check_dirs[@]}"; do specs+=("$d/*.cpp" "$d/*.hpp"); done
  git ls-files -- "${specs[@]}"
}

stage_format() {
  local clang_format out bad
  clang_format="$(tool clang-format)"
  mapfile -t files < <(check_files)
  echo "$("$clang_format" --version): ${#files[@]} files under ${check_dirs[*]}"
  if out="$("$clang_format" --dry-run --Werror "${files[@]}" 2>&1)"; then return 0; fi
  bad="$(grep -oE '^[^:[:space:]]+\.(cpp|hpp):[0-9]+' <<<"$out" | cut -d: -f1 | sort -u)"
  echo "$out" | head -60
  echo
  echo "Not formatted with the committed .clang-format:"
  sed 's/^/  /' <<<"$bad"
  echo "Fix: $(basename "$clang_format") -i $(tr '\n' ' ' <<<"$bad")"
  return 1
}

stage_build() {
  # Both run; the stage fails when either does (stages run with set +e, see below).
  local rc=0
  build_and_test build "" || rc=$?
  python_tests build || rc=$?
  return "$rc"
}

# The Python package (python/): installed into a venv under <dir>/ from Debian's packages
# only (no downloads), then its pytest suite against the C++ binaries of <dir>.
python_tests() {
  local dir="$1" venv="$1/pyvenv"
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv" || return 1
  "$venv/bin/pip" install --quiet --no-build-isolation --no-index ./python || return 1
  ZMESH_BUILD_DIR="$PWD/$dir" "$venv/bin/python" -P -m pytest -q -p no:cacheprovider python/tests
}

stage_tidy() {
  local run_tidy dirs_re log
  run_tidy="$(tool run-clang-tidy)"
  # compile_commands.json and the generated FlatBuffers headers the sources include.
  configure build "" >/dev/null
  cmake --build build --target zmesh_wire_gen
  dirs_re="^$PWD/($(IFS='|'; echo "${check_dirs[*]}"))/"
  log=build/clang-tidy.log
  echo "$("$(tool clang-tidy)" --version | grep -i version | head -1), -j $jobs, files matching $dirs_re"
  local rc=0
  # Headers are reported when they are ours and in a check dir (never the build tree).
  "$run_tidy" -p build -j "$jobs" -quiet -header-filter="$dirs_re" "$dirs_re" >"$log" 2>&1 || rc=$?
  # Drop the per-file command lines and "N warnings generated"; keep diagnostics, each once
  # (a finding in a header comes back from every file that includes it).
  local diag='^/.*:[0-9]+:[0-9]+: (error|warning): '
  sed -r 's/\x1b\[[0-9;]*m//g' "$log" |
    grep -vE '^(clang-tidy(-[0-9]+)? |[0-9]+ warnings? (and [0-9]+ errors? )?generated|Suppressed [0-9]+ warnings|Use -header-filter|$)' |
    awk -v re="$diag" '$0 ~ re { skip = seen[$0]++ } !skip' || true
  local n
  n="$(sed -r 's/\x1b\[[0-9;]*m//g' "$log" | grep -E "$diag" | sort -u | wc -l)"
  if [ "$rc" -ne 0 ] || [ "$n" -ne 0 ]; then
    echo
    echo "clang-tidy: $n findings (full log: $log). Per check:"
    sed -r 's/\x1b\[[0-9;]*m//g' "$log" | grep -E "$diag" | sort -u |
      grep -oE '\[[a-z0-9.-]+' | tr -d '[' | sort | uniq -c | sort -rn
    echo "Fix them, or for one check that is wrong for us, turn it off in .clang-tidy with its reason."
    return 1
  fi
}

stage_asan() {
  # No benchmarks: they are not tests, and the sanitizer builds are the slow part of CI.
  build_and_test build-asan address,undefined -DZMESH_BUILD_BENCH=OFF
}

stage_tsan() {
  build_and_test build-tsan thread -DZMESH_BUILD_BENCH=OFF
}

stage_package() {
  ZMESH_JOBS="$jobs" tests/package/run.sh
}

failed=()
summary=()
total_start=$SECONDS
for stage in "${stages[@]}"; do
  echo
  echo "=== test.sh: stage $stage ($(date -u +%H:%M:%S)) ==="
  start=$SECONDS
  # A subshell, outside any `if`, so that set -e holds inside the stage.
  set +e
  ("stage_$stage")
  rc=$?
  set -e
  secs=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then result=ok
  elif [ "$rc" -eq 77 ]; then result=skipped  # a stage that cannot run here (package: not root)
  else result=FAILED; failed+=("$stage"); fi
  summary+=("$(printf '  %-7s %-7s %3dm%02ds' "$stage" "$result" $((secs / 60)) $((secs % 60)))")
  echo "=== test.sh: stage $stage $result in $((secs / 60))m$((secs % 60))s ==="
done

echo
echo "=== test.sh summary ==="
printf '%s\n' "${summary[@]}"
secs=$((SECONDS - total_start))
printf '  %-15s %3dm%02ds\n' total $((secs / 60)) $((secs % 60))
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
