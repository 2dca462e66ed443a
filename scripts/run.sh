#!/usr/bin/env bash
# The main job: builds zmesh, starts a broker on loopback, and runs peers that find each
# other through it and exchange requests, replies and broadcasts. Exits 0 when every
# step did what it should, and always stops the broker it started.
#   scripts/run.sh                 (ZMESH_PORT=7400 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

# Same configuration as scripts/test.sh, so the two commands share one build.
cmake -S . -B build -G Ninja -DZMESH_WERROR=ON -DZMESH_SANITIZE= >/dev/null
cmake --build build -j "$(nproc)"

port="${ZMESH_PORT:-7400}"
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid"
    wait "$broker_pid" || true
  fi
}
trap cleanup EXIT

# Start the broker on the first free port from $port on.
for attempt in 0 1 2 3 4 5 6 7 8 9; do
  endpoint="tcp://127.0.0.1:$((port + attempt))"
  build/broker/zmesh-broker --bind "$endpoint" --log-level warn &
  broker_pid=$!
  sleep 0.3
  if kill -0 "$broker_pid" 2>/dev/null; then break; fi
  wait "$broker_pid" || true
  broker_pid=""
done
[ -n "$broker_pid" ] || { echo "run.sh: no free port for the broker from $port" >&2; exit 1; }
echo "== broker running at $endpoint (pid $broker_pid)"

echo; echo "== requests and replies: a 'quotes' service found through the broker"
build/examples/example_request_reply --broker "$endpoint"
echo; echo "== broadcasts: a sensor, a dashboard and an alarm"
build/examples/example_telemetry --broker "$endpoint"
echo; echo "== chat: three peers find each other, broadcast, and talk privately by name"
build/examples/example_chat --broker "$endpoint"

echo; echo "== stopping the broker (SIGTERM)"
kill -TERM "$broker_pid"
wait "$broker_pid"
status=$?
broker_pid=""
echo "== broker exited with $status; all done"
