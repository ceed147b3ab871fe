#!/bin/sh
# tests/integration/test_eop.sh — Earth orientation (UT1 − UTC, polar motion)
# end to end, against an implementation nobody here shares code with.
#
# tests/recipe/recipe_sim.py (numpy + pyerfa) makes two groups from the
# reference cal-0834 files (2026-03-01, 24 antennas, SEFD 6500, the same noise
# seed) with six 1.2-2 Jy sources 0.2-0.4 deg around the centre: B with
# UT1 = UTC and no polar motion (the recipe), T with the Earth orientation of
# the real IERS excerpt tests/data/eop/finals2000A.2026-excerpt at the
# group's mid time (interpolated here in Python: UT1 - UTC +0.0672 s, polar
# motion 0.105", 0.389"), its hour angle H = ERA(UT1) + lon - RA_CIRS and
# polar motion through ERFA's observed-place route (eraApio + eraAtioq).
# `contimgctl process` images them uncalibrated; truthcheck measures every
# source against the truth:
#   B, no table                         the baseline
#   T, [earth] eop_file = the excerpt   must equal the baseline (< 0.1")
#   T, no table                         the error an Earth orientation of 0 makes
#   T, table but [pipeline] dut1_s = 0  UT1 - UTC alone: RA off by
#                                       -15.0411" * dut1 * cos(dec) (predicted)
#   T, table but [earth] xp/yp = 0      polar motion alone (measured)
# Then contimgd: a malformed table stops the start with FILE:LINE:COLUMN; a
# good one is read at start-up, used for a group exactly as contimgctl process
# used it, re-read when the file changes (timer shortened with [debug]
# eop_check_s), kept when a SIGHUP finds it malformed, and a group outside it
# is processed with a STALE warning.
. "$(dirname "$0")/lib.sh"
need_reference "EOP effect on simulated groups from the cal-0834 template"
. "$(dirname "$0")/daemon_common.inc"
TC=${CONTIMG_BUILD:-$ROOT/build}/tests/integration/truthcheck
PY=/usr/bin/python3
SIM="$PY $ROOT/tests/recipe/recipe_sim.py"
REF=$DATA/reference/cal-0834
EXCERPT=$ROOT/tests/data/eop/finals2000A.2026-excerpt
LEAP=$ROOT/tests/data/eop/finals2000A.2017-leap-excerpt
if [ ! -x "$TC" ]; then
	fail "truthcheck not built ($TC: make unit builds it)"
	exit 0
fi
if ! $PY -c 'import numpy, h5py, erfa' 2>"$T/py.err"; then
	fail "python3-numpy, python3-h5py and python3-erfa are needed (make deps installs them)"
	exit 0
fi
cp "$EXCERPT" "$T/finals"

# The table's values at the group's mid time: linear in UT1 - UTC between the
# two days (no leap second near), Bulletin B where the row has it.
read -r DUT1 XP YP MJD <<EOF
$($PY - "$EXCERPT" "$REF" <<'PYEOF'
import glob, json, sys, erfa
truth = json.load(open(glob.glob(sys.argv[2] + "/truth_*.json")[0]))
d, t = truth["mid_isot"].split("T")
y, mo, dd = (int(x) for x in d.split("-"))
hh, mm, ss = t.split(":")
j1, j2 = erfa.dtf2d("UTC", y, mo, dd, int(hh), int(mm), float(ss))
mjd = j1 - 2400000.5 + j2
rows = {}
for l in open(sys.argv[1]):
    l = l.rstrip("\n").ljust(185)
    b = l[134:165].split()
    x, yv, u = (float(v) for v in b) if len(b) == 3 else (float(l[18:27]), float(l[37:46]), float(l[58:68]))
    rows[int(float(l[7:15]))] = (x, yv, u)
k = int(mjd)
w = mjd - k
v = [a + w * (c - a) for a, c in zip(rows[k], rows[k + 1])]
print("%.7f %.6f %.6f %.5f" % (v[2], v[0], v[1], mjd))
PYEOF
)
EOF
echo "# group mid time MJD $MJD: the excerpt gives UT1-UTC $DUT1 s, polar motion x $XP\" y $YP\""

# Six sources 0.2-0.4 deg around the group's ICRS centre (128.218, 54.99).
{
	echo name,ra_deg,dec_deg,flux_mjy,spectral_index
	$PY -c '
import math
offs = [(0.25, 0.2), (-0.3, 0.1), (0.1, -0.3), (-0.15, -0.25), (0.3, -0.1), (0.0, 0.3)]
flux = [2000, 1500, 1800, 1200, 1600, 1400]
for i, ((dx, dy), f) in enumerate(zip(offs, flux)):
    d = 54.99 + dy
    print("E%d,%.6f,%.6f,%d,-0.7" % (i + 1, 128.218 + dx / math.cos(math.radians(d)), d, f))'
} >"$T/sky.csv"
mk() { $SIM make --template "$REF" --dec 54.9 --sky "$T/sky.csv" --gains none --seed 3 "$@" >>"$T/sim.log" 2>&1; }
check "recipe_sim makes the UT1 = UTC group" mk --out "$T/B"
check "recipe_sim makes the group with the table's Earth orientation" \
	mk --out "$T/T" --dut1 "$DUT1" --xp "$XP" --yp "$YP"

# run NAME GROUP [INI lines...]: process GROUP in a state of its own and
# measure it; leaves $T/NAME.check.
run() {
	n=$1 g=$2
	shift 2
	mkdir -p "$T/$n"
	{
		printf '[paths]\ningest_dir = %s/%s/in\nstate_dir = %s/%s/state\nproducts_dir = %s/%s/prod\n' \
			"$T" "$n" "$T" "$n" "$T" "$n"
		for l in "$@"; do echo "$l"; done
	} >"$T/$n/c.conf"
	x=
	[ "$n" = table ] && x=--export-vis
	CONTIMG_CONFIG=$T/$n/c.conf "$BIN/contimgctl" process "$T/$g" --json $x --set image.size=1024 \
		--set image.cell_arcsec=3 --set image.niter=400 --set calibrate.cal_min_flux_jy=1e9 \
		>"$T/$n.json" 2>"$T/$n.err" || { tail -5 "$T/$n.err"; return 1; }
	p() { grep "\"$1\": \"" "$T/$n.json" | head -1 | cut -d'"' -f4; }
	"$TC" "$(p pbcor)" "$(p residual)" "$(p pb)" "$T/$g"/truth_*.json 10 >"$T/$n.check" || return 1
	grep -q "^summary n 6 " "$T/$n.check" || { echo "not all six sources measured"; cat "$T/$n.check"; return 1; }
}
check "baseline: UT1 = UTC data, no table" run base B
check "the table's data with [earth] eop_file" run table T "[earth]" "eop_file = $T/finals"
check "the table's data with no table" run none T
check "the table's data, table but [pipeline] dut1_s = 0" run nodut1 T "[pipeline]" "dut1_s = 0" \
	"[earth]" "eop_file = $T/finals"
check "the table's data, table but [earth] xp_arcsec = yp_arcsec = 0" run nopm T "[earth]" \
	"eop_file = $T/finals" "xp_arcsec = 0" "yp_arcsec = 0"

# The exported UVH5 says which UT1 - UTC its phases were made with.
exported_dut1() {
	$PY - "$T/table.json" "$DUT1" <<'PYEOF'
import json, sys, h5py
j = json.load(open(sys.argv[1]))
with h5py.File(j["products"]["vis"], "r") as f:
    d = float(f["Header/dut1"][()])
    hist = f["Header/history"][()].decode()
print("exported dut1 %.7f s, process --json %.7f s, the table here %s s" % (d, j["eop"]["dut1_s"], sys.argv[2]))
line = [l for l in hist.splitlines() if "contimg rephase" in l]
print(line[0] if line else "no rephase line")
sys.exit(not (d == j["eop"]["dut1_s"] and abs(d - float(sys.argv[2])) < 1e-5 and line and "polar motion x 0.1050" in line[0]))
PYEOF
}
check "the exported UVH5's dut1 and history give the table's Earth orientation" exported_dut1
sed 's/^/# /' "$T/.last"

# diff NAME: per source, the change of (dRA, dDec) from the baseline.
diffs() {
	awk 'FNR == 1 { f++ } $2 == "S" && /offset/ {
		for (i = 1; i <= NF; i++) { if ($i == "(dRA") ra = $(i + 1); if ($i == "dDec") de = $(i + 1) }
		sub(/\)/, "", de)
		if (f == 1) { bra[$1] = ra; bde[$1] = de } else printf "%s %+.3f %+.3f\n", $1, ra - bra[$1], de - bde[$1]
	}' "$T/base.check" "$T/$1.check"
}
for n in table none nodut1 nopm; do
	[ -f "$T/$n.check" ] && diffs $n >"$T/$n.diff" && sed "s/^/# $n vs baseline: /" "$T/$n.diff"
done

# With the table: every source within 0.1" of where the UT1 = UTC data put it.
within() {
	awk -v lim="$2" '{ d = sqrt($2 * $2 + $3 * $3); if (d > m) m = d; n++ }
		END { printf "largest change %.3f\" over %d sources\n", m, n; exit !(n == 6 && m < lim) }' "$T/$1.diff"
}
check "with the IERS table the sources stay on the truth (< 0.1\" from the UT1 = UTC case)" within table 0.1
sed 's/^/# /' "$T/.last"
# UT1 - UTC alone: dRA changes by -15.0411" * dut1 * cos(dec) (the sidereal
# rate 1.00273781 * 15"/s) within 0.05" per source, dDec by less than 0.1"
# (the image centre, Earth-fixed, moves with UT1: the sources fall elsewhere
# on the 3" pixels, which the peak fit follows to a few 0.01").
dut1_shift() {
	awk -v dut1="$DUT1" -v sky="$T/sky.csv" 'BEGIN {
			FS = ","; while ((getline l < sky) > 0) { split(l, a, ","); dec[a[1]] = a[3] }; FS = " "
		}
		{ pred = -15.0411 * dut1 * cos(dec[$1] * atan2(0, -1) / 180)
		  e = $2 - pred; if (e < 0) e = -e; if (e > m) m = e; if ($3 > md || -$3 > md) md = ($3 > 0 ? $3 : -$3)
		  s += $2; p += pred; n++ }
		END { printf "dRA change: mean %+.3f\" predicted %+.3f\", worst error %.3f\"; |dDec change| <= %.3f\"\n",
			s / n, p / n, m, md
		      exit !(n == 6 && m < 0.05 && md < 0.1) }' "$T/nodut1.diff"
}
check "UT1-UTC $DUT1 s ignored: RA off by -15.04\"*dut1*cos(dec)" dut1_shift
sed 's/^/# /' "$T/.last"
# Polar motion alone: the whole field moves by about |p| (0.4").
pm_shift() {
	awk '{ d = sqrt($2 * $2 + $3 * $3); s += d; n++; if (d < lo || n == 1) lo = d; if (d > hi) hi = d; r += $2; e += $3 }
		END { printf "polar motion ignored: sources move by %.3f..%.3f\" (mean dRA %+.3f\", dDec %+.3f\")\n",
			lo, hi, r / n, e / n
		      exit !(n == 6 && lo > 0.2 && hi < 0.6) }' "$T/nopm.diff"
}
check "polar motion ($XP\", $YP\") ignored: the field moves by 0.2-0.6\"" pm_shift
sed 's/^/# /' "$T/.last"
total() {
	awk '{ d = sqrt($2 * $2 + $3 * $3); s += d; n++ } END { printf "no Earth orientation: mean error %.3f\"\n", s / n
		exit !(s / n > 0.4) }' "$T/none.diff"
}
check "without any Earth orientation the sources are off (> 0.4\")" total
sed 's/^/# /' "$T/.last"

# ---- the daemon ----
write_conf "stages = load, convert" "[earth]" "eop_file = $T/bad" "[debug]" "eop_check_s = 0.5"
sed '17s/0.341985/0.3x1985/' "$EXCERPT" >"$T/bad"
"$BIN/contimgd" --config "$CONF" --foreground --log-format text >"$T/bad.log" 2>&1
rc=$?
check "contimgd refuses to start on a malformed table (exit 2, FILE:LINE:COLUMN)" \
	sh -c "[ $rc = 2 ] && grep -q '$T/bad:17:42: PM-y: not a digit' '$T/bad.log'"
sed -i "s#eop_file = $T/bad#eop_file = $T/finals#" "$CONF"
start_daemon
check "contimgd reads the table at start-up" wait_for 10 grep -q "Earth orientation table $T/finals: 200 days" "$T/daemon.log"
A=1772344154 # 2026-03-01T05:49:14
cp "$T"/B/*.hdf5 "$T/stage/"
for f in "$T"/stage/*.hdf5; do mv "$f" "$T/in/"; done
check "the daemon's group completed" wait_for 30 is "SELECT count(*) FROM groups WHERE state = 'completed'" 1
ev=$(q "SELECT message FROM group_events WHERE kind = 'eop' ORDER BY id DESC LIMIT 1")
src=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["eop"]["source"])' "$T/table.json" 2>/dev/null)
echo "# daemon: $ev"
check "the daemon used the same Earth orientation as contimgctl process" [ -n "$ev" -a "$ev" = "$src" ]
cp "$LEAP" "$T/finals.new"
mv "$T/finals.new" "$T/finals"
check "a changed file is re-read (mtime check)" wait_for 10 grep -q "table re-read: $T/finals: 32 days" "$T/daemon.log"
sed '5s/I /Q /' "$EXCERPT" >"$T/finals.new"
mv "$T/finals.new" "$T/finals"
kill -HUP "$DPID"
check "a malformed table at SIGHUP is refused and the old one kept" \
	wait_for 10 grep -q "$T/finals:5:17: polar motion flag: expected I, P or blank; keeping the table in use" "$T/daemon.log"
for f in "$T"/B/*.hdf5; do
	b=$(basename "$f")
	cp "$f" "$T/stage/$(stamp $A 600)_${b#*_}"
done
for f in "$T"/stage/*.hdf5; do mv "$f" "$T/in/"; done
check "a group outside the (kept 2016-17) table completes with a STALE warning" \
	wait_for 30 grep -q "warning.*Earth orientation: .*STALE: the group is 3332.[0-9] days after the table" "$T/daemon.log"
grep "Earth orientation" "$T/daemon.log" | tail -1 | sed 's/^/# /'
stop_daemon
check "SIGTERM exit status 0" [ "$DRC" = 0 ]
for n in none nodut1 nopm; do
	[ -f "$T/$n.check" ] && tail -1 "$T/$n.check" | sed "s/^/# $n: /"
done
exit 0
