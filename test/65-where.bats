#!/usr/bin/env bats
# Filters evaluated in the daemon: the SUB key "where", evsub --where, and
# what the daemon counts of the events its filters keep back.  The filter
# language itself is test/unit/t_expr.c and test/60-expr-jq.bats.

load helper

# stats: the bus's STATS body (one JSON line) on stdout.
stats() {
	printf 'HELLO 2 test\nSTATS\nQUIT\n' |
	    socat -t "$(ev_scale 5)" - "UNIX-CONNECT:$EVBUS_SOCKET" |
	    sed -n 3p
}

# stat_is JQ VALUE: wait until STATS, through the jq expression JQ, says
# VALUE (counters settle once the subscribers have been written to).
stat_is() {
	wait_for "[ \"\$(stats | jq -c '$1')\" = '$2' ]" 20 || {
		echo "stat_is: $1 is $(stats | jq -c "$1"), want $2" >&2
		return 1
	}
}

# sub_frame BODY: the daemon's replies to HELLO and SUB BODY (then QUIT).
sub_frame() {
	printf 'HELLO 2 test\nSUB %d\n%s\nQUIT\n' "${#1}" "$1" |
	    socat -t "$(ev_scale 5)" - "UNIX-CONNECT:$EVBUS_SOCKET" |
	    tail -n +2
}

# seqs FILE: the seqs of the events in FILE, one line, space-separated.
seqs() {
	jq -r .seq "$1" | tr '\n' ' '
}

# --- the protocol ----------------------------------------------------------

@test "where: HELLO announces the feature" {
	start_bus
	run_ok sh -c "printf 'HELLO 2 t\nQUIT\n' | socat -t 5 - UNIX-CONNECT:$EVBUS_SOCKET"
	[[ $output == *features=*where* ]] || fail "HELLO: $output"
	[[ $output =~ features=([a-z,-]*,)?where(,|[[:space:]]) ]] ||
	    fail "no feature word 'where': $output"
}

@test "where: a bad filter is refused with its column, and nothing is subscribed" {
	start_bus
	run_ok sub_frame '{"patterns":["#"],"where":[".payload.x =="]}'
	assert_output "ERR data where: column 14: expected a value after '=='"
	run_ok sub_frame '{"where":[".a", ".a | length > 1"]}'
	assert_output "ERR data where[1]: column 6: 'length' is not supported (evbus's filters are a subset of jq: see evbus(7))"
	run_ok sub_frame '{"where":[".name | test(\"(\")"]}'
	assert_output "ERR data where: column 14: invalid regex: end pattern with unmatched parenthesis"
	run_ok sub_frame '{"where":".a"}'
	assert_output "ERR data where: not an array of at most 16 strings"
	run_ok sub_frame '{"where":[true]}'
	assert_output "ERR data where: not all strings of at most 4096 bytes"
	run_ok sub_frame '{"where":[".a\u0000"]}'
	assert_output --partial "ERR data subscription: invalid JSON: \u0000 is not allowed"
	# The limits: 16 filters of 4096 bytes pass, one more does not.
	local f16 f17 long
	f16=$(jq -cn '{where: [range(16) | ".a"]}')
	f17=$(jq -cn '{where: [range(17) | ".a"]}')
	run_ok sub_frame "$f16"
	assert_output --regexp '^OK [0-9]+$'
	run_ok sub_frame "$f17"
	assert_output "ERR data where: not an array of at most 16 strings"
	long=$(jq -cn '{where: [".a or " + ("\"" + ("x" * 4088) + "\"")]}')
	[ "$(jq -r '.where[0] | length' <<<"$long")" -eq 4096 ] || fail "not 4096"
	run_ok sub_frame "$long"
	assert_output --regexp '^OK [0-9]+$'
	long=$(jq -cn '{where: [".a or " + ("\"" + ("x" * 4089) + "\"")]}')
	run_ok sub_frame "$long"
	assert_output "ERR data where: not all strings of at most 4096 bytes"
	# The refused ones left no subscriber behind.
	stat_is '.subscribers | length' 0
}

@test "where: a refused SUB leaves the connection free to subscribe again" {
	start_bus
	local bad='{"where":["not not"]}' good='{"patterns":["a.#"],"where":[".payload > 1"]}'
	wire_open
	wire_send 'HELLO 2 t\nSUB %d\n%s\nSUB %d\n%s\n' "${#bad}" "$bad" \
	    "${#good}" "$good"
	wait_lines "$T/wire.out" 3
	assert_equal "$(wire_reply 2)" "ERR data where: column 5: expected an operator or the end, found 'not'"
	[[ $(wire_reply 3) =~ ^OK\ [0-9]+$ ]] || fail "reply: $(wire_reply 3)"
	evfire -q a.b 1
	evfire -q a.b 2
	wait_lines "$T/wire.out" 5
	sed -n 5p "$T/wire.out" | jq -e '.payload == 2' >/dev/null ||
	    fail "got: $(sed -n 5p "$T/wire.out")"
	wire_send 'QUIT\n'
	wire_close
	[ "$(grep -c '^EVENT' "$T/wire.out")" -eq 1 ] || fail "$(cat "$T/wire.out")"
}

@test "where: STATS shows each subscriber's filters and what they kept back" {
	start_bus
	start_sub "$T/out" --where '.payload.n >= 2' --where '.payload.ok' 'job.#'
	stat_is '[.subscribers[].where]' '[[".payload.n >= 2",".payload.ok"]]'
	start_sub "$T/all" 'job.#'
	stat_is '.subscribers | length' 2
	printf '%s\n' '{"name":"job.a","payload":{"n":1,"ok":true}}' \
	    '{"name":"job.b","payload":{"n":2,"ok":true}}' \
	    '{"name":"job.c","payload":{"n":3,"ok":false}}' \
	    '{"name":"other","payload":{"n":3,"ok":true}}' | evfire -q
	wait_lines "$T/out" 1
	wait_lines "$T/all" 3
	stat_is '[.filtered_out, ([.subscribers[] | [.where, .delivered, .filtered_out]] | sort)]' \
	    '[2,[[[],3,0],[[".payload.n >= 2",".payload.ok"],1,2]]]'
	stat_is '.events_out' 4
	assert_equal "$(jq -r .name "$T/out")" job.b
}

# --- evsub --where ------------------------------------------------------

@test "evsub --where: a filter the language refuses is a usage error (64), before connecting" {
	# No bus: a filter that compiled would fail with 69.
	run_fails 64 evsub --where '.payload.x ==' '#'
	assert_equal "$stderr" "evsub: --where: column 14: expected a value after '=='"
	run_fails 64 evsub --where '.a' --where '.payload.cell_id = "c2"'
	assert_equal "$stderr" "evsub: --where: column 18: '=' (assignment) is not supported: to compare, write '=='"
	run_fails 64 evsub --where '(.a or .b'
	assert_equal "$stderr" "evsub: --where: column 10: expected ')' to close the '(' at column 1"
	run_fails 64 evsub --where '.name | test("[")'
	assert_equal "$stderr" "evsub: --where: column 14: invalid regex: premature end of char-class"
	run_fails 64 evsub --where ''
	assert_equal "$stderr" "evsub: --where: column 1: expected a value"
	run_fails 64 evsub $(printf -- '--where .a %.0s' {1..17})
	assert_equal "$stderr" "evsub: --where: at most 16 filters"
	run_fails 64 evsub --where ".a == \"$(printf '%4090s' x)\""
	assert_equal "$stderr" "evsub: --where: at most 4096 bytes"
	# And with a bus, the same refusal, without a word to it.
	start_bus -v
	run_fails 64 evsub --where '.payload.x ==' '#'
	run_ok evfire -q a.b
	! grep -q evsub "$BUS_ERR" || fail "evsub connected: $(cat "$BUS_ERR")"
	run_fails 69 evsub --where '.a' -s "$T/nobus" '#'
}

@test "evsub --where: a bus without the feature is refused (69), not asked" {
	mkdir -m 700 "$T/old"
	# A bus of before the feature: its HELLO, then it reads what comes.
	cat >"$T/old/bus" <<-EOF
	#!/bin/sh
	printf 'HELLO 2 0123456789abcdef 0 65536 features=pub,sub,ping max_depth=256\n'
	exec cat >"$T/old/got"
	EOF
	chmod +x "$T/old/bus"
	socat "UNIX-LISTEN:$T/old/sock" "EXEC:$T/old/bus" 2>"$T/old/err" &
	EV_PIDS+=("$!")
	wait_for "[ -S '$T/old/sock' ]"
	run_fails 69 evsub -s "$T/old/sock" --where '.a' '#'
	assert_equal "$stderr" "evsub: the bus at $T/old/sock cannot filter events (it lacks the feature 'where'; a newer evbusd has it)"
	wait_for "[ -f '$T/old/got' ]"
	! grep -q SUB "$T/old/got" || fail "evsub sent: $(cat "$T/old/got")"
}

@test "evsub --where: the issue's examples, evaluated in the daemon" {
	start_bus
	printf '%s\n' \
	    '{"name":"actual_lrp.created","payload":{"cell_id":"cell-7"}}' \
	    '{"name":"actual_lrp.created","payload":{"cell_id":"cell-8"}}' \
	    '{"name":"desired_lrp.created","payload":{"cell_id":"cell-7"}}' \
	    '{"name":"app.crashed","error":true,"payload":{"crash_count":3}}' \
	    '{"name":"app.crashed","error":true,"payload":{"crash_count":2}}' \
	    '{"name":"app.crashed","error":false,"payload":{"crash_count":9}}' \
	    '{"name":"lrp.changed","payload":{"before":{"cell_id":"c1"},"after":{"cell_id":"c2"}}}' \
	    '{"name":"lrp.changed","payload":{"before":{"cell_id":"c2"},"after":{"cell_id":"c3"}}}' \
	    '{"name":"lrp.changed","payload":{"before":{"cell_id":"c3"},"after":{"cell_id":"c1"}}}' \
	    | evfire -q
	run_ok evsub --from 0 -c 1 --where '.payload.cell_id == "cell-7"' 'actual_lrp.#'
	jq -e '.name == "actual_lrp.created" and .payload.cell_id == "cell-7"' \
	    <<<"$output" >/dev/null || fail "got $output"
	run_ok evsub --from 0 -c 1 --where '.error' --where '.payload.crash_count >= 3' '#'
	jq -ce '.payload' <<<"$output" | grep -qx '{"crash_count":3}' ||
	    fail "got $output"
	run_ok evsub --from 0 -c 2 --where '.payload.before.cell_id == "c2" or .payload.after.cell_id == "c2"' 'lrp.#'
	assert_equal "$(jq -c '[.payload.before.cell_id, .payload.after.cell_id]' <<<"$output")" \
	    "$(printf '%s\n' '["c1","c2"]' '["c2","c3"]')"
	# Nothing else would have come: the bus kept back exactly the rest.
	# (-c stops evsub once it has its count, so count from the bus.)
	start_sub "$T/live" --from 0 --where '.error' --where '.payload.crash_count >= 3' '#'
	wait_lines "$T/live" 1
	stat_is '[.subscribers[] | [.delivered, .filtered_out]]' '[[1,8]]'
}

@test "evsub --where: several filters must all hold" {
	start_bus
	local i
	for i in 1 2 3 4 5 6; do
		printf '{"name":"n.%d","payload":{"i":%d,"even":%s}}\n' \
		    "$i" "$i" "$([ $((i % 2)) -eq 0 ] && echo true || echo false)"
	done | evfire -q
	start_sub "$T/out" --from 0 --where '.payload.even' --where '.payload.i > 2' '#'
	wait_lines "$T/out" 2
	stat_is '[.subscribers[] | [.delivered, .filtered_out]]' '[[2,4]]'
	assert_equal "$(jq -r .payload.i "$T/out" | tr '\n' ' ')" "4 6 "
}

@test "evsub --where with --last and --from: the replay counts only what passes" {
	start_bus
	gen_events 20 num | evfire -q
	run_ok evsub --last 3 -c 3 --where '.payload >= 5 and .payload <= 10' '#'
	assert_equal "$(jq -r .payload <<<"$output" | tr '\n' ' ')" "8 9 10 "
	run_ok evsub --from 0 -c 2 --where '.payload > 18' '#'
	assert_equal "$(jq -r .payload <<<"$output" | tr '\n' ' ')" "19 20 "
}

@test "where: an error while evaluating means not delivered, and -vv says why" {
	start_bus -vv
	start_sub "$T/out" --where '.payload.a.b == 1' 'e.#'
	stat_is '.subscribers | length' 1
	printf '%s\n' '{"name":"e.1","payload":{"a":{"b":1}}}' \
	    '{"name":"e.2","payload":{"a":"text"}}' \
	    '{"name":"e.3","payload":[1]}' \
	    '{"name":"e.4","payload":{"a":{"b":1}}}' | evfire -q
	wait_lines "$T/out" 2
	stat_is '[.filtered_out, .subscribers[0].delivered]' '[2,2]'
	assert_equal "$(jq -r .name "$T/out" | tr '\n' ' ')" "e.1 e.4 "
	# jq raises the same errors on those two: it would skip them too.
	logged "where '.payload.a.b == 1': event " ': column 11: cannot index string with string "b"'
	logged "where '.payload.a.b == 1': event " ': column 9: cannot index array with string "a"'
	assert_equal "$(jq -c 'select(.payload.a.b == 1) | .name' \
	    <<<"$(evsub --from 0 -c 4 'e.#')" 2>/dev/null | tr '\n' ' ')" '"e.1" "e.4" '
}

# logged BEFORE AFTER: the daemon logged a line with BEFORE, then a seq,
# then AFTER.
logged() {
	grep -F -- "$1" "$BUS_ERR" | grep -qF -- "$2" || {
		echo "not logged: $1N$2" >&2
		return 1
	}
}

# --- the Diego-style test --------------------------------------------------

# Three cells' LRP events, as Diego's BBS streams them: created and
# removed name the cell, changed has the cell before and after.
diego_events() {
	local e
	for e in \
	    'actual_lrp.created {"process_guid":"p1","cell_id":"c1"}' \
	    'actual_lrp.created {"process_guid":"p2","cell_id":"c2"}' \
	    'actual_lrp.created {"process_guid":"p3","cell_id":"c3"}' \
	    'desired_lrp.changed {"process_guid":"p2","cell_id":"c2"}' \
	    'actual_lrp.changed {"process_guid":"p1","before":{"cell_id":"c1"},"after":{"cell_id":"c2"}}' \
	    'actual_lrp.changed {"process_guid":"p2","before":{"cell_id":"c2"},"after":{"cell_id":"c3"}}' \
	    'actual_lrp.changed {"process_guid":"p3","before":{"cell_id":"c3"},"after":{"cell_id":"c1"}}' \
	    'actual_lrp.changed {"process_guid":"p4","before":{"cell_id":"c1"},"after":{"cell_id":"c1"}}' \
	    'actual_lrp.changed {"process_guid":"p5","before":null,"after":{"cell_id":"c2"}}' \
	    'actual_lrp.crashed {"process_guid":"p2","cell_id":"c2","crash_count":1}' \
	    'actual_lrp.crashed {"process_guid":"p3","cell_id":"c3","crash_count":1}' \
	    'actual_lrp.changed "not an object"' \
	    'actual_lrp.removed {"process_guid":"p1","cell_id":"c2"}' \
	    'actual_lrp.removed {"process_guid":"p2","cell_id":"c3"}' \
	    'actual_lrp.removed {"process_guid":"p3","cell_id":"c1"}'; do
		printf '{"name":"%s","payload":%s}\n' "${e%% *}" "${e#* }"
	done
}

@test "Diego: a cell's subscriber receives exactly its cell's LRP events; the others never reach it" {
	local cell='.payload.cell_id == "c2" or .payload.before.cell_id == "c2" or .payload.after.cell_id == "c2"'
	start_bus -vv
	start_sub "$T/c2" --where "$cell" 'actual_lrp.#'
	start_sub "$T/all" 'actual_lrp.#'
	stat_is '.subscribers | length' 2
	diego_events | evfire -q
	# 14 actual_lrp events, of which 6 are c2's (created, changed to
	# it twice and from it once, crashed, removed); the string payload
	# is an error for .payload.cell_id, as in jq, and is not delivered.
	wait_lines "$T/all" 14
	wait_lines "$T/c2" 6
	stat_is '[.subscribers[] | select(.where != []) | [.delivered, .filtered_out, .lag]]' '[[6,8,0]]'
	stat_is '.filtered_out' 8
	stat_is '.events_out' 20
	# The same events jq selects from the whole stream, in order.
	jq -c "select($cell)" "$T/all" 2>/dev/null >"$T/jq"
	assert_equal "$(seqs "$T/c2")" "$(seqs "$T/jq")"
	assert_equal "$(jq -c '[.name, .payload.process_guid]' "$T/c2")" "$(printf '%s\n' \
	    '["actual_lrp.created","p2"]' '["actual_lrp.changed","p1"]' \
	    '["actual_lrp.changed","p2"]' '["actual_lrp.changed","p5"]' \
	    '["actual_lrp.crashed","p2"]' '["actual_lrp.removed","p1"]')"
	# Its socket carried nothing else: the daemon wrote it 6 events,
	# and -vv logged the one it could not evaluate.
	stat_is "[.subscribers[] | select(.where != []) | .delivered]" '[6]'
	logged "where '$cell': event " ': column 9: cannot index string with string "cell_id"'
}

# --- evbus(7): its filter examples are true ----------------------------------

# The examples of FILTERS AND TEMPLATES, Filters, as the page shows them
# (one a line, shell quotes removed).
man_filters() {
	mandoc -Tascii -O width=300 "$BATS_TEST_DIRNAME/../man/man7/evbus.7" |
	    col -bx | awk '
	    /^ *Filters$/ { f = 1; next }
	    f && /^ *Templates$/ { exit }
	    f && /^ *Examples:$/ { e = 1; next }
	    e && /^     [^ ]/ { print }' | sed 's/^ *//; s/  .*//' |
	    while IFS= read -r line; do
		eval "printf '%s\n' $line"
	    done
}

@test "evbus(7): each filter example selects on the bus what jq -c 'select(EXPR)' selects" {
	start_bus
	local n=0 expr k
	man_filters >"$T/examples"
	[ "$(wc -l <"$T/examples")" -ge 7 ] || fail "examples: $(cat "$T/examples")"
	printf '%s\n' \
	    '{"name":"actual_lrp.changed","payload":{"before":{"cell_id":"c1"},"after":{"cell_id":"c2"},"crash_count":4},"error":false,"metadata":{"env":"prod"}}' \
	    '{"name":"deploy.web","payload":{"cell_id":"cell-7","crash_count":1},"error":true,"metadata":{"env":"dev"}}' \
	    '{"name":"deploy","payload":null}' \
	    '{"name":"x.y","payload":"text"}' \
	    '{"name":"deployx","payload":{"cell_id":null,"crash_count":3},"metadata":{"env":"prod"}}' \
	    '{"name":"z","payload":{"before":{"cell_id":"c2"}},"error":null}' \
	    '{"name":"deploy.sentinel","error":true,"payload":{"cell_id":"cell-7","crash_count":5,"before":{"cell_id":"c2"}},"metadata":{"env":"test"}}' |
	    evfire -q
	run_ok evsub --from 0 -c 7 '#'
	printf '%s\n' "$output" >"$T/all"
	while IFS= read -r expr; do
		n=$((n + 1))
		jq -c "select($expr)" "$T/all" 2>/dev/null >"$T/jq.$n"
		k=$(wc -l <"$T/jq.$n")
		# The sentinel passes every example: the last one selected.
		[ "$(tail -n 1 "$T/jq.$n" | jq -r .name)" = deploy.sentinel ] ||
		    fail "example $n: $expr: jq does not select the sentinel"
		run_ok evsub --from 0 -c "$k" --where "$expr" '#'
		printf '%s\n' "$output" >"$T/ours.$n"
		assert_equal "$(seqs "$T/ours.$n")" "$(seqs "$T/jq.$n")"
		echo "# $expr: $k of 7" >&3
	done <"$T/examples"
	[ "$n" -ge 7 ] || fail "only $n examples"
}

@test "where: filtering subscribers catching up on a long backlog get every event that passes, in order" {
	start_bus
	gen_events 3000 num | evfire -q
	start_sub "$T/hi" --from 0 --where '.payload > 1500' '#'
	start_sub "$T/ends" --from 0 --where '.payload <= 10 or .payload > 2990' '#'
	start_sub "$T/all" --from 0 '#'
	wait_lines "$T/hi" 1500
	wait_lines "$T/ends" 20
	wait_lines "$T/all" 3000
	stat_is '[.subscribers[] | [.delivered, .filtered_out]] | sort' '[[20,2980],[1500,1500],[3000,0]]'
	assert_equal "$(jq -c .payload "$T/hi" | md5sum)" "$(seq 1501 3000 | md5sum)"
	assert_equal "$(jq -c .payload "$T/ends" | tr '\n' ' ')" "$(echo $(seq 1 10) $(seq 2991 3000)) "
	jq -s -e '[.[].seq] | . == sort' "$T/hi" >/dev/null || fail "out of order"
}

@test "where: a backtracking test() from one client cannot stall the bus: it is an error there, not delivered" {
	start_bus -vv
	start_sub "$T/sub" --where '.payload.s | test("(a|a)*(a|a)*(a|a)*$")' '#'
	s=$(printf 'a%.0s' $(seq 1 3000))
	run_ok evfire -w slow.one "{\"s\":\"$s!\"}"
	run_ok evfire -w slow.two '{"s":"aaa"}'
	wait_lines "$T/sub" 1
	run jq -r .name "$T/sub"
	assert_output slow.two
}
