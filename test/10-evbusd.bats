#!/usr/bin/env bats
# evbusd: options, life cycle, the socket and its directory, limits, and
# the wire protocol spoken by hand through socat.

load helper

# --- options --------------------------------------------------------------

@test "evbusd --help prints the synopsis and exits 0" {
	run_ok evbusd --help
	assert_output --partial 'evbusd'
	[[ ${output,,} == *usage* ]] || fail "no usage line: $output"
	assert_output --partial '-r'
}

@test "evbusd -h is --help" {
	run_ok evbusd -h
	[[ ${output,,} == *usage* ]]
}

@test "evbusd --version prints a version and exits 0" {
	run_ok evbusd --version
	assert_output --regexp '[0-9]+\.[0-9]+\.[0-9]+'
}

@test "evbusd: an unknown option is a usage error (64)" {
	run_fails 64 evbusd --no-such-option
	# getopt names the program as invoked (argv[0]), maybe a path.
	[[ $stderr =~ ^(.*/)?evbusd: || ${stderr,,} == usage:* ]] ||
	    fail "stderr does not start with the program name: $stderr"
}

@test "evbusd: a bad number for -b is a usage error (64)" {
	run_fails 64 evbusd -s "$EVBUS_SOCKET" -b lots
	[ ! -e "$EVBUS_SOCKET" ]
}

@test "evbusd: a stray argument is a usage error (64)" {
	run_fails 64 evbusd -s "$EVBUS_SOCKET" extra
}

# --- life cycle -----------------------------------------------------------

@test "evbusd signals readiness on -r, serves, and SIGTERM stops it cleanly" {
	start_bus
	[ -S "$EVBUS_SOCKET" ]
	run_ok evfire -w life.ok
	assert_output --regexp '^[0-9]+$'
	stop_bus
	[ ! -e "$EVBUS_SOCKET" ]
}

@test "evbusd: SIGINT stops it cleanly too" {
	start_bus
	kill -INT "$BUS_PID"
	finish "$BUS_PID" 0 20
	EV_BUS_PIDS=()
	[ ! -e "$EVBUS_SOCKET" ]
}

@test "evbusd finds its socket through EVBUS_SOCKET" {
	export EVBUS_SOCKET=$T/env.sock
	start_bus --env-socket
	[ -S "$T/env.sock" ]
	run_ok evfire -w env.ok
	stop_bus
}

@test "evbusd: evbus.started is on the bus with a seq" {
	start_bus
	run_ok evsub --from 0 -c 1 'evbus.started'
	run jq -e '.name == "evbus.started" and (.seq | type) == "number"
	    and (.time | type) == "number"' <<<"$output"
	assert_success
}

@test "evbusd: a live subscriber gets evbus.stopping before the bus goes" {
	start_bus
	start_sub "$T/sub" --from 0 'ready.probe' 'evbus.stopping'
	run_ok evfire ready.probe
	wait_lines "$T/sub" 1
	stop_bus
	wait_grep "$T/sub" '"evbus.stopping"'
	run jq -se '.[1].name == "evbus.stopping"' "$T/sub"
	assert_success
}

@test "evbusd: listener events announce subscribers, not publishers" {
	start_bus
	start_sub "$T/sub" --from 0 'evbus.listener.#'
	wait_lines "$T/sub" 1
	run_ok evfire -w who.am.i
	start_bg "$T/s2" evsub -c 1 'who.#' '!who.not'
	wait_lines "$T/sub" 2
	run_ok evfire -w who.goes
	wait_lines "$T/s2" 1
	wait_lines "$T/sub" 3
	uid=$(id -u)
	# Only the two subscribers: the evfire runs are not announced.
	run jq -c --argjson uid "$uid" '[.name, .payload.client,
	    .payload.patterns, .payload.reason,
	    .payload.uid == $uid and (.payload.pid | type) == "number"]' \
	    "$T/sub"
	assert_output '["evbus.listener.connected","evsub",["evbus.listener.#"],null,true]
["evbus.listener.connected","evsub",["who.#","!who.not"],null,true]
["evbus.listener.disconnected","evsub",["who.#","!who.not"],"closed",true]'
	# '#' does not show the bus's own events.
	collect 2 "$T/user"
	run jq -r .name "$T/user"
	assert_output $'who.am.i\nwho.goes'
}

@test "a small ring is not crowded out by the bus's own events" {
	start_bus -b 5
	for i in 1 2 3 4; do run_ok evfire -w "small.$i"; done
	run_ok evsub --last 2 -c 2 '#'
	run jq -r .name <<<"$output"
	assert_output $'small.3\nsmall.4'
}

@test "evbusd -d detaches and writes <socket>.pid" {
	run_ok evbusd -d -s "$EVBUS_SOCKET"
	track_pidfile "$EVBUS_SOCKET.pid"
	wait_for "[ -S '$EVBUS_SOCKET' ] && [ -s '$EVBUS_SOCKET.pid' ]" 20
	pid=$(cat "$EVBUS_SOCKET.pid")
	kill -0 "$pid"
	# One line, with its newline, as a pidfile should be.
	assert_equal "$(od -An -c "$EVBUS_SOCKET.pid" | tr -d ' ')" "${pid}\\n"
	[ -e "$EVBUS_SOCKET.lock" ]
	run_ok evfire -w detached.ok
	kill -TERM "$pid"
	wait_exit "$pid" 20
	# A clean stop leaves nothing behind: socket, pidfile, lock file.
	[ ! -e "$EVBUS_SOCKET" ] || fail "socket left behind"
	[ ! -e "$EVBUS_SOCKET.pid" ] || fail "pidfile left behind"
	[ ! -e "$EVBUS_SOCKET.lock" ] || fail "lock file left behind"
}

@test "evbusd -v logs connections and refusals; -vv every command" {
	start_bus -v
	run_ok evfire -w verbose.ok
	run_fails 65 evfire 'evbus.nope'
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub '{"name":"a b"}'
	wire_send 'QUIT\n'
	wire_close
	wait_grep "$BUS_ERR" 'closed: quit'
	run cat "$BUS_ERR"
	assert_line --regexp '^evbusd: client [0-9]+: uid [0-9]+ pid [0-9]+ connected$'
	assert_line --regexp '^evbusd: client [0-9]+ \(evfire\): closed: closed$'
	assert_line --regexp '^evbusd: client [0-9]+ \(bats\): refused: ERR data name: contains whitespace or a control character \(U\+0020 at byte 2\)$'
	refute_line --partial 'PUB of a body'
	stop_bus
	start_bus -vv
	run_ok evfire -w very.verbose
	wait_grep "$BUS_ERR" 'PUB of a body'
}

@test "Beer Garden's event as its documentation shows it is accepted" {
	start_bus
	ev='{"name":"REQUEST_CREATED","timestamp":1521126132897,"error":null,"metadata":{"source":"bg"},"payload":{"system":"echo","system_version":"1.0.0","instance_name":"default","command":"say"}}'
	run_ok evfire -w <<<"$ev"
	collect 1 "$T/ev" 'REQUEST_CREATED'
	run jq -c '[.time, .timestamp, .error, .payload.system]' "$T/ev"
	assert_output '[1521126132897,1521126132897,null,"echo"]'
}

@test "an event without a payload is delivered with a null one" {
	start_bus
	run_ok evfire -w <<<'{"name":"a.c"}'
	collect 1 "$T/ev" 'a.c'
	run jq -c 'has("payload"), .payload' "$T/ev"
	assert_output $'true\nnull'
}

@test "evbusd -d -p writes the pidfile asked for" {
	run_ok evbusd -d -s "$EVBUS_SOCKET" -p "$T/my.pid"
	track_pidfile "$T/my.pid"
	wait_for "[ -s '$T/my.pid' ]" 20
	pid=$(cat "$T/my.pid")
	kill -0 "$pid"
	kill -TERM "$pid"
	wait_exit "$pid" 20
}

# The bound holds what the daemon links (libc, jansson, Oniguruma for the
# filters it evaluates): 2.1 MiB measured on Debian 12.
@test "evbusd idle RSS is under 2.5 MiB" {
	ev_instrumented && skip "instrumented build: RSS is not the program's"
	start_bus
	rss=$(rss_kib "$BUS_PID")
	echo "idle VmRSS: $rss KiB"
	[ "$rss" -lt 2560 ] || fail "idle VmRSS $rss KiB >= 2560 KiB"
}

# --- the socket -----------------------------------------------------------

@test "a second evbusd on a live socket exits 69 and the first keeps serving" {
	start_bus
	start_sub "$T/sub" --from 0 'two.#'
	run_fails 69 evbusd -s "$EVBUS_SOCKET"
	assert_equal "$(grep -c . <<<"$stderr")" 1
	[[ $stderr == evbusd:* ]] || fail "stderr: $stderr"
	[[ $stderr == *"already running"* ]] || fail "stderr: $stderr"
	[ -S "$EVBUS_SOCKET" ]
	run_ok evfire two.still
	wait_lines "$T/sub" 1
	run jq -r .name "$T/sub"
	assert_output two.still
}

@test "a stale socket left by a killed evbusd is replaced" {
	start_bus
	old=$BUS_PID
	kill -KILL "$old"
	wait_exit "$old"
	EV_BUS_PIDS=()
	[ -S "$EVBUS_SOCKET" ]
	start_bus
	run_ok evfire -w after.stale
	stop_bus
}

@test "a stale socket file nobody listens on is replaced" {
	socat UNIX-LISTEN:"$EVBUS_SOCKET" /dev/null </dev/null 3>&- &
	pid=$!
	wait_for "[ -S '$EVBUS_SOCKET' ]"
	kill -KILL "$pid"
	wait "$pid" || true
	[ -S "$EVBUS_SOCKET" ]
	start_bus
	run_ok evfire -w after.stale
}

@test "socket directory: XDG_RUNTIME_DIR/evbus is created 0700 and ours" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	start_bus
	[ -S "$T/xdg/evbus/sock" ]
	assert_equal "$(stat -c '%a %u' "$T/xdg/evbus")" "700 $(id -u)"
	run_ok evfire -w xdg.ok
	stop_bus
}

@test "socket directory: a group/other-accessible evbus dir is refused (77)" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	mkdir -m 0755 "$XDG_RUNTIME_DIR/evbus"
	run_fails 77 evbusd
	[[ $stderr == evbusd:* ]] || fail "stderr: $stderr"
	[[ $stderr == *"$T/xdg/evbus"* ]] || fail "no directory named: $stderr"
	[ ! -e "$T/xdg/evbus/sock" ]
	# Not silently repaired either.
	assert_equal "$(stat -c '%a' "$T/xdg/evbus")" 755
}

@test "socket directory: an evbus dir owned by someone else is refused (77)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to chown"
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR" "$XDG_RUNTIME_DIR/evbus"
	chown 65534 "$XDG_RUNTIME_DIR/evbus"
	run_fails 77 evbusd
	[[ $stderr == *"$T/xdg/evbus"* ]] || fail "no directory named: $stderr"
	[ ! -e "$T/xdg/evbus/sock" ]
}

@test "socket directory: a symlinked evbus dir is refused (77)" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR" "$T/elsewhere"
	ln -s "$T/elsewhere" "$XDG_RUNTIME_DIR/evbus"
	run_fails 77 evbusd
	[ ! -e "$T/elsewhere/sock" ]
}

# --- the wire protocol by hand ---------------------------------------------

@test "wire: HELLO gets HELLO 2 EPOCH LASTSEQ MAXEVENT features max_depth, PING gets PONG" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wait_lines "$T/wire.out" 1
	run wire_reply 1
	assert_output --regexp '^HELLO 2 [0-9a-f]{16} [0-9]+ 65536 features=pub,sub,ping,ack-dup,sub-end,sub-since,max-depth,target,stats,sync,announce,where,session max_depth=256$'
	wire_send 'PING\r\n'
	wait_lines "$T/wire.out" 2
	run wire_reply 2
	assert_output PONG
	wire_send 'QUIT\n'
	wire_close
}

@test "wire: each daemon run has a new epoch" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\nQUIT\n'
	wire_close
	e1=$(wire_reply 1 | cut -d' ' -f3)
	stop_bus
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\nQUIT\n'
	wire_close
	e2=$(wire_reply 1 | cut -d' ' -f3)
	[[ $e1 =~ ^[0-9a-f]{16}$ && $e2 =~ ^[0-9a-f]{16}$ ]]
	[ "$e1" != "$e2" ] || fail "same epoch $e1 after a restart"
}

@test "wire: -m raises MAXEVENT in the HELLO reply" {
	start_bus -m 200k
	wire_open
	wire_send 'HELLO 2 bats\nQUIT\n'
	wire_close
	run wire_reply 1
	assert_output --regexp '^HELLO 2 [0-9a-f]{16} [0-9]+ 204800 features=[a-z,-]+ max_depth=256$'
}

@test "wire: PUB gets ACK SEQ, in order, and the event is stamped by the bus" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub '{"name":"wire.a","payload":1}'
	wire_pub '{"name":"wire.b","payload":2,"seq":999999,"origin":{"uid":12345,"gid":12345,"pid":1}}'
	wire_send 'PING\n'
	wait_lines "$T/wire.out" 4
	run wire_reply 2
	assert_output --regexp '^ACK [0-9]+$'
	s1=${output#ACK }
	run wire_reply 3
	assert_output --regexp '^ACK [0-9]+$'
	s2=${output#ACK }
	[ "$s2" -gt "$s1" ]
	run wire_reply 4
	assert_output PONG
	wire_send 'QUIT\n'
	wire_close
	collect 2 "$T/ev" 'wire.#'
	grep -Eq '^\{"seq":[0-9]+,"id":"[^"]+","origin":\{' "$T/ev" ||
	    fail "not {\"seq\":N,\"id\":..,\"origin\": first"
	run jq -se --argjson s1 "$s1" --argjson s2 "$s2" \
	    --argjson uid "$(id -u)" --argjson gid "$(id -g)" '
	    .[0].seq == $s1 and .[1].seq == $s2
	    and .[1].origin.uid == $uid and .[1].origin.gid == $gid
	    and .[1].origin.pid != 1
	    and all(.[]; (.id | length) == 36 and (.time | type) == "number")' \
	    "$T/ev"
	assert_success
}

@test "wire: PUB before HELLO is ERR state" {
	start_bus
	wire_open
	wire_pub '{"name":"too.early"}'
	wait_lines "$T/wire.out" 1
	run wire_reply 1
	assert_output --regexp '^ERR state( |$)'
	wire_close
}

@test "wire: a bad event is ERR data and the connection goes on" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub '{"name":"ok.one"}'
	wire_pub '{"name":'
	wire_pub '{"payload":1}'
	wire_pub '["not","an","object"]'
	wire_pub '{"name":"bad*name"}'
	wire_pub '{"name":"ok.two"}'
	wire_send 'QUIT\n'
	wire_close
	run cat "$T/wire.out"
	assert_line --index 1 --regexp '^ACK [0-9]+'
	for i in 2 3 4 5; do
		assert_line --index "$i" --regexp '^ERR data '
	done
	assert_line --index 6 --regexp '^ACK [0-9]+'
}

@test "wire: a name under evbus. is ERR denied" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub '{"name":"evbus.started"}'
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output --regexp '^ERR denied '
	# Only the daemon's own evbus.started is on the bus.
	collect 1 "$T/ev" 'evbus.started'
}

@test "wire: an event over the size limit is ERR limit; others go on" {
	start_bus
	big=$(head -c 70000 /dev/zero | tr '\0' x)
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub "{\"name\":\"big.one\",\"payload\":\"$big\"}"
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output --regexp '^ERR limit '
	run_ok evfire -w small.one
}

@test "wire: a malformed frame is ERR proto and the connection is closed" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\nPUB abc\n'
	# The daemon closes: socat ends by itself although we keep writing.
	wait_exit "$WIRE_PID" 20
	exec 7>&-
	run wire_reply 2
	assert_output --regexp '^ERR proto '
	run_ok evfire -w still.serving
}

@test "wire: an absurd byte count is refused before reading it" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\nPUB 99999999999\n'
	wire_close 2
	run wire_reply 2
	assert_output "ERR limit event of 99999999999 bytes exceeds the bus's limit of 65536 bytes"
	run_ok evfire -w still.serving
}

@test "wire: a command line over 1024 bytes is refused" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_send '%s\n' "PING $(head -c 2000 /dev/zero | tr '\0' y)"
	wait_exit "$WIRE_PID" 20
	exec 7>&-
	run wire_reply 2
	assert_output 'ERR proto line too long'
}

@test "wire: a duplicate id is not stored again and ACKs the first seq" {
	start_bus
	id=0b0e5c4e-6b7a-4bd8-9d5b-0a7f5e0b9a11
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub "{\"name\":\"dup.x\",\"id\":\"$id\",\"payload\":1}"
	wire_pub "{\"name\":\"dup.x\",\"id\":\"$id\",\"payload\":1}"
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output --regexp '^ACK [0-9]+$'
	first=$output
	run wire_reply 3
	assert_output "$first dup"
	collect 1 "$T/ev" 'dup.#'
	run jq -r .id "$T/ev"
	assert_output "$id"
}

@test "wire: SUB replays with OK and EVENT frames" {
	start_bus
	run_ok evfire sub.a 1
	run_ok evfire sub.b 2
	wire_open
	wire_send 'HELLO 2 bats\n'
	body='{"patterns":["sub.#"],"from":0}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wait_lines "$T/wire.out" 6
	wire_send 'QUIT\n'
	wire_close
	tr -d '\r' <"$T/wire.out" >"$T/w"
	last=$(sed -n 1p "$T/w" | cut -d' ' -f4)
	run sed -n 2p "$T/w"
	# Nothing was published between HELLO and SUB.
	assert_output "OK $last"
	run sed -n 3p "$T/w"
	assert_output --regexp '^EVENT [0-9]+$'
	len=${output#EVENT }
	body1=$(sed -n 4p "$T/w")
	assert_equal "${#body1}" "$len"
	jq -e '.name == "sub.a" and .payload == 1' <<<"$body1"
	body2=$(sed -n 6p "$T/w")
	jq -e '.name == "sub.b" and .payload == 2' <<<"$body2"
}

@test "wire: SUB since replays the events whose time is at or after it" {
	start_bus
	printf '%s\n' '{"name":"t.a","time":1000}' '{"name":"t.b","time":3000}' \
	    '{"name":"t.c","time":2000}' '{"name":"u.d","time":5000}' | evfire
	wire_open
	wire_send 'HELLO 2 bats\n'
	body='{"patterns":["t.#"],"since":2000}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wire_send 'QUIT\n'
	wire_close
	tr -d '\r' <"$T/wire.out" | sed -n '4p;6p' | jq -r .name >"$T/names"
	assert_equal "$(cat "$T/names")" $'t.b\nt.c'
	wire_open
	wire_send 'HELLO 2 bats\n'
	body='{"patterns":["t.#"],"since":2000,"last":1}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wire_close 2
	run wire_reply 2
	assert_output "ERR data from, last and since exclude each other"
}

@test "wire: a client of protocol 1 is told the versions and disconnected" {
	start_bus
	wire_open
	wire_send 'HELLO 1 old\nPING\n'
	wire_close
	run cat "$T/wire.out"
	assert_output "ERR proto unsupported protocol version 1 (this bus speaks 2): use evbus programs of the same release as evbusd"
}

@test "wire: an unknown HELLO key is refused, a token is accepted" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats colour=blue\nPING\n'
	wire_close
	run cat "$T/wire.out"
	assert_output "ERR proto HELLO: unknown key 'colour' (this bus knows token, session)"
	wire_open
	wire_send 'HELLO 2 bats token=s3cret\nPING\nQUIT\n'
	wire_close
	run sed -n 2p "$T/wire.out"
	assert_output PONG
}

@test "wire: nesting beyond --max-depth is ERR limit; the deepest accepted one is jq-readable" {
	start_bus
	# jq 1.6 counts the event object and its key as two levels: 254
	# arrays in the payload make 256.
	ok=$(printf '{"name":"deep.ok","payload":%s1%s}' \
	    "$(printf '[%.0s' $(seq 254))" "$(printf ']%.0s' $(seq 254))")
	bad=$(printf '{"name":"deep.bad","payload":%s1%s}' \
	    "$(printf '[%.0s' $(seq 255))" "$(printf ']%.0s' $(seq 255))")
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub "$ok"
	wire_pub "$bad"
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output --regexp '^ACK [0-9]+$'
	run wire_reply 3
	assert_output "ERR limit nested deeper than 256 levels (at byte 284)"
	run_ok evsub --from 0 -c 1 'deep.#'
	printf '%s\n' "$output" | jq -e '.name == "deep.ok"' >/dev/null ||
	    fail "jq cannot read the deepest event the bus accepted"
}

@test "the bus accepts exactly the nestings that jq 1.6 can parse" {
	local i k n shape open close line
	start_bus
	: >"$T/in"
	for i in $(seq 60); do
		# A random path of arrays and objects, 160 to 189 steps: its
		# depth by jq's count is near 256 either side.
		n=$((160 + RANDOM % 30))
		open= close=
		for k in $(seq "$n"); do
			if [ $((RANDOM % 2)) -eq 0 ]; then
				open+='['; close="]$close"
			else
				open+='{"k":'; close="}$close"
			fi
		done
		printf '{"name":"shape.%d","payload":%s1%s}\n' "$i" "$open" \
		    "$close" >>"$T/in"
	done
	# And the two sides of the bound, for certain: 256 and 257 deep.
	printf '{"name":"shape.a","payload":%s1%s}\n' \
	    "$(printf '[%.0s' $(seq 254))" "$(printf ']%.0s' $(seq 254))" >>"$T/in"
	printf '{"name":"shape.b","payload":%s1%s}\n' \
	    "$(printf '[%.0s' $(seq 255))" "$(printf ']%.0s' $(seq 255))" >>"$T/in"
	run --separate-stderr evfire <"$T/in"
	[ "$status" -le 1 ] || fail "evfire: status $status: $stderr"
	sed -n 's/^evfire: stdin:\([0-9]*\): .*nested deeper than 256.*/\1/p' \
	    <<<"$stderr" | sort -n >"$T/refused"
	i=0
	while IFS= read -r line; do
		i=$((i + 1))
		jq -e . >/dev/null 2>&1 <<<"$line" || echo "$i"
	done <"$T/in" >"$T/jqfails"
	grep -qx 62 "$T/jqfails" || fail "jq 1.6 parses 257 levels: the bound is wrong"
	diff "$T/jqfails" "$T/refused" ||
	    fail "the bus and jq disagree on the lines above (< jq fails, > bus refused)"
}

@test "evbusd --max-depth lowers the bound; evfire names the line" {
	start_bus --max-depth 3
	printf '%s\n' '{"name":"d.a","payload":[1]}' '{"name":"d.b","payload":[[[1]]]}' \
	    '{"name":"d.c","payload":{"x":[]}}' >"$T/in"
	run_fails 1 evfire <"$T/in"
	assert_equal "$stderr" "evfire: stdin:2: the bus refused it (limit): nested deeper than 3 levels (at byte 26)
evfire: stdin:3: the bus refused it (limit): nested deeper than 3 levels (at byte 30)"
	collect 1 "$T/ev" 'd.#'
	run jq -c .payload "$T/ev"
	assert_output '[1]'
	run_fails 64 evbusd --max-depth 1 -s "$T/other"
	assert_equal "$stderr" "evbusd: --max-depth '1': expected a number from 2 to 2000, optionally with k, M or G"
}

@test "wire: an ERR line never echoes control characters or invalid UTF-8" {
	local LC_ALL=C	# byte counts for wire_pub
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub $'{"name":"x\\u0001\xc3\xa9y"}'
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output "ERR data name: contains whitespace or a control character (U+0001 at byte 2)"
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_send $'BAD\xff\x01VERB\n'
	wire_close
	run wire_reply 2
	assert_output "ERR proto unknown command 'BAD??VERB'"
}

@test "names with Unicode whitespace are refused by evfire and by the bus" {
	start_bus
	run_fails 65 evfire $'a\u00a0b'
	assert_equal "$stderr" "evfire: name: contains whitespace or a control character (U+00A0 at byte 2)"
	run_fails 65 evfire $'a.\u2028'
	assert_equal "$stderr" "evfire: name: contains whitespace or a control character (U+2028 at byte 3)"
	run_fails 65 evfire $'x\u0085'
	assert_equal "$stderr" "evfire: name: contains whitespace or a control character (U+0085 at byte 2)"
	printf '%s\n' '{"name":"ok.1"}' '{"name":"a\u2029b"}' '{"name":"ok.2"}' >"$T/in"
	run_fails 1 evfire <"$T/in"
	assert_equal "$stderr" "evfire: stdin:2: name: contains whitespace or a control character (U+2029 at byte 2)"
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub '{"name":"a\u00a0b"}'
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output "ERR data name: contains whitespace or a control character (U+00A0 at byte 2)"
	collect 2 "$T/ev" 'ok.#' 'a.#'
	run jq -r .name "$T/ev"
	assert_output $'ok.1\nok.2'
}

@test "wire: a silent client is dropped after the handshake timeout" {
	start_bus --handshake-timeout 300ms
	t0=$(ev_now_ms)
	# socat ends (0) when the daemon hangs up; timeout(1) ends it (124)
	# when the daemon keeps a silent client.
	run_ok timeout 20 socat -u "UNIX-CONNECT:$EVBUS_SOCKET" STDOUT
	assert_output 'ERR limit handshake not completed within 300 ms'
	took=$(( $(ev_now_ms) - t0 ))
	[ "$took" -ge 300 ] || fail "dropped after $took ms, before the timeout"
	run_ok evfire -w after.silent
}

@test "evbusd: garbage from one client does not disturb others" {
	start_bus
	start_sub "$T/sub" --from 0 'calm.#'
	run_ok evfire calm.1
	wait_lines "$T/sub" 1
	# Bytes of no protocol, the same every run (perl's rand is seeded
	# and portable), and few enough to reach the daemon in one read: it
	# then hangs up on an empty socket, and socat gets the reply and an
	# end, not a reset.
	perl -e 'srand(5); print map { chr(int rand 256) } 1..4000' \
	    >"$T/garbage"
	wire_open
	cat "$T/garbage" >&7
	# The daemon answers and hangs up by itself.
	wait_exit "$WIRE_PID" 20
	exec 7>&-
	exit_status "$WIRE_PID"
	assert_equal "$ST" 0
	run cat "$T/wire.out"
	assert_output 'ERR state say HELLO first'
	run_ok evfire calm.2
	wait_lines "$T/sub" 2
	kill -0 "$BUS_PID"
}

@test "evbusd --max-clients refuses the client over the limit" {
	start_bus --max-clients 2
	run_ok evfire mc.1
	start_sub "$T/s1" --from 0 'mc.#'
	start_sub "$T/s2" --from 0 'mc.#'
	wait_lines "$T/s1" 1
	wait_lines "$T/s2" 1
	run_fails 69 evfire mc.2
	assert_equal "$stderr" \
	    'evfire: the bus refused us: too many clients (the limit is 2)'
	kill -TERM "$SUB_PID"
	wait_exit "$SUB_PID"
	# A slot is free again (the daemon notices the close promptly).
	wait_for "evfire -q mc.3 2>/dev/null" 20
}

# --- what a client says when no bus answers --------------------------------

@test "no bus: the message names where the path came from" {
	mkdir -m 0700 "$T/empty"
	run_fails 69 evsub -s "$T/empty/sock"
	assert_equal "$stderr" "evsub: no bus at $T/empty/sock (start evbusd -s there, or check the -s path)"
	run_fails 69 evsub -s "$T/nodir/sock"
	assert_equal "$stderr" "evsub: no bus at $T/nodir/sock: no directory $T/nodir (start evbusd -s there, or check the -s path)"
	EVBUS_SOCKET=$T/empty/sock run_fails 69 evfire x.y
	assert_equal "$stderr" "evfire: no bus at $T/empty/sock (start evbusd, or check EVBUS_SOCKET)"
}

@test "EVBUS_AUTOSTART takes 0/no/false/off and 1/yes/true/on; anything else is a usage error" {
	local v
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR" "$XDG_RUNTIME_DIR/evbus"
	for v in 0 no false off NO Off; do
		EVBUS_AUTOSTART=$v run_fails 69 evfire x.y
		assert_equal "$stderr" "evfire: no bus at $XDG_RUNTIME_DIR/evbus/sock (start evbusd, or let clients start it: EVBUS_AUTOSTART is off)"
		[ ! -e "$XDG_RUNTIME_DIR/evbus/sock" ] || fail "EVBUS_AUTOSTART=$v started a bus"
	done
	EVBUS_AUTOSTART=maybe run_fails 64 evsub
	assert_equal "$stderr" "evsub: EVBUS_AUTOSTART=maybe: expected 1, yes, true, on or 0, no, false, off"
	track_pidfile "$XDG_RUNTIME_DIR/evbus/sock.pid"
	EVBUS_AUTOSTART=yes run_ok evfire -w started.it
	[ -S "$XDG_RUNTIME_DIR/evbus/sock" ]
}

# --- targeted events (Consul's node/service/tag filters) --------------------

# sub_names BODY: the names of the events a SUB with BODY replays (it should
# ask "from":0), one per line.
sub_names() {
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_send 'SUB %d\n%s\n' "${#1}" "$1"
	wire_send 'QUIT\n'
	wire_close
	tr -d '\r' <"$T/wire.out" | grep '^{' | jq -r .name | paste -sd ' '
}

@test "wire: a targeted event reaches the subscribers whose identity matches every filter it sets" {
	start_bus
	printf '%s\n' '{"name":"t.all"}' \
	    '{"name":"t.web","filter":{"node":"^web"}}' \
	    '{"name":"t.svc","filter":{"service":"pg|api"}}' \
	    '{"name":"t.green","filter":{"tag":"^gr"}}' \
	    '{"name":"t.both","filter":{"node":"1$","tag":"v2"}}' \
	    '{"name":"t.bad","filter":{"node":"x("}}' \
	    '{"name":"t.twice","filter":{"tag":"a","tag":"b"}}' >"$T/in"
	run_fails 1 evfire <"$T/in"
	assert_equal "$stderr" "evfire: stdin:6: filter.node: bad regular expression 'x(': Unmatched ( or \\(
evfire: stdin:7: filter.tag: given twice"
	run sub_names '{"patterns":["t.#"],"from":0,"node":"web-1","service":"api","tags":["blue","v2"]}'
	assert_output "t.all t.web t.svc t.both"
	run sub_names '{"patterns":["t.#"],"from":0,"node":"db-1","service":"pg","tags":["green"]}'
	assert_output "t.all t.svc t.green"
	run sub_names '{"patterns":["t.#"],"from":0}'
	assert_output "t.all"
	# The bus checks the expressions too, not only evfire.
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_pub '{"name":"t.bad","filter":{"service":"[z"}}'
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output "ERR data filter.service: bad regular expression '[z': Unmatched [, [^, [:, [., or [="
	run sub_names '{"patterns":["t.#"],"from":0,"tags":"blue"}'
	assert_output ""
	run wire_reply 2
	assert_output "ERR data tags: not an array of at most 64 strings"
}

@test "the ring's memory follows what it holds, not its byte bound" {
	# 100 events held, 16 MiB allowed: 10,000 events of about 450
	# bytes (4.5 MB) go through, and the arena goes back to its start
	# rather than on into fresh memory (its slack: 1 MiB here).
	start_bus -b 100
	pad=$(printf '%0400d' 0)
	seq 1 10000 | sed "s/.*/{\"name\":\"mem.x\",\"payload\":{\"n\":&,\"pad\":\"$pad\"}}/" >"$T/in"
	run_ok evfire -q <"$T/in"
	run_ok evlist --stats
	run jq -c '[.ring.events, .ring.memory > 40000,
	    .ring.memory < 1500000]' <<<"$output"
	assert_output '[100,true,true]'
}

@test "wire: STATS answers INFO with the bus's figures and its subscribers" {
	start_bus -b 100
	start_sub "$T/sub" 'st.#' '!st.no'
	wait_for "evsub --from 0 -c 1 evbus.listener.connected >/dev/null"
	run_ok evfire -w st.a
	wait_lines "$T/sub" 1
	run_ok evfire -w <<<'{"name":"st.b","id":"same"}'
	run_ok evfire -w <<<'{"name":"st.b","id":"same"}'
	wait_lines "$T/sub" 2
	wire_open
	wire_send 'HELLO 2 bats\nSTATS\nQUIT\n'
	wire_close
	run wire_reply 2
	assert_output --regexp '^INFO [0-9]+$'
	len=${output#INFO }
	body=$(wire_reply 3)
	assert_equal "${#body}" "$len"
	run jq -c '[.ring.max_events, .clients >= 1, .events_in, .events_out >= 1,
	    .duplicates, [.subscribers[] | select(.patterns == ["st.#","!st.no"])
	    | [.client, .delivered, .lag]]]' <<<"$body"
	# In: started, the subscriber's listener.connected, the wait's
	# connected and disconnected, st.a, st.b; its copy a duplicate.
	assert_output '[100,true,6,true,1,[["evsub",2,0]]]'
}
