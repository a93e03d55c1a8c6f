#!/usr/bin/env bats
# The benchmark harness (bench/run.sh, "make bench") in its tiny mode: a few
# thousand events, evbus only, one run of each workload.  It keeps the harness
# from rotting; the full run is not part of "make check".

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	# mk/runtests.sh names the build under test in EVBUS_BIN.
	BIN=${EVBUS_BIN:-$ROOT/build/bin}
}

@test "bench: tiny mode measures all five workloads for evbus and cleans up" {
	cd "$BATS_TEST_TMPDIR"
	EV_BENCH=tiny EV_BENCH_OUT="$BATS_TEST_TMPDIR/results.md" \
	    run --separate-stderr sh "$ROOT/bench/run.sh" "$BIN"
	# The harness's progress and failures, shown if the test fails.
	printf '%s\n' "$stderr"
	assert_success

	# One markdown table on stdout with a number in median, min and max of
	# every workload's evbus row.
	num='[0-9]+(\.[0-9]+)?'
	for w in '1 bulk pipeline' '2 fan-out' '3 single-shot publish' \
	    '4 latency p50 ' '4 latency p99 ' '4 latency p99\.9 ' \
	    '5 footprint: RSS idle' '5 footprint: RSS, 50 subscribers'; do
		assert_line --regexp "^\| $w[^|]*\| evbus \| $num \| $num \| $num \|"
	done
	assert_line --regexp '^\| 3 single-shot publish[^|]*\| /bin/true \| '
	# Workload 6: evroute (the evbus row) beside jq.
	for w in 'wall time' 'CPU time'; do
		assert_line --regexp "^\| 6 routing, 20 rules \($w\) \| evbus \| $num \|"
		assert_line --regexp "^\| 6 routing, 20 rules \($w\) \| jq \| $num \|"
	done
	table=$output

	# The results file has the same table and the machine's description.
	run cat "$BATS_TEST_TMPDIR/results.md"
	assert_success
	assert_output --partial "$table"
	assert_output --partial 'cores (nproc):'
	assert_output --partial 'kernel:'
	assert_output --regexp 'evbus: [^ ]'

	# Nothing left behind: the scratch directory is gone and no process
	# still refers to it.
	scratch=$(printf '%s\n' "$stderr" | sed -n 's/.*(scratch \(.*\))$/\1/p')
	[ -n "$scratch" ]
	[ ! -e "$scratch" ]
	for c in /proc/[0-9]*/cmdline; do
		if tr '\0' ' ' < "$c" 2>/dev/null | grep -qF "$scratch"; then
			echo "left running: $(tr '\0' ' ' < "$c")"
			return 1
		fi
	done
}
