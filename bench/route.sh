#!/bin/sh
# bench/route.sh BINDIR [EVENTS [RUNS]]: evroute with 20 rules routing to
# standard output, files and nowhere, beside jq -c 'select(...)' making the
# same choice of the events for standard output (what a user would write
# without evroute; jq writes no files).  EVENTS is an NDJSON file of
# bench/gen.c's events (default: 500,000 of them, made here); RUNS the
# runs of each (default 5), interleaved.  Both read the file from disk
# and write their output there.  The first run of each checks that the
# two printed the same bytes.
#
# Prints one line per run, "evroute<TAB>EVENTS/S<TAB>EVENTS/CPU-S" or the
# same for jq: events over the wall time of the run, and over the CPU time
# (user and system) it took, which a loaded machine disturbs less; and a
# last line "ratio<TAB>WALL<TAB>CPU": the medians of evroute's over jq's.
# bench/run.sh records them as workload 6.
#
# Exit: 0, 64 usage, 69 jq missing, 70 a run failed or the outputs differ.

set -u

[ $# -ge 1 ] && [ $# -le 3 ] || {
	echo "usage: sh bench/route.sh BINDIR [EVENTS [RUNS]]" >&2
	exit 64
}
BIN=$(cd "$1" && pwd) || exit 64
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${3:-5}
command -v jq >/dev/null 2>&1 || { echo "bench: jq is missing" >&2; exit 69; }

T=$(mktemp -d "${TMPDIR:-/tmp}/evroute-bench.XXXXXX") || exit 70
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${2:-}" ]; then
	EVENTS=$2
else
	cc -O2 -std=c11 -o "$T/gen" "$HERE/gen.c" || exit 70
	"$T/gen" ndjson 500000 > "$T/events.ndjson" || exit 70
	EVENTS=$T/events.ndjson
fi
N=$(wc -l < "$EVENTS")

cat > "$T/routes" <<'EOF'
request.echo.# where .payload.n < 100000 -> file:echo-early
request.echo.# -> file:echo
request.sleeper.# where .payload.n >= 250000 -> drop
request.sleeper.# -> stdout
request.complex.*.default -> file:complex
request.error.# -> file:errors
request.dynamic.# where .payload.command == "say" and .payload.n < 50000 \
    -> stdout
request.dynamic.# -> drop
request.parent.# -> drop
request.child.# where .payload.version | startswith("1.0.9") -> file:child9
request.child.# -> stdout
request.tester.1-0-7.default -> file:tester7
beergarden.# -> file:beergarden
*.crashed where .payload.crash_count > 3 -> file:crashed
audit.# -> drop
metrics.# where .payload.v > 1 -> stdout
deploy.*.prod -> file:deploy
request.*.*.canary -> stdout
request.tester.# where .payload.message | test("^a") -> stdout
# -> drop
EOF

# The events the rules send to standard output, in jq.
cat > "$T/select.jq" <<'EOF'
select(
  ((.name | startswith("request.sleeper.")) and .payload.n < 250000)
  or ((.name | startswith("request.dynamic."))
      and .payload.command == "say" and .payload.n < 50000)
  or ((.name | startswith("request.child."))
      and ((.payload.version | startswith("1.0.9")) | not))
  or ((.name | startswith("request.tester."))
      and .name != "request.tester.1-0-7.default"
      and (.payload.message | test("^a")))
)
EOF

now_ns() { date +%s%N; }

# cpu_ns: user + system time of the children waited for until the last
# "times > $T/times", in ns.  times runs in this shell, not in $(...) or
# a pipe, where it would count a subshell's children.
cpu_ns() {
	awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) {
			split($i, p, "m"); sub("s", "", p[2])
			t += p[1] * 60 + p[2]
		}
		printf "%.0f", t * 1e9
	}' "$T/times"
}

# run WHAT: one timed run; prints WHAT<TAB>events/s<TAB>events/CPU-s.
run() {
	rm -rf "$T/out" && mkdir "$T/out" || exit 70
	times > "$T/times"
	c0=$(cpu_ns)
	t0=$(now_ns)
	case $1 in
	evroute) (cd "$T/out" && exec "$BIN/evroute" -f "$T/routes") \
	    < "$EVENTS" > "$T/out.evroute" || exit 70;;
	jq) jq -c -f "$T/select.jq" < "$EVENTS" > "$T/out.jq" || exit 70;;
	esac
	t1=$(now_ns)
	times > "$T/times"
	c1=$(cpu_ns)
	awk -v w="$1" -v n="$N" -v ns=$((t1 - t0)) -v cpu=$((c1 - c0)) \
	    'BEGIN { printf "%s\t%.0f\t%.0f\n", w, n / (ns / 1e9),
		n / (cpu > 0 ? cpu / 1e9 : 1e-9) }'
}

r=0
: > "$T/runs"
while [ $r -lt "$RUNS" ]; do
	r=$((r + 1))
	run evroute >> "$T/runs"
	run jq >> "$T/runs"
	tail -n 2 "$T/runs"
	if [ $r -eq 1 ] && ! cmp -s "$T/out.evroute" "$T/out.jq"; then
		echo "bench: evroute and jq chose different events" >&2
		exit 70
	fi
done
awk -F '\t' '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 == "evroute" { e[++ne] = $2; ec[ne] = $3 }
$1 == "jq" { q[++nq] = $2; qc[nq] = $3 }
END {
	printf "ratio\t%.1f\t%.1f\n", median(e, ne) / median(q, nq),
	    median(ec, ne) / median(qc, nq)
}' "$T/runs"
