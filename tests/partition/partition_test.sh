#!/usr/bin/env bash
# A network partition across "hosts": two zmesh-brokers, three `zmesh reply` peers and a
# probe peer, each in a network namespace of its own, joined by veth pairs to a bridge
# that lives in one more namespace (the machine's own network is not touched). The probe
# (partition_probe.cpp) cuts one peer's link and then one broker's link on the bridge,
# heals them, and checks what happened (see there). Needs root and iproute2; exits 77
# (skipped) saying why where namespaces cannot be made.
#
# usage: partition_test.sh ZMESH_BROKER ZMESH PARTITION_PROBE
# Run by ctest as Partition.CutAPeerThenABrokerThenHeal; by hand (as root):
#   tests/partition/partition_test.sh build/broker/zmesh-broker build/tools/zmesh \
#       build/tests/partition_probe
set -uo pipefail

broker_bin="$1" zmesh_bin="$2" probe_bin="$3"
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "creating network namespaces needs root"
command -v ip >/dev/null || skip "iproute2 ('ip') is not installed"

tag="zp$$"  # unique per run: namespaces zpPID-hub, zpPID-b1, ...
hub="$tag-hub"
nodes=(b1 b2 alpha beta gamma probe)
declare -A addr=([b1]=10.213.0.11 [b2]=10.213.0.12 [alpha]=10.213.0.21 [beta]=10.213.0.22
                 [gamma]=10.213.0.23 [probe]=10.213.0.30)
pids=()
made=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

ip netns add "$hub" 2>/dev/null || skip "cannot create a network namespace here ('ip netns add' failed: no CAP_SYS_ADMIN, or no netns support)"
made+=("$hub")
ip -n "$hub" link set lo up
ip -n "$hub" link add br0 type bridge || skip "cannot create a bridge in a namespace"
ip -n "$hub" link set br0 up
for n in "${nodes[@]}"; do
  ns="$tag-$n"
  ip netns add "$ns" || { echo "FAIL: ip netns add $ns"; exit 1; }
  made+=("$ns")
  ip -n "$ns" link set lo up
  ip link add "v-$n" netns "$ns" type veth peer name "h-$n" netns "$hub" \
    || skip "cannot create veth pairs between namespaces"
  ip -n "$hub" link set "h-$n" master br0
  ip -n "$hub" link set "h-$n" up
  ip -n "$ns" addr add "${addr[$n]}/24" dev "v-$n"
  ip -n "$ns" link set "v-$n" up
done

brokers="tcp://${addr[b1]}:7400,tcp://${addr[b2]}:7400"
logdir="$(mktemp -d)"
for b in b1 b2; do
  ip netns exec "$tag-$b" "$broker_bin" --bind "tcp://${addr[$b]}:7400" --ttl-ms 2000 \
    --renew-ms 400 --log-level warn >"$logdir/$b.log" 2>&1 &
  pids+=($!)
done
for p in alpha beta gamma; do
  ip netns exec "$tag-$p" "$zmesh_bin" reply Echo --echo --name "$p" --service echo \
    --bind "tcp://${addr[$p]}:7500" --broker "$brokers" >"$logdir/$p.log" 2>&1 &
  pids+=($!)
done

ip netns exec "$tag-probe" "$probe_bin" "$brokers" "$hub" h-gamma h-b1 alpha beta gamma
rc=$?
if [ "$rc" -ne 0 ]; then
  for f in "$logdir"/*.log; do echo "--- $(basename "$f")"; tail -n 20 "$f"; done
fi
rm -rf "$logdir"
exit "$rc"
