#!/bin/sh
# tests/integration/test_inspect.sh — `contimgctl inspect` on the six real UVH5
# files and a reference DSA-110 subband: text and --json output, values checked
# against the numbers in ../shared/data/README.md and the reference truth JSON,
# exit codes and error messages for unreadable files.
. "$(dirname "$0")/lib.sh"

CTL="$BIN/contimgctl"
R="$LOCAL/uvh5-real"
# The reference subband is in the shared data only: without it the checks on
# it are skipped and the six real files are inspected alone.
REF= TRUTH= NF=6
if have_reference; then
	REF=$(ls "$REFDIR"/cal-0834/*_sb00.hdf5 | head -1)
	TRUTH=$(ls "$REFDIR"/cal-0834/truth_*.json | head -1)
	NF=7
fi
HERA_OLD="$R/zen.2458661.23480.HH.uvh5"
HERA_INT="$R/zen.2458432.34569.uvh5"
HERA_DS="$R/zen.2458098.45361.HH_downselected.uvh5"
ATA="$R/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5"
MWA="$R/1061315448_20130823175130_mini_vv_07_01.uvh5"
BDA="$R/simulated_bda_file.uvh5"

# |a - b| <= tol, with awk doing the arithmetic.
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
# The value of "key" in one line of JSON (numbers, null, true/false, "strings").
jval() { sed -n "s/.*\"$2\":\(\"[^\"]*\"\|\[[^]]*\]\|[^,}]*\).*/\1/p" "$1"; }
# The value after "label:" in the text output.
tval() { sed -n "s/^$2: *//p" "$1"; }

check "inspect of all six real files and a reference subband exits 0" \
	"$CTL" inspect "$HERA_OLD" "$HERA_INT" "$HERA_DS" "$ATA" "$MWA" "$BDA" $REF

"$CTL" inspect --json "$HERA_OLD" "$HERA_INT" "$HERA_DS" "$ATA" "$MWA" "$BDA" $REF >"$T/all.json" 2>"$T/all.err"
check "--json exits 0 on all $NF files" test $? = 0
check "--json prints one object per line, one line per file" test "$(grep -c '^{.*}$' "$T/all.json")" = $NF
n=0
for key in file telescope instrument version phase_type nants_data nants_telescope nbls nblts \
	ntimes nfreqs npols pols freq_min_hz freq_max_hz channel_width_hz time_start_jd time_end_jd \
	integration_time_s dec_deg has_autos; do
	c=$(grep -c "\"$key\":" "$T/all.json")
	[ "$c" = $NF ] || { echo "key $key in $c of $NF objects" >&2; n=$((n + 1)); }
done
check "every object has all 21 keys of issue 2" test "$n" = 0

# Reference subband: DSA-110 layout (SPEC §2), values from the truth JSON.
if have_reference; then
"$CTL" inspect --json "$REF" >"$T/ref.json"
"$CTL" inspect "$REF" >"$T/ref.txt"
check "reference: telescope OVRO_MMA, instrument DSA" \
	grep -q '"telescope":"OVRO_MMA","instrument":"DSA"' "$T/ref.json"
check "reference: no version (null)" grep -q '"version":null' "$T/ref.json"
check "reference: phase type drift" test "$(jval "$T/ref.json" phase_type)" = '"drift"'
check "reference: Nbls 300, Nblts 7200, Ntimes 24" \
	test "$(jval "$T/ref.json" nbls)/$(jval "$T/ref.json" nblts)/$(jval "$T/ref.json" ntimes)" = 300/7200/24
check "reference: Nfreqs 6, Npols 2" test "$(jval "$T/ref.json" nfreqs)/$(jval "$T/ref.json" npols)" = 6/2
check "reference: Nants_data 24 of Nants_telescope 117" \
	test "$(jval "$T/ref.json" nants_data)/$(jval "$T/ref.json" nants_telescope)" = 24/117
check "reference: pols XX,YY" test "$(jval "$T/ref.json" pols)" = '["XX","YY"]'
check "reference: text pols XX,YY" test "$(tval "$T/ref.txt" polarizations)" = "XX,YY"
check "reference: dec 54.9 deg within 1e-6 (json)" near "$(jval "$T/ref.json" dec_deg)" 54.9 1e-6
check "reference: dec 54.9 deg within 1e-6 (text)" near "$(tval "$T/ref.txt" 'dec (deg)')" 54.9 1e-6
truth_dec=$(sed -n 's/.*"dec": *\([0-9.eE+-]*\).*/\1/p' "$TRUTH" | head -1)
truth_fmax=$(sed -n 's/.*"freq_max": *\([0-9.eE+-]*\).*/\1/p' "$TRUTH" | head -1)
check "reference: dec equals the truth JSON's ($truth_dec)" near "$(jval "$T/ref.json" dec_deg)" "$truth_dec" 1e-9
check "reference: freq max equals the truth JSON's ($truth_fmax)" \
	near "$(jval "$T/ref.json" freq_max_hz)" "$truth_fmax" 1e-3
check "reference: 6 channels of 1.953125 MHz span 5 widths" \
	near "$(jval "$T/ref.json" freq_max_hz)" "$(awk -v a="$(jval "$T/ref.json" freq_min_hz)" 'BEGIN { printf "%.4f", a + 5 * 1953125 }')" 1e-3
check "reference: channel width 1953125 Hz" near "$(jval "$T/ref.json" channel_width_hz)" 1953125 1e-6
check "reference: integration 12.885 s" near "$(jval "$T/ref.json" integration_time_s)" 12.885 1e-3
check "reference: 24 integrations span 23 x 12.885 s" \
	near "$(awk -v a="$(jval "$T/ref.json" time_start_jd)" -v b="$(jval "$T/ref.json" time_end_jd)" 'BEGIN { printf "%.6f", (b - a) * 86400 }')" \
	"$(awk 'BEGIN { printf "%.6f", 23 * 12.884901888 }')" 1e-3
check "reference: autos present" test "$(jval "$T/ref.json" has_autos)" = true
check "reference: text says imageable" grep -q '^imageable: *yes' "$T/ref.txt"
check "reference: text says the channels descend" grep -q 'descending in the file' "$T/ref.txt"
else
	skip_ref "reference: the DSA-110 subband of cal-0834 against its truth JSON"
fi

# The real pyuvdata files (table in ../shared/data/README.md).
grep -F "\"file\":\"$ATA\"" "$T/all.json" >"$T/ata.json"
check "ATA: telescope name ATA" test "$(jval "$T/ata.json" telescope)" = '"ATA"'
check "ATA: version 1.2, sidereal" test "$(jval "$T/ata.json" version)/$(jval "$T/ata.json" phase_type)" = '"1.2"/"sidereal"'
check "ATA: 28 of 42 antennas, Nblts 406, 16 channels, 4 pols" \
	test "$(jval "$T/ata.json" nants_data)/$(jval "$T/ata.json" nants_telescope)/$(jval "$T/ata.json" nblts)/$(jval "$T/ata.json" nfreqs)/$(jval "$T/ata.json" npols)" = 28/42/406/16/4
check "ATA: dec of 3C286 (+30d30m33s)" near "$(jval "$T/ata.json" dec_deg)" 30.509167 5e-3
grep -F "\"file\":\"$HERA_INT\"" "$T/all.json" >"$T/int.json"
check "HERA int32 file: version 1.2, Nblts 80, 64 channels, 4 pols" \
	test "$(jval "$T/int.json" version)/$(jval "$T/int.json" nblts)/$(jval "$T/int.json" nfreqs)/$(jval "$T/int.json" pols)" = '"1.2"/80/64/["XX","YY","XY","YX"]'
check "HERA int32 file: no dec (null)" test "$(jval "$T/int.json" dec_deg)" = null
grep -F "\"file\":\"$HERA_OLD\"" "$T/all.json" >"$T/old.json"
check "HERA old file: no version (null), drift, Nblts 200" \
	test "$(jval "$T/old.json" version)/$(jval "$T/old.json" phase_type)/$(jval "$T/old.json" nblts)" = 'null/"drift"/200'
grep -F "\"file\":\"$HERA_DS\"" "$T/all.json" >"$T/ds.json"
check "HERA downselected: version 0.1, 8 antennas, Nbls 36, Ntimes 10" \
	test "$(jval "$T/ds.json" version)/$(jval "$T/ds.json" nants_data)/$(jval "$T/ds.json" nbls)/$(jval "$T/ds.json" ntimes)" = '"0.1"/8/36/10'
grep -F "\"file\":\"$MWA\"" "$T/all.json" >"$T/mwa.json"
check "MWA: telescope MWA, Nbls 8256, 1 channel, 4 pols" \
	test "$(jval "$T/mwa.json" telescope)/$(jval "$T/mwa.json" nbls)/$(jval "$T/mwa.json" nfreqs)/$(jval "$T/mwa.json" npols)" = '"MWA"/8256/1/4'
grep -F "\"file\":\"$BDA\"" "$T/all.json" >"$T/bda.json"
check "BDA file: reported (Nblts 17, phase type unknown, no autos)" \
	test "$(jval "$T/bda.json" nblts)/$(jval "$T/bda.json" phase_type)/$(jval "$T/bda.json" has_autos)" = '17/"unknown"/false'
"$CTL" inspect "$BDA" >"$T/bda.txt"
check "BDA file: text gives the precise reason it cannot be imaged" \
	grep -q '^imageable: *no: .*Nblts 17 is not Ntimes 15 x Nbls 6.*not rectangular' "$T/bda.txt"

# Rows with ant_1 > ant_2 (a correlator's baseline order): three of the real
# pyuvdata files have them (counted with h5py: ATA 30 of 406 rows, HERA
# int32 24 of 80, HERA old 20 of 200), the MWA file and the reference (ascending
# order) none.  The key is an addition to the 21 keys above.
check "reversed rows: ATA 30, HERA int32 24, HERA old 20, MWA 0" \
	test "$(jval "$T/ata.json" reversed_rows)/$(jval "$T/int.json" reversed_rows)/$(jval "$T/old.json" reversed_rows)/$(jval "$T/mwa.json" reversed_rows)" = 30/24/20/0
if have_reference; then
	check "reversed rows: reference 0" test "$(jval "$T/ref.json" reversed_rows)" = 0
	check "reference: text says 0 of 300 baselines have ant_1 > ant_2" \
		grep -q '^ant_1 > ant_2: *0 of 300 baselines' "$T/ref.txt"
else
	skip_ref "reversed rows of the reference subband"
fi
# contimg-sim's default is the correlator's order: 4 of the 36 baselines of
# --tiny are reversed; the file's integration time is the float32 value the
# correlator writes, 12.884902000427246 s.
"$BIN/contimg-sim" --tiny --subbands 1 --out "$T/sim" --quiet --no-truth
"$CTL" inspect --json "$T"/sim/*_sb00.hdf5 >"$T/sim.json"
"$CTL" inspect "$T"/sim/*_sb00.hdf5 >"$T/sim.txt"
check "contimg-sim --tiny: 16 reversed rows (4 baselines x 4 integrations)" \
	test "$(jval "$T/sim.json" reversed_rows)" = 16
check "contimg-sim --tiny: text says 4 of 36 baselines" \
	grep -q '^ant_1 > ant_2: *4 of 36 baselines (correlator order)' "$T/sim.txt"
check "contimg-sim: integration_time 12.884902000427246 s (float32)" \
	test "$(jval "$T/sim.json" integration_time_s)" = 12.884902000427246
sed -n 's/^ant_1 > ant_2: */# sim --tiny: ant_1 > ant_2: /p' "$T/sim.txt"

# Errors: the reason on stderr, exit 2, the readable files still reported.
printf 'not hdf5\n' >"$T/bad.hdf5"
GOOD=${REF:-$ATA}
"$CTL" inspect --json "$GOOD" "$T/missing.hdf5" "$T/bad.hdf5" >"$T/err.out" 2>"$T/err.err"
check "a missing and a non-HDF5 file make the exit code 2" test $? = 2
check "the readable file is still reported" test "$(grep -c '^{' "$T/err.out")" = 1
check "stderr names the missing file" grep -q "$T/missing.hdf5: cannot open" "$T/err.err"
check "stderr says the other is not HDF5" grep -q "$T/bad.hdf5: not an HDF5 file" "$T/err.err"
head -c 100000 "$GOOD" >"$T/trunc.hdf5"
"$CTL" inspect "$T/trunc.hdf5" >/dev/null 2>"$T/trunc.err"
check "a truncated subband gives exit 2" test $? = 2
check "and a message naming it" grep -q "$T/trunc.hdf5" "$T/trunc.err"
"$CTL" inspect >/dev/null 2>&1
check "no file is a usage error (exit 2)" test $? = 2
"$CTL" inspect --bogus "$GOOD" >/dev/null 2>&1
check "an unknown option is a usage error (exit 2)" test $? = 2
