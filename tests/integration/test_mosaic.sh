#!/bin/sh
# contimgctl mosaic plan|build on the two reference groups (cal-0834 and
# field-0834-plus1h, one hour apart), imaged small by `contimgctl process`.
. "$(dirname "$0")/lib.sh"
need_reference "mosaic of the two reference groups"
CTL="$BIN/contimgctl --config $T/contimg.conf"
mkdir -p "$T/state" "$T/products" "$T/in"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in
[pipeline]
threads = 2
[image]
size = 512
cell_arcsec = 3
niter = 200
CONF
DB=$T/state/contimg.sqlite
rc() { "$@" >/dev/null 2>&1; echo $?; }
# value of a numeric JSON key (the first occurrence)
jv() { tr -d ' \n' | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2; }

for g in cal-0834 field-0834-plus1h; do
	check "process $g (image 512 x 3\")" $CTL process "$DATA/reference/$g"
done
CAL=2026-03-01T05:49:14
FIELD=2026-03-01T06:50:09

# --- plan ---
$CTL mosaic plan --around 2026-03-01T06:20:00 --minutes 120 --json >"$T/plan.json" 2>&1
check "plan --around 06:20 --minutes 120 lists 2 tiles" test "$(jv ntiles <"$T/plan.json")" = 2
check "plan names both groups" sh -c "grep -q '\"$CAL\"' '$T/plan.json' && grep -q '\"$FIELD\"' '$T/plan.json'"
check "plan gives the pb images" sh -c "grep -c '\.pb\.fits' '$T/plan.json' | grep -qx 2"
$CTL mosaic plan --start 2026-03-01T05:45:00 --end 2026-03-01T06:00:00 --json >"$T/p1.json"
check "plan --start/--end around the calibrator lists 1 tile" \
	sh -c "test \"\$(tr -d ' \n' <'$T/p1.json' | sed -n 's/.*\"ntiles\":\([0-9]*\).*/\1/p')\" = 1 && grep -q '\"$CAL\"' '$T/p1.json'"
$CTL mosaic plan --around 2026-03-01T06:20:00 --minutes 120 --near 143.5 55.0 --radius 1 --json >"$T/p2.json"
check "plan --near the field centre keeps only the field" \
	sh -c "grep -q '\"$FIELD\"' '$T/p2.json' && ! grep -q '\"$CAL\"' '$T/p2.json'"
check "plan text output" sh -c "$CTL mosaic plan --around 2026-03-01T06:20:00 --minutes 120 | grep -q '^2 tiles'"
check "plan of an empty window exits 0" test "$(rc $CTL mosaic plan --around 2026-03-02T00:00:00 --minutes 10)" = 0
check "--around without --minutes is bad usage (2)" \
	test "$(rc $CTL mosaic plan --around 2026-03-01T06:20:00)" = 2
check "bad time is bad usage (2)" test "$(rc $CTL mosaic plan --start yesterday --end now)" = 2
check "unknown subcommand is bad usage (2)" test "$(rc $CTL mosaic list)" = 2

# --- build ---
OUT=$T/out/m.fits
mkdir -p "$T/out"
$CTL mosaic build --around 2026-03-01T06:20:00 --minutes 120 --cell 12 --out "$OUT" --json \
	>"$T/b.json" 2>"$T/b.err"
check "build exits 0" test -s "$T/b.json"
check "build reports 2 tiles" test "$(jv ntiles <"$T/b.json")" = 2
check "build cell is 12 arcsec" test "$(jv cell_arcsec <"$T/b.json")" = 12.0
for f in "$OUT" "$T/out/m.weight.fits" "$T/out/m.noise.fits"; do
	check "fitsverify accepts $(basename "$f")" sh -c "fitsverify -q '$f' | grep -q 'verification OK'"
done
check "mosaic header: NTILES = 2, RADESYS ICRS, SIN, JY/BEAM" sh -c \
	"head -c 28800 '$OUT' | fold -w 80 | grep -aq '^NTILES  = *2 ' &&
	 head -c 28800 '$OUT' | fold -w 80 | grep -aq \"^RADESYS = 'ICRS\" &&
	 head -c 28800 '$OUT' | fold -w 80 | grep -aq \"^CTYPE1  = 'RA---SIN'\" &&
	 head -c 28800 '$OUT' | fold -w 80 | grep -aq \"^BUNIT   = 'JY/BEAM *'\" &&
	 head -c 28800 '$OUT' | fold -w 80 | grep -aq \"^TILE002 = '$FIELD'\""
check "mosaic registered in the state database" \
	test "$(sqlite3 "$DB" "SELECT ntiles || ' ' || groups FROM mosaics WHERE path = '$OUT'")" = "2 $CAL,$FIELD"
check "rebuilding the same mosaic updates its row" sh -c \
	"$CTL mosaic build --around 2026-03-01T06:20:00 --minutes 120 --cell 12 --out '$OUT' >/dev/null &&
	 test \"\$(sqlite3 '$DB' 'SELECT count(*) FROM mosaics')\" = 1"
$CTL mosaic build --start 2026-03-01T05:45:00 --end 2026-03-01T06:00:00 --cell 6 >"$T/b2.out" 2>&1
check "build without --out writes under products_dir/mosaics and prints the path" \
	sh -c "grep -q '^$T/products/mosaics/mosaic_2026-03-01T05:45:00_2026-03-01T06:00:00.fits\$' '$T/b2.out' &&
	       test -s '$T/products/mosaics/mosaic_2026-03-01T05:45:00_2026-03-01T06:00:00.noise.fits'"
check "build of an empty window is not found (1)" \
	test "$(rc $CTL mosaic build --around 2026-03-02T00:00:00 --minutes 10)" = 1
PB=$T/products/2026-03-01/$CAL/$CAL.pb.fits
mv "$PB" "$T/pb.moved"
$CTL mosaic build --around 2026-03-01T06:20:00 --minutes 120 --cell 12 --out "$T/out/m1.fits" --json \
	>"$T/b3.json" 2>"$T/b3.err"
check "a tile whose pb image is gone is left out with a warning" \
	sh -c "test \"\$(tr -d ' \n' <'$T/b3.json' | grep -o '\"ntiles\":[0-9]*')\" = '\"ntiles\":1' &&
	       grep -q 'warning: $CAL' '$T/b3.err'"
check "plan marks it" sh -c "$CTL mosaic plan --around 2026-03-01T06:20:00 --minutes 120 --json | grep -q '\"files_present\": false'"
mv "$T/pb.moved" "$PB"
