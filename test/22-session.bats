#!/usr/bin/env bats
# test/22-session.bats: producer sessions (evbus(7), feature "session"):
# HELLO session=<16 hex>, PUB s=K [dedup=id] n.  A publisher that sends
# an event again in the same session (after a reconnect to the same bus)
# gets "ACK <seq> dup" with the seq of the first copy; after a restart
# without history its events are new to the new bus; an id the producer
# chose is still de-duplicated by id.

load helper

# spub K BODY [WORDS]: a PUB frame of the session's event K.
spub() {
	printf 'PUB s=%s%s %d\n%s\n' "$1" "${3:+ $3}" "${#2}" "$2" >&7
}

@test "session: a resend on a new connection is ACK <seq> dup, known by its number" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats session=00112233aabbccdd\n'
	spub 1 '{"name":"s.a","id":"gen-1"}'
	spub 2 '{"name":"s.b","id":"gen-2"}'
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output 'ACK 2'
	run wire_reply 3
	assert_output 'ACK 3'
	# The same session again: 2 is known (the id is not looked up: it
	# differs here, and still the number says it), 3 is new.
	wire_open
	wire_send 'HELLO 2 bats session=00112233AABBCCDD\n'
	spub 2 '{"name":"s.b","id":"other"}'
	spub 3 '{"name":"s.c","id":"gen-3"}'
	spub 1 '{"name":"s.a","id":"gen-1"}'
	wire_send 'STATS\nQUIT\n'
	wire_close
	run wire_reply 2
	assert_output 'ACK 3 dup'
	run wire_reply 3
	assert_output 'ACK 4'
	run wire_reply 4
	assert_output 'ACK 2 dup'
	# Newest seq 4; the two copies counted as duplicates.
	run jq -c '[.seq, .duplicates]' < <(wire_reply 6)
	assert_output '[4,2]'
}

@test "session: another session's numbers are its own; ids chosen by the producer stay unique" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats session=0000000000000001\n'
	spub 1 '{"name":"s.a","id":"mine"}' dedup=id
	wire_send 'QUIT\n'
	wire_close
	wire_open
	wire_send 'HELLO 2 bats session=0000000000000002\n'
	spub 1 '{"name":"s.a","id":"gen"}'
	spub 2 '{"name":"s.a","id":"mine"}' dedup=id
	wire_pub '{"name":"s.a","id":"mine"}'
	wire_send 'QUIT\n'
	wire_close
	run wire_reply 2
	assert_output 'ACK 3'
	run wire_reply 3
	assert_output 'ACK 2 dup'
	run wire_reply 4
	assert_output 'ACK 2 dup'
}

@test "session: bad words are refused, one reply each, and the connection goes on" {
	start_bus
	wire_open
	wire_send 'HELLO 2 bats\n'
	wire_send 'PUB s=1 %d\n%s\n' 14 '{"name":"s.a"}'
	wire_send 'PUB colour=red %d\n%s\n' 14 '{"name":"s.a"}'
	wire_send 'PING\nQUIT\n'
	wire_close
	run wire_reply 2
	assert_output 'ERR state PUB: s=: no session (HELLO session=...)'
	run wire_reply 3
	assert_output "ERR proto PUB: unknown word 'colour=red' (this bus knows s=, dedup=id)"
	run wire_reply 4
	assert_output PONG
	wire_open
	wire_send 'HELLO 2 bats session=xyz\n'
	wire_close 1
	run wire_reply 1
	assert_output "ERR proto HELLO: session: 'xyz' is not 16 hex digits"
}

@test "session: evfire --id twice: the second is a duplicate; a restarted bus takes a session's events as new" {
	start_bus
	run_ok evfire -w --id job-7 s.x
	s1=$output
	run_ok evfire -w --id job-7 s.x
	assert_output "$s1"
	run_ok evfire -w s.x
	assert_output "$((s1 + 1))"
	stop_bus
	start_bus
	run_ok evfire -w --id job-7 s.x
	assert_output 2
}
