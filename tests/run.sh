#!/bin/sh
# tests/run.sh BUILD [ASAN_BUILD] — run every unit test binary, every integration
# script, then the sanitizer build of the unit tests and, when ASAN_BUILD/bin
# holds sanitizer builds of the programs, the daemon integration tests listed
# in ASAN_INTEGRATION below with them; with FUZZ_SECONDS set, a short run of the
# fuzz harness (tests/fuzz/run.sh, both modes).  Prints "N passed, N failed,
# N skipped".
#
# Each test prints TAP-style "ok - name" / "not ok - name" lines; "ok - name #
# SKIP reason" counts as skipped, not passed.  A binary or script that crashes
# or exits non-zero without printing "not ok" counts as one failure of its own.
#
# TEST_JOBS (default: the number of CPUs, at most 4) tests run at once: most
# integration tests spend their time waiting on a daemon (settle windows, a
# held lock, a grace period), so two at a time on a 2-core machine nearly
# halve the wall time.  The ones in LONG start first so that the slowest are
# not left running alone at the end; the ones in SERIAL measure time ratios
# and run alone, after the others.  TEST_JOBS=1 runs everything in order, one
# at a time, as before (TEST_ONLY below picks tests).  Each test's output is printed when it ends, whole.
B=${1:-build}
A=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
: "${CONTIMG_SHARED_DATA:=$ROOT/../shared/data}"
export CONTIMG_SHARED_DATA
export CONTIMG_BIN="$ROOT/bin"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# Idle OpenMP threads sleep: tests run daemons and tools side by side on 2 cores.
export OMP_WAIT_POLICY=passive
LOG=$(mktemp -d /tmp/contimg-run-XXXXXX)
export LOG
# Daemon integration tests (each < 1 min) that also run with the sanitizer
# build of the programs, so their check of the daemon's log for sanitizer
# reports can fire.
ASAN_INTEGRATION="test_daemon_kill9 test_daemon_sigterm test_daemon_corrupt test_faults"
# Started first (the longest, by measurement: the per-test times of a run are
# the mtimes in its LOG directory).
LONG="tests/integration/test_soak_short.sh tests/integration/test_recipe.sh
tests/integration/test_requeue_live.sh tests/integration/test_pointings.sh
tests/integration/test_ese_series.sh tests/integration/test_daemon_claims.sh
tests/integration/test_order.sh fuzz $B/tests/imaging/test_declinations"
# Run alone at the end: they assert on ratios of elapsed times.
SERIAL="tests/integration/test_rescan_history.sh"
JOBS=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$JOBS" -gt 4 ] && JOBS=4
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
NJOBS=$JOBS

# One line per test: "label<TAB>kind<TAB>path", kind one of bin, sh, asan-bin,
# asan-sh, fuzz.
LIST=$LOG/list
: >"$LIST"
add() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$LIST"; }
for t in $(find "$B/tests" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
	add "$t" bin "$t"
done
for t in $(ls tests/integration/*.sh 2>/dev/null | sort); do
	add "$t" sh "$t"
done
if [ -n "$A" ]; then
	for t in $(find "$A/tests" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
		add "asan:$t" asan-bin "$t"
	done
	case $A in /*) AB=$A/bin ;; *) AB=$ROOT/$A/bin ;; esac
	if [ -x "$AB/contimgd" ]; then
		export AB
		for t in $ASAN_INTEGRATION; do
			add "asan:tests/integration/$t.sh" asan-sh "tests/integration/$t.sh"
		done
	fi
fi
if [ -n "${FUZZ_SECONDS:-}" ]; then
	add fuzz fuzz tests/fuzz/run.sh
fi

# TEST_ONLY (an extended regular expression) keeps the tests whose label
# matches: `TEST_ONLY=daemon_ sh tests/run.sh build`.
if [ -n "${TEST_ONLY:-}" ]; then
	awk -F '\t' -v re="$TEST_ONLY" '$1 ~ re' "$LIST" >"$LIST.only" && mv "$LIST.only" "$LIST"
fi

# The order tests start in: LONG first, then the list's order; SERIAL apart.
ORDER=$LOG/order
SER=$LOG/serial
: >"$ORDER"; : >"$SER"
for l in $LONG; do
	awk -F '\t' -v l="$l" '$1 == l' "$LIST" >>"$ORDER"
done
for l in $SERIAL; do
	awk -F '\t' -v l="$l" '$1 == l' "$LIST" >>"$SER"
done
awk -F '\t' -v skip="$LONG $SERIAL" \
	'BEGIN { n = split(skip, s, /[ \n]+/); for (i = 1; i <= n; i++) x[s[i]] = 1 } !($1 in x)' \
	"$LIST" >>"$ORDER"

# run_one LINE: run the test a list line names, in a scratch directory of this
# run's own (another run of this script on the same machine never loses its
# files to this one), then print its TAP lines, prefixed with its label, and
# the tail of its stderr when it failed.  Leaves LOG/<label>.out, .err, .rc.
run_one() {
	label=$(printf '%s' "$1" | cut -f1)
	kind=$(printf '%s' "$1" | cut -f2)
	path=$(printf '%s' "$1" | cut -f3)
	out="$LOG/$(echo "$label" | tr '/ :' '___').out"
	tmp=$(mktemp -d "$LOG/t-XXXXXX")
	case $kind in
	bin | asan-bin) TMPDIR=$tmp "$path" ;;
	sh) TMPDIR=$tmp sh "$path" ;;
	asan-sh) TMPDIR=$tmp CONTIMG_BIN=$AB CONTIMG_ASAN=1 sh "$path" ;;
	fuzz) TMPDIR=$tmp sh "$path" ;;
	esac >"$out" 2>"$out.err"
	rc=$?
	rm -rf "$tmp"
	f=$(grep -c '^not ok ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "not ok - $label (exit $rc)" >>"$out"; fi
	echo "$label" >"$out.label"
	{
		grep -E '^(ok|not ok) ' "$out" | sed "s|^|[$label] |"
		if [ "$f" != 0 ]; then sed 's/^/    /' "$out.err" | tail -40; fi
	} >"$out.report"
	# One write per test, so that two tests' lines never interleave.
	cat "$out.report"
}

# run_queue FILE: start the tests FILE lists, JOBS at a time, in its order.
# Each slot takes the next line under a lock (mkdir is atomic).
run_queue() {
	q=$1
	n=$(wc -l <"$q")
	echo 0 >"$q.next"
	slot() {
		while :; do
			until mkdir "$q.lock" 2>/dev/null; do sleep 0.05; done
			i=$(($(cat "$q.next") + 1))
			echo "$i" >"$q.next"
			rmdir "$q.lock"
			[ "$i" -le "$n" ] || return 0
			run_one "$(sed -n "${i}p" "$q")"
		done
	}
	j=1
	while [ "$j" -le "$JOBS" ]; do
		slot &
		j=$((j + 1))
	done
	wait
}

run_queue "$ORDER"
JOBS=1
run_queue "$SER"

pass=0; fail=0; skip=0
for out in "$LOG"/*.out; do
	[ -e "$out.label" ] || continue
	p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out")
	k=$(grep -c '^ok .*# *SKIP' "$out")
	pass=$((pass + p - k)); fail=$((fail + f)); skip=$((skip + k))
done
ntests=$(wc -l <"$LIST")
nrun=$(ls "$LOG"/*.out.label 2>/dev/null | wc -l)
if [ "$nrun" != "$ntests" ]; then
	echo "not ok - tests/run.sh: $nrun of $ntests tests ran"
	fail=$((fail + 1))
fi
echo "# $ntests tests, $NJOBS at a time; logs in $LOG"
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
