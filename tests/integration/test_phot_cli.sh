#!/bin/sh
# contimgctl variability / lightcurve / candidates / candidate on a scratch
# state database (rows written with the sqlite3 shell, as the photometry stage
# would write them).
. "$(dirname "$0")/lib.sh"
CTL="$BIN/contimgctl --config $T/contimg.conf"
mkdir -p "$T/state" "$T/products" "$T/in"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in
CONF
DB=$T/state/contimg.sqlite
rc() { "$@" >/dev/null 2>&1; echo $?; }
# value of a numeric JSON key in a flat object
jv() { tr -d ' \n' | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

# --- variability --csv: vast-tools' test_sources.csv source 729 (int fluxes) ---
cat >"$T/s729.csv" <<CSV
mjd,flux,flux_err
58722.786,114.787,0.7049352626681975
58785.569,213.979,1.0597379803463278
58786.425,214.883,0.8562328543581722
58859.236,222.104,0.9005046482535688
58860.234,219.066,1.2022050659305468
CSV
$CTL variability --csv "$T/s729.csv" --json >"$T/v.json" 2>&1
check "variability --json runs" test -s "$T/v.json"
for k in n mean std min max chi2_nu eta v sigma_deviation vs m ese_score; do
	check "variability --json has key $k" grep -q "\"$k\":" "$T/v.json"
done
check "v = 0.23382367320174888 (vast-tools)" \
	awk -v x="$(jv v <"$T/v.json")" 'BEGIN { d = x - 0.23382367320174888; exit !(d < 1e-12 && d > -1e-12) }'
check "eta = 3595.588994778409 (vast-tools)" \
	awk -v x="$(jv eta <"$T/v.json")" 'BEGIN { d = (x - 3595.588994778409) / 3595.588994778409; exit !(d < 1e-12 && d > -1e-12) }'
check "vs = 93.84061084533053 (vast-tools)" \
	awk -v x="$(jv vs <"$T/v.json")" 'BEGIN { d = (x - 93.84061084533053) / 93.84; exit !(d < 1e-12 && d > -1e-12) }'
check "ese_score is null for 5 epochs" test "$(jv ese_score <"$T/v.json")" = null
check "missing CSV is not found (1)" test "$(rc $CTL variability --csv "$T/none.csv")" = 1
printf 'mjd,flux,flux_err\n1,2\n' >"$T/bad.csv"
check "malformed CSV is bad input (2)" test "$(rc $CTL variability --csv "$T/bad.csv")" = 2
check "no --csv is bad usage (2)" test "$(rc $CTL variability)" = 2

# 80 daily epochs with a 30 % dip over 30 days and 1 % noise (deterministic
# LCG): flat-bottomed, raised-cosine edges and caustic shoulders, an ESE as
# Fiedler et al. 1994 saw them (a sharp box without shoulders is explained
# about as well by one cycle of a sinusoid: docs/ese.md)
awk 'BEGIN { print "mjd,flux,flux_err"; s = 12345; pi = atan2(0, -1)
	for (i = 0; i < 80; i++) {
		g = 0; for (k = 0; k < 12; k++) { s = (s * 1103515245 + 12345) % 2147483648; g += s / 2147483648 } g -= 6
		x = (i - 40) / 15; ax = x < 0 ? -x : x; f = 1
		if (ax < 0.75) f = 0.7; else if (ax < 1) f = 1 - 0.15 * (1 + cos(pi * (ax - 0.75) / 0.25))
		f += 0.12 * exp(-0.5 * ((ax - 1.1) / 0.08) ^ 2)
		printf "%d,%.6f,0.01\n", 60000 + i, f + 0.01 * g } }' >"$T/dip.csv"
$CTL variability --csv "$T/dip.csv" --json >"$T/dip.json" 2>&1
check "a 30 % dip scores >= 0.6" awk -v x="$(jv ese_score <"$T/dip.json")" 'BEGIN { exit !(x >= 0.6) }'
awk 'BEGIN { print "mjd,flux,flux_err"; s = 777
	for (i = 0; i < 80; i++) {
		g = 0; for (k = 0; k < 12; k++) { s = (s * 1103515245 + 12345) % 2147483648; g += s / 2147483648 } g -= 6
		printf "%d,%.6f,0.01\n", 60000 + i, 1 + 0.01 * g } }' >"$T/flat.csv"
$CTL variability --csv "$T/flat.csv" --json >"$T/flat.json" 2>&1
check "a constant source scores 0" awk -v x="$(jv ese_score <"$T/flat.json")" 'BEGIN { exit !(x != "" && x + 0 == 0) }'

# --- the state database and a light curve as the stage writes it ---
check "create the state database" $CTL ingest "$T/in"
{
	echo "BEGIN;"
	i=0
	while [ $i -lt 30 ]; do
		d=$(printf '%02d' $((i + 1)))
		f=$(awk -v i=$i 'BEGIN { f = 0.5; if (i >= 12 && i < 20) f = 0.4; printf "%.4f", f }')
		nf=NULL; ne=NULL; c=NULL; nflag=1; inv=0
		if [ $i -ge 2 ]; then nflag=2; c=1.0; nf=$f; ne=0.005; fi
		if [ $i -ge 9 ]; then nflag=0; inv=1; fi
		echo "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at) VALUES ('2026-03-${d}T00:00:00', $((1772323200 + 86400 * i)), 'completed', 16, 0, 0);"
		echo "INSERT INTO photometry (group_id, source, mjd, flux_jy, flux_err_jy, normalized_flux_jy, normalized_flux_err_jy, correction, local_rms_jy, forced_flags, norm_flags, calibrated, in_variability) VALUES (last_insert_rowid(), 'J0834+5512', $((61100 + i)).5, $f, 0.005, $nf, $ne, $c, 0.004, 0, $nflag, 1, $inv);"
		i=$((i + 1))
	done
	echo "INSERT INTO ese_candidates (source, score, n, chi2_nu, eta, v, amplitude, timescale_days, asymmetry, f0, t0_mjd, t_days, alpha, src_size, created_at, updated_at) VALUES ('J0834+5512', 0.87, 21, 25.0, 25.0, 0.09, 0.2, 16.0, 0.05, 0.5, 61115.5, 8.0, 0.25, 0.1, 0, 0);"
	echo "INSERT INTO ese_candidates (source, score, n, chi2_nu, eta, v, amplitude, timescale_days, created_at, updated_at) VALUES ('J0900+5500', 0.65, 40, 4.0, 4.0, 0.06, 0.12, 30.0, 0, 0);"
	echo "COMMIT;"
} | sqlite3 "$DB"

$CTL lightcurve J0834+5512 --json >"$T/lc.json" 2>&1
check "lightcurve --json has 30 points" test "$(grep -c '"mjd":' "$T/lc.json")" = 30
for k in source points mjd flux_jy flux_err_jy normalized_flux_jy normalized_flux_err_jy correction flags; do
	check "lightcurve --json has key $k" grep -q "\"$k\":" "$T/lc.json"
done
check "un-normalised epochs have null normalised flux" grep -q '"normalized_flux_jy": null' "$T/lc.json"
check "lightcurve --csv: header and 30 rows" \
	sh -c "$CTL lightcurve J0834+5512 --csv | awk 'NR == 1 && /^mjd,flux_jy,flux_err_jy,normalized_flux_jy/ { h = 1 } END { exit !(h && NR == 31) }'"
check "lightcurve --svg writes a plot" $CTL lightcurve J0834+5512 --svg "$T/lc.svg"
check "the SVG is an SVG document" sh -c "head -2 '$T/lc.svg' | grep -q '<svg'"
check "the SVG is well-formed (xmllint)" xmllint --noout "$T/lc.svg"
# cairo writes each point as one path filled with the point colour (plot/lcplot.h)
PT='fill:rgb(12.156863%,23.137255%,45.098039%)'
check "the SVG has the 28 normalised points" test "$(grep -c "$PT" "$T/lc.svg")" = 28
check "the SVG shades the baseline period" grep -q 'fill:rgb(86.7%,91%,96.5%)' "$T/lc.svg"
check "the SVG overlays the ESE model" grep -q 'stroke:rgb(81.6%,25.1%,16.9%)' "$T/lc.svg"
check "lightcurve --png writes a PNG" sh -c "$CTL lightcurve J0834+5512 --png '$T/lc.png' >/dev/null &&
	head -c 8 '$T/lc.png' | od -An -tx1 | tr -d ' \n' | grep -qx 89504e470d0a1a0a"
# a source measured only while the references' baselines were being built: raw
# fluxes only, plotted as such (issue 18: this failed "no finite point to plot")
echo "INSERT INTO photometry (group_id, source, mjd, flux_jy, flux_err_jy, forced_flags, norm_flags, calibrated, in_variability) SELECT id, 'J0900+5500', 61100.5 + id, 0.2, 0.004, 0, 1, 1, 0 FROM groups WHERE id <= 3;" | sqlite3 "$DB"
check "lightcurve --svg of raw fluxes only" sh -c "$CTL lightcurve J0900+5500 --svg '$T/raw.svg' | grep -q 'raw fluxes'"
check "the raw SVG has the 3 points" test "$(grep -c "$PT" "$T/raw.svg")" = 3
check "unknown source is not found (1)" test "$(rc $CTL lightcurve NOPE --json)" = 1

$CTL candidates --json >"$T/c.json" 2>&1
for k in source score status n chi2_nu eta v amplitude timescale_days; do
	check "candidates --json has key $k" grep -q "\"$k\":" "$T/c.json"
done
check "candidates are ranked by score" \
	sh -c "grep '\"source\"' '$T/c.json' | head -1 | grep -q J0834+5512"
check "candidate --dismissed records the decision" \
	$CTL candidate J0834+5512 --dismissed --note "sidelobe of 0834+555"
check "the decision is listed" \
	sh -c "$CTL candidates --json | tr -d ' \n' | grep -q '\"source\":\"J0834+5512\",\"score\":0.87,\"status\":\"dismissed\"'"
check "the note is listed" sh -c "$CTL candidates --json | grep -q 'sidelobe of 0834+555'"
check "candidate --investigated" $CTL candidate J0900+5500 --investigated
check "unknown candidate is not found (1)" test "$(rc $CTL candidate NOPE --dismissed)" = 1
check "candidate without a decision is bad usage (2)" test "$(rc $CTL candidate J0900+5500)" = 2

# --- issue 17: a bandpass-only epoch and a failed-quality epoch in a light curve ---
{
	echo "BEGIN;"
	for i in 0 1 2 3; do
		cal=1; nflag=0; inv=1
		[ $i = 1 ] && { cal=2; inv=0; }
		[ $i = 2 ] && { nflag=4; inv=0; }
		echo "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at) VALUES ('2026-05-0${i}T00:00:00', $((1777593600 + 86400 * i)), 'completed', 16, 0, 0);"
		echo "INSERT INTO photometry (group_id, source, mjd, flux_jy, flux_err_jy, normalized_flux_jy, normalized_flux_err_jy, correction, local_rms_jy, forced_flags, norm_flags, calibrated, in_variability) VALUES (last_insert_rowid(), 'J0840+5500', $((61161 + i)).5, 0.25, 0.005, 0.25, 0.005, 1.0, 0.004, 0, $nflag, $cal, $inv);"
	done
	echo "COMMIT;"
} | sqlite3 "$DB"
$CTL lightcurve J0840+5500 --json >"$T/q.json" 2>&1
tr -d ' \n' <"$T/q.json" | sed 's/},{/}\n{/g' >"$T/q.lines"
check "bandpass-only epoch: flux_jy null, flux_raw 0.25, flux_unit uncal, flag bit 17" \
	sh -c "sed -n 2p '$T/q.lines' | grep '\"flux_jy\":null' | grep '\"flux_raw\":0.25' | grep '\"flux_unit\":\"uncal\"' | grep -q '\"flags\":131072'"
check "calibrated epoch: flux_jy 0.25 in Jy, quality good" \
	sh -c "sed -n 1p '$T/q.lines' | grep '\"flux_jy\":0.25' | grep '\"flux_unit\":\"Jy\"' | grep -q '\"quality\":\"good\"'"
check "failed epoch: quality bad, flag bits 10 and 18" \
	sh -c "sed -n 3p '$T/q.lines' | grep '\"quality\":\"bad\"' | grep -q '\"flags\":263168'"
check "lightcurve --csv: flux_raw,flux_unit,quality columns" \
	sh -c "$CTL lightcurve J0840+5500 --csv | awk -F, 'NR == 1 { h = \$8 \$9 \$10 == \"flux_rawflux_unitquality\" } NR == 3 { b = \$2 == \"\" && \$9 == \"uncal\" } NR == 4 { q = \$10 == \"bad\" } END { exit !(h && b && q) }'"
check "lightcurve --svg marks the failed epoch (one open square)" sh -c "$CTL lightcurve J0840+5500 --svg '$T/q.svg' | grep -q ', 1 failed quality (open squares))' && xmllint --noout '$T/q.svg'"
