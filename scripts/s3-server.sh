#!/usr/bin/env bash
# A real S3 server for tests and benchmarks: single-node Ceph radosgw on 127.0.0.1.
# 1 monitor + 1 in-memory (memstore) OSD + radosgw. Nothing is exposed beyond loopback.
#
# Usage: scripts/s3-server.sh install|start|stop|env|status
#   install  apt-get the Ceph packages (skipped when radosgw is already installed). The only step that
#            needs root: it runs directly as root, through `sudo -n` otherwise (passwordless sudo, as on
#            GitHub-hosted runners), and fails saying what it needs when neither is possible.
#   start    (re)create the cluster under $CEPH_DIR and wait until S3 answers. Needs no root: every file
#            it writes (data, pid files, sockets, logs) is under $CEPH_DIR, which the caller owns.
#   stop     stop radosgw, osd, mon (in that order: the osd tells the mon it is going down)
#   env      print `export AWS_...` lines for clients (eval "$(scripts/s3-server.sh env)")
# Settings: RGW_PORT (7480), MON_PORT (3300), S3_KEY (test), S3_SECRET (testsecret),
#           CEPH_DIR (/tmp/model-gitops-ceph for root, /tmp/model-gitops-ceph-$UID for anyone else),
#           CEPH_MEM_BYTES (memstore size, 4 GiB: room for the tests and the 1 GiB benchmark files),
#           S3_INSTALL_FORCE=1 (install: run apt-get even when the packages are already there).
set -euo pipefail
UID_NOW=$(id -u)
if [ "$UID_NOW" = 0 ]; then D=${CEPH_DIR:-/tmp/model-gitops-ceph}; else D=${CEPH_DIR:-/tmp/model-gitops-ceph-$UID_NOW}; fi
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-3300}
S3_KEY=${S3_KEY:-test}
S3_SECRET=${S3_SECRET:-testsecret}
MEM=${CEPH_MEM_BYTES:-4294967296}
PACKAGES=(ceph-mon ceph-osd radosgw ceph-common curl)
export CEPH_CONF=$D/ceph.conf
ENDPOINT=http://127.0.0.1:$RGW_PORT

# How to run a command as root, in AS_ROOT: nothing when we are root, `sudo -n` when passwordless
# sudo works. Anything else ends the script with one message saying what is needed.
root_prefix() {
  AS_ROOT=()
  [ "$UID_NOW" = 0 ] && return
  local who why
  who=$(id -un 2>/dev/null || echo "uid $UID_NOW")
  if ! command -v sudo >/dev/null; then
    why="sudo is not installed"
  elif ! why=$(sudo -n true 2>&1); then
    why="it has no passwordless sudo (sudo -n: ${why:-refused})"
  else
    AS_ROOT=(sudo -n); return
  fi
  echo "s3-server: installing Ceph needs root or passwordless sudo, to run apt-get install ${PACKAGES[*]};" \
    "user $who is not root and $why. Run '$0 install' as root or as a user with passwordless sudo," \
    "or have those Debian packages installed first." >&2
  exit 1
}

install() {
  if [ "${S3_INSTALL_FORCE:-0}" != 1 ] && command -v radosgw >/dev/null && command -v ceph-mon >/dev/null \
     && command -v ceph-osd >/dev/null && command -v curl >/dev/null; then return 0; fi
  root_prefix
  echo "s3-server: apt-get install ${PACKAGES[*]} (${AS_ROOT[*]:+through }${AS_ROOT[*]:-as root})" >&2
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

stop() {
  for n in client.rgw.a osd.0 mon.a; do
    [ -f "$D/run/$n.pid" ] || continue
    pid=$(cat "$D/run/$n.pid"); rm -f "$D/run/$n.pid"
    kill "$pid" 2>/dev/null || continue
    timeout 15 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
  done
}

start() {
  command -v radosgw >/dev/null || { echo "s3-server: radosgw not installed: run '$0 install' first" >&2; exit 1; }
  if [ "$UID_NOW" != 0 ] && { [ "$RGW_PORT" -lt 1024 ] || [ "$MON_PORT" -lt 1024 ]; }; then
    echo "s3-server: ports below 1024 need root: set RGW_PORT and MON_PORT to 1024 or more" >&2; exit 1
  fi
  if [ "$UID_NOW" != 0 ] && [ -e "$D" ] && [ ! -O "$D" ]; then
    echo "s3-server: CEPH_DIR $D belongs to another user: set CEPH_DIR to a folder of your own" >&2; exit 1
  fi
  stop   # a previous cluster under $D would hold the ports
  rm -rf "$D"; mkdir -p "$D"/{mon,osd,rgw,run,log,crash}
  local fsid osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid); osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CEPH_CONF" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
# The monitor's cluster and audit logs, and crash reports, default to /var/log/ceph and /var/lib/ceph.
mon cluster log file = default=$D/log/ceph.\$channel.log cluster=$D/log/ceph.log
crash dir = $D/crash
mon data = $D/mon
osd data = $D/osd
osd journal = $D/osd/journal
osd objectstore = memstore
memstore device bytes = $MEM
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $D/rgw
# Reclaim deleted objects' data within seconds (default: hours), so benchmarks can delete and re-upload.
rgw gc obj min wait = 0
rgw gc processor period = 2
CONF
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$D/monmap"
  ceph-mon -i a
  ceph osd new "$osd_uuid" --connect-timeout 30 >/dev/null
  ceph-osd -i 0 --mkfs --osd-uuid "$osd_uuid" 2>/dev/null
  ceph-osd -i 0 2>/dev/null
  timeout 60 radosgw -n client.rgw.a        # daemonizes once its pools exist
  radosgw-admin user create --uid=test --display-name=test \
    --access-key="$S3_KEY" --secret-key="$S3_SECRET" >/dev/null
  timeout 30 bash -c "until curl -sf -o /dev/null $ENDPOINT/; do sleep 0.2; done"
  echo "S3 ready at $ENDPOINT (key=$S3_KEY)" >&2
}

env_lines() {
  echo "export AWS_ENDPOINT_URL_S3=$ENDPOINT"
  echo "export AWS_ACCESS_KEY_ID=$S3_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$S3_SECRET"
  echo "export AWS_REGION=us-east-1"
  echo "export S3_ENDPOINT=$ENDPOINT"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  status) curl -sf -o /dev/null "$ENDPOINT/" && echo "up at $ENDPOINT" || { echo "down"; exit 1; } ;;
  *) echo "usage: $0 install|start|stop|env|status" >&2; exit 2 ;;
esac
