#!/bin/sh
# tests/integration/test_sim.sh — contimg-sim writes groups the rest of the
# project can read: names, atomic rename, truth, gains, damage options, streams.
. "$(dirname "$0")/lib.sh"
SIM=$BIN/contimg-sim
CTL=$BIN/contimgctl
NAME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}_sb(0[0-9]|1[0-5])\.hdf5$'

# count_files DIR — subband files with a correlator name
count_files() { ls "$1" | grep -cE "$NAME_RE"; }

check "--help documents the options" sh -c "$SIM --help | grep -q -- '--calibrator'"
check "bad usage exits 2" sh -c "$SIM --nants 1 --out $T/bad 2>/dev/null; [ \$? = 2 ]"

check "tiny group is written" $SIM --tiny --out "$T/g" --seed 5 --quiet
check "16 correctly named subband files" sh -c "[ \$(ls $T/g | grep -cE '$NAME_RE') = 16 ]"
check "each subband exactly once" sh -c \
	"[ \$(ls $T/g | sed -n 's/.*_sb\([0-9][0-9]\)\.hdf5\$/\1/p' | sort -u | wc -l) = 16 ]"
check "truth JSON and gains file" sh -c "test -s $T/g/truth_2026-03-01T05:49:14.json && test -s $T/g/gains_2026-03-01T05:49:14.h5"
check "no temporary names left" sh -c "! ls -a $T/g | grep -qE 'incomplete|\.tmp'"
check "file-name jitter stays within 2 s of the start" sh -c \
	"ls $T/g | grep -E '$NAME_RE' | cut -c18-19 | sort -u | while read s; do [ \$s -ge 14 ] && [ \$s -le 16 ] || exit 1; done"
check "truth names the sigma and the 16 files" sh -c \
	"grep -q '\"sigma_vis\"' $T/g/truth_*.json && [ \$(grep -c '_sb[0-9][0-9].hdf5' $T/g/truth_*.json) = 16 ]"

# The files must be readable by contimgctl inspect (the shared UVH5 reader).
if [ -x "$CTL" ]; then
	check "contimgctl inspect reads all 16" sh -c \
		"$CTL inspect --json $T/g/*_sb*.hdf5 > $T/inspect.json && [ \$(grep -c '\"nants_data\":8' $T/inspect.json) = 16 ] && [ \$(grep -c '\"nfreqs\":4' $T/inspect.json) = 16 ] && [ \$(grep -c '\"nants_telescope\":117' $T/inspect.json) = 16 ]"
	check "inspect: drift phasing, XX/YY, autos" sh -c \
		"[ \$(grep -c '\"phase_type\":\"drift\".*\"pols\":\\[\"XX\",\"YY\"\\].*\"has_autos\":true' $T/inspect.json) = 16 ]"
else
	fail "contimgctl not built"
fi

# Baseline order: the correlator's input order by default (rows with
# ant_1 > ant_2), the old ascending layout on request, or a station list.
# (truthkey FILE KEY: the value of a number or list key of a truth JSON.)
truthkey() { tr -d ' \n' <"$1" | sed -n "s/.*\"$2\":\(\[[0-9,]*\]\|[0-9][0-9]*\).*/\1/p"; }
$SIM --tiny --subbands 1 --order ascending --out "$T/asc" --quiet
check "--order ascending: no row with ant_1 > ant_2" test "$(truthkey "$T"/asc/truth_*.json reversed_baselines)" = 0
check "default order: 4 reversed baselines" test "$(truthkey "$T"/g/truth_*.json reversed_baselines)" = 4
check "default order: input order 0,15,31,45,101,115,74,88 (DSA-102, DSA-116 after the EW arm)" \
	test "$(truthkey "$T"/g/truth_*.json input_order)" = "[0,15,31,45,101,115,74,88]"
$SIM --tiny --subbands 1 --order 117,116,102,89,75,46,32,16,1 --out "$T/desc" --quiet
check "--order LIST: descending stations reverse every cross row (28 of 36)" \
	test "$(truthkey "$T"/desc/truth_*.json reversed_baselines)" = 28
$SIM --tiny --order 1,2,3 --out "$T/bad2" 2>"$T/bad2.err"
check "--order LIST without an active station is refused (exit 2)" test $? = 2
check "... with the reason" grep -q 'active station .* is not in the list' "$T/bad2.err"

# Missing and corrupt subbands.
check "missing + corrupt group is written" $SIM --tiny --out "$T/m" --missing 3,7 --corrupt 5 --quiet
check "missing subbands are not written" sh -c \
	"[ \$(ls $T/m | grep -cE '$NAME_RE') = 14 ] && ! ls $T/m | grep -qE '_sb0[37]\.hdf5'"
if [ -x "$CTL" ]; then
	check "the corrupt subband fails inspect with exit 2" sh -c "$CTL inspect $T/m/*_sb05.hdf5 >/dev/null 2>&1; [ \$? = 2 ]"
	check "the other subbands still read" sh -c "$CTL inspect $T/m/*_sb04.hdf5 $T/m/*_sb06.hdf5 >/dev/null"
fi

# Same seed → same data; another seed → different data.
$SIM --tiny --out "$T/a" --seed 9 --quiet && $SIM --tiny --out "$T/b" --seed 9 --quiet &&
	$SIM --tiny --out "$T/c" --seed 10 --quiet
check "same seed gives the same visibilities" sh -c \
	"h5dump -d Data/visdata $T/a/*_sb02.hdf5 | tail -n +3 > $T/a.txt && h5dump -d Data/visdata $T/b/*_sb02.hdf5 | tail -n +3 > $T/b.txt && cmp -s $T/a.txt $T/b.txt"
check "another seed gives other visibilities" sh -c \
	"h5dump -d Data/visdata $T/c/*_sb02.hdf5 | tail -n +3 > $T/c.txt && ! cmp -s $T/a.txt $T/c.txt"

# A stream of groups, contiguous in observation time.
check "stream of 3 groups" $SIM --tiny --stream 3 --out "$T/s" --quiet
check "stream: 48 files, 3 truths" sh -c "[ \$(ls $T/s | grep -cE '$NAME_RE') = 48 ] && [ \$(ls $T/s/truth_*.json | wc -l) = 3 ]"

# Real stations, a calibrator at transit.
check "real stations and a calibrator" $SIM --stations "$LOCAL/dsa110/DSA110_Station_Coordinates.csv" \
	--nants 24 --nchan-per-subband 2 --ntimes 2 --subbands 2 --random 0 \
	--calibrator 0834+555,128.72876715,55.57251971,8.8 --out "$T/cal" --quiet
check "calibrator in the truth, 2 subbands" sh -c \
	"grep -q '0834+555' $T/cal/truth_*.json && [ \$(ls $T/cal | grep -cE '$NAME_RE') = 2 ]"
if [ -x "$CTL" ]; then
	check "24 stations, pointing at the calibrator's apparent dec" sh -c \
		"$CTL inspect --json $T/cal/*_sb00.hdf5 | grep -q '\"nants_data\":24' && $CTL inspect --json $T/cal/*_sb00.hdf5 | grep -qE '\"dec_deg\":55\.[45]'"
fi

# A varying source: the truth of each group carries that group's flux.
printf 'name,ra_deg,dec_deg,flux_mjy,spectral_index\nA,128.5,55.0,500,0\n' > "$T/sky.csv"
check "stream on sidereal days with a dip" $SIM --tiny --ntimes 1 --subbands 1 --sky "$T/sky.csv" \
	--stream 3 --step 86164.0905 --vary A,0.5,61101.24,0.5 --out "$T/v" --quiet
check "the dip is in the truth fluxes (0.5 Jy → ~0.25 Jy at the centre)" sh -c \
	"grep -h '\"flux\"' $T/v/truth_*.json | sed 's/.*: *//; s/,//' | awk '{f[NR]=\$1} END {exit !(NR==3 && f[2] < 0.27 && f[1] > 0.4 && f[3] > 0.4)}'"
