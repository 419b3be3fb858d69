# Shared by the probe's CGI scripts (sourced, not run). See docs/guest-image.md.
#
# The query string is attacker-controlled: it is decoded by busybox itself
# (`httpd -d`, no shell expansion), then every character is checked against an
# allow-list before a strict shape check; values only ever reach commands as
# single arguments.

export PATH=/bin
set -f

# reply STATUS TEXT BODY: a complete response (busybox httpd passes output
# that starts with "HTTP/" through unchanged, and adds "200 OK" otherwise).
reply() {
	printf 'HTTP/1.0 %s %s\r\nContent-Type: text/plain\r\nCache-Control: no-store\r\n\r\n' "$1" "$2"
	printf '%s\n' "$3"
	exit 0
}

# query_param NAME: the decoded value of the query string when it is exactly
# NAME=VALUE (one parameter, nothing else); fails otherwise.
query_param() {
	case "${QUERY_STRING:-}" in
	"$1="*) ;;
	*) return 1 ;;
	esac
	raw=${QUERY_STRING#"$1="}
	# No second parameter, and a bound on the length before decoding.
	case "$raw" in *'&'* | '') return 1 ;; esac
	[ ${#raw} -le 600 ] || return 1
	httpd -d "$raw"
}

# only_chars VALUE SET: true when VALUE is non-empty and every character of
# it (newlines included) is in the tr SET. The "x" keeps $(...) from
# stripping a trailing newline, which would then pass unseen.
only_chars() {
	[ -n "$1" ] && [ "$(printf '%s' "$1" | tr -d "$2"; echo x)" = x ]
}
