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
