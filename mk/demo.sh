#!/bin/sh
# mk/demo.sh BINDIR: a real pipeline on a private bus, shown step by step.
# Exits non-zero if any step does not deliver what it shows.
set -eu

bin=$(cd "$1" && pwd)
PATH=$bin:$PATH
dir=$(mktemp -d "${TMPDIR:-/tmp}/evbus-demo.XXXXXX")
export EVBUS_SOCKET="$dir/sock" EVBUS_AUTOSTART=0
bus=
subpid=

cleanup() {
	[ -n "$subpid" ] && kill "$subpid" 2>/dev/null || true
	if [ -n "$bus" ] && kill -TERM "$bus" 2>/dev/null; then
		wait "$bus" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

if [ -t 1 ]; then
	say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
show() { printf '$ %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# Wait (up to 10 s) until FILE has N lines.
wait_lines() {
	i=0
	while [ "$(wc -l <"$1")" -lt "$2" ]; do
		i=$((i + 1))
		[ "$i" -le 1000 ] || die "$1: expected $2 lines, got $(wc -l <"$1")"
		sleep 0.01
	done
}

say "Start a bus on a private socket (the readiness fd says when it listens)"
show "evbusd -s $EVBUS_SOCKET -r 3 &"
mkfifo "$dir/ready"
evbusd -r 3 3>"$dir/ready" &
bus=$!
read -r _ <"$dir/ready" || die "evbusd did not start"

say "Subscribe to request.# and keep only the payloads, with jq"
show "evsub 'request.#' | jq -c .payload &"
evsub --from 0 'request.#' >"$dir/sub.ndjson" &
subpid=$!

say "Publish from arguments, from NDJSON on stdin, and line by line"
show "evfire request.echo.1-0-0.default '{\"command\":\"say\",\"text\":\"hello\"}'"
evfire request.echo.1-0-0.default '{"command":"say","text":"hello"}'
show "evfire -w deploy v1.2.3          # prints the seq the bus gave it"
evfire -w deploy v1.2.3
show "printf '%s\\n' '{\"name\":\"request.a\",\"payload\":1}' 'not json' '{\"name\":\"request.b\"}' | evfire"
status=0
printf '%s\n' '{"name":"request.a","payload":1}' 'not json' \
    '{"name":"request.b"}' | evfire || status=$?
echo "(exit status $status: one line rejected, the two around it published)"
[ "$status" -eq 1 ] || die "evfire should exit 1 when a line is rejected"
show "printf 'GET /\\nPOST /login\\n' | evfire -n request.log.line"
printf 'GET /\nPOST /login\n' | evfire -n request.log.line

say "What the subscriber printed (payloads through jq)"
wait_lines "$dir/sub.ndjson" 5
jq -c .payload "$dir/sub.ndjson"

say "Replay: the 2 most recent events, then stop"
show "evsub --last 2 -c 2 '#'"
evsub --last 2 -c 2 '#' | jq -c '{seq, name, payload}'

say "The bus's own events are under evbus. and apart from '#'"
show "evsub --from 0 --idle 200ms 'evbus.#' | jq -r .name | sort | uniq -c"
evsub --from 0 --idle 200ms 'evbus.#' | jq -r .name | sort | uniq -c ||
    [ $? -eq 3 ]

say "Stop the bus: SIGTERM, clean exit, socket removed"
kill "$subpid"
subpid=
kill -TERM "$bus"
wait "$bus" || die "evbusd exited with status $?"
bus=
[ ! -e "$EVBUS_SOCKET" ] || die "the socket is still there"
echo "demo: all steps delivered"
