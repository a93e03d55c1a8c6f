#!/bin/bash
# bench/evlist.sh BINDIR: how soon a blocked "evlist -i" wakes (issue 10:
# within 100 ms of a matching event), and how long a listing of a full
# ring takes.
#
#   wake     EV_EVLIST_RUNS times: "evlist -i IDX -w 1m 'lat.#'" is started
#            and waited for until the bus lists it as a subscriber; then the
#            clock starts, "evfire lat.x" publishes one event, and the clock
#            stops when evlist's line has reached the reading end of its
#            pipe.  The figure is fire-to-print: evfire's own start-up and
#            acknowledgement are in it, so it is an upper bound of the
#            bus's part.  Median, 95th percentile and largest, in ms.
#   listing  ms of "evlist -F '{.seq}' >/dev/null" on a ring of
#            EV_EVLIST_RING events (default 65536, the default ring), and of
#            "evlist -i N" for the newest event only (median of 5 runs).
#
# Environment: EV_EVLIST_RUNS (default 50), EV_EVLIST_RING (default 65536).
# Exit: 0 when the wake median and 95th percentile are within 100 ms, 1
# when not, 64 usage, 69 jq missing, 70 a step failed.
#
# Uses bash for $EPOCHREALTIME (microseconds without a process per read).

set -u

[ $# -eq 1 ] && [ -x "$1/evlist" ] || {
	echo "usage: bash bench/evlist.sh BINDIR (with evbusd, evfire, evlist)" >&2
	exit 64
}
command -v jq >/dev/null || { echo "bench/evlist: needs jq" >&2; exit 69; }
BIN=$(cd "$1" && pwd)
RUNS=${EV_EVLIST_RUNS:-50}
RING=${EV_EVLIST_RING:-65536}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evlist-bench.XXXXXX") || exit 70
export EVBUS_SOCKET=$tmp/sock EVBUS_AUTOSTART=0
bus=
cleanup() {
	[ -n "$bus" ] && kill "$bus" 2>/dev/null && wait "$bus" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench/evlist: $*" >&2
	exit 70
}

now_us() {
	echo "${EPOCHREALTIME/./}"
}

mkfifo "$tmp/ready" || die "mkfifo"
"$BIN/evbusd" -s "$EVBUS_SOCKET" -r 3 -b "$((RING + 1024))" -B 512M \
    3>"$tmp/ready" 2>"$tmp/bus.err" &
bus=$!
read -r -t 10 _ <"$tmp/ready" || die "evbusd did not start: $(cat "$tmp/bus.err")"

listening() {
	[ "$("$BIN/evlist" --stats | jq '[.subscribers[] |
	    select(.client == "evlist")] | length')" -ge 1 ]
}

# --- wake ------------------------------------------------------------------
: >"$tmp/wake"
for i in $(seq 1 "$RUNS"); do
	idx=$("$BIN/evlist" --stats | jq -r '"\(.epoch):\(.seq)"')
	( "$BIN/evlist" -i "$idx" -w 1m 'lat.#' |
	    { IFS= read -r _ && now_us >"$tmp/t1"; cat >/dev/null; } ) &
	w=$!
	n=0
	until listening; do
		n=$((n + 1))
		[ "$n" -lt 500 ] || die "evlist did not subscribe"
		sleep 0.01
	done
	t0=$(now_us)
	"$BIN/evfire" lat.x "$i" || die "evfire failed"
	wait "$w" || die "evlist failed"
	echo $(( $(cat "$tmp/t1") - t0 )) >>"$tmp/wake"
done
sort -n "$tmp/wake" >"$tmp/wake.sorted"
pick() {
	# pick P: the P-th percentile of the sorted wake figures, in ms.
	local k
	k=$(( (RUNS * $1 + 99) / 100 ))
	[ "$k" -ge 1 ] || k=1
	awk -v k="$k" 'NR == k { printf "%.1f", $1 / 1000 }' "$tmp/wake.sorted"
}
med=$(pick 50)
p95=$(pick 95)
max=$(pick 100)

# --- listing ----------------------------------------------------------------
seq 1 "$RING" | "$BIN/evfire" -n list.x || die "filling the ring failed"
newest=$("$BIN/evlist" --stats | jq -r .seq)
median5() {
	local i t0 t1 f=$tmp/runs
	: >"$f"
	for i in 1 2 3 4 5; do
		t0=$(now_us)
		"$@" >/dev/null || [ $? -eq 3 ] || die "$* failed"
		t1=$(now_us)
		echo $(( t1 - t0 )) >>"$f"
	done
	sort -n "$f" | awk 'NR == 3 { printf "%.1f", $1 / 1000 }'
}
full=$(median5 "$BIN/evlist" -F '{.seq}' 'list.#')
tail1=$(median5 "$BIN/evlist" -i "$((newest - 1))" -F '{.seq}' 'list.#')

cat <<EOF
| evlist | figure |
|--------|--------|
| wake, fire to print, median of $RUNS | $med ms |
| wake, 95th percentile | $p95 ms |
| wake, largest | $max ms |
| listing of $RING events (-F '{.seq}') | $full ms |
| -i for the newest event of $RING | $tail1 ms |
EOF
awk -v m="$med" -v p="$p95" 'BEGIN { exit !(m <= 100 && p <= 100) }'
