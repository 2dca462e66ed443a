#!/usr/bin/env bash
# Builds deploy/Dockerfile with podman and checks the image as Docker users would run it:
# no Docker daemon and no registry needed. Slow (the build stage compiles the packages;
# 5 to 7 minutes in all on 2 cores), so it is in neither scripts/test.sh nor CI: run it
# by hand after changing deploy/Dockerfile, the packaging or the broker's start and stop.
#   scripts/container-check.sh                 everything below
#   scripts/container-check.sh --reuse-base    keep debian:12 and debian:12-slim if podman
#                                              has them (then the build cache can help)
#   scripts/container-check.sh --no-build      check the zmesh-broker:0.1.0 image podman has
#   scripts/container-check.sh --head          build from the last commit (git archive HEAD)
#                                              with the working tree's deploy/Dockerfile,
#                                              not from the working tree as `docker build .`
#   scripts/container-check.sh --clean         at the end remove the images this run made
#                                              (the base images too, unless reused) and
#                                              the build stage's layers
#   1. base images, made here, not pulled: debian:12 is `debootstrap --variant=minbase
#      bookworm` brought up to date (bookworm-updates, bookworm-security) and imported
#      with `podman import`; debian:12-slim is the same root file system without
#      documentation, manual pages and translations (as Debian's slim images); apt in both
#      uses this machine's Debian mirror (from /etc/apt/sources.list*, or
#      ZMESH_DEBIAN_MIRROR and ZMESH_DEBIAN_SECURITY_MIRROR)
#   2. podman build --format docker -f deploy/Dockerfile -t zmesh-broker:0.1.0 . (nice 19)
#   3. checks: image size; zmesh-broker --version, zmesh --version and --check-config in
#      the image; every library resolved; then twice (plain, and --read-only with no
#      tmpfs, --cap-drop ALL, no-new-privileges as deploy/compose.yaml runs it): the
#      broker published on 127.0.0.1:PORT only, running as uid/gid 10001, healthy
#      (podman healthcheck run), a `zmesh reply` of this machine registered with it is
#      listed by `zmesh peers` and answers `zmesh request --service`, and `podman stop`
#      makes it exit 0 well within the 10 s grace period
#   4. cleanup: the reply process and every container it started are removed, always
# The host's zmesh tool is build/tools/zmesh (ZMESH_TOOL to use another). ZMESH_CHECK_PORT
# picks the host port (default: a free one). When CONTAINERS_CONF is not set, the script
# finds settings under which podman can run a container here (see docs/packaging.md,
# "Container image") and writes them to a containers.conf of its own, used by every
# podman command it runs; it changes nothing in /etc/containers.
# Exits 77 (skipped), with the reason, when it cannot work on this machine: not root,
# podman or debootstrap missing, no Debian mirror reachable, podman unable to run a
# container, no host zmesh tool. Exit 1: the build or a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"

image="zmesh-broker:0.1.0"
reuse_base=false build=true clean=false head=false
for arg in "$@"; do
  case "$arg" in
    --reuse-base) reuse_base=true ;;
    --no-build) build=false ;;
    --clean) clean=true ;;
    --head) head=true ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "container-check: unknown argument '$arg' (--reuse-base, --no-build, --clean, --head)" >&2
       exit 2 ;;
  esac
done

skip() { echo "container check: SKIPPED: $*"; exit 77; }
fail() { echo "container check: FAILED: $*" >&2; exit 1; }
step() { echo; echo "--- container check: $* ($(date -u +%H:%M:%S), ${SECONDS}s)"; }
ok() { echo "ok: $*"; }
# Matched on captured output, never `cmd | grep -q` (SIGPIPE under pipefail).
has() { grep -Eq "$2" <<<"$1"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, and podman's port publishing)"
command -v podman >/dev/null || skip "no podman (apt-get install podman)"
if [ "$build" = true ] && [ "$reuse_base" = false ]; then
  command -v debootstrap >/dev/null || skip "no debootstrap (apt-get install debootstrap)"
fi
zmesh="${ZMESH_TOOL:-$src/build/tools/zmesh}"
[ -x "$zmesh" ] || skip "no zmesh tool at $zmesh: build the tree first (cmake --build build), or set ZMESH_TOOL"

work="$(mktemp -d /tmp/zmesh-container-check.XXXXXX)"
containers=() reply_pid="" made_images=()
cleanup() {
  local rc=$?
  set +e
  if [ -n "$reply_pid" ] && kill -0 "$reply_pid" 2>/dev/null; then
    kill "$reply_pid"; wait "$reply_pid" 2>/dev/null
  fi
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
  if [ "$clean" = true ]; then
    for i in "${made_images[@]}"; do podman rmi -f "$i" >/dev/null 2>&1; done
    podman image prune -f >/dev/null 2>&1
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ podman settings
# Podman runs an image's HEALTHCHECK from systemd timers; without systemd it logs an
# error at every start and stop unless told not to try (the check itself still works:
# podman healthcheck run, below).
[ -d /run/systemd/system ] || export DISABLE_HC_SYSTEMD=true
# Podman's defaults assume a full host. In a sandbox (a VM or a container without
# CAP_SYS_RESOURCE, cgroup v1 with a cgroup2 hierarchy that holds a controller) two of
# them fail; each probe below adds one setting, the first that runs a container wins:
#  - ulimits: podman gives a root container nofile 1048576 (and nproc 1048576 once any
#    other limit is set), and lowers its own nproc to 32768; without CAP_SYS_RESOURCE no
#    limit may exceed the hard limit podman itself has, so ask for this shell's nofile
#    and at most 32768 processes;
#  - runtime: crun refuses cgroup v1 when the cgroup2 mount has controllers ("cgroups in
#    hybrid mode not supported"); runc accepts it.
ulimit_value() { local v; v="$(ulimit -H "$1")"; [ "$v" = unlimited ] && v="$2"; [ "$v" -gt "$2" ] && v="$2"; echo "$v"; }
write_conf() {  # write_conf <with ulimits: true|false> <runtime or "">
  {
    echo "# written by scripts/container-check.sh"
    echo "[containers]"
    if [ "$1" = true ]; then
      local nofile nproc
      nofile="$(ulimit_value -n 1048576)" nproc="$(ulimit_value -u 32768)"
      echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    fi
    echo "[engine]"
    [ -n "$2" ] && echo "runtime = \"$2\""
    echo "events_logger = \"file\""
  } >"$work/containers.conf"
}
probe() {  # probe <image>: can podman run a container, with a network, here?
  local out
  if out="$(podman run --rm --entrypoint /bin/true "$1" 2>&1)"; then return 0; fi
  probe_errors+="    $(head -n 1 <<<"$out")"$'\n'
  return 1
}
choose_settings() {  # needs a local image to probe with
  if [ -n "${CONTAINERS_CONF:-}" ]; then
    probe "$1" || skip "podman cannot run a container with CONTAINERS_CONF=$CONTAINERS_CONF:
$probe_errors"
    echo "podman: CONTAINERS_CONF=$CONTAINERS_CONF (given)"
    return
  fi
  export CONTAINERS_CONF="$work/containers.conf"
  local u r
  for u in false true; do
    for r in "" runc; do
      [ -n "$r" ] && ! command -v "$r" >/dev/null && continue
      write_conf "$u" "$r"
      if probe "$1"; then
        echo "podman: ulimits from this shell: $u; runtime: ${r:-the default}"
        sed 's/^/    /' "$CONTAINERS_CONF"
        return
      fi
    done
  done
  local hint=""
  has "$probe_errors" 'netavark' && ! command -v iptables >/dev/null &&
    hint=$'\n'"  (netavark needs iptables: apt-get install iptables)"
  has "$probe_errors" 'hybrid mode' && ! command -v runc >/dev/null &&
    hint+=$'\n'"  (crun refuses this cgroup setup, runc does not: apt-get install runc)"
  skip "podman cannot run a container here; it said:
$probe_errors$hint"
}
probe_errors=""

# ------------------------------------------------------------------ 1. base images
# debootstrap's mirror: the one this machine's apt uses.
apt_uris() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | sed -nE 's/^[[:space:]]*URIs:[[:space:]]*//p; s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' |
    tr ' ' '\n'
}
mirror="${ZMESH_DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian/?$' | head -n 1 || true)}"
mirror="${mirror%/}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${ZMESH_DEBIAN_SECURITY_MIRROR:-$(apt_uris | grep -E '/debian-security/?$' | head -n 1 || true)}"
security="${security%/}"
security="${security:-${mirror}-security}"

make_base_images() {
  local rootfs="$work/rootfs" slim="$work/rootfs-slim" t0=$SECONDS
  echo "mirror: $mirror, security: $security"
  echo "+ debootstrap --variant=minbase bookworm $rootfs $mirror"
  nice -n 19 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    skip "debootstrap failed (is $mirror reachable?); the end of its log:
$(tail -n 5 "$work/debootstrap.log")"
  # apt as in Debian's images: bookworm, -updates and -security, from the same mirror;
  # no package lists and no .deb files left in the image.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The updates and security fixes, as Debian's images have them; this also shows that
  # apt in the image reaches the mirror.
  echo "+ chroot rootfs apt-get update && apt-get upgrade"
  chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' \
    >"$work/upgrade.log" 2>&1 ||
    skip "apt-get update/upgrade in the new root file system failed; the end of its log:
$(tail -n 5 "$work/upgrade.log")"
  echo "upgraded: $(grep -c '^Unpacking ' "$work/upgrade.log" || true) packages"
  # debootstrap copied this machine's resolv.conf and hostname; podman provides its own.
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  find "$rootfs/var/cache/apt/archives" -name '*.deb' -delete
  # What Debian's images on Docker Hub (debuerreotype) add to apt: downloaded packages
  # and apt's caches are deleted after every run, no translations are fetched. Without
  # docker-clean an `apt-get install` layer keeps its .deb files (80 MB more here).
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # slim: what Debian's -slim images leave out, and dpkg told to leave it out later too.
  cp -a "$rootfs" "$slim"
  cat >"$slim/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# as in Debian's -slim images: no documentation, manual pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$slim/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$slim/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$slim"/usr/share/man/* "$slim"/usr/share/groff/* "$slim"/usr/share/info/* \
    "$slim"/usr/share/lintian/* "$slim"/usr/share/linda/* "$slim"/usr/share/locale/*
  echo "+ tar -C rootfs -c . | podman import - debian:12   (and rootfs-slim: debian:12-slim)"
  tar -C "$rootfs" -c . | podman import -q --change 'CMD ["bash"]' - localhost/debian:12 >/dev/null
  tar -C "$slim" -c . | podman import -q --change 'CMD ["bash"]' - localhost/debian:12-slim >/dev/null
  made_images+=(localhost/debian:12 localhost/debian:12-slim)
  echo "root file systems: debian:12 $(du -sh "$rootfs" | cut -f1), debian:12-slim $(du -sh "$slim" | cut -f1) ($((SECONDS - t0)) s)"
  rm -rf "$rootfs" "$slim"
}

step "base images"
if [ "$build" = false ]; then
  echo "(--no-build: no base images needed)"
elif [ "$reuse_base" = true ] && podman image exists debian:12 && podman image exists debian:12-slim; then
  echo "reusing debian:12 and debian:12-slim"
else
  make_base_images
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' | grep -E '^[^ ]*debian:12' || true
if [ "$build" = true ]; then
  choose_settings debian:12-slim
else
  podman image exists "$image" || skip "--no-build and podman has no $image"
  choose_settings "$image"
fi

# ------------------------------------------------------------------ 2. build
if [ "$build" = true ]; then
  step "podman build (the build stage compiles the packages; log: /tmp/zmesh-container-check.build.log)"
  # --format docker keeps HEALTHCHECK (the OCI format has none); --pull=never: the base
  # images are the local ones; --force-rm: no build container left after a failure.
  context=.
  if [ "$head" = true ]; then
    # The sources of the last commit; uncommitted changes (someone else's work in
    # progress too) stay out of the image.
    context="$work/context"
    mkdir "$context"
    git archive --format=tar HEAD | tar -x -C "$context"
    echo "context: git archive HEAD ($(git rev-parse --short HEAD)) in $context"
  fi
  echo "+ nice -n 19 podman build --format docker --pull=never --force-rm -f deploy/Dockerfile -t $image $context"
  t0=$SECONDS
  build_log=/tmp/zmesh-container-check.build.log
  if ! nice -n 19 podman build --format docker --pull=never --force-rm \
      -f deploy/Dockerfile -t "$image" "$context" >"$build_log" 2>&1; then
    tail -n 40 "$build_log"
    fail "podman build (whole log: $build_log)"
  fi
  grep -E '^(\[[0-9]+/[0-9]+\] )?(STEP [0-9]+/[0-9]+|Successfully tagged)' "$build_log" | cut -c1-150 || true
  made_images+=("$image")
  echo "build: $((SECONDS - t0)) s"
fi

# ------------------------------------------------------------------ 3. checks

step "the image"
podman images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' | grep -E '^[^ ]*(zmesh-broker|debian):' || true
size="$(podman image inspect -f '{{.Size}}' "$image")"
echo "$image: $((size / 1000000)) MB ($size bytes)"
config="$(podman image inspect -f 'user={{.Config.User}} entrypoint={{.Config.Entrypoint}} cmd={{.Config.Cmd}} stopsignal={{.Config.StopSignal}} exposed={{.Config.ExposedPorts}}' "$image")"
echo "$config"
has "$config" 'user=10001:10001' || fail "image user is not 10001:10001"
health="$(podman inspect -f '{{.HealthCheck}}' "$image" 2>/dev/null || podman image inspect -f '{{.Healthcheck}}' "$image")"
echo "healthcheck: $health"
has "$health" '/dev/tcp/127.0.0.1/7400' || fail "the image has no HEALTHCHECK (built without --format docker?)"

v="$(podman run --rm --read-only "$image" --version)"
echo "zmesh-broker --version: $v"
has "$v" '^zmesh-broker [0-9]+\.[0-9]+\.[0-9]+ \(protocol v[0-9]+\)$' || fail "zmesh-broker --version"
v="$(podman run --rm --read-only --entrypoint zmesh "$image" --version)"
echo "zmesh --version: $v"
has "$v" '^zmesh [0-9]+\.[0-9]+\.[0-9]+ \(protocol v[0-9]+\)$' || fail "zmesh --version"
out="$(podman run --rm --read-only "$image" --config /etc/zmesh/zmesh-broker.conf --check-config 2>&1)" ||
  { echo "$out"; fail "--check-config of the packaged config, as uid 10001"; }
ok "--check-config of /etc/zmesh/zmesh-broker.conf as uid 10001 (bind $(sed -n 's/^bind *= *//p' <<<"$out"))"
id_out="$(podman run --rm --read-only --entrypoint id "$image")"
echo "id: $id_out"
has "$id_out" '^uid=10001\(zmesh\) gid=10001\(zmesh\)' || fail "the image runs as $id_out"
libs="$(podman run --rm --read-only --entrypoint ldd "$image" /usr/bin/zmesh-broker /usr/bin/zmesh 2>&1)"
has "$libs" 'not found' && { echo "$libs"; fail "a library the packages need is missing from the image"; }
ok "ldd: every library of zmesh-broker and zmesh is in the image ($(grep -c '=>' <<<"$libs") lines)"
echo "installed: $(podman run --rm --entrypoint dpkg-query "$image" -W -f='${Package}=${Version} ' libzmesh1 zmesh-broker zmesh-tools)"

free_port() {
  local p
  for p in $(shuf -i 20000-40000 -n 100); do
    [ -z "$(ss -Hltn "( sport = :$p )")" ] && { echo "$p"; return; }
  done
  fail "no free port"
}
port="${ZMESH_CHECK_PORT:-$(free_port)}"
broker="tcp://127.0.0.1:$port"

run_broker() {  # run_broker <label> [podman run options...]
  local label="$1" name="zmesh-check-$$-$1"
  shift
  step "broker container ($label)${*:+: $*}"
  echo "+ podman run -d --name $name -p 127.0.0.1:$port:7400 $* $image"
  podman run -d --name "$name" -p "127.0.0.1:$port:7400" "$@" "$image" >/dev/null
  containers+=("$name")
  local i
  for i in $(seq 50); do
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
    [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] ||
      { podman logs "$name"; fail "the broker exited: $(podman inspect -f '{{.State.ExitCode}}' "$name")"; }
    sleep 0.2
  done
  ok "broker reachable at $broker"
  # Published on loopback only: podman's reservation of the host port is on 127.0.0.1,
  # and this machine's other address refuses the connection.
  local ports listeners addr
  ports="$(podman port "$name")"
  listeners="$(ss -Hltnp "( sport = :$port )" | awk '{print $4, $6}')"
  echo "published: $ports; listening on the host: $listeners"
  has "$ports" '^7400/tcp -> 127\.0\.0\.1:' || fail "published as: $ports"
  if ! has "$listeners" '^127\.0\.0\.1:' || has "$listeners" '^(0\.0\.0\.0|\*|\[::\]):'; then
    fail "the host listens on: $listeners"
  fi
  addr="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')"
  if [ -n "$addr" ]; then
    ! timeout 3 bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null ||
      fail "the broker is reachable at $addr:$port"
    ok "not reachable at this machine's address $addr:$port"
  fi

  # The broker process, seen from the host: uid and gid 10001.
  local pid ids
  pid="$(podman inspect -f '{{.State.Pid}}' "$name")"
  ids="$(ps -o uid=,gid=,args= -p "$pid")"
  echo "broker process (host pid $pid): uid gid args = $(tr -s ' ' <<<"$ids")"
  has "$ids" '^ *10001 +10001 +/usr/bin/zmesh-broker --bind tcp://0\.0\.0\.0:7400' ||
    fail "the broker does not run as 10001:10001"
  echo "$(podman inspect -f 'read-only root: {{.HostConfig.ReadonlyRootfs}}' "$name");" \
    "$(grep -E '^(CapEff|NoNewPrivs):' "/proc/$pid/status" | tr -s '\t\n' '  ')"

  local v
  v="$(podman exec "$name" zmesh-broker --version)" || fail "podman exec zmesh-broker --version"
  echo "podman exec $name zmesh-broker --version: $v"

  # The image's own health check (bash's /dev/tcp inside the container).
  local h
  h="$(podman healthcheck run "$name" 2>&1)" || fail "podman healthcheck run: $h"
  ok "healthcheck: ${h:-healthy}"

  # A peer of this machine registers with the broker in the container.
  local peer="container-check-$$-$label"
  "$zmesh" reply Echo --echo --name "$peer" --service container-check --broker "$broker" \
    >"$work/reply.out" 2>"$work/reply.err" &
  reply_pid=$!
  for i in $(seq 50); do [ -s "$work/reply.out" ] && break; sleep 0.2; done
  [ -s "$work/reply.out" ] || { cat "$work/reply.err"; fail "zmesh reply did not register"; }
  echo "zmesh reply: $(head -n 1 "$work/reply.out")"
  local peers
  echo "+ zmesh peers --broker $broker"
  peers="$("$zmesh" peers --broker "$broker")" || fail "zmesh peers"
  echo "$peers"
  has "$peers" "^$peer " || fail "zmesh peers does not list $peer"
  local answer
  answer="$("$zmesh" request --service container-check Echo "hello $label" --broker "$broker")" ||
    fail "zmesh request --service container-check"
  echo "zmesh request --service container-check Echo 'hello $label': $answer"
  [ "$answer" = "hello $label" ] || fail "the reply was '$answer'"
  kill "$reply_pid"
  wait "$reply_pid" || fail "zmesh reply exited $?"
  reply_pid=""

  # podman stop: SIGTERM, then SIGKILL after 10 s; the broker must exit 0 well before.
  local t0 t1 code
  t0="$(date +%s%N)"
  podman stop -t 10 "$name" >/dev/null
  t1="$(date +%s%N)"
  code="$(podman inspect -f '{{.State.ExitCode}}' "$name")"
  echo "podman stop: $(( (t1 - t0) / 1000000 )) ms, exit code $code"
  echo "broker log (last lines):"
  podman logs "$name" 2>&1 | tail -n 4 | sed 's/^/    /'
  [ "$code" = 0 ] || fail "the broker exited $code on podman stop"
  [ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "podman stop took over 5 s"
  podman rm "$name" >/dev/null
  ok "stopped: exit 0, container removed"
}

run_broker plain
# As deploy/compose.yaml runs it. --read-only-tmpfs=false: podman would otherwise mount
# tmpfs on /tmp, /var/tmp and /run, which docker --read-only does not.
run_broker read-only --read-only --read-only-tmpfs=false --cap-drop ALL \
  --security-opt no-new-privileges

step "cleanup"
left="$(podman ps -a --filter "name=zmesh-check-$$" --format '{{.Names}}')"
[ -z "$left" ] || fail "containers left: $left"
listen="$(ss -Hltn "( sport = :$port )")"
[ -z "$listen" ] || fail "something still listens on $port: $listen"
ok "no container left, nothing listening on $port"
echo
echo "container check: OK ($SECONDS s)"
