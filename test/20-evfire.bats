#!/usr/bin/env bats
# evfire: arguments, stdin, validation, exit statuses, -w, autostart.

load helper

# --- options --------------------------------------------------------------

@test "evfire --help prints the synopsis and exits 0" {
	run_ok evfire --help
	assert_output --partial evfire
	[[ ${output,,} == *usage* ]] || fail "no usage line: $output"
}

@test "evfire --version prints a version and exits 0" {
	run_ok evfire --version
	assert_output --regexp '[0-9]+\.[0-9]+\.[0-9]+'
}

@test "evfire: an unknown option is a usage error (64)" {
	run_fails 64 evfire --no-such-option x
	# getopt names the program as invoked (argv[0]), maybe a path.
	[[ $stderr =~ ^(.*/)?evfire: || ${stderr,,} == usage:* ]] ||
	    fail "stderr: $stderr"
}

@test "evfire: -m without '=' is a usage error (64)" {
	start_bus
	run_fails 64 evfire -m novalue x
}

@test "evfire: no bus is status 69 with a message" {
	run_fails 69 evfire -s "$T/nobody.sock" x
	[[ $stderr == evfire:* ]] || fail "stderr: $stderr"
}

# --- payloads -------------------------------------------------------------

@test "evfire NAME TEXT: a payload that is not JSON is a string" {
	start_bus
	run_ok evfire deploy v1.2.3
	assert_output ''
	collect 1 "$T/ev" deploy
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output '["deploy","v1.2.3"]'
}

@test "evfire NAME JSON: a payload that parses is JSON" {
	start_bus
	run_ok evfire x.obj '{"a":1}'
	run_ok evfire x.num 42
	run_ok evfire x.str '"v1.2.3"'
	run_ok evfire x.arr '[1,"two",null]'
	run_ok evfire x.none
	collect 5 "$T/ev" 'x.#'
	run jq -c .payload "$T/ev"
	assert_output "$(printf '%s\n' '{"a":1}' 42 '"v1.2.3"' '[1,"two",null]' null)"
}

@test "evfire --string and --json force the payload type" {
	start_bus
	run_ok evfire --string f.s 42
	run_ok evfire --json f.j '[1]'
	run_fails 65 evfire --json f.bad 'not json'
	[[ $stderr == evfire:* ]] || fail "stderr: $stderr"
	collect 2 "$T/ev" 'f.#'
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output "$(printf '%s\n' '["f.s","42"]' '["f.j",[1]]')"
}

@test "evfire -e sets the error flag, and only then" {
	start_bus
	run_ok evfire -e e.bad boom
	run_ok evfire e.good fine
	run_ok evfire --error e.bad2
	collect 3 "$T/ev" 'e.#'
	run jq -c '[.name, (.error == true)]' "$T/ev"
	assert_output "$(printf '%s\n' '["e.bad",true]' '["e.good",false]' '["e.bad2",true]')"
}

@test "evfire -m adds string metadata, repeatable" {
	start_bus
	run_ok evfire -m host=web1 -m 'note=a b=c' --metadata n=7 m.x
	collect 1 "$T/ev" 'm.#'
	run jq -c .metadata "$T/ev"
	assert_output '{"host":"web1","note":"a b=c","n":"7"}'
}

@test "evfire -w prints the seq the bus gave the event" {
	start_bus
	run_ok evfire -w deploy '"v1.2.3"'
	assert_output --regexp '^[0-9]+$'
	s1=$output
	run_ok evfire --wait deploy v2
	s2=$output
	[ "$s2" -gt "$s1" ]
	collect 2 "$T/ev" deploy
	run jq -c '[.seq, .payload]' "$T/ev"
	assert_output "$(printf '%s\n' "[$s1,\"v1.2.3\"]" "[$s2,\"v2\"]")"
}

@test "evfire -w with NDJSON prints one seq per event, in order" {
	start_bus
	run_ok evfire -w < <(gen_events 5 w.n)
	assert_equal "${#lines[@]}" 5
	collect 5 "$T/ev" 'w.#'
	run jq .seq "$T/ev"
	assert_output "$(printf '%s\n' "${lines[@]}")"
}

@test "evfire -w: a write error on stdout is status 74" {
	start_bus
	run_fails 74 bash -c 'evfire -w full.y >/dev/full'
	[[ $stderr == evfire:* ]] || fail "stderr: $stderr"
}

# --- NDJSON on stdin ------------------------------------------------------

@test "evfire reads NDJSON events on stdin (the issue's example)" {
	start_bus
	run_ok evfire < <(printf '%s\n' '{"name":"a.b","payload":1}' '{"name":"a.c"}')
	collect 2 "$T/ev" 'a.#'
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output "$(printf '%s\n' '["a.b",1]' '["a.c",null]')"
}

@test "evfire: stdin lines keep their own metadata, error, payload, unknown fields" {
	start_bus
	line='{"name":"u.x","payload":{"k":[1,2]},"error":true,"metadata":{"a":"b"},"custom":{"z":[true,null]},"x_y":"kept"}'
	run_ok evfire <<<"$line"
	collect 1 "$T/ev" 'u.#'
	run jq -c '{name, payload, error, metadata, custom, x_y}' "$T/ev"
	assert_output "$(jq -c '{name, payload, error, metadata, custom, x_y}' <<<"$line")"
}

@test "evfire keeps a given id and time, and fills them when absent" {
	start_bus
	id=6f1c2f9a-2d3b-4c5e-8f70-1a2b3c4d5e6f
	run_ok evfire <<<"{\"name\":\"t.given\",\"id\":\"$id\",\"time\":1700000000000}
{\"name\":\"t.filled\"}"
	collect 2 "$T/ev" 't.#'
	run jq -c '[.id, .time]' <(head -n 1 "$T/ev")
	assert_output "[\"$id\",1700000000000]"
	now=$(( $(ev_now_ms) ))
	run jq -e --argjson now "$now" '
	    (.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))
	    and (.time > $now - 600000) and (.time <= $now + 1000)' \
	    <(tail -n 1 "$T/ev")
	assert_success
}

@test "evfire: the bus stamps origin and seq; a client cannot forge them" {
	start_bus
	run_ok evfire -w <<<'{"name":"forge.x","seq":999999,"origin":{"uid":12345,"gid":12345,"pid":1}}'
	seq=$output
	[ "$seq" != 999999 ]
	collect 1 "$T/ev" 'forge.#'
	head -c 7 "$T/ev" | grep -qx '{"seq":' || fail "line does not start {\"seq\":"
	run jq -e --argjson seq "$seq" --argjson uid "$(id -u)" \
	    --argjson gid "$(id -g)" \
	    '.seq == $seq and .origin.uid == $uid and .origin.gid == $gid
	     and .origin.pid != 1' "$T/ev"
	assert_success
}

@test "evfire: a bad line between two good ones: both published, stdin:2, exit 1" {
	start_bus
	run_fails 1 evfire < <(printf '%s\n' '{"name":"g.one","payload":1}' \
	    '{"name": not json' '{"name":"g.two","payload":2}')
	assert_equal "$(grep -c . <<<"$stderr")" 1
	[[ $stderr == "evfire: stdin:2: "* ]] || fail "stderr: $stderr"
	collect 2 "$T/ev" 'g.#'
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output "$(printf '%s\n' '["g.one",1]' '["g.two",2]')"
}

@test "evfire -q: a bad line is still status 1, without a message" {
	start_bus
	run_fails 1 evfire -q < <(printf '%s\n' '{"name":"q.a"}' 'junk' '{"name":"q.b"}')
	assert_equal "$stderr" ''
	collect 2 "$T/ev" 'q.#'
}

@test "evfire: every line rejected is status 65" {
	start_bus
	run_fails 65 evfire < <(printf '%s\n' 'junk' '[1]' '{"payload":1}')
	run grep -c '^evfire: stdin:[123]: ' <<<"$stderr"
	assert_output 3
	collect 0 "$T/ev"
}

@test "evfire: lines that are not events name their line and reason" {
	start_bus
	run_fails 1 evfire < <(printf '%s\n' \
	    '{"name":"v.ok1"}' \
	    '[1,2]' \
	    '"text"' \
	    '{"payload":1}' \
	    '{"name":42}' \
	    '{"name":"a.*"}' \
	    '{"name":"a.#.b"}' \
	    '{"name":"a..b"}' \
	    '{"name":"a b"}' \
	    '{"name":""}' \
	    '{"name":".a"}' \
	    '{"name":"v.ok2"}')
	for n in 2 3 4 5 6 7 8 9 10 11; do
		grep -q "^evfire: stdin:$n: " <<<"$stderr" ||
		    fail "line $n not reported: $stderr"
	done
	assert_equal "$(grep -c . <<<"$stderr")" 10
	collect 2 "$T/ev" 'v.#'
	run jq -r .name "$T/ev"
	assert_output "$(printf '%s\n' v.ok1 v.ok2)"
}

@test "evfire: a name with '*' as argument is status 65, nothing sent" {
	start_bus
	run_fails 65 evfire 'a.*'
	[[ $stderr == evfire:* ]] || fail "stderr: $stderr"
	[[ $stderr == *"*"* ]] || fail "reason does not mention '*': $stderr"
	run_fails 65 evfire 'a.#'
	collect 0 "$T/ev"
}

@test "evfire: names of 255 bytes pass, 256 do not" {
	start_bus
	n255=$(printf 'n.%0253d' 0)
	n256=$(printf 'n.%0254d' 0)
	run_ok evfire "$n255"
	run_fails 65 evfire "$n256"
	collect 1 "$T/ev" 'n.*'
	run jq -r .name "$T/ev"
	assert_output "$n255"
}

@test "evfire: a name under evbus. is refused" {
	start_bus
	# Refused before it is sent: bad data (65), as evfire(1) says.
	run_fails 65 evfire evbus.started
	assert_equal "$stderr" \
	    "evfire: name 'evbus.started': names under evbus. are the bus's own"
	run_fails 1 evfire < <(printf '%s\n' '{"name":"evbus.gap"}' '{"name":"ok.after"}')
	[[ $stderr == "evfire: stdin:1: "* ]] || fail "stderr: $stderr"
	collect 1 "$T/ev" 'ok.#'
	collect 1 "$T/started" 'evbus.started'
}

@test "evfire: empty lines are skipped, a last line without newline counts" {
	start_bus
	run_ok evfire < <(printf '\n{"name":"el.a"}\n\n\n{"name":"el.b"}\n\n{"name":"el.c"}')
	assert_equal "$stderr" ''
	collect 3 "$T/ev" 'el.#'
	run jq -r .name "$T/ev"
	assert_output "$(printf '%s\n' el.a el.b el.c)"
}

@test "evfire: empty stdin publishes nothing and exits 0" {
	start_bus
	run_ok evfire </dev/null
	collect 0 "$T/ev"
}

@test "evfire: long lines are whole events (no 1023-byte splits)" {
	start_bus
	p5k=$(head -c 5000 /dev/zero | tr '\0' a)
	p60k=$(head -c 60000 /dev/zero | tr '\0' b)
	run_ok evfire < <(printf '{"name":"long.a","payload":"%s"}\n{"name":"long.b","payload":"%s"}\n' "$p5k" "$p60k")
	collect 2 "$T/ev" 'long.#'
	run jq -r '.payload | length' "$T/ev"
	assert_output "$(printf '%s\n' 5000 60000)"
}

@test "evfire: a 100 KiB line is rejected under the default 64 KiB limit" {
	start_bus
	p100k=$(head -c 102400 /dev/zero | tr '\0' c)
	run_fails 1 evfire < <(printf '{"name":"big.a","payload":"%s"}\n{"name":"big.ok"}\n' "$p100k")
	[[ $stderr == "evfire: stdin:1: "* ]] || fail "stderr: $stderr"
	collect 1 "$T/ev" 'big.#'
	run jq -r .name "$T/ev"
	assert_output big.ok
}

@test "evfire: a 100 KiB line is accepted by evbusd -m 200k" {
	start_bus -m 200k
	p100k=$(head -c 102400 /dev/zero | tr '\0' c)
	run_ok evfire < <(printf '{"name":"big.a","payload":"%s"}\n' "$p100k")
	collect 1 "$T/ev" 'big.#'
	run jq -r '.payload | length' "$T/ev"
	assert_output 102400
}

@test "evfire: an oversized argument payload is status 65" {
	start_bus
	p100k=$(head -c 102400 /dev/zero | tr '\0' d)
	run_fails 65 evfire big.arg "$p100k"
	[[ $stderr == evfire:* ]] || fail "stderr: $stderr"
	collect 0 "$T/ev" 'big.#'
}

# --- -n NAME: payload lines -----------------------------------------------

@test "evfire -n NAME: each line is a payload, JSON lines stay JSON" {
	start_bus
	run_ok evfire -n app.log.line < <(printf '%s\n' 'hello world' '{"a":1}' 42 '"quoted"' '' 'last')
	collect 5 "$T/ev" 'app.#'
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output "$(printf '%s\n' '["app.log.line","hello world"]' \
	    '["app.log.line",{"a":1}]' '["app.log.line",42]' \
	    '["app.log.line","quoted"]' '["app.log.line","last"]')"
}

@test "evfire -n --string keeps JSON-looking lines as strings" {
	start_bus
	run_ok evfire --string --name s.line < <(printf '%s\n' 42 '{"a":1}')
	collect 2 "$T/ev" 's.#'
	run jq -c .payload "$T/ev"
	assert_output "$(printf '%s\n' '"42"' '"{\"a\":1}"')"
}

@test "evfire -n --json rejects a line that is not JSON (stdin:2, exit 1)" {
	start_bus
	run_fails 1 evfire --json -n j.line < <(printf '%s\n' 1 'not json' 3)
	[[ $stderr == "evfire: stdin:2: "* ]] || fail "stderr: $stderr"
	collect 2 "$T/ev" 'j.#'
	run jq -c .payload "$T/ev"
	assert_output "$(printf '%s\n' 1 3)"
}

@test "evfire -n with -e and -m applies them to every line" {
	start_bus
	run_ok evfire -e -m k=v -n em.line < <(printf '%s\n' a b)
	collect 2 "$T/ev" 'em.#'
	run jq -c '[.payload, .error, .metadata]' "$T/ev"
	assert_output "$(printf '%s\n' '["a",true,{"k":"v"}]' '["b",true,{"k":"v"}]')"
}

# --- duplicates, bus loss, autostart -------------------------------------

@test "evfire: the same id twice is stored once (same seq)" {
	start_bus
	ev='{"name":"dd.x","id":"2c0d5f7e-9b1a-4c3d-8e2f-3a4b5c6d7e8f"}'
	run_ok evfire -w <<<"$ev"
	s1=$output
	run_ok evfire -w <<<"$ev"
	assert_output "$s1"
	collect 1 "$T/ev" 'dd.#'
}

@test "evfire: the bus gone for good mid-stream is status 69, not a hang" {
	start_bus
	start_sub "$T/sub" --from 0 'gone.#'
	mkfifo "$T/in"
	# It tries to reconnect for half a second, not the default 10 s.
	EVBUS_RECONNECT_TIMEOUT=500ms EV_STDIN=$T/in start_bg "$T/fire" evfire
	fire=$BG_PID
	exec 8>"$T/in"
	echo '{"name":"gone.1"}' >&8
	wait_lines "$T/sub" 1
	t0=$(ev_now_ms)
	stop_bus
	echo '{"name":"gone.2"}' >&8
	exec 8>&-
	# Well before 10 s, but not before the window has passed.
	finish "$fire" 69 5
	took=$(( $(ev_now_ms) - t0 ))
	[ "$took" -ge 500 ] || fail "gave up after $took ms, within the window"
	assert_equal "$(grep -c . "$T/fire.err")" 1
	grep -q "^evfire: lost the bus at $EVBUS_SOCKET" "$T/fire.err" ||
	    fail "stderr: $(cat "$T/fire.err")"
}

@test "evfire: a bad EVBUS_RECONNECT_TIMEOUT is a usage error (64)" {
	start_bus
	EVBUS_RECONNECT_TIMEOUT=soon run_fails 64 evfire rt.x
	assert_equal "$stderr" "evfire: EVBUS_RECONNECT_TIMEOUT: duration 'soon': expected a number and a unit, such as 250ms, 10s, 5m, 1h or 7d"
	EVBUS_RECONNECT_TIMEOUT=0 run_fails 64 evfire rt.x
	assert_equal "$stderr" \
	    "evfire: EVBUS_RECONNECT_TIMEOUT: '0' is not between 1ms and 24d"
	EVBUS_RECONNECT_TIMEOUT=2s run_ok evfire -w rt.x
	collect 1 "$T/ev" 'rt.#'
}

@test "autostart: evfire hello starts a private daemon at the default place" {
	unset EVBUS_SOCKET EVBUS_AUTOSTART
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	track_pidfile "$T/xdg/evbus/sock.pid"
	run_ok evfire hello 3>&-
	[ -S "$T/xdg/evbus/sock" ]
	[ -s "$T/xdg/evbus/sock.pid" ]
	assert_equal "$(stat -c '%a' "$T/xdg/evbus")" 700
	pid=$(cat "$T/xdg/evbus/sock.pid")
	kill -0 "$pid"
	run_ok evsub --from 0 -c 1 hello 3>&-
	run jq -c '[.name, .payload]' <<<"$output"
	assert_output '["hello",null]'
	kill -TERM "$pid"
	wait_exit "$pid" 20
	[ ! -e "$T/xdg/evbus/sock" ]
}

@test "autostart: not at a socket named by EVBUS_SOCKET" {
	unset EVBUS_AUTOSTART
	run_fails 69 evfire hello 3>&-
	[ ! -e "$EVBUS_SOCKET" ]
}

@test "autostart: not with EVBUS_AUTOSTART=0" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	track_pidfile "$T/xdg/evbus/sock.pid"
	run_fails 69 evfire hello 3>&-
	[ ! -e "$T/xdg/evbus/sock" ]
}
