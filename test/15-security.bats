#!/usr/bin/env bats
# Security: a client trusts a bus only when its socket's directory and the
# server's credentials say it may (checked before every connect, nothing
# sent otherwise: status 77), and no program lets a closed standard
# descriptor become its socket (status 74 when it needs the one closed).
#
# "The attacker" is uid 65534 (nobody), through setpriv; those tests need
# root.  Their files live in $S, a directory under /tmp that nobody can
# reach (the bats directories may not be), removed at teardown.

load helper

NOBODY=65534

setup() {
	ev_setup
	S=$(mktemp -d /tmp/evbus-sec.XXXXXX)
	chmod 0755 "$S"
}

teardown() {
	local st=0
	ev_teardown || st=$?
	rm -rf "$S"
	return "$st"
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
}

# As the attacker.  A background start names setpriv itself, not this
# function, so that $! is the program's pid (setpriv execs it).
NOBODY_DO=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups)
as_nobody() {
	"${NOBODY_DO[@]}" "$@"
}

# fake_server DIR: the attacker listens at DIR/sock (socat, as nobody) and
# writes what its first connection sends into DIR/got.  Without fork,
# socat serves that one connection only.
fake_server() {
	"${NOBODY_DO[@]}" socat -u UNIX-LISTEN:"$1/sock" CREATE:"$1/got" \
	    </dev/null 3>&- 2>"$S/socat.err" &
	EV_PIDS+=("$!")
	wait_for "[ -S '$1/sock' ]"
}

# fake_untouched DIR: the fake server's first connection was this probe,
# made after the victim had exited: the victim never connected.
fake_untouched() {
	echo PROBE | socat -u - UNIX-CONNECT:"$1/sock" ||
	    fail "the fake server no longer listens: it was connected to"
	wait_for "[ -s '$1/got' ]"
	assert_equal "$(cat "$1/got")" PROBE
}

# The attacker's directory at the victim's default place, with a fake bus.
attacker_at_default() {
	unset EVBUS_SOCKET EVBUS_AUTOSTART
	export XDG_RUNTIME_DIR=$S/xdg
	mkdir -m 1777 "$XDG_RUNTIME_DIR"
	track_pidfile "$S/xdg/evbus/sock.pid"
	as_nobody mkdir -m 0777 "$S/xdg/evbus"
	fake_server "$S/xdg/evbus"
}

# bus_clients N: once the daemon (started with -v, its log in $BUS_ERR)
# has seen N clients close, who they were, in order, joined by '|': the
# name each said in HELLO, or "no HELLO".  A client that never connected
# is not there at all.
bus_clients() {
	wait_for "[ \$(grep -c ': closed: ' '$BUS_ERR') -ge $1 ]" ||
	    fail "bus_clients: fewer than $1 clients closed"
	sed -n 's/^evbusd: client [0-9]* (\(.*\)): closed: .*/\1/p' "$BUS_ERR" |
	    paste -sd '|'
}

# start_bus_as_nobody SOCK: evbusd run by uid 65534 at SOCK, waited for
# like start_bus and stopped by teardown like it.
start_bus_as_nobody() {
	local sock=$1 fifo=$S/ready.nobody bin=$EV_BIN/evbusd
	if ! as_nobody test -x "$bin"; then
		mkdir -p "$S/bin"
		cp "$EVBUS_BIN/evbusd" "$S/bin/evbusd"
		bin=$S/bin/evbusd
	fi
	mkfifo "$fifo"
	BUS_ERR=$T/evbusd.nobody.err
	"${NOBODY_DO[@]}" "$bin" -v -r 3 -s "$sock" 3>"$fifo" 2>"$BUS_ERR" \
	    </dev/null &
	BUS_PID=$!
	EV_BUS_PIDS+=("$BUS_PID:$sock:$BUS_ERR")
	read -r -t "$(ev_scale 20)" _ <"$fifo" || {
		cat "$BUS_ERR" >&2
		fail "evbusd as nobody did not report readiness"
	}
}

# closing FD PROG ARGS...: PROG from $EV_BIN, bounded, with descriptor FD
# (0, 1 or 2) closed.
closing() {
	local fd=$1 prog=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by sh -c
	timeout -k 5 "$(ev_scale 20)" sh -c '
		fd=$1 prog=$2
		shift 2
		case $fd in
		0) exec "$prog" "$@" <&- ;;
		1) exec "$prog" "$@" >&- ;;
		2) exec "$prog" "$@" 2>&- ;;
		esac' sh "$fd" "$EV_BIN/$prog" "$@"
}

# --- an impostor at the default place -------------------------------------

@test "impostor: evfire -w refuses another user's directory at the default place (77), sends nothing" {
	need_root
	attacker_at_default
	run_fails 77 evfire -w deploy.secret token=abc
	assert_equal "$stderr" "evfire: socket directory $S/xdg/evbus is owned by uid $NOBODY, not by us (uid 0): someone else may be impersonating the bus; remove it, or name a bus you trust with EVBUS_SOCKET"
	assert_equal "$output" ""
	fake_untouched "$S/xdg/evbus"
	# Nor did it start a bus of its own there.
	[ ! -e "$S/xdg/evbus/sock.pid" ]
}

@test "impostor: evsub refuses another user's directory at the default place (77), sends nothing" {
	need_root
	attacker_at_default
	run_fails 77 evsub 'deploy.#'
	assert_equal "$stderr" "evsub: socket directory $S/xdg/evbus is owned by uid $NOBODY, not by us (uid 0): someone else may be impersonating the bus; remove it, or name a bus you trust with EVBUS_SOCKET"
	fake_untouched "$S/xdg/evbus"
}

@test "default place: a symlinked directory is refused (77) before connecting" {
	mkdir -m 0700 "$S/real" "$S/xdg"
	EVBUS_SOCKET=$S/real/sock start_bus -v
	ln -s "$S/real" "$S/xdg/evbus"
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$S/xdg
	run_fails 77 evfire -w through.link
	assert_equal "$stderr" "evfire: socket directory $S/xdg/evbus is a symbolic link: someone may be redirecting the bus; remove it, or name a bus you trust with EVBUS_SOCKET"
	run_fails 77 evsub
	# The bus behind the link was never connected to: its first client
	# is this probe.
	EVBUS_SOCKET=$S/real/sock run_ok evfire -w probe
	run bus_clients 1
	assert_output evfire
}

@test "default place: a directory open to group or others (0750) is refused (77)" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$S/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	start_bus -v
	chmod 0750 "$S/xdg/evbus"
	run_fails 77 evfire -w open.dir
	assert_equal "$stderr" "evfire: socket directory $S/xdg/evbus has mode 0750, open to others: another user could have put a bus there; if it is ours, run 'chmod 700' on it"
	run_fails 77 evsub
	chmod 0700 "$S/xdg/evbus"
	run_ok evfire -w private.again
	run bus_clients 1
	assert_output evfire
}

@test "default place: the directory is checked again on reconnect (77)" {
	unset EVBUS_SOCKET
	export XDG_RUNTIME_DIR=$S/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	start_bus
	run_ok evfire rc.one
	start_sub "$T/sub" --from 0 'rc.#'
	wait_lines "$T/sub" 1
	stop_bus
	chmod 0705 "$S/xdg/evbus"
	finish "$SUB_PID" 77 20
	grep -qF "evsub: socket directory $S/xdg/evbus has mode 0705" \
	    "$T/sub.err" || fail "no message: $(cat "$T/sub.err")"
}

@test "autostart: the directory it makes is 0700 and passes the checks" {
	unset EVBUS_SOCKET EVBUS_AUTOSTART
	export XDG_RUNTIME_DIR=$S/xdg
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	track_pidfile "$S/xdg/evbus/sock.pid"
	run_ok evfire -w auto.started 3>&-
	assert_output --regexp '^[0-9]+$'
	assert_equal "$(stat -c '%a %u' "$S/xdg/evbus")" "700 $(id -u)"
}

# --- a socket the user named ----------------------------------------------

@test "named socket: a directory others can write to (1777) is refused (77)" {
	mkdir -m 1777 "$S/shared"
	# evbusd itself does not check a named directory; the clients do.
	export EVBUS_SOCKET=$S/shared/sock
	start_bus -v
	run_fails 77 evfire -w x
	assert_equal "$stderr" "evfire: socket directory $S/shared (owner uid $(id -u)) has mode 1777: others can write in it, so anyone could have put the socket there; use a directory only its owner can write to"
	run_fails 77 evsub
	chmod 0755 "$S/shared"
	run_ok evfire -w probe
	run bus_clients 1
	assert_output evfire
}

@test "named socket: a bus run by another user, reached through its own directory, is trusted" {
	need_root
	mkdir -m 0755 "$S/nob"
	chown "$NOBODY:$NOBODY" "$S/nob"
	start_bus_as_nobody "$S/nob/sock"
	export EVBUS_SOCKET=$S/nob/sock
	run_ok evfire -w shared.bus
	assert_output --regexp '^[0-9]+$'
	run_ok evsub --from 0 -c 1 shared.bus
	run jq -c '[.name, .origin.uid]' <<<"$output"
	assert_output '["shared.bus",0]'
}

@test "named socket: the same bus through a directory of ours is refused by its credentials (77), no HELLO" {
	need_root
	mkdir -m 0755 "$S/nob"
	chown "$NOBODY:$NOBODY" "$S/nob"
	start_bus_as_nobody "$S/nob/sock"
	mkdir -m 0755 "$S/rootdir"
	ln "$S/nob/sock" "$S/rootdir/sock"
	EVBUS_SOCKET=$S/nob/sock run_ok evfire before
	EVBUS_SOCKET=$S/rootdir/sock run_fails 77 evsub
	assert_equal "$stderr" "evsub: the bus at $S/rootdir/sock runs as uid $NOBODY, neither us (uid 0), root, nor its directory's owner (uid 0): someone else may be impersonating the bus"
	EVBUS_SOCKET=$S/rootdir/sock run_fails 77 evfire -w secret token=abc
	[[ $stderr == *"runs as uid $NOBODY"* ]] || fail "stderr: $stderr"
	EVBUS_SOCKET=$S/nob/sock run_ok evfire after
	# The refused clients connected but never said HELLO.
	run bus_clients 4
	assert_output "evfire|no HELLO|no HELLO|evfire"
	run_ok evsub -s "$S/nob/sock" --from 0 -c 2 'before' 'after' 'secret'
	run jq -r .name <<<"$output"
	assert_output $'before\nafter'
}

# --- closed standard descriptors ------------------------------------------

@test "closed stdout: evsub exits 74 with a message, without connecting" {
	# No bus: had it tried to connect, it would say 69.
	run_fails 74 closing 1 evsub '#'
	assert_equal "$stderr" "evsub: stdout: closed, nowhere to print the events"
}

@test "closed stdin: evfire reading events from it exits 74" {
	run_fails 74 closing 0 evfire
	assert_equal "$stderr" "evfire: stdin: closed, no events to read (give a name to fire one event)"
	run_fails 74 closing 0 evfire -n payload.name
	run_fails 74 closing 0 evfire -w
}

@test "closed stdout: evfire -w exits 74" {
	run_fails 74 closing 1 evfire -w x
	assert_equal "$stderr" "evfire: stdout: closed, nowhere to print the seqs for -w"
}

@test "closed stdin or stdout: evfire with an argument event works" {
	start_bus
	run_ok closing 0 evfire -w closed.stdin
	assert_output --regexp '^[0-9]+$'
	run_ok closing 1 evfire closed.stdout
	run_ok evsub --from 0 -c 2 'closed.#'
	run jq -r .name <<<"$output"
	assert_output $'closed.stdin\nclosed.stdout'
}

@test "closed stderr: evfire's messages do not go into its socket" {
	start_bus
	printf 'not json\n{"name":"after.bad"}\n' >"$T/in"
	run_fails 1 closing 2 evfire -w <"$T/in"
	assert_output --regexp $'^-\n[0-9]+$'
	run_ok evsub --from 0 -c 1 'after.#'
	run jq -r .name <<<"$output"
	assert_output after.bad
}

@test "closed stdin, stdout and stderr: evbusd has /dev/null there and works" {
	local fifo=$T/ready.closed fd
	mkfifo "$fifo"
	BUS_ERR=$T/evbusd.closed.err
	: >"$BUS_ERR"
	"$EV_BIN/evbusd" -r 3 -s "$EVBUS_SOCKET" 3>"$fifo" <&- >&- 2>&- &
	BUS_PID=$!
	EV_BUS_PIDS+=("$BUS_PID:$EVBUS_SOCKET:$BUS_ERR")
	read -r -t "$(ev_scale 20)" _ <"$fifo" ||
	    fail "evbusd with 0-2 closed did not report readiness"
	for fd in 0 1 2; do
		assert_equal "$(readlink "/proc/$BUS_PID/fd/$fd")" /dev/null
	done
	run_ok evfire -w closed.bus
	assert_output --regexp '^[0-9]+$'
	stop_bus
}

@test "a client of another uid is refused by the bus: evsub and evfire both exit 77" {
	need_root
	mkdir -m 0755 "$S/bus" "$S/bin"
	cp "$EVBUS_BIN/evfire" "$EVBUS_BIN/evsub" "$S/bin/"
	EVBUS_SOCKET=$S/bus/sock start_bus -s "$S/bus/sock"
	# The socket is the owner's alone: the kernel refuses the connect.
	run --separate-stderr env EVBUS_SOCKET="$S/bus/sock" \
	    "${NOBODY_DO[@]}" timeout 20 "$S/bin/evsub" -c 1 '#'
	[ "$status" -eq 77 ] || { ev_show_run evsub; fail "evsub: status $status"; }
	assert_equal "$stderr" "evsub: cannot connect to $S/bus/sock: Permission denied"
	# Opened up by mistake: the daemon checks the peer's uid itself.
	chmod 0666 "$S/bus/sock"
	run --separate-stderr env EVBUS_SOCKET="$S/bus/sock" \
	    "${NOBODY_DO[@]}" timeout 20 "$S/bin/evsub" -c 1 '#'
	[ "$status" -eq 77 ] || { ev_show_run evsub; fail "evsub: status $status"; }
	assert_equal "$stderr" "evsub: the bus refused us: this bus belongs to another user"
	run --separate-stderr env EVBUS_SOCKET="$S/bus/sock" \
	    "${NOBODY_DO[@]}" timeout 20 "$S/bin/evfire" -w x.y
	[ "$status" -eq 77 ] || { ev_show_run evfire; fail "evfire: status $status"; }
	assert_equal "$stderr" "evfire: the bus refused us: this bus belongs to another user"
}

@test "EVBUS_TOKEN travels in HELLO, is checked first, and never shows in the daemon's log" {
	start_bus -vv
	EVBUS_TOKEN='s3cr3t-t0ken' run_ok evfire -w tok.ok
	EVBUS_TOKEN='has space' run_fails 64 evfire -w tok.bad
	assert_equal "$stderr" "evfire: token: printable ASCII without spaces only"
	wait_grep "$BUS_ERR" '(evfire): closed'
	run grep -c 's3cr3t' "$BUS_ERR"
	assert_output 0
}
