#!/usr/bin/env bats
# evroute: each action, first match and -a, --unmatched, --unroutable,
# where clauses, bad input lines, --check, files reopened on SIGHUP, exec
# children restarted, backpressure from a stuck consumer, Beer Garden's
# routing keys through a real bus, and the examples of evroute(1).

load helper

setup() {
	ev_setup
	if [ "${EV_VALGRIND:-0}" = 1 ]; then
		ER=(valgrind --error-exitcode=99 --leak-check=full -q
		    "$EVBUS_BIN/evroute")
	else
		ER=("$EVBUS_BIN/evroute")
	fi
	cd "$T" || return 1
	ev() {
		printf '{"name":"%s","payload":%s}\n' "$1" "${2:-null}"
	}
}

evroute() { timeout -k 5 "$EV_TMO" "${ER[@]}" "$@"; }

# The events most tests route.
events() {
	ev request.echo '{"system":"echo"}'
	ev web.crashed '{"crash_count":5}'
	ev db.crashed '{"crash_count":1}'
	ev other.thing 1
}

@test "stdout: the first matching rule takes an event; unmatched ones pass; bytes as read" {
	{
		printf '%s\n' '{ "name" : "a.x",  "payload": [1, 2] }'
		ev b.y 2
		ev c.z 3
	} >in
	run_ok evroute -e 'a.# -> stdout' -e 'a.x -> drop' -e 'b.# -> drop' <in
	assert_output "$(printf '%s\n' '{ "name" : "a.x",  "payload": [1, 2] }' \
	    '{"name":"c.z","payload":3}')"
	assert_equal "$stderr" ""
}

@test "stderr, file (appending) and drop" {
	events >in
	echo 'kept' >f.out
	run_ok evroute -e 'request.# -> file:f.out' -e '*.crashed -> stderr' \
	    -e 'other.# -> drop' <in
	assert_output ""
	assert_equal "$stderr" "$(sed -n 2,3p in)"
	assert_equal "$(cat f.out)" "$(printf 'kept\n%s' "$(sed -n 1p in)")"
}

@test "where: a filter in jq's spelling picks among events of one pattern" {
	events >in
	run_ok evroute -e '*.crashed where .payload.crash_count > 3 -> stdout' \
	    -e '# -> drop' <in
	assert_output "$(sed -n 2p in)"
}

@test "-a: every matching rule gets the event" {
	events >in
	run_ok evroute -a -e '# -> file:all' -e '*.crashed -> file:crashed' \
	    -e '*.crashed where .payload.crash_count > 3 -> stdout' <in
	assert_output "$(sed -n 2p in)"
	cmp in all
	assert_equal "$(cat crashed)" "$(sed -n 2,3p in)"
}

@test "--unmatched=drop: events no rule takes go nowhere" {
	events >in
	run_ok evroute --unmatched=drop -e 'request.# -> stdout' <in
	assert_output "$(sed -n 1p in)"
	run_ok evroute --unmatched=pass -e 'request.# -> drop' <in
	assert_output "$(sed -n 2,4p in)"
}

@test "a wildcard first token does not take the bus's own events" {
	{ ev evbus.started; ev a; } >in
	run_ok evroute -e '# -> drop' <in
	assert_output '{"name":"evbus.started","payload":null}'
	run_ok evroute -e 'evbus.# -> drop' <in
	assert_output '{"name":"a","payload":null}'
}

@test "bad input lines are reported by number; the rest is routed; status 1" {
	{
		ev a 1
		echo 'not json'
		echo '[1,2]'
		echo '{"payload":1}'
		echo '{"name":7}'
		echo '{"name":"a..b"}'
		echo ''
		ev a 2
	} >in
	run_fails 1 evroute -e 'a -> stdout' <in
	assert_output "$(printf '%s\n' '{"name":"a","payload":1}' \
	    '{"name":"a","payload":2}')"
	assert_equal "$stderr" "$(printf '%s\n' \
	    'evroute: stdin:2: invalid JSON at byte 1: invalid token' \
	    'evroute: stdin:3: not a JSON object (an array)' \
	    'evroute: stdin:4: name: missing' \
	    'evroute: stdin:5: name: not a string' \
	    "evroute: stdin:6: name 'a..b': empty token")"
}

@test "a filter that fails on an event (as jq's would) is reported; the next rule is tried" {
	{ ev a '"text"'; ev a '{"x":1}'; } >in
	run_fails 1 evroute -e 'a where .payload.x == 1 -> stdout' \
	    -e 'a -> drop' <in
	assert_output '{"name":"a","payload":{"x":1}}'
	assert_equal "$stderr" 'evroute: stdin:1: -e 1:1: where .payload.x == 1: column 9: cannot index string with string "x"'
}

@test "--check: good rules print nothing and exit 0" {
	run_ok evroute --check -e 'a.# -> stdout' -e '# -> drop'
	assert_output ""
	assert_equal "$stderr" ""
}

@test "--check: a bad rule is named by file, line and column; status 65" {
	printf '%s\n' '# routes' 'a.# -> stdout' '' \
	    '*.crashed where .payload.n >= -> stderr' >routes
	run_fails 65 evroute -f routes --check
	assert_output ""
	assert_equal "$stderr" "evroute: routes:4:30: expected a value after '>='"
	run_fails 65 evroute --check -e 'a -> stdout' -e 'b -> sdout'
	assert_equal "$stderr" "evroute: -e 2:1:6: unknown action 'sdout' (stdout, stderr, drop, file:PATH, exec:CMD, fire or fire:TEMPLATE)"
	run_fails 65 evroute --check -e 'x -> fire:a.{.b|nope}'
	assert_equal "$stderr" "evroute: -e 1:1:17: unknown function 'nope' (mangle, lower, upper, json, default:TEXT)"
}

@test "usage errors exit 64; a missing routes file 74" {
	run_fails 64 evroute
	assert_equal "${stderr_lines[0]}" 'evroute: no rules: give -e RULE or -f FILE'
	run_fails 64 evroute -e 'a -> stdout' --unmatched=maybe
	run_fails 64 evroute -e 'a -> stdout' --unroutable=file:
	run_fails 64 evroute -e 'a -> stdout' extra
	run_fails 74 evroute -f nosuch --check
	assert_equal "$stderr" "evroute: nosuch: No such file or directory"
	run_ok evroute -h
	assert_line --index 0 --partial 'usage: evroute [-a]'
}

@test "share/examples/routes.conf is valid" {
	run_ok evroute --check -f "$BATS_TEST_DIRNAME/../share/examples/routes.conf"
	assert_output ""
}

@test "a comment is a line starting with '#', unless it is a rule for '#' or '#.'" {
	printf '%s\n' '# a comment' '#.crashed -> stderr' \
	    '# where .payload == 1 -> file:ones' '#plain -> stdout' >routes
	{ ev x.crashed; ev a 1; ev b 2; } >in
	run_ok evroute -f routes <in
	assert_output '{"name":"b","payload":2}'
	assert_equal "$stderr" '{"name":"x.crashed","payload":null}'
	assert_equal "$(cat ones)" '{"name":"a","payload":1}'
}

@test "--unroutable: an event a template cannot name is reported and goes there" {
	{ ev r '{"s":"x"}'; ev r '{}'; ev r '{"s":"a b"}'; } >in
	start_bus
	run_fails 1 evroute -e 'r -> fire:t.{.payload.s}' <in
	assert_output ""
	assert_equal "$stderr" "$(printf '%s\n' \
	    'evroute: stdin:2: -e 1:1: fire:t.{.payload.s}: missing .payload.s' \
	    '{"name":"r","payload":{}}' \
	    'evroute: stdin:3: -e 1:1: fire:t.{.payload.s}: name: contains whitespace or a control character (U+0020 at byte 4)' \
	    '{"name":"r","payload":{"s":"a b"}}')"
	run_fails 1 evroute --unroutable=drop -e 'r -> fire:t.{.payload.s}' <in
	assert_equal "$(echo "$stderr" | grep -vc '^evroute: ')" 0
	run_fails 1 evroute --unroutable=file:bad -e 'r -> fire:t.{.payload.s}' <in
	assert_equal "$(cat bad)" "$(sed -n 2,3p in)"
	run_ok evsub --from 0 -c 3 't.#'
	assert_equal "$(echo "$output" | jq -r .name)" "$(printf 't.x\nt.x\nt.x')"
}

@test "fire without a template publishes the event as it is" {
	start_bus
	printf '%s\n' '{"name":"f.a","id":"id-1","payload":{"k":1},"seq":99}' >in
	run_ok evroute -e 'f.# -> fire' <in
	run_ok evsub --from 0 -c 1 'f.#'
	assert_equal "$(echo "$output" | jq -c '[.name, .id, .payload, .seq != 99]')" \
	    '["f.a","id-1",{"k":1},true]'
}

@test "no bus for a fire rule: status 69 before reading anything" {
	run_fails 69 evroute -s "$T/nobus" -e 'a -> fire' </dev/null
	[[ $stderr == "evroute: fire: no bus at $T/nobus"* ]]
}

@test "Beer Garden: requests renamed to their routing keys; a consumer of request.echo.# gets only echo's" {
	start_bus
	bg() {
		printf '{"name":"beergarden.request","id":"%s","payload":{"system":"%s","system_version":"%s","instance_name":"default","command":"%s"}}\n' "$@"
	}
	{
		bg r1 echo 1.0.0 say
		bg r2 math 2.1.3 add
		bg r3 echo 1.0.0 shout
		bg r4 math 2.1.3 mul
	} >in
	# A consumer bound to request.echo.# before anything is fired (from
	# 0: the ring's replay, then live), ended by a sentinel of its own.
	start_sub "$T/echo" --from 0 'request.echo.#' test.done
	run_ok evroute -e 'beergarden.request -> fire:request.{.payload.system}.{.payload.system_version|mangle}.{.payload.instance_name}' <in
	evfire test.done
	wait_grep "$T/echo" test.done
	assert_equal "$(jq -r '[.name, .payload.command] | join(" ")' "$T/echo")" \
	    "$(printf '%s\n' 'request.echo.1-0-0.default say' \
	    'request.echo.1-0-0.default shout' 'test.done ')"
	collect 4 "$T/all" 'request.#'
	assert_equal "$(jq -r '[.name, .payload.command, .metadata.routed_from] | join(" ")' "$T/all")" \
	    "$(printf '%s\n' 'request.echo.1-0-0.default say r1' \
	    'request.math.2-1-3.default add r2' \
	    'request.echo.1-0-0.default shout r3' \
	    'request.math.2-1-3.default mul r4')"
	# Routing the same input again publishes nothing new: the new ids
	# are made from the old ones and the names, and the bus drops
	# repeated ids.
	run_ok evroute -e 'beergarden.request -> fire:request.{.payload.system}.{.payload.system_version|mangle}.{.payload.instance_name}' <in
	collect 4 "$T/again" 'request.#'
	cmp "$T/all" "$T/again"
}

# bp_input N: N events of about 90 bytes, bp.x with payloads 1..N.
bp_input() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"name\":\"bp.x\",\"payload\":{\"i\":%d,\"pad\":\"%s\"}}\n",
		i, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }'
}

# stalled PID: asleep in poll(2) while its standard input, a regular
# file, could be read at once: it is not watching its input.
stalled() {
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == *poll* ]]
}

# check_bounded PID FILE: PID read only a little of FILE and holds little
# memory (unless instrumented: then RSS is not its own).
check_bounded() {
	local pos size rss
	pos=$(awk '/^pos:/ { print $2 }' "/proc/$1/fdinfo/0")
	size=$(stat -c %s "$2")
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
	echo "read $pos of $size bytes; VmRSS $rss kB" >&2
	[ "$pos" -lt $((size / 8)) ] || fail "read $pos of $size bytes"
	ev_instrumented || [ "$rss" -lt 16384 ] ||
	    fail "VmRSS $rss kB while its consumer is stuck"
}

@test "file: SIGHUP opens the files again (log rotation)" {
	mkfifo in
	"${ER[@]}" -e 'a -> file:log' -e 'b -> file:log' <in >out 2>err 3>&- &
	pid=$!
	EV_PIDS+=("$pid")
	exec {w}>in
	ev a 1 >&"$w"
	wait_lines log 1
	mv log log.1
	kill -HUP "$pid"
	wait_for "[ -e log ]"
	ev b 2 >&"$w"
	wait_lines log 1
	exec {w}>&-
	finish "$pid" 0
	assert_equal "$(cat log.1)" '{"name":"a","payload":1}'
	assert_equal "$(cat log)" '{"name":"b","payload":2}'
	assert_equal "$(cat err out)" ""
}

@test "exec: one long-running child per rule, started again after it dies, its death reported" {
	mkfifo in
	"${ER[@]}" -e 'j.# -> exec:echo $$ >>pids; exec cat >>got' <in >out 2>err 3>&- &
	pid=$!
	EV_PIDS+=("$pid")
	exec {w}>in
	ev j.a 1 >&"$w"
	ev j.b 2 >&"$w"
	wait_lines got 2
	assert_equal "$(nlines pids)" 1
	kill -KILL "$(cat pids)"
	wait_grep err 'killed by signal 9'
	ev j.c 3 >&"$w"
	wait_lines got 3
	assert_equal "$(nlines pids)" 2
	exec {w}>&-
	finish "$pid" 1
	assert_equal "$(cat err)" 'evroute: exec:echo $$ >>pids; exec cat >>got: was killed by signal 9 (Killed); starting it again in 100 ms'
	assert_equal "$(cat got)" "$(ev j.a 1; ev j.b 2; ev j.c 3)"
}

@test "exec: what a dead child left unread goes to the next, with growing backoff" {
	{ ev j 1; ev j 2; ev j 3; } >in
	run_fails 1 evroute -e 'j -> exec:read -r l && echo "$l" >>got; exit 3' <in
	assert_equal "$(cat got)" "$(cat in)"
	assert_equal "$stderr" "$(printf '%s\n' \
	    'evroute: exec:read -r l && echo "$l" >>got; exit 3: exited with status 3; starting it again in 100 ms' \
	    'evroute: exec:read -r l && echo "$l" >>got; exit 3: exited with status 3; starting it again in 200 ms' \
	    'evroute: exec:read -r l && echo "$l" >>got; exit 3: exited with status 3')"
}

@test "exec: a command that never reads is given up on after the input" {
	{ ev j 1; ev j 2; } >in
	run_fails 1 evroute -e 'j -> exec:exit 2' <in
	assert_equal "${stderr_lines[-1]}" 'evroute: exec:exit 2: exited with status 2; 5 times in a row without reading: giving up on the 50 bytes left for it'
}

@test "backpressure: a stuck exec consumer stops the reading; memory stays bounded" {
	bp_input 200000 >big
	mkfifo go
	"${ER[@]}" -e 'bp.# -> exec:read -r _ <go; exec cat >got' <big \
	    >out 2>err 3>&- &
	pid=$!
	EV_PIDS+=("$pid")
	wait_for "stalled $pid"
	check_bounded "$pid" big
	echo go >go
	finish "$pid" 0
	cmp big got
}

@test "backpressure: a stuck reader of stdout stops the reading too" {
	bp_input 200000 >big
	mkfifo go outp
	(read -r _ <go; exec cat >got) <outp 3>&- &
	EV_PIDS+=("$!")
	"${ER[@]}" -e "# -> stdout" <big >outp 2>err 3>&- &
	pid=$!
	EV_PIDS+=("$pid")
	wait_for "stalled $pid"
	check_bounded "$pid" big
	echo go >go
	finish "$pid" 0
	wait_for "cmp -s big got"
}

@test "evroute(1) EXAMPLES: requests to a file, repeated crashes to a command, the rest dropped" {
	start_bus
	printf '#!/bin/sh\nexec cat >>paged\n' >page-oncall.sh
	chmod +x page-oncall.sh
	evfire -q request.echo '{"command":"say"}'
	evfire -q web.crashed '{"crash_count":5}'
	evfire -q db.crashed '{"crash_count":1}'
	evfire -q other.thing
	run_ok sh -c "evsub --from 0 -c 4 '#' | evroute \\
	    -e 'request.# -> file:requests.ndjson' \\
	    -e '*.crashed where .payload.crash_count > 3 -> exec:./page-oncall.sh' \\
	    -e '# -> drop'"
	assert_output ""
	assert_equal "$(jq -r .name requests.ndjson)" request.echo
	assert_equal "$(jq -r .name paged)" web.crashed
}

@test "evroute(1) EXAMPLES: Beer Garden's routing keys; firing evsub's events back publishes nothing" {
	start_bus
	evfire -q beergarden.request '{"system":"echo","system_version":"1.0.0","instance_name":"default"}'
	run_ok sh -c "evsub --from 0 -c 1 beergarden.request | evroute -e 'beergarden.request -> fire:request.{.payload.system}.{.payload.system_version|mangle}.{.payload.instance_name}'"
	collect 1 got 'request.#'
	assert_equal "$(jq -r .name got)" request.echo.1-0-0.default
	run_ok sh -c "evsub --from 0 -c 2 '#' | evroute -e '# -> fire'"
	collect 3 all '#'
	assert_equal "$(jq -r .name all)" "$(printf '%s\n' beergarden.request \
	    request.echo.1-0-0.default test.sentinel)"
}

@test "evroute(1) EXAMPLES: a routes file checked; -a with an archive and errors" {
	cat >routes.conf <<'ROUTES'
# Requests, kept.
request.# -> file:requests.ndjson

# Errors of any kind, shown.
# where .error -> stderr

# Crashes that keep coming back.
*.crashed where .payload.crash_count > 3 \
    -> exec:logger -t oncall
ROUTES
	run_ok sh -c 'evroute -f routes.conf --check; echo $?'
	assert_output 0
	{ ev a; echo '{"name":"b","error":true}'; } >events.ndjson
	run_ok evroute -a -e '# -> file:all.ndjson' -e '# where .error -> stderr' \
	    --unmatched=drop <events.ndjson
	assert_output ""
	assert_equal "$stderr" '{"name":"b","error":true}'
	cmp events.ndjson all.ndjson
}

@test "fire: an event the bus refuses is reported with its input line; the others are published" {
	start_bus -m 1024
	{
		ev big.a 1
		printf '{"name":"big.b","payload":"%s"}\n' "$(head -c 2000 /dev/zero | tr '\0' x)"
		ev big.c 3
	} >in
	run_fails 1 evroute -e 'big.# -> fire' <in
	[[ ${stderr_lines[0]} == 'evroute: stdin:2: fire: the bus refused it (limit): '* ]] ||
	    fail "stderr: $stderr"
	assert_equal "${#stderr_lines[@]}" 1
	collect 2 got 'big.#'
	assert_equal "$(jq -r .name got)" "$(printf 'big.a\nbig.c')"
}
