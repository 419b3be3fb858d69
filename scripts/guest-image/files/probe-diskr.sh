#!/bin/sh
# Probe CGI /cgi-bin/diskr?bytes=N (test aid, only with blixard.probe=1): the
# first N bytes (1-64) of /dev/vdb, the VM's first volume behind its boot disk,
# up to the first newline. Digits only.
. /lib/blixard/probe-lib.sh

bytes=$(query_param bytes) || reply 400 "Bad Request" "give exactly one parameter: bytes=N (1-64)"
only_chars "$bytes" '0-9' || reply 400 "Bad Request" "bytes: digits only, 1-64"
printf '%s' "$bytes" | grep -Eqx '[1-9][0-9]?' || reply 400 "Bad Request" "bytes: 1-64"
[ "$bytes" -le 64 ] || reply 400 "Bad Request" "bytes: 1-64"
[ -b /dev/vdb ] || reply 502 "Bad Gateway" "no /dev/vdb"

# iflag=direct: the device's bytes, not a page cache that outlived a write elsewhere.
data=$(dd if=/dev/vdb bs=512 count=1 iflag=direct 2>/dev/null | head -c "$bytes" | head -n 1 | tr -cd 'A-Za-z0-9-')
reply 200 OK "$data"
