#!/bin/sh
# Probe CGI /cgi-bin/zeros?mib=N (test aid, only with blixard.probe=1): streams
# N MiB (1-256) of zeros, the sink of the VM-to-VM throughput benchmark
# (src/bench/net-throughput.ts). Anything but digits is refused (400).
. /lib/blixard/probe-lib.sh

mib=$(query_param mib) || reply 400 "Bad Request" "give exactly one parameter: mib=N (1-256)"
only_chars "$mib" '0-9' || reply 400 "Bad Request" "mib: digits only, 1-256"
printf '%s' "$mib" | grep -Eqx '[1-9][0-9]{0,2}' || reply 400 "Bad Request" "mib: 1-256"
[ "$mib" -le 256 ] || reply 400 "Bad Request" "mib: 1-256"

printf 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\nCache-Control: no-store\r\n\r\n' "$((mib * 1048576))"
exec dd if=/dev/zero bs=65536 count="$((mib * 16))" 2>/dev/null
