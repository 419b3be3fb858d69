#!/usr/bin/env bash
# A throwaway single-node Ceph on 127.0.0.1 for the tests and for trying RBD volumes on one machine:
# one monitor and one OSD keeping its objects in memory (memstore), no manager daemon, cephx on
# (nothing listens without credentials, even on loopback). Everything lives in DIR: the config, the
# keyring (0600), the daemons' data, logs and sockets, and the pids that `stop` kills (exactly
# those, after checking each is still that daemon of that DIR), before removing DIR.
#
#   scripts/ceph-dev.sh start DIR   # prints DIR/ceph.conf, DIR/keyring, the pool; ~5 s
#   scripts/ceph-dev.sh stop DIR
#
# Environment: CEPH_DEV_MEMSTORE_BYTES (default 4 GiB), CEPH_DEV_PORT (the monitor's msgr2 port;
# default: a free one in 20000-31999, outside the ephemeral range 32768-60999 so that no outgoing
# connection takes it; the OSD listens on the next ports up), CEPH_DEV_ADDR (default 127.0.0.1: the
# address the daemons listen on; a jailed qemu cannot reach loopback, so its test gives a local
# address on a dummy device instead).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

addr=${CEPH_DEV_ADDR:-127.0.0.1}
[[ "$addr" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { echo "ceph-dev: CEPH_DEV_ADDR must be an IPv4 address" >&2; exit 2; }

port_free() { ! (exec 3<>"/dev/tcp/$addr/$1") 2>/dev/null; }

pid_is_ours() { # pid name: the pid is still a ceph daemon started for this DIR
  local pid=$1 name=$2
  [ -r "/proc/$pid/cmdline" ] || return 1
  local line
  line=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  [[ "$line" == *"$name"* && "$line" == *"$dir/ceph.conf"* ]]
}

stop_cluster() {
  [ -d "$dir" ] || { echo "ceph-dev: $dir does not exist; nothing to stop"; return 0; }
  local pids=() name pid
  for name in osd mon; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    if pid_is_ours "$pid" "ceph-$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid:ceph-$name")
    fi
  done
  local entry i
  for entry in "${pids[@]}"; do
    pid=${entry%%:*}
    name=${entry#*:}
    for i in $(seq 1 50); do pid_is_ours "$pid" "$name" || break; sleep 0.1; done
    if pid_is_ours "$pid" "$name"; then kill -KILL "$pid" 2>/dev/null || true; fi
    echo "ceph-dev: stopped $name (pid $pid)"
  done
  rm -rf -- "$dir"
  echo "ceph-dev: removed $dir"
}

start_cluster() {
  for p in ceph-mon ceph-osd ceph rbd monmaptool ceph-authtool; do
    command -v "$p" >/dev/null || { echo "ceph-dev: $p is missing; run scripts/install-system-deps.sh" >&2; exit 1; }
  done
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    echo "ceph-dev: $dir exists and is not empty; stop it first or pick another DIR" >&2
    exit 1
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir"
  mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"

  local port=${CEPH_DEV_PORT:-}
  if [ -z "$port" ]; then
    local try
    for try in $(seq 1 50); do
      port=$((20000 + (RANDOM % 1200) * 10))
      if port_free "$port" && port_free $((port + 1)) && port_free $((port + 2)) && port_free $((port + 5)); then break; fi
      port=""
    done
    [ -n "$port" ] || { echo "ceph-dev: no free port range found in 20000-31999" >&2; exit 1; }
  fi
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  local bytes=${CEPH_DEV_MEMSTORE_BYTES:-4294967296}

  umask 077
  cat >"$dir/ceph.conf" <<EOF
# Written by scripts/ceph-dev.sh: a throwaway single-node Ceph. Not for data you want to keep.
[global]
fsid = $fsid
mon host = [v2:$addr:$port,v1:$addr:$((port + 1))]
public addr = $addr
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
ms bind port min = $((port + 2))
ms bind port max = $((port + 9))
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
auth allow insecure global id reclaim = false
mon osd min down reporters = 1
osd pool default pg autoscale mode = off
# Daemon-only paths: clients (rbd, ceph, a jailed qemu's librbd) read this file too and must not
# need DIR's subdirectories. No keyring line: clients are given theirs (--keyring, or the
# default /etc/ceph/keyring in a VM's view).
[mon]
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon
mon cluster log file = $dir/log/cluster.log
[osd]
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = $bytes
osd max object name len = 256
osd max object namespace len = 64
EOF

  # Keys: the monitor's, the admin client's (what DIR/keyring holds for ceph, rbd and qemu) and the
  # OSD's (registered by `osd new`). The monitor's mkfs imports the keys of the file it is given.
  local monkeys="$dir/mon.keyring"
  ceph-authtool --create-keyring "$monkeys" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/osd/keyring" --gen-key -n osd.0 \
    --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
  ceph-authtool "$monkeys" --import-keyring "$dir/keyring" >/dev/null
  chmod 0600 "$dir/keyring" "$monkeys" "$dir/osd/keyring"

  monmaptool --create --fsid "$fsid" --addv a "[v2:$addr:$port,v1:$addr:$((port + 1))]" \
    "$dir/monmap" >/dev/null
  ceph-mon --conf "$dir/ceph.conf" --id a --mkfs --monmap "$dir/monmap" --keyring "$monkeys" \
    --mon-data "$dir/mon" >>"$dir/log/mon-mkfs.out" 2>&1
  setsid ceph-mon --conf "$dir/ceph.conf" --id a -f --mon-data "$dir/mon" \
    </dev/null >>"$dir/log/mon.out" 2>&1 &
  echo $! >"$dir/mon.pid"
  echo "ceph-dev: monitor on $addr:$port (msgr2) and :$((port + 1)) (v1), pid $(cat "$dir/mon.pid")"

  local ceph=(ceph --conf "$dir/ceph.conf" --keyring "$dir/keyring" --id admin --connect-timeout 10)
  local osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  # `osd new` registers osd.0 with the key made above (given as JSON on stdin, never on argv).
  local osd_key
  osd_key=$(ceph-authtool "$dir/osd/keyring" -n osd.0 -p)
  printf '{"cephx_secret": "%s"}' "$osd_key" | "${ceph[@]}" osd new "$osd_uuid" 0 -i - >/dev/null
  ceph-osd --conf "$dir/ceph.conf" --id 0 --mkfs --osd-uuid "$osd_uuid" --osd-data "$dir/osd" \
    --keyring "$dir/osd/keyring" >>"$dir/log/osd-mkfs.out" 2>&1
  setsid ceph-osd --conf "$dir/ceph.conf" --id 0 -f --osd-data "$dir/osd" --keyring "$dir/osd/keyring" \
    </dev/null >>"$dir/log/osd.out" 2>&1 &
  echo $! >"$dir/osd.pid"
  echo "ceph-dev: OSD 0 (memstore, $bytes bytes) pid $(cat "$dir/osd.pid")"

  local i
  for i in $(seq 1 300); do
    if "${ceph[@]}" osd dump --format json 2>/dev/null | grep -q '"up":1'; then break; fi
    sleep 0.1
  done
  "${ceph[@]}" osd dump --format json | grep -q '"up":1' || {
    echo "ceph-dev: the OSD did not come up; see $dir/log" >&2
    exit 1
  }
  "${ceph[@]}" osd pool create blixard 8 8 >/dev/null 2>&1
  "${ceph[@]}" osd pool set blixard size 1 --yes-i-really-mean-it >/dev/null 2>&1 || true
  rbd --conf "$dir/ceph.conf" --keyring "$dir/keyring" --id admin pool init blixard
  echo "ceph-dev: pool blixard (size 1, rbd)"
  echo "ceph-dev: ready: --ceph-conf $dir/ceph.conf --ceph-user admin --ceph-keyring $dir/keyring"
}

case "$cmd" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
