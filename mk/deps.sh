#!/bin/sh
# mk/deps.sh: make sure the Debian packages a task needs are installed.
#
#   sh mk/deps.sh GROUP...      groups: build, test, bench
#
# Quiet when nothing is missing.  As root, installs what is missing
# ("apt-get update" once, then "apt-get install"); otherwise prints the
# exact command to run and exits 69 (EX_UNAVAILABLE).  EV_VALGRIND=1 adds
# valgrind to the test group.

set -u

pkgs=
for group in "$@"; do
	case $group in
	build)
		pkgs="$pkgs gcc make pkg-config libjansson-dev libbsd-dev"
		pkgs="$pkgs libonig-dev" ;;
	test)
		pkgs="$pkgs bats bats-support bats-assert mandoc jq socat hyperfine"
		if [ "${EV_VALGRIND:-0}" = 1 ]; then
			pkgs="$pkgs valgrind"
		fi ;;
	bench)
		pkgs="$pkgs mosquitto mosquitto-clients redis-server"
		pkgs="$pkgs nats-server dbus socat hyperfine"
		pkgs="$pkgs libsqlite3-dev sqlite3 gnuplot-nox" ;;
	*)
		echo "evbus: deps.sh: unknown group '$group'" \
		    "(known: build test bench)" >&2
		exit 64 ;;
	esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "evbus: not a Debian system (no dpkg-query); make sure these" \
	    "are installed:$pkgs" >&2
	exit 0
fi

missing=
for p in $pkgs; do
	case " $missing " in
	*" $p "*) continue ;;
	esac
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	if [ "$status" != installed ]; then
		missing="${missing:+$missing }$p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "evbus: missing packages: $missing;" \
	    "run: sudo apt-get install $missing" >&2
	exit 69
fi

echo "evbus: installing missing packages: $missing" >&2
# Package lists may be absent or stale on a fresh machine; refresh them
# once, and only because something has to be installed.
if ! apt-get update -qq >&2; then
	echo "evbus: apt-get update failed" >&2
	exit 69
fi
# shellcheck disable=SC2086 # word splitting of the package list is wanted
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing </dev/null >&2; then
	echo "evbus: could not install: $missing;" \
	    "run: apt-get install $missing" >&2
	exit 69
fi
exit 0
