#!/bin/sh
# The short soak (issue 16): tests/soak/soak.sh for SOAK_SHORT_SECONDS (120 s)
# of writing groups under kill -9, SIGHUP, full disks, a held database lock and
# late, duplicate and half-written files, then the drain and every check of
# the long soak (`make soak`; docs/operations.md, "Soak").  A small retention
# window (40 groups) keeps the ingest directory, and so the rescans, small.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SOAK_SECONDS=${SOAK_SHORT_SECONDS:-120} SOAK_GROUPS=${SOAK_SHORT_GROUPS:-2000} SOAK_KEEP=40 \
	SOAK_DRAIN_S=300 SOAK_NAME=test_soak_short SOAK_CSV="${TMPDIR:-/tmp}/soak_short_curves.csv" \
	exec sh "$ROOT/tests/soak/soak.sh"
