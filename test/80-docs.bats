#!/usr/bin/env bats
# Docs as tests: every EXAMPLES display of the manuals and the README's tour
# run against a real bus, their output compared with what the doc shows.
#
# The text of each display is read from the doc itself (ex, readme_block):
# a display of "$ command" lines and output lines runs as it is and must
# print exactly the lines shown (doc_run); a command that runs until it is
# stopped (a live evsub, tail -f) runs as written in the background, its
# output checked by the test.  The last test checks that every display of
# every page is used by a test here, so that a new example cannot go
# untested and a changed one fails until its test agrees.

load helper

ROOT=$BATS_TEST_DIRNAME/..

# ex PAGE N: the Nth literal display (.Bd -literal ... .Ed) of the EXAMPLES
# section of the manual PAGE (evsub.1, evbus.7, ...), its .Ss included, as
# the reader sees it (\e is a backslash, \& nothing), into $T/ex; fails
# when there is no such display.
ex() {
	local page=$1 n=$2
	awk -v want="$n" '
	/^\.Sh / { insec = ($2 == "EXAMPLES"); next }
	!insec { next }
	/^\.Bd -literal/ { k++; inb = 1; next }
	/^\.Ed/ { inb = 0; next }
	inb && k == want { gsub(/\\e/, "\\"); gsub(/\\&/, ""); print }' \
	    "$ROOT/man/man${page##*.}/$page" >"$T/ex"
	[ -s "$T/ex" ] || fail "$page has no EXAMPLES display $n"
}

# ex_count PAGE: how many literal displays its EXAMPLES section has.
ex_count() {
	awk '/^\.Sh / { insec = ($2 == "EXAMPLES"); next }
	    insec && /^\.Bd -literal/ { k++ } END { print k + 0 }' \
	    "$ROOT/man/man${1##*.}/$1"
}

# readme_block SECTION N: the Nth fenced block under "## SECTION" of
# README.md, into $T/ex.
readme_block() {
	awk -v sec="$1" -v want="$2" '
	/^## / { insec = (substr($0, 4) == sec); next }
	!insec { next }
	/^```/ { if (inb) inb = 0; else { k++; inb = 1 }; next }
	inb && k == want { print }' "$ROOT/README.md" >"$T/ex"
	[ -s "$T/ex" ] || fail "README.md has no block $2 under $1"
}

# ex_is: the display in $T/ex is exactly standard input.
ex_is() {
	assert_equal "$(cat "$T/ex")" "$(cat)"
}

# doc_run [SED-EXPR...]: run the display in $T/ex in $T/work, in one bash:
# its "$ " lines (and the lines continuing one that ends in '|' or '\') are
# the commands, every other line is output, which must be exactly what the
# commands print, standard error included.  SED-EXPRs rewrite the commands
# first (a path under /tmp into the test's directory).
doc_run() {
	local e
	awk -v c="$T/cmds" -v w="$T/want" '
	BEGIN { printf "" > c; printf "" > w }
	cont { print > c; cont = /[|\\]$/; next }
	/^\$ / { sub(/^\$ /, ""); print > c; cont = /[|\\]$/; next }
	{ print > w }' "$T/ex"
	for e in "$@"; do
		sed -i -e "$e" "$T/cmds"
	done
	mkdir -p "$T/work"
	run timeout "$(ev_scale 60)" bash -c "cd '$T/work' && . '$T/cmds'" 2>&1
	[ "$status" -lt 124 ] || fail "doc_run: status $status: $output"
	assert_output "$(cat "$T/want")"
}

# doc_bg OUT: run the one command of the display in $T/ex (its "$ " taken
# off) in the background in $T/work, output to OUT; sets BG_PID.  For
# commands that run until stopped.  stdbuf makes the stdio of the
# pipeline's programs write each line at once, as on a terminal (jq writes
# to a file in blocks).
doc_bg() {
	local cmd
	cmd=$(sed -n 's/^\$ //p' "$T/ex")
	[ "$(wc -l <<<"$cmd")" -eq 1 ] || fail "doc_bg: not one command: $cmd"
	mkdir -p "$T/work"
	(cd "$T/work" && exec setsid stdbuf -oL bash -c "$cmd" >"$1" 2>"$1.err" \
	    </dev/null 3>&-) &
	BG_PID=$!
	EV_PGRPS+=("$BG_PID")
}

# Stop what doc_bg started (its whole process group: the pipeline).
teardown() {
	local p
	for p in "${EV_PGRPS[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || true
	done
	ev_teardown
}

# subscribed PATTERN...: until a subscriber with exactly these patterns is
# announced on the bus (evbus.listener.connected), so that what is
# published next reaches it.
subscribed() {
	local want
	want=$(jq -cn '$ARGS.positional' --args "$@")
	wait_for "{ evsub -q --from 0 --deadline 200ms \
	    'evbus.listener.connected' || :; } |
	    jq -se --argjson p '$want' 'any(.[]; .payload.patterns == \$p)' \
	    >/dev/null"
}

# unstamped FILE: its events without what the bus stamps (seq, id,
# origin, time).
unstamped() {
	jq -c 'del(.seq, .id, .origin, .time)' "$1"
}

EV_PGRPS=()

# --- evsub(1) -------------------------------------------------------------

@test "evsub(1) example 1: the payloads of the request events" {
	start_bus
	ex evsub.1 1
	ex_is <<-'EOF'
	$ evsub 'request.#' | jq -c .payload
	EOF
	doc_cmd_bg "$T/out" "$(sed -n 's/^\$ //p' "$T/ex")"
	subscribed 'request.#'
	run_ok evfire request.echo.1-0-0.default '{"command":"say"}'
	run_ok evfire other.thing 1
	run_ok evfire request.x 2
	wait_lines "$T/out" 2
	assert_equal "$(cat "$T/out")" $'{"command":"say"}\n2'
}

@test "evsub(1) example 2: ten crashed events from seq 42" {
	start_bus
	ex evsub.1 2
	ex_is <<-'EOF'
	$ evsub -c 10 --from 42 '*.crashed'
	EOF
	# seq 1 is evbus.started; then 20 of each, crashed ones every other.
	for i in $(seq 1 30); do
		printf '{"name":"web.crashed","payload":%d}\n{"name":"web.ok"}\n' "$i"
	done | evfire
	run_ok bash -c "$(sed -n 's/^\$ //p' "$T/ex")"
	run jq -c '[.seq, .name]' <<<"$output"
	assert_output "$(for s in 42 44 46 48 50 52 54 56 58 60; do
	    echo "[$s,\"web.crashed\"]"; done)"
}

@test "evsub(1) example 3: the five most recent events, then live" {
	start_bus
	publish_n 7 r.n
	ex evsub.1 3
	ex_is <<-'EOF'
	$ evsub --last 5 '#'
	EOF
	doc_bg "$T/out"
	wait_lines "$T/out" 5
	run_ok evfire r.live 8
	wait_lines "$T/out" 6
	run jq -c .payload "$T/out"
	assert_output "$(seq 3 8)"
}

# publish_n N NAME: N events NAME, payloads 1..N.
publish_n() {
	gen_events "$1" "$2" | evfire
}

@test "evsub(1) example 4: everything under app but its debug events" {
	start_bus
	ex evsub.1 4
	ex_is <<-'EOF'
	$ evsub 'app.#' '!app.debug.#'
	EOF
	doc_bg "$T/out"
	subscribed 'app.#' '!app.debug.#'
	printf '%s\n' '{"name":"app.start"}' '{"name":"app.debug.x"}' \
	    '{"name":"app"}' '{"name":"apple"}' '{"name":"app.stop"}' | evfire
	wait_lines "$T/out" 3
	run jq -r .name "$T/out"
	assert_output $'app.start\napp\napp.stop'
}

@test "evsub(1) example 5: a script waits for job.done" {
	start_bus
	ex evsub.1 5
	ex_is <<'EOF'
if evsub -q -c 1 --first 10m job.done >/dev/null; then
	echo done
else
	echo "no job.done within 10 minutes" >&2
fi
EOF
	cp "$T/ex" "$T/script"
	bash "$T/script" >"$T/out" 2>&1 &
	EV_PIDS+=("$!")
	pid=$!
	# Live only: fire until the script has seen one.
	wait_for "evfire -q job.done >/dev/null && ev_exited $pid"
	finish "$pid" 0
	assert_equal "$(cat "$T/out")" done
}

@test "evsub(1) example 6: fire, then read it back from its seq" {
	start_bus
	ex evsub.1 6
	doc_run
}

@test "evsub(1) example 7: the ring's events counted by name" {
	start_bus
	ex evsub.1 7
	{
		gen_events 60 job.done
		gen_events 40 job.started
	} | evfire
	doc_run
}

@test "evsub(1) example 8: failed events appended to a file" {
	start_bus
	ex evsub.1 8
	ex_is <<-'EOF'
	$ evsub '#' | jq -c --unbuffered 'select(.error == true)' >> failures.ndjson
	EOF
	mkdir -p "$T/work"
	echo '{"old":1}' >"$T/work/failures.ndjson"
	doc_bg "$T/out"
	subscribed '#'
	run_ok evfire backup.ok
	run_ok evfire -e backup.failed 'disk full'
	wait_lines "$T/work/failures.ndjson" 2
	run unstamped "$T/work/failures.ndjson"
	assert_output '{"old":1}
{"name":"backup.failed","payload":"disk full","error":true}'
}

@test "evsub(1) example 9: the job events of the last ten minutes, then live" {
	start_bus
	now=$(ev_now_ms)
	printf '%s\n' \
	    "{\"name\":\"job.old\",\"time\":$((now - 11 * 60000))}" \
	    "{\"name\":\"job.recent\",\"time\":$((now - 9 * 60000))}" \
	    '{"name":"other.now"}' '{"name":"job.now"}' | evfire
	ex evsub.1 9
	ex_is <<-'EOF'
	$ evsub --since 10m 'job.#'
	EOF
	doc_bg "$T/out"
	wait_lines "$T/out" 2
	run_ok evfire job.live
	wait_lines "$T/out" 3
	run jq -r .name "$T/out"
	assert_output $'job.recent\njob.now\njob.live'
}

@test "evsub(1) example 10: head ends the stream, pipefail holds" {
	start_bus
	printf '%s\n' '{"name":"a.b"}' '{"name":"a.c"}' '{"name":"deploy"}' \
	    '{"name":"later"}' | evfire
	ex evsub.1 10
	doc_run
}

@test "evsub(1) example 11: the bus's own events" {
	start_bus
	ex evsub.1 11
	ex_is <<-'EOF'
	$ evsub 'evbus.#'
	EOF
	doc_bg "$T/out"
	# Its own subscription is the first thing it sees.
	wait_lines "$T/out" 1
	run_ok evsub -c 0 'who.#'
	wait_lines "$T/out" 3
	run jq -c '[.name, .payload.patterns]' "$T/out"
	assert_output '["evbus.listener.connected",["evbus.#"]]
["evbus.listener.connected",["who.#"]]
["evbus.listener.disconnected",["who.#"]]'
}

# report_stub: ./report in $T/work, a stand-in for the cron job's report:
# it appends the names of the events it reads to $T/reported.
report_stub() {
	mkdir -p "$T/work"
	cat >"$T/work/report" <<-EOF
	#!/bin/sh
	exec jq -r .name >>"$T/reported"
	EOF
	chmod +x "$T/work/report"
	: >"$T/reported"
}

@test "evsub(1) example 12: a cron job's durable subscription on a bus with a store" {
	start_bus --store "$T/log"
	report_stub
	ex evsub.1 12
	ex_is <<-'EOF'
	$ evsub --durable nightly --drain 'backup.#' | ./report
	EOF
	printf '%s\n' '{"name":"backup.done"}' '{"name":"other"}' \
	    '{"name":"backup.failed"}' | evfire
	# The first run: all of them; the next, only what came since.
	doc_run
	run_ok evfire backup.done
	doc_run
	doc_run
	run cat "$T/reported"
	assert_output $'backup.done\nbackup.failed\nbackup.done'
}

@test "evsub(1) example 13: a cron job that keeps its cursor in a file" {
	start_bus
	export HOME=$T/home
	mkdir -p "$HOME/.cache"
	report_stub
	ex evsub.1 13
	ex_is <<-'EOF'
	$ evsub --cursor-file ~/.cache/backup.cur --drain 'backup.#' | ./report
	EOF
	printf '%s\n' '{"name":"backup.done"}' '{"name":"other"}' \
	    '{"name":"backup.failed"}' | evfire
	doc_run
	[ -s "$HOME/.cache/backup.cur" ] || fail "no cursor file"
	run_ok evfire backup.done
	doc_run
	doc_run
	run cat "$T/reported"
	assert_output $'backup.done\nbackup.failed\nbackup.done'
}

@test "evsub(1) example 14: a consumer that resumes where it stopped" {
	start_bus
	export HOME=$T/home
	mkdir -p "$HOME/.cache"
	ex evsub.1 14
	ex_is <<-'EOF'
	$ evsub --cursor-file ~/.cache/x.cur '#'
	EOF
	doc_bg "$T/out1"
	subscribed '#'
	publish_n 3 before.stop
	wait_lines "$T/out1" 3
	kill -TERM -- "-$BG_PID"
	wait_exit "$BG_PID" 20
	# While it is away, and after it is back.
	publish_n 2 while.away
	doc_bg "$T/out2"
	wait_lines "$T/out2" 2
	run_ok evfire after.restart
	wait_lines "$T/out2" 3
	run jq -c '[.name, .payload]' "$T/out2"
	assert_output '["while.away",1]
["while.away",2]
["after.restart",null]'
}

@test "evsub(1) example 15: seq, name and payload as text" {
	start_bus
	ex evsub.1 15
	ex_is <<-'EOF'
	$ evsub -c 2 -F '{.seq}\t{.name}\t{.payload|json}'
	EOF
	doc_bg "$T/out"
	subscribed '#'
	printf '%s\n' '{"name":"job.a","payload":{"k":[1,"x"]}}' \
	    '{"name":"job.b","payload":"s"}' '{"name":"job.c"}' | evfire
	wait_for "ev_exited $BG_PID"
	s=$(evsub --from 0 -c 1 'job.a' | jq .seq)
	assert_equal "$(cat "$T/out")" "$s	job.a	{\"k\":[1,\"x\"]}
$((s + 1))	job.b	\"s\""
}

@test "evsub(1) example 16: a canary web node receives what is aimed at it" {
	start_bus
	ex evsub.1 16
	ex_is <<-'EOF'
	$ evsub --node web-1 --tag canary 'deploy.#'
	EOF
	doc_bg "$T/out"
	subscribed 'deploy.#'
	run_ok evfire --node '^web-' --tag '^canary$' deploy.start
	run_ok evfire --node '^db-' deploy.db
	run_ok evfire --tag '^eu$' deploy.eu
	run_ok evfire deploy.all
	wait_lines "$T/out" 2
	run_ok evfire deploy.end
	wait_lines "$T/out" 3
	run jq -r .name "$T/out"
	assert_output $'deploy.start\ndeploy.all\ndeploy.end'
}

# lrp NAME CELL | lrp NAME BEFORE AFTER: an actual_lrp event, as Diego's.
lrp() {
	if [ $# -eq 2 ]; then
		echo "{\"name\":\"actual_lrp.$1\",\"payload\":{\"cell_id\":\"$2\"}}"
	else
		echo "{\"name\":\"actual_lrp.$1\",\"payload\":{\"before\":{\"cell_id\":\"$2\"},\"after\":{\"cell_id\":\"$3\"}}}"
	fi
}

@test "evsub(1) example 17: one cell's LRP events, filtered by the bus" {
	start_bus
	ex evsub.1 17
	ex_is <<-'EOF'
	$ evsub --where '.payload.cell_id == "c2" or
	    .payload.before.cell_id == "c2" or
	    .payload.after.cell_id == "c2"' 'actual_lrp.#'
	EOF
	doc_cmd_bg "$T/out" "$(sed 's/^\$ //' "$T/ex")"
	subscribed 'actual_lrp.#'
	{
		lrp created c1
		lrp created c2
		lrp changed c1 c3
		lrp changed c1 c2
		lrp changed c2 c3
		lrp removed c3
		lrp removed c2
		echo '{"name":"other.event","payload":{"cell_id":"c2"}}'
		lrp removed c2
	} | evfire
	wait_lines "$T/out" 5
	run jq -c '[.name, .payload]' "$T/out"
	assert_output '["actual_lrp.created",{"cell_id":"c2"}]
["actual_lrp.changed",{"before":{"cell_id":"c1"},"after":{"cell_id":"c2"}}]
["actual_lrp.changed",{"before":{"cell_id":"c2"},"after":{"cell_id":"c3"}}]
["actual_lrp.removed",{"cell_id":"c2"}]
["actual_lrp.removed",{"cell_id":"c2"}]'
	# The bus did the filtering: it counts what it kept back.
	run_ok evlist --stats
	run jq '.filtered_out >= 3' <<<"$output"
	assert_output true
}

@test "evsub(1) example 18: several filters, all of which must hold" {
	start_bus
	ex evsub.1 18
	ex_is <<-'EOF'
	$ evsub --where '.error' --where '.payload.crash_count >= 3' '#'
	EOF
	doc_bg "$T/out"
	subscribed '#'
	printf '%s\n' \
	    '{"name":"web.crashed","payload":{"crash_count":3},"error":true}' \
	    '{"name":"web.crashed","payload":{"crash_count":5}}' \
	    '{"name":"db.crashed","payload":{"crash_count":2},"error":true}' \
	    '{"name":"db.failed","payload":{},"error":true}' \
	    '{"name":"db.crashed","payload":{"crash_count":7},"error":true}' |
	    evfire
	wait_lines "$T/out" 2
	run jq -c '[.name, .payload.crash_count]' "$T/out"
	assert_output '["web.crashed",3]
["db.crashed",7]'
}

# --- evfire(1) ------------------------------------------------------------

@test "evfire(1) example 1: a JSON object as the payload" {
	start_bus
	ex evfire.1 1
	doc_run
	collect 1 "$T/ev"
	run unstamped "$T/ev"
	assert_output '{"name":"request.echo.1-0-0.default","payload":{"command":"say"}}'
}

@test "evfire(1) examples 2 and 3: a string payload, guessed or forced" {
	start_bus
	ex evfire.1 2
	doc_run
	ex evfire.1 3
	doc_run
	collect 3 "$T/ev"
	run unstamped "$T/ev"
	assert_output '{"name":"deploy","payload":"v1.2.3"}
{"name":"deploy","payload":"v1.2.3"}
{"name":"release","payload":"1.2"}'
}

@test "evfire(1) examples 4, 7, 8: the seqs -w prints, as shown" {
	start_bus
	# The shown seqs are those of a bus with 5 events after its start.
	publish_n 5 before
	ex evfire.1 4
	doc_run
	publish_n 4 between
	ex evfire.1 7
	doc_run
	ex evfire.1 8
	doc_run
	collect 5 "$T/ev" 'deploy' 'job.#'
	run unstamped "$T/ev"
	assert_output '{"name":"deploy","payload":"v1.2.3"}
{"name":"job.a","payload":null}
{"name":"job.b","payload":null}
{"name":"job.c","payload":1}
{"name":"job.d","payload":null}'
}

@test "evfire(1) examples 5 and 6: events from standard input; a bad line among good ones" {
	start_bus
	ex evfire.1 5
	doc_run
	ex evfire.1 6
	doc_run
	collect 4 "$T/ev" 'a.*'
	run unstamped "$T/ev"
	assert_output '{"name":"a.b","payload":1}
{"name":"a.c","payload":null}
{"name":"a.b","payload":null}
{"name":"a.c","payload":null}'
}

@test "evfire(1) example 9: each line of a growing log an event" {
	start_bus
	ex evfire.1 9
	ex_is <<-'EOF'
	$ tail -f app.log | evfire -n app.log.line
	EOF
	mkdir -p "$T/work"
	printf '%s\n' 'started' '{"code":7}' >"$T/work/app.log"
	doc_bg "$T/out"
	wait_for "evsub --from 0 -c 2 --deadline 200ms 'app.#' >'$T/ev'"
	echo 'stopped' >>"$T/work/app.log"
	wait_for "evsub --from 0 -c 3 --deadline 200ms 'app.#' >'$T/ev'"
	run unstamped "$T/ev"
	assert_output '{"name":"app.log.line","payload":"started"}
{"name":"app.log.line","payload":{"code":7}}
{"name":"app.log.line","payload":"stopped"}'
}

@test "evfire(1) example 10: a failure with facts" {
	start_bus
	ex evfire.1 10
	doc_run
	collect 1 "$T/ev"
	run unstamped "$T/ev"
	assert_output "{\"name\":\"backup.failed\",\"payload\":\"disk full\",\"error\":true,\"metadata\":{\"host\":\"$(hostname)\",\"job\":\"backup\"}}"
}

@test "evfire(1) examples 11 and 12: the newest job events again, as copies and as they were" {
	start_bus
	ex evfire.1 11
	doc_run
	ex evfire.1 12
	doc_run
	collect 6 "$T/ev" 'job.#'
	run jq -c '[.name, (.metadata.replay_of | type)]' "$T/ev"
	assert_output '["job.a","null"]
["job.b","null"]
["job.c","null"]
["job.a","string"]
["job.b","string"]
["job.c","string"]'
}

@test "evfire(1) example 13: an id of one's own, fired twice, published once" {
	start_bus
	ex evfire.1 13
	doc_run
	# Again: nothing published, and evfire says why.
	run_ok bash -c "$(sed -n 's/^\$ //p' "$T/ex")"
	assert_equal "$stderr" "evfire: the event was already on the bus (same id) and was not published again; fire it without --id to publish a copy"
	collect 1 "$T/ev"
	run jq -c '[.id, .name]' "$T/ev"
	assert_output '["backup-2026-11-23","backup.done"]'
}

# names_to IDENTITY: the names of the ring's events, oldest first, that a
# subscriber to '#' declaring IDENTITY (SUB's "node" and "tags" members, as
# JSON text) receives; on one line.
names_to() {
	local body="{\"patterns\":[\"#\"],\"from\":0,$1}"
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_send 'SUB %d\n%s\n' "${#body}" "$body"
	wire_send 'QUIT\n'
	wire_close
	tr -d '\r' <"$T/wire.out" | grep '^{' | jq -r .name | paste -sd ' '
}

@test "evfire(1) example 14: web servers tagged canary, and only those" {
	start_bus
	ex evfire.1 14
	doc_run
	run_ok evfire deploy.end
	run names_to '"node":"web-1","tags":["canary","eu"]'
	assert_output 'deploy.start deploy.end'
	run names_to '"node":"db-1","tags":["canary","eu"]'
	assert_output 'deploy.end'
	run names_to '"node":"web-1","tags":["eu"]'
	assert_output 'deploy.end'
}

@test "evfire(1) example 15: a token kept in a file only its owner can read" {
	start_bus
	export HOME=$T/home token=s3cret
	mkdir -p "$HOME"
	ex evfire.1 15
	doc_run
	run stat -c %a "$HOME/.evbus-token"
	assert_output 600
	collect 1 "$T/ev"
	run unstamped "$T/ev"
	assert_output '{"name":"deploy.start","payload":"v2"}'
}

# --- evbus(7) -------------------------------------------------------------

@test "evbus(7) example 1: every event, the user's and the bus's" {
	start_bus
	ex evbus.7 1
	ex_is <<-'EOF'
	$ evsub '#' 'evbus.#' &
	$ evfire deploy v1.2.3
	EOF
	sed -n '1s/^\$ \(.*\) &$/$ \1/p' "$T/ex" >"$T/ex1"
	mv "$T/ex1" "$T/ex"
	doc_bg "$T/out"
	subscribed '#' 'evbus.#'
	ex evbus.7 1
	sed -i 1d "$T/ex"
	doc_run
	wait_grep "$T/out" '"name":"deploy"'
	# (without the test's own probes for the subscription)
	run jq -c 'select(([.payload.patterns?] | first) !=
	    ["evbus.listener.connected"])
	    | [.name, .payload.patterns? // .payload]' "$T/out"
	assert_output '["evbus.listener.connected",["#","evbus.#"]]
["deploy","v1.2.3"]'
}

@test "evbus(7) example 2: the protocol by hand with socat" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$T/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	start_bus
	ex evbus.7 2
	ex_is <<-'EOF'
	$ socat - UNIX-CONNECT:"$XDG_RUNTIME_DIR/evbus/sock"
	EOF
	cmd=$(sed -n 's/^\$ //p' "$T/ex")
	run bash -c "printf 'HELLO 2 socat\nPING\nQUIT\n' | $cmd"
	assert_line --index 0 --regexp '^HELLO 2 [0-9a-f]{16} 1 65536 features=[a-z,-]+ max_depth=256'
	assert_line --index 1 PONG
}

# A stand-in for an MQTT broker and its clients, to run the example's
# pipelines on one machine: mosquitto_pub -l appends each line of its
# input to the broker's file, mosquitto_sub prints every line of it.
fake_mosquitto() {
	mkdir -p "$T/stub"
	: >"$T/broker"
	cat >"$T/stub/mosquitto_pub" <<-EOF
	#!/bin/sh
	exec cat >>"$T/broker"
	EOF
	cat >"$T/stub/mosquitto_sub" <<-EOF
	#!/bin/sh
	exec tail -n +1 -f "$T/broker"
	EOF
	chmod +x "$T/stub/mosquitto_pub" "$T/stub/mosquitto_sub"
}

@test "evbus(7) example 3: two buses joined through an MQTT broker (a stand-in)" {
	start_bus
	a=$EVBUS_SOCKET
	EVBUS_SOCKET=$T/sock2 start_bus
	b=$T/sock2
	fake_mosquitto
	ex evbus.7 3
	ex_is <<-'EOF'
	sender$   evsub '#' | mosquitto_pub -h broker -q 1 -l -t evbus
	receiver$ mosquitto_sub -h broker -q 1 -t evbus | evfire
	EOF
	sender=$(sed -n 's/^sender\$ *//p' "$T/ex")
	receiver=$(sed -n 's/^receiver\$ *//p' "$T/ex")
	PATH=$T/stub:$PATH EVBUS_SOCKET=$a doc_cmd_bg "$T/s" "$sender"
	PATH=$T/stub:$PATH EVBUS_SOCKET=$b doc_cmd_bg "$T/r" "$receiver"
	subscribed '#'
	run_ok evfire -w alert.disk '{"free":1}'
	wait_for "EVBUS_SOCKET=$b evsub --from 0 -c 1 --deadline 200ms 'alert.#' >'$T/ev'"
	run unstamped "$T/ev"
	assert_output '{"name":"alert.disk","payload":{"free":1}}'
	# The id crossed with the event.
	id=$(evsub --from 0 -c 1 'alert.#' | jq -r .id)
	assert_equal "$(jq -r .id "$T/ev")" "$id"
}

# doc_cmd_bg OUT COMMAND: as doc_bg, for a command given; sets BG_PID.
doc_cmd_bg() {
	mkdir -p "$T/work"
	(cd "$T/work" && exec setsid stdbuf -oL bash -c "$2" >"$1" 2>"$1.err" \
	    </dev/null 3>&-) &
	BG_PID=$!
	EV_PGRPS+=("$BG_PID")
}

@test "evbus(7) example 4: alerts over ssh to another machine's bus (a stand-in ssh)" {
	start_bus
	EVBUS_SOCKET=$T/sock2 start_bus
	# ssh HOST COMMAND: runs COMMAND here, with the other bus as its own.
	mkdir -p "$T/stub"
	cat >"$T/stub/ssh" <<-EOF
	#!/bin/sh
	shift
	EVBUS_SOCKET=$T/sock2 exec "\$@"
	EOF
	chmod +x "$T/stub/ssh"
	ex evbus.7 4
	ex_is <<-'EOF'
	$ evsub 'alert.#' | ssh host evfire
	EOF
	PATH=$T/stub:$PATH doc_bg "$T/out"
	subscribed 'alert.#'
	run_ok evfire alert.cpu 99
	run_ok evfire other.thing 1
	wait_for "EVBUS_SOCKET=$T/sock2 evsub --from 0 -c 1 --deadline 200ms '#' >'$T/ev'"
	run unstamped "$T/ev"
	assert_output '{"name":"alert.cpu","payload":99}'
}

@test "evbus(7) A session: the replies the page shows are the bus's" {
	start_bus
	# The session's lines, its display's '\' continuations joined.
	awk '/^\.Ss A session/ { s = 1 } s && /^\.Bd -literal/ { b = 1; next }
	    b && /^\.Ed/ { exit } b { gsub(/\\&/, ""); print }' \
	    "$ROOT/man/man7/evbus.7" | sed -e ':a' -e '/\\e$/{N;s/\\e\n//;ba' -e '}' \
	    >"$T/session"
	[ -s "$T/session" ] || fail "no session in evbus(7)"
	wire_open
	while IFS= read -r line; do
		case $line in
		'> '*) wire_send '%s\n' "${line#> }" ;;
		esac
	done <"$T/session"
	wire_close
	# What the page shows of the bus's replies, and what it sent: equal
	# but for the epoch, ids, origin, times and so the EVENT's length.
	norm() {
		sed -E 's/^HELLO 2 [0-9a-f]{16} /HELLO 2 EPOCH /
		    s/"id":"[0-9a-f-]{36}"/"id":"ID"/
		    s/"origin":\{[^}]*\}/"origin":{}/
		    s/"time":[0-9]+/"time":0/
		    s/^EVENT [0-9]+$/EVENT N/'
	}
	run norm < <(sed -n 's/^< //p' "$T/session")
	want=$output
	run norm < <(tr -d '\r' <"$T/wire.out")
	assert_output "$want"
}

# --- evbusd(8) ------------------------------------------------------------

@test "evbusd(8) example 1: a daemon for this shell session" {
	ex evbusd.8 1
	ex_is <<-'EOF'
	$ evbusd &
	$ kill $!
	EOF
	# Run as written, once the daemon listens between the two lines.
	run timeout 60 bash -c "$(sed -n '1s/^\$ //p' "$T/ex")
	    until evfire -w started.ok >/dev/null 2>&1; do sleep 0.05; done
	    $(sed -n '2s/^\$ //p' "$T/ex")
	    wait \$!; echo \$?"
	assert_output 0
	[ ! -e "$EVBUS_SOCKET" ] || fail "socket left behind"
}

@test "evbusd(8) example 2: detached, ready, its pid in the pidfile" {
	ex evbusd.8 2
	ex_is <<-'EOF'
	$ evbusd -d -r 3 -p /tmp/evbusd.pid 3>&1 | head -n 1 >/dev/null
	$ kill "$(cat /tmp/evbusd.pid)"
	EOF
	track_pidfile "$T/evbusd.pid"
	# As written, with a look between the lines: the bus answers once the
	# first returns, and the pidfile names it.
	doc_run "s|/tmp/|$T/|g" \
	    "1a evfire -q detached.ready && cp '$T/evbusd.pid' '$T/pid.seen'"
	pid=$(cat "$T/pid.seen")
	wait_exit "$pid" 20
	wait_for "[ ! -e '$EVBUS_SOCKET' ] && [ ! -e '$T/evbusd.pid' ]" 20
}

@test "evbusd(8) example 3: a small ring on a socket of its own, logging" {
	ex evbusd.8 3
	ex_is <<-'EOF'
	$ mkdir -m 700 /tmp/test-bus
	$ evbusd -v -b 1000 -B 1M -s /tmp/test-bus/sock &
	$ EVBUS_SOCKET=/tmp/test-bus/sock evsub '#'
	EOF
	sed -i "s|/tmp/|$T/|g" "$T/ex"
	(cd "$T" && eval "$(sed -n '1s/^\$ //p' "$T/ex")")
	cmd=$(sed -n '2s/^\$ \(.*\) &$/\1/p' "$T/ex")
	doc_cmd_bg "$T/bus" "$cmd"
	wait_for "[ -S '$T/test-bus/sock' ]"
	sed -i 1,2d "$T/ex"
	doc_bg "$T/out"
	EVBUS_SOCKET=$T/test-bus/sock subscribed '#'
	EVBUS_SOCKET=$T/test-bus/sock run_ok evfire small.ring 1
	wait_lines "$T/out" 1
	run unstamped "$T/out"
	assert_output '{"name":"small.ring","payload":1}'
	run grep -c ' connected$' "$T/bus.err"
	[ "$output" -ge 2 ] || fail "-v logged no connections: $(cat "$T/bus.err")"
}

@test "evbusd(8) example 4: clients coming and going" {
	start_bus
	ex evbusd.8 4
	ex_is <<-'EOF'
	$ evsub 'evbus.listener.*'
	EOF
	doc_bg "$T/out"
	wait_lines "$T/out" 1
	run_ok evsub -c 0 'x.#'
	wait_lines "$T/out" 3
	run jq -c '[.name, .payload.patterns]' "$T/out"
	assert_output '["evbus.listener.connected",["evbus.listener.*"]]
["evbus.listener.connected",["x.#"]]
["evbus.listener.disconnected",["x.#"]]'
}

@test "evbusd(8) example 5: a durable bus; a subscriber from seq 1 misses nothing" {
	ex evbusd.8 5
	ex_is <<-'EOF'
	$ evbusd --store /var/lib/evbus/log &
	$ evsub --from 1 'backup.#'
	$ evstore cat /var/lib/evbus/log 'backup.#' --since 1h
	EOF
	sed -i "s|/var/lib/evbus/|$T/lib/|g" "$T/ex"
	mkdir -p "$T/lib"
	bus=$(sed -n '1s/^\$ \(.*\) &$/\1/p' "$T/ex")
	# The bus as written, stopped and started again between two events.
	doc_cmd_bg "$T/bus1" "exec $bus"
	bus1=$BG_PID
	wait_for "evfire -q backup.before >/dev/null"
	run_ok evfire other.event
	kill -TERM "$bus1"
	wait_exit "$bus1" 20
	doc_cmd_bg "$T/bus2" "exec $bus"
	wait_for "evfire -q backup.after >/dev/null"
	doc_cmd_bg "$T/out" "$(sed -n '2s/^\$ //p' "$T/ex")"
	wait_lines "$T/out" 2
	run jq -r .name "$T/out"
	assert_output $'backup.before\nbackup.after'
	run_ok bash -c "cd '$T/work' && $(sed -n '3s/^\$ //p' "$T/ex")"
	assert_equal "$output" "$(cat "$T/out")"
}

# shared_ex: displays 6 to 9 of evbusd(8) with the shared bus's paths
# under $T; the page's group evbus is root's own here (no such group
# need exist).
shared_paths() {
	sed -e "s|/etc/evbus/|$T/etc/evbus/|g" -e "s|/run/evbus/|$T/run/evbus/|g" \
	    -e "s|--group evbus\$|--group $(id -gn)|"
}

@test "evbusd(8) examples 6, 7, 12: the shared bus of the unit, with the page's rules" {
	ex evbusd.8 6
	ex_is <<-'EOF'
	# evbusd -A /etc/evbus/acl.conf -s /run/evbus/sock --group evbus
	EOF
	# The command is the one the shared unit runs.
	run grep '^ExecStart=' "$ROOT/share/systemd/evbusd-shared.service"
	assert_output "ExecStart=$(sed 's/^# //' "$T/ex")"
	bus=$(sed 's/^# //' "$T/ex" | shared_paths)
	ex evbusd.8 7
	mkdir -p "$T/etc/evbus"
	mkdir -m 0750 -p "$T/run/evbus"
	install -m 0640 "$T/ex" "$T/etc/evbus/acl.conf"
	unset EVBUS_SOCKET
	doc_cmd_bg "$T/bus" "exec $bus"
	wait_for "[ -S '$T/run/evbus/sock' ]"
	run stat -c %G "$T/run/evbus/sock"
	assert_output "$(id -gn)"
	ex evbusd.8 12
	ex_is <<-'EOF'
	$ EVBUS_SOCKET=/run/evbus/sock evsub 'deploy.#'
	EOF
	shared_paths <"$T/ex" >"$T/ex1"
	mv "$T/ex1" "$T/ex"
	doc_bg "$T/out"
	EVBUS_SOCKET=$T/run/evbus/sock subscribed 'deploy.#'
	EVBUS_SOCKET=$T/run/evbus/sock run_ok evfire deploy.start v2
	EVBUS_SOCKET=$T/run/evbus/sock run_ok evfire other.event
	wait_lines "$T/out" 1
	run unstamped "$T/out"
	assert_output '{"name":"deploy.start","payload":"v2"}'
	# The ACL is in force: the bus says so.
	run bash -c "printf 'HELLO 2 bats\nQUIT\n' |
	    socat - UNIX-CONNECT:$T/run/evbus/sock"
	assert_line --index 0 --regexp '^HELLO 2 .* features=([a-z-]+,)*acl[, ]'
}

@test "evbusd(8) example 7: the page's rules are those of share/examples/acl.conf" {
	# rules FILE: its rule lines, comments and blank lines left out, blanks
	# squeezed.
	rules() {
		grep -v '^[[:space:]]*#' "$1" | grep -v '^[[:space:]]*$' |
		    sed -E 's/[[:space:]]+/ /g; s/^ //; s/ $//'
	}
	grep -qF 'from
.Pa share/examples/acl.conf' "$ROOT/man/man8/evbusd.8" ||
	    fail "the page no longer names share/examples/acl.conf"
	ex evbusd.8 7
	run rules "$T/ex"
	want=$output
	run rules "$ROOT/share/examples/acl.conf"
	assert_output "$want"
}

@test "evbusd(8) examples 8 and 9: --check-acl accepts the rules and prints what the page shows" {
	ex evbusd.8 7
	mkdir -p "$T/etc/evbus"
	install -m 0640 "$T/ex" "$T/etc/evbus/acl.conf"
	ex evbusd.8 8
	ex_is <<-'EOF'
	# evbusd --check-acl /etc/evbus/acl.conf
	# systemctl reload evbusd-shared
	EOF
	# The reload is the unit's: --check-acl, then SIGHUP.
	run grep -c "^ExecReload=$(sed -n '1s/^# //p' "$T/ex")\$" \
	    "$ROOT/share/systemd/evbusd-shared.service"
	assert_output 1
	[ "$(sed -n '2s/^# systemctl reload //p' "$T/ex").service" = \
	    "$(basename "$ROOT/share/systemd/evbusd-shared.service")" ] ||
	    fail "the reload names another unit"
	fake_systemctl
	PATH=$T/stub:$PATH run bash -e -c "$(sed 's/^# //' "$T/ex" | shared_paths)"
	[ "$status" -eq 0 ] || fail "status $status: $output"
	got=$output
	assert_equal "$(cat "$T/systemctl.log")" 'systemctl reload evbusd-shared'
	# The page shows this machine's numbers for www-data, users and adm
	# (Debian's); another's are put in their place.
	ex evbusd.8 9
	want=$(shared_paths <"$T/ex" | sed -E \
	    -e "s/user 33 # (line [0-9]+: www-data)\$/user $(id -u www-data) # \1/" \
	    -e "s/group 100 # (line [0-9]+: users)\$/group $(getent group users | cut -d: -f3) # \1/" \
	    -e "s/group 4 # (line [0-9]+: adm)\$/group $(getent group adm | cut -d: -f3) # \1/")
	assert_equal "$got" "$want"
	# Without its comments, the listing is an ACL file that says the same.
	printf '%s\n' "$got" >"$T/etc/evbus/again.conf"
	chmod 0640 "$T/etc/evbus/again.conf"
	run_ok evbusd --check-acl "$T/etc/evbus/again.conf"
	assert_equal "$(tail -n +2 <<<"$output" | sed -E 's/ # line [0-9]+.*$//')" \
	    "$(tail -n +2 <<<"$got" | sed -E 's/ # line [0-9]+.*$//')"
}

@test "evbusd(8) example 11: the shared unit's setup names the unit's user and paths" {
	ex evbusd.8 11
	ex_is <<-'EOF'
	# useradd --system --user-group --home-dir / \
	    --shell /usr/sbin/nologin evbus
	# install -d -m 0755 /etc/evbus
	# install -m 0640 -o root -g evbus acl.conf /etc/evbus/
	# evbusd --check-acl /etc/evbus/acl.conf
	# systemctl enable --now evbusd-shared
	# usermod -a -G evbus alice
	EOF
	unit=$ROOT/share/systemd/evbusd-shared.service
	# The user and group useradd makes are those the unit runs as and
	# gives the socket to.
	run grep -E '^(User|Group)=' "$unit"
	assert_output $'User=evbus\nGroup=evbus'
	run grep '^ExecStart=' "$unit"
	assert_output 'ExecStart=evbusd -A /etc/evbus/acl.conf -s /run/evbus/sock --group evbus'
	# The ACL goes where ExecStart reads it, readable by the group; what
	# is checked is that file; the unit enabled is this one.
	grep -qx '# install -m 0640 -o root -g evbus acl.conf /etc/evbus/' "$T/ex"
	grep -qx "# $(sed -n 's/^ExecReload=\(evbusd .*\)/\1/p' "$unit")" "$T/ex" ||
	    fail "the check is not the unit's ExecReload"
	[ "$(sed -n 's/^# systemctl enable --now //p' "$T/ex").service" = \
	    "$(basename "$unit")" ] || fail "another unit is enabled"
	# make install puts the unit where the page says.
	local o
	o=$(dirname "$EVBUS_BIN")
	run make -s -C "$ROOT" O="$o" install PREFIX=/usr DESTDIR="$T/stage"
	[ "$status" -eq 0 ] || fail "make install: $output"
	# (naming the installed evbusd by its full path)
	sed 's|^\(Exec[A-Za-z]*=\)evbusd |\1/usr/bin/evbusd |' "$unit" |
	    cmp - "$T/stage/usr/lib/systemd/system/evbusd-shared.service" ||
	    fail "make install: another unit"
}

# A systemctl that only says what it was asked.
fake_systemctl() {
	mkdir -p "$T/stub"
	cat >"$T/stub/systemctl" <<-EOF
	#!/bin/sh
	echo "systemctl \$*" >>"$T/systemctl.log"
	EOF
	chmod +x "$T/stub/systemctl"
}

@test "evbusd(8) Under systemd: the unit make install made, linked and enabled" {
	local o
	o=$(dirname "$EVBUS_BIN")
	run make -s -C "$ROOT" O="$o" install PREFIX="$T/usr" DESTDIR=
	[ "$status" -eq 0 ] || fail "make install: $output"
	fake_systemctl
	export HOME=$T/home PREFIX=$T/usr
	mkdir -p "$HOME"
	ex evbusd.8 10
	PATH=$T/stub:$PATH doc_run
	run readlink -f "$HOME/.config/systemd/user/evbusd.service"
	assert_output "$T/usr/lib/systemd/user/evbusd.service"
	run grep '^ExecStart=' "$HOME/.config/systemd/user/evbusd.service"
	assert_output "ExecStart=$T/usr/bin/evbusd"
	run cat "$T/systemctl.log"
	assert_output 'systemctl --user daemon-reload
systemctl --user enable --now evbusd'
}

@test "evbusd(8) Under s6: the run script signals readiness on fd 3" {
	ex evbusd.8 13
	ex_is <<-'EOF'
	#!/bin/sh
	exec evbusd -r 3
	EOF
	cp "$T/ex" "$T/run"
	chmod +x "$T/run"
	mkfifo "$T/ready"
	"$T/run" 3>"$T/ready" 2>"$T/run.err" &
	pid=$!
	EV_PIDS+=("$pid")
	read -r -t "$(ev_scale 20)" line <"$T/ready" || fail "no readiness line"
	assert_equal "$line" ""
	run_ok evfire -w s6.ok
	kill -TERM "$pid"
	finish "$pid" 0
}

# --- README.md ------------------------------------------------------------

@test "README tour: PATH, a subscriber and a request" {
	readme_block 'A short tour' 1
	ex_is <<-'EOF'
	export PATH=$PWD/build/bin:$PATH
	EOF
	start_bus
	readme_block 'A short tour' 2
	ex_is <<-'EOF'
	evsub 'request.#' | jq -c .payload &
	evfire request.echo.1-0-0.default '{"command":"say"}'
	EOF
	doc_cmd_bg "$T/out" "$(sed -n '1s/ &$//p' "$T/ex")"
	subscribed 'request.#'
	run bash -c "$(sed -n 2p "$T/ex")"
	[ "$status" -eq 0 ] || fail "$output"
	wait_lines "$T/out" 1
	# "The subscriber prints {"command":"say"}."
	grep -qF 'The subscriber prints `{"command":"say"}`.' "$ROOT/README.md"
	assert_equal "$(cat "$T/out")" '{"command":"say"}'
}

@test "README tour: deploy events, their payloads, and the seq -w prints" {
	start_bus
	readme_block 'A short tour' 3
	ex_is <<-'EOF'
	evfire deploy v1.2.3          # payload: the string "v1.2.3" (not JSON, so a string)
	evfire deploy '{"v":3}'       # payload: the object {"v":3}
	evfire -w deploy '"v1.2.3"'   # prints the seq the bus gave the event, e.g. 4
	EOF
	run bash "$T/ex"
	assert_output 4
	collect 3 "$T/ev"
	run unstamped "$T/ev"
	assert_output '{"name":"deploy","payload":"v1.2.3"}
{"name":"deploy","payload":{"v":3}}
{"name":"deploy","payload":"v1.2.3"}'
}

@test "README tour: standard input, and a log's lines" {
	start_bus
	readme_block 'A short tour' 4
	ex_is <<-'EOF'
	printf '%s\n' '{"name":"a.b","payload":1}' '{"name":"a.c"}' | evfire
	tail -f app.log | evfire -n app.log.line
	EOF
	run bash -c "$(sed -n 1p "$T/ex")"
	[ "$status" -eq 0 ] || fail "$output"
	mkdir -p "$T/work"
	echo 'a line' >"$T/work/app.log"
	doc_cmd_bg "$T/out" "$(sed -n 2p "$T/ex")"
	wait_for "evsub --from 0 -c 3 --deadline 200ms >'$T/ev'"
	run unstamped "$T/ev"
	assert_output '{"name":"a.b","payload":1}
{"name":"a.c","payload":null}
{"name":"app.log.line","payload":"a line"}'
	# "A bad line is reported as evfire: stdin:LINE: reason"
	run_fails 1 evfire <<<$'{"name":"ok.1"}\nnope\n{"name":"ok.2"}'
	assert_equal "$stderr" 'evfire: stdin:2: invalid JSON at byte 1: object expected'
}

@test "README tour: replay from a seq, the last five, and the line evsub prints" {
	start_bus
	readme_block 'A short tour' 5
	ex_is <<-'EOF'
	evsub -c 10 --from 42 '*.crashed'   # replay from seq 42 out of the ring, then live; exit after 10
	evsub --last 5 '#'                  # the 5 most recent events, then live
	evsub --where '.payload.cell_id == "c2"' 'actual_lrp.#'   # filtered in the daemon, in jq's spelling
	EOF
	for i in $(seq 1 60); do echo "{\"name\":\"web.crashed\",\"payload\":$i}"; done | evfire
	run bash -c "$(sed -n 1p "$T/ex")"
	[ "$status" -eq 0 ] || fail "$output"
	run jq -c .seq <<<"$output"
	assert_output "$(seq 42 51)"
	doc_cmd_bg "$T/out" "$(sed -n 2p "$T/ex")"
	wait_lines "$T/out" 5
	run jq -c .payload "$T/out"
	assert_output "$(seq 56 60)"
	where=$(sed -n 3p "$T/ex")
	# The line shown has the fields in the order evsub prints them.
	readme_block 'A short tour' 6
	run jq -c 'keys_unsorted' "$T/ex"
	want=$output
	run_ok evfire web.crashed
	run_ok evsub --last 1 -c 1 'web.crashed'
	run jq -c 'keys_unsorted' <<<"$output"
	assert_output "$want"
	# The filter, as written: only the c2 events, the bus keeping back
	# the others.
	doc_cmd_bg "$T/lrp" "$where"
	subscribed 'actual_lrp.#'
	{
		lrp created c1
		lrp created c2
		lrp changed c2 c3
		lrp removed c3
		echo '{"name":"other.event","payload":{"cell_id":"c2"}}'
		lrp removed c2
	} | evfire
	wait_lines "$T/lrp" 2
	run_ok evfire actual_lrp.claimed '{"cell_id":"c2","index":1}'
	wait_lines "$T/lrp" 3
	run jq -c '[.name, .payload]' "$T/lrp"
	assert_output '["actual_lrp.created",{"cell_id":"c2"}]
["actual_lrp.removed",{"cell_id":"c2"}]
["actual_lrp.claimed",{"cell_id":"c2","index":1}]'
	run_ok evlist --stats
	run jq .filtered_out <<<"$output"
	assert_output 3
}

@test "README tour: evroute's rules, and the example file checked" {
	start_bus
	readme_block 'A short tour' 7
	ex_is <<-'EOF'
	evsub '#' | evroute \
	    -e 'request.# -> file:requests.ndjson' \
	    -e '*.crashed where .payload.crash_count > 3 -> exec:./page-oncall.sh' \
	    -e 'beergarden.request -> fire:request.{.payload.system}.{.payload.system_version|mangle}.{.payload.instance_name}' \
	    -e '# -> drop'
	evroute -f share/examples/routes.conf --check   # prints nothing, exits 0; or says file:line:column why
	EOF
	# ./page-oncall.sh: a stand-in that keeps the names it is fed.
	mkdir -p "$T/work"
	cat >"$T/work/page-oncall.sh" <<-EOF
	#!/bin/sh
	exec jq --unbuffered -r .name >>"$T/oncall"
	EOF
	chmod +x "$T/work/page-oncall.sh"
	doc_cmd_bg "$T/out" "$(sed -n 1,5p "$T/ex")"
	subscribed '#'
	printf '%s\n' '{"name":"request.a","payload":1}' \
	    '{"name":"web.crashed","payload":{"crash_count":5}}' \
	    '{"name":"db.crashed","payload":{"crash_count":1}}' \
	    '{"name":"beergarden.request","payload":{"system":"echo","system_version":"1.0.0","instance_name":"default"}}' \
	    '{"name":"other.thing"}' | evfire
	wait_lines "$T/work/requests.ndjson" 2
	wait_lines "$T/oncall" 1
	run jq -c '[.name, .payload]' "$T/work/requests.ndjson"
	assert_output '["request.a",1]
["request.echo.1-0-0.default",{"system":"echo","system_version":"1.0.0","instance_name":"default"}]'
	run cat "$T/oncall"
	assert_output web.crashed
	# Dropped, everything else: nothing on evroute's standard output.
	assert_equal "$(cat "$T/out")" ""
	run bash -c "cd '$ROOT' && $(sed -n 6p "$T/ex")"
	[ "$status" -eq 0 ] || fail "status $status: $output"
	assert_output ''
}

@test "README tour: evlist, its template, the long-poll loop and the figures" {
	start_bus
	readme_block 'A short tour' 8
	ex_is <<-'EOF'
	evlist 'deploy.#'                          # the deploy events the bus holds, oldest first
	evlist -F '{.seq} {.name} {.payload}'      # as text, from a template (evsub -F too)
	idx=0; while :; do                         # Consul's blocking query, with a real index
	    evlist -i "$idx" -w 5m --index-file idx.txt 'deploy.#' | ./handle.sh
	    idx=$(cat idx.txt)
	done
	evlist --stats | jq .ring                  # the bus's own figures
	EOF
	printf '%s\n' '{"name":"deploy.a","payload":"v1"}' \
	    '{"name":"other.b","payload":{"x":1}}' '{"name":"deploy.b"}' | evfire
	run_ok bash -c "$(sed -n 1p "$T/ex")"
	run jq -c '[.seq, .name]' <<<"$output"
	assert_output '[2,"deploy.a"]
[4,"deploy.b"]'
	run_ok bash -c "$(sed -n 2p "$T/ex")"
	assert_output '2 deploy.a v1
3 other.b {"x":1}
4 deploy.b null'
	# The loop, with a ./handle.sh that keeps the names: each event once.
	mkdir -p "$T/work"
	cat >"$T/work/handle.sh" <<-EOF
	#!/bin/sh
	exec jq -r .name >>"$T/handled"
	EOF
	chmod +x "$T/work/handle.sh"
	doc_cmd_bg "$T/loop" "$(sed -n 3,6p "$T/ex")"
	wait_lines "$T/handled" 2
	run_ok evfire deploy.c
	run_ok evfire other.d
	wait_lines "$T/handled" 3
	run_ok evfire deploy.d
	wait_lines "$T/handled" 4
	run cat "$T/handled"
	assert_output $'deploy.a\ndeploy.b\ndeploy.c\ndeploy.d'
	# The index the loop goes on from: the bus's epoch, and a seq no
	# older than the last event handled.
	s=$(evsub --from 0 -c 1 deploy.d | jq .seq)
	ep=$(evlist --stats | jq -r .epoch)
	wait_for "grep -qxE '$ep:[0-9]+' '$T/work/idx.txt' &&
	    [ \"\$(cut -d: -f2 '$T/work/idx.txt')\" -ge $s ]"
	run_ok bash -c "$(sed -n 7p "$T/ex")"
	run jq -c 'keys' <<<"$output"
	assert_output '["bytes","events","first","max_bytes","max_events","memory"]'
}

@test "README install: what make install puts where, and the systemd steps" {
	local o
	o=$(dirname "$EVBUS_BIN")
	readme_block 'Install' 1
	ex_is <<-'EOF'
	make install PREFIX=/usr/local DESTDIR=
	EOF
	run make -s -C "$ROOT" O="$o" install PREFIX=/usr/local DESTDIR="$T/stage"
	[ "$status" -eq 0 ] || fail "make install: $output"
	for p in evbusd evfire evsub; do
		[ -x "$T/stage/usr/local/bin/$p" ] || fail "no $p"
		[ -f "$T/stage/usr/local/share/bash-completion/completions/$p" ] ||
		    fail "no completion for $p"
	done
	run grep '^ExecStart=' "$T/stage/usr/local/lib/systemd/user/evbusd.service"
	assert_output 'ExecStart=/usr/local/bin/evbusd'
	readme_block 'Install' 2
	ex_is <<-'EOF'
	mkdir -p ~/.config/systemd/user
	ln -sf /usr/local/lib/systemd/user/evbusd.service ~/.config/systemd/user/   # only for another PREFIX
	systemctl --user daemon-reload
	systemctl --user enable --now evbusd
	EOF
	fake_systemctl
	export HOME=$T/home
	mkdir -p "$HOME"
	PATH=$T/stub:$PATH run bash -e "$T/ex"
	[ "$status" -eq 0 ] || fail "$output"
	[ -d "$HOME/.config/systemd/user" ] || fail "no ~/.config/systemd/user"
	run cat "$T/systemctl.log"
	assert_output 'systemctl --user daemon-reload
systemctl --user enable --now evbusd'
}

# --- bash completion and evbusd(8) ----------------------------------------

@test "bash completion offers every option evbusd(8) lists" {
	want=$(awk '/^\.It Fl / { sub(/^\.It /, ""); n = split($0, p, / , /)
	    for (i = 1; i <= n; i++) { split(p[i], w, " ")
		if (w[1] == "Fl") print "-" w[2] } }' \
	    "$ROOT/man/man8/evbusd.8" | sort -u)
	[ "$(wc -l <<<"$want")" -ge 18 ] || fail "options from the manual: $want"
	# shellcheck source=/dev/null
	source "$ROOT/share/bash-completion/evbus"
	COMP_LINE='evbusd -'
	COMP_POINT=${#COMP_LINE}
	_evbusd
	run sort -u < <(printf '%s\n' "${COMPREPLY[@]}")
	assert_output "$want"
}

# --- every display has its test ------------------------------------------

@test "every EXAMPLES display of every manual is run by a test here" {
	local page n k missing=()
	for page in evsub.1 evfire.1 evbus.7 evbusd.8; do
		n=$(ex_count "$page")
		[ "$n" -gt 0 ] || fail "$page: no EXAMPLES displays"
		for ((k = 1; k <= n; k++)); do
			grep -qE "^[[:space:]]*ex $page $k\$" "$BATS_TEST_FILENAME" ||
			    missing+=("$page $k")
		done
		# And none beyond the page's count.
		! grep -qE "^[[:space:]]*ex $page $((n + 1))\$" \
		    "$BATS_TEST_FILENAME" || missing+=("$page has no $((n + 1))")
	done
	[ "${#missing[@]}" -eq 0 ] || fail "displays without a test: ${missing[*]}"
}
