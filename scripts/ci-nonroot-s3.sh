#!/usr/bin/env bash
# Proves scripts/s3-server.sh works for a user that is not root, as on GitHub-hosted runners (user
# `runner`, passwordless sudo): an unprivileged user with passwordless sudo runs `install` (its apt-get
# goes through sudo) and `start`, the S3 endpoint is used with the script's credentials, then the
# server is stopped. Also checks that `install` by a user with neither root nor sudo fails, saying why.
#
# Usage: bash scripts/ci-nonroot-s3.sh   (as root; as a user with passwordless sudo it re-runs itself
#        through sudo). Creates the user $MGCI_USER (mgci) when absent and keeps it (a locked account:
#        only root can become it); its passwordless-sudo grant exists only while this script runs.
# Settings: MGCI_USER (mgci), MGCI_NOSUDO_USER (nobody: a user without sudo rights).
set -euo pipefail
t0=$SECONDS
here=$(cd "$(dirname "$0")" && pwd)
U=${MGCI_USER:-mgci}
NOSUDO=${MGCI_NOSUDO_USER:-nobody}
step() { printf '[ci-nonroot-s3 %3ss] %s\n' "$((SECONDS - t0))" "$*"; }
fail() { printf '[ci-nonroot-s3] FAIL: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n env MGCI_USER="$U" MGCI_NOSUDO_USER="$NOSUDO" bash "$here/ci-nonroot-s3.sh" "$@"
  fi
  fail "must run as root (or as a user with passwordless sudo, which re-runs it as root)"
fi

WORK='' DATA='' STARTED='' GRANTED=''
cleanup() {
  local rc=$?
  if [ -n "$STARTED" ]; then
    sudo -u "$U" -H env CEPH_DIR="$DATA" bash "$WORK/s3-server.sh" stop >/dev/null 2>&1 || true
  fi
  # The grant is for this check only: no passwordless-sudo account outlives it.
  [ -z "$GRANTED" ] || rm -f "/etc/sudoers.d/$U"
  [ -z "$DATA" ] || rm -rf "$DATA"
  [ -z "$WORK" ] || rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# A port nothing listens on (bash's /dev/tcp: a connection that succeeds means the port is taken).
free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    [ "$p" != "${1:-}" ] || continue
    if ! (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port found"
}

step "sudo: $(command -v sudo || echo 'not installed: apt-get install -y sudo')"
if ! command -v sudo >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends sudo >/dev/null || fail "could not install sudo"
fi

if id "$U" >/dev/null 2>&1; then
  step "user $U exists (uid $(id -u "$U"))"
else
  useradd --create-home --shell /bin/bash "$U" || fail "useradd $U"
  step "user $U created (uid $(id -u "$U"))"
fi
[ "$(id -u "$U")" != 0 ] || fail "$U is uid 0: it must be an unprivileged user"

drop=$(mktemp)
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$U" >"$drop"
visudo -cf "$drop" >/dev/null || { rm -f "$drop"; fail "sudoers drop-in for $U does not validate"; }
install -m 0440 -o root -g root "$drop" "/etc/sudoers.d/$U"; rm -f "$drop"
GRANTED=1
visudo -c >/dev/null || fail "sudoers does not validate with /etc/sudoers.d/$U"
sudo -u "$U" -H sudo -n true || fail "$U has no passwordless sudo"
step "passwordless sudo for $U: /etc/sudoers.d/$U (0440, validated)"

# The checkout may sit in a folder only root can read (CI's clone): give the user its own copy.
WORK=$(mktemp -d /tmp/mg-nonroot.XXXXXX)
chmod 0755 "$WORK"
install -m 0755 "$here/s3-server.sh" "$WORK/s3-server.sh"
cd "$WORK"
as_user() { sudo -u "$U" -H env "$@"; }
step "copied s3-server.sh to $WORK"

# install as the user, forced so that its apt-get really runs (through sudo) even where Ceph is there.
log=$(mktemp)
if ! as_user S3_INSTALL_FORCE=1 bash "$WORK/s3-server.sh" install 2>&1 | tee "$log"; then
  fail "install as $U"
fi
grep -q 'through sudo' "$log" || { rm -f "$log"; fail "install as $U did not go through sudo"; }
rm -f "$log"
step "install as $U: ok (apt-get through sudo)"

DATA=$(as_user mktemp -d "/tmp/$U-ceph.XXXXXX")
RGW_PORT=$(free_port); MON_PORT=$(free_port "$RGW_PORT")
srv=(CEPH_DIR="$DATA" RGW_PORT="$RGW_PORT" MON_PORT="$MON_PORT" CEPH_MEM_BYTES=268435456)
STARTED=1
as_user "${srv[@]}" bash "$WORK/s3-server.sh" start || fail "start as $U"
for n in mon.a osd.0 client.rgw.a; do
  owner=$(ps -o uid= -p "$(cat "$DATA/run/$n.pid")") || fail "$n is not running"
  [ "${owner// /}" = "$(id -u "$U")" ] || fail "$n runs as uid $owner, not $U"
done
step "start as $U: ok (mon, osd, radosgw run as $U; data in $DATA; S3 on 127.0.0.1:$RGW_PORT)"

# The credentials the tests get: the script's `env` lines.
declare -A cfg
while IFS='=' read -r k v; do cfg[${k#export }]=$v; done < <(as_user "${srv[@]}" bash "$WORK/s3-server.sh" env)
EP=${cfg[AWS_ENDPOINT_URL_S3]}; KEY=${cfg[AWS_ACCESS_KEY_ID]}; SECRET=${cfg[AWS_SECRET_ACCESS_KEY]}
# curl signs the request (SigV4); radosgw wants the payload hash header, which older curl does not add.
s3() {
  curl -sS --max-time 30 --aws-sigv4 "aws:amz:${cfg[AWS_REGION]}:s3" --user "$1" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o "$2" -w '%{http_code}' "${@:3}"
}
bucket=mgci-$RANDOM$RANDOM
body="written by $U at $(date -u +%FT%TZ)"
printf '%s' "$body" >"$WORK/put.txt"
code=$(s3 "$KEY:$SECRET" /dev/null -X PUT "$EP/$bucket") && [ "$code" = 200 ] || fail "CreateBucket: HTTP $code"
code=$(s3 "$KEY:$SECRET" /dev/null -T "$WORK/put.txt" "$EP/$bucket/hello.txt") && [ "$code" = 200 ] ||
  fail "PutObject: HTTP $code"
code=$(s3 "$KEY:$SECRET" "$WORK/got.txt" "$EP/$bucket/hello.txt") && [ "$code" = 200 ] || fail "GetObject: HTTP $code"
[ "$(cat "$WORK/got.txt")" = "$body" ] || fail "GetObject returned other bytes than were put"
code=$(s3 "$KEY:wrong-secret" /dev/null "$EP/$bucket/hello.txt") || true
[ "$code" = 403 ] || fail "a wrong secret got HTTP $code, not 403"
code=$(s3 "$KEY:$SECRET" /dev/null -X DELETE "$EP/$bucket/hello.txt") && [ "$code" = 204 ] ||
  fail "DeleteObject: HTTP $code"
code=$(s3 "$KEY:$SECRET" /dev/null -X DELETE "$EP/$bucket") && [ "$code" = 204 ] || fail "DeleteBucket: HTTP $code"
step "S3 as $KEY at $EP: ok (create bucket, put, get same bytes, wrong secret 403, delete)"

pids=$(cat "$DATA"/run/*.pid)
as_user "${srv[@]}" bash "$WORK/s3-server.sh" stop || fail "stop as $U"
STARTED=''
for p in $pids; do ! kill -0 "$p" 2>/dev/null || fail "pid $p still running after stop"; done
rm -rf "$DATA"; DATA=''
step "stop as $U: ok (all daemons gone, data dir removed)"

# A user with neither root nor sudo: install must fail, saying what it needs.
id "$NOSUDO" >/dev/null 2>&1 || fail "no user $NOSUDO for the no-sudo check"
! sudo -u "$NOSUDO" sudo -n true 2>/dev/null || fail "$NOSUDO has passwordless sudo: set MGCI_NOSUDO_USER"
set +e
msg=$(sudo -u "$NOSUDO" env S3_INSTALL_FORCE=1 bash "$WORK/s3-server.sh" install 2>&1)
rc=$?
set -e
printf '%s\n' "$msg"
[ "$rc" != 0 ] || fail "install as $NOSUDO (no root, no sudo) exited 0"
grep -q 'needs root or passwordless sudo' <<<"$msg" || fail "install as $NOSUDO failed without saying what it needs"
step "install as $NOSUDO (no root, no sudo): refused with exit $rc, as it should"

step "all checks passed in $((SECONDS - t0)) s"
