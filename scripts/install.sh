#!/bin/sh
# Installs Sluice as a systemd service on a Linux host (README: "Install as a service").
#
#   sudo scripts/install.sh [--prefix /opt/sluice] [options]
#
# What it does, each step safe to repeat (running the script twice changes nothing the second time):
#   1. code: copies the checkout into the prefix (rsync; skipped when the prefix is the checkout),
#      then `npm ci --omit=dev` there (skipped when package-lock.json did not change since the last
#      install and node_modules is present);
#   2. account: a `sluice` system user (systemd-sysusers with deploy/sysusers.conf.in, else useradd);
#   3. config: /etc/sluice/sluice.conf from deploy/sluice.conf.in (Kong key names), only if absent;
#   4. service: /etc/systemd/system/sluice.service from deploy/sluice.service.in, logrotate rules,
#      a sysctl drop-in (tcp_migrate_req for reloads without reset connections), a `sluice`
#      command in /usr/local/bin; `systemctl daemon-reload` when the unit changed.
# It does not start the service: `systemctl enable --now sluice` (or pass --enable).
#
# Options:
#   --prefix DIR      where the code goes (default /opt/sluice)
#   --root DIR        render everything under DIR instead of / (packaging, tests): no user is
#                     created, no systemctl/sysctl call is made, files are not chown'ed
#   --source DIR      the checkout to install from (default: the one holding this script)
#   --conf FILE       configuration file (default /etc/sluice/sluice.conf)
#   --state-dir DIR   Sluice's prefix: pid, snapshot, embedded PostgreSQL (default /var/lib/sluice)
#   --log-dir DIR     error and access logs (default /var/log/sluice)
#   --user NAME       service account (default sluice)
#   --node PATH       node binary for the unit (default: `command -v node`)
#   --no-deps         do not run npm ci
#   --no-sysctl       do not install the sysctl drop-in
#   --enable          systemctl enable --now sluice at the end (not with --root)
set -eu

PREFIX=/opt/sluice
ROOT=
SOURCE=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
CONF=/etc/sluice/sluice.conf
STATE_DIR=/var/lib/sluice
LOG_DIR=/var/log/sluice
SVC_USER=sluice
NODE=
DEPS=1
SYSCTL=1
ENABLE=0

die () { echo "install.sh: $*" >&2; exit 1; }
say () { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a value}; shift 2 ;;
    --root) ROOT=${2:?--root needs a value}; shift 2 ;;
    --source) SOURCE=${2:?--source needs a value}; shift 2 ;;
    --conf) CONF=${2:?--conf needs a value}; shift 2 ;;
    --state-dir) STATE_DIR=${2:?--state-dir needs a value}; shift 2 ;;
    --log-dir) LOG_DIR=${2:?--log-dir needs a value}; shift 2 ;;
    --user) SVC_USER=${2:?--user needs a value}; shift 2 ;;
    --node) NODE=${2:?--node needs a value}; shift 2 ;;
    --no-deps) DEPS=0; shift ;;
    --no-sysctl) SYSCTL=0; shift ;;
    --enable) ENABLE=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

for d in "$PREFIX" "$CONF" "$STATE_DIR" "$LOG_DIR"; do
  case "$d" in /*) ;; *) die "$d: paths must be absolute" ;; esac
done
case "$SVC_USER" in *[!a-z0-9_-]*|'') die "--user: '$SVC_USER' is not a valid user name" ;; esac
[ -f "$SOURCE/package.json" ] && [ -f "$SOURCE/bin/sluice.mjs" ] || die "$SOURCE is not a Sluice checkout"
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(CDPATH= cd -- "$ROOT" && pwd)
elif [ "$(id -u)" != 0 ]; then
  die "run as root (or render into a directory with --root DIR)"
fi
if [ -z "$NODE" ]; then NODE=$(command -v node || true); fi
[ -n "$NODE" ] || die "node is not on PATH; install Node.js 20 or later, or pass --node PATH"
case "$NODE" in /*) ;; *) die "--node must be an absolute path" ;; esac
if [ -z "$ROOT" ]; then
  major=$("$NODE" -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js $major is too old: Sluice needs 20 or later"
fi
GROUP=$SVC_USER
CONF_DIR=$(dirname -- "$CONF")
DEST=$ROOT$PREFIX

# sed replacement values: escape \, & and the | delimiter.
esc () { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# render TEMPLATE OUT: substitutes the @NAMES@.
render () {
  sed -e "s|@PREFIX@|$(esc "$PREFIX")|g" -e "s|@CONF@|$(esc "$CONF")|g" -e "s|@NODE@|$(esc "$NODE")|g" \
      -e "s|@USER@|$(esc "$SVC_USER")|g" -e "s|@GROUP@|$(esc "$GROUP")|g" \
      -e "s|@STATE_DIR@|$(esc "$STATE_DIR")|g" -e "s|@LOG_DIR@|$(esc "$LOG_DIR")|g" \
      -e "s|@STATE_DIR_NAME@|$(esc "${STATE_DIR#/var/lib/}")|g" -e "s|@LOG_DIR_NAME@|$(esc "${LOG_DIR#/var/log/}")|g" \
      "$1" > "$2"
}

# put NEW DEST MODE: installs NEW as DEST if it differs; prints "changed" when it did.
put () {
  if [ -f "$2" ] && cmp -s "$1" "$2"; then rm -f "$1"; return 0; fi
  mkdir -p "$(dirname -- "$2")"
  chmod "$3" "$1"
  mv -f "$1" "$2"
  echo changed
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---- 1. code ----
if [ "$(CDPATH= cd -- "$SOURCE" && pwd)" = "$DEST" ]; then
  say "using the checkout in place: $DEST"
else
  mkdir -p "$DEST"
  for item in bin src scripts deploy package.json package-lock.json tsconfig.json README.md LICENSE; do
    [ -e "$SOURCE/$item" ] || continue
    if [ -d "$SOURCE/$item" ]; then
      if command -v rsync >/dev/null 2>&1; then
        rsync -a --delete --exclude '*.test.ts' "$SOURCE/$item/" "$DEST/$item/"
      else
        rm -rf "$DEST/$item.new" && cp -R "$SOURCE/$item" "$DEST/$item.new"
        find "$DEST/$item.new" -name '*.test.ts' -exec rm -f {} +
        rm -rf "$DEST/$item" && mv "$DEST/$item.new" "$DEST/$item"
      fi
    else
      cp -p "$SOURCE/$item" "$DEST/$item"
    fi
  done
  say "code synced to $DEST"
fi
if [ "$DEPS" = 1 ]; then
  stamp="$DEST/node_modules/.sluice-install-lock"
  if [ -d "$DEST/node_modules" ] && [ -f "$stamp" ] && cmp -s "$DEST/package-lock.json" "$stamp"; then
    say "dependencies up to date"
  else
    command -v npm >/dev/null 2>&1 || die "npm is not on PATH (or pass --no-deps)"
    say "npm ci --omit=dev in $DEST"
    (cd "$DEST" && npm ci --omit=dev --no-audit --no-fund)
    cp "$DEST/package-lock.json" "$stamp"
  fi
fi
chmod 755 "$DEST/bin/sluice.mjs"

# ---- 2. account ----
render "$SOURCE/deploy/sysusers.conf.in" "$TMP/sysusers.conf"
put "$TMP/sysusers.conf" "$ROOT/usr/lib/sysusers.d/sluice.conf" 644 >/dev/null
if [ -z "$ROOT" ]; then
  if id "$SVC_USER" >/dev/null 2>&1; then
    say "user $SVC_USER exists"
  elif command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/lib/sysusers.d/sluice.conf
    say "user $SVC_USER created (systemd-sysusers)"
  else
    nologin=$(command -v nologin || echo /bin/false)
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$nologin" --comment "Sluice API gateway" "$SVC_USER"
    say "user $SVC_USER created (useradd)"
  fi
fi

# ---- 3. config (kept when present) ----
if [ -e "$ROOT$CONF" ]; then
  say "$CONF exists: kept"
else
  render "$SOURCE/deploy/sluice.conf.in" "$TMP/sluice.conf"
  mkdir -p "$ROOT$CONF_DIR"
  chmod 640 "$TMP/sluice.conf"
  mv "$TMP/sluice.conf" "$ROOT$CONF"
  [ -z "$ROOT" ] && chown "root:$GROUP" "$ROOT$CONF"
  say "$CONF written"
fi

# ---- 4. service, logs, command ----
render "$SOURCE/deploy/sluice.service.in" "$TMP/sluice.service"
# StateDirectory= / LogsDirectory= only name directories under /var/lib and /var/log; others are made here.
case "$STATE_DIR" in /var/lib/?*) ;; *) sed -i '/^StateDirectory=/d' "$TMP/sluice.service"; mkdir -p "$ROOT$STATE_DIR"; [ -z "$ROOT" ] && chown "$SVC_USER:$GROUP" "$STATE_DIR" ;; esac
case "$LOG_DIR" in /var/log/?*) ;; *) sed -i '/^LogsDirectory=/d' "$TMP/sluice.service"; mkdir -p "$ROOT$LOG_DIR"; [ -z "$ROOT" ] && chown "$SVC_USER:$GROUP" "$LOG_DIR" ;; esac
unit_changed=$(put "$TMP/sluice.service" "$ROOT/etc/systemd/system/sluice.service" 644)
[ -n "$unit_changed" ] && say "unit /etc/systemd/system/sluice.service written" || say "unit unchanged"

render "$SOURCE/deploy/logrotate.in" "$TMP/logrotate"
put "$TMP/logrotate" "$ROOT/etc/logrotate.d/sluice" 644 >/dev/null

printf '#!/bin/sh\n# rendered by scripts/install.sh\nexec %s %s/bin/sluice.mjs "$@"\n' "$NODE" "$PREFIX" > "$TMP/sluice-cmd"
put "$TMP/sluice-cmd" "$ROOT/usr/local/bin/sluice" 755 >/dev/null

if [ "$SYSCTL" = 1 ]; then
  render "$SOURCE/deploy/sysctl.conf.in" "$TMP/sysctl.conf"
  sysctl_changed=$(put "$TMP/sysctl.conf" "$ROOT/etc/sysctl.d/60-sluice.conf" 644)
  if [ -z "$ROOT" ] && [ -n "$sysctl_changed" ]; then
    sysctl -q -p /etc/sysctl.d/60-sluice.conf 2>/dev/null || say "some sysctl keys were not applied (older kernel or a container): see /etc/sysctl.d/60-sluice.conf"
  fi
fi

if [ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  [ -n "$unit_changed" ] && systemctl daemon-reload
  if [ "$ENABLE" = 1 ]; then
    systemctl enable --now sluice.service
    say "sluice.service enabled and started"
  fi
elif [ -z "$ROOT" ]; then
  say "systemd is not running here: the unit is installed but not loaded"
fi
say "done. Next: edit $CONF (sluice check $CONF), then: systemctl enable --now sluice; sluice health"
