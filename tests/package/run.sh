#!/usr/bin/env bash
# The package test (scripts/test.sh package): builds the Debian packages, checks them
# with lintian, installs them on this machine, uses them as a user would, swaps in a
# rebuilt library, and purges them again. It installs into the running system, so it is
# meant for a disposable machine (CI's Debian 12 container) and needs root.
#   1. scripts/build-debs.sh build-pkg                       (the four .deb files)
#   2. lintian: no error or warning that is not overridden with its reason
#   3. dpkg -i; zmesh-broker --version, zmesh --version; the system user, the unit
#      enabled and not started, the conffile, the config valid as the zmesh user
#   4. the exported symbols of the shared libraries (check_exports.sh)
#   5. consumers of the installed tree: app.cpp and tests/install/consumer/main.cpp with
#      plain `c++ ... $(pkg-config ...)`, app.cpp linked statically, and
#      tests/install/consumer with find_package(zmesh)
#   6. ABI: the app built in 5 runs on a rebuild of libzmesh_core/libzmesh_peer (same
#      soname, another version string, -O0) put before the installed ones
#   7. dpkg --remove keeps only the (changed) conffile; dpkg --purge leaves nothing:
#      no file, unit link, mask or user
# Exits 77 (skipped) when not root. Work files in build-pkg/package-test/, the rebuild in
# build-pkg/abi-rebuild/.
set -euo pipefail
cd "$(dirname "$0")/../.."
src="$PWD"
dir=build-pkg
work="$PWD/$dir/package-test"
packages=(libzmesh1 libzmesh-dev zmesh-broker zmesh-tools)
version="$(sed -n 's/^project(zmesh VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
libdir="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
# ldd names the directory as the loader cache has it: /lib/... on a merged-/usr system.
loaded_from_libdir="=> (/usr)?/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/"

if [ "$(id -u)" -ne 0 ]; then
  echo "package test: SKIPPED: it installs packages with dpkg and needs root"
  exit 77
fi
step() { echo; echo "--- package test: $* ($(date -u +%H:%M:%S))"; }
fail() { echo "package test: FAILED: $*" >&2; exit 1; }
# Matches are made on captured output, never `cmd | grep -q`: grep -q may exit before cmd
# has written everything, and with pipefail cmd's SIGPIPE would fail the pipeline.
has() { grep -Eq "$2" <<<"$1"; }
installed() { has "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" '^[ih]'; }
# The paths named *zmesh* a package could have left, outside the work trees.
zmesh_paths() {
  find /etc /usr /var /lib /opt -xdev -name '*zmesh*' -not -path '/var/tmp/*' 2>/dev/null | sort
}

for p in "${packages[@]}"; do
  installed "$p" && fail "$p is installed already; this test installs and purges the packages: purge them first (dpkg --purge ${packages[*]})"
done
getent passwd zmesh >/dev/null && fail "a user zmesh exists already; the package creates it and its purge removes it"
rm -rf "$work"
mkdir -p "$work"
zmesh_paths >"$work/paths-before"
# Whatever happens below, the machine is left without the packages.
trap 'dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true' EXIT

step "1. build the packages"
ZMESH_WERROR=ON scripts/build-debs.sh "$dir"
debs=()
for p in "${packages[@]}"; do debs+=("$dir/packages/${p}_${version}_$(dpkg --print-architecture).deb"); done
for d in "${debs[@]}"; do
  printf '  %-40s %6s KiB  Depends: %s\n' "$(basename "$d")" "$(($(stat -c %s "$d") / 1024))" \
    "$(dpkg-deb -f "$d" Depends)"
done

step "2. lintian"
rc=0
# (--show-overrides would make --fail-on count the overridden tags too.)
lintian --fail-on error,warning "${debs[@]}" >"$work/lintian.log" 2>&1 || rc=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
[ "$rc" -eq 0 ] || fail "lintian: an error or warning without an override (docs/packaging.md)"
echo "  lintian: no errors or warnings; overridden, each with its reason:"
grep -v '^#' deploy/debian/libzmesh1/lintian-overrides | sed 's/^/    /'

step "3. install"
dpkg -i "${debs[@]}"
for p in "${packages[@]}"; do installed "$p" || fail "$p did not install"; done
zmesh-broker --version | tee "$work/broker-version"
zmesh --version | tee "$work/tools-version"
grep -q "^zmesh-broker $version " "$work/broker-version" || fail "zmesh-broker --version"
grep -q "^zmesh $version " "$work/tools-version" || fail "zmesh --version"
[ "$(command -v zmesh-broker)" = /usr/bin/zmesh-broker ] || fail "zmesh-broker is not /usr/bin's"
for m in zmesh zmesh-broker; do [ -s "/usr/share/man/man1/$m.1.gz" ] || fail "no manual page $m(1)"; done
uid="$(id -u zmesh)" || fail "no system user zmesh"
[ "$uid" -lt 1000 ] || fail "user zmesh is not a system user (uid $uid)"
[ -L /etc/systemd/system/multi-user.target.wants/zmesh-broker.service ] ||
  fail "zmesh-broker.service is not enabled"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/zmesh-broker.service ||
    fail "systemd-analyze verify zmesh-broker.service"
else
  echo "  (no systemd on this machine: the unit is not checked with systemd-analyze verify)"
fi
grep -q '^ExecStart=/usr/bin/zmesh-broker ' /lib/systemd/system/zmesh-broker.service || fail "unit ExecStart"
grep -q '^User=zmesh$' /lib/systemd/system/zmesh-broker.service || fail "unit User="
has "$(dpkg-query -W -f='${Conffiles}\n' zmesh-broker)" '/etc/zmesh/zmesh-broker.conf' ||
  fail "/etc/zmesh/zmesh-broker.conf is not a conffile"
runuser -u zmesh -- zmesh-broker --check-config --config /etc/zmesh/zmesh-broker.conf >/dev/null ||
  fail "the installed config, read as user zmesh"
echo "  user zmesh (uid $uid), unit enabled, conffile valid"

step "4. exported symbols"
"$src/tests/package/check_exports.sh" "$libdir/libzmesh_core.so.1" "$libdir/libzmesh_peer.so.1"

step "5. consumers of the installed packages"
cd "$work"
# shellcheck disable=SC2046  # pkg-config's output is meant to be split
c++ -o core_consumer "$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs zmesh)
./core_consumer
# shellcheck disable=SC2046
c++ -o app "$src/tests/package/app.cpp" $(pkg-config --cflags --libs zmesh-peer)
has "$(ldd app)" "libzmesh_peer.so.1 $loaded_from_libdir" || fail "app does not load $libdir/libzmesh_peer.so.1"
./app "$version"
# The static libraries of libzmesh-dev; libzmq and the C++ runtime stay shared.
# shellcheck disable=SC2046
c++ -o app_static "$src/tests/package/app.cpp" $(pkg-config --cflags zmesh-peer) \
  -Wl,-Bstatic -lzmesh_peer -lzmesh_core -Wl,-Bdynamic \
  $(pkg-config --libs-only-l --static zmesh-peer | tr ' ' '\n' | grep -vE '^-l(zmesh_|stdc\+\+$)') -pthread
has "$(ldd app_static)" libzmesh && fail "app_static loads a zmesh shared library"
./app_static "$version"
cmake -S "$src/tests/install/consumer" -B cmake-consumer -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "-DZMESH_EXAMPLES_DIR=$src/examples" >/dev/null
grep -q "^zmesh_DIR:PATH=$libdir/cmake/zmesh$" cmake-consumer/CMakeCache.txt ||
  fail "find_package(zmesh) did not find the packaged $libdir/cmake/zmesh"
cmake --build cmake-consumer -j "${ZMESH_JOBS:-$(nproc)}" >/dev/null
./cmake-consumer/consumer
./cmake-consumer/example_request_reply >/dev/null
has "$(ldd cmake-consumer/example_request_reply)" "libzmesh_peer.so.1 $loaded_from_libdir" ||
  fail "the CMake consumer does not load the shared libzmesh_peer"
cd "$src"

step "6. a compatible rebuild of the libraries swapped in under the app"
rebuilt="$PWD/$dir/abi-rebuild"  # kept: the next run rebuilds only what changed
cmake -S . -B "$rebuilt" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 \
  -DZMESH_SHARED=ON -DZMESH_VERSION_SUFFIX=+rebuilt \
  -DZMESH_BUILD_TESTS=OFF -DZMESH_BUILD_BENCH=OFF -DZMESH_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$rebuilt" -j "${ZMESH_JOBS:-$(nproc)}" --target zmesh_core zmesh_peer >/dev/null
for l in core:lib peer:peer; do
  so="$rebuilt/${l#*:}/libzmesh_${l%:*}.so.1"
  [ "$(objdump -p "$so" | awk '/SONAME/ { print $2 }')" = "libzmesh_${l%:*}.so.1" ] || fail "soname of $so"
  cmp -s "$so" "$libdir/libzmesh_${l%:*}.so.1" && fail "$so is the installed library"
done
has "$(LD_LIBRARY_PATH="$rebuilt/lib:$rebuilt/peer" ldd "$work/app")" "libzmesh_peer.so.1 => $rebuilt/peer/" ||
  fail "the rebuilt libzmesh_peer is not the one loaded"
LD_LIBRARY_PATH="$rebuilt/lib:$rebuilt/peer" "$work/app" "$version+rebuilt"
"$src/tests/package/check_exports.sh" "$rebuilt/lib/libzmesh_core.so.1" "$rebuilt/peer/libzmesh_peer.so.1"

step "7. remove, then purge"
echo "# changed by the package test" >>/etc/zmesh/zmesh-broker.conf
dpkg --remove "${packages[@]}"
[ -e /usr/bin/zmesh-broker ] || [ -e /usr/bin/zmesh ] || [ -e "$libdir/libzmesh_core.so.1" ] &&
  fail "dpkg --remove left programs or libraries"
grep -q "changed by the package test" /etc/zmesh/zmesh-broker.conf ||
  fail "dpkg --remove did not keep the changed conffile"
dpkg --purge "${packages[@]}"
for p in "${packages[@]}"; do installed "$p" && fail "$p is still installed"; done
getent passwd zmesh >/dev/null && fail "purge left the user zmesh"
getent group zmesh >/dev/null && fail "purge left the group zmesh"
zmesh_paths >"$work/paths-after"
if ! diff -u "$work/paths-before" "$work/paths-after"; then
  fail "dpkg --purge left the files above (+)"
fi
trap - EXIT
echo "  purged: no file, unit link, mask, user or group left"
echo
echo "package test passed"
