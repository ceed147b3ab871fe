#!/bin/sh
# tests/integration/test_ese_series.sh — a daily series of simulated groups
# through the daemon (issue 17): NEP (60) sidereal days of the 0834+555 field
# (contimg-sim --stream; the calibrator transits in every group, so every group
# solves and applies its own bandpass and gains), 6 references of 1 Jy, five
# stable sources, and three variable ones injected with contimg-sim --vary:
#   ESE1   a 30 % Gaussian dip (σ 5 days) centred on day 35;
#   FLARE  a 60 % brightening (σ 1.5 days) on day 25;
#   DROP   a 90 % drop for one epoch on day 45.
# Asserts: no epoch is left out of the statistics (the first ones, provisional
# while the baselines filled, were re-run and counted); the ESE becomes a
# candidate and the flare and the dropout do not; no stable source does;
# requeueing one middle epoch (`contimgctl requeue` + the daemon) leaves every
# photometry table as it was (sqlite3 dumps, sorted, without the volatile
# columns: variability_stats.updated_at, ese_candidates.created_at/updated_at,
# reference_sources.updated_at).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/daemon_common.inc"
SIM=$BIN/contimg-sim
STATIONS=$DATA/dsa110/DSA110_Station_Coordinates.csv
NEP=${CONTIMG_ESE_SERIES_EPOCHS:-60}
CAL_RA=128.72876715
CAL_DEC=55.57251971
mkdir -p "$T/in" "$T/state" "$T/prod" "$T/sim"
cat >"$CONF" <<CONF
[paths]
ingest_dir = $T/in
state_dir = $T/state
products_dir = $T/prod
[ingest]
collect_timeout_s = 120
poll_interval_s = 0.3
retry_delay_s = 1
rescan_interval_s = 0
settle_s = 0.5
[pipeline]
# one thread: the image of a re-run must be bit for bit the first run's (with
# two, the order of floating-point sums in the imager varies and the re-run's
# raw fluxes differ from the first run's in the 6th digit)
threads = 1
[image]
quicklook = true
size = 512
cell_arcsec = 6
CONF

# The sky: references R0-R5 (1 Jy) on a ring of 0.15°, the stable sources
# S0-S4 and the variable ones (0.4 Jy) on a ring of 0.28°, all flat-spectrum.
awk -v ra="$CAL_RA" -v dec="$CAL_DEC" 'BEGIN {
	print "name,ra_deg,dec_deg,flux_mjy,spectral_index"; pi = atan2(0, -1)
	split("S0 S1 S2 S3 S4 ESE1 FLARE DROP", nm, " ")
	for (j = 0; j < 6; j++) {
		a = (60 * j + 10) * pi / 180; d = dec + 0.15 * cos(a)
		printf "R%d,%.6f,%.6f,1000,0\n", j, ra + 0.15 * sin(a) / cos(d * pi / 180), d
	}
	for (j = 1; j <= 8; j++) {
		a = (45 * j + 20) * pi / 180; d = dec + 0.28 * cos(a)
		printf "%s,%.6f,%.6f,400,0\n", nm[j], ra + 0.28 * sin(a) / cos(d * pi / 180), d
	}
}' >"$T/sky.csv"

# Day 0 is MJD 61100 (2026-03-01); groups transit near 05:50 UTC.
if ! "$SIM" --out "$T/sim" --stations "$STATIONS" --nants 24 --nchan-per-subband 2 --ntimes 6 \
	--sky "$T/sky.csv" --calibrator "0834+555,$CAL_RA,$CAL_DEC,8.8" --random 0 --seed 17 \
	--stream "$NEP" --step 86164.0905 --interval 0 --jitter 0 \
	--vary ESE1,0.3,61135.25,5 --vary FLARE,-0.6,61125.25,1.5 --vary DROP,0.9,61145.25,0.25 \
	--quiet 2>"$T/sim.err"; then
	fail "contimg-sim --stream $NEP"
	cat "$T/sim.err" >&2
	exit 0
fi
check "contimg-sim wrote $NEP groups" test "$(ls "$T"/sim/*_sb00.hdf5 | wc -l)" -eq "$NEP"
check "import the calibrator list" $CTL catalog import --vla "$DATA/catalogs/vlacalibrators.txt"
check "import the field's catalog" $CTL catalog import --csv "$T/sky.csv"
mv "$T"/sim/*.hdf5 "$T/in/"
start_daemon
t0=$(date +%s)
wait_for 900 is "SELECT count(*) FROM groups WHERE state IN ('completed', 'failed')" "$NEP"
echo "# $NEP groups through the daemon in $(( $(date +%s) - t0 )) s" >&2
check "all $NEP groups completed" is "SELECT count(*) FROM groups WHERE state = 'completed'" "$NEP"
check "every group fully calibrated" is "SELECT count(*) FROM groups WHERE calibrated = 1" "$NEP"
g1=$(q "SELECT name FROM groups ORDER BY t_first LIMIT 1")
$CTL show "$g1" --json >"$T/show.json" 2>&1
check "contimgctl show: calibrated true, calibration full" \
	sh -c "tr -d ' \n' <'$T/show.json' | grep -q '\"calibrated\":true,\"calibration\":\"full\"'"

# --- item 4: every good epoch counts ---
nbad=$(q "SELECT count(*) FROM epoch_quality WHERE (flags & 63) != 0")
nin=$(q "SELECT n FROM variability_stats WHERE source = 'S0'")
echo "# S0: $nin epochs in the statistics of $NEP ($nbad failed quality)" >&2
check "S0 has every good epoch in its statistics ($nin = $NEP - $nbad)" test "$nin" = "$((NEP - nbad))"
q "SELECT g.name, p.norm_flags, p.calibrated, p.correction, e.flags FROM photometry p
	JOIN groups g ON g.id = p.group_id LEFT JOIN epoch_quality e ON e.group_id = p.group_id
	WHERE p.source = 'S0' AND p.in_variability = 0" | sed 's/^/# S0 not counted: /' >&2
q "SELECT name FROM groups ORDER BY finished_at LIMIT 12" | tr '\n' ' ' | sed 's/^/# first processed: /' >&2
echo >&2
check "no provisional epoch is left" is "SELECT count(*) FROM photometry WHERE (norm_flags & 2) != 0" 0
q "SELECT source, n, printf('%.4f', chi2_nu), printf('%.4f', v), printf('%.3f', ese_score)
	FROM variability_stats ORDER BY source" | sed 's/^/# stats: /' >&2
sd=$(q "SELECT printf('%.2f', 100 * std / mean) FROM variability_stats WHERE source LIKE 'S_'" | sort -g | tail -1)
echo "# stable sources' normalised scatter: worst $sd %" >&2

# --- the ESE is a candidate, the flare and the dropout are not ---
q "SELECT source, printf('%.3f', score), n, printf('%.1f', timescale_days) FROM ese_candidates" |
	sed 's/^/# candidate: /' >&2
check "ESE1 is a candidate" is "SELECT count(*) FROM ese_candidates WHERE source = 'ESE1' AND score >= 0.6" 1
check "FLARE is not a candidate" is "SELECT count(*) FROM ese_candidates WHERE source = 'FLARE' AND score >= 0.6" 0
check "DROP is not a candidate" is "SELECT count(*) FROM ese_candidates WHERE source = 'DROP' AND score >= 0.6" 0
check "no stable source or reference is a candidate" \
	is "SELECT count(*) FROM ese_candidates WHERE source GLOB 'S*' OR source GLOB 'R*'" 0
# --- alerts: the ESE alerts once (per kind: under way, then as a candidate),
# the flare, the dropout and the stable sources never ---
q "SELECT source, kind, printf('%.3f', score), printf('%.2f', mjd), coalesce(cites, '-') FROM alerts" |
	sed 's/^/# alert: /' >&2
check "ESE1 alerted as a candidate exactly once" \
	is "SELECT count(*) FROM alerts WHERE source = 'ESE1' AND kind = 'candidate'" 1
check "ESE1 alerted at most once while under way" \
	is "SELECT count(*) <= 1 FROM alerts WHERE source = 'ESE1' AND kind = 'ongoing'" 1
check "no alert for any other source" is "SELECT count(*) FROM alerts WHERE source != 'ESE1'" 0
check "one VOEvent file per alert, each well-formed" sh -c \
	"[ \$(ls '$T/prod/alerts'/*.xml | wc -l) = \$(sqlite3 '$DB' 'SELECT count(*) FROM alerts') ] && xmllint --noout '$T/prod/alerts'/*.xml"

# --- item 6: re-running one epoch leaves every table as it was ---
dump() {
	q "SELECT g.name, p.source, p.mjd, p.ra_deg, p.dec_deg, p.flux_jy, p.flux_err_jy,
		p.normalized_flux_jy, p.normalized_flux_err_jy, p.correction, p.correction_err,
		p.local_rms_jy, p.pb, p.chi2, p.npix, p.forced_flags, p.norm_flags, p.calibrated,
		p.in_variability FROM photometry p JOIN groups g ON g.id = p.group_id"
	q "SELECT source, n, mean, std, min, max, wmean, chi2_nu, eta, v, sigma_deviation, vs, m,
		first_mjd, last_mjd, ese_score, hex(state) FROM variability_stats"
	q "SELECT source, score, status, note, decided_at, n, chi2_nu, eta, v, amplitude,
		timescale_days, asymmetry, f0, t0_mjd, t_days, alpha, src_size FROM ese_candidates"
	q "SELECT source, snr, nbase, hex(base_flux), baseline, retired, retired_mjd,
		retire_chi2_nu FROM reference_sources"
	q "SELECT g.name, e.mjd, e.noise_jy, e.noise_ratio, e.dynamic_range, e.correction,
		e.correction_z, e.clipped_frac, e.flagged_frac, e.nref, e.flags
		FROM epoch_quality e JOIN groups g ON g.id = e.group_id"
	# alerts: created_at/sent_at are times of emission, not content
	q "SELECT ivorn, source, kind, event_start_mjd, event_end_mjd, t0_mjd, mjd, score, depth,
		duration_days, ongoing, flux_jy, best_alt, cites, path FROM alerts"
}
dump | sort >"$T/before.txt"
mid=$(q "SELECT name FROM groups ORDER BY t_first LIMIT 1 OFFSET $((NEP / 2))")
runs0=$(q "SELECT runs FROM groups WHERE name = '$mid'")
check "requeue the middle epoch $mid" $CTL requeue "$mid"
check "the middle epoch ran again and completed" \
	wait_for 240 is "SELECT state = 'completed' AND runs > $runs0 FROM groups WHERE name = '$mid'" 1
dump | sort >"$T/after.txt"
check "the dumps hold rows ($(wc -l <"$T/before.txt"))" test "$(wc -l <"$T/before.txt")" -gt "$((NEP * 14))"
check "every photometry table (and the alerts) is as it was after the re-run" cmp "$T/before.txt" "$T/after.txt"
check "the re-run emitted no alert file" sh -c "[ \$(ls '$T/prod/alerts'/*.xml | wc -l) = \$(sqlite3 '$DB' 'SELECT count(*) FROM alerts') ]"
# What differs: the first differing rows, column by column.
/usr/bin/python3 - "$T/before.txt" "$T/after.txt" <<'PYEOF' | sed 's/^/# diff: /' >&2
import sys
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
print("%d rows before, %d after" % (len(a), len(b)))
shown = 0
for x, y in zip(a, b):
    if x != y and shown < 4:
        xs, ys = x.split("|"), y.split("|")
        print("row: " + "|".join(xs[:2]))
        for i, (u, v) in enumerate(zip(xs, ys)):
            if u != v:
                print("  column %d: %s -> %s" % (i, u, v))
        shown += 1
PYEOF
stop_daemon
check "the daemon stopped cleanly ($DRC)" test "$DRC" = 0
