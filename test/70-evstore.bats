#!/usr/bin/env bats
# evstore: the durable log from the command line -- append, cat (seq, time,
# patterns, -n, -f, --pace), verify, repair, compact, stats; crashes (kill
# -9 at random moments), torn tails at every byte, bit flips, lost and
# garbled indexes, a full disk; the man page and its examples.

load helper

setup() {
	ev_setup
	if [ "${EV_VALGRIND:-0}" = 1 ]; then
		cat >"$EV_BIN/evstore" <<-EOF
		#!/bin/sh
		exec valgrind --error-exitcode=99 --leak-check=full -q \\
		    "$EVBUS_BIN/evstore" "\$@"
		EOF
		chmod +x "$EV_BIN/evstore"
	fi
	L=$T/log
	# make torture: EVBUS_TORTURE=1 runs the long versions of the crash
	# tests (every byte of the last records, a bit flipped at every
	# offset of a segment) and EVBUS_TORTURE_ROUNDS sets the kill rounds.
	TORTURE=${EVBUS_TORTURE:-0}
}

evstore() { timeout -k 5 "$EV_TMO" "$EV_BIN/evstore" "$@"; }

# stamped N [FIRST] [NAME] [STEP_MS]: N events as the bus stamps them, seqs
# FIRST.., times STEP_MS (default 1000) apart, payloads the seqs.
stamped() {
	awk -v n="$1" -v f="${2:-1}" -v name="${3:-t.ev}" -v step="${4:-1000}" \
	    'BEGIN { for (i = f; i < f + n; i++)
		printf "{\"seq\":%d,\"id\":\"id-%d\",\"origin\":{\"uid\":0," \
		    "\"gid\":0,\"pid\":1},\"name\":\"%s\",\"time\":%.0f," \
		    "\"payload\":%d}\n", i, i, name, 1700000000000 + i * step, i }'
}

# trickle: copy standard input to standard output a line at a time.
trickle() {
	local l
	while IFS= read -r l; do
		printf '%s\n' "$l" || return
	done
}

# The last segment of the log in $1.
last_seg() {
	local f
	for f in "$1"/*.seg; do :; done
	echo "$f"
}

# flip FILE OFFSET: change one bit of FILE at OFFSET.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(( b ^ 4 )))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- usage ----------------------------------------------------------------

@test "evstore --help prints the synopsis and exits 0" {
	run_ok evstore --help
	assert_line --index 0 --regexp '^usage: evstore append '
	assert_output --partial 'evstore stats dir'
}

@test "evstore --version prints a version" {
	run_ok evstore --version
	assert_output --regexp '^evstore [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "evstore: no command, an unknown one, a bad option: status 64" {
	run_fails 64 evstore
	run_fails 64 evstore frobnicate "$L"
	assert_equal "${stderr%%$'\n'*}" \
	    "evstore: frobnicate: unknown command (append, cat, verify, repair, compact or stats)"
	run_fails 64 evstore append --sync sometimes "$L"
	run_fails 64 evstore append
	run_fails 64 evstore cat "$L" --since yesterday
	run_fails 64 evstore cat "$L" --pace x0
	run_fails 64 evstore cat "$L" 'a.**'
	run_fails 64 evstore compact "$L"
	run_fails 64 evstore verify "$L" "$L"
}

@test "evstore(1): SYNOPSIS is usage(), and mandoc -Tlint is clean" {
	man=$BATS_TEST_DIRNAME/../man/man1/evstore.1
	run_ok mandoc -Tlint -Wwarning "$man"
	assert_output ''
	syn=$(mandoc -Tascii "$man" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \t\n' ' ')
	use=$("$EV_BIN/evstore" --help | sed 's/^usage: //' | tr -s ' \t\n' ' ')
	assert_equal "$(echo $syn)" "$(echo $use)"
}

# --- append and cat ---------------------------------------------------------

@test "evstore append then cat: the bus's lines come back byte for byte" {
	stamped 500 >"$T/in"
	run_ok evstore append "$L" <"$T/in"
	assert_output ''
	assert_equal "$stderr" ''
	run_ok evstore cat "$L"
	assert_equal "$output" "$(cat "$T/in")"
}

@test "evstore append: events without seq, id or time get them, seqs go on across runs" {
	printf '%s\n' '{"name":"a.b","payload":1}' >"$T/in1"
	printf '%s\n' '{"payload":"x","name":"a.c","time":5}' >"$T/in2"
	run_ok evstore append "$L" <"$T/in1"
	run_ok evstore append "$L" <"$T/in2"
	run_ok evstore cat "$L"
	run jq -c '[.seq, .name, .payload, (.id | length), (.time | type)]' \
	    <<<"$output"
	assert_output "$(printf '%s\n' '[1,"a.b",1,36,"number"]' \
	    '[2,"a.c","x",36,"number"]')"
	run_ok evstore cat "$L" -n 1
	assert_output --regexp '^\{"seq":2,"id":"[0-9a-f-]{36}","payload":"x","name":"a.c","time":5\}$'
}

@test "evstore append: bad lines are reported with their numbers, the rest appended, status 1" {
	{
		stamped 2
		echo 'not json'
		echo '{"seq":1,"id":"again","name":"t.ev","time":1,"payload":0}'
		echo ''
		echo '{"name":"bad name"}'
		stamped 1 7
	} >"$T/in"
	run_fails 1 evstore append "$L" <"$T/in"
	assert_equal "$stderr" "$(printf '%s\n' \
	    'evstore: stdin:3: invalid JSON at byte 1: object expected' \
	    "evstore: stdin:4: seq 1 is not after the log's last seq 2" \
	    'evstore: stdin:6: name: contains whitespace or a control character (U+0020 at byte 4)')"
	run_ok evstore cat "$L"
	assert_equal "$output" "$(stamped 2; stamped 1 7)"
	run_fails 65 evstore append "$L" <<<'[1]'
	assert_equal "$stderr" 'evstore: stdin:1: not a JSON object (an array)'
}

@test "evstore append --ack: prints each event's seq once it is durable" {
	stamped 1200 >"$T/in"
	run_ok evstore append --ack "$L" <"$T/in"
	assert_equal "$output" "$(seq 1 1200)"
	first=1201
	for s in always none; do
		stamped 3 "$first" >"$T/in2"
		first=$((first + 10))
		run_ok evstore append --ack --sync "$s" "$L" <"$T/in2"
		assert_equal "$output" "$(jq .seq <"$T/in2")"
	done
}

@test "evstore append: a second writer is refused at once (75), naming the first" {
	mkfifo "$T/fifo"
	EV_STDIN=$T/fifo start_bg "$T/a1" evstore append "$L"
	exec 8>"$T/fifo"
	stamped 1 >&8
	wait_for "[ -s '$L/lock' ]"
	run_fails 75 evstore append "$L" </dev/null
	assert_equal "$stderr" \
	    "evstore: $L: in use by another writer (pid $BG_PID); one writer at a time"
	run_fails 75 evstore repair "$L"
	run_fails 75 evstore compact --keep 1d "$L"
	# Readers go on beside the writer.
	wait_for "[ \"\$(\"$EV_BIN/evstore\" cat '$L' | wc -l)\" -eq 1 ]"
	exec 8>&-
	finish "$BG_PID" 0
	run_ok evstore append "$L" </dev/null
}

@test "evstore cat: by pattern, seq, time and count" {
	{ stamped 5 1 a.x; stamped 5 6 b.y; stamped 5 11 a.z; } >"$T/in"
	evstore append "$L" <"$T/in"
	run_ok evstore cat "$L" 'a.#'
	assert_equal "$output" "$(stamped 5 1 a.x; stamped 5 11 a.z)"
	run_ok evstore cat "$L" '#' '!a.z'
	assert_equal "$output" "$(stamped 5 1 a.x; stamped 5 6 b.y)"
	run_ok evstore cat "$L" --from 4 --until 7
	assert_equal "$output" "$(stamped 2 4 a.x; stamped 2 6 b.y)"
	# Times: epoch ms and RFC 3339 (seq i is at 1700000000000 + i s).
	run_ok evstore cat "$L" --since 1700000013000
	assert_equal "$output" "$(stamped 3 13 a.z)"
	run_ok evstore cat "$L" --since 2023-11-14T22:13:22Z \
	    --until-time 2023-11-14T22:13:24Z
	assert_equal "$output" "$(stamped 2 2 a.x; stamped 1 4 a.x)"
	run_ok evstore cat "$L" -n 3
	assert_equal "$output" "$(stamped 3 13 a.z)"
	run_ok evstore cat "$L" --last 2 'b.#'
	assert_equal "$output" "$(stamped 2 9 b.y)"
	run_ok evstore cat "$L" -n 100 --until 2
	assert_equal "$output" "$(stamped 2 1 a.x)"
	run_ok evstore cat "$L" -n 0
	assert_output ''
	# A duration means that long ago: all of these are years old.
	run_ok evstore cat "$L" --since 1h
	assert_output ''
	run_ok evstore cat "$L" --until-time 1h -n 1
	assert_equal "$output" "$(stamped 1 15 a.z)"
}

@test "evstore cat --where: filters in jq's spelling, all must hold; a bad one is a usage error (64)" {
	{ stamped 5 1 a.x; stamped 5 6 b.y; } >"$T/in"
	evstore append "$L" <"$T/in"
	run_ok evstore cat "$L" --where '.payload > 3'
	assert_equal "$output" "$(stamped 2 4 a.x; stamped 5 6 b.y)"
	run_ok evstore cat "$L" --where '.payload > 3' --where '.payload <= 7' 'b.#'
	assert_equal "$output" "$(stamped 2 6 b.y)"
	run_ok evstore cat "$L" --where '.name | startswith("a")' -n 2
	assert_equal "$output" "$(stamped 2 4 a.x)"
	run_ok evstore cat "$L" --where '.seq == 3 or .seq == 8' --from 2 --until 9
	assert_equal "$output" "$(stamped 1 3 a.x; stamped 1 8 b.y)"
	# The same answers as jq's select.
	f='.payload >= 3 and (.name | endswith("y") | not) or .payload == 9'
	run_ok evstore cat "$L" --where "$f"
	assert_equal "$output" "$(jq -c "select($f)" "$T/in")"
	assert_equal "${#lines[@]}" 4
	run_fails 64 evstore cat "$L" --where '.payload =='
	assert_equal "$stderr" "evstore: --where: column 12: expected a value after '=='"
	assert_output ''
	run_fails 64 evstore cat "$L" --where '.payload' --where 'frob('
	[[ $stderr == "evstore: --where: column "* ]] || fail "stderr: $stderr"
	# A filter that fails on an event (as jq would): said, skipped, 1.
	run_fails 1 evstore cat "$L" --where '.name.x == 1' --until 2
	assert_equal "$stderr" "$(printf '%s\n' \
	    "evstore: seq 1: --where: column 6: cannot index string with string \"x\"" \
	    "evstore: seq 2: --where: column 6: cannot index string with string \"x\"")"
	assert_output ''
}

@test "evstore cat: an empty or missing log" {
	mkdir "$L"
	run_ok evstore cat "$L"
	assert_output ''
	run_fails 74 evstore cat "$T/nothing"
	assert_equal "$stderr" "evstore: $T/nothing: No such file or directory"
}

@test "evstore cat -f: follows the log as it grows, across segments" {
	stamped 3 >"$T/in"
	evstore append --segment-size 4k "$L" <"$T/in"
	start_bg "$T/out" evstore cat -f --until 200 "$L"
	wait_lines "$T/out" 3
	stamped 97 4 >"$T/in2"
	evstore append --segment-size 4k "$L" <"$T/in2"
	wait_lines "$T/out" 100
	stamped 101 101 >"$T/in3"
	evstore append --segment-size 4k "$L" <"$T/in3"
	# --until 200: seq 201 ends it.
	finish "$BG_PID" 0
	assert_equal "$(cat "$T/out")" "$(stamped 200)"
	[ "$(ls "$L"/*.seg | wc -l)" -gt 3 ] || fail "no segment roll"
}

@test "evstore cat -f: exits when its reader goes away, with no new event" {
	stamped 5 | evstore append "$L"
	run bash -c '"$1" cat -f "$2" | head -n 2; echo "status ${PIPESTATUS[0]}"' \
	    sh "$EV_BIN/evstore" "$L"
	assert_success
	assert_output "$(stamped 2; echo 'status 74')"
}

@test "evstore cat --pace: original timing, faster, or at once" {
	stamped 3 1 p.t 1000 | evstore append "$L"
	t0=$(ev_now_ms)
	run_ok evstore cat --pace original "$L"
	t1=$(ev_now_ms)
	assert_equal "$output" "$(stamped 3 1 p.t 1000)"
	[ $((t1 - t0)) -ge 1950 ] || fail "original pace took $((t1 - t0)) ms"
	run_ok evstore cat --pace x10 "$L"
	t2=$(ev_now_ms)
	[ $((t2 - t1)) -ge 190 ] && [ $((t2 - t1)) -lt 1900 ] ||
	    fail "x10 took $((t2 - t1)) ms"
	run_ok evstore cat --pace instant "$L"
	t3=$(ev_now_ms)
	[ $((t3 - t2)) -lt 1900 ] || fail "instant took $((t3 - t2)) ms"
}

@test "evstore cat: memory stays small whatever the log's size" {
	[ "${EV_VALGRIND:-0}" = 1 ] && skip "memory measured from outside"
	ev_instrumented && skip "instrumented build"
	stamped 2000 | evstore append "$L"
	/usr/bin/time -f %M -o "$T/small" "$EV_BIN/evstore" cat "$L" >/dev/null
	stamped 100000 2001 | evstore append "$L"
	/usr/bin/time -f %M -o "$T/big" "$EV_BIN/evstore" cat "$L" >/dev/null
	small=$(tail -n 1 "$T/small")
	big=$(tail -n 1 "$T/big")
	[ "$big" -lt $((small + 1024)) ] ||
	    fail "cat of 102000 events: $big KiB, of 2000: $small KiB"
	[ "$big" -lt 16384 ] || fail "cat: $big KiB"
}

# --- damage -------------------------------------------------------------------

@test "evstore verify: a clean log, and a bit flipped anywhere (65, the offset named)" {
	stamped 300 | evstore append --segment-size 8k "$L"
	run_ok evstore verify "$L"
	assert_output --regexp "^$L: ok: 300 events, seqs 1 to 300, [0-9]+ segments\$"
	assert_equal "$stderr" ''
	seg=$L/00000000000000000001.seg
	size=$(stat -c %s "$seg")
	cp -a "$L" "$T/orig"
	# The segment header, a record header, a line, in two segments;
	# under make torture, every offset of the segment header and the
	# first records, then every 13th to the end of the segment.
	offs="3 64 70 100 $((size - 2)) $((size / 2))"
	[ "$TORTURE" = 1 ] && offs="$(seq 0 1023) $(seq 1024 13 $((size - 1)))"
	for off in $offs; do
		rm -rf "$L"
		cp -a "$T/orig" "$L"
		flip "$seg" "$off"
		run_fails 65 evstore verify "$L"
		[[ $stderr == *"$seg: "*"problem"* ]] ||
		    fail "offset $off: $stderr"
	done
	rm -rf "$L"
	cp -a "$T/orig" "$L"
	last=$(last_seg "$L")
	flip "$last" 100
	run_fails 65 evstore verify "$L"
	[[ ${stderr%%$'\n'*} == "evstore: $last: offset 64: line checksum mismatch; "* ]] ||
	    fail "stderr: $stderr"
}

@test "evstore: a torn tail at every byte of the last record is cut, and reported" {
	# The last record; under make torture, the last 4 (seqs 17 to 20,
	# all of one length).
	k=1
	[ "$TORTURE" = 1 ] && k=4
	stamped 20 | evstore append "$L"
	seg=$L/00000000000000000001.seg
	size=$(stat -c %s "$seg")
	reclen=$(( $(stamped 1 20 | wc -c) + 32 ))
	cp -a "$L" "$T/orig"
	for rec in $(seq 0 $((k - 1))); do
	# Record 20 - rec is at [start, start + reclen).
	start=$((size - (rec + 1) * reclen))
	stamped $((19 - rec)) >"$T/want"
	for cut in $(seq $((start + 1)) $((start + reclen - 1))); do
		rm -rf "$L"
		cp -a "$T/orig" "$L"
		truncate -s "$cut" "$seg"
		run_ok evstore cat "$L"
		assert_equal "$output" "$(cat "$T/want")"
		run_ok evstore append --ack "$L" </dev/null
		assert_equal "$stderr" "evstore: $seg: torn tail cut: $((cut - start)) bytes at offset $start ($([ $((cut - start)) -ge 32 ] && echo "seq $((20 - rec))" || echo 'no whole record header'); an incomplete record)"
		[ "$(stat -c %s "$seg")" -eq "$start" ] ||
		    fail "cut at $cut: $(stat -c %s "$seg") bytes left"
	done
	done
	run_ok evstore verify "$L"
	assert_equal "$stderr" ''
	stamped $k $((21 - k)) | evstore append "$L"
	run_ok evstore cat "$L"
	assert_equal "$output" "$(stamped 20)"
}

@test "evstore verify: a torn tail is a note, not damage" {
	stamped 3 | evstore append "$L"
	seg=$L/00000000000000000001.seg
	truncate -s -10 "$seg"
	run_ok evstore verify "$L"
	assert_output "$L: ok: 2 events, seqs 1 to 2, 1 segment"
	assert_equal "$stderr" "evstore: $seg: offset $(( $(stat -c %s "$seg") - $(stamped 1 3 | wc -c) - 32 + 10 )): an incomplete record ends the log ($(( $(stamped 1 3 | wc -c) + 32 - 10 )) bytes): one being written, or a torn tail that the next writer cuts"
}

@test "evstore repair: a damaged record goes to quarantine, byte for byte; the rest stays" {
	stamped 10 | evstore append "$L"
	seg=$L/00000000000000000001.seg
	reclen=$(( $(stamped 1 5 | wc -c) + 32 ))
	off=$(( 64 + 4 * reclen ))
	cp "$seg" "$T/orig.seg"
	flip "$seg" $((off + 50))
	run_fails 65 evstore cat "$L"
	assert_equal "$output" "$(stamped 4)"
	assert_equal "$stderr" "evstore: $seg: offset $off: line checksum mismatch"
	run_fails 65 evstore append "$L" </dev/null
	assert_equal "$stderr" "evstore: $seg: offset $off: line checksum mismatch, and valid records follow at offset $((off + reclen)): the log is damaged; evstore repair moves the bad bytes aside"
	run_ok evstore repair "$L"
	assert_output "$L: repaired: 1 bad stretch ($reclen bytes) moved to $L/quarantine; 9 events kept"
	q=$L/quarantine/00000000000000000001.seg-$off.bad
	[[ $stderr == *"$seg: offset $off: line checksum mismatch: $reclen bytes moved to quarantine/${q##*/}"* ]] ||
	    fail "stderr: $stderr"
	# The quarantined bytes are the record, with its one flipped bit.
	dd if="$T/orig.seg" bs=1 skip="$off" count="$reclen" status=none >"$T/rec"
	[ "$(cmp -l "$T/rec" "$q" | wc -l)" -eq 1 ] || fail "not the record"
	run_ok evstore verify "$L"
	run_ok evstore cat "$L"
	assert_equal "$output" "$(stamped 4; stamped 5 6)"
	run_ok evstore repair "$L"
	assert_output "$L: nothing to repair: 9 events"
}

@test "evstore: a lost or garbled index is found and rebuilt identically" {
	stamped 3000 | evstore append --segment-size 64k "$L"
	idx=$L/00000000000000000001.idx
	cp "$idx" "$T/idx.orig"
	rm "$idx"
	run_fails 65 evstore verify "$L"
	assert_equal "$stderr" "$(printf '%s\n' \
	    "evstore: $idx: missing (evstore repair rebuilds it; no event is lost)" \
	    "evstore: $L: 1 problem found")"
	run_ok evstore cat "$L" --from 150 --until 152
	assert_equal "$output" "$(stamped 3 150)"
	run_ok evstore repair "$L"
	cmp "$idx" "$T/idx.orig"
	printf 'garbage' | dd of="$idx" bs=1 seek=100 conv=notrunc status=none
	run_fails 65 evstore verify "$L"
	assert_equal "${stderr%%$'\n'*}" \
	    "evstore: $idx: does not match its segment (evstore repair rebuilds it; no event is lost)"
	run_ok evstore cat "$L" --since 1700000160000 -n 1 --until 200
	assert_equal "$output" "$(stamped 1 200)"
	# The writer rebuilds it too, on open.
	run_ok evstore append "$L" </dev/null
	assert_equal "$stderr" "evstore: $idx: index rebuilt from its segment"
	cmp "$idx" "$T/idx.orig"
	run_ok evstore verify "$L"
}

@test "evstore append: kill -9 at random moments, many rounds: every acknowledged event once, in order" {
	rounds=${EVBUS_TORTURE_ROUNDS:-${EV_STORE_ROUNDS:-20}}
	# Enough events that the rounds do not run out of them.
	n=$(( rounds * 1000 > 20000 ? rounds * 1000 : 20000 ))
	[ "${EV_VALGRIND:-0}" = 1 ] && { n=2000; rounds=4; }
	stamped "$n" >"$T/in"
	: >"$T/acks"
	for r in $(seq "$rounds"); do
		last=$(evstore stats "$L" 2>/dev/null | jq '.last_seq // 0')
		: "${last:=0}"
		tail -n +$((last + 1)) "$T/in" >"$T/rest"
		[ -s "$T/rest" ] || break
		# A trickle, so that the kill lands while events flow.
		trickle <"$T/rest" | "$EV_BIN/evstore" append --ack "$L" \
		    >"$T/acks.$r" 2>"$T/err.$r" &
		pid=$!
		want=$(( RANDOM % 1500 + 1 ))
		wait_for "[ \"\$(nlines '$T/acks.$r')\" -ge $want ] || ! kill -0 $pid 2>/dev/null"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		cat "$T/acks.$r" >>"$T/acks"
		# What is in the log is a prefix of the input, all acked.
		run_ok evstore verify "$L"
		"$EV_BIN/evstore" cat "$L" >"$T/got"
		got=$(nlines "$T/got")
		cmp "$T/got" <(head -n "$got" "$T/in") ||
		    fail "round $r: the log is not the input's first $got events"
		acked=$(tail -n 1 "$T/acks")
		[ -z "$acked" ] || [ "$acked" -le "$got" ] ||
		    fail "round $r: seq $acked acknowledged, the log ends at $got"
	done
	[ "$r" -ge 3 ] || fail "only $r rounds: the kills came too late"
	tail -n +$(( $(nlines "$T/got") + 1 )) "$T/in" | evstore append "$L"
	run_ok evstore cat "$L"
	[ "$output" = "$(cat "$T/in")" ] || fail "the log is not the input"
	# Acknowledgements: strictly increasing, no seq twice.
	sort -n -c -u "$T/acks" || fail "acks out of order or repeated"
	[ "$(nlines "$T/acks")" -gt 0 ] || fail "nothing was acknowledged"
}

@test "evstore append: a full disk (ulimit -f) fails cleanly (74), the failed events unacknowledged" {
	stamped 3000 >"$T/in"
	run bash -c 'while IFS= read -r l; do printf "%s\n" "$l"; done <"$1" |
	    (ulimit -f 100; exec "$2" append --ack --sync always "$3" \
	    >"$4" 2>"$5"); echo "${PIPESTATUS[1]}"' sh "$T/in" \
	    "$EV_BIN/evstore" "$L" "$T/acks" "$T/err"
	assert_output 74
	[[ $(cat "$T/err") == "evstore: $L/00000000000000000001.seg: write: File too large" ]] ||
	    fail "stderr: $(cat "$T/err")"
	run_ok evstore verify "$L"
	"$EV_BIN/evstore" cat "$L" >"$T/got"
	got=$(nlines "$T/got")
	cmp "$T/got" <(head -n "$got" "$T/in")
	acked=$(nlines "$T/acks")
	[ "$acked" -gt 0 ] || fail "nothing acknowledged before the disk was full"
	assert_equal "$(cat "$T/acks")" "$(seq 1 "$acked")"
	[ "$acked" -le "$got" ] && [ "$got" -lt 3000 ] ||
	    fail "$acked acknowledged, $got in the log"
	# With room again, it goes on.
	tail -n +$((got + 1)) "$T/in" | evstore append "$L"
	run_ok evstore cat "$L"
	assert_equal "$output" "$(cat "$T/in")"
}

# --- compact and stats ---------------------------------------------------------

@test "evstore compact: by age and by size; seqs go on after it" {
	now=$(ev_now_ms)
	awk -v now="$now" 'BEGIN { for (i = 1; i <= 300; i++)
		printf "{\"seq\":%d,\"id\":\"i%d\",\"name\":\"c.t\",\"time\":%.0f,\"payload\":%d}\n",
		    i, i, now - (300 - i) * 60000, i }' >"$T/in"
	evstore append --segment-size 4k "$L" <"$T/in"
	# Events are a minute apart: the last 100 are younger than 100 minutes.
	run_ok evstore compact "$L" --keep 5970s
	[[ $output =~ ^"$L: removed 200 events (seqs 1 to 200), "[0-9]+" bytes"$ ]] ||
	    fail "output: $output"
	run_ok evstore cat "$L"
	assert_equal "$output" "$(tail -n 100 "$T/in")"
	run_ok evstore compact "$L" --max-bytes 6k
	run_ok evstore stats "$L"
	[ "$(jq '.bytes <= 6144 and .last_seq == 300' <<<"$output")" = true ] ||
	    fail "stats: $output"
	run_ok evstore verify "$L"
	run_ok evstore compact "$L" --keep 0s
	run_ok evstore stats "$L"
	assert_equal "$(jq -c '[.events, .first_seq, .next_seq]' <<<"$output")" \
	    '[0,null,301]'
	echo '{"name":"c.new"}' | evstore append "$L"
	run_ok evstore cat "$L"
	assert_equal "$(jq .seq <<<"$output")" 301
	run_ok evstore compact "$L" --keep 7d --max-bytes 1G
	assert_output "$L: nothing to remove"
}

@test "evstore compact: kill -9 at random moments leaves a log that opens, its newest events kept" {
	rounds=${EVBUS_TORTURE_ROUNDS:-${EV_STORE_ROUNDS:-10}}
	[ "${EV_VALGRIND:-0}" = 1 ] && rounds=3
	stamped 20000 >"$T/in"
	evstore append --segment-size 4k "$L" <"$T/in"
	mv "$L" "$T/orig"
	# How long a whole compaction takes here: the kills fall within it.
	cp -a "$T/orig" "$L"
	t0=$(ev_now_ms)
	evstore compact --max-bytes 300k "$L" >/dev/null
	span=$(( $(ev_now_ms) - t0 + 1 ))
	for r in $(seq "$rounds"); do
		rm -rf "$L"
		cp -a "$T/orig" "$L"
		"$EV_BIN/evstore" compact --max-bytes 300k "$L" >/dev/null &
		pid=$!
		sleep "$(awk -v ms=$((RANDOM % span)) 'BEGIN { print ms / 1000 }')"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		# A kill between a segment's rename and its index's can leave
		# the old index beside the new segment: the next writer's open
		# rewrites it (readers meanwhile rebuild it in memory).
		run_ok evstore append "$L" </dev/null
		run_ok evstore verify "$L"
		"$EV_BIN/evstore" cat "$L" >"$T/got"
		got=$(nlines "$T/got")
		cmp "$T/got" <(tail -n "$got" "$T/in") ||
		    fail "round $r: the log is not the input's last $got events"
		[ "$got" -gt 0 ] || fail "round $r: nothing left"
		run_ok evstore append "$L" <<<'{"name":"after"}'
		run_ok evstore cat "$L" -n 1
		assert_equal "$(jq .seq <<<"$output")" 20001
	done
}

@test "evstore stats: the log in JSON" {
	mkdir "$L"
	run_ok evstore stats "$L"
	assert_output "{\"dir\":\"$L\",\"segments\":0,\"events\":0,\"bytes\":0,\"index_bytes\":0,\"first_seq\":null,\"last_seq\":null,\"first_time\":null,\"last_time\":null,\"next_seq\":1}"
	{ stamped 40; stamped 5 51; } | evstore append --segment-size 4k "$L"
	run_ok evstore stats "$L"
	run jq -c '[.events, .first_seq, .last_seq, .first_time, .last_time,
	    .next_seq, .segments > 1, .bytes > 0, .index_bytes > 0]' <<<"$output"
	assert_output '[45,1,55,1700000001000,1700000055000,56,true,true,true]'
}

@test "evstore verify, repair, compact: progress on stderr only when it is a terminal" {
	stamped 200 | evstore append "$L"
	run_ok evstore verify "$L"
	assert_equal "$stderr" ''
	run script -qec "$EV_BIN/evstore verify $L" /dev/null
	assert_success
	assert_output --partial 'evstore: verify: 100% (0 of 0 MiB)'
	run script -qec "$EV_BIN/evstore compact --keep 0s $L" /dev/null
	assert_success
	assert_output --partial 'evstore: compact: 100%'
}

# --- the examples of evstore(1) --------------------------------------------------

@test "EXAMPLES: evsub '#' | evstore append log, then cat 'request.#' --since 1h | jq" {
	start_bus
	evfire request.echo '{"n":1}'
	evfire other.thing 2
	evfire request.sleep '{"n":3}'
	# -c and --from 0 end it: the example's evsub runs for ever.
	run bash -c '"$1" --from 0 -c 3 "#" | "$2" append "$3"' sh \
	    "$EV_BIN/evsub" "$EV_BIN/evstore" "$L"
	assert_success
	run bash -c '"$1" cat "$2" "request.#" --since 1h | jq -c .payload' \
	    sh "$EV_BIN/evstore" "$L"
	assert_success
	assert_output "$(printf '%s\n' '{"n":1}' '{"n":3}')"
}

@test "EXAMPLES: evstore cat log --from 1200 --until 1300; -n 10; -f" {
	stamped 1500 | evstore append "$L"
	run_ok evstore cat "$L" --from 1200 --until 1300
	assert_equal "$output" "$(stamped 101 1200)"
	run_ok evstore cat "$L" -n 10
	assert_equal "$output" "$(stamped 10 1491)"
	start_bg "$T/f" evstore cat "$L" -f -n 1
	wait_lines "$T/f" 1
	stamped 1 1501 | evstore append "$L"
	wait_lines "$T/f" 2
	assert_equal "$(cat "$T/f")" "$(stamped 2 1500)"
}

@test "EXAMPLES: evstore cat log --pace original | evfire replays into a bus" {
	start_bus
	stamped 3 1 replay.me 100 | evstore append "$L"
	run bash -c '"$1" cat "$2" --pace original | "$3" -q' sh \
	    "$EV_BIN/evstore" "$L" "$EV_BIN/evfire"
	assert_success
	collect 3 "$T/ev" 'replay.#'
	run jq -c '[.name, .payload, .id]' "$T/ev"
	assert_output "$(printf '%s\n' '["replay.me",1,"id-1"]' \
	    '["replay.me",2,"id-2"]' '["replay.me",3,"id-3"]')"
}

@test "EXAMPLES: evstore verify log; evstore stats log; evstore repair log; evstore compact log --keep 7d --max-bytes 1G" {
	stamped 10 | evstore append "$L"
	run_ok evstore verify "$L"
	assert_output "$L: ok: 10 events, seqs 1 to 10, 1 segment"
	run_ok evstore stats "$L"
	assert_equal "$(jq .events <<<"$output")" 10
	run_ok evstore repair "$L"
	assert_output "$L: nothing to repair: 10 events"
	run_ok evstore compact "$L" --keep 7d --max-bytes 1G
	[[ $output =~ ^"$L: removed 10 events (seqs 1 to 10), "[0-9]+" bytes"$ ]] ||
	    fail "the events of 2023 are older than 7 days: $output"
}
