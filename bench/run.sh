#!/bin/sh
# bench/run.sh BINDIR: evbus side by side with mosquitto, redis, NATS and
# D-Bus (issue 4).  See bench/README for what each workload measures and how
# each system is driven.
#
# Environment:
#   EV_BENCH=full|tiny   full (default): every system, 500,000 events;
#                        tiny: evbus only, a few thousand events, one run each
#   EV_BENCH_OUT=FILE    where the results go (default bench/results.md)
#   EV_BENCH_LABEL=TEXT  the heading of the results (default: the date)
#   EV_BENCH_SYSTEMS     override the systems, e.g. "mosquitto redis"
#   BENCH_RUNS=N         runs of bulk and fan-out (median, min, max shown)
#   BENCH_BUDGET=SECS    after 3 runs, skip a system's further bulk/fan-out
#                        runs once they have taken this long (default 60)
#   BENCH_LAT_RUNS=N     runs of the latency probe; BENCH_FP_RUNS of footprint
#   BENCH_EVENTS=N       events in bulk and fan-out
#
# Exit: 0 ok (the table printed and written); 1 some figure could not be
# measured (the table still written, the failures listed under it);
# 64 usage; 69 peers missing and not root; 70 the harness itself failed.

set -u

usage() {
	echo "usage: sh bench/run.sh BINDIR" >&2
	exit 64
}
[ $# -eq 1 ] || usage
[ -d "$1" ] || { echo "bench: $1: no such directory (run make first)" >&2; exit 64; }
BIN=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=${EV_BENCH:-full}
OUT=${EV_BENCH_OUT:-$HERE/results.md}
BUDGET=${BENCH_BUDGET:-60}
LABEL=${EV_BENCH_LABEL:-}
CURVES=${EV_BENCH_CURVES:-1}
PLOTDIR=${EV_BENCH_PLOTDIR:-$(dirname "$OUT")}

case $MODE in
full)
	N=${BENCH_EVENTS:-500000}
	RUNS=${BENCH_RUNS:-5}
	FAN=10
	SHOT_RUNS=30
	LAT_RATE=10000
	LAT_SECS=10
	LAT_RUNS=${BENCH_LAT_RUNS:-3}
	FP_SUBS=1000
	FP_RUNS=${BENCH_FP_RUNS:-3}
	SYSTEMS=${EV_BENCH_SYSTEMS:-evbus mosquitto redis nats dbus}
	CURVE_SUBS=${EV_BENCH_CURVE_SUBS:-1 10 100 1000}
	CURVE_SIZES=${EV_BENCH_CURVE_SIZES:-100 1024 65536}
	CURVE_EVENTS=${BENCH_CURVE_EVENTS:-200000}
	CURVE_FILL=1000000
	;;
tiny)
	N=${BENCH_EVENTS:-3000}
	RUNS=${BENCH_RUNS:-1}
	FAN=10
	SHOT_RUNS=10
	LAT_RATE=1000
	LAT_SECS=1
	LAT_RUNS=${BENCH_LAT_RUNS:-1}
	FP_SUBS=50
	FP_RUNS=${BENCH_FP_RUNS:-1}
	SYSTEMS=${EV_BENCH_SYSTEMS:-evbus}
	CURVE_SUBS="1 10"
	CURVE_SIZES="100 1024"
	CURVE_EVENTS=${BENCH_CURVE_EVENTS:-2000}
	CURVE_FILL=3000
	;;
*)
	echo "bench: EV_BENCH=$MODE: want full or tiny" >&2
	exit 64
	;;
esac

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 70; }
has() { case " $SYSTEMS " in *" $1 "*) return 0;; esac; return 1; }

# --- peers: install from Debian by name when missing ----------------------

need_pkgs() {
	pkgs=""
	want() { command -v "$1" >/dev/null 2>&1 || pkgs="$pkgs $2"; }
	want cc gcc
	want hyperfine hyperfine
	want jq jq
	want timeout coreutils
	if has mosquitto; then
		want mosquitto mosquitto
		want mosquitto_pub mosquitto-clients
		want mosquitto_sub mosquitto-clients
	fi
	if has redis; then
		want redis-server redis-server
		want redis-cli redis-tools
	fi
	has nats && want nats-server nats-server
	if has dbus; then
		want dbus-daemon dbus
		want dbus-send dbus
	fi
	if has nats || has mosquitto; then
		want socat socat
	fi
	# The curves' plots; tiny mode draws them only when gnuplot is there.
	if [ "$MODE" = full ] && [ "${EV_BENCH_CURVES:-1}" = 1 ] &&
	    [ "${EV_BENCH_PLOTS:-1}" = 1 ]; then
		want gnuplot gnuplot-nox
	fi
	# Each package once, in order.
	echo "$pkgs" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' '
}
missing=$(need_pkgs)
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: missing packages; install them with:" >&2
		echo "  apt-get install -y --no-install-recommends $missing" >&2
		exit 69
	fi
	log "installing $missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends $missing >&2 ||
	{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y --no-install-recommends $missing >&2; } ||
	{ echo "bench: apt-get install $missing failed" >&2; exit 69; }
	missing=$(need_pkgs)
	[ -z "$missing" ] || { echo "bench: still missing: $missing" >&2; exit 69; }
fi

# --- scratch directory, process tracking, cleanup -------------------------

T=$(mktemp -d "${TMPDIR:-/tmp}/evbench.XXXXXX") || die "mktemp failed"
# Unix socket paths are limited to ~107 bytes.
if [ ${#T} -gt 70 ]; then
	rmdir "$T"
	T=$(mktemp -d /tmp/evbench.XXXXXX) || die "mktemp failed"
fi
PIDS=""

alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL; reap it.
stop_pid() {
	kill "$1" 2>/dev/null
	_i=0
	while [ $_i -lt 250 ] && alive "$1"; do
		sleep 0.02
		_i=$((_i + 1))
	done
	alive "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
	return 0
}

cleanup() {
	st=$?
	trap - EXIT INT TERM
	for p in $PIDS; do
		stop_pid "$p"
	done
	rm -rf "$T"
	exit $st
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# track PID: stop it at exit if nobody did before.
track() { PIDS="$PIDS $1"; }

# wait_for SECONDS WHAT cmd...: poll cmd every 20 ms until it succeeds.
wait_for() {
	_n=$(($1 * 50))
	_what=$2
	shift 2
	_i=0
	until "$@" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -le $_n ] || return 1
		sleep 0.02
	done
	return 0
}

# --- helpers and input ----------------------------------------------------

LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)
log "mode $MODE: $N events, $RUNS runs, systems: $SYSTEMS (scratch $T)"
mkdir -p "$T/bin" "$T/fp"
: > "$T/spent.tsv"
for t in gen latprobe waitlines; do
	cc -O2 -std=c11 -D_GNU_SOURCE -o "$T/bin/$t" "$HERE/$t.c" ||
	    die "cannot compile bench/$t.c"
done
GEN=$T/bin/gen
PROBE=$T/bin/latprobe
WAITLINES=$T/bin/waitlines

"$GEN" ndjson "$N" > "$T/events.ndjson" || die "gen failed"
if has redis; then
	"$GEN" resp "$N" bench > "$T/events.resp" || die "gen failed"
fi
if has nats; then
	# A PING last: the publisher's socat reads the PONG, so it never closes
	# with unread input (which would reset the connection and lose events).
	{ "$GEN" nats "$N" bench && printf 'PING\r\n'; } > "$T/events.nats" ||
	    die "gen failed"
	"$GEN" nats-sub bench > "$T/nats-sub.txt"
fi
ONE=$(head -n 1 "$T/events.ndjson")
ONE_NAME=$(printf '%s\n' "$ONE" | jq -r .name)
ONE_PAYLOAD=$(printf '%s\n' "$ONE" | jq -c .payload)
EVLEN=$(($(wc -c < "$T/events.ndjson") / N))

# record WORKLOAD SYSTEM UNIT BETTER VALUE
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$T/results.tsv"
}
# fail WHAT: note a figure that could not be measured.
fail() {
	log "FAILED: $*"
	printf -- '- %s\n' "$*" >> "$T/failures"
}

# --- servers: each on a private socket, its own config, polled ready ------

# start_SYS DIR: start the server with its socket/config under DIR, wait
# until it answers (bounded), set SYS_PID and its address.

EV_BENCH_RING=${EV_BENCH_RING:--b 1M -B 512M}

start_evbus() {
	EV_SOCK=$1/evbus.sock
	rm -f "$1/evready"
	mkfifo "$1/evready" || die "mkfifo failed"
	# -r 3: evbusd writes a newline on fd 3 once it listens.  The ring
	# is the lag a subscriber may have before it sees a gap: sized for
	# the whole burst (EV_BENCH_RING), as the peers' queues are unlimited.
	# -m 1M: the 64 KiB events of the size curve, with the id and time
	# evfire adds, are over the default limit (65,536 bytes).
	# shellcheck disable=SC2086
	"$BIN/evbusd" -s "$EV_SOCK" -r 3 --max-clients $((FP_SUBS + 100)) \
	    -m 1M $EV_BENCH_RING 3>"$1/evready" 2>>"$T/evbusd.log" &
	EV_PID=$!
	track $EV_PID
	[ "$(timeout 10 head -c 1 "$1/evready" | wc -c)" -eq 1 ] ||
	    die "evbusd did not become ready: $(tail -n 5 "$T/evbusd.log")"
}

start_mosquitto() {
	MQ_SOCK=$1/mosquitto.sock
	cat > "$1/mosquitto.conf" <<-EOF
	per_listener_settings false
	allow_anonymous true
	listener 0 $MQ_SOCK
	persistence false
	user $(id -un)
	log_dest stderr
	log_type error
	max_queued_messages 0
	max_queued_bytes 0
	EOF
	mosquitto -c "$1/mosquitto.conf" 2>>"$T/mosquitto.log" &
	MQ_PID=$!
	track $MQ_PID
	wait_for 10 mosquitto mosquitto_pub --unix "$MQ_SOCK" -t ready -n ||
	    die "mosquitto did not become ready: $(tail -n 5 "$T/mosquitto.log")"
}

start_redis() {
	RD_SOCK=$1/redis.sock
	cat > "$1/redis.conf" <<-EOF
	port 0
	unixsocket $RD_SOCK
	unixsocketperm 700
	save ""
	appendonly no
	daemonize no
	dir $1
	logfile ""
	loglevel warning
	maxclients 10000
	client-output-buffer-limit pubsub 0 0 0
	EOF
	redis-server "$1/redis.conf" >>"$T/redis.log" 2>&1 &
	RD_PID=$!
	track $RD_PID
	redis_up() { [ "$(redis-cli -s "$RD_SOCK" ping 2>/dev/null)" = PONG ]; }
	wait_for 10 redis redis_up ||
	    die "redis-server did not become ready: $(tail -n 5 "$T/redis.log")"
}

start_nats() {
	rm -f "$1"/nats-server_*.ports
	cat > "$1/nats.conf" <<-EOF
	listen: "127.0.0.1:-1"
	ports_file_dir: "$1"
	max_pending: 2GB
	write_deadline: "120s"
	ping_interval: "10m"
	EOF
	nats-server -c "$1/nats.conf" 2>>"$T/nats.log" &
	NT_PID=$!
	track $NT_PID
	# The server writes its ports file once it listens on its free port.
	nats_port() {
		NT_PORT=$(jq -r '.nats[0]' "$1/nats-server_$NT_PID.ports" \
		    2>/dev/null | sed 's/.*://')
		[ -n "$NT_PORT" ] && socat -u /dev/null "TCP:127.0.0.1:$NT_PORT"
	}
	wait_for 10 nats nats_port "$1" ||
	    die "nats-server did not become ready: $(tail -n 5 "$T/nats.log")"
	nats_port "$1"
	NT_ADDR=127.0.0.1:$NT_PORT
}

start_dbus() {
	DB_SOCK=$1/dbus.sock
	DB_ADDR=unix:path=$DB_SOCK
	dbus-daemon --session --address="$DB_ADDR" --nofork --nopidfile \
	    2>>"$T/dbus.log" &
	DB_PID=$!
	track $DB_PID
	wait_for 10 dbus dbus-send --bus="$DB_ADDR" --print-reply \
	    --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	    org.freedesktop.DBus.GetId ||
	    die "dbus-daemon did not become ready: $(tail -n 5 "$T/dbus.log")"
}

# stop_evbus: evbusd must still be running and exit 0 on SIGTERM.
stop_evbus() {
	if ! alive "$EV_PID"; then
		wait "$EV_PID"
		fail "evbusd (pid $EV_PID) had exited by itself, status $?: $(tail -n 3 "$T/evbusd.log" | tr '\n' ' ')"
		PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$EV_PID" | tr '\n' ' ')
		return
	fi
	kill "$EV_PID"
	_i=0
	while [ $_i -lt 500 ] && alive "$EV_PID"; do
		sleep 0.02
		_i=$((_i + 1))
	done
	if alive "$EV_PID"; then
		fail "evbusd did not exit within 10 s of SIGTERM"
		kill -KILL "$EV_PID"
	fi
	wait "$EV_PID"
	_st=$?
	[ $_st -eq 0 ] || fail "evbusd exited with status $_st on SIGTERM"
	PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$EV_PID" | tr '\n' ' ')
}
stop_mosquitto() { stop_pid "$MQ_PID"; }
stop_redis() { stop_pid "$RD_PID"; }
stop_nats() { stop_pid "$NT_PID"; }
stop_dbus() { stop_pid "$DB_PID"; }

server_pid() {
	case $1 in
	evbus) echo "$EV_PID";; mosquitto) echo "$MQ_PID";;
	redis) echo "$RD_PID";; nats) echo "$NT_PID";; dbus) echo "$DB_PID";;
	esac
}
probe_addr() {
	case $1 in
	evbus) echo "evbus $EV_SOCK";; mosquitto) echo "mqtt $MQ_SOCK";;
	redis) echo "redis $RD_SOCK";; nats) echo "nats $NT_ADDR";;
	dbus) echo "dbus $DB_SOCK";;
	esac
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- subscribers and publishers of workloads 1 and 2 ----------------------

# sub_SYS FILE: start one subscriber CLI writing to FILE (in the background).
sub_start() {
	case $1 in
	evbus) "$BIN/evsub" -q -s "$EV_SOCK" '#' > "$2" 2>>"$T/evsub.log" & ;;
	mosquitto) mosquitto_sub --unix "$MQ_SOCK" -t bench > "$2" \
	    2>>"$T/mosquitto_sub.log" & ;;
	redis) redis-cli -s "$RD_SOCK" subscribe bench > "$2" \
	    2>>"$T/redis-cli.log" & ;;
	# NATS text protocol through socat: CONNECT, SUB, PING from a file it
	# keeps open past its end (ignoreeof), the server's frames to FILE.
	nats) socat -b 65536 "OPEN:$T/nats-sub.txt,ignoreeof!!CREATE:$2" \
	    "TCP:$NT_ADDR" 2>>"$T/socat.log" & ;;
	esac
	track $!
	SUBPIDS="$SUBPIDS $!"
}

# probe_fire SYS TEXT: publish one small readiness probe named/with TEXT.
probe_fire() {
	case $1 in
	evbus) "$BIN/evfire" -q -s "$EV_SOCK" bench.ready "$2";;
	mosquitto) mosquitto_pub --unix "$MQ_SOCK" -t bench -m "$2";;
	redis) redis-cli -s "$RD_SOCK" publish bench "$2";;
	nats) printf 'CONNECT {"verbose":false}\r\nPUB bench %d\r\n%s\r\nPING\r\n' \
	    ${#2} "$2" | socat -t 5 - "TCP:$NT_ADDR";;
	esac >/dev/null 2>&1
}

# subs_ready SYS FILE...: publish numbered probes, one at a time, until the
# last line of every FILE is the latest probe.  Then every subscriber is
# subscribed and nothing is still in flight to it.  Probe lines never start
# with '{' (except evsub's, which are counted before the run starts).
subs_ready() {
	_sys=$1
	shift
	_k=0
	while [ $_k -lt 40 ]; do
		_k=$((_k + 1))
		probe_fire "$_sys" "ready-$_k"
		_i=0
		while [ $_i -lt 25 ]; do
			_all=1
			for _f; do
				tail -n 1 "$_f" 2>/dev/null | grep -q "ready-$_k" ||
				    { _all=0; break; }
			done
			[ $_all -eq 1 ] && return 0
			sleep 0.02
			_i=$((_i + 1))
		done
	done
	return 1
}

# flow SYS NSUBS: one run of the bulk pipeline (NSUBS=1) or fan-out; sets
# FLOW_RESULT to the events/s on success.  Runs in the main shell so that
# every subscriber it starts is tracked for cleanup.
flow() {
	_sys=$1
	_ns=$2
	SUBPIDS=""
	_args=""
	_j=0
	while [ $_j -lt "$_ns" ]; do
		_j=$((_j + 1))
		rm -f "$T/out.$_j"
		sub_start "$_sys" "$T/out.$_j"
	done
	_files=""
	_j=0
	while [ $_j -lt "$_ns" ]; do
		_j=$((_j + 1))
		_files="$_files $T/out.$_j"
	done
	# shellcheck disable=SC2086
	if ! subs_ready "$_sys" $_files; then
		fail "$_sys ×$_ns: subscribers never received a probe"
		for _p in $SUBPIDS; do stop_pid "$_p"; done
		return 1
	fi
	for _f in $_files; do
		_args="$_args $_f $(($(grep -c '^{' "$_f") + N))"
	done
	case $_sys in
	evbus) set -- "$T/events.ndjson" "$BIN/evfire" -q -s "$EV_SOCK";;
	mosquitto) set -- "$T/events.ndjson" mosquitto_pub --unix "$MQ_SOCK" \
	    -t bench -l;;
	redis) set -- "$T/events.resp" redis-cli -s "$RD_SOCK" --pipe;;
	nats) set -- "$T/events.nats" socat -t 60 -b 65536 - "TCP:$NT_ADDR";;
	esac
	_in=$1
	shift
	rm -f "$T/elapsed"
	# shellcheck disable=SC2086
	"$WAITLINES" -t $((60 + N / 2000)) -s 15 -o "$T/elapsed" $_args -- \
	    "$@" < "$_in" > "$T/pub.out" 2>>"$T/pub.err"
	_st=$?
	for _p in $SUBPIDS; do stop_pid "$_p"; done
	if [ $_st -ne 0 ]; then
		fail "$_sys ×$_ns: status $_st: $(tail -n 2 "$T/pub.err" | tr '\n' ' ')"
		rm -f $_files
		return 1
	fi
	rm -f $_files
	FLOW_RESULT=$(awk -v n="$N" '{ printf "%.0f\n", n / $1 }' "$T/elapsed")
	FLOW_SECS=$(cat "$T/elapsed")
}

# spent KEY: seconds the runs of KEY took so far; failed KEY: failed runs.
spent() {
	awk -F '\t' -v k="$1" '$1 == k { s += $2 } END { printf "%d\n", s }' \
	    "$T/spent.tsv"
}
failed() {
	awk -F '\t' -v k="$1" '$1 == k && $2 == "fail" { n++ } END { print n + 0 }' \
	    "$T/spent.tsv"
}

# --- workload 5: footprint (fresh servers) --------------------------------

footprint() {
	_r=0
	while [ $_r -lt "$FP_RUNS" ]; do
		_r=$((_r + 1))
		for s in $SYSTEMS; do
			rm -rf "$T/fp" && mkdir -p "$T/fp"
			"start_$s" "$T/fp"
			_pid=$(server_pid "$s")
			_idle=$(rss_kb "$_pid")
			# shellcheck disable=SC2046
			if _held=$("$PROBE" hold $(probe_addr "$s") "$FP_SUBS" \
			    "$_pid" 2>>"$T/probe.err"); then
				record "5 footprint: RSS, $FP_SUBS subscribers" \
				    "$s" MB lower \
				    "$(echo "$_held" | awk '{ printf "%.1f", $1 / 1024 }')"
			else
				fail "$s footprint: $(tail -n 1 "$T/probe.err")"
			fi
			record "5 footprint: RSS idle" "$s" MB lower \
			    "$(echo "$_idle" | awk '{ printf "%.1f", $1 / 1024 }')"
			"stop_$s"
		done
	done
	rm -rf "$T/fp"
}

log "workload 5: footprint ($FP_SUBS subscribers, $FP_RUNS runs)"
footprint

# --- the servers of workloads 1-4 -----------------------------------------

mkdir -p "$T/srv"
for s in $SYSTEMS; do
	"start_$s" "$T/srv"
done

# --- workload 3: single-shot publish --------------------------------------

log "workload 3: single-shot publish ($SHOT_RUNS runs each)"
set --
for s in $SYSTEMS; do
	case $s in
	evbus) set -- "$@" -n evbus "$BIN/evfire -w -s $EV_SOCK $ONE_NAME '$ONE_PAYLOAD'";;
	mosquitto) set -- "$@" -n mosquitto "mosquitto_pub --unix $MQ_SOCK -t bench -m '$ONE'";;
	redis) set -- "$@" -n redis "redis-cli -s $RD_SOCK publish bench '$ONE'";;
	nats) printf 'CONNECT {"verbose":false}\r\nPUB bench %d\r\n%s\r\nPING\r\n' \
	    ${#ONE} "$ONE" > "$T/one.nats"
	    set -- "$@" -n nats "socat -t 5 OPEN:$T/one.nats!!OPEN:/dev/null TCP:$NT_ADDR";;
	dbus) set -- "$@" -n dbus "dbus-send --bus=$DB_ADDR --type=signal /bench bench.Lat.Fire 'string:$ONE'";;
	esac
done
set -- "$@" -n /bin/true /bin/true
if hyperfine -N --warmup 3 --runs "$SHOT_RUNS" --export-json "$T/shot.json" \
    "$@" > "$T/hyperfine.log" 2>&1; then
	jq -r '.results[] | [.command, .median, .min, .max] | @tsv' \
	    "$T/shot.json" | while IFS="	" read -r name med min max; do
		# hyperfine gives median, min and max itself: one row each.
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		    "3 single-shot publish (1 CLI run)" "$name" ms lower \
		    "$(echo "$med" | awk '{ printf "%.2f", $1 * 1000 }')" \
		    "$(echo "$min" | awk '{ printf "%.2f", $1 * 1000 }')" \
		    "$(echo "$max" | awk '{ printf "%.2f", $1 * 1000 }')" \
		    "$SHOT_RUNS" >> "$T/summary.tsv"
	done
else
	fail "single-shot: hyperfine failed: $(tail -n 3 "$T/hyperfine.log" | tr '\n' ' ')"
fi

# --- workloads 1 and 2: bulk pipeline and fan-out -------------------------

for w in 1 "$FAN"; do
	if [ "$w" -eq 1 ]; then
		wl="1 bulk pipeline (1 subscriber)"
	else
		wl="2 fan-out ($FAN subscribers, each gets all)"
	fi
	log "workload $wl: $N events, $RUNS runs"
	r=0
	while [ $r -lt "$RUNS" ]; do
		r=$((r + 1))
		for s in $SYSTEMS; do
			[ "$s" = dbus ] && continue
			if [ "$(failed "$w/$s")" -ge 2 ]; then
				continue
			fi
			if [ $r -gt 3 ] && [ "$(spent "$w/$s")" -ge "$BUDGET" ]; then
				log "  run $r $s: skipped (its runs took over ${BUDGET} s)"
				continue
			fi
			if flow "$s" "$w"; then
				log "  run $r $s: $FLOW_RESULT events/s"
				record "$wl" "$s" events/s higher "$FLOW_RESULT"
				printf '%s\t%s\n' "$w/$s" "$FLOW_SECS" >> "$T/spent.tsv"
			else
				printf '%s\tfail\n' "$w/$s" >> "$T/spent.tsv"
			fi
		done
	done
done

# --- workload 4: latency --------------------------------------------------

log "workload 4: latency, $LAT_RATE events/s for $LAT_SECS s, $LAT_RUNS runs"
r=0
while [ $r -lt "$LAT_RUNS" ]; do
	r=$((r + 1))
	for s in $SYSTEMS; do
		# shellcheck disable=SC2046
		if out=$("$PROBE" lat $(probe_addr "$s") "$LAT_RATE" \
		    "$LAT_SECS" 2>>"$T/probe.err"); then
			set -- $out
			log "  run $r $s: p50 $3 p99 $4 p99.9 $5 max $6 µs"
			record "4 latency p50 @${LAT_RATE}/s" "$s" µs lower "$3"
			record "4 latency p99 @${LAT_RATE}/s" "$s" µs lower "$4"
			record "4 latency p99.9 @${LAT_RATE}/s" "$s" µs lower "$5"
		else
			fail "$s latency run $r: received ${out:-nothing} $(tail -n 2 "$T/probe.err" | tr '\n' ' ')"
		fi
	done
done

# --- workload 7: curves (issue 9) ----------------------------------------
#
# Throughput against the number of subscribers, all matching (each gets
# every event) and idle (one matching, the others subscribed to names
# nothing publishes: bench/latprobe.c idle), and against the event size;
# evbus's latency p99 with its ring empty and with it full.  Each point is
# one run; a run's events are CURVE_EVENTS divided by the subscribers (at
# least 500).  Points go to $T/curve-KIND.dat ("system x events/s") and
# gnuplot draws them into bench/curve-KIND.svg (EV_BENCH_PLOTS=0: none).

curve_input() {	# curve_input SIZE EVENTS: the input files, N
	N=$2
	EV_GEN_SIZE=$1 "$GEN" ndjson "$N" > "$T/events.ndjson" || die "gen failed"
	if has redis; then
		EV_GEN_SIZE=$1 "$GEN" resp "$N" bench > "$T/events.resp" ||
		    die "gen failed"
	fi
	if has nats; then
		{ EV_GEN_SIZE=$1 "$GEN" nats "$N" bench &&
		    printf 'PING\r\n'; } > "$T/events.nats" || die "gen failed"
	fi
}

# curve_point KIND SYS X NSUBS IDLE: one run; appends "SYS X rate".
curve_point() {
	_ok=1
	if [ "$5" -gt 0 ]; then
		rm -f "$T/idle.in" "$T/idle.out"
		mkfifo "$T/idle.in"
		# shellcheck disable=SC2046
		"$PROBE" idle $(probe_addr "$2") "$5" 1 < "$T/idle.in" \
		    > "$T/idle.out" 2>>"$T/probe.err" &
		_ip=$!
		track $_ip
		exec 9>"$T/idle.in"
		wait_for 60 "idle subscribers" grep -q ready "$T/idle.out" ||
		    _ok=0
	fi
	if [ $_ok -eq 1 ] && flow "$2" "$4"; then
		printf '%s %s %s\n' "$2" "$3" "$FLOW_RESULT" >> "$T/curve-$1.dat"
		log "  $1 $2 x=$3: $FLOW_RESULT events/s"
	else
		fail "curve $1: $2 at $3"
	fi
	if [ "$5" -gt 0 ]; then
		exec 9>&-
		wait "$_ip" 2>/dev/null
	fi
}

if [ "$CURVES" = 1 ]; then
	log "workload 7: curves, subscribers $CURVE_SUBS, sizes $CURVE_SIZES"
	N0=$N
	for n in $CURVE_SUBS; do
		ev=$((CURVE_EVENTS / n))
		[ $ev -lt 500 ] && ev=500
		curve_input 170 "$ev"
		for s in $SYSTEMS; do
			[ "$s" = dbus ] && continue
			curve_point subs "$s" "$n" "$n" 0
		done
	done
	# Idle: all CURVE_EVENTS go to the one matching subscriber, so the
	# points differ only in the idle subscribers beside it.
	curve_input 170 "$CURVE_EVENTS"
	for n in $CURVE_SUBS; do
		for s in $SYSTEMS; do
			[ "$s" = dbus ] && continue
			curve_point idle "$s" "$n" 1 $((n - 1))
		done
	done
	for z in $CURVE_SIZES; do
		ev=$((CURVE_EVENTS * 170 / z))
		[ $ev -lt 500 ] && ev=500
		curve_input "$z" "$ev"
		for s in $SYSTEMS; do
			[ "$s" = dbus ] && continue
			curve_point size "$s" "$z" 1 0
		done
	done
	curve_input 170 "$N0"
	# evbus's latency p99 with the ring empty, then full: a fresh bus,
	# probed, filled to its bound (EV_BENCH_RING; CURVE_FILL events, which
	# is its count bound at the bench's ring) and probed again.
	if has evbus; then
		for state in empty full; do
			stop_evbus
			start_evbus "$T/srv"
			if [ $state = full ]; then
				EV_GEN_SIZE=170 "$GEN" ndjson "$CURVE_FILL" |
				    "$BIN/evfire" -q -s "$EV_SOCK" 2>>"$T/pub.err" ||
				    fail "curve latency: filling the ring"
			fi
			r=0
			while [ $r -lt "$LAT_RUNS" ]; do
				r=$((r + 1))
				# shellcheck disable=SC2046
				if out=$("$PROBE" lat $(probe_addr evbus) \
				    "$LAT_RATE" "$LAT_SECS" 2>>"$T/probe.err"); then
					set -- $out
					printf 'evbus %s %s\n' "$state" "$4" \
					    >> "$T/curve-latency.dat"
					log "  latency ring $state: p99 $4 µs"
					record "7 latency p99 @${LAT_RATE}/s, ring $state" \
					    evbus µs lower "$4"
				else
					fail "curve latency: ring $state"
				fi
			done
		done
	fi
fi

for s in $SYSTEMS; do
	"stop_$s"
done

# --- workload 6: routing, evroute beside jq (bench/route.sh) --------------

if has evbus; then
	log "workload 6: evroute with 20 rules beside jq -c 'select(...)', $RUNS runs"
	if nice sh "$HERE/route.sh" "$BIN" "$T/events.ndjson" "$RUNS" \
	    > "$T/route.tsv" 2>> "$T/route.err"; then
		while IFS="	" read -r w wall cpu; do
			case $w in
			evroute) sys=evbus;;
			jq) sys=jq;;
			*) continue;;
			esac
			record "6 routing, 20 rules (wall time)" "$sys" events/s \
			    higher "$wall"
			record "6 routing, 20 rules (CPU time)" "$sys" events/s \
			    higher "$cpu"
		done < "$T/route.tsv"
	else
		fail "routing: $(tail -n 2 "$T/route.err" | tr '\n' ' ')"
	fi
fi

# --- plots (gnuplot): bench/curve-*.svg ----------------------------------

# plot KIND TITLE XLABEL LOGX: one line per system from $T/curve-KIND.dat.
plot() {
	[ -s "$T/curve-$1.dat" ] || return 0
	_pl=""
	for _s in $SYSTEMS; do
		awk -v s="$_s" '$1 == s { print $2, $3 }' "$T/curve-$1.dat" \
		    > "$T/curve-$1.$_s"
		[ -s "$T/curve-$1.$_s" ] || continue
		_pl="${_pl:+$_pl, }'$T/curve-$1.$_s' using 1:2 with linespoints title '$_s'"
	done
	{
		echo "set terminal svg size 720,420 dynamic font 'sans,11'"
		echo "set output '$PLOTDIR/curve-$1.svg'"
		echo "set title '$2'"
		echo "set xlabel '$3'"
		echo "set ylabel 'events/s'"
		echo "set grid"
		echo "set key outside right"
		[ "$4" = 1 ] && echo "set logscale x"
		echo "set logscale y"
		echo "plot $_pl"
	} > "$T/curve-$1.gp"
	gnuplot "$T/curve-$1.gp" 2>>"$T/gnuplot.log" ||
	    fail "plot $1: $(tail -n 2 "$T/gnuplot.log" | tr '\n' ' ')"
}
PLOTS=""
if [ "$CURVES" = 1 ] && [ "${EV_BENCH_PLOTS:-1}" = 1 ]; then
	if command -v gnuplot >/dev/null 2>&1; then
		plot subs "Throughput, every subscriber gets every event" \
		    subscribers 1
		plot idle "Throughput to one subscriber beside idle ones" \
		    "subscribers (one matching)" 1
		plot size "Throughput by event size, one subscriber" \
		    "event size (bytes)" 1
		for k in subs idle size; do
			[ -s "$PLOTDIR/curve-$k.svg" ] && PLOTS="$PLOTS $k"
		done
	elif [ "$MODE" = full ]; then
		fail "plots: gnuplot is not installed (gnuplot-nox)"
	fi
fi

# --- the table ------------------------------------------------------------

# Each figure: median, min and max over its runs; ratio = system / evbus.
if [ -s "$T/results.tsv" ]; then
	awk -F '\t' '
	{
		key = $1 SUBSEP $2
		if (!(key in n)) { order[++nk] = key; unit[key] = $3; better[key] = $4 }
		v[key, ++n[key]] = $5
	}
	END {
		for (i = 1; i <= nk; i++) {
			key = order[i]; m = n[key]
			for (a = 1; a <= m; a++) s[a] = v[key, a] + 0
			for (a = 2; a <= m; a++)	# insertion sort: few runs
				for (b = a; b > 1 && s[b - 1] > s[b]; b--) {
					t = s[b]; s[b] = s[b - 1]; s[b - 1] = t
				}
			med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
			split(key, kw, SUBSEP)
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", kw[1], kw[2],
			    unit[key], better[key], med, s[1], s[m], m
		}
	}' "$T/results.tsv" >> "$T/summary.tsv"
fi

# Sort rows by workload then by system order; add the ratio to evbus.
RANK="evbus mosquitto redis nats dbus /bin/true jq"
awk -F '\t' -v rank="$RANK" '
BEGIN { nr = split(rank, r, " "); for (i = 1; i <= nr; i++) pos[r[i]] = i }
function fmt(x, u) {
	if (u == "events/s") return sprintf("%.0f", x)
	if (u == "ms") return sprintf("%.2f", x)
	return sprintf("%.1f", x)
}
{
	row[NR] = $0; wl[NR] = $1; sys[NR] = $2; med[NR] = $5
	if ($2 == "evbus") ev[$1] = $5
}
END {
	print "| workload | system | median | min | max | unit | better | runs | ratio to evbus |"
	print "|---|---|---:|---:|---:|---|---|---:|---:|"
	# Workload names start with their number, so a plain sort orders them.
	n = 0
	for (i = 1; i <= NR; i++) idx[++n] = i
	for (a = 2; a <= n; a++)
		for (b = a; b > 1; b--) {
			x = idx[b - 1]; y = idx[b]
			if (wl[x] > wl[y] || (wl[x] == wl[y] && pos[sys[x]] > pos[sys[y]])) {
				idx[b - 1] = y; idx[b] = x
			} else break
		}
	for (k = 1; k <= n; k++) {
		split(row[idx[k]], f, "\t")
		ratio = "—"
		if ((f[1] in ev) && ev[f[1]] + 0 > 0)
			ratio = sprintf("%.2f", f[5] / ev[f[1]])
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2],
		    fmt(f[5], f[3]), fmt(f[6], f[3]), fmt(f[7], f[3]), f[3], f[4], f[8], ratio
	}
}' "$T/summary.tsv" > "$T/table.md"

cat "$T/table.md"

# --- results.md -----------------------------------------------------------

version_of() {
	case $1 in
	evbus) "$BIN/evfire" --version 2>&1 | head -n 1;;
	mosquitto) mosquitto -h 2>&1 | head -n 1;;
	redis) redis-server --version | awk '{ print "redis-server", $3 }';;
	nats) nats-server --version;;
	dbus) dbus-daemon --version | head -n 1;;
	esac
}
{
	echo "# evbus benchmarks${LABEL:+ — $LABEL}"
	echo
	echo "Written by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo
	echo "## Machine"
	echo
	echo "- cores (nproc): $(nproc)"
	echo "- CPU: $(awk -F ': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "- kernel: $(uname -sr)"
	echo "- load average (1, 5, 15 min) at the start: $LOAD0; at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
	for s in $SYSTEMS; do
		echo "- $s: $(version_of "$s")"
	done
	echo "- tools: $(hyperfine --version), $(socat -V 2>/dev/null | awk '/socat version/ { print "socat", $3; exit }')"
	echo
	echo "## Parameters"
	echo
	echo "- mode: $MODE; input: $N NDJSON events of $EVLEN bytes (bench/gen.c), the same bytes as each peer's message"
	echo "- bulk and fan-out: up to $RUNS runs each (after 3, a system's runs stop once they took ${BUDGET} s; see the runs column); fan-out: $FAN subscribers"
	echo "- single shot: hyperfine, $SHOT_RUNS runs after 3 warm-ups"
	echo "- latency: $LAT_RATE events/s for $LAT_SECS s (bench/latprobe.c), $LAT_RUNS runs; median of the per-run percentiles"
	echo "- footprint: VmRSS of the server, idle and with $FP_SUBS subscribers (bench/latprobe.c hold), $FP_RUNS runs"
	if [ "$CURVES" = 1 ]; then
		echo "- curves: subscribers $CURVE_SUBS (all matching; and one matching beside idle ones), event sizes $CURVE_SIZES bytes; $CURVE_EVENTS events a run divided by the subscribers (at least 500), one run a point; evbus latency p99 with the ring empty and after $CURVE_FILL events"
	fi
	echo
	echo "## Results"
	echo
	echo "Median, min and max over the runs.  ratio to evbus = the system's median / evbus's median;"
	echo "'better' says which direction wins (for events/s a ratio below 1 means evbus is faster;"
	echo "for ms, µs and MB a ratio above 1 means evbus is faster or smaller)."
	echo
	cat "$T/table.md"
	if [ -s "$T/failures" ]; then
		echo
		echo "Not measured:"
		echo
		cat "$T/failures"
	fi
	if [ -n "$PLOTS" ]; then
		echo
		echo "## Curves"
		echo
		for k in $PLOTS; do
			echo "![curve $k](curve-$k.svg)"
			echo
		done
		echo "The points, one run each (system, x, events/s):"
		echo
		for k in $PLOTS; do
			echo "- $k: $(tr '\n' ';' < "$T/curve-$k.dat" | sed 's/;$//; s/;/; /g')"
		done
	fi
	echo
	echo "How each system is driven and how the end of a run is detected: bench/README."
	# Keep a hand-written log of optimisations across runs.
	if [ -f "$OUT" ] && grep -q '^## Optimisation log' "$OUT"; then
		echo
		sed -n '/^## Optimisation log/,$p' "$OUT"
	fi
} > "$T/results.md"
cp "$T/results.md" "$OUT" || die "cannot write $OUT"
log "results written to $OUT"

[ -s "$T/failures" ] && exit 1
exit 0
