#!/bin/sh
# tests/integration/test_bandpass_only.sh — calibration states that mean what
# they say (issue 17 item 7), end to end through contimgd.
#
# Small simulated groups (contimg-sim: 24 antennas, 16 subbands of 2
# channels, 6 integrations) at one pointing declination, dropped into the
# ingest directory of a running daemon with the default validity windows
# (gain_valid_hours 1, bandpass_valid_hours 24):
#   C1  T         0834+555 transits: solves and registers B and G;
#   F1  T + 0.5 h field A, inside C1's gain window          → "full";
#   F2  T + 2 h   field B, outside it, inside its bandpass   → "bandpass-only";
#   F3  F2 + 2 sidereal days, field B again, nothing valid   → "none";
#   F0  F1 − 1 sidereal day, field A again (dropped after F1), inside C1's
#       bandpass window only → "bandpass-only", normalised by F1's
#       references but kept out of the statistics;
#   C2  T + 1.37 h (dropped last) 0957+553 transits: its gain window holds F2;
#   F4  T + 3 h   field C, outside both gain windows, through `contimgctl
#                 process` after the daemon stopped                → "bandpass-only".
# Asserts the state of each group (groups.calibrated, `show --json` and
# text), its photometry rows (lightcurve JSON and CSV: flux_jy null with
# flux_raw and flux_unit "uncal", flag bits 16/17), that only the full epoch
# enters the variability statistics and the reference baselines, what the
# FITS header says about the calibration, and that a requeue of F2 after C2
# has landed makes it "full" (calibration is selected when a group runs) while
# C2's arrival alone changes nothing.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/daemon_common.inc"
SIM=$BIN/contimg-sim
STATIONS=$LOCAL/dsa110/DSA110_Station_Coordinates.csv
C1_RA=128.72876715 C1_DEC=55.57251971 C1_JY=8.8  # 0834+555 (VLA list, 20 cm)
C2_RA=149.40910405 C2_DEC=55.38271368 C2_JY=2.6  # 0957+553
SIDEREAL_S=86164.0905
t_start=$(date +%s)

write_conf "[image]" "size = 512" "cell_arcsec = 6" "subbands = 0" \
	"[photometry]" "baseline_epochs = 1" "baseline_min_epochs = 1" "min_refs = 1" \
	"ref_min_snr = 50"

# sim DIR ARGS...: one small group (seed 17 for the gains: the same antennas
# in every group, as at the telescope).
sim() {
	d=$1; shift
	"$SIM" --out "$T/sim/$d" --stations "$STATIONS" --nants 24 --nchan-per-subband 2 \
		--ntimes 6 --random 0 --seed 17 --jitter 0 --threads 1 --quiet --no-truth "$@" \
		>>"$T/sim.log" 2>&1
}
# start DIR: the group name (the start of its first file, seconds truncated).
start() { basename "$(ls "$T/sim/$1"/*_sb00.hdf5)" _sb00.hdf5; }
# iso UNIX: the ISO UTC time of unix seconds.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
# drop DIR: the group's files into the ingest directory (rename: atomic).
drop() { for f in "$T/sim/$1"/*.hdf5; do mv "$f" "$T/in/"; done; }

# --- C1: the calibrator group at T; the pointing is its apparent dec ---
if ! sim c1 --calibrator "0834+555,$C1_RA,$C1_DEC,$C1_JY"; then
	fail "contimg-sim C1"; cat "$T/sim.log" >&2; exit 0
fi
C1=$(start c1)
# Its pointing (apparent declination) from the file, for the field groups.
DEC=$(h5dump -m %.17g -d /Header/phase_center_app_dec "$T/sim/c1/${C1}_sb00.hdf5" 2>/dev/null |
	awk '$1 == "(0):" { printf "%.10f", $2 * 45 / atan2(1, 1) }')
if [ -z "$DEC" ]; then
	fail "read C1's pointing declination (h5dump)"; exit 0
fi
t0=$(date -u -d "$C1" +%s)
F1=$(iso $((t0 + 1800)))
F2=$(iso $((t0 + 7200)))
F3=$(awk -v t="$t0" -v s="$SIDEREAL_S" 'BEGIN { printf "%d", t + 7200 + 2 * s + 0.5 }')
F3=$(iso "$F3")

# The fields: ICRS centre of the meridian at the group's time (RA advances
# 15.041 deg per hour from C1's; J2000 dec = apparent dec minus the precession
# since 2000, 20.04"/yr cos RA), three 1 Jy references on a ring of 0.12 deg
# and two 0.15 Jy sources on one of 0.25 deg (too faint to be references), flat spectra.
field() {
	awk -v p="$1" -v h="$2" -v ra0="$C1_RA" -v dec="$DEC" 'BEGIN {
		pi = atan2(0, -1); ra = ra0 + 15.0410686 * h
		d0 = dec - 20.04 / 3600 * 26.2 * cos(ra * pi / 180)
		for (j = 0; j < 5; j++) {
			r = j < 3 ? 0.12 : 0.25; a = (72 * j + 15) * pi / 180; d = d0 + r * cos(a)
			printf "%s%d,%.6f,%.6f,%d,0\n", p, j, ra + r * sin(a) / cos(d * pi / 180), d,
				j < 3 ? 1000 : 150
		}
	}'
}
hdr=name,ra_deg,dec_deg,flux_mjy,spectral_index
{ echo $hdr; field A 0.5; } >"$T/fieldA.csv"
{ echo $hdr; field B 2; } >"$T/fieldB.csv"
{ echo $hdr; field C 3; } >"$T/fieldC.csv"
{ echo $hdr; field A 0.5; field B 2; field C 3; } >"$T/sky.csv"
ok=1
sim f1 --start "$F1" --dec "$DEC" --sky "$T/fieldA.csv" --seed 17 || ok=0
sim f2 --start "$F2" --dec "$DEC" --sky "$T/fieldB.csv" || ok=0
sim f3 --start "$F3" --dec "$DEC" --sky "$T/fieldB.csv" || ok=0
F4=$(iso $((t0 + 10800)))
F0=$(awk -v t="$t0" -v s="$SIDEREAL_S" 'BEGIN { printf "%d", t + 1800 - s + 0.5 }')
F0=$(iso "$F0")
sim f0 --start "$F0" --dec "$DEC" --sky "$T/fieldA.csv" || ok=0
sim f4 --start "$F4" --dec "$DEC" --sky "$T/fieldC.csv" || ok=0
# C2: 0957+553 transits 1.37 h after 0834+555; the files keep the pointing.
sim c2 --calibrator "0957+553,$C2_RA,$C2_DEC,$C2_JY" --dec "$DEC" --start "$(iso $((t0 + 4950)))" ||
	ok=0
if [ $ok = 0 ]; then
	fail "contimg-sim field groups"; cat "$T/sim.log" >&2; exit 0
fi
C2=$(start c2)
echo "# C1 $C1, F1 $F1, F2 $F2, F3 $F3, C2 $C2; pointing dec $DEC" >&2
check "the groups have the planned times (F1 = C1 + 0.5 h, F2 = + 2 h, C2 within 1 h of F2)" \
	test "$(start f1)" = "$F1" -a "$(start f2)" = "$F2" -a "$(start f3)" = "$F3" -a \
	"$(start f4)" = "$F4" -a "$(start f0)" = "$F0" -a \
	$(( $(date -u -d "$F2" +%s) - $(date -u -d "$C2" +%s) )) -lt 3000

check "import the calibrator list" $CTL catalog import --vla "$LOCAL/catalogs/vlacalibrators.txt"
check "import the fields' catalog" $CTL catalog import --csv "$T/sky.csv"

# state NAME: "STATE CALIBRATED" of a group
state() { q "SELECT state || ' ' || calibrated FROM groups WHERE name = '$1'"; }
start_daemon
drop c1
wait_for 60 is "SELECT state FROM groups WHERE name = '$C1'" completed
check "C1 completed, fully calibrated" test "$(state "$C1")" = "completed 1"
check "C1 registered an active B and G table" \
	is "SELECT group_concat(type || status, ' ') FROM (SELECT type, status FROM caltables
		WHERE source_group = '$C1' ORDER BY type)" "Bactive Gactive"
drop f1; drop f2; drop f3
wait_for 90 is "SELECT count(*) FROM groups WHERE name IN ('$F1', '$F2', '$F3')
	AND state IN ('completed', 'failed')" 3
check "F1 (C1 + 0.5 h) completed with calibrated = 1 (full)" test "$(state "$F1")" = "completed 1"
check "F2 (C1 + 2 h) completed with calibrated = 2 (bandpass-only)" test "$(state "$F2")" = "completed 2"
check "F3 (F2 + 2 days) completed with calibrated = 0 (none)" test "$(state "$F3")" = "completed 0"

check "the daemon's log: F2 bandpass only, with the reason and the remedy" sh -c "
	grep '$F2' '$T/daemon.log' | grep -q 'bandpass only: no gain table is valid at the group (gain_valid_hours 1)' &&
	grep '$F2' '$T/daemon.log' | grep -q 'completed in .* products, bandpass only)' &&
	grep '$F1' '$T/daemon.log' | grep -q 'completed in .* products, calibrated)' &&
	! grep '$F3' '$T/daemon.log' | grep -q 'completed in .*calibrated\|completed in .*bandpass'"
check "show F1 --json: calibrated true, calibration full" \
	sh -c "$CTL show '$F1' --json | tr -d ' \n' | grep -q '\"calibrated\":true,\"calibration\":\"full\"'"
check "show F2 --json: calibrated false, calibration bandpass-only" \
	sh -c "$CTL show '$F2' --json | tr -d ' \n' | grep -q '\"calibrated\":false,\"calibration\":\"bandpass-only\"'"
check "show F3 --json: calibrated false, calibration none" \
	sh -c "$CTL show '$F3' --json | tr -d ' \n' | grep -q '\"calibrated\":false,\"calibration\":\"none\"'"
check "show F2 (text): calibrated: bandpass-only" sh -c "$CTL show '$F2' | grep -qx 'calibrated: bandpass-only'"
check "show F1 (text): calibrated: yes" sh -c "$CTL show '$F1' | grep -qx 'calibrated: yes'"
check "show F3 (text): calibrated: no" sh -c "$CTL show '$F3' | grep -qx 'calibrated: no'"
$CTL groups --json >"$T/groups.json" 2>&1
check "groups --json says the same (full, bandpass-only, none)" python3 -c '
import json, sys
g = {x["group_id"]: (x["calibrated"], x["calibration"]) for x in json.load(open(sys.argv[1]))}
sys.exit(not (g[sys.argv[2]] == (True, "full") and g[sys.argv[3]] == (False, "bandpass-only")
	      and g[sys.argv[4]] == (False, "none")))' "$T/groups.json" "$F1" "$F2" "$F3"

# --- photometry rows ---
check "F1 measured its five sources, calibrated = 1" \
	is "SELECT count(*) FROM photometry p JOIN groups g ON g.id = p.group_id
		WHERE g.name = '$F1' AND p.calibrated = 1 AND p.source GLOB 'A*'" 5
check "F2 measured its five sources, calibrated = 2" \
	is "SELECT count(*) FROM photometry p JOIN groups g ON g.id = p.group_id
		WHERE g.name = '$F2' AND p.calibrated = 2 AND p.source GLOB 'B*'" 5
check "F3 measured its five sources, calibrated = 0" \
	is "SELECT count(*) FROM photometry p JOIN groups g ON g.id = p.group_id
		WHERE g.name = '$F3' AND p.calibrated = 0 AND p.source GLOB 'B*'" 5
check "only F1's rows are in the variability statistics" \
	is "SELECT group_concat(g.name || ':' || p.in_variability, ' ') FROM (SELECT DISTINCT
		group_id, in_variability FROM photometry WHERE source GLOB '[AB]*') p
		JOIN groups g ON g.id = p.group_id ORDER BY g.name" \
	"$F1:1 $F2:0 $F3:0"
check "variability_stats: A0-A4 with n = 1, no B source" \
	is "SELECT group_concat(source || '=' || n, ' ') FROM (SELECT source, n FROM variability_stats
		WHERE source GLOB '[AB]*' ORDER BY source)" "A0=1 A1=1 A2=1 A3=1 A4=1"
check "reference baselines: A references only (bandpass-only and none shape no baseline)" \
	is "SELECT count(*) FROM reference_sources WHERE source GLOB 'B*' AND nbase > 0" 0
check "reference baselines: the A references have one epoch" \
	is "SELECT count(*) FROM reference_sources WHERE source GLOB 'A*' AND nbase = 1" 3
check "no B source is an ESE candidate" is "SELECT count(*) FROM ese_candidates WHERE source GLOB 'B*'" 0

# lightcurve B0: two points, F2 (bandpass-only) then F3 (none)
$CTL lightcurve B0 --json >"$T/b0.json" 2>"$T/b0.err"
$CTL lightcurve B0 --csv >"$T/b0.csv" 2>>"$T/b0.err"
$CTL lightcurve A0 --json >"$T/a0.json" 2>>"$T/b0.err"
# pt FILE K KEY: KEY of point K (0-based) of a lightcurve JSON
pt() {
	python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["points"][int(sys.argv[2])]
v = p.get(sys.argv[3], "(absent)")
print("null" if v is None else ("true" if v is True else ("false" if v is False else v)))' "$@"
}
check "lightcurve B0 --json has two points" \
	python3 -c 'import json, sys; sys.exit(len(json.load(open(sys.argv[1]))["points"]) != 2)' "$T/b0.json"
check "B0 in F2 (bandpass-only): flux_jy null" test "$(pt "$T/b0.json" 0 flux_jy)" = null
check "B0 in F2: flux_raw a positive number" \
	awk -v x="$(pt "$T/b0.json" 0 flux_raw)" 'BEGIN { exit !(x + 0 > 0.1) }'
check "B0 in F2: flux_unit uncal" test "$(pt "$T/b0.json" 0 flux_unit)" = uncal
check "B0 in F2: flag bit 17 (bandpass only) set, bit 16 clear" \
	awk -v f="$(pt "$T/b0.json" 0 flags)" 'BEGIN { exit !(int(f / 131072) % 2 == 1 && int(f / 65536) % 2 == 0) }'
check "B0 in F2: not in the variability statistics" test "$(pt "$T/b0.json" 0 in_variability)" = false
check "B0 in F3 (none): flux_jy null, flux_unit uncal" \
	test "$(pt "$T/b0.json" 1 flux_jy) $(pt "$T/b0.json" 1 flux_unit)" = "null uncal"
check "B0 in F3: flag bit 16 (not calibrated) set, bit 17 clear" \
	awk -v f="$(pt "$T/b0.json" 1 flags)" 'BEGIN { exit !(int(f / 65536) % 2 == 1 && int(f / 131072) % 2 == 0) }'
check "A0 in F1 (full): flux_jy a number in Jy, bits 16 and 17 clear, in the statistics" \
	sh -c "x=\$(python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))[\"points\"][0]
f = p[\"flux_jy\"]; print(isinstance(f, float) and f > 0.5 and p[\"flux_unit\"] == \"Jy\" and
 (p[\"flags\"] >> 16) & 3 == 0 and p[\"in_variability\"] is True)' '$T/a0.json'); test \"\$x\" = True"
# CSV: mjd,flux_jy,flux_err_jy,normalized_flux_jy,normalized_flux_err_jy,correction,flags,flux_raw,flux_unit,quality
check "lightcurve B0 --csv: empty flux_jy, flux_raw and unit uncal in both rows" \
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ n++; if ($c["flux_jy"] != "" || $c["flux_raw"] == "" || $c["flux_unit"] != "uncal") bad++ }
		END { exit !(n == 2 && !bad && c["flux_jy"] && c["flux_raw"]) }' "$T/b0.csv"

# --- F0: field A a sidereal day before F1, bandpass only, after F1 ---
drop f0
wait_for 60 is "SELECT state FROM groups WHERE name = '$F0'" completed
check "F0 (F1 - 1 sidereal day) completed with calibrated = 2 (bandpass-only)" \
	test "$(state "$F0")" = "completed 2"
$CTL lightcurve A0 --json >"$T/a0b.json" 2>>"$T/b0.err"
python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["points"][0]
print("# A0 in bandpass-only F0: raw %.4f, correction %s (raw / baseline of full F1), flags %d" % (p["flux_raw"], p["correction"], p["flags"]))' \
	"$T/a0b.json" >&2
check "A0 in F0 (first point): flux_jy null, unit uncal, bit 17, normalised by F1's baseline, not counted" \
	sh -c "x=\$(python3 -c 'import json, sys; pts = json.load(open(sys.argv[1]))[\"points\"]; p = pts[0]
print(len(pts) == 2 and p[\"flux_jy\"] is None and p[\"flux_unit\"] == \"uncal\" and
 (p[\"flags\"] >> 16) & 3 == 2 and isinstance(p[\"normalized_flux_jy\"], float) and
 p[\"in_variability\"] is False and pts[1][\"in_variability\"] is True)' '$T/a0b.json'); test \"\$x\" = True"
check "variability_stats: A0-A4 still n = 1" \
	is "SELECT group_concat(source || '=' || n, ' ') FROM (SELECT source, n FROM variability_stats
		WHERE source GLOB 'A*' ORDER BY source)" "A0=1 A1=1 A2=1 A3=1 A4=1"
check "reference baselines: the A references still have F1's epoch only" \
	is "SELECT count(*) FROM reference_sources WHERE source GLOB 'A*' AND nbase = 1" 3

# --- what the FITS header says ---
# hdr_cards FITS: the primary header, one 80-character card a line, then the
# HISTORY text joined in one line (CFITSIO continues a long path on the next card).
hdr_cards() {
	head -c 57600 "$1" | fold -w 80 | sed '/^END *$/q' >"$T/.cards"
	cat "$T/.cards"
	printf 'HISTTEXT '; sed -n 's/^HISTORY //p' "$T/.cards" | sed 's/ *$//' | tr -d '\n'; echo
}
img() { q "SELECT i.path FROM images i JOIN groups g ON g.id = i.group_id
	WHERE g.name = '$1' AND i.pbcor = 1 ORDER BY i.id DESC LIMIT 1"; }
for g in "$F1" "$F2" "$F3"; do hdr_cards "$(img "$g")" >"$T/hdr.$g"; done
check "F1's image: CALIB = T, CALSTATE 'full', B and G tables in HISTORY" sh -c "
	grep -q '^CALIB   = *T' '$T/hdr.$F1' && grep -q \"^CALSTATE= 'full\" '$T/hdr.$F1' &&
	grep -q '^HISTTEXT.*contimg caltable [^ ]*${C1}_0834+555_B.h5contimg caltable [^ ]*${C1}_0834+555_G.h5contimg calibration full' '$T/hdr.$F1'"
check "F2's image: CALIB = F, CALSTATE 'bandpass-only', only a B table in HISTORY" sh -c "
	grep -q '^CALIB   = *F' '$T/hdr.$F2' && grep -q \"^CALSTATE= 'bandpass-only\" '$T/hdr.$F2' &&
	grep -q '^HISTTEXT.*contimg caltable [^ ]*${C1}_0834+555_B.h5contimg calibration bandpass-only\$' '$T/hdr.$F2' &&
	! grep -q '^HISTTEXT.*_G.h5' '$T/hdr.$F2'"
check "F3's image: CALIB = F, CALSTATE 'none', no table" sh -c "
	grep -q '^CALIB   = *F' '$T/hdr.$F3' && grep -q \"^CALSTATE= 'none\" '$T/hdr.$F3' &&
	grep -q '^HISTTEXT.*contimg caltable none appliedcontimg calibration none\$' '$T/hdr.$F3'"

# --- a new calibrator inside F2's gain window ---
runs2=$(q "SELECT runs FROM groups WHERE name = '$F2'")
drop c2
wait_for 60 is "SELECT state FROM groups WHERE name = '$C2'" completed
check "C2 completed, fully calibrated, registered B and G" sh -c "
	test \"\$(sqlite3 '$DB' \"SELECT state || calibrated FROM groups WHERE name = '$C2'\")\" = completed1 &&
	test \"\$(sqlite3 '$DB' \"SELECT count(*) FROM caltables WHERE source_group = '$C2' AND status = 'active'\")\" = 2"
sleep 1
check "C2's arrival alone does not re-run F2 (still bandpass-only, runs $runs2)" \
	test "$(q "SELECT state || ' ' || calibrated || ' ' || runs FROM groups WHERE name = '$F2'")" = \
	"completed 2 $runs2"
check "requeue F2" $CTL requeue "$F2" --reason "calibrator $C2 arrived"
wait_for 60 is "SELECT state = 'completed' AND runs > $runs2 FROM groups WHERE name = '$F2'" 1
check "F2 re-ran and is now full (calibrated = 1)" test "$(state "$F2")" = "completed 1"
check "show F2 --json: calibrated true, calibration full" \
	sh -c "$CTL show '$F2' --json | tr -d ' \n' | grep -q '\"calibrated\":true,\"calibration\":\"full\"'"
hdr_cards "$(img "$F2")" >"$T/hdr2.$F2"
check "F2's new image: CALIB = T, CALSTATE 'full', C2's B and G tables (the nearest valid)" sh -c "
	grep -q '^CALIB   = *T' '$T/hdr2.$F2' && grep -q \"^CALSTATE= 'full\" '$T/hdr2.$F2' &&
	grep -q '^HISTTEXT.*contimg caltable [^ ]*${C2}_0957+553_B.h5contimg caltable [^ ]*${C2}_0957+553_G.h5contimg calibration full\$' '$T/hdr2.$F2'"
$CTL lightcurve B0 --json >"$T/b0b.json" 2>"$T/b0.err"
check "B0 in F2 now: flux_jy a number, unit Jy, bit 17 clear, in the statistics" \
	sh -c "x=\$(python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))[\"points\"][0]
f = p[\"flux_jy\"]; print(isinstance(f, float) and f > 0.5 and p[\"flux_unit\"] == \"Jy\" and
 (p[\"flags\"] >> 16) & 3 == 0 and p[\"in_variability\"] is True)' '$T/b0b.json'); test \"\$x\" = True"
check "F3 is still none" test "$(state "$F3")" = "completed 0"
check "variability_stats: B0-B4 now with n = 1 (F2 only; F3 still out)" \
	is "SELECT group_concat(source || '=' || n, ' ') FROM (SELECT source, n FROM variability_stats
		WHERE source GLOB 'B*' ORDER BY source)" "B0=1 B1=1 B2=1 B3=1 B4=1"
check "reference baselines: the B references now have F2's epoch" \
	is "SELECT count(*) FROM reference_sources WHERE source GLOB 'B*' AND nbase = 1" 3
stop_daemon
check "the daemon stopped cleanly ($DRC)" test "$DRC" = 0

# --- the same through contimgctl process: F4, 3 h after C1, 1.6 h after C2 ---
$CTL process "$T/sim/f4" --json >"$T/f4.json" 2>"$T/f4.err"
check "process F4 --json: completed, calibrated false, calibration bandpass-only" python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(not (o["state"] == "completed" and o["calibrated"] is False
	      and o["calibration"] == "bandpass-only"))' "$T/f4.json"
check "process F4: the log says bandpass only" grep -q "bandpass only: no gain table is valid" "$T/f4.err"
check "F4's rows: C0-C4 with calibrated = 2, none in the statistics" \
	is "SELECT count(*) || ' ' || sum(p.calibrated = 2) || ' ' || sum(p.in_variability)
		FROM photometry p JOIN groups g ON g.id = p.group_id WHERE g.name = '$F4'" "5 5 0"
echo "# $(( $(date +%s) - t_start )) s in all" >&2
