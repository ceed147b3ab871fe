# tests/integration/lib.sh — sourced by integration scripts.
# Provides BIN (the built programs), DATA (shared data), T (a scratch dir),
# and ok/fail/check helpers that print TAP-style lines counted by tests/run.sh.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CONTIMG_BIN:-$ROOT/bin}
DATA=${CONTIMG_SHARED_DATA:-$ROOT/../shared/data}
T=$(mktemp -d "${TMPDIR:-/tmp}/contimg-it-XXXXXX")
trap 'rm -rf "$T"' EXIT
NAME=$(basename "$0" .sh)
ok()   { echo "ok - $NAME: $*"; }
fail() { echo "not ok - $NAME: $*"; }
# check "description" command... — ok when the command exits 0.
check() { d=$1; shift; if "$@" >"$T/.last" 2>&1; then ok "$d"; else fail "$d"; sed 's/^/    /' "$T/.last" | tail -20 >&2; fi; }
# LOCAL: the test inputs that travel with the code (tests/data: the VLA
# calibrator list, the DSA-110 station table, the six real UVH5 files, EOP
# excerpts; tests/data/README.md).  DATA above is only for the larger shared
# reference groups ($DATA/reference), which a fresh clone may not have.
LOCAL=${CONTIMG_TEST_DATA:-$ROOT/tests/data}
REFDIR=$DATA/reference
# have_reference: true when the shared reference groups are there.
have_reference() { [ -d "$REFDIR/cal-0834" ] && [ -d "$REFDIR/field-0834-plus1h" ]; }
# skip_ref "description": one skipped check (counted as skipped, never passed).
skip_ref() { echo "ok - $NAME: $* # SKIP reference data absent (../shared/data/reference)"; }
# need_reference "description": a script that needs nothing but the reference
# groups calls this first; without them it prints one skip line and exits 0.
need_reference() { have_reference || { skip_ref "$*"; exit 0; }; }
