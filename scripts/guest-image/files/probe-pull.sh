#!/bin/sh
# Probe CGI /cgi-bin/pull?url=http://A.B.C.D[:PORT]/PATH (test aid, only with
# blixard.probe=1): the guest GETs the URL over nc, discards what it receives,
# and answers "BYTES MS STATUS-LINE": the bytes received (headers included),
# the milliseconds it took as the guest's clock saw it (10 ms resolution), and
# the answer's status line. The client side of the VM-to-VM throughput
# benchmark. Only a numeric IPv4 address (no lookup inside the timing) and a
# path of [A-Za-z0-9._~/?=-] pass (400 otherwise); the values reach nc and
# printf as single arguments, never through a shell evaluation.
. /lib/blixard/probe-lib.sh

url=$(query_param url) || reply 400 "Bad Request" "give exactly one parameter: url=http://A.B.C.D[:PORT]/PATH"
only_chars "$url" 'A-Za-z0-9._~/:?=-' || reply 400 "Bad Request" "url: only http://A.B.C.D[:PORT]/PATH with letters, digits and ._~/:?=- is allowed"
if ! printf '%s' "$url" | grep -Eqx 'http://[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?/[A-Za-z0-9._~/?=-]*'; then
	reply 400 "Bad Request" "url: must be http://A.B.C.D[:PORT]/PATH"
fi
rest=${url#http://}
hostport=${rest%%/*}
path=${rest#"$hostport"}
addr=${hostport%%:*}
port=${hostport#"$addr"}
port=${port#:}
[ -n "$port" ] || port=80

# /proc/uptime in hundredths of a second, without leading zeros (ash reads
# those as octal).
centis() {
	c=$(cut -d' ' -f1 /proc/uptime | tr -d .)
	c=${c#"${c%%[!0]*}"}
	echo "${c:-0}"
}

began=$(centis)
# Every value in the request was validated above (no CR, LF or spaces).
got=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" |
	timeout 300 nc -w 10 "$addr" "$port" |
	{
		IFS= read -r line || line=
		rest=$(wc -c)
		printf '%s %s' "$((${#line} + 1 + rest))" "$(printf '%s' "$line" | tr -d '\r')"
	})
ended=$(centis)
bytes=${got%% *}
status=${got#* }
case "$status" in
"HTTP/1."?" 200 "*) reply 200 OK "$bytes $(((ended - began) * 10)) $status" ;;
esac
reply 502 "Bad Gateway" "pull failed: ${status:-no answer from $addr:$port}"
