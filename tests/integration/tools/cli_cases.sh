#!/usr/bin/env bash
# Prints a markdown table of how zmesh and zmesh-broker answer bad input (issue 10): for
# each case the exit code, the seconds it took, the number of lines on stderr and the
# first of them, for two builds side by side.
#
#   tests/integration/tools/cli_cases.sh BEFORE AFTER
#
# BEFORE and AFTER are each a directory holding zmesh and zmesh-broker, or a build
# directory (tools/zmesh, broker/zmesh-broker). Every command runs under `timeout 8`
# (exit 124 = still running when killed) and with at most 2 GiB of address space, so
# that a build which reads /dev/zero without a bound fails instead of eating the machine.
# Needs nothing else: no network beyond loopback; the broker cases never bind.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 BEFORE_DIR AFTER_DIR" >&2
  exit 2
fi

bin() {  # bin DIR NAME
  if [ -x "$1/$2" ]; then echo "$1/$2"; return; fi
  case $2 in
    zmesh) echo "$1/tools/zmesh" ;;
    zmesh-broker) echo "$1/broker/zmesh-broker" ;;
  esac
}

work=$(mktemp -d)
brokers=()
cleanup() {
  for pid in "${brokers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

head -c 300 "$(bin "$2" zmesh-broker)" > "$work/binary.conf"
printf 'ttl-ms = 5000\nrenew-ms 1000\n' > "$work/no-equals.conf"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 's' > "$work/17MiB"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A broker of each build, for the name lookups (not in $(...): it would wait for them).
broker_before="tcp://127.0.0.1:$(free_port)"
"$(bin "$1" zmesh-broker)" --bind "$broker_before" --log-level off > /dev/null 2>&1 &
brokers+=($!)
broker_after="tcp://127.0.0.1:$(free_port)"
"$(bin "$2" zmesh-broker)" --bind "$broker_after" --log-level off > /dev/null 2>&1 &
brokers+=($!)
sleep 0.3

# run DIR STDIN ENV PROGRAM ARGS... -> "code|seconds|stderr lines|first stderr line"
run() {
  local dir=$1 input=$2 env=$3 program=$4
  shift 4
  local exe start end code line lines
  exe=$(bin "$dir" "$program")
  start=$(date +%s.%N)
  (
    ulimit -v 2097152
    if [ -n "$env" ]; then export "${env?}"; else unset ZMESH_BROKER; fi
    exec timeout 8 "$exe" "$@" < "$input" > /dev/null 2> "$work/err"
  )
  code=$?
  end=$(date +%s.%N)
  # Shown with cat -v (^? for DEL, M-x for high bytes): the table stays text.
  line=$(head -n 1 "$work/err" | LC_ALL=C cat -v | cut -c 1-200 | sed 's/|/\\|/g')
  [ -n "$line" ] || line="(nothing)"
  lines=$(wc -l < "$work/err")
  printf '%s|%.1f|%s|%s' "$code" "$(echo "$end - $start" | bc)" "$lines" "$line"
}

echo "| case | before: exit | s | lines | before: first stderr line | after: exit | s | lines | after: first stderr line |"
echo "|---|---|---|---|---|---|---|---|---|"
# case LABEL STDIN ENV PROGRAM ARGS...   (BROKER in ARGS becomes each build's broker)
case_() {
  local label=$1 input=$2 env=$3 program=$4
  shift 4
  local before_args=() after_args=()
  for a in "$@"; do
    before_args+=("${a//BROKER/$broker_before}")
    after_args+=("${a//BROKER/$broker_after}")
  done
  local b a
  b=$(run "$BEFORE" "$input" "$env" "$program" "${before_args[@]}")
  a=$(run "$AFTER" "$input" "$env" "$program" "${after_args[@]}")
  IFS='|' read -r bc bs bn bl <<< "$b"
  IFS='|' read -r ac as an al <<< "$a"
  echo "| \`$label\` | $bc | $bs | $bn | $bl | $ac | $as | $an | $al |"
}
BEFORE=$1
AFTER=$2
N=/dev/null
nobody=tcp://127.0.0.1:1

case_ "reply Echo --count -1" $N "" zmesh reply Echo --count -1
case_ "reply Echo --count 10x" $N "" zmesh reply Echo --count 10x
case_ "reply Echo --count 99999999999999999999" $N "" zmesh reply Echo --count 99999999999999999999
case_ "reply Echo --workers -1" $N "" zmesh reply Echo --workers -1
case_ "publish t T x --count -1" $N "" zmesh publish t T x --count -1
case_ "publish t T x --wait-subscribers -1" $N "" zmesh publish t T x --wait-subscribers -1 --timeout 2s
case_ "subscribe p --connect $nobody --count -1" $N "" zmesh subscribe p --connect $nobody --count -1 --timeout 1s
case_ "ping $nobody --count -1" $N "" zmesh ping $nobody --count -1 --timeout 1s
case_ "request $nobody Echo x --timeout nan" $N "" zmesh request $nobody Echo x --timeout nan
case_ "request $nobody Echo x --timeout inf" $N "" zmesh request $nobody Echo x --timeout inf
case_ "request $nobody Echo x --timeout -1s" $N "" zmesh request $nobody Echo x --timeout -1s
case_ "publish t T x --interval nan" $N "" zmesh publish t T x --interval nan
case_ "request tcp://nohost.invalid:5555 Echo x --timeout 2s" $N "" zmesh request tcp://nohost.invalid:5555 Echo x --timeout 2s
case_ "request tcp://127.0.0.1:99999 Echo x --timeout 2s" $N "" zmesh request tcp://127.0.0.1:99999 Echo x --timeout 2s
case_ "request tcp://*:5555 Echo x --timeout 2s" $N "" zmesh request 'tcp://*:5555' Echo x --timeout 2s
case_ "request pricing Echo x --broker bogus" $N "" zmesh request pricing Echo x --broker bogus
case_ "ZMESH_BROKER=bogus request pricing Echo x" $N "ZMESH_BROKER=bogus" zmesh request pricing Echo x
case_ "peers --broker tcp://nohost.invalid:7400 --timeout 2s" $N "" zmesh peers --broker tcp://nohost.invalid:7400 --timeout 2s
case_ "request $nobody Echo @/etc" $N "" zmesh request $nobody Echo @/etc
case_ "request $nobody Echo @/dev/zero" $N "" zmesh request $nobody Echo @/dev/zero
case_ "request $nobody Echo - (17 MiB on stdin)" "$work/17MiB" "" zmesh request $nobody Echo - --timeout 2s
case_ "request nobody Echo x --broker B" $N "" zmesh request nobody Echo x --broker BROKER --timeout 2s
case_ "request $nobody Echo x --timeout 300ms" $N "" zmesh request $nobody Echo x --timeout 300ms
case_ "zmesh-broker --check-config --max-payload-bytes 1" $N "" zmesh-broker --check-config --max-payload-bytes 1
case_ "ZMESH_BROKER_MAX_PAYLOAD_BYTES=1 zmesh-broker --check-config" $N "ZMESH_BROKER_MAX_PAYLOAD_BYTES=1" zmesh-broker --check-config
case_ "zmesh-broker --check-config --max-peers -1" $N "" zmesh-broker --check-config --max-peers -1
case_ "zmesh-broker --check-config --ttl-ms nan" $N "" zmesh-broker --check-config --ttl-ms nan
case_ "zmesh-broker --check-config --max-payload-bytes 10x" $N "" zmesh-broker --check-config --max-payload-bytes 10x
case_ "zmesh-broker --check-config --config binary.conf" $N "" zmesh-broker --check-config --config "$work/binary.conf"
case_ "zmesh-broker --check-config --config no-equals.conf" $N "" zmesh-broker --check-config --config "$work/no-equals.conf"
