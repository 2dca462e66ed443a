#!/usr/bin/env bash
# Builds zmesh and runs its main job on loopback.
# (Until the peer and broker land, the main job is the encode_request example.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja
cmake --build build -j "$(nproc)"
build/examples/example_encode_request
