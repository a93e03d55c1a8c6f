#!/bin/sh
# mk/fuzz.sh: build each libFuzzer target given as an argument
# (test/fuzz/fuzz_*.c) with every lib/*.c into build-fuzz/, then run each
# for FUZZ_SECONDS seconds (default 20), starting from its checked-in
# corpus test/fuzz/corpus/<target>/ (which it only reads; what it learns
# goes to build-fuzz/corpus/<target>/).  Exits non-zero when a target
# fails to build or finds a crash, leak, sanitizer report or timeout; the
# input that did it is kept as build-fuzz/<target>-crash-* (or leak-,
# timeout-, oom-) and can be replayed with build-fuzz/<target> FILE, or
# without clang by build/test/<target> FILE.  Once the bug is fixed, copy
# the input into test/fuzz/corpus/<target>/: "make check" replays every
# file there, so the bug stays fixed.
#
# Needs clang and its libFuzzer runtime; on Debian 12 that is
#	apt-get install -y clang libclang-rt-14-dev
# (libclang-rt-NN-dev for clang NN).  Run as root, the script installs them.
#
#   sh mk/fuzz.sh test/fuzz/fuzz_*.c
#   FUZZ_SECONDS=60 sh mk/fuzz.sh test/fuzz/fuzz_pattern.c

set -u

CLANG=${CLANG:-clang}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
OUT=build-fuzz

if [ $# -eq 0 ]; then
	echo "usage: sh mk/fuzz.sh test/fuzz/fuzz_NAME.c ..." >&2
	exit 64
fi

# Does clang link a -fsanitize=fuzzer program?
fuzzer_links() {
	tmp=$(mktemp -d) || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	    '{ (void)d; (void)n; return 0; }' >"$tmp/t.c"
	"$CLANG" -fsanitize=fuzzer,address,undefined -o "$tmp/t" "$tmp/t.c" \
	    >/dev/null 2>&1
	r=$?
	rm -rf "$tmp"
	return $r
}

if ! command -v "$CLANG" >/dev/null 2>&1 || ! fuzzer_links; then
	v=$("$CLANG" --version 2>/dev/null |
	    sed -n 's/.*clang version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
	pkgs="clang libclang-rt-${v:-14}-dev"
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "fuzz: installing $pkgs" >&2
		# shellcheck disable=SC2086
		apt-get install -y $pkgs >&2 || exit 69
	fi
	if ! command -v "$CLANG" >/dev/null 2>&1 || ! fuzzer_links; then
		echo "fuzz: clang cannot link -fsanitize=fuzzer; install it:" >&2
		echo "    sudo apt-get install -y $pkgs" >&2
		exit 69
	fi
fi
if ! pkgflags=$($PKG_CONFIG --cflags --libs jansson libbsd-overlay libmd oniguruma); then
	echo "fuzz: pkg-config cannot find jansson, libbsd-overlay, libmd and oniguruma; run" \
	    "'make deps' first" >&2
	exit 69
fi

mkdir -p "$OUT" || exit 74
status=0
for src in "$@"; do
	name=$(basename "$src" .c)
	echo "fuzz: building $OUT/$name"
	# shellcheck disable=SC2086
	if ! "$CLANG" -std=c11 -D_GNU_SOURCE -g -O1 \
	    -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Ilib -o "$OUT/$name" \
	    "$src" lib/*.c $pkgflags; then
		echo "fuzz: $name: build failed" >&2
		status=1
		continue
	fi
	# The corpus grows across runs in $OUT/corpus/NAME; the checked-in
	# one, which every target has, is only read.
	mkdir -p "$OUT/corpus/$name"
	seeds="test/fuzz/corpus/$name"
	if [ ! -d "$seeds" ]; then
		echo "fuzz: $name: no corpus $seeds: check one in" >&2
		status=1
		continue
	fi
	echo "fuzz: running $name for ${FUZZ_SECONDS}s"
	if ! "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$OUT/$name-" \
	    "$OUT/corpus/$name" "$seeds" >"$OUT/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; see $OUT/$name.log:" >&2
		grep -E 'ERROR|SUMMARY|assert' "$OUT/$name.log" |
		    head -n 20 >&2
		sed -n 's/.*Test unit written to \(.*\)$/\1/p' \
		    "$OUT/$name.log" | while read -r a; do
			echo "fuzz: $name: the input is kept as $a" \
			    "(replay: $OUT/$name $a); once the bug is" \
			    "fixed, add it to the corpus, where" \
			    "'make check' replays it:" >&2
			echo "    cp $a $seeds/" >&2
		done
		status=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^Done ' "$OUT/$name.log" |
	    sed "s/^/fuzz: $name: /"
done
exit $status
