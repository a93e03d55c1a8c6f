#!/usr/bin/env bats
# make install / uninstall into a staging root, as the README describes.

load helper

@test "make install puts programs, manuals, completion and a unit naming the installed evbusd" {
	local root=$BATS_TEST_DIRNAME/.. o p
	o=$(dirname "$EVBUS_BIN")
	run make -s -C "$root" O="$o" install PREFIX=/usr DESTDIR="$T/stage"
	[ "$status" -eq 0 ] || fail "make install: $output"
	for p in evbusd evfire evsub evlist; do
		[ -x "$T/stage/usr/bin/$p" ] || fail "no $p"
		[ -f "$T/stage/usr/share/bash-completion/completions/$p" ] ||
		    fail "no completion for $p"
	done
	[ -f "$T/stage/usr/share/man/man8/evbusd.8" ]
	# evroute, its manual and its completion.
	[ -x "$T/stage/usr/bin/evroute" ] || fail "no evroute"
	[ -f "$T/stage/usr/share/man/man1/evroute.1" ] || fail "no evroute(1)"
	[ -f "$T/stage/usr/share/bash-completion/completions/evroute" ] ||
	    fail "no completion for evroute"
	[ -f "$T/stage/usr/share/man/man1/evlist.1" ]
	[ -f "$T/stage/usr/share/man/man7/evbus.7" ]
	run grep '^ExecStart=' "$T/stage/usr/lib/systemd/user/evbusd.service"
	assert_output "ExecStart=/usr/bin/evbusd"
	run make -s -C "$root" O="$o" uninstall PREFIX=/usr DESTDIR="$T/stage"
	[ "$status" -eq 0 ] || fail "make uninstall: $output"
	run find "$T/stage" -type f
	assert_output ""
}
