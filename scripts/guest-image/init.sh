#!/bin/sh
# /init of the Blixard default guest image (runs as PID 1 under busybox sh).
#
# Contract with the host (see docs/guest-image.md):
#   - kernel cmdline `blixard.name=NAME` sets the hostname (default blixard-guest)
#   - kernel cmdline `blixard.ignore_ctrlaltdel=1` makes the guest ignore
#     Ctrl-Alt-Del (used to test stop escalation)
#   - kernel cmdline `blixard.net=dhcp` configures eth0 by DHCP (address,
#     router, DNS, domain, MTU) instead of the fixed slirp addresses
#   - kernel cmdline `blixard.probe=1` adds the test probe's CGI scripts
#   - exactly one line `BLIXARD-READY name=NAME` (with DHCP:
#     `BLIXARD-READY name=NAME address=IP`) is printed on the console once
#     the network and the HTTP server on port 80 are up and Ctrl-Alt-Del is
#     handled by busybox init; with DHCP and no lease, none is printed
#
# This script must never exit: PID 1 exiting panics the kernel. Failures are
# reported and we carry on, so the host sees a missing READY line / failing
# health check rather than a kernel panic with the diagnostics scrolled away.

export PATH=/bin
# Globbing is never wanted here and would mangle cmdline words like `a=*`.
set -f

log() { echo "blixard-init: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The stdio we inherited is the initramfs' own /dev/console; reopen the devtmpfs
# one so that everything below (and busybox init) uses the real console.
exec </dev/console >/dev/console 2>&1

NAME=blixard-guest
IGNORE_CAD=0
NET=static
PROBE=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	blixard.name=*) NAME=${arg#blixard.name=} ;;
	blixard.ignore_ctrlaltdel=1) IGNORE_CAD=1 ;;
	blixard.net=dhcp) NET=dhcp ;;
	blixard.probe=1) PROBE=1 ;;
	esac
done
# The name ends up in the hostname, HTML and the READY line: keep it to a
# hostname-safe charset so none of those can be broken or injected into.
NAME=$(echo "$NAME" | tr -cd 'A-Za-z0-9._-' | cut -c1-63)
[ -n "$NAME" ] || NAME=blixard-guest
hostname "$NAME"

# Ctrl-Alt-Del can arrive as soon as virtio_input is loaded, i.e. before busybox
# init has taken over. The kernel default would be an immediate hard reset
# (which would also defeat ignore_ctrlaltdel); instead have the kernel signal
# PID 1 (this shell) and honour the requested policy here too.
echo 0 >/proc/sys/kernel/ctrl-alt-del
if [ "$IGNORE_CAD" = 1 ]; then
	# A no-op handler, not `trap '' INT`: SIG_IGN would survive the exec and
	# silently change busybox init's own signal handling.
	trap ':' INT
else
	trap 'poweroff -f' INT
fi

# Order matters: insmod (unlike modprobe) does not resolve dependencies. The
# list was computed at build time, built-in drivers already removed from it.
for mod in $(cat /lib/modules/load-order); do
	insmod "/lib/modules/$mod.ko" || log "insmod $mod failed"
done

ip link set lo up
# virtio devices are probed synchronously by insmod, but give a slow (TCG)
# boot a moment anyway rather than failing on a race.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
# Empty unless DHCP brought an address up; then it goes on the READY line.
ADDRESS=
if [ ! -e /sys/class/net/eth0 ]; then
	log "no eth0 (no virtio-net device?)"
elif [ "$NET" = dhcp ]; then
	mkdir -p /run
	# Bounded: 15 discovers 2 s apart, then give up (-n): a slow TCG boot
	# on a loaded host still gets its lease well within the 30 s. Once bound, udhcpc forks into the background and renews the
	# lease; the script (files/udhcpc.sh) applies it and writes the address.
	# -O: the MTU (the overlay's is below 1500) and the search domain are not
	# requested by default.
	if udhcpc -i eth0 -s /etc/udhcpc.script -t 15 -T 2 -n -O mtu -O search -p /run/udhcpc.pid; then
		ADDRESS=$(cat /run/blixard-address 2>/dev/null)
	fi
	[ -n "$ADDRESS" ] || log "dhcp: no lease on eth0; not announcing readiness"
else
	# Fixed addressing matching QEMU user networking (slirp) defaults.
	ip addr add 10.0.2.15/24 dev eth0
	ip link set eth0 up
	ip route add default via 10.0.2.2
fi

mkdir -p /www
cat >/www/index.html <<EOF
<!DOCTYPE html>
<html><head><title>$NAME</title></head>
<body><h1>$NAME</h1><p>Blixard guest is running.</p></body></html>
EOF
if [ "$PROBE" = 1 ]; then
	# Test aid (docs/guest-image.md): only present when asked for.
	mkdir -p /www/cgi-bin
	cp /lib/blixard/probe-fetch /www/cgi-bin/fetch
	cp /lib/blixard/probe-resolve /www/cgi-bin/resolve
	cp /lib/blixard/probe-pull /www/cgi-bin/pull
	cp /lib/blixard/probe-zeros /www/cgi-bin/zeros
	cp /lib/blixard/probe-diskw /www/cgi-bin/diskw
	cp /lib/blixard/probe-diskr /www/cgi-bin/diskr
	cp /lib/blixard/probe-diskio /www/cgi-bin/diskio
	chmod 0755 /www/cgi-bin/fetch /www/cgi-bin/resolve /www/cgi-bin/pull /www/cgi-bin/zeros
	log "probe enabled"
fi
# busybox httpd binds port 80 before daemonizing, so it accepts connections
# by the time this returns, i.e. before we announce readiness.
httpd -p 80 -h /www || log "httpd failed to start"

BLOCK=$(ls /sys/block 2>/dev/null | tr '\n' ' ')
log "block devices: ${BLOCK:-none}"
log "uptime $(cut -d' ' -f1 /proc/uptime)s"

# The ctrlaltdel action is the only thing that differs. Busybox init gets
# SIGINT on Ctrl-Alt-Del; with no ctrlaltdel line it simply ignores it.
{
	# Something must always be running or init has nothing to wait on; a
	# shell would spin on EOF when the serial console has no input.
	echo "::respawn:/bin/sleep 2147483647"
	if [ "$IGNORE_CAD" != 1 ]; then
		echo "::ctrlaltdel:/bin/poweroff -f"
	fi
	# READY is printed by init itself, as its first action: busybox init
	# blocks signals before anything else, so a Ctrl-Alt-Del sent the moment
	# the host sees READY cannot fall into the gap between this shell's exec
	# and init installing its handlers (a signal to a PID 1 without a handler
	# is dropped). The leading newline is because kernel messages can leave
	# the console mid-line and the host matches the line from its start.
	# Both values are reduced to safe characters above (the address was
	# checked as a dotted quad by the DHCP script). DHCP without a lease
	# announces nothing: the host sees a VM that never became ready.
	if [ "$NET" != dhcp ]; then
		echo "::sysinit:/bin/printf '\\nBLIXARD-READY name=%s\\n' $NAME"
	elif [ -n "$ADDRESS" ]; then
		echo "::sysinit:/bin/printf '\\nBLIXARD-READY name=%s address=%s\\n' $NAME $ADDRESS"
	fi
} >/etc/inittab

exec /bin/init
