#!/bin/sh
# bench/store.sh BINDIR: evstore side by side with SQLite (issue 12), and
# evstore alone on a large log.
#
#   append   events/s of "evstore append DIR < in" (--sync batch, the
#            default) and of "store_sqlite insert DB < in" (bench/
#            store_sqlite.c: WAL, synchronous=FULL, 1000 rows a
#            transaction, an index on time) on the same events: the lines
#            evsub prints (bench/gen.c's events, stamped by the first pass)
#   cat      events/s of "evstore cat DIR > /dev/null" and of
#            "sqlite3 DB 'select body from ev' > /dev/null" (the same bytes:
#            checked once with cmp)
#   big log  a log of EV_STORE_BIG events: wall ms of "evstore cat -n 10",
#            of "--since" a time 10 events before the end, the rate of
#            "cat > /dev/null", and the largest RSS of each of those
#
# Each figure is the median of EV_STORE_RUNS runs (min and max shown).  The
# files are in the page cache (the logs were just written): warm figures.
#
# Environment:
#   EV_STORE_EVENTS=N   events for append and cat (default 1000000)
#   EV_STORE_BIG=N      events in the large log (default 10000000; 0: skip)
#   EV_STORE_RUNS=N     runs of each measure (default 3)
#   EV_STORE_OUT=FILE   write the table there too
#   EV_STORE_SQLITE=F   a store_sqlite already built (make bench-store)
#   TMPDIR              where the logs go (about 260 bytes an event)
#
# Needs cc, libsqlite3-dev, sqlite3, jq and GNU time (sh mk/deps.sh bench).
# Exit: 0 every target met, 1 some missed (the table says which), 64
# usage, 69 a tool missing, 70 a step failed.

set -u

usage() {
	echo "usage: sh bench/store.sh BINDIR" >&2
	exit 64
}
[ $# -eq 1 ] || usage
[ -x "$1/evstore" ] || { echo "store.sh: no $1/evstore (run make first)" >&2; exit 64; }
BIN=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
N=${EV_STORE_EVENTS:-1000000}
BIG=${EV_STORE_BIG:-10000000}
RUNS=${EV_STORE_RUNS:-3}
OUT=${EV_STORE_OUT:-}

log() { printf 'store.sh: %s\n' "$*" >&2; }
die() { printf 'store.sh: %s\n' "$*" >&2; exit 70; }

for t in cc sqlite3 jq /usr/bin/time; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "store.sh: $t is missing: sh mk/deps.sh bench" >&2
		exit 69
	}
done

T=$(mktemp -d "${TMPDIR:-/tmp}/evstore-bench.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cc -O2 -o "$T/gen" "$HERE/gen.c" || die "cannot build gen"
if [ -n "${EV_STORE_SQLITE:-}" ]; then
	cp "$EV_STORE_SQLITE" "$T/store_sqlite" || die "no $EV_STORE_SQLITE"
else
	cc -O2 -o "$T/store_sqlite" "$HERE/store_sqlite.c" -lsqlite3 ||
	    die "cannot build store_sqlite (libsqlite3-dev: sh mk/deps.sh bench)"
fi

now_ns() { date +%s%N; }

# stats: read numbers, print "median min max".
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - -"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}

# timed_ms CMD...: run it (sh -c), print its wall time in ms.
timed_ms() {
	_t0=$(now_ns)
	sh -c "$1" || die "failed: $1"
	_t1=$(now_ns)
	echo $(( (_t1 - _t0) / 1000000 ))
}

# rate N MS: events per second.
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f\n", (ms > 0 ? n * 1000 / ms : 0) }'; }

ROWS=""
row() { ROWS="$ROWS$(printf '| %s | %s | %s | %s | %s |' "$@")
"; }
MISSED=""
target() {
	# target TEXT OK
	if [ "$2" = 1 ]; then
		ROWS="$ROWS| $1 | | | | met |
"
	else
		ROWS="$ROWS| $1 | | | | **missed** |
"
		MISSED="$MISSED $1;"
	fi
}

log "input: $N events (bench/gen.c, stamped by evstore)"
"$T/gen" ndjson "$N" | "$BIN/evstore" append --sync none "$T/seed" ||
    die "evstore append of the input failed"
"$BIN/evstore" cat "$T/seed" >"$T/in" || die "evstore cat of the input failed"
rm -rf "$T/seed"
bytes=$(wc -c <"$T/in")

log "append: evstore and SQLite, $RUNS runs each"
: >"$T/a.ev"
: >"$T/a.sq"
i=0
while [ "$i" -lt "$RUNS" ]; do
	i=$((i + 1))
	rm -rf "$T/log" "$T/db" "$T/db-wal" "$T/db-shm"
	ms=$(timed_ms "'$BIN/evstore' append '$T/log' <'$T/in'")
	rate "$N" "$ms" >>"$T/a.ev"
	ms=$(timed_ms "'$T/store_sqlite' insert '$T/db' <'$T/in'")
	rate "$N" "$ms" >>"$T/a.sq"
done
set -- $(stats <"$T/a.ev"); ev_app=$1
row "append, evstore --sync batch (events/s)" "$1" "$2" "$3" ""
set -- $(stats <"$T/a.sq"); sq_app=$1
row "append, SQLite WAL synchronous=FULL, 1000 a transaction (events/s)" "$1" "$2" "$3" ""

log "cat: evstore and sqlite3, $RUNS runs each"
"$BIN/evstore" cat "$T/log" | cmp -s - "$T/in" || die "evstore cat is not the input"
sqlite3 "$T/db" 'select body from ev' | cmp -s - "$T/in" ||
    die "sqlite3's rows are not the input"
: >"$T/c.ev"
: >"$T/c.sq"
i=0
while [ "$i" -lt "$RUNS" ]; do
	i=$((i + 1))
	ms=$(timed_ms "'$BIN/evstore' cat '$T/log' >/dev/null")
	rate "$N" "$ms" >>"$T/c.ev"
	ms=$(timed_ms "sqlite3 '$T/db' 'select body from ev' >/dev/null")
	rate "$N" "$ms" >>"$T/c.sq"
done
set -- $(stats <"$T/c.ev"); ev_cat=$1
row "cat > /dev/null, evstore (events/s)" "$1" "$2" "$3" ""
set -- $(stats <"$T/c.sq"); sq_cat=$1
row "select body from ev > /dev/null, sqlite3 shell (events/s)" "$1" "$2" "$3" ""
rss_small=$(/usr/bin/time -f %M "$BIN/evstore" cat "$T/log" 2>&1 >/dev/null | tail -n 1)
rm -rf "$T/db" "$T/db-wal" "$T/db-shm"

target "append at least 2x SQLite ($(awk -v a="$ev_app" -v b="$sq_app" 'BEGIN { printf "%.1fx", b ? a / b : 0 }'))" \
    "$(awk -v a="$ev_app" -v b="$sq_app" 'BEGIN { print (a >= 2 * b) }')"
target "cat at least 1,000,000 events/s" "$(awk -v a="$ev_cat" 'BEGIN { print (a >= 1000000) }')"
target "cat at least as fast as sqlite3 ($(awk -v a="$ev_cat" -v b="$sq_cat" 'BEGIN { printf "%.1fx", b ? a / b : 0 }'))" \
    "$(awk -v a="$ev_cat" -v b="$sq_cat" 'BEGIN { print (a >= b) }')"

if [ "$BIG" -gt 0 ]; then
	log "big log: $BIG events (this takes a while)"
	rm -rf "$T/log"
	"$T/gen" ndjson "$BIG" | "$BIN/evstore" append --sync none "$T/big" ||
	    die "building the big log failed"
	"$BIN/evstore" stats "$T/big" >"$T/big.stats"
	since=$("$BIN/evstore" cat "$T/big" -n 10 | head -n 1 | jq .time)
	: >"$T/l.ms"
	: >"$T/s.ms"
	: >"$T/b.ev"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		i=$((i + 1))
		timed_ms "'$BIN/evstore' cat '$T/big' -n 10 >/dev/null" >>"$T/l.ms"
		timed_ms "'$BIN/evstore' cat '$T/big' --since $since >/dev/null" >>"$T/s.ms"
	done
	ms=$(timed_ms "'$BIN/evstore' cat '$T/big' >/dev/null")
	rate "$BIG" "$ms" >"$T/b.ev"
	n10=$("$BIN/evstore" cat "$T/big" -n 10 | wc -l)
	ns=$("$BIN/evstore" cat "$T/big" --since "$since" | wc -l)
	[ "$n10" -eq 10 ] && [ "$ns" -ge 10 ] ||
	    die "the big log gave $n10 and $ns events"
	set -- $(stats <"$T/l.ms"); last_ms=$1
	row "$BIG-event log: cat -n 10 (ms)" "$1" "$2" "$3" ""
	set -- $(stats <"$T/s.ms"); since_ms=$1
	row "$BIG-event log: cat --since (10 events before the end) (ms)" "$1" "$2" "$3" ""
	set -- $(stats <"$T/b.ev")
	row "$BIG-event log: cat > /dev/null (events/s)" "$1" "$2" "$3" ""
	rss_big=$(/usr/bin/time -f %M "$BIN/evstore" cat "$T/big" 2>&1 >/dev/null | tail -n 1)
	rss_last=$(/usr/bin/time -f %M "$BIN/evstore" cat "$T/big" -n 10 2>&1 >/dev/null | tail -n 1)
	row "largest RSS, cat of $N / $BIG events / -n 10 (KiB)" \
	    "$rss_small / $rss_big / $rss_last" "" "" ""
	target "last 10 of $BIG events in under 50 ms" "$(awk -v a="$last_ms" 'BEGIN { print (a < 50) }')"
	target "--since near the end in under 50 ms" "$(awk -v a="$since_ms" 'BEGIN { print (a < 50) }')"
	target "memory bounded: cat of $BIG events within 1 MiB of $N" \
	    "$(awk -v a="$rss_big" -v b="$rss_small" 'BEGIN { print (a <= b + 1024) }')"
fi

{
	echo "## evstore and SQLite (bench/store.sh)"
	echo
	echo "Run on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;"
	echo "$N events of $((bytes / N)) bytes a line; SQLite $(sqlite3 --version | cut -d' ' -f1); $RUNS runs of each."
	echo
	echo "| measure | median | min | max | target |"
	echo "|---|---|---|---|---|"
	printf '%s' "$ROWS"
} >"$T/table"
cat "$T/table"
[ -z "$OUT" ] || cp "$T/table" "$OUT"
[ -z "$MISSED" ] || { log "missed:$MISSED"; exit 1; }
exit 0
