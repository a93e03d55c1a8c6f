#!/bin/sh
# bench/quick.sh BINDIR [N [SUBSCRIBERS [RUNS]]]: the bulk pipeline for evbus
# alone, for comparing two builds quickly (the optimisation log's figures).
# N events from bench/gen.c go through "evfire < file" to SUBSCRIBERS
# "evsub '#' > file"; each run prints the wall time from evfire's start until
# every subscriber's file holds N lines, and the CPU time evbusd used in the
# run (user + system, from /proc: on a loaded machine a steadier figure
# than the wall time).  The ring is sized for the burst, as in bench/run.sh
# (EV_QUICK_RING overrides: "-b 64K -B 16M").  EV_QUICK_KEEP=1 runs them
# all on one bus, as bench/run.sh does, so that later runs find the ring
# full (evicting as they go) rather than fresh.  Needs cc; builds
# bench/gen.c into a scratch directory.
set -eu

[ $# -ge 1 ] || { echo "usage: bench/quick.sh BINDIR [N [SUBS [RUNS]]]" >&2; exit 64; }
bin=$(cd "$1" && pwd)
n=${2:-500000}
subs=${3:-1}
runs=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/evquick.XXXXXX")
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

lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# CPU time of a process in ms: fields 14 and 15 of /proc/PID/stat, in
# clock ticks (the command name, field 2, may hold spaces: cut after ')').
cpu_ms() {
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" \
	    '{ printf "%d", ($12 + $13) * 1000 / hz }'
}
ring=${EV_QUICK_RING:--b 1M -B 512M}
keep=${EV_QUICK_KEEP:-0}

start_bus() {
	rm -f "$T/ready" "$T/sock"*
	mkfifo "$T/ready"
	# shellcheck disable=SC2086 # the ring's options are words
	"$bin/evbusd" -s "$T/sock" -r 3 $ring 3>"$T/ready" &
	bus=$!
	read -r _ <"$T/ready"
}

[ "$keep" = 1 ] && start_bus
run=0
while [ "$run" -lt "$runs" ]; do
	run=$((run + 1))
	rm -f "$T"/sub*
	[ "$keep" = 1 ] || start_bus
	# From the bus's next seq, so that none misses the probe (builds
	# without evlist: from the ring's start, on a fresh bus).
	from=0
	if [ -x "$bin/evlist" ]; then
		from=$(($("$bin/evlist" -s "$T/sock" --stats |
		    sed -n 's/.*"uptime_ms":[0-9]*,"seq":\([0-9]*\).*/\1/p') + 1))
	fi
	i=0
	pids=
	while [ "$i" -lt "$subs" ]; do
		i=$((i + 1))
		"$bin/evsub" -s "$T/sock" -q --from "$from" -c "$((n + 1))" '#' >"$T/sub$i" &
		pids="$pids $!"
	done
	"$bin/evfire" -s "$T/sock" probe
	i=0
	while [ "$i" -lt "$subs" ]; do
		i=$((i + 1))
		until [ "$(lines "$T/sub$i")" -ge 1 ]; do sleep 0.01; done
	done
	cpu0=$(cpu_ms "$bus")
	start=$(date +%s%N)
	"$bin/evfire" -s "$T/sock" <"$T/in"
	i=0
	while [ "$i" -lt "$subs" ]; do
		i=$((i + 1))
		until [ "$(lines "$T/sub$i")" -ge "$((n + 1))" ]; do
			sleep 0.005
		done
	done
	end=$(date +%s%N)
	wait_ns=$((end - start))
	cpu=$(($(cpu_ms "$bus") - cpu0))
	echo "run $run: $n events, $subs subscriber(s): $((wait_ns / 1000000)) ms," \
	    "$((n * 1000 / (wait_ns / 1000000))) events/s, evbusd cpu $cpu ms"
	if [ "$keep" != 1 ]; then
		kill "$bus"
		wait "$bus" || true
		bus=
	fi
	# shellcheck disable=SC2086 # the pids are words
	wait $pids
done
