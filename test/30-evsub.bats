#!/usr/bin/env bats
# evsub: options, patterns, replay, stop conditions and their statuses.

load helper

# publish NAME PAYLOAD...: one event per payload, in one evfire.
publish() {
	local name=$1
	shift
	printf '%s\n' "$@" | evfire -n "$name"
}

# --- options --------------------------------------------------------------

@test "evsub --help prints the synopsis and exits 0" {
	run_ok evsub --help
	assert_output --partial evsub
	[[ ${output,,} == *usage* ]] || fail "no usage line: $output"
}

@test "evsub --help and the SYNOPSIS of evsub(1) say the same" {
	run_ok evsub --help
	help=$(sed 's/^usage: //' <<<"$output" | tr -s ' \t\n' ' ')
	syn=$(mandoc -Tascii -O width=300 "$BATS_TEST_DIRNAME/../man/man1/evsub.1" |
	    col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \t\n' ' ')
	assert_equal "${help% }" "$(sed 's/^ //; s/ $//' <<<"$syn")"
}

@test "evsub --version prints a version and exits 0" {
	run_ok evsub --version
	assert_output --regexp '[0-9]+\.[0-9]+\.[0-9]+'
}

@test "evsub: an unknown option is a usage error (64)" {
	run_fails 64 evsub --no-such-option
	# getopt names the program as invoked (argv[0]), maybe a path.
	[[ $stderr =~ ^(.*/)?evsub: || ${stderr,,} == usage:* ]] ||
	    fail "stderr: $stderr"
}

@test "evsub: a bad duration is a usage error (64)" {
	start_bus
	run_fails 64 evsub --idle soon
	run_fails 64 evsub --deadline 5parsecs
	run_fails 64 evsub -c many
	run_fails 64 evsub --reconnect=sometimes
	run_fails 64 evsub --dedup-window lots
	run_fails 64 evsub --dedup-window -1
	run_fails 64 evsub --dedup-window 16777217
	assert_equal "$stderr" "evsub: --dedup-window '16777217': at most 16777216"
}

@test "evsub: --from, --last and --since exclude each other (64)" {
	local msg='evsub: --from, --last and --since exclude each other: give one'
	start_bus
	run_fails 64 evsub --from 1 --last 1
	assert_equal "$stderr" "$msg"
	run_fails 64 evsub --since 5m --from 1
	assert_equal "$stderr" "$msg"
	run_fails 64 evsub --last 2 --since 5m
	assert_equal "$stderr" "$msg"
}

@test "evsub --reconnect with a bad value echoes it (64)" {
	run_fails 64 evsub --reconnect=sometimes
	assert_equal "$stderr" "evsub: --reconnect 'sometimes': expected always or never"
	run_fails 64 evsub --reconnect ''
	assert_equal "$stderr" "evsub: --reconnect '': expected always or never"
}

@test "evsub: a bad pattern is a usage error (64)" {
	start_bus
	run_fails 64 evsub 'a.b#'
	assert_equal "$stderr" "evsub: pattern 'a.b#': '#' must be a whole token"
}

@test "evsub: no bus is status 69 with a message" {
	run_fails 69 evsub -s "$T/nobody.sock"
	[[ $stderr == evsub:* ]] || fail "stderr: $stderr"
}

# --- counting and replay ----------------------------------------------------

@test "evsub -c N prints N events and exits 0" {
	start_bus
	publish c.n 1 2 3 4 5
	run_ok evsub --from 0 -c 3 'c.#'
	run jq -c .payload <<<"$output"
	assert_output "$(printf '%s\n' 1 2 3)"
}

@test "evsub --from SEQ replays from that seq, then goes live" {
	start_bus
	run_ok evfire -w < <(gen_events 5 fr.n)
	s3=${lines[2]}
	start_sub "$T/sub" -c 4 --from "$s3" 'fr.#'
	wait_lines "$T/sub" 3
	run_ok evfire fr.live 6
	finish "$SUB_PID" 0
	run jq -c '[.seq, .payload]' "$T/sub"
	assert_line --index 0 "[$s3,3]"
	assert_line --index 2 --regexp ',5\]$'
	assert_line --index 3 --regexp ',6\]$'
}

@test "evsub --last N gives the N most recent matching events" {
	start_bus
	publish l.n 1 2 3 4 5
	run_ok evfire other.event
	EV_TMO=20 run_ok evsub --last 2 -c 2 'l.#'
	run jq -c .payload <<<"$output"
	assert_output "$(printf '%s\n' 4 5)"
}

@test "evsub without --from/--last sees only live events" {
	start_bus
	publish old.n 1
	start_sub "$T/sub" 'old.#' 'probe.#'
	# Live only: probe until the subscription is in place.
	wait_for "evfire -q probe.x >/dev/null && [ -s '$T/sub' ]" 30
	run_ok evfire old.n 2
	wait_grep "$T/sub" '"old.n"'
	run jq -c 'select(.name == "old.n") | .payload' "$T/sub"
	assert_output 2
}

@test "evsub prints each event promptly when stdout is a pipe" {
	start_bus
	mkfifo "$T/pipe"
	cat "$T/pipe" >"$T/out" 3>&- &
	EV_PIDS+=("$!")
	start_sub "$T/pipe" --from 0 'p.#'
	run_ok evfire p.one
	wait_lines "$T/out" 1 20
	run_ok evfire p.two
	wait_lines "$T/out" 2 20
}

@test "evsub output is valid evfire input (copied to a second bus)" {
	start_bus
	bus1=$BUS_PID
	run_ok evfire -m k=v cp.a '{"x":1}'
	run_ok evfire -e cp.b text
	EVBUS_SOCKET=$T/sock2 start_bus
	run_ok evsub -s "$T/sock" --from 0 -c 2 'cp.#'
	printf '%s\n' "$output" >"$T/copy1"
	run_ok evfire -s "$T/sock2" <"$T/copy1"
	EVBUS_SOCKET=$T/sock2 collect 2 "$T/copy2" 'cp.#'
	# Same events; only seq and origin are the second bus's.
	assert_equal "$(jq -c 'del(.seq, .origin)' "$T/copy2")" \
	    "$(jq -c 'del(.seq, .origin)' "$T/copy1")"
}

@test "evsub: a write error on stdout is status 74" {
	start_bus
	run_ok evfire w.x
	run_fails 74 bash -c 'evsub --from 0 "w.#" >/dev/full'
	[[ $stderr == evsub:* ]] || fail "stderr: $stderr"
}

# --- patterns -------------------------------------------------------------

@test "patterns: '*' is one token, '#' zero or more, '!' excludes" {
	start_bus
	publish a 0
	publish a.b 1
	publish a.b.c 2
	publish x.crashed 3
	publish y.z.crashed 4
	collect 1 "$T/star" '*.crashed'
	run jq -r .name "$T/star"
	assert_output x.crashed
	collect 3 "$T/hash" 'a.#'
	run jq -r .name "$T/hash"
	assert_output "$(printf '%s\n' a a.b a.b.c)"
	collect 2 "$T/mid" '#.crashed'
	run jq -r .name "$T/mid"
	assert_output "$(printf '%s\n' x.crashed y.z.crashed)"
	collect 2 "$T/excl" 'a.#' '!a.b'
	run jq -r .name "$T/excl"
	assert_output "$(printf '%s\n' a a.b.c)"
	collect 2 "$T/or" 'a' 'x.*'
	run jq -r .name "$T/or"
	assert_output "$(printf '%s\n' a x.crashed)"
}

@test "patterns: '#' (the default) hides evbus.*, 'evbus.#' shows it" {
	start_bus
	run_ok evfire user.event
	run_ok evsub --from 0 -c 1
	run jq -r .name <<<"$output"
	assert_output user.event
	run_ok evsub --from 0 -c 1 'evbus.#'
	run jq -r .name <<<"$output"
	assert_output evbus.started
}

# --- stop conditions --------------------------------------------------------

@test "evsub --first DUR: no event in time is status 75" {
	start_bus
	run_fails 75 evsub --first 300ms 'nothing.#'
	assert_output ''
}

@test "evsub --first DUR: an event in time is not a timeout" {
	start_bus
	run_ok evfire first.x
	run_ok evsub --from 0 --first 10s -c 1 'first.#'
	assert_output --partial '"first.x"'
}

@test "evsub --idle DUR: status 3 after the stream goes quiet" {
	start_bus
	publish idle.n 1 2
	run_fails 3 evsub --from 0 --idle 300ms 'idle.#'
	assert_equal "${#lines[@]}" 2
}

@test "evsub --deadline DUR: status 4 when it passes" {
	start_bus
	publish dl.n 1
	run_fails 4 evsub --from 0 --deadline 500ms 'dl.#'
	assert_equal "${#lines[@]}" 1
}

@test "evsub --deadline wins over a busy stream; --idle does not fire while busy" {
	start_bus
	start_sub "$T/sub" --idle "$(ev_scale 1)s" --deadline "$(ev_scale 2)s" \
	    'busy.#'
	sub=$SUB_PID
	# Keep events coming until evsub has stopped.
	while kill -0 "$sub" 2>/dev/null; do
		evfire -q busy.tick >/dev/null 2>&1 || true
	done
	finish "$sub" 4
}

@test "evsub --reconnect=never: status 5 when the bus stops" {
	start_bus
	run_ok evfire rn.x
	start_sub "$T/sub" --reconnect=never --from 0 'rn.#'
	wait_lines "$T/sub" 1
	stop_bus
	finish "$SUB_PID" 5 20
}

@test "evsub (default reconnect) outlives the bus going away" {
	start_bus
	run_ok evfire ra.x
	start_sub "$T/sub" --from 0 'ra.#'
	wait_lines "$T/sub" 1
	stop_bus
	# Still there, trying: it only leaves when told.
	start_bus
	run_ok evfire ra.y
	wait_grep "$T/sub" '"ra.y"'
	kill -0 "$SUB_PID"
}

@test "evsub: a restart line after the bus restarts; an event it printed is not printed again" {
	start_bus
	start_sub "$T/sub" --from 0 'dd.#'
	sub=$SUB_PID
	start_sub "$T/raw" --from 0 --dedup-window 0 'dd.#'
	raw=$SUB_PID
	ev='{"name":"dd.x","id":"dd-1","payload":1}'
	run_ok evfire <<<"$ev"
	wait_lines "$T/sub" 1
	wait_lines "$T/raw" 1
	e1=$(evsub --from 0 -c 1 'evbus.started' | jq -r .payload.epoch)
	stop_bus
	start_bus
	# The same event again, as a publisher whose acknowledgement was lost
	# in the crash would send it: the new daemon cannot know it.
	run_ok evfire <<<"$ev"
	run_ok evfire dd.after 2
	wait_grep "$T/sub" '"dd.after"'
	wait_grep "$T/raw" '"dd.after"'
	kill -0 "$sub"
	kill -0 "$raw"
	run jq -c '[.name, .payload]' "$T/sub"
	assert_line --index 0 '["dd.x",1]'
	assert_line --index 1 --regexp '^\["evbus.gap",\{"reason":"restart","epoch":"[0-9a-f]{16}","previous_epoch":"[0-9a-f]{16}","after":[0-9]+\}\]$'
	assert_line --index 2 '["dd.after",2]'
	assert_equal "${#lines[@]}" 3
	# The restart line: no seq, an id first, the epochs, after the last seq.
	run jq -sc --arg e1 "$e1" '.[1] | [has("seq"), (keys_unsorted[0]),
	    .payload.previous_epoch == $e1, .payload.epoch != $e1]' "$T/sub"
	assert_output '[false,"id",true,true]'
	run jq -s '.[1].payload.after == .[0].seq' "$T/sub"
	assert_output true
	# Without the window the copy comes through.
	run jq -c '[.name, (.payload | .reason? // .)]' "$T/raw"
	assert_output "$(printf '%s\n' '["dd.x",1]' '["evbus.gap","restart"]' \
	    '["dd.x",1]' '["dd.after",2]')"
}

# --- the wire protocol, as evsub speaks it ---------------------------------

@test "wire: SUB with an unknown key is refused; OK carries the seq where the replay ends" {
	start_bus
	run_ok evfire -w wk.a 1
	a=$output
	wire_open
	wire_send 'HELLO 2 wiretest\n'
	body='{"patterns":["a.#"],"colour":"x"}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wait_lines "$T/wire.out" 2 20
	[[ $(wire_reply 1) == "HELLO 2 "* ]] || fail "HELLO: $(wire_reply 1)"
	assert_equal "$(wire_reply 2)" \
	    "ERR data subscription: unknown key 'colour' (this bus knows patterns, from, last, since, node, service, tags, sync, announce, where, list, durable)"
	# The connection goes on: a good SUB gets OK <end>.
	body='{"patterns":["#","evbus.#"],"from":0}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wait_lines "$T/wire.out" 3 20
	[[ $(wire_reply 3) =~ ^OK\ ([0-9]+)$ ]] || fail "reply: $(wire_reply 3)"
	end=${BASH_REMATCH[1]}
	[ "$end" -ge "$a" ] || fail "end $end before wk.a's seq $a"
	# Replayed: every seq of the ring up to end; then live ones after it.
	run_ok evfire -w wk.b 2
	b=$output
	wait_grep "$T/wire.out" '"wk.b"'
	grep '^{' "$T/wire.out" >"$T/events"
	run jq -sc --argjson e "$end" --argjson b "$b" '
	    (map(.seq) | map(select(. <= $e))) == [range(1; $e + 1)]
	    and (.[] | select(.name == "wk.b") | .seq) == $b and $b > $e
	    and (map(select(.name == "wk.a")) | length) == 1' "$T/events"
	assert_output true
	wire_close
}

# --- first use (issue 8): pipelines, --since, --from ahead, zero counts ------

# bus_epoch: the running bus's epoch, from its HELLO.
bus_epoch() {
	wire_open
	wire_send 'HELLO 2 bats\nQUIT\n'
	wire_close
	wire_reply 1 | cut -d ' ' -f 3
}

@test "evsub | head -n 3 on a quiet bus: evsub leaves as head does, status 0" {
	start_bus
	publish hd.x 1 2 3 4 5
	mkfifo "$T/pipe"
	# evsub writes into the pipe, head reads 3 lines of it and exits;
	# nothing is published after that, so only the pipe can tell evsub.
	start_sub "$T/pipe" --last 5 '#'
	head -n 3 "$T/pipe" >"$T/out"
	finish "$SUB_PID" 0 60
	[ ! -s "$T/pipe.err" ] || fail "evsub said: $(cat "$T/pipe.err")"
	run jq -c .payload "$T/out"
	assert_output "$(printf '%s\n' 1 2 3)"
}

@test "evsub | head in a pipefail script: the pipeline succeeds" {
	start_bus
	publish hd.x 1 2 3 4 5
	run_ok timeout 60 bash -c \
	    'set -o pipefail; evsub --last 5 "#" | head -n 3 | jq -c .payload'
	assert_output "$(printf '%s\n' 1 2 3)"
	assert_equal "$stderr" ""
}

@test "evsub --from a seq beyond the bus's newest says so with the epoch, and goes on from the next" {
	start_bus
	run_ok evfire -w fa.old
	newest=$output
	epoch=$(bus_epoch)
	[[ $epoch =~ ^[0-9a-f]{16}$ ]] || fail "epoch: $epoch"
	start_sub "$T/sub" -c 2 --from 999999 'fa.#'
	wait_grep "$T/sub.err" 'beyond'
	assert_equal "$(cat "$T/sub.err")" \
	    "evsub: --from 999999 is beyond the bus's newest event ($newest, epoch $epoch): going on from $((newest + 1))"
	# The bus takes it as its next seq: the events published from now on.
	printf '%s\n' 1 2 | evfire -n fa.new
	finish "$SUB_PID" 0
	run jq -c .payload "$T/sub"
	assert_output $'1\n2'
	# -q keeps it quiet; the next seq is not beyond anything.
	run_fails 4 evsub -q --deadline 100ms --from 999999 'fa.#'
	assert_equal "$stderr" ""
	run_ok evfire -w fa.last
	run_ok evsub -c 1 --from "$output" 'fa.#'
	assert_equal "$stderr" ""
}

@test "evsub --since: epoch ms, RFC 3339, a duration ago; then live" {
	start_bus
	t1=$(date -u -d 2026-11-23T06:00:00Z +%s)000
	printf '%s\n' \
	    "{\"name\":\"sn.a\",\"time\":$((t1 - 1))}" \
	    "{\"name\":\"sn.b\",\"time\":$t1}" \
	    "{\"name\":\"sn.c\",\"time\":$((t1 + 1))}" | evfire -w >/dev/null
	run_ok evsub --since "$t1" -c 2 'sn.#'
	run jq -r .name <<<"$output"
	assert_output $'sn.b\nsn.c'
	run_ok evsub --since 2026-11-23T07:00:00.001+01:00 -c 1 'sn.#'
	run jq -r .name <<<"$output"
	assert_output sn.c
	# A duration ago: sn.now (stamped now) is within 1.5h, the others not.
	run_ok evfire -w sn.now
	run_ok evsub --since 1.5h -c 1 'sn.#'
	run jq -r .name <<<"$output"
	assert_output sn.now
	# Then live: the replay ends, the next event comes.
	start_sub "$T/sub" --since 1h -c 2 'sn.#'
	wait_lines "$T/sub" 1
	run_ok evfire sn.live
	finish "$SUB_PID" 0
	run jq -r .name "$T/sub"
	assert_output $'sn.now\nsn.live'
}

@test "evsub --since: a time it cannot read is a usage error that says what it expects (64)" {
	run_fails 64 evsub --since yesterday
	assert_equal "$stderr" "evsub: --since: time 'yesterday': expected RFC 3339 (2026-11-23T06:00:00Z), epoch milliseconds or a duration ago (5m)"
	run_fails 64 evsub --since -5m
	assert_equal "$stderr" "evsub: --since: time '-5m': a time that long ago is written without '-' (5m)"
}

@test "evsub -c 0 subscribes and exits 0 printing nothing; --last 0 replays nothing, then live" {
	start_bus
	publish z.n 1 2 3
	run_ok evsub -c 0 --from 0 'z.#'
	assert_output ""
	assert_equal "$stderr" ""
	# -c 0 still needs a bus that takes the subscription.
	run_fails 69 evsub -c 0 -s "$T/nobody.sock"
	run_fails 64 evsub -c 0 'a.b#'
	start_sub "$T/sub" --last 0 -c 1 'z.#' 'probe.#'
	# Live only: probe until the subscription is in place.
	wait_for "evfire -q probe.x >/dev/null && [ -s '$T/sub' ]" 30
	finish "$SUB_PID" 0
	run jq -r .name "$T/sub"
	assert_output probe.x
}

@test "bash completion offers every option evsub(1) lists, and --reconnect's values" {
	man=$BATS_TEST_DIRNAME/../man/man1/evsub.1
	want=$(awk '/^\.It Fl / { sub(/^\.It /, ""); n = split($0, p, / , /)
	    for (i = 1; i <= n; i++) { split(p[i], w, " ")
		if (w[1] == "Fl") print "-" w[2] } }' \
	    "$man" | sort -u)
	[ "$(wc -l <<<"$want")" -ge 16 ] || fail "options from the manual: $want"
	# shellcheck source=/dev/null
	source "$BATS_TEST_DIRNAME/../share/bash-completion/evbus"
	COMP_LINE='evsub -'
	COMP_POINT=${#COMP_LINE}
	_evsub
	run sort -u < <(printf '%s\n' "${COMPREPLY[@]%=}")
	assert_output "$want"
	COMP_LINE='evsub --reconnect=n'
	COMP_POINT=${#COMP_LINE}
	COMP_WORDBREAKS=' '
	_evsub
	assert_equal "${COMPREPLY[*]}" "--reconnect=never"
}

@test "evsub: durations may have a fraction (evbus(7)); what is not one is named" {
	start_bus
	run_fails 3 evsub --idle 0.25s 'nothing.#'
	run_fails 4 evsub --deadline 0.3s 'nothing.#'
	run_fails 64 evsub --idle 1.2.3s
	assert_equal "$stderr" "evsub: --idle: duration '1.2.3s': unknown unit '.3s' (use ms, s, m, h or d)"
	run_fails 64 evsub --deadline .5s
	assert_equal "$stderr" "evsub: --deadline: duration '.5s': expected a number and a unit, such as 250ms, 10s, 5m, 1h or 7d"
	grep -q '^\.Ql 1\.5s$' "$BATS_TEST_DIRNAME/../man/man7/evbus.7"
	grep -q '^\.Ql 1\.5s$' "$BATS_TEST_DIRNAME/../man/man1/evsub.1"
}

@test "evsub: EVBUS_AUTOSTART=no, false or off starts no bus, as evsub(1) says" {
	local v
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR" "$XDG_RUNTIME_DIR/evbus"
	for v in no FALSE Off 0; do
		EVBUS_AUTOSTART=$v run_fails 69 evsub -c 1
		assert_equal "$stderr" "evsub: no bus at $XDG_RUNTIME_DIR/evbus/sock (start evbusd, or let clients start it: EVBUS_AUTOSTART is off)"
		[ ! -e "$XDG_RUNTIME_DIR/evbus/sock" ] || fail "EVBUS_AUTOSTART=$v started a bus"
	done
	run mandoc -Tascii -O width=300 "$BATS_TEST_DIRNAME/../man/man1/evsub.1"
	assert_output --partial 'When 0, no, false or off (in any case), do not start a daemon when none answers at the default socket; when 1, yes, true, on, empty or unset, start one; any other value is a usage error.'
	track_pidfile "$XDG_RUNTIME_DIR/evbus/sock.pid"
	EVBUS_AUTOSTART=on run_ok evsub -c 0
	[ -S "$XDG_RUNTIME_DIR/evbus/sock" ] || fail "EVBUS_AUTOSTART=on started no bus"
}
