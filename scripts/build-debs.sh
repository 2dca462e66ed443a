#!/usr/bin/env bash
# Builds zmesh's Debian packages: libzmesh1, libzmesh-dev, zmesh-broker, zmesh-tools.
#   scripts/build-debs.sh [build dir]     default build-pkg/; the .deb files end up in
#                                         <build dir>/packages/
# Shared libraries (ZMESH_SHARED), prefix /usr, Debian's hardening flags from
# dpkg-buildflags, no tests, benchmarks or examples. ZMESH_WERROR=ON makes warnings
# errors (scripts/test.sh package does); ZMESH_JOBS sets the build parallelism.
# docs/packaging.md explains the packages; deploy/Dockerfile builds its image from them.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-pkg}"
jobs="${ZMESH_JOBS:-$(nproc)}"

scripts/deps.sh --package

# PIE, -z relro -z now, _FORTIFY_SOURCE, stack protector: what a Debian package gets.
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
cmake -S . -B "$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX=/usr \
  "-DCMAKE_CXX_FLAGS=$CXXFLAGS $CPPFLAGS" \
  "-DCMAKE_EXE_LINKER_FLAGS=$LDFLAGS" "-DCMAKE_SHARED_LINKER_FLAGS=$LDFLAGS" \
  -DZMESH_SHARED=ON -DZMESH_PACKAGE=ON -DZMESH_WERROR="${ZMESH_WERROR:-OFF}" \
  -DZMESH_BUILD_TESTS=OFF -DZMESH_BUILD_BENCH=OFF -DZMESH_BUILD_EXAMPLES=OFF
cmake --build "$dir" -j "$jobs"
rm -f "$dir"/packages/*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
ls -l "$dir"/packages/*.deb
