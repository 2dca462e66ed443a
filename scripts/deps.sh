#!/usr/bin/env bash
# Installs zmesh's build and test dependencies from Debian 12 packages. Idempotent: it
# runs apt-get only for packages that are missing. Needs root (or sudo) when it installs.
#   scripts/deps.sh            build and test
#   scripts/deps.sh --checks   also clang-format-14 and clang-tidy-14 (scripts/test.sh --all)
#   scripts/deps.sh --package  also what the Debian packages need: help2man (manual pages),
#                              file (CPack), lintian and adduser (zmesh-broker's Depends)
#                              for scripts/test.sh package, which installs them with dpkg -i
# The flags combine: scripts/deps.sh --checks --package.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libzmq3-dev cppzmq-dev
  libflatbuffers-dev flatbuffers-compiler
  libboost-program-options-dev
  libspdlog-dev nlohmann-json3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-zmq python3-flatbuffers python3-pytest python3-pytest-timeout python3-setuptools
  python3-wheel python3-venv python3-prometheus-client
)
# Pinned to 14: another clang-format version formats some lines differently.
for arg in "$@"; do
  case "$arg" in
    --checks) packages+=(clang-format-14 clang-tidy-14) ;;
    --package) packages+=(help2man file lintian adduser) ;;
    *) echo "deps.sh: unknown argument '$arg' (--checks, --package)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
