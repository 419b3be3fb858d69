#!/bin/sh
# Runs a command in a test host's network namespace, as `ip netns exec NS CMD...` does, but keeps the
# cgroup hierarchies: ip netns exec mounts a fresh /sys (so that /sys/class/net lists the namespace's
# devices), which hides /sys/fs/cgroup, and a node there could not jail its VMs. Here the cgroup
# mounts are set aside, the namespace's sysfs mounted, and the cgroup mounts moved back on top, in a
# mount namespace of the command's own (nothing changes for the caller).
#
#   netns-run.sh NS CMD [ARG...]
#
# Every step execs the next (nsenter and unshare fork only when told to), so the command keeps this
# script's pid and can be killed by it. The arguments are passed on as "$@", never evaluated.
set -eu
ns=$1
shift
exec nsenter --net="/run/netns/$ns" unshare --mount --propagation slave -- /bin/sh -c '
	set -eu
	keep=$(mktemp -d /tmp/blixard-netns-cgroup.XXXXXX)
	mount --rbind /sys/fs/cgroup "$keep"
	umount -l /sys
	mount -t sysfs sysfs /sys
	mount --move "$keep" /sys/fs/cgroup
	rmdir "$keep"
	exec "$@"
' netns-run "$@"
