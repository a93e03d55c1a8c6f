#!/bin/sh
# bench/where.sh BINDIR [N [SUBS [RUNS]]]: what filters in the daemon cost.
# N events from bench/gen.c go through "evfire < file" to SUBS subscribers
# (default 100), each "evsub -c COUNT" to /dev/null, in three set-ups:
#
#   plain     no filter: every subscriber gets all N events
#   pass      each its own filter on one field that every event passes
#             (.payload.n > -J): the same N events each, plus the filters
#   distinct  each its own filter on one field (.payload.version ==
#             "1.0.J"): each gets its share, the rest never leaves the bus
#
# A run prints the wall time from evfire's start until every subscriber has
# its COUNT and exited, the rate of events published per second over it,
# and the daemon's CPU time.  The machine may be loaded: compare the set-ups' ratios, not the
# figures.  The ring is sized for the burst, as in bench/run.sh.
set -eu

[ $# -ge 1 ] || {
	echo "usage: bench/where.sh BINDIR [N [SUBS [RUNS]]]" >&2
	exit 64
}
bin=$(cd "$1" && pwd)
n=${2:-100000}
subs=${3:-100}
runs=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/evwhere.XXXXXX")
bus=

cleanup() {
	if [ -n "$bus" ]; then
		kill "$bus" 2>/dev/null || true
		wait "$bus" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

cc -O2 -o "$T/gen" "$here/gen.c"
"$T/gen" ndjson "$n" >"$T/in"

# subscribers: the number the bus's STATS lists.
subscribers() {
	printf 'HELLO 2 bench\nSTATS\nQUIT\n' |
	    socat -t 5 - "UNIX-CONNECT:$T/sock" | sed -n 3p |
	    jq '.subscribers | length'
}

# one MODE: one run of a set-up; prints its line.
one() {
	mode=$1
	rm -f "$T/ready" "$T/sock"*
	mkfifo "$T/ready"
	"$bin/evbusd" -s "$T/sock" -r 3 -b 1M -B 512M 3>"$T/ready" &
	bus=$!
	read -r _ <"$T/ready"
	pids=
	j=0
	while [ "$j" -lt "$subs" ]; do
		case $mode in
		plain)
			set -- -c "$n" ;;
		pass)
			set -- -c "$n" --where ".payload.n > -$((j + 1))" ;;
		distinct)
			c=$(grep -c "\"version\":\"1\\.0\\.$j\"" "$T/in" || :)
			if [ "$c" -eq 0 ]; then
				echo "where.sh: N is too small for $subs" \
				    "distinct filters" >&2
				exit 64
			fi
			set -- -c "$c" --where ".payload.version == \"1.0.$j\"" ;;
		esac
		"$bin/evsub" -s "$T/sock" -q "$@" '#' >/dev/null &
		pids="$pids $!"
		j=$((j + 1))
	done
	until [ "$(subscribers)" -eq "$subs" ]; do sleep 0.05; done
	start=$(date +%s%N)
	"$bin/evfire" -s "$T/sock" <"$T/in"
	pub=$(date +%s%N)
	for p in $pids; do
		wait "$p"
	done
	end=$(date +%s%N)
	# The daemon's CPU time (user + system) since it started: less
	# swayed by the machine's load than the wall time.
	cpu=$(awk -v hz="$(getconf CLK_TCK)" \
	    '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$bus/stat")
	ms=$(((end - start) / 1000000))
	[ "$ms" -gt 0 ] || ms=1
	echo "$mode: $n events, $subs subscribers: $ms ms," \
	    "$((n * 1000 / ms)) events/s (evfire done after" \
	    "$(((pub - start) / 1000000)) ms; evbusd CPU $cpu ms)"
	kill "$bus"
	wait "$bus" || true
	bus=
}

run=0
while [ "$run" -lt "$runs" ]; do
	run=$((run + 1))
	for mode in plain pass distinct; do
		one "$mode"
	done
done
