#!/usr/bin/env bash
# Boot-test a guest image built by build.sh.
#
#   scripts/guest-image/smoke.sh OUT_DIR
#
# Boot 1 (default policy, with a qcow2 disk): READY line on the console, the
# HTTP page through a host port forward, /dev/vda visible, and Ctrl-Alt-Del
# sent over QMP makes QEMU exit (-no-reboot + guest poweroff).
# Boot 2 (blixard.ignore_ctrlaltdel=1): the same Ctrl-Alt-Del must NOT stop the
# guest; QMP quit then does.
#
# Environment:
#   SMOKE_KERNEL   vmlinuz (default) or vmlinux (uncompressed, PVH boot)
#   SMOKE_CLOCK    icount (default): -icount shift=auto, self-contained;
#                  tsc: no icount, pass the host TSC rate as tsc_early_khz
#                  (about twice as fast; see docs/guest-image.md)
#   SMOKE_TIMEOUT  seconds to wait for READY (default 120)
#   SMOKE_KEEP=1   keep the work dir (console logs) for inspection
#
# QEMU is only ever stopped through the pid it wrote to its own pidfile.
set -euo pipefail

log() { echo "smoke: $*" >&2; }
fail() {
	log "FAIL: $*"
	if [[ -f ${CONSOLE:-} ]]; then
		log "last console lines:"
		tail -n 25 "$CONSOLE" >&2
	fi
	exit 1
}

[[ $# -eq 1 ]] || {
	echo "usage: $0 OUT_DIR" >&2
	exit 2
}
OUT_DIR=$(cd "$1" && pwd)
KERNEL=$OUT_DIR/${SMOKE_KERNEL:-vmlinuz}
INITRD=$OUT_DIR/initrd.img
TIMEOUT=${SMOKE_TIMEOUT:-120}
[[ -f $KERNEL && -f $INITRD ]] || fail "no $KERNEL / $INITRD (run build.sh first)"
for tool in qemu-system-x86_64 qemu-img curl python3; do
	command -v "$tool" >/dev/null || fail "missing required tool: $tool"
done

# Without one of these the guest's TSC calibration against the PIT is at the
# mercy of host scheduling under TCG, and when it fails the boot hangs.
case ${SMOKE_CLOCK:-icount} in
icount)
	CLOCK_ARGS=(-icount shift=auto)
	CLOCK_APPEND=""
	;;
tsc)
	# Under TCG the guest reads the host TSC, so its rate is the host's. On
	# constant_tsc hosts /proc/cpuinfo's "cpu MHz" is that rate.
	grep -qw constant_tsc /proc/cpuinfo || fail "SMOKE_CLOCK=tsc needs a host with constant_tsc"
	khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
	[[ $khz -gt 0 ]] || fail "cannot read the host TSC rate"
	CLOCK_ARGS=()
	CLOCK_APPEND="tsc_early_khz=$khz"
	;;
*) fail "SMOKE_CLOCK must be icount or tsc" ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/blixard-smoke.XXXXXX")
PIDFILE=$WORK/qemu.pid
QMP=$WORK/qmp.sock
QEMU_PID=

# Stop a QEMU this script started, by pid only. The cmdline check guards
# against the pid having been reused after QEMU exited on its own.
stop_qemu() {
	local pid=$QEMU_PID
	QEMU_PID=
	[[ -n $pid ]] || return 0
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F "$WORK/" >/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
}
cleanup() {
	stop_qemu
	if [[ ${SMOKE_KEEP:-} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# within T0 SECS: true while less than SECS have passed since T0.
within() { awk -v a="$1" -v b="$(now)" -v t="$2" 'BEGIN { exit !(b - a < t) }'; }

# Any free loopback port: a fixed one collides with other guests/tests.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Minimal QMP client: greeting, qmp_capabilities, then one command.
#   qmp cad   -> Ctrl, Alt, Delete key-down events (what a keyboard would send)
#   qmp quit
qmp() {
	python3 - "$QMP" "$1" <<'EOF'
import json, socket, sys

sock = socket.socket(socket.AF_UNIX)
sock.settimeout(10)
sock.connect(sys.argv[1])
f = sock.makefile("rw")

def call(cmd, args=None):
    msg = {"execute": cmd}
    if args:
        msg["arguments"] = args
    f.write(json.dumps(msg) + "\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:  # QEMU exited (expected after "quit")
            return {"return": {}}
        reply = json.loads(line)
        if "event" in reply:
            continue
        if "error" in reply:
            sys.exit(f"QMP {cmd}: {reply['error']}")
        return reply

json.loads(f.readline())  # greeting
call("qmp_capabilities")
if sys.argv[2] == "cad":
    keys = ("ctrl", "alt", "delete")
    call("input-send-event", {"events": [
        {"type": "key", "data": {"down": True, "key": {"type": "qcode", "data": k}}}
        for k in keys]})
    # Release them too, so the guest's keyboard state is sane afterwards.
    call("input-send-event", {"events": [
        {"type": "key", "data": {"down": False, "key": {"type": "qcode", "data": k}}}
        for k in reversed(keys)]})
elif sys.argv[2] == "quit":
    call("quit")
EOF
}

# A daemonized QEMU is reparented to PID 1, which may reap it only much later
# (in our sandbox ~1.5 s); a zombie has exited, so it counts as dead.
qemu_alive() {
	[[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null &&
		! grep -q '^State:[[:space:]]*Z' "/proc/$QEMU_PID/status" 2>/dev/null
}

# Waits up to $1 seconds for QEMU to exit; prints the seconds it took.
# (Uses the remembered pid: QEMU removes its pidfile on exit.)
wait_exit() {
	local t0
	t0=$(now)
	while qemu_alive; do
		within "$t0" "$1" || return 1
		sleep 0.1
	done
	QEMU_PID=
	elapsed "$t0"
}

# boot NAME APPEND_EXTRA [extra qemu args...]; sets CONSOLE, PORT, BOOT_SECS.
boot() {
	local name=$1 append=$2 t0
	shift 2
	CONSOLE=$WORK/$name.console.log
	PORT=$(free_port)
	rm -f "$PIDFILE" "$QMP"
	t0=$(now)
	# Flag rationale: docs/guest-image.md.
	qemu-system-x86_64 \
		-M microvm -accel tcg "${CLOCK_ARGS[@]}" \
		-m 256 -smp 1 \
		-nodefaults -no-user-config -no-reboot \
		-display none -daemonize -pidfile "$PIDFILE" \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 $CLOCK_APPEND blixard.name=$name $append" \
		-serial "file:$CONSOLE" \
		-qmp "unix:$QMP,server=on,wait=off" \
		-global virtio-mmio.force-legacy=false \
		-netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$PORT-:80" \
		-device virtio-net-device,netdev=net0 \
		-device virtio-keyboard-device \
		"$@" || fail "qemu failed to start"
	# -daemonize returns once the pidfile is written.
	QEMU_PID=$(cat "$PIDFILE")
	# The serial console ends lines with \r\n (tty onlcr). No grep -q: exiting
	# early would SIGPIPE tr and fail the pipeline under pipefail.
	until tr -d '\r' <"$CONSOLE" 2>/dev/null | grep -x "BLIXARD-READY name=$name" >/dev/null; do
		qemu_alive || fail "$name: qemu exited before READY"
		within "$t0" "$TIMEOUT" || fail "$name: no READY line after ${TIMEOUT}s"
		sleep 0.05
	done
	BOOT_SECS=$(elapsed "$t0")
	log "$name: READY after ${BOOT_SECS}s ($(grep -o 'uptime [0-9.]*s' "$CONSOLE" || echo 'uptime ?') guest time)"
	[[ $(grep -c '^BLIXARD-READY' "$CONSOLE") -eq 1 ]] || fail "$name: more than one READY line"
}

log "kernel $KERNEL, clock ${SMOKE_CLOCK:-icount}"

# --- Boot 1: default policy, disk, HTTP, Ctrl-Alt-Del stops the VM ---------
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 64M
boot smoke-a "" \
	-drive "id=d0,file=$WORK/disk.qcow2,if=none,format=qcow2" \
	-device virtio-blk-device,drive=d0
grep -q 'block devices:.*vda' "$CONSOLE" || fail "smoke-a: /dev/vda not seen by the guest"
log "smoke-a: $(grep -o 'block devices:.*' "$CONSOLE")"
page=$(curl -fsS --max-time 10 "http://127.0.0.1:$PORT/") || fail "smoke-a: HTTP request failed"
[[ $page == *"<h1>smoke-a</h1>"* ]] || fail "smoke-a: index page lacks the hostname: $page"
log "smoke-a: HTTP ok on 127.0.0.1:$PORT"
qmp cad || fail "smoke-a: QMP Ctrl-Alt-Del failed"
secs=$(wait_exit 15) || fail "smoke-a: QEMU still running 15s after Ctrl-Alt-Del"
QEMU_PID=
log "smoke-a: QEMU exited ${secs}s after Ctrl-Alt-Del"
A_BOOT=$BOOT_SECS A_CAD=$secs

# --- Boot 2: ignore_ctrlaltdel=1, Ctrl-Alt-Del must be ignored ---------------
boot smoke-b "blixard.ignore_ctrlaltdel=1"
qmp cad || fail "smoke-b: QMP Ctrl-Alt-Del failed"
# Comfortably longer than the few tenths of a second boot 1 needs to exit.
sleep 5
qemu_alive || fail "smoke-b: guest stopped on Ctrl-Alt-Del despite ignore_ctrlaltdel=1"
curl -fsS --max-time 10 "http://127.0.0.1:$PORT/" >/dev/null || fail "smoke-b: HTTP failed after ignored Ctrl-Alt-Del"
log "smoke-b: Ctrl-Alt-Del ignored, guest still serving"
qmp quit || fail "smoke-b: QMP quit failed"
secs=$(wait_exit 15) || fail "smoke-b: QEMU still running 15s after QMP quit"
QEMU_PID=
log "smoke-b: QEMU exited ${secs}s after QMP quit"

log "PASS (boot-to-READY ${A_BOOT}s / ${BOOT_SECS}s, Ctrl-Alt-Del exit ${A_CAD}s)"
