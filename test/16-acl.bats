#!/usr/bin/env bats
# The ACL of a shared bus (evbusd -A FILE --group NAME): who may fire,
# receive and list which events, for a second uid run through setpriv;
# the file's checks, --check-acl, SIGHUP, the bus's audit events, and the
# rules that hold without any ACL (origin is the kernel's word, evbus.
# names are the bus's).
#
# The second user is "evbustest" (made here when missing: useradd, as
# root), in its own group and in "evbustestg".  A third identity, nobody
# (65534), is in neither.  The bus runs as root, so root's clients (the
# helper's evfire and evsub) may do everything.  Files live in $S, under
# /tmp, which the other users can reach; the bus's socket is $S/bus/sock.

load helper

U=evbustest
G2=evbustestg
NOBODY=65534

# Make the user and its second group once; useradd may find the user
# database locked by a concurrent change, so it is tried again.
ensure_user() {
	id "$U" >/dev/null 2>&1 ||
	    useradd -M -U -s /usr/sbin/nologin "$U" 2>/dev/null ||
	    return 1
	getent group "$G2" >/dev/null ||
	    groupadd "$G2" 2>/dev/null || return 1
	id -nG "$U" | tr ' ' '\n' | grep -qx "$G2" ||
	    usermod -a -G "$G2" "$U" 2>/dev/null
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
	command -v useradd >/dev/null && command -v groupadd >/dev/null ||
	    skip "useradd or groupadd is not installed: no second user"
	wait_for ensure_user 30
}

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
	ev_setup
	S=$(mktemp -d /tmp/evbus-acl.XXXXXX)
	chmod 0755 "$S"
	mkdir -m 0755 "$S/bin"
	cp "$EVBUS_BIN/evfire" "$EVBUS_BIN/evsub" "$EVBUS_BIN/evlist" \
	    "$EVBUS_BIN/evbusd" "$S/bin/"
	chmod 0755 "$S/bin/"*
	export EVBUS_SOCKET=$S/bus/sock
	UID2=$(id -u "$U")
	GID2=$(id -g "$U")
	GIDG2=$(getent group "$G2" | cut -d: -f3)
}

teardown() {
	local st=0
	ev_teardown || st=$?
	rm -rf "$S"
	return "$st"
}

# as_user CMD...: CMD as evbustest, with its groups; as_nobody likewise.
# A background start names setpriv itself ("${USER_DO[@]}"), not the
# function, so that $! is the program's pid (setpriv execs it).
USER_DO=(setpriv --reuid="$U" --regid="$U" --init-groups)
as_user() {
	"${USER_DO[@]}" "$@"
}
as_nobody() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"
}

# ufire/usub ARGS...: evfire and evsub as evbustest, bounded.
ufire() { as_user timeout -k 5 "$EV_TMO" "$S/bin/evfire" "$@"; }
usub()  { as_user timeout -k 5 "$EV_TMO" "$S/bin/evsub" "$@"; }

# acl TEXT: the rules file $S/acl.conf, root's, mode 0644.
acl() {
	printf '%s\n' "$1" >"$S/acl.conf"
	chmod 0644 "$S/acl.conf"
}

# shared_bus [ARGS...]: the bus with $S/acl.conf, shared with the user's
# group.
shared_bus() {
	start_bus -v -A "$S/acl.conf" --group "$U" "$@"
}

# uwire TEXT: send TEXT (printf format, then args) to the bus as the user
# over one connection, which ends with QUIT; the bus's replies are
# $output.  QUIT makes the bus answer everything before it, then hang up.
uwire() {
	local s
	# shellcheck disable=SC2059 # the format is the caller's
	printf -v s "$@"
	run --separate-stderr as_user timeout 20 \
	    socat -t 5 - "UNIX-CONNECT:$EVBUS_SOCKET" <<<"${s}QUIT"
	output=${output//$'\r'/}
}

# pubframe JSON: a PUB frame for it.
pubframe() {
	printf 'PUB %d\n%s\n' "${#1}" "$1"
}

# denied N: the payloads of the first N evbus.acl.denied events, compact.
denied() {
	evsub --from 0 -c "$1" evbus.acl.denied | jq -c .payload
}

# upto_mark: every event on the bus, up to a test.mark fired now.
upto_mark() {
	local seq
	seq=$(evfire -w test.mark) || return 1
	evsub --from 0 -c "$seq" '#' 'evbus.#'
}

# denied_sum: the denials evbus.acl.denied accounts for so far.
denied_sum() {
	upto_mark | jq -s 'map(select(.name == "evbus.acl.denied") |
	    1 + .payload.suppressed) | add // 0'
}

# names FILE: the names of the events in FILE, one a line.
names() {
	jq -r .name "$1"
}

# --- the file ---------------------------------------------------------

@test "--check-acl: a good file is printed as understood, status 0" {
	acl "allow fire,sub deploy.# user $U
deny  sub deploy.secret.# user $UID2   # the secrets
allow sub # group $G2
allow fire heartbeat.* any"
	run_ok evbusd --check-acl "$S/acl.conf"
	assert_equal "$output" "# $S/acl.conf: 4 rules, 4 entries, tried in this order:
# the first whose permission, pattern and who match decides; none: denied.
# Always allowed everything: root (uid 0), the bus's owner.
deny  sub       deploy.secret.# user $UID2 # line 2
allow fire,sub  deploy.#        user $UID2 # line 1: $U
allow sub       #               group $GIDG2 # line 3: $G2
allow fire      heartbeat.*     any # line 4"
	assert_equal "$stderr" ""
}

@test "--check-acl and -A: an error names the file and line, status 65; the bus does not start" {
	acl "allow fire deploy.# user $U
allow fire,bogus x.# any"
	run_fails 65 evbusd --check-acl "$S/acl.conf"
	assert_equal "$stderr" "evbusd: $S/acl.conf:2: 'bogus' in 'fire,bogus': unknown permission (fire, sub, list or all)"
	assert_equal "$output" ""
	run_fails 65 evbusd -A "$S/acl.conf" -s "$S/sock"
	assert_equal "$stderr" "evbusd: $S/acl.conf:2: 'bogus' in 'fire,bogus': unknown permission (fire, sub, list or all)"
	[ ! -e "$S/sock" ] || fail "a socket was made"
	acl "allow fire x.# user no-such-user-evbus"
	run_fails 65 evbusd --check-acl "$S/acl.conf"
	assert_equal "$stderr" "evbusd: $S/acl.conf:1: user 'no-such-user-evbus': no such user"
}

@test "an ACL file others may write, or another user's, is refused (77); a missing one is 74" {
	acl "allow fire x.# any"
	chmod 0646 "$S/acl.conf"
	run_fails 77 evbusd --check-acl "$S/acl.conf"
	assert_equal "$stderr" "evbusd: $S/acl.conf: mode 0646 lets others write it: refusing it (chmod go-w $S/acl.conf)"
	run_fails 77 evbusd -A "$S/acl.conf" -s "$S/sock"
	assert_equal "$stderr" "evbusd: $S/acl.conf: mode 0646 lets others write it: refusing it (chmod go-w $S/acl.conf)"
	chmod 0664 "$S/acl.conf"
	run_fails 77 evbusd --check-acl "$S/acl.conf"
	assert_equal "$stderr" "evbusd: $S/acl.conf: mode 0664 lets its group write it: refusing it (chmod go-w $S/acl.conf)"
	chmod 0644 "$S/acl.conf"
	chown "$U" "$S/acl.conf"
	run_fails 77 evbusd --check-acl "$S/acl.conf"
	assert_equal "$stderr" "evbusd: $S/acl.conf: owned by uid $UID2, not by root: refusing it"
	# A plain token in a file others may read.
	chown root "$S/acl.conf"
	acl "allow fire x.# token abcdefghijklmnopqrstuvwxyz"
	run_fails 77 evbusd --check-acl "$S/acl.conf"
	assert_equal "$stderr" "evbusd: $S/acl.conf:1: a plain token in a file that others may read: write it as sha256:HEX or chmod o-r $S/acl.conf"
	chmod 0640 "$S/acl.conf"
	run_ok evbusd --check-acl "$S/acl.conf"
	run_fails 74 evbusd --check-acl "$S/none.conf"
	assert_equal "$stderr" "evbusd: $S/none.conf: No such file or directory"
}

@test "--group needs -A and a named socket (64); an unknown group is 64" {
	acl "allow fire x.# any"
	run_fails 64 evbusd --group "$U" -s "$S/bus/sock"
	assert_equal "${stderr%%$'\n'*}" "evbusd: --group shares the bus with other users: give the rules with -A (a file saying 'allow all # any' lets every member do everything)"
	unset EVBUS_SOCKET
	XDG_RUNTIME_DIR=$S run_fails 64 evbusd -A "$S/acl.conf" --group "$U"
	assert_equal "$stderr" "evbusd: --group needs a socket named with -s or EVBUS_SOCKET (such as /run/evbus/sock): the default place is private"
	run_fails 64 evbusd -A "$S/acl.conf" --group no-such-group-evbus \
	    -s "$S/bus/sock"
	assert_equal "$stderr" "evbusd: --group no-such-group-evbus: no such group"
}

# --- the shared socket ------------------------------------------------

@test "--group: the directory is made 0750 and the socket 0660 for the group; a member reaches it, nobody else" {
	acl "allow fire,sub deploy.# group $U"
	shared_bus
	assert_equal "$(stat -c '%a %U %G' "$S/bus")" "750 root $U"
	assert_equal "$(stat -c '%a %U %G' "$S/bus/sock")" "660 root $U"
	run_ok ufire -w deploy.one
	assert_output --regexp '^[0-9]+$'
	run --separate-stderr as_nobody timeout 20 "$S/bin/evfire" -w deploy.two
	[ "$status" -eq 77 ] || { ev_show_run nobody; fail "nobody: status $status"; }
	assert_equal "$stderr" "evfire: cannot connect to $S/bus/sock: Permission denied"
	# Its HELLO announces the ACL.
	uwire 'HELLO 2 probe\n'
	assert_line --index 0 --regexp '^HELLO 2 [0-9a-f]{16} [0-9]+ 65536 features=([a-z-]+,)*acl(,[a-z-]+)* max_depth=[0-9]+$'
}

@test "--group: a bus run by a system user (as the unit runs it) is trusted through its directory by root and by members" {
	acl "allow fire,sub x.# group $G2"
	mkdir -m 0755 "$S/run"
	chown "$U" "$S/run"
	mkfifo "$S/ready"
	BUS_ERR=$T/evbusd.user.err
	"${USER_DO[@]}" "$S/bin/evbusd" -v -r 3 -A "$S/acl.conf" --group "$G2" \
	    -s "$S/run/evbus/sock" 3>"$S/ready" 2>"$BUS_ERR" </dev/null &
	BUS_PID=$!
	EV_BUS_PIDS+=("$BUS_PID:$S/run/evbus/sock:$BUS_ERR")
	read -r -t "$(ev_scale 20)" _ <"$S/ready" || {
		cat "$BUS_ERR" >&2
		fail "evbusd as $U did not report readiness"
	}
	assert_equal "$(stat -c '%a %U %G' "$S/run/evbus")" "750 $U $G2"
	assert_equal "$(stat -c '%a %U %G' "$S/run/evbus/sock")" "660 $U $G2"
	export EVBUS_SOCKET=$S/run/evbus/sock
	# Root trusts it: it runs as the directory's owner.
	run_ok evfire -w x.root
	# So does the member (the bus's own user here, bound by no rule).
	run_ok ufire -w x.user
	run_ok evsub --from 0 -c 2 'x.#'
	assert_equal "$(jq -r '"\(.name) \(.origin.uid)"' <<<"$output" | paste -sd ,)" "x.root 0,x.user $UID2"
}

@test "--group: an existing directory is checked, never changed: one the group cannot search is refused (77)" {
	acl "allow fire x.# any"
	mkdir -m 0700 "$S/bus"
	run_fails 77 evbusd -A "$S/acl.conf" --group "$U" -s "$S/bus/sock"
	assert_equal "$stderr" "evbusd: socket directory $S/bus (mode 0700, group 0): group $GID2 cannot reach the socket in it (chgrp $GID2 $S/bus; chmod 0750 $S/bus)"
	assert_equal "$(stat -c '%a' "$S/bus")" 700
	chmod 0770 "$S/bus"
	run_fails 77 evbusd -A "$S/acl.conf" --group "$U" -s "$S/bus/sock"
	assert_equal "$stderr" "evbusd: socket directory $S/bus has mode 0770: others may write in it, and clients refuse such a bus (chmod 0750 $S/bus)"
	chmod 0750 "$S/bus"
	chgrp "$U" "$S/bus"
	shared_bus
	run_ok ufire -w x.ok
}

@test "with -A alone another uid is admitted, and the rules decide; without -A it is refused" {
	acl "allow fire x.# user $U"
	mkdir -m 0755 "$S/bus"
	start_bus -A "$S/acl.conf"
	chmod 0666 "$S/bus/sock"
	run_ok ufire -w x.one
	stop_bus
	start_bus
	chmod 0666 "$S/bus/sock"
	run_fails 77 ufire -w x.one
	assert_equal "$stderr" "evfire: the bus refused us: this bus belongs to another user"
}

# --- fire and sub -----------------------------------------------------

@test "fire: allowed by user name; denied elsewhere with ERR denied, exit 77, and evbus.acl.denied" {
	acl "allow fire deploy.# user $U"
	shared_bus
	run_ok ufire -w deploy.web
	run_fails 77 ufire -w build.web
	assert_equal "$stderr" "evfire: the bus refused it (denied): fire: not allowed to fire 'build.web'"
	assert_equal "$output" ""
	# The wire's words.
	uwire 'HELLO 2 w\n%s\n' "$(pubframe '{"name":"build.x"}')"
	assert_line --index 1 "ERR denied fire: not allowed to fire 'build.x'"
	run denied 2
	assert_output "{\"uid\":$UID2,\"user\":\"$U\",\"perm\":\"fire\",\"name\":\"build.web\",\"suppressed\":0}
{\"uid\":$UID2,\"user\":\"$U\",\"perm\":\"fire\",\"name\":\"build.x\",\"suppressed\":0}"
	# Root, the owner, is not bound by the rules.
	run_ok evfire -w build.root
}

@test "sub: '#' for a user allowed deploy.# receives only that, and not what a deny takes out" {
	acl "allow sub deploy.# user $U
deny sub deploy.secret.# user $U"
	shared_bus
	for n in build.1 deploy.1 deploy.secret.1 other.1 deploy.2; do
		evfire "$n"
	done
	evfire evbus.x.y 2>/dev/null || true
	evfire deploy.end
	run_ok usub --from 0 -c 3 '#'
	printf '%s\n' "$output" >"$S/got"
	assert_equal "$(names "$S/got" | paste -sd ' ')" "deploy.1 deploy.2 deploy.end"
	# Live too: a subscriber that replays nothing gets only deploy.*.
	"${USER_DO[@]}" "$S/bin/evsub" --from 0 '#' >"$S/live" 2>"$S/live.err" &
	EV_PIDS+=("$!")
	wait_lines "$S/live" 3
	for n in build.2 deploy.secret.2 deploy.3; do
		evfire "$n"
	done
	wait_lines "$S/live" 4
	evfire deploy.last
	wait_lines "$S/live" 5
	assert_equal "$(names "$S/live" | paste -sd ' ')" "deploy.1 deploy.2 deploy.end deploy.3 deploy.last"
}

@test "sub: patterns of which nothing may be received: ERR denied sub, exit 77, evbus.acl.denied" {
	acl "allow sub deploy.# user $U
deny sub deploy.secret.# user $U"
	shared_bus
	run_fails 77 usub -c 1 'build.#'
	assert_equal "$stderr" "evsub: the bus refused the subscription: sub: not allowed to receive 'build.#'"
	run_fails 77 usub -c 1 'deploy.secret.#' 'other.*'
	assert_equal "$stderr" "evsub: the bus refused the subscription: sub: not allowed to receive any of 'deploy.secret.#', 'other.*'"
	# One pattern that may receive something is enough.
	run_fails 3 usub --idle 100ms 'build.#' 'deploy.x'
	run denied 2
	assert_output "{\"uid\":$UID2,\"user\":\"$U\",\"perm\":\"sub\",\"name\":\"build.#\",\"suppressed\":0}
{\"uid\":$UID2,\"user\":\"$U\",\"perm\":\"sub\",\"name\":\"deploy.secret.#\",\"suppressed\":0}"
}

@test "list: a SUB with \"list\":true is checked against the list permission" {
	acl "allow list deploy.# user $U"
	shared_bus
	evfire deploy.one
	uwire 'HELLO 2 w\nSUB 25\n{"patterns":["deploy.#"]}\n'
	assert_line --index 1 "ERR denied sub: not allowed to receive 'deploy.#'"
	uwire 'HELLO 2 w\nSUB 37\n{"patterns":["deploy.#"],"list":true}\n'
	# evbus.started, deploy.one, the denial's evbus.acl.denied.
	assert_line --index 1 "OK 3"
	uwire 'HELLO 2 w\nSUB 36\n{"patterns":["build.#"],"list":true}\n'
	assert_line --index 1 "ERR denied list: not allowed to receive 'build.#'"
	uwire 'HELLO 2 w\nSUB 37\n{"patterns":["build.#"],"list":"yes"}\n'
	assert_line --index 1 "ERR data list: not true or false"
	# evlist asks as a listing; evsub does not.
	run_ok as_user timeout 20 "$S/bin/evlist" -F '{.name}' 'deploy.#'
	assert_output deploy.one
	run_fails 77 usub -c 1 'deploy.#'
}

@test "groups by name (a supplementary group) and by id (the primary group); tokens plain and hashed" {
	local tok=tok-$RANDOM-0123456789abcdef hash
	hash=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
	acl "allow fire g2.# group $G2
allow fire gid.# group $GID2
allow fire plain.# token $tok
allow fire hashed.# token sha256:$hash"
	chmod 0600 "$S/acl.conf"
	shared_bus
	run_ok ufire -w g2.x
	run_ok ufire -w gid.x
	run_fails 77 ufire -w plain.x
	run_fails 77 ufire -w hashed.x
	EVBUS_TOKEN=$tok run_ok ufire -w plain.x
	EVBUS_TOKEN=$tok run_ok ufire -w hashed.x
	EVBUS_TOKEN=$tok-wrong run_fails 77 ufire -w hashed.x
	# --token-file: the user's own file, mode 0600.
	printf '%s\n' "$tok" >"$S/tok"
	chown "$U" "$S/tok"
	chmod 0600 "$S/tok"
	run_ok ufire --token-file "$S/tok" -w hashed.y
	# nobody is in neither group and has no token.
	chmod 0755 "$S/bus"
	chmod 0666 "$S/bus/sock"
	run --separate-stderr as_nobody timeout 20 "$S/bin/evfire" -w g2.x
	[ "$status" -eq 77 ] || { ev_show_run nobody; fail "nobody: status $status"; }
	assert_equal "$stderr" "evfire: the bus refused it (denied): fire: not allowed to fire 'g2.x'"
}

@test "the most specific rule wins: user before group before any, literal tokens, then deny before allow" {
	acl "allow fire # any
deny fire a.# group $G2
allow fire a.# user $U
deny fire b.# any
allow fire b.ok.# group $G2
deny fire c.* group $G2
allow fire c.* group $G2
allow fire d.* group $G2
deny fire d.# group $G2"
	shared_bus
	run_ok ufire -w z.any
	run_ok ufire -w a.user
	run_fails 77 ufire -w b.no
	run_ok ufire -w b.ok.yes
	run_fails 77 ufire -w c.tie
	run_ok ufire -w d.star
	run_fails 77 ufire -w d.two.hash
}

# --- reload -------------------------------------------------------------

@test "SIGHUP: good rules apply to new requests and to subscribers already there; bad ones are refused, the old kept" {
	acl "allow fire,sub deploy.# user $U"
	shared_bus
	run_fails 77 ufire -w build.one
	evfire deploy.ready
	"${USER_DO[@]}" "$S/bin/evsub" --from 0 '#' >"$S/live" 2>"$S/live.err" &
	EV_PIDS+=("$!")
	wait_lines "$S/live" 1
	acl "allow fire,sub deploy.# user $U
allow fire,sub build.# group $G2"
	kill -HUP "$BUS_PID"
	run_ok evsub --from 0 -c 1 evbus.acl.reload
	assert_equal "$(jq -c .payload <<<"$output")" "{\"file\":\"$S/acl.conf\",\"ok\":true,\"rules\":2}"
	run_ok ufire -w build.two
	evfire build.three
	evfire other.four
	evfire deploy.five
	wait_lines "$S/live" 4
	assert_equal "$(names "$S/live" | paste -sd ' ')" "deploy.ready build.two build.three deploy.five"

	# A bad file: logged, announced, and the rules in force stay.
	acl "allow fire,sub build.# group $G2
allow fire nonsense"
	kill -HUP "$BUS_PID"
	run_ok evsub --from 0 -c 2 evbus.acl.reload
	assert_equal "$(jq -c .payload <<<"${output#*$'\n'}")" "{\"file\":\"$S/acl.conf\",\"ok\":false,\"error\":\"$S/acl.conf:2: nobody named after the pattern: expected user, group, token or any\"}"
	wait_grep "$BUS_ERR" 'keeping the rules in force'
	assert_equal "$(grep 'SIGHUP' "$BUS_ERR" | tail -n 1)" "evbusd: SIGHUP: $S/acl.conf:2: nobody named after the pattern: expected user, group, token or any: keeping the rules in force"
	run_ok ufire -w build.six
	run_ok ufire -w deploy.seven
	# A file that became writable by others is refused the same way.
	acl "allow fire # any"
	chmod 0666 "$S/acl.conf"
	kill -HUP "$BUS_PID"
	run_ok evsub --from 0 -c 3 evbus.acl.reload
	assert_equal "$(tail -n 1 <<<"$output" | jq -r .payload.error)" "$S/acl.conf: mode 0666 lets its group and others write it: refusing it (chmod go-w $S/acl.conf)"
	run_fails 77 ufire -w other.eight
}

# --- the rules without an ACL -----------------------------------------

@test "origin is the kernel's word: a forged origin is overwritten, for a client of another uid too" {
	acl "allow fire deploy.# user $U"
	shared_bus
	uwire 'HELLO 2 w\n%s\n' "$(pubframe '{"name":"deploy.o","origin":{"uid":0,"gid":0,"pid":1},"seq":99}')"
	assert_line --index 1 "ACK 2"
	run_ok evsub --from 2 -c 1 deploy.o
	assert_equal "$(jq -c '[.seq, .origin.uid, .origin.gid]' <<<"$output")" "[2,$UID2,$GID2]"
	[ "$(jq -r .origin.pid <<<"$output")" -gt 1 ] || fail "pid: $output"
	assert_equal "$(grep -o '"origin"' <<<"$output" | wc -l)" 1
}

@test "names under evbus. are refused from every client, root included, with or without rules" {
	acl "allow fire # any
allow fire evbus.# any"
	shared_bus
	uwire 'HELLO 2 w\n%s\n' "$(pubframe '{"name":"evbus.started"}')"
	assert_line --index 1 "ERR denied name 'evbus.started': names under evbus. are the bus's own"
	run_fails 65 evfire -w evbus.x
	stop_bus
	start_bus
	wire_open
	wire_send 'HELLO 2 w\n'
	wire_pub '{"name":"evbus.listener.connected"}'
	wire_send 'QUIT\n'
	wire_close
	assert_equal "$(wire_reply 2)" "ERR denied name 'evbus.listener.connected': names under evbus. are the bus's own"
}

# --- audit and figures ------------------------------------------------

@test "evbus.acl.denied is bounded: 20 at once, then 10 a second, the rest counted in suppressed" {
	local t0 t1 n sum made=100 extra=0
	acl "allow fire ok.# user $U"
	shared_bus
	gen_events "$made" no.x >"$S/in"
	t0=$(ev_now_ms)
	run_fails 77 ufire <"$S/in"
	t1=$(ev_now_ms)
	assert_equal "$(grep -c 'not allowed to fire' <<<"$stderr")" "$made"
	n=$(upto_mark | grep -c '"name":"evbus.acl.denied"') || true
	[ "$n" -ge 20 ] || fail "$n evbus.acl.denied for $made denials"
	[ "$n" -le $((20 + (t1 - t0) / 100 + 1)) ] ||
	    fail "$n evbus.acl.denied in $((t1 - t0)) ms"
	echo "# $n evbus.acl.denied for $made denials in $((t1 - t0)) ms" >&3
	# Each event counts itself and the ones left out before it: once the
	# next one is out, every denial is accounted for, none twice.
	until [ "$(denied_sum)" -eq $((made + extra)) ]; do
		[ "$(denied_sum)" -lt $((made + extra)) ] ||
		    fail "$(denied_sum) denials counted, $((made + extra)) made"
		run_fails 77 ufire no.more
		extra=$((extra + 1))
		[ "$extra" -lt 100 ] || fail "the left out are never counted"
	done
}

@test "STATS: root sees every subscriber; another user only its own" {
	acl "allow sub # any"
	shared_bus
	evfire x.ready
	start_sub "$S/root" --from 0 '#'
	wait_lines "$S/root" 1
	"${USER_DO[@]}" "$S/bin/evsub" --from 0 'x.#' >"$S/user" 2>"$S/user.err" &
	EV_PIDS+=("$!")
	wait_lines "$S/user" 1
	uwire 'HELLO 2 w\nSTATS\n'
	assert_equal "$(sed -n 3p <<<"$output" | jq -c '[.subscribers[].uid]')" "[$UID2]"
	wire_open
	wire_send 'HELLO 2 w\nSTATS\nQUIT\n'
	wire_close
	assert_equal "$(wire_reply 3 | jq -c '[.subscribers[].uid] | sort')" "[0,$UID2]"
}

@test "another user's id is not a duplicate: refused with a reason, the first event kept; a durable name is its user's" {
	acl "allow fire,sub,list # user $U"
	shared_bus --store "$T/log"
	run_ok evfire -w --id job-42 secret.job '{"x":1}'
	seq1=$output
	run_fails 65 ufire -w --id job-42 deploy.web
	# Neither dropped under the other's seq, nor told that seq.
	assert_equal "$stderr" "evfire: the bus refused it (data): id 'job-42' is taken by another user's event: give another"
	# The same user again: a duplicate, as before.
	run_ok evfire -w --id job-42 secret.job '{"x":1}'
	# Durable names: the user's "backup" is not root's.
	run_ok evsub --durable backup -c 1 --from "$seq1" 'secret.#'
	run_ok usub --durable backup -c 1 'deploy.#' 'secret.#' --idle 1s
	[ -f "$T/log/cursors/backup" ] || fail "root's cursor missing"
	[ -f "$T/log/cursors/~$UID2.backup" ] || fail "the user's cursor is not its own: $(ls "$T/log/cursors")"
}
