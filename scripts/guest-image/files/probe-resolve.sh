#!/bin/sh
# Probe CGI /cgi-bin/resolve?name=NAME (test aid, only with blixard.probe=1):
# the guest looks NAME up with nslookup through its own resolv.conf and returns
# the output (200), or it with 502 when it names no address. Names other than
# hostname characters are refused (400).
. /lib/blixard/probe-lib.sh

name=$(query_param name) || reply 400 "Bad Request" "give exactly one parameter: name=HOSTNAME"
only_chars "$name" 'A-Za-z0-9.-' || reply 400 "Bad Request" "name: only letters, digits, dots and dashes are allowed"
case "$name" in
-* | .*) reply 400 "Bad Request" "name: must start with a letter or digit" ;;
esac
[ ${#name} -le 253 ] || reply 400 "Bad Request" "name: at most 253 characters"

# nslookup's exit status also reflects the AAAA query (none here), so success
# means: at least one address in the answer.
out=$(timeout 8 nslookup "$name" 2>&1)
if printf '%s\n' "$out" | grep -Eq '^Address: [0-9a-fA-F.:]+$'; then
	reply 200 OK "$out"
fi
reply 502 "Bad Gateway" "lookup failed: $out"
