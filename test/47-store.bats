#!/usr/bin/env bats
# evbusd --store DIR: the durable bus.  Seqs, history and de-duplication go
# on across restarts and crashes; an acknowledged event is in the log
# exactly once and in order; a subscriber that resumes (evsub reconnects by
# itself) misses nothing and sees nothing twice; one behind the ring is
# served from the log; a full disk refuses events cleanly; durable
# subscriptions keep their cursors in the store.

load helper

# Rounds of kill -9 (make torture sets more).
ROUNDS=${EV_STORE_BUS_ROUNDS:-20}
[ "${EV_VALGRIND:-0}" = 1 ] && ROUNDS=${EV_STORE_BUS_ROUNDS:-5}

PROTO=$BATS_TEST_DIRNAME/proto.py

# payloads FILE: the payloads of the st.n events in FILE, one a line.
payloads() {
	jq -r 'select(.name == "st.n") | .payload' "$1"
}

# seqs_increase FILE: the seqs in FILE strictly increase.
seqs_increase() {
	jq -r .seq "$1" | sort -n -c -u
}

@test "evbusd --store: restarts with events before, during and after; the subscriber resumes, nothing lost or repeated; seq goes on" {
	local r n last
	start_bus --store "$T/log"
	start_sub "$T/sub" --from 0 'st.#'
	run_ok evfire -n st.n < <(seq 1 20 | sed 's/.*/&/')
	mkfifo "$T/in"
	EV_STDIN=$T/in start_bg "$T/acks" evfire -w
	fire=$BG_PID
	pace "$T/count" "$T/stop" st.n >"$T/in" 3>&- &
	EV_PIDS+=("$!")
	for ((r = 1; r <= 3; r++)); do
		wait_lines "$T/sub" $((r * 60))
		last=$(jq -s 'map(.seq) | max' "$T/sub")
		stop_bus
		start_bus --store "$T/log"
		# The seq goes on from the log.
		run_ok "$PROTO" "$BUS_SOCK" hello
		wait_for "[ \$(jq -s 'map(.seq) | max' '$T/sub') -gt $last ]"
	done
	touch "$T/stop"
	finish "$fire" 0 60
	n=$(cat "$T/count")
	wait_grep "$T/sub" "\"payload\":$n,"
	# Payloads: 1..20 fired before, then 1..n streamed; each once.
	assert_equal "$(payloads "$T/sub")" "$(seq 1 20; seq 1 "$n")"
	seqs_increase "$T/sub"
	run grep -c evbus.gap "$T/sub"
	assert_output 0
	assert_equal "$(grep -cE '^[0-9]+$' "$T/acks")" "$n"
	stop_bus
	run_ok evstore cat "$T/log" 'st.#'
	assert_equal "$(jq -r .payload <<<"$output")" "$(seq 1 20; seq 1 "$n")"
	run_ok evstore verify "$T/log"
}

@test "evbusd --store: kill -9 at random moments, $ROUNDS times: every acknowledged event in the log exactly once, in order; verify clean" {
	local r n k acked
	start_bus --store "$T/log"
	start_sub "$T/sub" --from 0 'st.#'
	mkfifo "$T/in"
	EV_STDIN=$T/in start_bg "$T/acks" evfire -w
	fire=$BG_PID
	pace "$T/count" "$T/stop" st.n >"$T/in" 3>&- &
	EV_PIDS+=("$!")
	for ((r = 1; r <= ROUNDS; r++)); do
		k=$((RANDOM % 40))
		wait_lines "$T/acks" $(( $(nlines "$T/acks") + 1 + k ))
		crash_bus
		start_bus --store "$T/log"
	done
	wait_lines "$T/acks" $(( $(nlines "$T/acks") + 5 ))
	touch "$T/stop"
	finish "$fire" 0 60
	n=$(cat "$T/count")
	wait_grep "$T/sub" "\"payload\":$n,"
	acked=$(grep -cE '^[0-9]+$' "$T/acks")
	assert_equal "$acked" "$n"
	stop_bus
	run_ok evstore verify "$T/log"
	run_ok evstore cat "$T/log" 'st.#'
	printf '%s\n' "$output" >"$T/cat"
	# Every event evfire got an ACK for, once, in order, and no other.
	assert_equal "$(payloads "$T/cat")" "$(seq 1 "$n")"
	seqs_increase "$T/cat"
	# Every acknowledged seq names the event in the log.
	[ "$(jq -r .seq "$T/cat" | sort -n)" = "$(grep -E '^[0-9]+$' "$T/acks" | sort -n -u)" ] ||
	    fail "acknowledged seqs are not the logged ones"
	# The subscriber, across every crash: the same, no gap.
	assert_equal "$(payloads "$T/sub")" "$(seq 1 "$n")"
	run grep -c evbus.gap "$T/sub"
	assert_output 0
}

@test "evbusd --store: de-duplication by id across a restart; --last after a restart" {
	start_bus --store "$T/log"
	run_ok evfire -n st.n < <(seq 1 5)
	run_ok evfire -w --id fixed-1 st.once 1
	first=$output
	stop_bus
	start_bus --store "$T/log"
	run_ok evfire -w --id fixed-1 st.once 2
	assert_equal "$output" "$first"
	[[ $stderr == *"already on the bus (same id)"* ]] || fail "stderr: $stderr"
	run_ok evsub --last 3 -c 3 st.n
	assert_equal "$(jq -c .payload <<<"$output")" "$(printf '3\n4\n5')"
	run_ok evstore cat "$T/log" st.once
	assert_equal "$(jq -c .payload <<<"$output")" 1
}

@test "evbusd --store: a second evbusd on the same store fails at once (75); a torn tail is cut and reported at start" {
	start_bus --store "$T/log"
	run_ok evfire -n st.n < <(seq 1 5)
	run_fails 75 evbusd -s "$T/sock2" --store "$T/log"
	[[ $stderr == "evbusd: --store: $T/log: in use by another writer (pid $BUS_PID)"* ]] ||
	    fail "stderr: $stderr"
	crash_bus
	seg=$(ls "$T"/log/*.seg)
	truncate -s -7 "$seg"
	start_bus --store "$T/log"
	grep -q 'torn tail' "$BUS_ERR" || fail "no report: $(cat "$BUS_ERR")"
	# The cut event was the last: the next one takes its seq.
	run_ok evsub --from 0 -c 4 st.n
	assert_equal "$(jq -c .payload <<<"$output")" "$(seq 1 4)"
	run_ok evfire -w st.n 6
	last=$output
	run_ok evstore cat "$T/log" -n 1
	assert_equal "$(jq .seq <<<"$output")" "$last"
}

@test "evbusd --store: a subscriber far behind a small ring (-b 10) is served from the log: every seq, no gap" {
	start_bus -b 10 --store "$T/log"
	start_sub "$T/sub" 'st.n' st.end
	wait_for "evfire -q st.end 2>/dev/null; grep -q st.end '$T/sub'"
	kill -STOP "$SUB_PID"
	run_ok evfire -n st.n < <(seq 1 2990)
	run_ok evfire st.end
	kill -CONT "$SUB_PID"
	wait_for "[ \$(grep -c st.end '$T/sub') -ge 2 ]"
	assert_equal "$(payloads "$T/sub")" "$(seq 1 2990)"
	seqs_increase "$T/sub"
	run grep -c evbus.gap "$T/sub"
	assert_output 0
	# --from any retained seq, far before the ring.
	first=$(jq -r 'select(.name == "st.n") | .seq' "$T/sub" | head -n 1)
	run_ok evsub --from $((first + 100)) -c 5 st.n
	assert_equal "$(jq -c .payload <<<"$output")" "$(seq 101 105)"
	run_ok evsub --last 2 -c 2 st.n
	assert_equal "$(jq -c .payload <<<"$output")" "$(seq 2989 2990)"
	# --last and since reach back into the log.
	run_ok evsub --last 1000 -c 3 st.n
	assert_equal "$(jq -c .payload <<<"$output")" "$(seq 1991 1993)"
	awk 'BEGIN { for (i = 1; i <= 100; i++)
		printf "{\"name\":\"st.t\",\"payload\":%d,\"time\":%d}\n", i, 1000000 + i }' |
	    evfire -q
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.t"],"since":1000050}' read 2
	assert_equal "${lines[2]#* }" "st.t 50"
	assert_equal "${lines[3]#* }" "st.t 51"
}

# full_disk DIR: a tmpfs of 1 MiB at DIR when mounting is allowed (sets
# MOUNTED), else nothing (the caller limits the file size instead).
full_disk() {
	mkdir -p "$1"
	MOUNTED=
	if mount -t tmpfs -o size=4m tmpfs "$1" 2>/dev/null; then
		MOUNTED=$1
	fi
}

teardown() {
	ev_teardown
	local st=$?
	[ -z "${MOUNTED:-}" ] || umount "$MOUNTED"
	return $st
}

@test "evbusd --store: a full disk fails cleanly: what was not durable is refused (ERR state store), never acknowledged" {
	local how
	full_disk "$T/disk"
	if [ -n "$MOUNTED" ]; then
		how="tmpfs"
		start_bus --store "$T/disk/log"
	else
		how="ulimit -f"
		mkdir -p "$T/lim"
		printf '#!/bin/bash\nulimit -f 4096\nexec "%s/evbusd" "$@"\n' \
		    "$EV_BIN" >"$T/lim/evbusd"
		chmod +x "$T/lim/evbusd"
		EV_BIN=$T/lim start_bus --store "$T/disk/log"
	fi
	# 1 KiB events, more than fit.
	awk 'BEGIN { p = sprintf("%01000d", 0)
		for (i = 1; i <= 6000; i++)
			printf "{\"name\":\"st.n\",\"payload\":{\"i\":%d,\"pad\":\"%s\"}}\n", i, p }' >"$T/in"
	run_fails 1 evfire -w <"$T/in"
	printf '%s\n' "$output" >"$T/acks"
	acked=$(grep -cE '^[0-9]+$' "$T/acks")
	[ "$acked" -gt 0 ] && [ "$acked" -lt 6000 ] ||
	    fail "$acked of 6000 acknowledged ($how)"
	[[ $stderr == *"the bus refused it (state): store: "* ]] ||
	    fail "stderr: ${stderr:0:500}"
	grep -q 'every PUB is refused until evbusd is restarted' "$BUS_ERR" ||
	    fail "not logged: $(cat "$BUS_ERR")"
	# Refused from now on; the bus still answers everything else.
	run_fails 65 evfire -w st.more 1
	[[ $stderr == *"(state): store: "* ]] || fail "stderr: $stderr"
	run_ok "$PROTO" "$BUS_SOCK" hello ping raw STATS read 1
	assert_line PONG
	[[ $(jq -r .store.failed <<<"${lines[2]}") == *"/log/"*": write: "* ]] ||
	    fail "STATS: ${lines[2]}"
	stop_bus
	# What was acknowledged is there, in order; nothing after the
	# failure was acknowledged.
	run_ok evstore cat "$T/disk/log" st.n
	printf '%s\n' "$output" >"$T/cat"
	[ "$(jq -r .payload.i "$T/cat" | head -n "$acked")" = "$(seq 1 "$acked")" ] ||
	    fail "the acknowledged events are not the log's first"
	assert_equal "$(grep -E '^[0-9]+$' "$T/acks")" \
	    "$(jq -r .seq "$T/cat" | head -n "$acked")"
	echo "# full disk by $how: $acked of 6000 acknowledged, $(nlines "$T/cat") in the log" >&3
}

@test "durable subscriptions: SUB durable and CURSOR, resumed after the last confirmed seq, across a restart; one consumer a name" {
	start_bus
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.#"],"durable":"job"}'
	assert_line 'ERR state durable: this bus has no store (evbusd --store)'
	refute_line --partial durable,
	stop_bus
	start_bus --store "$T/log"
	run_ok evfire -n st.n < <(seq 1 5)
	# A new name starts at the oldest event retained.
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.#"],"durable":"job"}' \
	    read 3 cursor 3 cursor 4 ping
	assert_output "$(printf '%s\n' \
	    'features=pub,sub,ping,ack-dup,sub-end,sub-since,max-depth,target,stats,sync,announce,where,session,durable' \
	    'OK 6' '2 st.n 1' '3 st.n 2' '4 st.n 3' '5 st.n 4' '6 st.n 5' PONG)"
	# Resumed after 4, the last confirmed, whatever "from" says.
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.#"],"durable":"job","from":1}' \
	    read 2 ping
	assert_output "$(printf '%s\n' "${lines[0]}" 'OK 8' '5 st.n 4' '6 st.n 5' PONG)"
	wait_for "[ \"\$(cat $T/log/cursors/job 2>/dev/null)\" = 4 ]"
	# Confirming what was not sent, or without a durable name, is refused.
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.#"],"durable":"job"}' \
	    read 2 cursor 99999 ping
	assert_line 'ERR data CURSOR 99999: beyond what was sent (10)'
	run_ok "$PROTO" "$BUS_SOCK" hello cursor 1 ping
	assert_line 'ERR state CURSOR: this connection has no durable subscription'
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"durable":"../x"}'
	assert_line --partial 'ERR data durable: not a name'
	# One consumer a name at a time.
	mkfifo "$T/hold"
	"$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.#"],"durable":"job"}' \
	    read 2 cursor 6 ping wait >"$T/first" <"$T/hold" &
	first=$!
	EV_PIDS+=("$first")
	exec 8>"$T/hold"
	wait_lines "$T/first" 5
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.#"],"durable":"job"}'
	assert_line "ERR state durable: 'job' is in use"
	run_ok "$PROTO" "$BUS_SOCK" hello raw STATS read 1
	assert_equal "$(jq -c '.store | [.durable, .failed, .sync, .durable_seq > 0]' <<<"${lines[1]}")" \
	    '[["job"],null,"batch",true]'
	exec 8>&-
	finish "$first" 0
	# The cursor survives a restart.
	stop_bus
	assert_equal "$(cat "$T/log/cursors/job")" 6
	start_bus --store "$T/log"
	run_ok evfire st.n 6
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.n"],"durable":"job"}' read 1
	assert_line --index 2 --regexp '^[0-9]+ st.n 6$'
	# A new name with "last" starts there.
	run_ok "$PROTO" "$BUS_SOCK" hello sub '{"patterns":["st.n"],"durable":"late","last":2}' read 2
	assert_equal "${lines[2]#* }" "st.n 5"
	assert_equal "${lines[3]#* }" "st.n 6"
}

@test "evbusd --store: a directory others may write to, or another user's, is refused (77); a new one is private" {
	mkdir -m 0777 "$T/ww"
	run_fails 77 evbusd -s "$T/sock" --store "$T/ww"
	assert_equal "$stderr" "evbusd: --store: $T/ww: must be ours and writable by us alone (owner uid 0, mode 0777)"
	mkdir -m 0700 "$T/theirs"
	chown 65534 "$T/theirs"
	run_fails 77 evbusd -s "$T/sock" --store "$T/theirs"
	start_bus --store "$T/new"
	run_ok evfire -w st.n 1
	stop_bus
	assert_equal "$(stat -c %a "$T/new")" 700
	run find "$T/new" -type f -perm /077
	assert_output ""
}

@test "evbusd --store: --since reaches into the log when the ring holds none of the subscription's events" {
	start_bus --store "$T/log" -b 16
	run_ok evfire -n public.p < <(seq 1 40)
	run_ok evfire -n other.o < <(seq 1 20)
	run_ok evsub --since 1h -c 40 'public.#'
	assert_equal "$(jq -r .payload <<<"$output")" "$(seq 1 40)"
}

@test "evbusd --sync without --store is a usage error (64)" {
	run_fails 64 evbusd -s "$T/sock" --sync always
	assert_equal "${stderr%%$'\n'*}" "evbusd: --sync is the store's policy: give --store dir too"
}
