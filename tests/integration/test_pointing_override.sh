#!/bin/sh
# tests/integration/test_pointing_override.sh — dishes pointed 0.2° north of
# the declination the files name (contimg-sim --pointing-offset 0.2: a writer
# not restarted after a re-pointing).  One calibrator transit of 0834+555 with
# 24 sources of 0.4 Jy on rings 0.5, 0.9, 1.2 and 1.5° around it, processed
# twice with `contimgctl process`:
#   1. as the files say: the pointing check warns and measures the offset;
#      the pbcor fluxes are off by several per cent, north high, south low;
#   2. after `contimgctl pointing add` (the true declination from the group's
#      start): the check finds no offset, the fluxes agree with the truth,
#      `show` and the pbcor FITS name the pointing used.
# The numbers (offset, flux errors per ring before and after) are printed as
# TAP comments.
. "$(dirname "$0")/lib.sh"
SIM=$BIN/contimg-sim
STATIONS=$LOCAL/dsa110/DSA110_Station_Coordinates.csv
CAL_RA=128.72876715
CAL_DEC=55.57251971
D=$T/g
mkdir -p "$D/sim" "$D/state" "$D/products" "$D/in"
cat >"$T/c.conf" <<CONF
[paths]
state_dir = $D/state
products_dir = $D/products
ingest_dir = $D/in
[pipeline]
threads = 2
[image]
size = 2048
cell_arcsec = 6
CONF
CTL="$BIN/contimgctl --config $T/c.conf"

# The sky: 24 sources of 0.4 Jy (spectral index -0.7) on four rings around
# the calibrator, six per ring, each ring turned by 15° from the last.
awk -v ra="$CAL_RA" -v dec="$CAL_DEC" 'BEGIN {
	print "name,ra_deg,dec_deg,flux_mjy,spectral_index"
	pi = atan2(0, -1); split("0.5 0.9 1.2 1.5", r, " ")
	for (k = 1; k <= 4; k++)
		for (j = 0; j < 6; j++) {
			a = (60 * j + 15 * k) * pi / 180
			d = dec + r[k] * cos(a)
			printf "P%d_%d,%.6f,%.6f,400,-0.7\n", k, j, ra + r[k] * sin(a) / cos(d * pi / 180), d
		}
}' >"$T/sky.csv"

if ! "$SIM" --out "$D/sim" --stations "$STATIONS" --nants 32 --nchan-per-subband 6 \
	--sky "$T/sky.csv" --calibrator "0834+555,$CAL_RA,$CAL_DEC,8.8" --random 0 \
	--pointing-offset 0.2 --seed 11 --quiet; then
	fail "contimg-sim --pointing-offset"
	exit 0
fi
TRUTH=$(ls "$D"/sim/truth_*.json)
file_dec=$(sed -n 's/^ *"dec": *\([0-9.eE+-]*\).*/\1/p' "$TRUTH" | head -1)
true_dec=$(sed -n 's/^ *"pointing_dec": *\([0-9.eE+-]*\).*/\1/p' "$TRUTH" | head -1)
group=$(sed -n 's/^ *"group": *"\([^"]*\)".*/\1/p' "$TRUTH" | head -1)
check "the files name the declination, the truth the pointing 0.2 deg north" \
	awk -v a="$file_dec" -v b="$true_dec" 'BEGIN { d = b - a; exit !(d > 0.1999 && d < 0.2001) }'
check "import the calibrator list" $CTL catalog import --vla "$LOCAL/catalogs/vlacalibrators.txt"
check "import the field's catalog" $CTL catalog import --csv "$T/sky.csv"

# ratios RUN: "name ratio ddec_deg r_deg" per field source from the photometry
# rows of the last run (truth at the image frequency), and the summary.
ratios() {
	sqlite3 -separator , "$D/state/contimg.sqlite" \
		"SELECT p.source, p.flux_jy, p.ra_deg, p.dec_deg, i.freq_hz FROM photometry p
		 JOIN groups g ON g.id = p.group_id JOIN images i ON i.group_id = g.id AND i.pbcor = 1
		 WHERE g.name = '$group' AND p.source LIKE 'P%' AND (p.forced_flags & 211) = 0" |
	awk -F, -v ra0="$CAL_RA" -v dec0="$CAL_DEC" '{
		pi = atan2(0, -1); t = 0.4 * exp(-0.7 * log($5 / 1.4e9))
		dd = $4 - dec0; dr = ($3 - ra0) * cos(dec0 * pi / 180)
		printf "%s %.5f %+.3f %.3f\n", $1, $2 / t, dd, sqrt(dd * dd + dr * dr) }' >"$T/$1.ratios"
}
# stats RUN: per ring, mean |ratio - 1| (%); worst north and south errors.
stats() {
	awk '{ k = substr($1, 2, 1); e = 100 * ($2 - 1); s[k] += (e < 0 ? -e : e); n[k]++
	       if ($3 > 0.3 && e > mn) mn = e; if ($3 < -0.3 && e < ms) ms = e
	       if (e < 0) e = -e; if (e > w) w = e; all += e; na++ }
	     END { printf "mean |error| by ring 0.5/0.9/1.2/1.5 deg: %.1f/%.1f/%.1f/%.1f %%, all %.2f %%, worst %.1f %% (%d sources); most north +%.1f %%, most south %.1f %%",
	           s[1] / n[1], s[2] / n[2], s[3] / n[3], s[4] / n[4], all / na, w, na, mn, ms }' "$T/$1.ratios"
}
jfield() { # FILE KEY: the first numeric value of "KEY": in FILE
	sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -1
}

# 1. As the files say.
$CTL process "$D/sim" --json >"$T/run1.json" 2>"$T/run1.err"
check "process without an override" grep -q '"state": "completed"' "$T/run1.json"
check "... calibrated on 0834+555" grep -q '"calibrated": true' "$T/run1.json"
check "... the pointing came from the files" grep -q '"source": "file"' "$T/run1.json"
off1=$(jfield "$T/run1.json" offset_deg)
err1=$(jfield "$T/run1.json" offset_err_deg)
check "the pointing check warns" grep -q 'pointing check: the beam centre is' "$T/run1.err"
check "... with status warn in the group's record" grep -q '"status": "warn"' "$T/run1.json"
check "... and measures the 0.2 deg offset within 3 sigma ($off1 +- $err1)" \
	awk -v o="$off1" -v e="$err1" 'BEGIN { exit !(o != "" && e > 0 && e < 0.05 && (o - 0.2) ^ 2 < 9 * e * e) }'
check "... and shows it" sh -c "$CTL show '$group' | grep -q 'pointing check: WARNING'"
check "the warning is a group event" sh -c "$CTL show '$group' --json | grep -q '\"kind\": \"pointing\"'"
ratios before
echo "# without the override: check $(printf '%+.4f +- %.4f' "$off1" "$err1") deg; $(stats before)"

# 2. With the override from the group's start, open-ended.
start=$(sed -n 's/^ *"start_isot": *"\([^".]*\).*/\1/p' "$TRUTH" | head -1)
check "add the override" sh -c "$CTL pointing add --start '$start' --dec '$true_dec' --note 'test: writer not restarted' >'$T/add.out'"
check "... which names the group to requeue" grep -q "contimgctl requeue $group" "$T/add.out"
check "... and lists it" sh -c "$CTL pointing list | grep -q 'writer not restarted'"
code=0; $CTL pointing add --start "$start" --end 2099-01-01T00:00:00 --dec 1 2>"$T/overlap.err" || code=$?
check "a second, overlapping override is refused (exit 2)" test "$code" = 2
check "... naming the first" grep -q 'overlaps override 1' "$T/overlap.err"
$CTL process "$D/sim" --json >"$T/run2.json" 2>"$T/run2.err"
check "process with the override" grep -q '"state": "completed"' "$T/run2.json"
check "... the pointing came from the override" grep -q '"source": "override"' "$T/run2.json"
check "... the log names it" grep -q 'pointing: override 1' "$T/run2.err"
off2=$(jfield "$T/run2.json" offset_deg)
err2=$(jfield "$T/run2.json" offset_err_deg)
check "the check finds no offset ($off2 +- $err2) and does not warn" \
	awk -v o="$off2" -v e="$err2" 'BEGIN { exit !(o != "" && e > 0 && o * o < 9 * e * e && o * o < 0.03 * 0.03) }'
check "... status ok" grep -q '"status": "ok"' "$T/run2.json"
check "show names the override" sh -c "$CTL show '$group' | grep -q 'from override 1'"
pbcor=$(sed -n 's/.*"pbcor": "\([^"]*\)".*/\1/p' "$T/run2.json" | head -1)
check "the pbcor FITS names the pointing used" \
	sh -c "head -c 28800 '$pbcor' | grep -a -o 'PNTDEC  = *[0-9.E+-]*' | awk -v t='$true_dec' '{ exit !((\$3 - t) ^ 2 < 1e-12) }'"
ratios after
echo "# with the override: check $(printf '%+.4f +- %.4f' "$off2" "$err2") deg; $(stats after)"
check "with the override the fluxes agree with the truth (mean |error| < 1.5 %, worst < 4 %)" \
	awk '{ e = $2 - 1; if (e < 0) e = -e; s += e; n++; if (e > w) w = e } END { exit !(n >= 20 && s / n < 0.015 && w < 0.04) }' "$T/after.ratios"
check "without it the fluxes at 1.2-1.5 deg were off by more than 5 % on average" \
	awk '$4 > 1.1 { e = $2 - 1; if (e < 0) e = -e; s += e; n++ } END { exit !(n >= 10 && s / n > 0.05) }' "$T/before.ratios"

# Removing the override: unknown ids are "not found".
check "remove the override" $CTL pointing remove 1
code=0; $CTL pointing remove 1 2>/dev/null || code=$?
check "removing it again: exit 1 (not found)" test "$code" = 1

# [pointing] values out of range stop contimgctl and contimgd at start-up.
printf '[paths]\nstate_dir = %s/state\ningest_dir = %s/in\nproducts_dir = %s/products\n[pointing]\nqa_threshold_deg = -1\n' \
	"$D" "$D" "$D" >"$T/bad.conf"
code=0; $BIN/contimgctl --config "$T/bad.conf" pointing list 2>"$T/bad.err" || code=$?
check "a bad [pointing] value: contimgctl exits 2" test "$code" = 2
check "... naming the key" grep -q 'qa_threshold_deg = -1' "$T/bad.err"
code=0; timeout 20 $BIN/contimgd --config "$T/bad.conf" --foreground 2>"$T/badd.err" || code=$?
check "... and contimgd refuses to start (exit 2)" test "$code" = 2
