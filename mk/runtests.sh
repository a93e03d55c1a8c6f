#!/bin/sh
# mk/runtests.sh: run the tests of one build and summarize them.
#
#   sh mk/runtests.sh BUILD_DIR [unit|fuzz|bats]
#
# Runs every BUILD_DIR/test/t_* unit test (each prints TAP), then every
# fuzz target's replay, BUILD_DIR/test/fuzz_NAME, on its checked-in corpus
# test/fuzz/corpus/NAME (see test/fuzz/replay.c), then the bats suites
# test/*.bats (or the suites EV_TEST_SUITES names) with BUILD_DIR/bin
# first in PATH and EVBUS_BIN naming it, in EV_TEST_JOBS lanes at once
# (default 3; see run_lanes).  Unit tests and replays are printed as they
# come, each bats lane once it is done; then the "ok" and "not ok" lines
# are counted ("ok ... # skip" counts as skipped) and the last line is
# "N passed, N failed" (", N skipped" when some were).  A test program that
# fails without saying "not ok" (a crash, a syntax error in a suite) counts
# as one failure.  Exits 1 when anything failed or when nothing ran.
#
# EV_VALGRIND=1 runs the unit tests and the replays, and through
# test/helper.bash every program the suites start, under valgrind.

set -u

usage() {
	echo "usage: sh mk/runtests.sh BUILD_DIR [unit|fuzz|bats]" >&2
	exit 64
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
what=${2:-all}
case $what in
all|unit|fuzz|bats) ;;
*) usage ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd) || exit 70
build=$(cd "$1" 2>/dev/null && pwd) || {
	echo "runtests: no build directory '$1' (run make first)" >&2
	exit 66
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evbus-tests.XXXXXX") || exit 70
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
: >"$tmp/all.tap"

valgrind=
if [ "${EV_VALGRIND:-0}" = 1 ]; then
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "runtests: EV_VALGRIND=1 but valgrind is not installed" \
		    "(sh mk/deps.sh test)" >&2
		exit 69
	fi
	valgrind="valgrind --error-exitcode=99 --leak-check=full -q"
fi

# run_tap NAME COMMAND...: run one TAP producer, show and keep its output,
# and turn a failure it did not report itself into a "not ok" line.
run_tap() {
	name=$1
	shift
	echo "# $name"
	{ "$@" 2>&1; echo $? >"$tmp/rc"; } | tee "$tmp/one.tap"
	rc=$(cat "$tmp/rc")
	cat "$tmp/one.tap" >>"$tmp/all.tap"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$tmp/one.tap"; then
		echo "not ok - $name exited with status $rc" |
		    tee -a "$tmp/all.tap"
	fi
}

# run_lanes SUITE...: the bats suites in EV_TEST_JOBS lanes at once (3 by
# default; 1: one after the other), each lane a bats process of its own
# over every EV_TEST_JOBS-th suite.  Every test waits for conditions, not
# for guessed times, and has its own directory and socket, so lanes do
# not disturb each other; the lanes' TAP is shown lane after lane.
run_lanes() {
	jobs=${EV_TEST_JOBS:-3}
	[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
	lane=0
	while [ "$lane" -lt "$jobs" ]; do
		files=""
		i=0
		for f in "$@"; do
			[ $((i % jobs)) -eq "$lane" ] && files="$files $f"
			i=$((i + 1))
		done
		if [ -n "$files" ]; then
			# shellcheck disable=SC2086 # the lane's suites
			{ bats --tap $files </dev/null >"$tmp/lane$lane.tap" 2>&1
			  echo $? >"$tmp/lane$lane.rc"; } &
		fi
		lane=$((lane + 1))
	done
	wait
	lane=0
	while [ "$lane" -lt "$jobs" ]; do
		if [ -f "$tmp/lane$lane.tap" ]; then
			run_tap "bats lane $lane" sh -c 'cat "$1"; exit "$(cat "$2")"' \
			    sh "$tmp/lane$lane.tap" "$tmp/lane$lane.rc"
		fi
		lane=$((lane + 1))
	done
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$build"/test/t_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		# shellcheck disable=SC2086 # $valgrind is a command line
		run_tap "unit: ${t##*/}" $valgrind "$t"
	done
fi

if [ "$what" = all ] || [ "$what" = fuzz ]; then
	# From the top of the tree: the TAP names the inputs by their path
	# there, ready to be given back to the replay by hand.
	cd "$root" || exit 70
	for t in "$build"/test/fuzz_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		# shellcheck disable=SC2086 # $valgrind is a command line
		run_tap "fuzz: ${t##*/}" $valgrind "$t" \
		    "test/fuzz/corpus/${t##*/}"
	done
fi

if [ "$what" = all ] || [ "$what" = bats ]; then
	if ! command -v bats >/dev/null 2>&1; then
		echo "not ok - bats is not installed (sh mk/deps.sh test)" |
		    tee -a "$tmp/all.tap"
	else
		set -- "$root"/test/*.bats
		if [ -f "$1" ]; then
			PATH="$build/bin:$PATH"
			EVBUS_BIN="$build/bin"
			export PATH EVBUS_BIN
			cd "$root" || exit 70
			# Relative names keep the TAP readable.
			set --
			for f in ${EV_TEST_SUITES:-test/*.bats}; do
				set -- "$@" "$f"
			done
			run_lanes "$@"
		fi
	fi
fi

passed=$(grep -Ec '^ok( |$)' "$tmp/all.tap")
skipped=$(grep -Eci '^ok( .*)?# skip' "$tmp/all.tap")
failed=$(grep -Ec '^not ok( |$)' "$tmp/all.tap")
passed=$((passed - skipped))

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
if [ $((passed + failed)) -eq 0 ]; then
	echo "# runtests: no test ran"
	echo "$summary"
	exit 1
fi
echo "$summary"
[ "$failed" -eq 0 ]
