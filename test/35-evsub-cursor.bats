#!/usr/bin/env bats
# evsub's durable consumption from the command line: --cursor-file (resume,
# exactly once across kill -9, another epoch, a garbled file), --drain (with
# filters that hide the end, with -c, live), --durable against a bus
# without a store, and the options that exclude each other.  The wire side
# of --durable (CURSOR lines) is in test/unit/t_subscribe.c.

load helper

# The seqs of the events in FILE or standard input (lines starting
# {"seq":N), one a line.
seqs() {
	sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$@"
}

# The epoch of the running bus.
bus_epoch() {
	evsub --from 0 -c 1 'evbus.#' | jq -r '.payload.epoch // empty' |
	    head -n 1
}

# --- usage ------------------------------------------------------------------

@test "evsub --cursor-file, --durable: the options that exclude each other (64)" {
	start_bus
	run_fails 64 evsub --cursor-file "$T/c" --from 1
	assert_equal "$stderr" "evsub: --cursor-file excludes --from, --last and --since"
	run_fails 64 evsub --cursor-file "$T/c" --last 3
	assert_equal "$stderr" "evsub: --cursor-file excludes --from, --last and --since"
	run_fails 64 evsub --cursor-file "$T/c" --durable x
	assert_equal "$stderr" "evsub: --cursor-file and --durable exclude each other"
	run_fails 64 evsub --durable 'a b' --drain
	assert_equal "$stderr" "evsub: durable name 'a b': 1 to 64 letters, digits, '.', '_' or '-'"
	[ ! -e "$T/c" ] || fail "a refused command wrote the cursor file"
}

@test "evsub --cursor-file: a garbled or unreadable file is bad data (65), left as it is" {
	start_bus
	evfire a.b 1
	for bad in 'garbage' '' '0123456789abcdef' '0123456789abcdef x' \
	    '0123456789ABCDEF 3' '0123456789abcdef 3 4' '0123456789abcde 3'; do
		printf '%s\n' "$bad" >"$T/c"
		run_fails 65 evsub --cursor-file "$T/c" --drain
		assert_equal "$stderr" "evsub: --cursor-file: $T/c: not a cursor file (one line: the bus's epoch, 16 hex digits, a space and a seq)"
		assert_output ''
		assert_equal "$(cat "$T/c")" "$bad"
	done
	printf '0123456789abcdef 3' >"$T/c"	# no newline
	run_fails 65 evsub --cursor-file "$T/c" --drain
	mkdir "$T/d"
	run_fails 65 evsub --cursor-file "$T/d" --drain
	assert_equal "$stderr" "evsub: --cursor-file: $T/d: Is a directory"
}

# --- resuming ---------------------------------------------------------------

@test "evsub --cursor-file --drain: the cron job -- everything since its last run, once" {
	start_bus
	printf '%s\n' 1 2 3 | evfire -n job.x
	evfire other.y 0
	# A new file starts at the oldest event; the drain ends at the end.
	run_ok evsub --cursor-file "$T/c" --drain 'job.#'
	assert_equal "$(jq -c .payload <<<"$output" | tr '\n' ' ')" '1 2 3 '
	epoch=$(bus_epoch)
	last=$(jq .seq <<<"${lines[2]}")
	# The drain covered up to the bus's newest at its start (the bus's
	# own events after the last job.x, other.y too): the file says so.
	[[ $(cat "$T/c") =~ ^$epoch\ ([0-9]+)$ ]] || fail "file: $(cat "$T/c")"
	[ "${BASH_REMATCH[1]}" -ge "$((last + 1))" ] ||
	    fail "the file says ${BASH_REMATCH[1]}, the last job.x is $last"
	# Nothing new: nothing printed, still 0.
	run_ok evsub --cursor-file "$T/c" --drain 'job.#'
	assert_output ''
	printf '%s\n' 4 5 | evfire -n job.x
	run_ok evsub --cursor-file "$T/c" --drain 'job.#'
	assert_equal "$(jq -c .payload <<<"$output" | tr '\n' ' ')" '4 5 '
	run_ok evsub --cursor-file "$T/c" --drain 'job.#'
	assert_output ''
	# The file is replaced atomically: no temporary file is left.
	[ ! -e "$T/c.tmp" ] || fail "c.tmp left behind"
}

@test "evsub --cursor-file: resumes after the seq in the file, on the same bus" {
	start_bus
	printf '%s\n' 1 2 3 4 5 | evfire -n r.x
	all=$(evsub --from 0 --drain 'r.#')
	third=$(sed -n 3p <<<"$all" | jq .seq)
	echo "$(bus_epoch) $third" >"$T/c"
	run_ok evsub --cursor-file "$T/c" --drain 'r.#'
	assert_equal "$output" "$(sed -n '4,5p' <<<"$all")"
	assert_equal "$stderr" ''
	[ "$(cut -d' ' -f2 "$T/c")" -ge "$(tail -n 1 <<<"$all" | jq .seq)" ] ||
	    fail "file: $(cat "$T/c")"
}

@test "evsub --cursor-file: another epoch means a bus restarted without a store: said, then from its oldest" {
	start_bus
	printf '%s\n' 1 2 | evfire -n e.x
	echo "0000000000000001 40" >"$T/c"
	epoch=$(bus_epoch)
	run_ok evsub --cursor-file "$T/c" --drain 'e.#'
	assert_equal "$stderr" "evsub: $T/c: the bus has restarted without a store (epoch 0000000000000001, now $epoch): going on from its oldest event"
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -c '[.name, .payload.reason, .payload.previous_epoch, .payload.epoch, .payload.after]' <<<"${lines[0]}")" \
	    "[\"evbus.gap\",\"restart\",\"0000000000000001\",\"$epoch\",40]"
	assert_equal "$(jq -c .payload <<<"${lines[1]}${lines[2]}" | tr '\n' ' ')" '1 2 '
	[[ $(cat "$T/c") == "$epoch "* ]] || fail "file: $(cat "$T/c")"
	# -q: the same, without the message.
	echo "0000000000000001 40" >"$T/c"
	run_ok evsub -q --cursor-file "$T/c" --drain 'e.#'
	assert_equal "$stderr" ''
}

@test "evsub --cursor-file: kill -9 at random moments while events flow: nothing lost, a repeat only of the last batch" {
	rounds=${EVBUS_TORTURE_ROUNDS:-4}
	start_bus
	# A producer publishing all the while, a few events at a time, so
	# that the kills land while events flow; it stops after the rounds.
	mkfifo "$T/feed"
	"$EV_BIN/evfire" -n k.x <"$T/feed" 2>"$T/fire.err" &
	fire=$!
	EV_PIDS+=("$fire")
	(i=0; while :; do
		echo $((i += 1))
		[ $((i % 10)) -ne 0 ] || sleep 0.01
	done) >"$T/feed" &
	gen=$!
	EV_PIDS+=("$gen")
	for r in $(seq "$rounds"); do
		start_sub "$T/out.$r" --cursor-file "$T/c" 'k.#'
		want=$(( RANDOM % 30 + 1 ))
		wait_lines "$T/out.$r" "$want"
		kill -9 "$SUB_PID"
		wait "$SUB_PID" 2>/dev/null || true
		cp "$T/c" "$T/c.$r" 2>/dev/null || : >"$T/c.$r"
	done
	kill "$gen"
	wait "$fire" || fail "the producer failed: $(cat "$T/fire.err")"
	run_ok evsub --cursor-file "$T/c" --drain 'k.#'
	printf '%s\n' "$output" >"$T/out.final"
	all=$(evsub --from 0 --drain 'k.#' | seqs)
	n=$(wc -l <<<"$all")
	[ "$n" -ge "$rounds" ] || fail "only $n events"
	# Each round: the file never names a seq not printed; the next round
	# starts right after the file's seq; what it prints again is the
	# previous round's last lines.
	repeats=0
	prev=
	for r in $(seq "$rounds") final; do
		got=$(seqs "$T/out.$r")
		if [ -n "$prev" ] && [ -n "$got" ]; then
			cur=$(cut -d' ' -f2 "$T/c.$pr")
			if [ -n "$cur" ]; then
				expect=$(awk -v c="$cur" '$1 > c' <<<"$all" | head -n 1)
			else
				expect=$(head -n 1 <<<"$all")
			fi
			assert_equal "$(head -n 1 <<<"$got")" "$expect"
		fi
		if [ "$r" != final ] && [ -s "$T/c.$r" ]; then
			last=$(tail -n 1 <<<"$got")
			[ "$(cut -d' ' -f2 "$T/c.$r")" -le "$last" ] ||
			    fail "round $r: the file says $(cat "$T/c.$r"), the last printed is $last"
			k=$(awk -v c="$(cut -d' ' -f2 "$T/c.$r")" '$1 > c' <<<"$got" | wc -l)
			repeats=$((repeats + k))
		fi
		prev=$got
		pr=$r
	done
	# Everything printed, in order, once apart from those repeats.
	cat $(for r in $(seq "$rounds") final; do echo "$T/out.$r"; done) |
	    seqs >"$T/printed"
	assert_equal "$(awk '!seen[$1]++' "$T/printed")" "$all"
	assert_equal "$(wc -l <"$T/printed")" "$((n + repeats))"
	echo "# $rounds kills, $repeats events repeated" >&3
}

# --- drain -------------------------------------------------------------------

@test "evsub --drain: exits 0 once caught up, when filters hide the newest events too" {
	start_bus
	printf '%s\n' 1 2 3 | evfire -n d.x
	printf '%s\n' 9 9 | evfire -n other.y
	run_ok evsub --from 0 --drain 'd.#'
	assert_equal "$(jq -c .payload <<<"$output" | tr '\n' ' ')" '1 2 3 '
	run_ok evsub --last 2 --drain 'd.#'
	assert_equal "$(jq -c .payload <<<"$output" | tr '\n' ' ')" '2 3 '
	# Nothing matches at all.
	run_ok evsub --from 0 --drain 'nothing.#'
	assert_output ''
	# Live: nothing to replay, done at once.
	run_ok evsub --drain '#'
	assert_output ''
}

@test "evsub --drain: -c and --idle keep their meaning" {
	start_bus
	printf '%s\n' 1 2 3 4 | evfire -n c.x
	run_ok evsub --from 0 --drain -c 2 'c.#'
	assert_equal "$(jq -c .payload <<<"$output" | tr '\n' ' ')" '1 2 '
	run_ok evsub --from 0 --drain -c 10 'c.#'
	assert_equal "${#lines[@]}" 4
	run_ok evsub --from 0 --drain --idle 20s 'c.#'
	assert_equal "${#lines[@]}" 4
	# Drained before an event can be late: --first does not fire.
	run_ok evsub --drain --first 20s 'c.#'
	assert_output ''
}

@test "evsub --drain: events that keep coming are not waited for, nor printed" {
	start_bus
	printf '%s\n' 1 2 | evfire -n p.x
	# A producer that never stops: the drain still ends, at the OK's end.
	(i=0; while :; do echo $((i += 1)); sleep 0.005; done |
	    "$EV_BIN/evfire" -n p.live) 2>/dev/null &
	EV_PIDS+=("$!")
	wait_for "[ \"\$(evsub --from 0 -c 3 'p.live' | wc -l)\" -ge 3 ]"
	run_ok evsub --from 0 --drain 'p.#'
	[ "${#lines[@]}" -ge 5 ] || fail "only ${#lines[@]} lines"
	# What it printed is the start of what the bus has, in order.
	assert_equal "$output" "$(evsub --from 0 -c "${#lines[@]}" 'p.#')"
}

# --- durable, against a bus without a store -----------------------------------

@test "evsub --durable: a bus without a store says so (69)" {
	start_bus
	run_fails 69 evsub --durable nightly --drain 'backup.#'
	assert_equal "$stderr" "evsub: the bus at $EVBUS_SOCKET keeps no durable subscriptions (it needs evbusd --store)"
	assert_output ''
}

# --- evsub(1) EXAMPLES ---------------------------------------------------------

@test "EXAMPLES: evsub --cursor-file ~/.cache/backup.cur --drain 'backup.#' | ./report, run after run" {
	export HOME=$T/home
	mkdir -p "$HOME/.cache"
	printf '#!/bin/sh\njq -c .payload\n' >"$T/report"
	chmod +x "$T/report"
	start_bus
	printf '%s\n' 1 2 | evfire -n backup.done
	run_ok bash -c "cd '$T' && evsub --cursor-file ~/.cache/backup.cur --drain 'backup.#' | ./report"
	assert_output "$(printf '1\n2')"
	evfire backup.done 3
	evfire other.thing 4
	run_ok bash -c "cd '$T' && evsub --cursor-file ~/.cache/backup.cur --drain 'backup.#' | ./report"
	assert_output 3
	# The durable form needs a bus with a store (evbusd --store).
	run_fails 69 bash -c "cd '$T' && evsub --durable nightly --drain 'backup.#' | ./report; exit \${PIPESTATUS[0]}"
}

@test "EXAMPLES: evsub --cursor-file ~/.cache/x.cur '#' resumes where it stopped" {
	export HOME=$T/home
	mkdir -p "$HOME/.cache"
	start_bus
	printf '%s\n' 1 2 3 | evfire -n x.y
	run_ok evsub --cursor-file ~/.cache/x.cur -c 2 '#'
	assert_equal "$(jq -c .payload <<<"$output" | tr '\n' ' ')" '1 2 '
	run_ok evsub --cursor-file ~/.cache/x.cur -c 1 '#'
	assert_equal "$(jq -c .payload <<<"$output")" 3
}

@test "evsub --cursor-file never writes through a link planted at FILE.tmp" {
	start_bus
	echo KEEP >"$T/victim"
	ln -s "$T/victim" "$T/cur.tmp"
	run_ok evfire -w c.one
	run_ok evsub --cursor-file "$T/cur" -c 1 'c.#'
	assert_equal "$(cat "$T/victim")" KEEP
	[ ! -L "$T/cur" ] || fail "the cursor file is a link"
	run cat "$T/cur"
	assert_output --regexp '^[0-9a-f]{16} [0-9]+$'
}
