#!/usr/bin/env bats
# Flow through the bus: ordering and completeness under volume, many
# publishers, a stopped subscriber, gaps, and a daemon restart under a
# running evsub and evfire.

load helper

# check_gaps ALL SUB: SUB (a subscriber that may have lost events) against
# ALL (every event, from a subscriber that lost none): SUB's events are a
# subset of ALL in increasing seq order, at least one evbus.gap line with
# from <= to and seqs == to-from+1 sits in order between them, and
# every event of ALL missing from SUB lies inside a reported gap.
check_gaps() {
	local result
	result=$(jq -n --slurpfile all "$1" --slurpfile sub "$2" '
	    ($all | map(.seq)) as $every
	    | ($sub | map(select(.name == "evbus.gap"))) as $gaps
	    | ($sub | map(select(.name != "evbus.gap") | .seq)) as $got
	    | (reduce $sub[] as $e ({prev: 0, bad: null};
		if .bad != null then .
		elif $e.name == "evbus.gap" then
		    ($e.payload) as $p
		    | if ($p.from | type) != "number" or ($p.to | type) != "number"
			or $p.from > $p.to or $p.from <= .prev
			or $p.seqs != $p.to - $p.from + 1
		      then .bad = "bad or misplaced gap \($p) after seq \(.prev)"
		      else .prev = $p.to end
		elif ($e.seq | type) != "number" or $e.seq <= .prev then
		    .bad = "seq \($e.seq) after \(.prev)"
		else .prev = $e.seq end)) as $order
	    | ($every - $got) as $lost
	    | ([$lost[] as $s | select(any($gaps[];
		.payload.from <= $s and $s <= .payload.to) | not)]
		| length) as $unexplained
	    | if $order.bad != null then $order.bad
	      elif ($gaps | length) == 0 then "no evbus.gap line"
	      elif ($got - $every | length) > 0 then
		"events not on the bus: \($got - $every | .[:5])"
	      elif $unexplained > 0 then
		"\($unexplained) events lost without a gap"
	      else "ok" end' 2>&1) || true
	if [ "$result" != '"ok"' ]; then
		echo "check_gaps $2: $result" >&2
		return 1
	fi
}

@test "100,000 events reach 3 subscribers complete and in seq order" {
	n=$EV_BIG
	start_bus -b 200000 -B 256M
	gen_events "$n" flow.n >"$T/in"
	for i in 1 2 3; do
		start_sub "$T/sub$i" --from 0 -c "$n" 'flow.#'
		eval "sub$i=\$SUB_PID"
	done
	run_ok evfire <"$T/in"
	for i in 1 2 3; do
		eval "finish \$sub$i 0 120"
	done
	# All three saw the same bytes, so checking one checks them all (jq
	# takes a second or two over 100,000 events).
	cmp "$T/sub1" "$T/sub2"
	cmp "$T/sub1" "$T/sub3"
	check_stream "$T/sub1" "$n" flow.n
}

@test "100,000 payload lines from one evfire reach 2 live evsub complete, in order" {
	n=$EV_BIG
	start_bus -b 200000 -B 256M
	# No -c: the readiness loop may publish more than one probe.
	start_sub "$T/sub1" 'live.#'
	start_sub "$T/sub2" 'live.#'
	# Both subscriptions are live once both have the probe.
	wait_for "evfire -q live.probe >/dev/null &&
	    [ -s '$T/sub1' ] && [ -s '$T/sub2' ]" 30
	run_ok evfire -n live.n < <(seq 1 "$n")
	# Each may have seen more than one probe: it waits for its count of
	# live.n lines, ignoring probes.
	for i in 1 2; do
		wait_for "[ \"\$(grep -c '\"live.n\"' '$T/sub$i')\" -ge $n ]" 120
		grep '"live.n"' "$T/sub$i" >"$T/n$i"
	done
	# The same bytes reached both: checking one checks both.
	cmp "$T/n1" "$T/n2"
	check_stream "$T/n1" "$n" live.n
}

@test "10 concurrent publishers: every event delivered once, each in its order" {
	start_bus
	start_sub "$T/sub" --from 0 -c 10000 'mp.#'
	sub=$SUB_PID
	pids=()
	for p in 0 1 2 3 4 5 6 7 8 9; do
		gen_events 1000 "mp.p$p" >"$T/in$p"
		EV_STDIN=$T/in$p start_bg "$T/fire$p" evfire
		pids+=("$BG_PID")
	done
	for pid in "${pids[@]}"; do
		finish "$pid" 0 120
	done
	finish "$sub" 0 120
	for p in 0 1 2 3 4 5 6 7 8 9; do
		grep "\"mp.p$p\"" "$T/sub" >"$T/p$p"
		check_stream "$T/p$p" 1000 "mp.p$p"
	done
}

@test "a SIGSTOPped subscriber holds up nobody; after CONT it gets a gap and goes on" {
	# Twice what the stopped reader can hold (the ring's 1000 and about
	# 1500 in its socket): enough to overrun it; more only takes longer.
	n=5000
	start_bus -b 1000
	start_sub "$T/fast" --from 0 'slow.#'
	fast=$SUB_PID
	start_sub "$T/slow" --from 0 'slow.#'
	slow=$SUB_PID
	run_ok evfire < <(gen_events 10 slow.pre)
	wait_lines "$T/fast" 10
	wait_lines "$T/slow" 10
	kill -STOP "$slow"
	# One evfire keeps publishing while one reader sleeps; it is fed in
	# chunks of 500 lines, each sent once the running reader has the last
	# one, so that the ring of 1000 can only overrun the stopped reader
	# however the machine schedules the running one.
	mkfifo "$T/in"
	EV_STDIN=$T/in start_bg "$T/fire" evfire -n slow.n
	fire=$BG_PID
	exec 8>"$T/in"
	for ((c = 0; c < n / 500; c++)); do
		seq $((c * 500 + 1)) $((c * 500 + 500)) >&8
		wait_lines "$T/fast" $((10 + (c + 1) * 500)) 60
	done
	exec 8>&-
	# Publishers are not held up: evfire is done while a reader sleeps.
	finish "$fire" 0 60
	kill -0 "$slow"
	rss=$(rss_kib "$BUS_PID")
	echo "evbusd VmRSS with a stopped subscriber: $rss KiB"
	if ev_instrumented; then
		[ "$rss" -lt 1048576 ] || fail "VmRSS $rss KiB"
	else
		[ "$rss" -lt 65536 ] || fail "VmRSS $rss KiB >= 64 MiB"
	fi
	kill -CONT "$slow"
	run_ok evfire < <(gen_events 3 slow.after)
	wait_lines "$T/fast" $((n + 13)) 60
	wait_grep "$T/slow" '"slow.after".*"payload":3' 60
	grep -q '"evbus.gap"' "$T/slow" || fail "no evbus.gap line"
	grep -c '"slow.after"' "$T/slow" | grep -qx 3
	check_stream <(grep '"slow.n"' "$T/fast") "$n" slow.n
	check_gaps "$T/fast" "$T/slow"
	# The gap names the overrun.
	run jq -r 'select(.name == "evbus.gap") | .payload.reason' "$T/slow"
	assert_line --index 0 overrun
}

@test "a burst larger than the ring reaches a caught-up subscriber whole" {
	# 400 events of ~150 bytes fit in the subscriber's socket buffer: a
	# daemon that writes to subscribers as it appends never overruns a
	# subscriber that had read everything, however it is scheduled.
	start_bus -b 100
	start_sub "$T/sub" --from 0 'burst.#'
	run_ok evfire burst.probe
	wait_lines "$T/sub" 1
	run_ok evfire -n burst.n < <(seq 1 400)
	wait_grep "$T/sub" '"payload":400' 30
	if grep -q '"evbus.gap"' "$T/sub"; then
		grep '"evbus.gap"' "$T/sub" >&2
		fail "a caught-up subscriber was overrun by one burst"
	fi
	grep '"burst.n"' "$T/sub" >"$T/n"
	check_stream "$T/n" 400 burst.n
}

@test "gap reporting: --from a seq the ring overwrote starts with evbus.gap" {
	start_bus -b 10
	run_ok evfire < <(gen_events 50 gp.n)
	start_sub "$T/sub" --from 1 'gp.#'
	wait_grep "$T/sub" '"payload":50'
	run jq -c 'select(.name == "evbus.gap") | .payload' "$T/sub"
	assert_equal "${#lines[@]}" 1
	run jq -se '
	    .[0].name == "evbus.gap" and .[0].payload.from == 1
	    and .[0].payload.to < .[1].seq and .[0].payload.seqs >= 40
	    and (.[1:] | map(.payload) | . == [range(50 - length + 1; 51)])
	    and (.[1:] | length) <= 10' "$T/sub"
	assert_success
}

@test "restart: evsub reports the new epoch; evfire across it loses and doubles nothing" {
	n=$EV_BIG
	start_bus -b 200000 -B 256M
	start_sub "$T/sub" --from 0 'rs.#'
	sub=$SUB_PID
	gen_events "$n" rs.n >"$T/events"
	mkfifo "$T/in"
	EV_STDIN=$T/in start_bg "$T/fire" evfire -w
	fire=$BG_PID
	cat "$T/events" >"$T/in" 3>&- &
	EV_PIDS+=("$!")
	# Take the bus away while the stream flows (or right after it).
	wait_lines "$T/sub" 1000 60
	stop_bus
	start_bus -b 200000 -B 256M
	finish "$fire" 0 120
	assert_equal "$(nlines "$T/fire")" "$n"
	run_ok evfire rs.zend
	wait_grep "$T/sub" '"rs.zend"' 60
	kill -0 "$sub"
	# One restart gap, after the last event of the old epoch, and every
	# line published exactly once across the two daemons: one pass of jq
	# (a second or two over 100,000 events) for both.
	run jq -sr --argjson n "$n" '
	    [.[] | select(.name == "evbus.gap")] as $gaps
	    | (map(.name == "evbus.gap") | index(true)) as $g
	    | if ($gaps | length) != 1 then "\($gaps | length) gaps: \($gaps)"
	      else .[$g].payload as $p
		| if ($p.reason == "restart"
		    and ($p.epoch | test("^[0-9a-f]{16}$"))
		    and ($p.previous_epoch | test("^[0-9a-f]{16}$"))
		    and $p.epoch != $p.previous_epoch
		    and ($g == 0 or $p.after == .[$g - 1].seq)) | not
		  then "not a restart gap after the old epoch: \($p)"
		  elif ([.[] | select(.name == "rs.n") | .payload] | sort)
		    != [range(1; $n + 1)]
		  then "the rs.n payloads are not 1..\($n), each once"
		  else "ok" end
	      end' "$T/sub"
	assert_output ok
}
