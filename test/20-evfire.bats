#!/usr/bin/env bats
# evfire: arguments, stdin, validation, exit statuses, -w, autostart.

load helper

# --- options --------------------------------------------------------------

@test "evfire --help prints the synopsis and exits 0" {
	run_ok evfire --help
	assert_output --partial evfire
	[[ ${output,,} == *usage* ]] || fail "no usage line: $output"
}

@test "evfire --help is the SYNOPSIS of evfire(1), word for word" {
	command -v mandoc >/dev/null || skip "no mandoc"
	run_ok evfire --help
	help=$(sed 's/^usage://' <<<"$output" | tr -s ' \t\n' ' ')
	man=$(mandoc -Tascii "$BATS_TEST_DIRNAME/../man/man1/evfire.1" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \t\n' ' ')
	assert_equal "$help" "$man"
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

# The first line of stderr, the program's path as getopt names it (argv[0])
# made "evfire".
first_err() {
	sed -E '1!d; s|^/[^ ]*/evfire:|evfire:|' <<<"$stderr"
}

@test "evfire: --json with --string is a usage error that says so, then the usage (64)" {
	run_ok evfire --help
	usage=$output
	run_fails 64 evfire --json --string x 1
	assert_equal "$stderr" "evfire: --json and --string exclude each other: a payload is JSON, or a string
$usage"
	run_fails 64 evfire --string -n x --json </dev/null
	assert_equal "${stderr_lines[0]}" "evfire: --json and --string exclude each other: a payload is JSON, or a string"
	# The same one twice is no conflict.
	start_bus
	run_ok evfire --string --string js.x 1
	collect 1 "$T/ev" 'js.#'
	run jq -c .payload "$T/ev"
	assert_output '"1"'
}

@test "evfire: too many arguments say so, then the usage (64)" {
	run_ok evfire --help
	usage=$output
	run_fails 64 evfire deploy x y
	assert_equal "$stderr" "evfire: too many arguments: a name and at most one payload (quote a payload with spaces)
$usage"
}

@test "evfire: every usage error says what is wrong (64)" {
	local args want
	while IFS='|' read -r args want; do
		eval "set -- $args"
		run_fails 64 evfire "$@" </dev/null
		run first_err
		assert_output "$want"
	done <<-'EOF'
	--no-such-option x|evfire: unrecognized option '--no-such-option'
	x -s|evfire: option requires an argument -- 's'
	--id|evfire: option '--id' requires an argument
	-m novalue x|evfire: -m novalue: expected key=value
	-n a.b c.d|evfire: -n takes payloads from standard input; give no name argument with it
	-n 'a..b'|evfire: -n: name 'a..b': empty token
	--json|evfire: --json applies to payloads: use it with a name
	--string|evfire: --string applies to payloads: use it with a name
	--id x|evfire: --id is the id of one event: give the event's name as an argument
	--new-ids n.x|evfire: --new-ids replaces the ids of events read as JSON lines; events made from a name get new ids anyway
	--json --string x|evfire: --json and --string exclude each other: a payload is JSON, or a string
	deploy x y|evfire: too many arguments: a name and at most one payload (quote a payload with spaces)
	--node a --node b x|evfire: --node given twice: the filter holds one expression for it (write 'a|b' to match a or b)
	--node 'web(' x|evfire: --node: bad regular expression 'web(': Unmatched ( or \(
	--service '[z' x|evfire: --service: bad regular expression '[z': Unmatched [, [^, [:, [., or [=
	--token-file|evfire: option '--token-file' requires an argument
	EOF
	# A usage error is found before anything is sent, with no bus at all.
	[ ! -e "$EVBUS_SOCKET" ]
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

@test "evfire -w: one line per event read, in order: its seq, or - when evfire or the bus rejected it; blank lines have none" {
	start_bus
	run_ok evfire -w w.first
	s=$output
	deep=$(printf '[%.0s' {1..300}; printf ']%.0s' {1..300})
	p100k=$(head -c 102400 /dev/zero | tr '\0' c)
	printf '%s\n' 'junk' '{"name":"w.a"}' 'oops' '' \
	    "{\"name\":\"w.deep\",\"payload\":$deep}" '  ' \
	    '{"name":"evbus.x"}' '{"name":"w.b"}' \
	    "{\"name\":\"w.big\",\"payload\":\"$p100k\"}" >"$T/in"
	run_fails 1 evfire -w <"$T/in"
	assert_output "$(printf '%s\n' - $((s + 1)) - - - $((s + 2)) -)"
	# The bus's answer may come after evfire's own findings: by line.
	run sort <<<"$stderr"
	assert_output "evfire: stdin:1: invalid JSON at byte 1: object expected
evfire: stdin:3: invalid JSON at byte 1: object expected
evfire: stdin:5: the bus refused it (limit): nested deeper than 256 levels (at byte 282)
evfire: stdin:7: name 'evbus.x': names under evbus. are the bus's own
evfire: stdin:9: line of 102429 bytes is longer than the limit of 65536"
	# -q silences the reasons, not the lines.
	run_fails 1 evfire -qw <"$T/in"
	assert_output "$(printf '%s\n' - $((s + 3)) - - - $((s + 4)) -)"
	assert_equal "$stderr" ''
	collect 5 "$T/ev" 'w.#'
	run jq -r '"\(.seq) \(.name)"' "$T/ev"
	assert_output "$s w.first
$((s + 1)) w.a
$((s + 2)) w.b
$((s + 3)) w.a
$((s + 4)) w.b"
}

@test "evfire -w: every line rejected is one - each (65); duplicates print the seq they had" {
	start_bus
	run_fails 65 evfire -qw < <(printf '%s\n' junk '{"name":"a.*"}' '[1]')
	assert_output "$(printf '%s\n' - - -)"
	printf '%s\n' '{"name":"wd.x","id":"wd-1"}' >"$T/in"
	run_ok evfire -w <"$T/in"
	s=$output
	run_fails 1 evfire -qw < <(cat "$T/in"; echo junk; cat "$T/in")
	assert_output "$(printf '%s\n' "$s" - "$s")"
}

# --- NDJSON on stdin ------------------------------------------------------

@test "evfire reads NDJSON events on stdin (the issue's example, and evfire(1)'s)" {
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

@test "evfire -n: CRLF lines lose their CR, as JSON lines do" {
	start_bus
	run_ok evfire -n crlf.n < <(printf 'a\r\nb c\r\n{"k":1}\r\n\r\n  \r\nlast\r')
	run_ok evfire < <(printf '{"name":"crlf.j","payload":"x"}\r\n\r\n')
	# Only the line end: a CR inside a line stays.
	run_ok evfire -n crlf.mid <<<$'a\rb'
	collect 6 "$T/ev" 'crlf.#'
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output '["crlf.n","a"]
["crlf.n","b c"]
["crlf.n",{"k":1}]
["crlf.n","last"]
["crlf.j","x"]
["crlf.mid","a\rb"]'
}

@test "evfire reads jq --seq output (RFC 7464: RS before each text), as events and with -n" {
	start_bus
	jq -cn --seq '{name:"rs.a",payload:1},{name:"rs.b"}' >"$T/seq"
	# Real jq output: RS (0x1e) first.
	assert_equal "$(head -c 1 "$T/seq" | od -An -tx1 | tr -d ' ')" 1e
	run_ok evfire <"$T/seq"
	jq -cn --seq '1,"two",{a:3}' >"$T/seqn"
	run_ok evfire -n rs.n <"$T/seqn"
	# Several RS, and RS on a blank line (an empty text), are dropped too.
	run_ok evfire < <(printf '\x1e\x1e{"name":"rs.c"}\n\x1e\n')
	collect 6 "$T/ev" 'rs.#'
	run jq -c '[.name, .payload]' "$T/ev"
	assert_output '["rs.a",1]
["rs.b",null]
["rs.n",1]
["rs.n","two"]
["rs.n",{"a":3}]
["rs.c",null]'
	# An RS inside a line is the line's: an error in JSON.
	run_fails 65 evfire < <(printf '{"name":"rs.d"}\x1e\n')
	[[ $stderr == "evfire: stdin:1: invalid JSON"* ]] || fail "stderr: $stderr"
}

# --- -e and -m on the event's own bytes ---------------------------------

# stamped FILE: the events in FILE without the bus's head ({"seq":..,"id":..,
# "origin":{..},) and without their time, as "{REST}", byte for byte.
stamped() {
	sed -E 's/^\{"seq":[0-9]+,"id":"[^"]*","origin":\{[^}]*\},/{/; s/,"time":[0-9]+([,}])/\1/' "$1"
}

@test "evfire -e -m: values pass byte for byte (0.1 stays 0.1), metadata merged in order" {
	start_bus
	run_ok evfire -e -m k=v -m new='a "b"' < <(printf '%s\n' \
	    '{"name":"bb.x","payload":0.1,"metadata":{"k":1.50,"z":[1, 2]},"error":false,"x":1E+2}' \
	    '{"name":"bb.y","payload":{"big":12345678901234567890.5}}')
	run_ok evfire -e -m k=v bb.arg 0.10
	collect 3 "$T/ev" 'bb.#'
	run stamped "$T/ev"
	assert_output "$(printf '%s\n' \
	    '{"name":"bb.x","payload":0.1,"metadata":{"k":"v","z":[1, 2],"new":"a \"b\""},"error":true,"x":1E+2}' \
	    '{"name":"bb.y","payload":{"big":12345678901234567890.5},"error":true,"metadata":{"k":"v","new":"a \"b\""}}' \
	    '{"name":"bb.arg","payload":0.10,"error":true,"metadata":{"k":"v"}}')"
}

@test "evfire -e and -m refuse what is refused without them (a field given twice)" {
	start_bus
	for opts in "" "-e" "-m k=v"; do
		# shellcheck disable=SC2086 # the options are words
		run_fails 65 evfire $opts < <(printf '%s\n' '{"name":"tw.x","name":"tw.y"}' \
		    '{"name":"tw.z","error":true,"error":false}')
		assert_equal "$stderr" "$(printf '%s\n' \
		    'evfire: stdin:1: name: given twice' \
		    'evfire: stdin:2: error: given twice')"
	done
	run_fails 1 evfire -m k=v < <(printf '%s\n' '{"name":"tw.m","metadata":[1]}' '{"name":"tw.ok"}')
	assert_equal "$stderr" 'evfire: stdin:1: metadata: not an object'
	collect 1 "$T/ev" 'tw.#'
	run stamped "$T/ev"
	assert_output '{"name":"tw.ok","metadata":{"k":"v"},"payload":null}'
}

@test "evfire -m: a value that is not UTF-8 is a usage error (64)" {
	start_bus
	run_fails 64 evfire -m "k=$(printf '\377')" x
	assert_equal "$stderr" "evfire: -m k=$(printf '\377'): value not valid UTF-8"
}

# --- duplicates, replays, --id --------------------------------------------

@test "evfire: a replay of evsub's output into the same bus says the events were duplicates" {
	start_bus
	run_ok evfire < <(gen_events 5 rp.x)
	run_ok evsub --from 0 -c 5 'rp.#'
	printf '%s\n' "$output" >"$T/f"
	run_ok evfire -w <"$T/f"
	assert_output "$(jq .seq "$T/f")"
	assert_equal "$stderr" "evfire: 5 of 5 events were already on the bus (same id) and were not published again; use --new-ids to publish copies"
	# One new event among old ones.
	run_ok evfire < <(echo '{"name":"rp.x","payload":6}'; head -n 1 "$T/f")
	assert_equal "$stderr" "evfire: 1 of 2 events was already on the bus (same id) and was not published again; use --new-ids to publish copies"
	run_ok evfire -q <"$T/f"
	assert_equal "$stderr" ''
	collect 6 "$T/ev" 'rp.#'
	run jq .payload "$T/ev"
	assert_output "$(seq 6)"
}

@test "evfire --strict: a duplicate is status 3, with the message" {
	start_bus
	run_ok evfire --strict < <(gen_events 3 st.x)
	run_ok evsub --from 0 -c 3 'st.#'
	printf '%s\n' "$output" >"$T/f"
	run_fails 3 evfire --strict < <(gen_events 1 st.y; head -n 2 "$T/f")
	assert_equal "$stderr" "evfire: 2 of 3 events were already on the bus (same id) and were not published again; use --new-ids to publish copies"
	run_fails 3 evfire --strict -q <"$T/f"
	assert_equal "$stderr" ''
	# A rejected line says more than a duplicate: status 1.
	run_fails 1 evfire --strict < <(head -n 1 "$T/f"; echo junk)
	collect 4 "$T/ev" 'st.#'
}

@test "evfire --new-ids publishes copies, the old id in metadata.replay_of" {
	start_bus
	run_ok evfire < <(echo '{"name":"ni.a","payload":0.1,"metadata":{"k":1}}'
	    echo '{"name":"ni.b","id":"mine\u0021"}')
	run_ok evsub --from 0 -c 2 'ni.#'
	printf '%s\n' "$output" >"$T/f"
	run_ok evfire --new-ids -w <"$T/f"
	assert_equal "$stderr" ''
	assert_equal "${#lines[@]}" 2
	old=$(jq -s 'map(.seq) | max' "$T/f")
	[ "${lines[0]}" -gt "$old" ] && [ "${lines[1]}" -gt "${lines[0]}" ]
	collect 4 "$T/ev" 'ni.#'
	# The copies: new ids, the old ones kept, seq and origin the bus's.
	run jq -c '[.name, .payload, .metadata]' <(tail -n 2 "$T/ev")
	assert_output "$(jq -c '[.name, .payload, ((.metadata // {}) + {replay_of: .id})]' "$T/f")"
	run jq -r .id "$T/ev"
	assert_equal "$(sort -u <<<"$output" | wc -l)" 4
	# Byte for byte: the escaped id and 0.1 as they were.
	run stamped <(tail -n 2 "$T/ev")
	assert_output "$(printf '%s\n' \
	    '{"name":"ni.a","payload":0.1,"metadata":{"k":1,"replay_of":"'"$(jq -r .id <(head -n 1 "$T/f"))"'"}}' \
	    '{"name":"ni.b","payload":null,"metadata":{"replay_of":"mine\u0021"}}')"
}

@test "evfire(1) examples: the three newest job events again, as copies and as they were" {
	start_bus
	evfire job.a; evfire job.b; evfire job.c
	run_ok bash -c "evsub -c 3 --last 3 'job.#' | evfire"
	assert_equal "$stderr" "evfire: 3 of 3 events were already on the bus (same id) and were not published again; use --new-ids to publish copies"
	run_ok bash -c "evsub -c 3 --last 3 'job.#' | evfire --new-ids"
	assert_equal "$stderr" ''
	collect 6 "$T/ev" 'job.#'
	run jq -r '[.name, .metadata.replay_of // "-"] | join(" ")' "$T/ev"
	assert_output "$(jq -r '[.name, "-"] | join(" ")' <(head -n 3 "$T/ev")
	    jq -r '[.name, .id] | join(" ")' <(head -n 3 "$T/ev"))"
}

@test "evfire --id: one event with the id given; again, the bus has it" {
	start_bus
	run_ok evfire -w --id job-42 id.x '{"n":0.1}'
	s1=$output
	assert_equal "$stderr" ''
	run_ok evfire -w --id job-42 id.x '{"n":0.1}'
	assert_output "$s1"
	assert_equal "$stderr" "evfire: the event was already on the bus (same id) and was not published again; fire it without --id to publish a copy"
	run_fails 3 evfire --strict --id job-42 id.x
	collect 1 "$T/ev" 'id.#'
	run jq -r .id "$T/ev"
	assert_output job-42
	run stamped "$T/ev"
	assert_output '{"name":"id.x","payload":{"n":0.1}}'
}

@test "evfire --id and --new-ids: misuse is refused" {
	start_bus
	run_fails 64 evfire --id x </dev/null
	assert_equal "${stderr_lines[0]}" 'evfire: --id is the id of one event: give the event'"'"'s name as an argument'
	run_fails 64 evfire --id x -n n.x </dev/null
	run_fails 64 evfire --new-ids n.x
	assert_equal "${stderr_lines[0]}" 'evfire: --new-ids replaces the ids of events read as JSON lines; events made from a name get new ids anyway'
	run_fails 64 evfire --new-ids -n n.x </dev/null
	run_fails 65 evfire --id '' n.x
	assert_equal "$stderr" 'evfire: id: must be 1 to 64 bytes'
	run_fails 65 evfire --id "$(printf 'a\tb')" n.x
	assert_equal "$stderr" 'evfire: id: contains a control character'
	run_fails 65 evfire --id "$(printf 'i%.0s' {1..65})" n.x
	run_ok evfire --id "$(printf 'i%.0s' {1..64})" n.x
	collect 1 "$T/ev" 'n.#'
}

# --- events not acknowledged ---------------------------------------------

# fake_bus READ ACKS: a stand-in for evbusd at $EVBUS_SOCKET.  On the first
# connection it answers HELLO, reads READ events (their bodies go to
# $T/fake.got, one a line), acknowledges the first ACKS of them and hangs
# up; every later connection is told "ERR proto", as by a newer bus that
# does not speak our protocol, so that the publisher gives up at once.
# Feed evfire a regular file: it has then seen the end of its input when
# it gives up, and says nothing about lines it did not read.
fake_bus() {
	cat >"$T/fake.sh" <<-EOF
	export LC_ALL=C
	read -r hello
	if [ -e "$T/fake.conn" ]; then
		printf 'ERR proto unsupported protocol version 2 (this bus speaks 3)\n'
		exit 0
	fi
	: >"$T/fake.conn"
	printf 'HELLO 2 0123456789abcdef 0 65536 features= max_depth=256\n'
	i=0
	while [ \$i -lt $1 ]; do
		read -r frame || exit 0
		len=\${frame##* }
		IFS= read -r -N \$((len + 1)) body || exit 0
		printf '%s' "\$body" >>"$T/fake.got"
		i=\$((i + 1))
	done
	i=0
	while [ \$i -lt $2 ]; do
		i=\$((i + 1))
		printf 'ACK %d\n' \$i
	done
	EOF
	socat "UNIX-LISTEN:$EVBUS_SOCKET,fork" "EXEC:bash $T/fake.sh" \
	    </dev/null 3>&- &
	EV_PIDS+=("$!")
	wait_for "[ -S '$EVBUS_SOCKET' ]" 10
}

@test "evfire: the bus lost for good (69): the message names the events not acknowledged" {
	fake_bus 3 1
	printf '%s\n' '{"name":"u.1","id":"one"}' '{"name":"u.2","id":"t\"wo"}' \
	    '{"name":"u.3"}' >"$T/in"
	run_fails 69 evfire <"$T/in"
	id3=$(sed -n 3p "$T/fake.got" | jq -r .id)
	assert_equal "$stderr" "evfire: the bus refused us: unsupported protocol version 2 (this bus speaks 3)
evfire: 2 events were not acknowledged and may or may not be on the bus: stdin:2 id \"t\\\"wo\", stdin:3 id \"$id3\" (chosen by evfire)
evfire: to publish them again without doubles, give each its id: the ids chosen by evfire are not in the input"
}

@test "evfire: many events not acknowledged: the first few, a count and the last line" {
	fake_bus 8 1
	for i in 1 2 3 4 5 6 7; do
		echo "{\"name\":\"u.$i\",\"id\":\"id$i\"}"
	done >"$T/in"
	printf '\n%s\n' '{"name":"u.9","id":"id9"}' >>"$T/in"
	run_fails 69 evfire <"$T/in"
	assert_equal "$stderr" 'evfire: the bus refused us: unsupported protocol version 2 (this bus speaks 3)
evfire: 7 events were not acknowledged and may or may not be on the bus: stdin:2 id "id2", stdin:3 id "id3", stdin:4 id "id4", stdin:5 id "id5", and 3 more up to stdin:9
evfire: to publish them again without doubles, send the same lines: the bus drops the ids it has'
}

@test "evfire NAME: the event not acknowledged is named with the id to retry with" {
	fake_bus 1 0
	run_fails 69 evfire u.arg 1
	id=$(jq -r .id "$T/fake.got")
	[[ $id =~ ^[0-9a-f-]{36}$ ]] || fail "id: $id"
	assert_equal "$stderr" "evfire: the bus refused us: unsupported protocol version 2 (this bus speaks 3)
evfire: the event was not acknowledged and may or may not be on the bus: id \"$id\"
evfire: to publish it without a double, fire it again with --id $id"
	rm "$T/fake.conn" "$T/fake.got"
	run_fails 69 evfire --id "$id" u.arg 1
	assert_equal "$(jq -r .id "$T/fake.got")" "$id"
	assert_equal "${stderr_lines[2]}" 'evfire: to publish it without a double, fire it again with the same --id'
}

@test "evfire: giving up before the end of stdin says how far it was read" {
	fake_bus 2 0
	mkfifo "$T/in"
	EV_STDIN=$T/in start_bg "$T/fire" evfire
	fire=$BG_PID
	exec 8>"$T/in"
	printf '%s\n' '{"name":"r.1","id":"r1"}' '' '{"name":"r.3","id":"r3"}' >&8
	finish "$fire" 69 40
	exec 8>&-
	run cat "$T/fire.err"
	assert_output 'evfire: the bus refused us: unsupported protocol version 2 (this bus speaks 3)
evfire: 2 events were not acknowledged and may or may not be on the bus: stdin:1 id "r1", stdin:3 id "r3"
evfire: to publish them again without doubles, send the same lines: the bus drops the ids it has
evfire: stdin was read up to line 3; the lines after it were not sent'
}

@test "evfire: a bus that stops answering (75): the message names the events" {
	start_bus
	mkfifo "$T/in"
	# Give up after half a second where EVBUS_RECONNECT_TIMEOUT is known
	# (the default is 10 s).
	EVBUS_RECONNECT_TIMEOUT=500ms EV_STDIN=$T/in start_bg "$T/fire" evfire -w
	fire=$BG_PID
	exec 8>"$T/in"
	echo '{"name":"to.1","id":"a1"}' >&8
	wait_lines "$T/fire" 1
	kill -STOP "$BUS_PID"
	printf '%s\n' '{"name":"to.2","id":"a2"}' '{"name":"to.3"}' >&8
	exec 8>&-
	finish "$fire" 75 40
	kill -CONT "$BUS_PID"
	run cat "$T/fire.err"
	[[ ${lines[0]} =~ ^"evfire: the bus at $EVBUS_SOCKET did not acknowledge within "(10\ s|500\ ms)$ ]] ||
	    fail "line 1: ${lines[0]}"
	[[ ${lines[1]} =~ ^'evfire: 2 events were not acknowledged and may or may not be on the bus: stdin:2 id "a2", stdin:3 id "'[0-9a-f-]{36}'" (chosen by evfire)'$ ]] ||
	    fail "line 2: ${lines[1]}"
	assert_line --index 2 'evfire: to publish them again without doubles, give each its id: the ids chosen by evfire are not in the input'
	assert_equal "${#lines[@]}" 3
}

# --- duplicates, bus loss, autostart -------------------------------------

@test "evfire: the same id twice is stored once (same seq), and evfire says so" {
	start_bus
	ev='{"name":"dd.x","id":"2c0d5f7e-9b1a-4c3d-8e2f-3a4b5c6d7e8f"}'
	run_ok evfire -w <<<"$ev"
	s1=$output
	assert_equal "$stderr" ''
	run_ok evfire -w <<<"$ev"
	assert_output "$s1"
	assert_equal "$stderr" "evfire: the event was already on the bus (same id) and was not published again; use --new-ids to publish a copy"
	run_ok evfire -q <<<"$ev"
	assert_equal "$stderr" ''
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
	# The reason, then what was not acknowledged (gone.2 may or may not
	# have been read before the bus went).
	grep -q "^evfire: lost the bus at $EVBUS_SOCKET" "$T/fire.err" ||
	    fail "stderr: $(cat "$T/fire.err")"
	grep -q "within 500 ms" "$T/fire.err" || fail "stderr: $(cat "$T/fire.err")"
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

@test "autostart: not with EVBUS_AUTOSTART=no, FALSE or Off; a word it does not know is a usage error (64)" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	track_pidfile "$T/xdg/evbus/sock.pid"
	for v in no FALSE Off; do
		EVBUS_AUTOSTART=$v run_fails 69 evfire hello 3>&-
		assert_equal "$stderr" "evfire: no bus at $T/xdg/evbus/sock: no directory $T/xdg/evbus (start evbusd, or let clients start it: EVBUS_AUTOSTART is off)"
	done
	[ ! -e "$T/xdg/evbus" ]
	EVBUS_AUTOSTART=maybe run_fails 64 evfire hello 3>&-
	assert_equal "$stderr" "evfire: EVBUS_AUTOSTART=maybe: expected 1, yes, true, on or 0, no, false, off"
	[ ! -e "$T/xdg/evbus" ]
}

# --- targeting: --node, --service, --tag ------------------------------------

# names_for IDENTITY: the names of the events the bus replays, from the
# first, to a subscriber to '#' that declares IDENTITY (SUB's "node",
# "service" and "tags" members, as JSON text; none when empty), on one
# line.  evsub's own identity options are tested in its suite; this is the
# wire.
names_for() {
	local body="{\"patterns\":[\"#\"],\"from\":0${1:+,$1}}"
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wire_send 'QUIT\n'
	wire_close
	tr -d '\r' <"$T/wire.out" | grep '^{' >"$T/wire.events" || true
	jq -r .name "$T/wire.events" | paste -sd ' '
}

@test "evfire --node/--service/--tag: the event reaches only the subscribers whose identity matches every expression" {
	start_bus
	run_ok evfire tg.all
	# evfire(1)'s example.
	run_ok evfire --node '^web-' --tag '^canary$' deploy.start v2
	assert_output ''
	assert_equal "$stderr" ''
	# With JSON lines: the options give the whole filter, the event's own
	# one is replaced where it stands.
	run_ok evfire --service '^api$' < <(printf '%s\n' \
	    '{"name":"tg.svc","filter":{"node":"db","tag":"x"},"payload":1}' \
	    '{"name":"tg.svc2"}')
	run_ok evfire -n tg.n --tag eu <<<p
	run names_for '"node":"web-1","service":"api","tags":["canary","eu"]'
	assert_output "tg.all deploy.start tg.svc tg.svc2 tg.n"
	run stamped "$T/wire.events"
	assert_output '{"name":"tg.all","payload":null}
{"name":"deploy.start","payload":"v2","filter":{"node":"^web-","tag":"^canary$"}}
{"name":"tg.svc","filter":{"service":"^api$"},"payload":1}
{"name":"tg.svc2","filter":{"service":"^api$"},"payload":null}
{"name":"tg.n","payload":"p","filter":{"tag":"eu"}}'
	run names_for '"node":"db-1","service":"api","tags":["canary"]'
	assert_output "tg.all tg.svc tg.svc2"
	run names_for '"node":"web-2","tags":["canary-old","eu"]'
	assert_output "tg.all tg.n"
	run names_for '"node":"web-3","service":"apis","tags":["canary"]'
	assert_output "tg.all deploy.start"
	run names_for ''
	assert_output "tg.all"
}

@test "evfire --node/--service/--tag: bad expressions are refused before anything is sent" {
	start_bus
	run_fails 64 evfire --node 'web(' tb.x
	assert_equal "$stderr" "evfire: --node: bad regular expression 'web(': Unmatched ( or \\("
	run_fails 64 evfire --tag "$(printf 't%.0s' {1..256})" tb.x
	assert_equal "$stderr" "evfire: --tag: longer than 255 bytes"
	run_fails 64 evfire --service "$(printf 'a\377')" tb.x
	assert_equal "$stderr" "evfire: --service: not valid UTF-8"
	run_fails 64 evfire --tag a -n tb.x --tag b </dev/null
	assert_equal "$stderr" "evfire: --tag given twice: the filter holds one expression for it (write 'a|b' to match a or b)"
	# An event's own filter is still checked when the options replace it.
	run_fails 1 evfire --node ok < <(printf '%s\n' \
	    '{"name":"tb.bad","filter":{"node":"x("}}' '{"name":"tb.ok"}')
	assert_equal "$stderr" "evfire: stdin:1: filter.node: bad regular expression 'x(': Unmatched ( or \\("
	# 255 bytes pass.
	run_ok evfire --tag "$(printf 't%.0s' {1..255})" tb.long
	run names_for "\"node\":\"ok\",\"tags\":[\"$(printf 't%.0s' {1..255})\"]"
	assert_output "tb.ok tb.long"
}

# --- --token-file ----------------------------------------------------------

# hello_bus: a stand-in for evbusd at $EVBUS_SOCKET that writes each
# client's HELLO line to $T/hello, answers it, and acknowledges one event.
hello_bus() {
	cat >"$T/hello.sh" <<-EOF
	read -r hello
	printf '%s\n' "\$hello" >"$T/hello"
	printf 'HELLO 2 0123456789abcdef 0 65536 features= max_depth=256\n'
	read -r frame || exit 0
	len=\${frame##* }
	IFS= read -r -N \$((len + 1)) body || exit 0
	printf 'ACK 1\n'
	EOF
	socat "UNIX-LISTEN:$EVBUS_SOCKET,fork" "EXEC:bash $T/hello.sh" \
	    </dev/null 3>&- &
	EV_PIDS+=("$!")
	wait_for "[ -S '$EVBUS_SOCKET' ]" 10
}

@test "evfire --token-file: the token goes in HELLO, in place of \$EVBUS_TOKEN" {
	hello_bus
	printf 's3cr3t-t0ken\n' >"$T/tok"
	chmod 600 "$T/tok"
	EVBUS_TOKEN=other run_ok evfire -w --token-file "$T/tok" tk.x
	assert_output 1
	# Then the publisher's producer session (evbus(7)).
	run cat "$T/hello"
	assert_output --regexp '^HELLO 2 evfire token=s3cr3t-t0ken session=[0-9a-f]{16}$'
	rm "$T/hello"
	EVBUS_TOKEN=from-env run_ok evfire -w tk.x
	run cat "$T/hello"
	assert_output --regexp '^HELLO 2 evfire token=from-env session=[0-9a-f]{16}$'
}

@test "evfire --token-file: a file others can read (77), none (74), or no token in it (64)" {
	printf 's3cr3t\n' >"$T/tok"
	chmod 640 "$T/tok"
	run_fails 77 evfire --token-file "$T/tok" tk.x
	assert_equal "$stderr" "evfire: token file $T/tok has mode 0640: others can read it; run 'chmod 600' on it"
	run_fails 74 evfire --token-file "$T/none" tk.x
	assert_equal "$stderr" "evfire: token file $T/none: No such file or directory"
	printf 'two words\n' >"$T/tok"
	chmod 600 "$T/tok"
	run_fails 64 evfire --token-file "$T/tok" tk.x
	assert_equal "$stderr" "evfire: token file $T/tok: one line of 1 to 127 printable characters without spaces"
	# Checked before any bus is asked.
	[ ! -e "$EVBUS_SOCKET" ]
}

# --- evfire(1)'s EXAMPLES, as written -------------------------------------

# seq_to N: fire events until the bus's newest seq is N, so that an example
# prints the seqs evfire(1) shows; fails when the bus is past N.
seq_to() {
	local s=0
	while [ "$s" -lt "$1" ]; do
		s=$(evfire -w fill.x) || fail "seq_to: evfire failed"
	done
	[ "$s" -eq "$1" ] || fail "seq_to: the bus is at $s, past $1"
}

@test "evfire(1) example: an event with a JSON object as its payload" {
	start_bus
	run_ok evfire request.echo.1-0-0.default '{"command":"say"}'
	assert_output ''
	assert_equal "$stderr" ''
	collect 1 "$T/ev" 'request.#'
	run stamped "$T/ev"
	assert_output '{"name":"request.echo.1-0-0.default","payload":{"command":"say"}}'
}

@test "evfire(1) example: v1.2.3 and '\"v1.2.3\"' publish the same payload; --string keeps 1.2 a string" {
	start_bus
	run_ok evfire deploy v1.2.3
	run_ok evfire deploy '"v1.2.3"'
	run_ok evfire --string release 1.2
	run_ok evfire release 1.2
	collect 4 "$T/ev"
	run stamped "$T/ev"
	assert_output '{"name":"deploy","payload":"v1.2.3"}
{"name":"deploy","payload":"v1.2.3"}
{"name":"release","payload":"1.2"}
{"name":"release","payload":1.2}'
}

@test "evfire(1) example: -w prints the event's seq" {
	start_bus
	seq_to 6
	run_ok evfire -w deploy '"v1.2.3"'
	assert_output 7
}

@test "evfire(1) example: a bad line among good ones" {
	start_bus
	run_fails 1 bash -c "printf '%s\n' '{\"name\":\"a.b\"}' 'oops' '{\"name\":\"a.c\"}' | evfire"
	assert_output ''
	assert_equal "$stderr" "evfire: stdin:2: invalid JSON at byte 1: object expected"
	collect 2 "$T/ev"
	run jq -r .name "$T/ev"
	assert_output "a.b
a.c"
}

@test "evfire(1) example: -w and paste pair each line with its seq or -" {
	start_bus
	seq_to 11
	cd "$T"
	printf '%s\n' '{"name":"job.a"}' 'oops' '{"name":"job.b"}' >events
	run_ok bash -c "evfire -qw <events | paste -d ' ' - events"
	assert_output '12 {"name":"job.a"}
- oops
13 {"name":"job.b"}'
	assert_equal "$stderr" ''
}

@test "evfire(1) example: jq -c --seq into evfire -w" {
	start_bus
	seq_to 13
	run_ok bash -c "jq -cn --seq '{name: \"job.c\", payload: 1}, {name: \"job.d\"}' |
	    evfire -w"
	assert_output '14
15'
	collect 2 "$T/ev" 'job.#'
	run stamped "$T/ev"
	assert_output '{"name":"job.c","payload":1}
{"name":"job.d","payload":null}'
}

@test "evfire(1) example: tail -f app.log | evfire -n app.log.line" {
	start_bus
	cd "$T"
	printf '%s\n' 'started' '{"pid":42}' >app.log
	# The pipeline, with tail's pid known: ending tail ends evfire's input.
	exec 9< <(exec tail -f app.log)
	tailpid=$!
	EV_PIDS+=("$tailpid")
	EV_STDIN=/dev/fd/9 start_bg "$T/fire" evfire -n app.log.line
	fire=$BG_PID
	exec 9<&-
	start_sub "$T/sub" --from 0 'app.#'
	wait_lines "$T/sub" 2
	echo 'disk full' >>app.log
	wait_lines "$T/sub" 3
	kill "$tailpid"
	finish "$fire" 0
	assert_equal "$(cat "$T/fire" "$T/fire.err")" ''
	run stamped "$T/sub"
	assert_output '{"name":"app.log.line","payload":"started"}
{"name":"app.log.line","payload":{"pid":42}}
{"name":"app.log.line","payload":"disk full"}'
}

@test "evfire(1) example: a failure with facts for whoever handles it" {
	start_bus
	run_ok evfire -e -m host="$(hostname)" -m job=backup backup.failed 'disk full'
	assert_output ''
	assert_equal "$stderr" ''
	collect 1 "$T/ev" 'backup.#'
	run stamped "$T/ev"
	assert_output "{\"name\":\"backup.failed\",\"payload\":\"disk full\",\"error\":true,\"metadata\":{\"host\":$(json_str "$(hostname)"),\"job\":\"backup\"}}"
}

@test "evfire(1) example: an id of your own, fired twice, is published once" {
	start_bus
	run_ok evfire --id backup-2026-11-23 backup.done
	assert_output ''
	assert_equal "$stderr" ''
	run_ok evfire --id backup-2026-11-23 backup.done
	assert_equal "$stderr" "evfire: the event was already on the bus (same id) and was not published again; fire it without --id to publish a copy"
	collect 1 "$T/ev" 'backup.#'
	run jq -r '"\(.id) \(.name)"' "$T/ev"
	assert_output 'backup-2026-11-23 backup.done'
}

@test "evfire(1) example: a token kept in a file only its owner can read" {
	start_bus
	export HOME=$T/home
	mkdir "$HOME"
	token=s3cr3t-t0ken
	(umask 077; echo "$token" >~/.evbus-token)
	run_ok evfire --token-file ~/.evbus-token deploy.start v2
	assert_output ''
	assert_equal "$stderr" ''
	collect 1 "$T/ev" 'deploy.#'
	run stamped "$T/ev"
	assert_output '{"name":"deploy.start","payload":"v2"}'
}

@test "bash completion offers every option evfire(1) lists" {
	man=$BATS_TEST_DIRNAME/../man/man1/evfire.1
	want=$(awk '/^\.It Fl / { sub(/^\.It /, ""); n = split($0, p, / , /)
	    for (i = 1; i <= n; i++) { split(p[i], w, " "); print "-" w[2] } }' \
	    "$man" | sort -u)
	[ "$(wc -l <<<"$want")" -ge 20 ] || fail "options from the manual: $want"
	# shellcheck source=/dev/null
	source "$BATS_TEST_DIRNAME/../share/bash-completion/evbus"
	COMP_LINE='evfire -'
	COMP_POINT=${#COMP_LINE}
	_evfire
	run sort -u < <(printf '%s\n' "${COMPREPLY[@]}")
	assert_output "$want"
}
