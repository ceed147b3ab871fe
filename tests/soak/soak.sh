#!/bin/sh
# tests/soak/soak.sh — the soak of issue 16 (`make soak`; a short version runs
# in `make test` as tests/integration/test_soak_short.sh).  A stream of small
# simulated groups through contimgd under random kill -9, SIGHUP, full disks
# (two small tmpfs: products+scratch, state), a sqlite3 shell holding the
# database's write lock, and late, duplicate and half-written files; then every
# group must be completed or failed with a reason, none lost or doubled, no
# temporaries left, RSS and rescan time flat.  Prints TAP lines and a summary;
# the RSS and rescan curves go to SOAK_CSV.  Parameters (SOAK_GROUPS,
# SOAK_SECONDS, SOAK_SEED, ...) are described in tests/soak/soak.py.
# Needs root for the tmpfs mounts (without them the disk-full periods are
# skipped, and said so).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${CONTIMG_BIN:=$ROOT/bin}"
export CONTIMG_BIN
if [ -z "${SOAK_DIR:-}" ]; then
	SOAK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/contimg-soak-XXXXXX")
	made=1
fi
export SOAK_DIR
for p in contimgd contimgctl contimg-sim; do
	[ -x "$CONTIMG_BIN/$p" ] || { echo "not ok - soak: $CONTIMG_BIN/$p missing (make all)"; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "not ok - soak: the sqlite3 shell is missing"; exit 1; }
cleanup() {
	# Only the two file systems this soak mounted.
	for m in "$SOAK_DIR/prodfs" "$SOAK_DIR/statefs"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	if [ -n "${made:-}" ] && [ -z "${SOAK_KEEP_DIR:-}" ]; then
		[ -n "${SOAK_CSV:-}" ] || cp "$SOAK_DIR/soak_curves.csv" "${TMPDIR:-/tmp}/" 2>/dev/null
		rm -rf "$SOAK_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
OMP_WAIT_POLICY=passive /usr/bin/python3 "$ROOT/tests/soak/soak.py"
