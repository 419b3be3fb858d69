#!/bin/sh
# Probe CGI /cgi-bin/diskio?mib=N (test aid, only with blixard.probe=1): writes
# N MiB (1-256) of zeros sequentially to /dev/vdb, the VM's first volume behind
# its boot disk, flushed (conv=fsync), then reads them back with O_DIRECT, and
# answers 200 `WRITE_MS READ_MS` by the guest's /proc/uptime (10 ms
# resolution). The volume benchmark's guest side (src/bench/volumes.ts). It
# overwrites the volume's first N MiB. Digits only.
. /lib/blixard/probe-lib.sh

mib=$(query_param mib) || reply 400 "Bad Request" "give exactly one parameter: mib=N (1-256)"
only_chars "$mib" '0-9' || reply 400 "Bad Request" "mib: digits only, 1-256"
printf '%s' "$mib" | grep -Eqx '[1-9][0-9]{0,2}' || reply 400 "Bad Request" "mib: 1-256"
[ "$mib" -le 256 ] || reply 400 "Bad Request" "mib: 1-256"
[ -b /dev/vdb ] || reply 502 "Bad Gateway" "no /dev/vdb"

# /proc/uptime in hundredths of a second, without leading zeros (ash reads those as octal).
centis() {
	c=$(cut -d' ' -f1 /proc/uptime | tr -d .)
	c=${c#"${c%%[!0]*}"}
	echo "${c:-0}"
}

t0=$(centis)
dd if=/dev/zero of=/dev/vdb bs=1048576 count="$mib" conv=fsync 2>/dev/null || reply 502 "Bad Gateway" "write failed"
t1=$(centis)
dd if=/dev/vdb of=/dev/null bs=1048576 count="$mib" iflag=direct 2>/dev/null || reply 502 "Bad Gateway" "read failed"
t2=$(centis)
reply 200 OK "$(((t1 - t0) * 10)) $(((t2 - t1) * 10))"
