# test/helper.bash: sourced by every suite ("load helper").
#
# Each test gets its own scratch directory ($BATS_TEST_TMPDIR), its own
# socket ($EVBUS_SOCKET, autostart off unless the test turns it on) and, when
# it asks, its own evbusd started with a readiness fd.  Teardown stops what
# the test left running and checks that the daemon exited cleanly.
#
# The programs are called through functions (evbusd, evfire, evsub) that
# bound every foreground run with timeout(1), so a hang fails one test
# instead of the whole run, and that run them under valgrind when
# EV_VALGRIND=1.  Background starts (start_bus, start_sub, start_bg) exec the
# program directly so that $! is its pid (for kill -STOP, /proc/PID/status).
#
# Nothing here sleeps for a guessed time: wait_for polls a condition with a
# generous bound and fails with a message when the bound passes.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${EVBUS_BIN:=$(cd "$BATS_TEST_DIRNAME/../build/bin" 2>/dev/null && pwd)}"
export EVBUS_BIN

# Valgrind and sanitizers make everything slower: scale time bounds, and
# shrink the big volume tests under valgrind.
if [ "${EV_VALGRIND:-0}" = 1 ]; then
	EV_TSCALE=${EV_TSCALE:-10}
	EV_BIG=${EV_BIG:-2000}
else
	EV_TSCALE=${EV_TSCALE:-1}
	EV_BIG=${EV_BIG:-100000}
fi

# True when the programs are instrumented (ASan or valgrind): memory use
# measured from outside is then not the program's own.
ev_instrumented() {
	[ "${EV_VALGRIND:-0}" = 1 ] && return 0
	ldd "$EVBUS_BIN/evbusd" 2>/dev/null | grep -q 'libasan'
}

ev_scale() {
	echo $(( $1 * EV_TSCALE ))
}

ev_now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $(( 10#$t / 1000 ))
}

# Make $EV_BIN: the directory the functions below run programs from.
ev_make_bindir() {
	local p
	if [ "${EV_VALGRIND:-0}" != 1 ]; then
		EV_BIN=$EVBUS_BIN
		return
	fi
	EV_BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$EV_BIN"
	for p in evbusd evfire evsub; do
		cat >"$EV_BIN/$p" <<-EOF
		#!/bin/sh
		exec valgrind --error-exitcode=99 --leak-check=full -q \\
		    "$EVBUS_BIN/$p" "\$@"
		EOF
		chmod +x "$EV_BIN/$p"
	done
}

# Foreground runs, bounded.  "timeout" exits 124 when the bound passes and
# 128+N when the program died of signal N, so neither passes for an
# expected status.
EV_TMO=$(ev_scale 60)
evbusd() { timeout -k 5 "$EV_TMO" "$EV_BIN/evbusd" "$@"; }
evfire() { timeout -k 5 "$EV_TMO" "$EV_BIN/evfire" "$@"; }
evsub()  { timeout -k 5 "$EV_TMO" "$EV_BIN/evsub" "$@"; }

setup() {
	ev_setup
}

teardown() {
	ev_teardown
}

ev_setup() {
	T=$BATS_TEST_TMPDIR
	ev_make_bindir
	PATH=$EV_BIN:$PATH
	export PATH
	export EVBUS_SOCKET="$T/sock"
	export EVBUS_AUTOSTART=0
	unset EVBUS_DAEMON
	EV_BUS_PIDS=()
	EV_PIDS=()
	EV_PIDFILES=()
	EV_NBUS=0
	BUS_PID=
}

# wait_for CONDITION [SECONDS]: poll the shell condition (a string, eval'd)
# until it is true; fail the test when SECONDS (default 30, scaled) pass.
wait_for() {
	local cond=$1 secs end
	secs=$(ev_scale "${2:-30}")
	end=$(( $(ev_now_ms) + secs * 1000 ))
	until eval "$cond"; do
		if [ "$(ev_now_ms)" -ge "$end" ]; then
			echo "wait_for: still false after ${secs}s: $cond" >&2
			return 1
		fi
		sleep 0.02
	done
}

# Complete lines in FILE (a last line without its newline is not counted).
nlines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# wait_lines FILE N [SECONDS]: until FILE has at least N complete lines.
wait_lines() {
	wait_for "[ \"\$(nlines '$1')\" -ge $2 ]" "${3:-30}" || {
		echo "wait_lines: $1 has $(nlines "$1") lines, want $2" >&2
		return 1
	}
}

# wait_grep FILE REGEX [SECONDS]: until a line of FILE matches.
wait_grep() {
	wait_for "grep -q -e '$2' '$1' 2>/dev/null" "${3:-30}" || {
		echo "wait_grep: no /$2/ in $1:" >&2
		tail -n 5 "$1" >&2 2>/dev/null
		return 1
	}
}

# ev_exited PID: the process is gone, or has exited and waits to be reaped
# (a zombie).  A daemon that detached is reaped by init, which may take
# its time: seconds here.
ev_exited() {
	local st
	kill -0 "$1" 2>/dev/null || return 0
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ $st == Z* ]]
}

# wait_exit PID [SECONDS]: until the process has exited.
wait_exit() {
	wait_for "ev_exited $1" "${2:-30}"
}

# exit_status PID: set ST to the exit status of a finished background
# child (not in a $(...) subshell: only this shell can wait for it).
exit_status() {
	ST=0
	wait "$1" || ST=$?
}

# Checks on the last "run" (made with --separate-stderr): a sanitizer
# report is a failure whatever the status.
ev_check_sanitizer() {
	if [[ ${stderr:-} == *"Sanitizer"* || ${stderr:-} == *"runtime error:"* ]]; then
		echo "sanitizer report on stderr:" >&2
		echo "$stderr" >&2
		return 1
	fi
}

ev_show_run() {
	{
		echo "command: $*"
		echo "status: $status"
		echo "stdout: ${output:0:2000}"
		echo "stderr: ${stderr:0:2000}"
	} >&2
}

# run_ok CMD...: run it; it must exit 0.
run_ok() {
	run --separate-stderr "$@"
	if [ "$status" -ne 0 ]; then
		ev_show_run "$@"
		fail "expected status 0, got $status"
	fi
	ev_check_sanitizer
}

# run_fails STATUS CMD...: run it; it must exit with exactly STATUS.  A
# death by a signal (status > 128) or a timeout (124) never matches.
run_fails() {
	local want=$1
	shift
	run --separate-stderr "$@"
	if [ "$status" -ne "$want" ]; then
		ev_show_run "$@"
		if [ "$status" -gt 128 ]; then
			fail "killed by signal $((status - 128)) (want status $want)"
		elif [ "$status" -eq 124 ]; then
			fail "timed out (want status $want)"
		fi
		fail "expected status $want, got $status"
	fi
	ev_check_sanitizer
}

# start_bus [--env-socket] [EVBUSD ARGS...]: start evbusd in the background
# on $EVBUS_SOCKET (or, with $EVBUS_SOCKET unset, its default place), wait
# for its readiness line, set BUS_PID and BUS_SOCK.  --env-socket leaves
# out -s so that the daemon must find $EVBUS_SOCKET itself.
start_bus() {
	local n fifo line sflag=1
	if [ "${1:-}" = --env-socket ]; then
		sflag=
		shift
	fi
	n=$((++EV_NBUS))
	fifo=$T/ready.$n
	mkfifo "$fifo"
	if [ -n "${EVBUS_SOCKET:-}" ]; then
		BUS_SOCK=$EVBUS_SOCKET
	elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
		BUS_SOCK=$XDG_RUNTIME_DIR/evbus/sock
	else
		BUS_SOCK=/tmp/evbus-$(id -u)/sock
	fi
	if [ -n "$sflag" ] && [ -n "${EVBUS_SOCKET:-}" ]; then
		set -- -s "$EVBUS_SOCKET" "$@"
	fi
	BUS_ERR=$T/evbusd.$n.err
	"$EV_BIN/evbusd" -r 3 "$@" 3>"$fifo" 2>"$BUS_ERR" </dev/null &
	BUS_PID=$!
	EV_BUS_PIDS+=("$BUS_PID:$BUS_SOCK:$BUS_ERR")
	if ! read -r -t "$(ev_scale 20)" line <"$fifo"; then
		echo "start_bus: evbusd $* did not report readiness" >&2
		cat "$BUS_ERR" >&2
		return 1
	fi
	if [ ! -S "$BUS_SOCK" ]; then
		echo "start_bus: ready, but no socket at $BUS_SOCK" >&2
		return 1
	fi
}

# stop_bus [PID]: SIGTERM the daemon; it must exit 0 within a bound and
# leave no socket behind.
stop_bus() {
	local pid=${1:-$BUS_PID} entry sock='' err='' st keep=()
	for entry in "${EV_BUS_PIDS[@]}"; do
		if [ "${entry%%:*}" = "$pid" ]; then
			sock=${entry#*:}
			err=${sock#*:}
			sock=${sock%%:*}
		else
			keep+=("$entry")
		fi
	done
	EV_BUS_PIDS=("${keep[@]}")
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" || fail "stop_bus: evbusd $pid is not running"
	if ! wait_exit "$pid" 20; then
		cat "$err" >&2
		kill -KILL "$pid" 2>/dev/null || true
		fail "stop_bus: evbusd $pid did not exit after SIGTERM"
	fi
	exit_status "$pid"; st=$ST
	if [ "$st" -ne 0 ]; then
		cat "$err" >&2
		fail "stop_bus: evbusd exited with status $st after SIGTERM"
	fi
	if [ -n "$sock" ] && [ -e "$sock" ]; then
		fail "stop_bus: evbusd left its socket $sock behind"
	fi
	[ "$pid" != "$BUS_PID" ] || BUS_PID=
}

# start_bg OUT PROGRAM ARGS...: run PROGRAM (evsub, evfire, ...) in the
# background, stdout to OUT and stderr to OUT.err, stdin from $EV_STDIN
# (default /dev/null); sets BG_PID.
start_bg() {
	local out=$1 prog=$2
	shift 2
	"$EV_BIN/$prog" "$@" >"$out" 2>"$out.err" <"${EV_STDIN:-/dev/null}" \
	    3>&- &
	BG_PID=$!
	EV_PIDS+=("$BG_PID")
}

# start_sub OUT [EVSUB ARGS...]: evsub in the background; sets SUB_PID.
start_sub() {
	local out=$1
	shift
	start_bg "$out" evsub "$@"
	SUB_PID=$BG_PID
}

# finish PID STATUS [SECONDS]: the background program must exit with STATUS.
finish() {
	local st
	if ! wait_exit "$1" "${3:-60}"; then
		kill -KILL "$1" 2>/dev/null || true
		fail "process $1 did not exit"
	fi
	exit_status "$1"; st=$ST
	[ "$st" -eq "$2" ] || fail "process $1 exited with status $st, want $2"
}

# track_pidfile FILE: teardown kills the pid in FILE (autostarted daemons).
track_pidfile() {
	EV_PIDFILES+=("$1")
}

ev_teardown() {
	local pid entry errs=() sock err st f
	for pid in "${EV_PIDS[@]}"; do
		kill -CONT "$pid" 2>/dev/null || true
		kill -TERM "$pid" 2>/dev/null || continue
	done
	for pid in "${EV_PIDS[@]}"; do
		if ! wait_exit "$pid" 10 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for entry in "${EV_BUS_PIDS[@]}"; do
		pid=${entry%%:*}
		sock=${entry#*:}
		err=${sock#*:}
		sock=${sock%%:*}
		kill -CONT "$pid" 2>/dev/null || true
		if ! kill -TERM "$pid" 2>/dev/null; then
			# It exited during the test: was that clean?
			exit_status "$pid"; st=$ST
			[ "$st" -eq 0 ] ||
			    errs+=("evbusd $pid had exited with status $st")
			continue
		fi
		if ! wait_exit "$pid" 20 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			errs+=("evbusd $pid did not exit after SIGTERM")
			continue
		fi
		exit_status "$pid"; st=$ST
		[ "$st" -eq 0 ] ||
		    errs+=("evbusd $pid exited with status $st after SIGTERM")
		[ ! -e "$sock" ] ||
		    errs+=("evbusd $pid left its socket $sock behind")
	done
	for f in "${EV_PIDFILES[@]}"; do
		[ -s "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || continue
		if ! wait_exit "$pid" 20 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			errs+=("autostarted evbusd $pid did not exit after SIGTERM")
		fi
	done
	# Shown only when the test failed.
	for f in "$T"/evbusd.*.err; do
		[ -s "$f" ] || continue
		echo "--- ${f##*/}:" >&2
		tail -n 20 "$f" >&2
	done
	if [ "${#errs[@]}" -gt 0 ]; then
		printf 'teardown: %s\n' "${errs[@]}" >&2
		return 1
	fi
}

# --- events ---------------------------------------------------------------

# json_str STRING: STRING as a JSON string literal.
json_str() {
	jq -Rn --arg s "$1" '$s'
}

# gen_events N NAME: N NDJSON events NAME with payloads 1..N.
gen_events() {
	awk -v n="$1" -v name="$2" \
	    'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"name\":\"%s\",\"payload\":%d}\n", name, i }'
}

# collect N FILE [PATTERN...]: the first N events on the bus matching the
# patterns (default '#'), replayed from the oldest in the ring into FILE,
# checking that no other event came before a sentinel published after
# them.  For asserting what was delivered once the publishers are done.
collect() {
	local n=$1 file=$2 last
	shift 2
	[ $# -gt 0 ] || set -- '#'
	evfire -q test.sentinel >/dev/null ||
	    fail "collect: cannot publish the sentinel"
	run --separate-stderr evsub --from 0 -c $((n + 1)) "$@" test.sentinel
	[ "$status" -eq 0 ] || {
		echo "$output" | tail -n 5 >&2
		fail "collect: evsub -c $((n + 1)) exited $status"
	}
	printf '%s\n' "$output" >"$file.all"
	last=$(tail -n 1 "$file.all" | jq -r .name)
	if [ "$last" != test.sentinel ]; then
		echo "collect: more than $n events before the sentinel:" >&2
		tail -n 3 "$file.all" >&2
		return 1
	fi
	head -n "$n" "$file.all" >"$file"
}

# check_stream FILE N NAME: FILE holds exactly N events named NAME with
# payloads 1..N in order, strictly increasing seq, each a JSON object with
# a numeric seq and time, a string id and origin.uid equal to ours.
check_stream() {
	local file=$1 n=$2 name=$3 uid result
	uid=$(id -u)
	result=$(jq -n --argjson n "$n" --arg name "$name" --argjson uid "$uid" '
	    reduce inputs as $e ({i: 0, prev: 0, bad: null};
		if .bad != null then . else
		.i += 1
		| if ($e | type) != "object" then .bad = "line \(.i): not an object"
		  elif ($e.seq | type) != "number" or $e.seq <= .prev
		    then .bad = "line \(.i): seq \($e.seq) after \(.prev)"
		  elif ($e.id | type) != "string" or ($e.id | length) != 36
		    then .bad = "line \(.i): id \($e.id)"
		  elif ($e.time | type) != "number"
		    then .bad = "line \(.i): time \($e.time)"
		  elif $e.origin.uid != $uid
		    then .bad = "line \(.i): origin \($e.origin)"
		  elif $e.name != $name
		    then .bad = "line \(.i): name \($e.name)"
		  elif $e.payload != .i
		    then .bad = "line \(.i): payload \($e.payload)"
		  else .prev = $e.seq end
		end)
	    | if .bad != null then .bad
	      elif .i != $n then "\(.i) events, want \($n)"
	      else "ok" end' <"$file" 2>&1) || true
	if [ "$result" != '"ok"' ]; then
		echo "check_stream $file: $result" >&2
		return 1
	fi
}

# rss_kib PID: the resident set of a process, KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# --- the wire protocol by hand -------------------------------------------

# wire_open: a socat connection to $EVBUS_SOCKET; wire_send writes to it
# (printf arguments), replies collect in $T/wire.out.  wire_close ends it.
# socat's -t is short (0.1 s, scaled): once one side has ended it lingers
# only that long for the other, so a daemon that hangs up ends it at once,
# and no test waits on socat's timer for replies: wire_close waits for them
# instead.
wire_open() {
	rm -f "$T/wire.in"
	mkfifo "$T/wire.in"
	socat -t "$((EV_TSCALE / 10)).$((EV_TSCALE % 10))" - \
	    "UNIX-CONNECT:$EVBUS_SOCKET" <"$T/wire.in" \
	    >"$T/wire.out" 2>"$T/wire.err" 3>&- &
	WIRE_PID=$!
	WIRE_QUIT=
	EV_PIDS+=("$WIRE_PID")
	exec 7>"$T/wire.in"
}

wire_send() {
	local s
	# shellcheck disable=SC2059 # the format is the caller's
	printf -v s "$@"
	if [[ $'\n'$s == *$'\nQUIT\n'* || $'\n'$s == *$'\nQUIT\r\n'* ]]; then
		WIRE_QUIT=1
	fi
	printf '%s' "$s" >&7
}

# wire_pub BODY: a PUB frame with its body.
wire_pub() {
	printf 'PUB %d\n%s\n' "${#1}" "$1" >&7
}

# wire_close [LINES]: end the connection once its replies are in: when
# LINES is given, once the daemon has sent that many lines; else, after a
# QUIT, once the daemon has hung up (which it must do after answering
# everything before the QUIT); else at once, and replies still to come are
# lost after socat's -t.  Then close our side and wait for socat to go.
wire_close() {
	if [ $# -gt 0 ]; then
		wait_lines "$T/wire.out" "$1" 20 || return 1
	elif [ -n "$WIRE_QUIT" ]; then
		wait_exit "$WIRE_PID" 20 ||
		    fail "wire_close: the daemon kept the connection after QUIT"
	fi
	exec 7>&-
	wait_exit "$WIRE_PID" 20
}

# wire_reply N: the Nth line the daemon sent (no CR).
wire_reply() {
	sed -n "${1}p" "$T/wire.out" | tr -d '\r'
}

# crash_bus: kill -9 the current daemon, reap it, and take it off the
# list that teardown checks for a clean exit.
crash_bus() {
	local pid=$BUS_PID entry keep=()
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	for entry in "${EV_BUS_PIDS[@]}"; do
		[ "${entry%%:*}" = "$pid" ] || keep+=("$entry")
	done
	EV_BUS_PIDS=("${keep[@]}")
	BUS_PID=
}

# pace COUNTFILE STOPFILE NAME: events NAME with payloads 1, 2, ... on
# stdout, 4 every 5 ms (a steady stream of several hundred a second),
# until STOPFILE exists; then how many into COUNTFILE.  The 5 ms waits are
# read timeouts on a FIFO nobody writes: no process per tick.
pace() {
	local i=0 k
	mkfifo "$T/tick"
	exec 9<>"$T/tick"
	while [ ! -e "$2" ]; do
		for k in 1 2 3 4; do
			printf '{"name":"%s","payload":%d}\n' "$3" $((i + k))
		done
		i=$((i + 4))
		read -r -t 0.005 -u 9 _ || true
	done
	exec 9<&-
	echo "$i" >"$1"
}
