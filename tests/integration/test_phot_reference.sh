#!/bin/sh
# Forced photometry of the reference field against its truth fluxes:
# `contimgctl process` the calibrator group (solutions) and the field group
# one hour later (quick-look images), then compare the photometry rows of the
# field's sources with the truth (catalog.csv flux and spectral index): the
# deviations must match the quoted errors, and the bright sources' median
# measured/truth must lie in 0.90–1.05 (the reference imager measured 0.976
# ± 5 %, shared/data/README.md).
. "$(dirname "$0")/lib.sh"
need_reference "forced photometry of the reference field"
CTL="$BIN/contimgctl --config $T/contimg.conf"
REF=$DATA/reference
mkdir -p "$T/state" "$T/products" "$T/in"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in
[pipeline]
threads = 2
[image]
quicklook = true
size = 1024
cell_arcsec = 6
CONF
check "import the reference catalog" $CTL catalog import --csv "$REF/catalog.csv"
check "import the calibrator list" $CTL catalog import --vla "$LOCAL/catalogs/vlacalibrators.txt"
check "process the calibrator group" $CTL process "$REF/cal-0834"
check "process the field group" $CTL process "$REF/field-0834-plus1h"
DB=$T/state/contimg.sqlite
sqlite3 -separator , "$DB" "SELECT p.source, p.flux_jy, p.flux_err_jy, p.pb, p.forced_flags, p.calibrated
	FROM photometry p JOIN groups g ON g.id = p.group_id
	WHERE g.name = '2026-03-01T06:50:09' AND (p.forced_flags & 211) = 0" >"$T/phot.csv" 2>"$T/sql.err"
check "the field group has photometry rows" test -s "$T/phot.csv"
check "the field group was calibrated" awk -F, '$6 != 1 { bad = 1 } END { exit bad || NR == 0 }' "$T/phot.csv"
# truth at the band centre (1.405 GHz) from catalog.csv, for sources with
# pb > 0.3 (rows with a FORCED_BAD flag, 0xd3, were not selected):
# "name ratio z snr" with z = (measured - truth) / error
awk -F, 'NR == FNR { if (FNR > 1) { f[$1] = $4 / 1e3; a[$1] = $5 } next }
	($1 in f) && $3 > 0 && $4 > 0.3 {
		t = f[$1] * exp(a[$1] * log(1.405 / 1.4)); print $1, $2 / t, ($2 - t) / $3, $2 / $3 }' \
	"$REF/catalog.csv" "$T/phot.csv" >"$T/cmp.txt"
n=$(awk '$4 > 3' "$T/cmp.txt" | wc -l)
rmsz=$(awk '$4 > 3 { s += $3 * $3; n++ } END { if (n) printf "%.3f", sqrt(s / n) }' "$T/cmp.txt")
awk '$4 > 20 { print $2 }' "$T/cmp.txt" | sort -g >"$T/ratio.txt"
nb=$(wc -l <"$T/ratio.txt")
med=$(awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }' "$T/ratio.txt")
echo "# reference field: $n sources above 3 sigma, rms of (measured - truth)/error $rmsz;" \
	"$nb above 20 sigma, median measured/truth $med" >&2
check "at least 8 field sources measured above 3 sigma ($n)" test "$n" -ge 8
check "errors consistent with the truth: rms z $rmsz < 1.6" awk -v z="$rmsz" 'BEGIN { exit !(z != "" && z < 1.6) }'
check "at least 2 sources above 20 sigma ($nb)" test "$nb" -ge 2
check "median measured/truth above 20 sigma in 0.90-1.05 ($med)" \
	awk -v m="$med" 'BEGIN { exit !(m != "" && m >= 0.90 && m <= 1.05) }'
