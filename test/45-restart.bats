#!/usr/bin/env bats
# kill -9 of evbusd while evfire streams, many times over: what a subscriber
# prints is as true as a crash allows.
#
# What is true, and asserted.  One evfire publishes payloads 1, 2, 3, ... in
# order; each daemon numbers what it gets in order, and evfire resends, in
# order, what the dead daemon had not acknowledged.  So the subscriber's
# events, across all daemons, have strictly increasing payloads: nothing
# twice (a resent copy of an event it printed is dropped by its
# de-duplication window), nothing out of order.  Events go missing only in
# a crash: the dead daemon had acknowledged them, so evfire did not resend
# them, but had not yet written them to the subscriber.  Every such hole
# therefore lies at a restart line: between the last event printed from the
# old daemon and the first from the new one; a hole anywhere else fails.
# Each restart line names the new daemon's epoch (as its evbus.started
# event, which the subscriber also prints, says), the previous one, and
# after, at least the seq of the last event printed from the old daemon
# (more when the last it received were copies it dropped).  evfire exits 0
# with every event acknowledged, by one daemon or another, and the
# subscriber's last event is the last published: after the last restart
# nothing is lost.
#
# A copy arises when the old daemon delivered an event and died before
# its acknowledgement was written: a window of microseconds, which 50
# kills hit a few times at best.  So that every round tests the
# de-duplication, each also does what evfire does when that happens: it
# publishes to the new daemon, with their ids, a few events the subscriber
# printed from the old one.  A second subscriber without the window shows
# that the copies do reach subscribers.

load helper

# Rounds of kill -9 in the first test; fewer under valgrind.
if [ "${EV_VALGRIND:-0}" = 1 ]; then
	ROUNDS=${EV_RESTART_ROUNDS:-8}
else
	ROUNDS=${EV_RESTART_ROUNDS:-50}
fi

# check_restarts FILE N KILLS: FILE, a subscriber's output (rs.n events,
# the daemons' evbus.started, restart lines), is as described at the top,
# with payloads up to N and KILLS restart lines.  Prints "ok HOLES LOST"
# (the holes at restart lines and the events in them), or what is wrong.
check_restarts() {
	jq -rn --argjson n "$2" --argjson kills "$3" '
	def bad($m): if .bad == null then .bad = "line \(.i): \($m)" else . end;
	reduce inputs as $e (
	    {i: 0, p: 0, seq: 0, epoch: null, restart: false, started: false,
	     nres: 0, holes: 0, lost: 0, ids: {}, bad: null};
	    if .bad != null then . else
	    .i += 1
	    | if $e.name == "evbus.gap" then
		if $e.payload.reason != "restart" then bad("a gap: \($e.payload)")
		elif ($e | has("seq")) or ($e | keys_unsorted[0]) != "id"
		  then bad("a restart line must begin with its id, no seq")
		elif $e.payload.previous_epoch != .epoch
		  then bad("previous_epoch \($e.payload.previous_epoch), was following \(.epoch)")
		elif $e.payload.epoch == .epoch then bad("restart to the same epoch")
		elif $e.payload.after < .seq
		  then bad("after \($e.payload.after), last seq printed \(.seq)")
		else .epoch = $e.payload.epoch | .seq = 0 | .restart = true
		  | .started = false | .nres += 1 end
	      elif $e.name == "evbus.started" then
		if .started then bad("a second evbus.started without a restart line")
		elif .epoch != null and $e.payload.epoch != .epoch
		  then bad("daemon \($e.payload.epoch) after a restart line for \(.epoch)")
		elif $e.seq != 1 then bad("evbus.started with seq \($e.seq)")
		else .epoch = $e.payload.epoch | .seq = 1 | .started = true end
	      elif $e.name == "rs.n" then
		if .started | not then bad("an event before its daemon started")
		elif .ids[$e.id] then bad("id \($e.id) printed twice")
		elif $e.payload <= .p then bad("payload \($e.payload) after \(.p)")
		elif $e.seq <= .seq then bad("seq \($e.seq) after \(.seq)")
		elif $e.payload > .p + 1 and (.restart | not)
		  then bad("payloads \(.p + 1)..\($e.payload - 1) missing, no restart line")
		else (if $e.payload > .p + 1 then .holes += 1
		      | .lost += $e.payload - .p - 1 else . end)
		  | .ids[$e.id] = true | .p = $e.payload | .seq = $e.seq
		  | .restart = false end
	      else bad("unexpected \($e.name)") end
	    end)
	| if .bad != null then .bad
	  elif .nres != $kills then "\(.nres) restart lines, want \($kills)"
	  elif .p != $n then "last payload \(.p), want \($n)"
	  else "ok \(.holes) \(.lost)" end' <"$1"
}

# Say something in the TAP output (bats shows fd 3 as comments).
note() {
	echo "# $*" >&3
}

@test "kill -9 of evbusd under a streaming evfire, $ROUNDS times: nothing printed twice, losses only at restart lines" {
	local r k j base printed t0 times=() n result dups sorted injected=0
	start_bus
	start_sub "$T/sub" --from 0 'rs.#' evbus.started
	sub=$SUB_PID
	# The same without de-duplication: what the window saves it from.
	start_sub "$T/raw" --from 0 --dedup-window 0 'rs.#'
	raw=$SUB_PID
	wait_lines "$T/sub" 1
	mkfifo "$T/in"
	EV_STDIN=$T/in start_bg "$T/acks" evfire -w
	fire=$BG_PID
	pace "$T/count" "$T/stop" rs.n >"$T/in" 3>&- &
	EV_PIDS+=("$!")
	base=1
	for ((r = 1; r <= ROUNDS; r++)); do
		t0=$(ev_now_ms)
		# Until some events have come from this daemon (4 at least
		# after its evbus.started), so that the kill hits the stream.
		k=$((5 + RANDOM % 36))
		wait_lines "$T/sub" $((base + k)) 30
		printed=$(nlines "$T/sub")
		crash_bus
		start_bus
		# Copies of events printed before the crash, as a publisher
		# whose acknowledgements died with the daemon sends them again.
		j=$((1 + RANDOM % 8))
		head -n "$printed" "$T/sub" | grep '"name":"rs.n"' |
		    tail -n "$j" >"$T/copies"
		injected=$((injected + $(nlines "$T/copies")))
		run_ok evfire <"$T/copies"
		# A subscriber is on the new daemon once its restart line is.
		wait_for "[ \"\$(grep -c '\"reason\":\"restart\"' '$T/sub')\" -ge $r ]" 30
		wait_for "[ \"\$(grep -c '\"reason\":\"restart\"' '$T/raw')\" -ge $r ]" 30
		base=$(nlines "$T/sub")
		times+=($(( $(ev_now_ms) - t0 )))
	done
	wait_lines "$T/sub" $((base + 5)) 30
	touch "$T/stop"
	finish "$fire" 0 60
	n=$(cat "$T/count")
	# Every event acknowledged, by one daemon or another: a seq each.
	assert_equal "$(grep -cE '^[0-9]+$' "$T/acks")" "$n"
	assert_equal "$(nlines "$T/acks")" "$n"
	wait_grep "$T/sub" "\"payload\":$n," 30
	kill -0 "$sub"
	kill -0 "$raw"
	result=$(check_restarts "$T/sub" "$n" "$ROUNDS")
	[[ $result == ok\ * ]] || fail "check_restarts: $result"
	dups=$(jq -sr '[.[] | select(.name == "rs.n") | .id]
	    | length - (unique | length)' "$T/raw")
	[ "$dups" -gt 0 ] || fail "no copy reached the subscriber without a window"
	sorted=$(printf '%s\n' "${times[@]}" | sort -n)
	note "$n events, $ROUNDS kills; holes/lost at restart lines:" \
	    "${result#ok }; copies published: $injected; printed twice" \
	    "without the window: $dups"
	note "ms per round: min $(head -n 1 <<<"$sorted")," \
	    "median $(sed -n "$(( (ROUNDS + 1) / 2 ))p" <<<"$sorted")," \
	    "max $(tail -n 1 <<<"$sorted"); all: ${times[*]}"
}

@test "a crash while the subscriber is stopped: the events lost lie at its restart line, and the check finds a hole anywhere else" {
	local result n=20000
	start_bus
	start_sub "$T/sub" --from 0 'rs.#' evbus.started
	sub=$SUB_PID
	run_ok evfire rs.n 1
	wait_lines "$T/sub" 2
	# The daemon acknowledges what it cannot write to a stopped
	# subscriber (publishers never wait for subscribers): 3 MB, more
	# than a socket holds.  Then it dies with the rest.
	kill -STOP "$sub"
	run_ok evfire -n rs.n < <(seq 2 $((n - 1)))
	crash_bus
	start_bus
	kill -CONT "$sub"
	run_ok evfire rs.n "$n"
	wait_grep "$T/sub" "\"payload\":$n," 30
	result=$(check_restarts "$T/sub" "$n" 1)
	[[ $result =~ ^ok\ 1\ ([0-9]+)$ ]] ||
	    fail "want one hole at the restart line: $result"
	[ "${BASH_REMATCH[1]}" -gt 0 ] || fail "nothing was lost: $result"
	note "lost in the crash: ${BASH_REMATCH[1]} of $n"
	# The check is not blind: a hole without a restart line, a copy,
	# an event out of order, a restart line too many all fail it.
	grep -v '"payload":2,' "$T/sub" >"$T/hole"
	result=$(check_restarts "$T/hole" "$n" 1)
	[[ $result == *"missing, no restart line"* ]] || fail "hole: $result"
	sed -n '3p' "$T/sub" >"$T/copy"
	sed '3r '"$T/copy" "$T/sub" >"$T/twice"
	result=$(check_restarts "$T/twice" "$n" 1)
	[[ $result == *"twice"* ]] || fail "copy: $result"
	# Payload 3 before 2: at 3, 2 is missing.
	awk 'NR == 3 { held = $0; next } { print } NR == 4 { print held }' \
	    "$T/sub" >"$T/swapped"
	result=$(check_restarts "$T/swapped" "$n" 1)
	[[ $result == "line 3: payloads 2..2 missing, no restart line" ]] ||
	    fail "out of order: $result"
	result=$(check_restarts "$T/sub" "$n" 2)
	[[ $result == "1 restart lines, want 2" ]] || fail "count: $result"
}
