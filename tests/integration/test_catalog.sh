#!/bin/sh
# contimgctl catalog import/list, transits and caltables on a scratch state_dir.
. "$(dirname "$0")/lib.sh"
CTL="$BIN/contimgctl --config $T/contimg.conf"
VLA=$LOCAL/catalogs/vlacalibrators.txt
CSV=$DATA/reference/catalog.csv
mkdir -p "$T/state" "$T/products" "$T/in"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in
CONF

# Exit code of a command (output discarded).
rc() { "$@" >/dev/null 2>&1; echo $?; }

check "list before any import is unreachable (3)" test "$(rc $CTL catalog list)" = 3
check "caltables without a state database is unreachable (3)" test "$(rc $CTL caltables)" = 3
# `ingest` of an empty directory creates the state database (all migrations).
check "create the state database" $CTL ingest "$T/in"
check "caltables on an empty registry is []" \
	sh -c "$CTL caltables --json | tr -d ' \n' | grep -qx '\[\]'"

check "import the VLA list" $CTL catalog import --vla "$VLA"
# 1865 J2000 entries; two names listed twice for the same source are merged.
n=$(grep -c '^[^ ]*  *J2000 ' "$VLA")
check "1865 entries in the list" test "$n" = 1865
check "re-import is idempotent (1863 calibrators)" \
	sh -c "$CTL catalog import --vla '$VLA' --json | grep -q '\"calibrators\":1863'"
if have_reference; then
check "import the reference CSV (61 sources)" \
	sh -c "$CTL catalog import --csv '$CSV' --json | grep -q '\"sources\":61'"
fi
check "missing file is not found (1)" test "$(rc $CTL catalog import --csv "$T/none.csv")" = 1
check "bad usage (2)" test "$(rc $CTL catalog import --xml "$VLA")" = 2

if have_reference; then

# Sources within 1 deg of the cal-0834 pointing, brute-force count from the CSV.
expect=$(awk -F, 'NR > 1 {
	d2r = 3.14159265358979 / 180; a = $2 * d2r; d = $3 * d2r; a0 = 128.755 * d2r; d0 = 54.9 * d2r
	c = sin(d) * sin(d0) + cos(d) * cos(d0) * cos(a - a0); if (c > 1) c = 1
	s = atan2(sqrt(1 - c * c), c) / d2r; if (s <= 1.0) n++ } END { print n }' "$CSV")
$CTL catalog list --near 128.755 54.9 --radius 1 --json >"$T/near.json"
got=$(grep -c '"name"' "$T/near.json")
check "list --near finds the $expect sources within 1 deg (got $got)" test "$got" = "$expect"
check "brightest first is 0834+555" \
	sh -c "grep -m1 '\"name\"' '$T/near.json' | grep -q '0834+555'"
else
	skip_ref "the reference CSV: import 61 sources, list --near, brightest first"
fi
check "list --near --calibrators finds 0834+555" \
	sh -c "$CTL catalog list --calibrators --near 128.73 55.57 --radius 0.5 | grep -q '^0834+555 '"

# 0834+555 transits on 2026-03-01 at 05:53:52 UTC (H = 0 of the apparent place,
# checked against ERFA's observed-place route in tests/calib/test_calsel.c).
$CTL transits 0834+555 --from 2026-03-01T05:49:14 --days 2.5 >"$T/tr.txt"
check "transits lists the 05:53:52 transit" grep -q '2026-03-01T05:53:5[12]' "$T/tr.txt"
check "transits: previous + 3" test "$(grep -c 'MJD' "$T/tr.txt")" = 4
check "transits repeat every sidereal day (86164.09 s +- 1 s)" sh -c "
	grep MJD '$T/tr.txt' | grep -v previous | awk '{ print \$4 }' | awk '
	NR > 1 { d = (\$1 - p) * 86400 - 86164.0905; if (d < -1 || d > 1) bad = 1 }
	{ p = \$1 } END { exit bad }'"
check "transits --json" sh -c "$CTL transits 3C286 --from 2026-03-01T00:00:00 --json | grep -q '\"name\":\"1331+305\"'"
check "unknown calibrator is not found (1)" test "$(rc $CTL transits NOSUCH)" = 1
