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
	help=$(sed 's/^usage: //' <<<"$output" | tr -s ' \n' ' ')
	syn=$(mandoc -Tascii -O width=300 "$BATS_TEST_DIRNAME/../man/man1/evsub.1" |
	    col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \n' ' ')
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

@test "evsub: --from and --last together is a usage error (64)" {
	start_bus
	run_fails 64 evsub --from 1 --last 1
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
	body='{"patterns":["a.#"],"where":"x"}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wait_lines "$T/wire.out" 2 20
	[[ $(wire_reply 1) == "HELLO 2 "* ]] || fail "HELLO: $(wire_reply 1)"
	assert_equal "$(wire_reply 2)" \
	    "ERR data subscription: unknown key 'where' (this bus knows patterns, from, last, since, node, service, tags, durable)"
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
