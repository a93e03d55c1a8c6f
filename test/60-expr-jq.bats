#!/usr/bin/env bats
# The filter language against jq 1.6: thousands of generated filters over
# generated events, through lib/expr.c (test/unit/exprcheck.c) and through
# jq -c 'select(EXPR)', must give the same answer for every pair: the
# event passes, it does not, or evaluating it is an error.  Also the
# evbus(7) examples of filters and templates.

load helper

EXPRCHECK=$EVBUS_BIN/../test/exprcheck

setup() {
	ev_setup
	[ -x "$EXPRCHECK" ] || fail "no $EXPRCHECK (run make)"
	if [ "${EV_VALGRIND:-0}" = 1 ]; then
		EXPRCHECK_RUN=(valgrind --error-exitcode=99 --leak-check=full
		    -q "$EXPRCHECK")
		NEXPR=${EV_EXPR_N:-200}
		NEV=${EV_EXPR_EVENTS:-30}
	else
		EXPRCHECK_RUN=("$EXPRCHECK")
		NEXPR=${EV_EXPR_N:-3000}
		NEV=${EV_EXPR_EVENTS:-150}
	fi
}

# jq_answers DIR: jq's answers for every pair of DIR/exprs.txt and
# DIR/events.ndjson, in exprcheck's format ("X SEQ T" when filter X
# selects the event with seq SEQ, "X SEQ E" when it raises an error),
# sorted.  A hundred filters share one jq process: each is
#   try (select(EXPR) | "X \($s) T") catch "X \($s) E"
# which prints what jq -c 'select(EXPR)' would decide for the event.
jq_answers() {
	local dir=$1 p
	awk -v D="$dir" '
	{
		f = sprintf("%s/prog.%05d", D, int((NR - 1) / 100))
		if (!(f in seen)) {
			seen[f] = 1
			printf ".seq as $s |\n" > f
		} else
			printf ",\n" > f
		printf "(try (select(%s) | \"%d \\($s) T\") catch " \
		    "\"%d \\($s) E\")", $0, NR, NR > f
	}' "$dir/exprs.txt"
	for p in "$dir"/prog.*; do
		jq -r -f "$p" "$dir/events.ndjson" || {
			echo "jq refused $p" >&2
			return 1
		}
	done | LC_ALL=C sort
}

# differ SEED NEXPR NEVENTS: generate, answer both ways, compare.
differ() {
	local dir=$T/gen.$1 pairs
	mkdir -p "$dir"
	run_ok "${EXPRCHECK_RUN[@]}" gen "$1" "$2" "$3" "$dir"
	LC_ALL=C sort "$dir/ours.txt" >"$dir/ours.sorted"
	jq_answers "$dir" >"$dir/jq.sorted" || fail "jq failed"
	pairs=$(( $2 * $3 ))
	if ! diff "$dir/ours.sorted" "$dir/jq.sorted" >"$dir/diff"; then
		echo "evbus (<) and jq (>) differ on" \
		    "$(grep -c '^[<>]' "$dir/diff") of $pairs pairs:" >&2
		head -n 20 "$dir/diff" | while read -r side x seq what; do
			echo "$side $what: $(sed -n "${x}p" "$dir/exprs.txt")" \
			    "on $(sed -n "${seq}p" "$dir/events.ndjson")" >&2
		done
		fail "evbus and jq disagree"
	fi
	# Not a vacuous agreement: every answer occurs, many times.
	[ "$(grep -c ' T$' "$dir/ours.sorted")" -gt $(( pairs / 20 )) ] ||
	    fail "too few passing pairs"
	[ "$(grep -c ' E$' "$dir/ours.sorted")" -gt $(( pairs / 20 )) ] ||
	    fail "too few errors"
	[ "$(wc -l <"$dir/ours.sorted")" -lt $(( pairs * 19 / 20 )) ] ||
	    fail "too few failing pairs"
	echo "# seed $1: $pairs pairs ($2 filters x $3 events) agree" \
	    "with jq" >&3
}

@test "generated filters: evbus and jq -c 'select(EXPR)' agree on every pair" {
	differ 1 "$NEXPR" "$NEV"
}

@test "generated filters, another seed: evbus and jq agree on every pair" {
	differ 20260101 $(( NEXPR / 3 )) "$NEV"
}

# make fuzz: new seeds, 300 filters x 50 events each, for
# EV_EXPR_FUZZ_SECONDS (make fuzz sets it to FUZZ_SECONDS); the seed of a
# disagreement is printed with it, for `differ SEED` by hand.  Without
# it, one more fixed seed.
@test "generated filters: random seeds for as long as make fuzz runs" {
	local end seed n=0
	if [ -z "${EV_EXPR_FUZZ_SECONDS:-}" ]; then
		differ 424242 300 50
		return
	fi
	end=$(( SECONDS + EV_EXPR_FUZZ_SECONDS ))
	while [ "$SECONDS" -lt "$end" ]; do
		seed=$(( (RANDOM << 15 | RANDOM) + 1 ))
		echo "# seed $seed" >&3
		differ "$seed" 300 50
		n=$((n + 1))
	done
	echo "# $n seeds, $((n * 15000)) pairs agree with jq" >&3
}

# The batch above wraps select() in try; here the plain command, as a
# user runs it, for a sample of filters: the same events come out, and
# as many errors as evbus reports.
@test "the plain jq -c 'select(EXPR)' prints what evbus selects" {
	local dir=$T/plain x=0 expr want got
	mkdir -p "$dir"
	run_ok "${EXPRCHECK_RUN[@]}" gen 7 30 40 "$dir"
	# Per filter, one line: the seqs evbus selects, then "errors N".
	awk -v N=30 '$3 == "T" { t[$1] = t[$1] " " $2 }
	    $3 == "E" { e[$1]++ }
	    END { for (i = 1; i <= N; i++) print t[i] " errors " e[i] + 0 }' \
	    "$dir/ours.txt" >"$dir/want"
	while IFS= read -r expr; do
		x=$((x + 1))
		want=$(sed -n "${x}p" "$dir/want")
		got=$(jq -c "select($expr)" "$dir/events.ndjson" \
		    2>"$dir/err" | sed 's/^{"seq":\([0-9]*\),.*/ \1/' |
		    tr -d '\n')
		got="$got errors $(grep -c '^jq: error' "$dir/err" || :)"
		[ "$got" = "$want" ] ||
		    fail "filter $x: $expr: jq [$got], evbus [$want]"
	done <"$dir/exprs.txt"
}

# --- evbus(7) examples -------------------------------------------------------

# agree EXPR JSON...: evbus and jq say the same of each of these events
# (1 selected, 0 not, E an error).
agree() {
	local expr=$1 i=0 ev
	shift
	: >"$T/agree.ndjson"
	for ev in "$@"; do
		i=$((i + 1))
		printf '{"i":%d,%s\n' "$i" "${ev#\{}" >>"$T/agree.ndjson"
	done
	"$EXPRCHECK" eval "$expr" <"$T/agree.ndjson" | cut -c1 >"$T/ours" ||
	    fail "exprcheck refused: $expr"
	jq -r ".i as \$i | try (select($expr) | \"\\(\$i) 1\") catch \"\\(\$i) E\"" \
	    "$T/agree.ndjson" >"$T/jq" || fail "jq refused: $expr"
	for ((i = 1; i <= $#; i++)); do
		awk -v I="$i" '$1 == I { a = $2 } END { print a ? a : 0 }' \
		    "$T/jq"
	done >"$T/theirs"
	diff "$T/ours" "$T/theirs" >&2 || fail "evbus (<) and jq (>): $expr"
}

@test "evbus(7) filter examples mean what they mean to jq" {
	local a='{"name":"actual_lrp.changed","payload":{"before":{"cell_id":"c1"},"after":{"cell_id":"c2"},"crash_count":4},"error":false,"metadata":{"env":"prod"}}'
	local b='{"name":"deploy.web","payload":{"cell_id":"cell-7","crash_count":1},"error":true,"metadata":{"env":"dev"}}'
	local c='{"name":"deploy","payload":null}'
	local d='{"name":"x","payload":"text"}'
	agree '.payload.cell_id == "cell-7"' "$a" "$b" "$c" "$d"
	agree '.error' "$a" "$b" "$c"
	agree '.payload.crash_count >= 3' "$a" "$b" "$c" "$d"
	agree '.payload.before.cell_id == "c2" or .payload.after.cell_id == "c2"' \
	    "$a" "$b" "$c"
	agree '.name | test("^deploy\\.")' "$a" "$b" "$c"
	agree '(.metadata.env == "prod") | not' "$a" "$b" "$c"
	agree '.payload | has("cell_id")' "$a" "$b" "$c" "$d"
	agree '.metadata["env"] != "prod" and (.name | startswith("deploy"))' \
	    "$a" "$b" "$c"
	agree '.payload.x' "$d"
}

@test "evbus(7) template examples" {
	local ev='{"seq":7,"name":"request.echo","payload":{"system":"echo","system_version":"1.0.0","instance_name":"default","n":1.50,"l":[1, 2],"s":"caf\u00e9 \"x\""}}'
	run_ok "$EXPRCHECK" tmpl '{.seq} {.name} {.payload.system}' <<<"$ev"
	assert_output '7 request.echo echo'
	run_ok "$EXPRCHECK" tmpl 'request.{.payload.system}.{.payload.system_version|mangle}.{.payload.instance_name}' <<<"$ev"
	assert_output 'request.echo.1-0-0.default'
	run_ok "$EXPRCHECK" tmpl '{.payload.n}\t{.payload.l}\t{.payload.s}\t{.payload.s|json}' <<<"$ev"
	assert_output "$(printf '1.50\t[1,2]\tcafé "x"\t"caf\\u00e9 \\"x\\""')"
	run_ok "$EXPRCHECK" tmpl '{.metadata.k|default:-} {.payload.system|upper}' <<<"$ev"
	assert_output '- ECHO'
	run_ok "$EXPRCHECK" tmpl '{.payload.missing}' <<<"$ev"
	assert_output 'E missing .payload.missing'
}

@test "a filter outside the subset is refused with its column" {
	run_fails 65 "$EXPRCHECK" eval '.payload.x == '
	assert_equal "$stderr" "exprcheck: column 15: expected a value after '=='"
	run_fails 65 "$EXPRCHECK" eval '.a | length > 1'
	assert_equal "$stderr" "exprcheck: column 6: 'length' is not supported (evbus's filters are a subset of jq: see evbus(7))"
	run_fails 65 "$EXPRCHECK" eval '.a == 1 == 1'
	assert_equal "$stderr" "exprcheck: column 9: comparisons do not chain in jq: join them with 'and'"
}
