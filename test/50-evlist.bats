#!/usr/bin/env bats
# evlist: the listing, the blocking query and its index, epochs, gaps,
# --stats, -F templates (evlist and evsub), and the subscriber identity
# (--node, --service, --tag and EVBUS_*) in evsub and evlist.

load helper

EV_TMO_LIST=$(ev_scale 120)
evlist() { timeout -k 5 "$EV_TMO_LIST" "$EV_BIN/evlist" "$@"; }

# publish NAME PAYLOAD...: one event per payload, in one evfire.
publish() {
	local name=$1
	shift
	printf '%s\n' "$@" | evfire -n "$name"
}

# The bus's epoch, from its STATS.
bus_epoch() {
	"$EV_BIN/evlist" --stats | jq -r .epoch
}

# The bus's newest seq, from its STATS.
bus_seq() {
	"$EV_BIN/evlist" --stats | jq -r .seq
}

# wait_listing: until an evlist subscriber is on the bus (it has sent
# SUB and is waiting).
wait_listing() {
	wait_for '[ "$("$EV_BIN/evlist" --stats | jq "[.subscribers[] |
	    select(.client == \"evlist\")] | length")" -ge 1 ]'
}

# --- options ---------------------------------------------------------------

@test "evlist --help and the SYNOPSIS of evlist(1) say the same" {
	run_ok evlist --help
	help=$(sed 's/^usage: //; s/^ *evlist /evlist /' <<<"$output" |
	    tr -s ' \t\n' ' ')
	syn=$(mandoc -Tascii -O width=300 "$BATS_TEST_DIRNAME/../man/man1/evlist.1" |
	    col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \t\n' ' ')
	assert_equal "${help% }" "$(sed 's/^ //; s/ $//' <<<"$syn")"
}

@test "evsub --help and the SYNOPSIS of evsub(1) say the same, -F and the identity included" {
	run_ok evsub --help
	assert_output --partial '[-F format] [--node name] [--service name]'
}

@test "evlist: usage errors exit 64 and say why" {
	start_bus
	run_fails 64 evlist -w 11m -i 1
	assert_equal "$stderr" "evlist: -w '11m': at most 10m (as Consul's blocking queries): loop instead"
	run_fails 64 evlist -w 1m
	assert_equal "$stderr" "evlist: -w: only with -i (wait for an event newer than an index)"
	run_fails 64 evlist -i abc
	assert_equal "$stderr" "evlist: -i: index 'abc': expected SEQ or EPOCH:SEQ (as --index-file writes it), SEQ a whole number"
	run_fails 64 evlist -i 12ab:3
	assert_equal "$stderr" "evlist: -i: index '12ab:3': the epoch before ':' must be 16 hexadecimal digits"
	run_fails 64 evlist --stats 'a.#'
	assert_equal "$stderr" "evlist: --stats takes no pattern and no other option than -s"
	run_fails 64 evlist 'a.*b'
	run_fails 64 evlist --no-such-option
}

# --- the listing -------------------------------------------------------------

@test "evlist: the buffered events that match, oldest first, as the bus's bytes; then exit 0" {
	start_bus
	publish li.a 1 2
	publish other.x 3
	publish li.b 4
	evsub --from 0 -c 4 >"$T/all"
	run_ok evlist 'li.#'
	assert_output "$(grep '"li\.' "$T/all")"
	assert_equal "$stderr" ''
	run_ok evlist
	assert_output "$(cat "$T/all")"
	# Nothing matches: nothing printed, still 0.
	run_ok evlist 'none.#'
	assert_output ''
}

@test "evlist --print-index and --index-file: the bus's newest seq the call covered, with its epoch" {
	start_bus
	publish pi.a 1
	publish pi.other 2
	epoch=$(bus_epoch)
	run_ok evlist --print-index --index-file "$T/idx" 'pi.a'
	assert_equal "$(jq -c .payload <<<"$output")" 1
	# The index covers at least the non-matching event after it.
	[[ $stderr =~ ^index\ $epoch:([0-9]+)$ ]] || fail "stderr: $stderr"
	n=${BASH_REMATCH[1]}
	[ "$n" -ge 2 ] || fail "index $n"
	assert_equal "$(cat "$T/idx")" "$epoch:$n"
	# The file is replaced, not appended to, and no temporary is left.
	run_ok evlist --index-file "$T/idx" 'pi.a'
	[[ $(cat "$T/idx") =~ ^$epoch:[0-9]+$ ]] || fail "$(cat "$T/idx")"
	assert_equal "$(ls "$T" | grep -c '^idx')" 1
	# An index file that cannot be written: 74.
	run_fails 74 evlist --index-file "$T/no/such/dir/idx" 'pi.a'
}

# --- the blocking query ------------------------------------------------------

@test "evlist -i: returns at once with every matching event newer than the index" {
	start_bus
	publish im.a 1 2 3
	epoch=$(bus_epoch)
	first=$(evlist 'im.a' | head -1 | jq .seq)
	run_ok evlist -i "$first" -w 10m --print-index 'im.a'
	assert_equal "$(jq -c .payload <<<"$output" | paste -sd ' ')" "2 3"
	[[ $stderr =~ ^index\ $epoch:[0-9]+$ ]] || fail "stderr: $stderr"
	# The same index in its EPOCH:SEQ form.
	run_ok evlist -i "$epoch:$first" 'im.a'
	assert_equal "$(jq -c .payload <<<"$output" | paste -sd ' ')" "2 3"
	# -i 0: everything, with no gap (nothing was seen before).
	run_ok evlist -i 0 'im.a'
	assert_equal "$(jq -c .payload <<<"$output" | paste -sd ' ')" "1 2 3"
}

@test "evlist -i: blocks until a matching event comes, skips the others, then prints it and exits 0" {
	start_bus
	publish bw.a 1
	run_ok evlist --index-file "$T/idx" 'bw.a'
	idx=$(cat "$T/idx")
	start_bg "$T/out" evlist -i "$idx" -w 5m --index-file "$T/idx" 'bw.a'
	pid=$BG_PID
	wait_listing
	publish bw.other x
	publish bw.a 2
	finish "$pid" 0
	run jq -c '[.name, .payload]' "$T/out"
	assert_output '["bw.a",2]'
	assert_equal "$(cat "$T/out.err")" ''
	# The new index is the event's seq or later, on the same epoch.
	seq=$(jq .seq "$T/out")
	[[ $(cat "$T/idx") =~ ^${idx%%:*}:([0-9]+)$ ]] || fail "$(cat "$T/idx")"
	[ "${BASH_REMATCH[1]}" -ge "$seq" ] || fail "index before the event"
	# Nothing new since: the next call waits again and times out.
	run_fails 3 evlist -i "$(cat "$T/idx")" -w 200ms 'bw.a'
}

@test "evlist -i -w: a timeout exits 3 and leaves the index as it was" {
	start_bus
	publish to.a 1
	run_ok evlist --index-file "$T/idx" 'to.a'
	idx=$(cat "$T/idx")
	publish to.other 2
	run_fails 3 evlist -i "$idx" -w 300ms --index-file "$T/idx" \
	    --print-index 'to.a'
	assert_output ''
	assert_equal "$stderr" "index $idx"
	assert_equal "$(cat "$T/idx")" "$idx"
	# -w 0: a poll, which still sees what is there.
	run_fails 3 evlist -i "$idx" -w 0 'to.a'
	publish to.a 3
	run_ok evlist -i "$idx" -w 0 --index-file "$T/idx" 'to.a'
	assert_equal "$(jq -c .payload <<<"$output")" 3
	run_ok evlist -i "$idx" -w 0 'to.a'
	assert_equal "$(jq -c .payload <<<"$output")" 3
	# A bare index gets the epoch of the bus it was waited on.
	idx=$(cat "$T/idx")
	n=${idx#*:}
	run_fails 3 evlist -i "$n" -w 300ms --index-file "$T/idx" 'to.a'
	assert_equal "$(cat "$T/idx")" "$idx"
}

@test "evlist: an index from an earlier run of the bus returns at once with all it has, says so, and exits 4" {
	start_bus
	publish ep.a 1 2
	run_ok evlist --index-file "$T/idx" 'ep.#'
	old=$(cat "$T/idx")
	stop_bus
	start_bus
	new=$(bus_epoch)
	[ "$new" != "${old%%:*}" ] || fail "same epoch"
	run_fails 4 evlist -i "$old" -w 10m --index-file "$T/idx" 'ep.#'
	assert_equal "$stderr" "evlist: the bus restarted since index $old was read (it is now $new): events may have been lost; listing all it has"
	# The restart line first (as evsub prints it), nothing else yet.
	run jq -c '[.name, .payload.reason, .payload.previous_epoch == "'"${old%%:*}"'", .payload.epoch]' <<<"$output"
	assert_output '["evbus.gap","restart",true,"'"$new"'"]'
	[[ $(cat "$T/idx") =~ ^$new:[0-9]+$ ]] || fail "$(cat "$T/idx")"
	# With events on the new run: the restart line, then them.
	publish ep.b 3
	run_fails 4 evlist -i "$old" 'ep.#'
	run jq -c '[.name, .payload]' <<<"$output"
	assert_line --index 1 '["ep.b",3]'
	assert_equal "${#lines[@]}" 2
	# A bare index ahead of the bus: the same, said otherwise.
	run_fails 4 evlist -i 100000 --print-index 'ep.#'
	assert_equal "$(jq -c .payload <<<"$output")" 3
	[[ ${lines[*]} != *restart* ]] || fail "$output"
	[[ $stderr == "evlist: index 100000 is ahead of the bus's newest event ("*"): it is from an earlier run of the bus; listing all it has"*"index $new:"* ]] ||
	    fail "stderr: $stderr"
}

@test "evlist: fell behind the ring: the gap notice (as evsub's) then the events, status 5" {
	start_bus -b 16
	publish gp.a 0
	run_ok evlist --index-file "$T/idx" 'gp.#'
	idx=$(cat "$T/idx")
	publish gp.a $(seq 1 40)
	run_fails 5 evlist -i "$idx" --index-file "$T/idx" 'gp.#'
	first=$(jq -c 'select(.name == "evbus.gap") | .payload' <<<"$output")
	[[ $first =~ ^\{\"from\":([0-9]+),\"to\":([0-9]+),\"seqs\":[0-9]+,\"reason\":\"overrun\"\}$ ]] ||
	    fail "no gap notice first: $output"
	assert_equal "${BASH_REMATCH[1]}" "$(( ${idx#*:} + 1 ))"
	assert_equal "$(head -1 <<<"$output" | jq -r .name)" evbus.gap
	# Then the newest events, in order, up to the last one fired.
	run jq -c 'select(.name == "gp.a") | .payload' <<<"$output"
	assert_equal "${lines[-1]}" 40
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort -n | paste -sd ' ')" \
	    "$(printf '%s\n' "${lines[@]}" | paste -sd ' ')"
	# The next call carries on from there without a gap.
	publish gp.a 41
	run_ok evlist -i "$(cat "$T/idx")" 'gp.#'
	assert_equal "$(jq -c .payload <<<"$output")" 41
}

@test "evlist: a loop of -i calls sees each of 1,000 events fired in bursts exactly once" {
	start_bus
	run_ok evlist --index-file "$T/idx" 'loop.#'
	# The producer: 20 bursts of 50, with other events between them,
	# while the loop below runs.
	(
		for b in $(seq 0 19); do
			seq $((b * 50 + 1)) $((b * 50 + 50)) |
			    "$EV_BIN/evfire" -n loop.ev || exit 1
			"$EV_BIN/evfire" noise.x "$b" || exit 1
		done
	) &
	prod=$!
	EV_PIDS+=("$prod")
	calls=0
	while [ "$(nlines "$T/out")" -lt 1000 ]; do
		st=0
		"$EV_BIN/evlist" -i "$(cat "$T/idx")" -w 30s --index-file \
		    "$T/idx" -F '{.payload}' 'loop.#' >>"$T/out" \
		    2>>"$T/err" || st=$?
		[ "$st" -eq 0 ] || fail "evlist exited $st: $(cat "$T/err")"
		calls=$((calls + 1))
	done
	exit_status "$prod"
	[ "$ST" -eq 0 ] || fail "the producer failed"
	assert_equal "$(sort -n "$T/out" | uniq -d | head -5)" ''
	assert_equal "$(sort -n "$T/out" | paste -sd ' ')" \
	    "$(seq 1 1000 | paste -sd ' ')"
	# In the order fired.
	assert_equal "$(paste -sd ' ' "$T/out")" "$(seq 1 1000 | paste -sd ' ')"
	assert_equal "$(cat "$T/err")" ''
	# Nothing left over.
	run_fails 3 evlist -i "$(cat "$T/idx")" -w 200ms 'loop.#'
	echo "# $calls calls" >&3
}

# --- --stats -------------------------------------------------------------------

@test "evlist --stats: the bus's figures as one line of JSON" {
	start_bus
	publish st.a 1 2
	run_ok evlist --stats
	assert_equal "${#lines[@]}" 1
	run jq -c '[(.epoch | test("^[0-9a-f]{16}$")), (.seq >= 2),
	    (.ring | has("events") and has("bytes") and has("max_events") and
	    has("max_bytes") and has("first")), (.clients >= 1),
	    (.events_in >= 2), has("uptime_ms"), has("events_out"),
	    ([.in_per_s, .out_per_s] | map(type == "number" and . >= 0) | all),
	    (.subscribers | type)]' <<<"$output"
	assert_output '[true,true,true,true,true,true,true,true,"array"]'
	# A waiting evlist is one of the subscribers, with its lag.
	start_bg "$T/out" evlist -i "$(bus_seq)" -w 5m 'st.#'
	pid=$BG_PID
	wait_listing
	run_ok evlist --stats
	run jq -c '.subscribers[] | select(.client == "evlist") |
	    [.patterns, .lag]' <<<"$output"
	assert_output '[["st.#"],0]'
	publish st.a 3
	finish "$pid" 0
	# No bus: 69.
	stop_bus
	run_fails 69 evlist --stats
}

# --- -F templates ------------------------------------------------------------

@test "evlist -F and evsub -F: text from a template, with \\t and \\n escapes" {
	start_bus
	publish tf.a '{"a":{"b":"x y"},"n":1.50}' '{"a":{"b":"z"},"n":2}'
	run_ok evlist -F '{.seq}\t{.name}\t{.payload.a.b|upper}\t{.payload.n}' 'tf.#'
	s1=$(evlist 'tf.#' | head -1 | jq .seq)
	assert_output "$(printf '%s\ttf.a\tX Y\t1.50\n%s\ttf.a\tZ\t2' "$s1" $((s1 + 1)))"
	run_ok evsub --from 0 -c 2 -F '{.name}:\n {.payload.a|json} {.metadata.k|default:-}' 'tf.#'
	assert_output "$(printf 'tf.a:\n {"b":"x y"} -\ntf.a:\n {"b":"z"} -')"
}

@test "evlist -F, evsub -F: a template error is a usage error (64) with its column" {
	start_bus
	run_fails 64 evlist -F '{.seq} {.name|nope}'
	assert_equal "$stderr" "evlist: -F: column 15: unknown function 'nope' (mangle, lower, upper, json, default:TEXT)"
	run_fails 64 evsub -F '{.seq} {.name|nope}'
	assert_equal "$stderr" "evsub: -F: column 15: unknown function 'nope' (mangle, lower, upper, json, default:TEXT)"
}

@test "evlist -F, evsub -F: a missing path is an error for that event, named by seq; the rest are printed; status 1" {
	start_bus
	publish mp.a '{"k":1}' '{"j":2}' '{"k":3}'
	s1=$(evlist 'mp.#' | head -1 | jq .seq)
	run_fails 1 evlist -F '{.seq} {.payload.k}' 'mp.#'
	assert_output "$(printf '%s 1\n%s 3' "$s1" $((s1 + 2)))"
	assert_equal "$stderr" "evlist: seq $((s1 + 1)): missing .payload.k"
	run_fails 1 evsub --from 0 -c 3 -F '{.seq} {.payload.k}' 'mp.#'
	assert_output "$(printf '%s 1\n%s 3' "$s1" $((s1 + 2)))"
	assert_equal "$stderr" "evsub: seq $((s1 + 1)): missing .payload.k"
	# With default: nothing is missing.
	run_ok evlist -F '{.payload.k|default:none}' 'mp.#'
	assert_output "$(printf '1\nnone\n3')"
}

# --- identity: --node, --service, --tag, EVBUS_* -------------------------------

# names CMD...: the names of the events CMD printed (-F), on one line.
names() {
	"$@" -F '{.name}' | paste -sd ' '
}

@test "identity: evlist and evsub receive a targeted event only when their node, service and tags match" {
	start_bus
	run_ok evfire tg.all
	run_ok evfire --node '^web-' --tag '^canary$' tg.web-canary
	run_ok evfire --service '^api$' tg.api
	run_ok evfire --node '1$' --service 'api' --tag 'v2' tg.all3
	run_ok evfire --tag 'eu' tg.eu
	# evsub stops after the count of events it should get.
	run names evlist --node web-1 --service api --tag canary --tag v2 \
	    --tag eu 'tg.#'
	assert_output "tg.all tg.web-canary tg.api tg.all3 tg.eu"
	run names evsub --from 0 -c 5 --node web-1 --service api \
	    --tag canary --tag v2 --tag eu 'tg.#'
	assert_output "tg.all tg.web-canary tg.api tg.all3 tg.eu"
	run names evlist --node db-1 --service api 'tg.#'
	assert_output "tg.all tg.api"
	run names evsub --from 0 -c 2 --node db-1 --service api 'tg.#'
	assert_output "tg.all tg.api"
	run names evlist --node web-2 --tag canary 'tg.#'
	assert_output "tg.all tg.web-canary"
	run names evsub --from 0 -c 2 --node web-2 --tag canary 'tg.#'
	assert_output "tg.all tg.web-canary"
	run names evlist --node web-3 --service apis --tag canary-old 'tg.#'
	assert_output "tg.all"
	run names evsub --from 0 -c 1 --node web-3 --service apis \
	    --tag canary-old 'tg.#'
	assert_output "tg.all"
}

@test "identity: EVBUS_NODE, EVBUS_SERVICE and EVBUS_TAGS; the options win; the node defaults to the host name" {
	start_bus
	host=$(hostname)
	run_ok evfire --node "^$host\$" tg.host
	run_ok evfire --node '^n1$' tg.n1
	run_ok evfire --service '^s1$' tg.s1
	run_ok evfire --tag '^t2$' tg.t2
	run names evlist 'tg.#'
	assert_output "tg.host"
	run names evsub --from 0 -c 1 'tg.#'
	assert_output "tg.host"
	export EVBUS_NODE=n1 EVBUS_SERVICE=s1 EVBUS_TAGS=' t1 , t2,,'
	run names evlist 'tg.#'
	assert_output "tg.n1 tg.s1 tg.t2"
	run names evsub --from 0 -c 3 'tg.#'
	assert_output "tg.n1 tg.s1 tg.t2"
	run names evlist --node "$host" --service s2 --tag t3 'tg.#'
	assert_output "tg.host"
	# An empty value declares none: not even the host name.
	EVBUS_NODE= EVBUS_SERVICE= EVBUS_TAGS= run names evlist 'tg.#'
	assert_output ""
	# Too long, too many: usage errors.
	run_fails 64 evlist --node "$(printf 'n%.0s' $(seq 1 256))"
	assert_equal "$stderr" "evlist: --node: longer than 255 bytes"
	EVBUS_TAGS=$(seq -s, 1 65) run_fails 64 evsub
	assert_equal "$stderr" "evsub: EVBUS_TAGS: more than 64 tags"
}

@test "bash completion offers every option evlist(1) lists" {
	man=$BATS_TEST_DIRNAME/../man/man1/evlist.1
	want=$(awk '/^\.It Fl / { sub(/^\.It /, ""); n = split($0, p, / , /)
	    for (i = 1; i <= n; i++) { split(p[i], w, " "); print "-" w[2] } }' \
	    "$man" | sed 's/=.*//' | sort -u)
	[ "$(wc -l <<<"$want")" -ge 16 ] || fail "options from the manual: $want"
	# shellcheck source=/dev/null
	source "$BATS_TEST_DIRNAME/../share/bash-completion/evbus"
	COMP_LINE='evlist -'
	COMP_POINT=${#COMP_LINE}
	_evlist
	run sort -u < <(printf '%s\n' "${COMPREPLY[@]}")
	assert_output "$want"
}

# --- the wire: SYNC ------------------------------------------------------------

@test "wire: SUB with sync: SYNC after the replay, after each event that may be for it, never for others" {
	start_bus
	publish sy.a 1
	publish sy.other 2
	wire_open
	wire_send 'HELLO 2 bats\n'
	body='{"patterns":["sy.a"],"from":0,"sync":true,"node":"n1"}'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	# HELLO, OK, EVENT and its body, SYNC.
	wait_lines "$T/wire.out" 5
	end=$(wire_reply 2 | cut -d' ' -f2)
	assert_equal "$(wire_reply 2)" "OK $end"
	assert_equal "$(wire_reply 3 | cut -d' ' -f1)" EVENT
	assert_equal "$(wire_reply 4 | jq -c .payload)" 1
	# At the newest event then: the bus's own announcement of this
	# subscriber may have come after OK.
	[[ $(wire_reply 5) =~ ^SYNC\ ([0-9]+)$ ]] || fail "$(wire_reply 5)"
	[ "${BASH_REMATCH[1]}" -ge "$end" ] || fail "SYNC before OK's end"
	# Not a candidate: nothing.  A match: the event, then SYNC at it.
	publish sy.other 3
	publish sy.a 4
	wait_lines "$T/wire.out" 8
	s4=$(wire_reply 7 | jq .seq)
	assert_equal "$(wire_reply 7 | jq -c .payload)" 4
	assert_equal "$(wire_reply 8)" "SYNC $s4"
	# A candidate turned away by its identity: SYNC alone.
	run_ok evfire --node '^n2$' sy.a 5
	wait_lines "$T/wire.out" 9
	[[ $(wire_reply 9) =~ ^SYNC\ ([0-9]+)$ ]] || fail "$(wire_reply 9)"
	[ "${BASH_REMATCH[1]}" -gt "$s4" ] || fail "SYNC did not move"
	wire_send 'QUIT\n'
	wire_close
	assert_equal "$(nlines "$T/wire.out")" 9
	# Nothing to replay: SYNC at once; a bad value refused.
	wire_open
	body='{"patterns":["none"],"sync":true}'
	bad='{"patterns":["none"],"sync":1}'
	wire_send 'HELLO 2 bats\nSUB %d\n%s\n' "${#body}" "$body"
	wait_lines "$T/wire.out" 3
	[[ $(wire_reply 3) =~ ^SYNC\ [0-9]+$ ]] || fail "$(wire_reply 3)"
	wire_send 'QUIT\n'
	wire_close
	wire_open
	wire_send 'HELLO 2 bats\nSUB %d\n%s\nQUIT\n' "${#bad}" "$bad"
	wire_close
	assert_equal "$(wire_reply 2)" "ERR data sync: not true or false"
}

@test "evlist is not announced as a listener: a loop on evbus.# does not wake itself" {
	start_bus
	run_ok evlist --index-file "$T/idx" 'evbus.#'
	run_ok evlist 'x.#'
	run_fails 3 evlist -i "$(cat "$T/idx")" -w 300ms 'evbus.#'
	# An evsub is announced, and wakes it.
	start_bg "$T/out" evlist -i "$(cat "$T/idx")" -w 5m 'evbus.listener.#'
	pid=$BG_PID
	wait_listing
	publish w.x 1
	run_ok evsub --from 0 -c 1 'w.#'
	finish "$pid" 0
	run jq -r '[.name, .payload.client] | join(" ")' "$T/out"
	assert_line --index 0 'evbus.listener.connected evsub'
	# On the wire: "announce":false, and a bad value refused.
	wire_open
	body='{"patterns":["w.#"],"announce":false}'
	wire_send 'HELLO 2 quiet\nSUB %d\n%s\nQUIT\n' "${#body}" "$body"
	wire_close
	assert_equal "$(wire_reply 2 | cut -d' ' -f1)" OK
	run_ok evlist -F '{.payload.client}' 'evbus.listener.#'
	assert_output "$(printf 'evsub\nevsub')"
	wire_open
	body='{"patterns":["w.#"],"announce":"no"}'
	wire_send 'HELLO 2 bats\nSUB %d\n%s\nQUIT\n' "${#body}" "$body"
	wire_close
	assert_equal "$(wire_reply 2)" "ERR data announce: not true or false"
}

# --- the manuals' examples -------------------------------------------------------

@test "evlist(1) and evsub(1) EXAMPLES: -F, the loops, --stats, identity" {
	start_bus
	publish deploy.start '{"v":2}'
	s=$(evlist 'deploy.#' | jq .seq)
	run_ok evlist -F '{.seq} {.name} {.payload}' 'deploy.#'
	assert_output "$s deploy.start {\"v\":2}"
	run_ok evsub -c 1 --from 0 -F '{.seq}\t{.name}\t{.payload|json}' 'deploy.#'
	assert_output "$(printf '%s\tdeploy.start\t{"v":2}' "$s")"
	# The long-poll loop, two turns of it, with a handler.
	cd "$T"
	printf '#!/bin/sh\njq -c .payload >>handled\n' >handle.sh
	chmod +x handle.sh
	idx=0
	for turn in 1 2; do
		evlist -i "$idx" -w 5m --index-file idx.txt 'deploy.#' | ./handle.sh
		idx=$(cat idx.txt)
		[ "$turn" = 2 ] || publish deploy.done '{"v":3}'
	done
	assert_equal "$(cat handled)" "$(printf '{"v":2}\n{"v":3}')"
	# The loop that tells statuses apart: one timeout, then a batch.
	rm -f handled
	turns=0
	idx=$(cat idx.txt 2>/dev/null || echo 0)
	while [ "$turns" -lt 2 ]; do
		turns=$((turns + 1))
		st=0
		evlist -i "$idx" -w 200ms --index-file idx.txt 'deploy.#' >batch.ndjson || st=$?
		case $st in
		0) ;;
		3) publish deploy.more '{"v":4}'; continue ;;
		*) fail "status $st" ;;
		esac
		./handle.sh <batch.ndjson
		idx=$(cat idx.txt)
	done
	assert_equal "$(cat handled)" '{"v":4}'
	# The cron line's command, twice: the backup, then nothing new.
	publish backup.done 1
	for want in 1 ''; do
		out=$(evlist -i "$(cat idx 2>/dev/null || echo 0)" \
		    -w 1s --index-file idx 'backup.#' | jq -c .payload)
		assert_equal "$out" "$want"
	done
	start_bg "$T/bg" evlist -i "$(bus_seq)" -w 5m 'deploy.#'
	pid=$BG_PID
	wait_listing
	run_ok evlist --stats
	run jq -c '.subscribers[] | [.client, .lag]' <<<"$output"
	assert_output '["evlist",0]'
	publish deploy.x 5
	finish "$pid" 0
	# evsub(1): a web node of the canary group.
	run_ok evfire --node '^web-' --tag '^canary$' deploy.canary
	run_ok evsub -c 1 --from 0 -F '{.name}' --node web-1 --tag canary 'deploy.canary'
	assert_output deploy.canary
}

@test "evlist --where: only the events the filters pass, evaluated by the bus; a bad filter names its column" {
	start_bus
	publish deploy.web '{"env":"prod","n":1}' '{"env":"test","n":2}' \
	    '{"env":"prod","n":3}'
	run_ok evlist -F '{.payload.n}' --where '.payload.env == "prod"' \
	    'deploy.#'
	assert_output $'1\n3'
	run_ok evlist -F '{.payload.n}' --where '.payload.env == "prod"' \
	    --where '.payload.n > 1' 'deploy.#'
	assert_output '3'
	[ "$("$EV_BIN/evlist" --stats | jq .filtered_out)" -ge 3 ] ||
	    fail "the bus did not count what it filtered"
	run_fails 64 evlist --where '.payload.env =='
	assert_equal "$stderr" "evlist: --where: column 16: expected a value after '=='"
}
