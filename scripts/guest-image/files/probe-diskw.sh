#!/bin/sh
# Probe CGI /cgi-bin/diskw?text=WORD (test aid, only with blixard.probe=1):
# writes WORD and a newline at the start of /dev/vdb, the VM's first volume
# behind its boot disk, and flushes it (docs/volumes.md). The device is fixed:
# the caller chooses only the text, letters, digits and '-', 1-64 of them.
. /lib/blixard/probe-lib.sh

text=$(query_param text) || reply 400 "Bad Request" "give exactly one parameter: text=WORD"
only_chars "$text" 'A-Za-z0-9-' || reply 400 "Bad Request" "text: letters, digits and '-' only"
[ ${#text} -le 64 ] || reply 400 "Bad Request" "text: at most 64 characters"
[ -b /dev/vdb ] || reply 502 "Bad Gateway" "no /dev/vdb"

printf '%s\n' "$text" | dd of=/dev/vdb bs=512 conv=notrunc,fsync 2>/dev/null || reply 502 "Bad Gateway" "write failed"
sync
reply 200 OK "wrote ${#text} characters to /dev/vdb"
