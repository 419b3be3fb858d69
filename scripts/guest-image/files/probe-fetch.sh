#!/bin/sh
# Probe CGI /cgi-bin/fetch?url=http://HOST[:PORT]/PATH (test aid, only with
# blixard.probe=1): the guest fetches the URL with a short timeout and returns
# the body (200), or the error (502). Anything but a plain http:// URL of
# hostname/IP characters and a simple path is refused (400).
. /lib/blixard/probe-lib.sh

url=$(query_param url) || reply 400 "Bad Request" "give exactly one parameter: url=http://HOST[:PORT]/PATH"
only_chars "$url" 'A-Za-z0-9._~/:-' || reply 400 "Bad Request" "url: only http://HOST[:PORT]/PATH with letters, digits and ._~/:- is allowed"
if ! printf '%s' "$url" | grep -Eqx 'http://[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?'; then
	reply 400 "Bad Request" "url: must be http://HOST[:PORT]/PATH"
fi

# This busybox is static glibc without NSS modules: its wget crashes in
# getservbyname and cannot resolve names. So the probe speaks HTTP/1.0 itself
# over nc (numeric address and port: no NSS), after looking the host up with
# nslookup (its own resolver, through the lease's resolv.conf).
rest=${url#http://}
hostport=${rest%%/*}
path=${rest#"$hostport"}
host=${hostport%%:*}
port=${hostport#"$host"}
port=${port#:}
[ -n "$port" ] || port=80
[ -n "$path" ] || path=/
addr=$host
if ! printf '%s' "$host" | grep -Eqx '[0-9]{1,3}(\.[0-9]{1,3}){3}'; then
	found=$(timeout 8 nslookup "$host" 2>&1)
	addr=$(printf '%s\n' "$found" | sed -n 's/^Address: \([0-9.]*\)$/\1/p' | head -n1)
	[ -n "$addr" ] || reply 502 "Bad Gateway" "fetch failed: cannot resolve $host: $found"
fi

out=/tmp/probe-fetch.$$
# Every value in the request was validated above (no CR, LF or spaces).
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" |
	timeout 8 nc -w 5 "$addr" "$port" >"$out" 2>"$out.err"
status=$(head -n1 "$out" | tr -d '\r')
case "$status" in
"HTTP/1."?" 200 "*)
	# The body: everything after the first empty line.
	body=$(sed '1,/^\r\{0,1\}$/d' "$out")
	rm -f "$out" "$out.err"
	reply 200 OK "$body"
	;;
esac
err=$(cat "$out.err")
rm -f "$out" "$out.err"
reply 502 "Bad Gateway" "fetch failed: ${status:-${err:-no answer from $addr:$port}}"
