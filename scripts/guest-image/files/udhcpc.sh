#!/bin/sh
# busybox udhcpc event script of the Blixard guest image (installed as
# /etc/udhcpc.script; used only with `blixard.net=dhcp`, see init.sh).
#
# udhcpc runs this with the event as $1 and the lease in the environment. The
# lease comes from the network, so every value is checked against a strict
# pattern before use and passed as an argument, never evaluated: a bad value is
# dropped, never half-applied.

export PATH=/bin
set -f

log() { echo "blixard-dhcp: $*"; }

# A dotted quad, each part 0-255.
is_ipv4() {
	case "$1" in
	*[!0-9.]* | *..* | .* | *.) return 1 ;;
	esac
	old_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # splitting on dots is the point
	set -- $1
	IFS=$old_ifs
	[ $# -eq 4 ] || return 1
	for part in "$@"; do
		[ ${#part} -le 3 ] && [ "$part" -le 255 ] || return 1
	done
}

# A DNS name: letters, digits, dots and dashes, not starting with a dash.
is_domain() {
	case "$1" in
	'' | -* | *[!A-Za-z0-9.-]*) return 1 ;;
	esac
	[ ${#1} -le 253 ]
}

case "$1" in
deconfig)
	# Start from a clean interface: up (udhcpc needs it to send) but no address.
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	if ! is_ipv4 "$ip" || ! is_ipv4 "${subnet:-}"; then
		log "ignoring a lease with a bad address or subnet"
		exit 1
	fi
	case "${mtu:-}" in
	'' | *[!0-9]*) ;;
	*) if [ "$mtu" -ge 576 ] && [ "$mtu" -le 9000 ]; then ip link set "$interface" mtu "$mtu"; fi ;;
	esac
	# A renewal of the same address must not drop connections: only touch
	# the address when it changed.
	current=$(ip -4 -o addr show dev "$interface" | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n1)
	if [ "$current" != "$ip" ]; then
		ip addr flush dev "$interface"
		ifconfig "$interface" "$ip" netmask "$subnet" up
	fi
	# The first valid router becomes the default route.
	for r in ${router:-}; do
		if is_ipv4 "$r"; then
			ip route replace default via "$r" dev "$interface"
			break
		fi
	done
	{
		if is_domain "${domain:-}"; then echo "search $domain"; fi
		for d in ${dns:-}; do
			if is_ipv4 "$d"; then echo "nameserver $d"; fi
		done
	} >/etc/resolv.conf.new
	mv /etc/resolv.conf.new /etc/resolv.conf
	# init.sh waits for this file: the address is up once it exists.
	echo "$ip" >/run/blixard-address
	log "$1 $ip/$subnet router ${router:-none} dns ${dns:-none} mtu ${mtu:-default}"
	;;
leasefail | nak)
	log "$1"
	;;
esac
exit 0
