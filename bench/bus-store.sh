#!/bin/sh
# bench/bus-store.sh BINDIR: evbusd --store beside the same evbusd without a
# store, in the same run (issue 12; target: at least 0.8x).
#
#   bulk   events/s of the bulk pipeline: "evfire < in" (it exits once
#          every event is acknowledged) with one "evsub -c N" subscriber,
#          from the first event published to the last one the subscriber
#          has printed; bench/gen.c's N events of 170 bytes.  With a store,
#          an acknowledgement and the delivery wait for the fsync that
#          covers the event (--sync, default batch: group commit).
#
# Each figure is the median of EV_BUS_STORE_RUNS runs (min and max shown),
# the two daemons alternating.  The log is on TMPDIR's file system.
#
# Environment:
#   EV_BUS_STORE_EVENTS=N   events (default 200000)
#   EV_BUS_STORE_RUNS=N     runs of each (default 5)
#   EV_BUS_STORE_SYNC=S     the store's --sync (default batch)
#   TMPDIR                  where the socket and the log go
#
# Exit: 0 the target met, 1 missed, 64 usage, 70 a step failed.

set -u

[ $# -eq 1 ] || { echo "usage: sh bench/bus-store.sh BINDIR" >&2; exit 64; }
[ -x "$1/evbusd" ] || { echo "bus-store.sh: no $1/evbusd (run make first)" >&2; exit 64; }
BIN=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
N=${EV_BUS_STORE_EVENTS:-200000}
RUNS=${EV_BUS_STORE_RUNS:-5}
SYNC=${EV_BUS_STORE_SYNC:-batch}

log() { printf 'bus-store.sh: %s\n' "$*" >&2; }
die() { printf 'bus-store.sh: %s\n' "$*" >&2; exit 70; }

T=$(mktemp -d "${TMPDIR:-/tmp}/evbus-store-bench.XXXXXX") || die "mktemp failed"
BUS=
cleanup() {
	[ -n "$BUS" ] && kill "$BUS" 2>/dev/null && wait "$BUS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cc -O2 -o "$T/gen" "$HERE/gen.c" || die "cannot build gen"
"$T/gen" ndjson "$N" >"$T/in" || die "gen failed"
export EVBUS_SOCKET="$T/sock" EVBUS_AUTOSTART=0

now_ns() { date +%s%N; }

# one MODE: start evbusd (MODE plain or store), time the bulk pipeline,
# stop it; prints events/s.
one() {
	rm -rf "$T/log" "$T/ready" "$T/out"
	mkfifo "$T/ready"
	if [ "$1" = store ]; then
		"$BIN/evbusd" -r 3 -b 1M -B 512M --store "$T/log" \
		    --sync "$SYNC" 3>"$T/ready" 2>>"$T/evbusd.log" &
	else
		"$BIN/evbusd" -r 3 -b 1M -B 512M 3>"$T/ready" \
		    2>>"$T/evbusd.log" &
	fi
	BUS=$!
	read -r _ <"$T/ready" || die "evbusd did not start: $(tail -n 3 "$T/evbusd.log")"
	# The subscriber starts with the first event after the warm-up's
	# seq, wherever it is when it connects (the ring holds them all).
	w=$("$BIN/evfire" -w request.warm.up) || die "evfire failed"
	t0=$(now_ns)
	"$BIN/evsub" --from $((w + 1)) -c "$N" 'request.#' >"$T/out" &
	sub=$!
	"$BIN/evfire" <"$T/in" || die "evfire failed"
	wait "$sub" || die "evsub failed"
	t1=$(now_ns)
	kill "$BUS"
	wait "$BUS" || die "evbusd exited $? on SIGTERM"
	BUS=
	[ "$(wc -l <"$T/out")" -eq "$N" ] || die "evsub printed $(wc -l <"$T/out") lines"
	echo $((N * 1000000000 / (t1 - t0)))
}

stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}

r=0
: >"$T/plain"
: >"$T/store"
while [ $r -lt "$RUNS" ]; do
	r=$((r + 1))
	p=$(one plain) || exit 70
	s=$(one store) || exit 70
	log "run $r: without a store $p events/s, --store --sync $SYNC $s events/s"
	echo "$p" >>"$T/plain"
	echo "$s" >>"$T/store"
done
set -- $(stats <"$T/plain")
pm=$1 pmin=$2 pmax=$3
set -- $(stats <"$T/store")
sm=$1 smin=$2 smax=$3
ratio=$(awk -v s="$sm" -v p="$pm" 'BEGIN { printf "%.2f", s / p }')
echo "| evbusd, bulk pipeline ($N events, 1 subscriber) | events/s, median (min-max) of $RUNS |"
echo "|---|---|"
echo "| without a store | $pm ($pmin-$pmax) |"
echo "| --store --sync $SYNC | $sm ($smin-$smax) |"
echo "| ratio (target >= 0.8) | $ratio |"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.8) }'
