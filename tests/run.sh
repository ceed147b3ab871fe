#!/bin/sh
# tests/run.sh BUILD [ASAN_BUILD] — run every unit test binary, every integration
# script, then the sanitizer build of the unit tests and, when ASAN_BUILD/bin
# holds sanitizer builds of the programs, the daemon integration tests listed
# in ASAN_INTEGRATION below with them; with FUZZ_SECONDS set, a short run of the
# fuzz harness (tests/fuzz/run.sh, both modes).  Prints "N passed, N failed,
# N skipped".
# Each test prints TAP-style "ok - name" / "not ok - name" lines; "ok - name #
# SKIP reason" counts as skipped, not passed.  A binary or script that crashes
# or exits non-zero without printing "not ok" counts as one failure of its own.
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
pass=0; fail=0; skip=0
# Daemon integration tests (each < 1 min) that also run with the sanitizer
# build of the programs, so their check of the daemon's log for sanitizer
# reports can fire.
ASAN_INTEGRATION="test_daemon_kill9 test_daemon_sigterm test_daemon_corrupt test_faults"

run_one() { # label command...
	label=$1; shift
	out="$LOG/$(echo "$label" | tr '/ ' '__').out"
	# Each test's scratch directory lives in this run's own directory and goes
	# when the test ends: another run of this script (another checkout on the
	# same machine) never loses its files to this one.
	tmp=$(mktemp -d "$LOG/t-XXXXXX")
	TMPDIR=$tmp "$@" >"$out" 2>"$out.err"
	rc=$?
	rm -rf "$tmp"
	p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out")
	k=$(grep -c '^ok .*# *SKIP' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "not ok - $label (exit $rc)" >>"$out"; fi
	pass=$((pass + p - k)); fail=$((fail + f)); skip=$((skip + k))
	grep -E '^(ok|not ok) ' "$out" | sed "s|^|[$label] |"
	if [ "$f" != 0 ]; then sed 's/^/    /' "$out.err" | tail -40; fi
}

for t in $(find "$B/tests" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
	run_one "$t" "$t"
done
for t in $(ls tests/integration/*.sh 2>/dev/null | sort); do
	run_one "$t" sh "$t"
done
if [ -n "$A" ]; then
	for t in $(find "$A/tests" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
		run_one "asan:$t" "$t"
	done
	case $A in /*) AB=$A/bin ;; *) AB=$ROOT/$A/bin ;; esac
	if [ -x "$AB/contimgd" ]; then
		CONTIMG_BIN=$AB; CONTIMG_ASAN=1; export CONTIMG_ASAN
		for t in $ASAN_INTEGRATION; do
			run_one "asan:tests/integration/$t.sh" sh "tests/integration/$t.sh"
		done
		CONTIMG_BIN="$ROOT/bin"; unset CONTIMG_ASAN
	fi
fi
if [ -n "${FUZZ_SECONDS:-}" ]; then
	run_one "fuzz" sh tests/fuzz/run.sh
fi
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
