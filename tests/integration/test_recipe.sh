#!/bin/sh
# tests/integration/test_recipe.sh — contimg on data made by an independent
# implementation of the reference recipe (tests/recipe/recipe_sim.py: numpy,
# h5py and pyerfa, no contimg code) at pointings, dates and calibrators the
# reference groups do not cover (no flux standard: contimg models those
# with Perley-Butler 2017, the recipe with the list's flat L-band flux;
# docs/imaging.md).  contimg-sim cannot do this job: a frame or
# sign error it shared with the pipeline would cancel (docs/imaging.md).
#
# First the simulator is checked against both reference groups (their truth
# and true gains reproduce the data at chi2/dof = 1).  Then, per scenario, a
# calibrator transit from the VLA list is made from the cal-0834 files moved
# in time so that the calibrator crosses the meridian at mid-group, with the
# reference's true gains (24 antennas) or, re-laid out for 64 antennas,
# recipe_sim's random gains, SEFD 6500 noise, and six catalog sources
# around it; a field group one hour later has six other sources.  Both go
# through `contimgctl process` with one state (the field group is calibrated
# with the calibrator group's tables) and are measured with truthcheck.
# Calibration hides a frame error that shifts the whole field (the phase
# gains of a drift-scan array absorb it and carry it to every group at the
# same declination), so a third group, the calibrator transit without gains,
# is imaged uncalibrated in a state of its own: the absolute astrometry.
. "$(dirname "$0")/lib.sh"
need_reference "recipe_sim against the reference groups"
CTL=$BIN/contimgctl
TC=${CONTIMG_BUILD:-$ROOT/build}/tests/integration/truthcheck
PY=/usr/bin/python3
SIM="$PY $ROOT/tests/recipe/recipe_sim.py"
REF=$DATA/reference
VLA=$LOCAL/catalogs/vlacalibrators.txt
if [ ! -x "$TC" ]; then
	fail "truthcheck not built ($TC: make unit builds it)"
	exit 0
fi
if ! $PY -c 'import numpy, h5py, erfa' 2>"$T/py.err"; then
	fail "python3-numpy, python3-h5py and python3-erfa are needed (make deps installs them)"
	cat "$T/py.err" >&2
	exit 0
fi

for g in cal-0834 field-0834-plus1h; do
	$SIM verify "$REF/$g" >"$T/verify.$g" 2>&1
	check "recipe_sim reproduces reference $g (chi2/dof 1 +- 0.01)" \
		awk '/chi2\/dof/ { c = $4 } END { print; exit !(c > 0.99 && c < 1.01) }' "$T/verify.$g"
done

# vla NAME: "RA_DEG DEC_DEG FLUX_20CM" of a calibrator in the VLA list.
vla() {
	awk -v name="$1" '
		$1 == name && $2 == "J2000" {
			split($4, r, /[hms]/); split($5, d, /[d'"'"'"]/)
			s = substr(d[1], 1, 1) == "-" ? -1 : 1
			ra = 15 * (r[1] + r[2] / 60 + r[3] / 3600)
			dec = s * (s * d[1] + d[2] / 60 + d[3] / 3600)
			f = 1; next
		}
		f && $1 == "20cm" { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { printf "%.7f %.7f %s\n", ra, dec, $i; exit }
		}
		f && /^[0-9][0-9][0-9][0-9][-+]/ && $2 == "J2000" { exit }' "$VLA"
}

# six NAME RA DEC: six 0.2-0.5 Jy sources 0.3-0.8 deg around (RA, DEC).
six() {
	awk -v name="$1" -v ra="$2" -v dec="$3" 'BEGIN {
		split("0.5 -0.6 0.2 -0.3 0.7 -0.75", dx, " ")
		split("0.3 0.4 -0.7 -0.5 -0.2 -0.1", dy, " ")
		split("400 250 300 500 200 350", s, " ")
		for (i = 1; i <= 6; i++) {
			d = dec + dy[i]
			printf "%s_%d,%.7f,%.7f,%d,-0.7\n", name, i, ra + dx[i] / cos(d * atan2(0, -1) / 180), d, s[i]
		}
	}'
}

# scenario NAME CAL DEC0 AFTER_DAYS NANTS GAINS [process options]: leaves
# $T/NAME.{cal,field,abs}.check.  GAINS: ref (the reference's true gains,
# its 24 antennas) or random (recipe_sim's own, any NANTS).
scenario() {
	n=$1 cal=$2 dec0=$3 after=$4 nants=$5 gains=$6
	shift 6
	D=$T/$n
	mkdir -p "$D/state" "$D/products" "$D/ingest"
	printf '[paths]\ningest_dir = %s/ingest\nstate_dir = %s/state\nproducts_dir = %s/products\n' \
		"$D" "$D" "$D" >"$D/c.conf"
	# MFS astrometry and flux are this test's subject; sub-band images are
	# test_subband*.sh's (and cost 2.5x the imaging).
	set -- "$@" --set image.size=2048 --set image.cell_arcsec=3 --set image.subbands=0
	pos=$(vla "$cal")
	[ -n "$pos" ] || { echo "$cal not in the VLA list"; return 1; }
	ra=${pos%% *} rest=${pos#* } dec=${rest%% *} flux=${rest#* }
	shd=$($SIM shift "$REF/cal-0834" "$ra" "$dec" --after "$after") || return 1
	shf=$(echo "$shd" | awk '{ printf "%.9f", $1 + 1 / 24 }')
	fra=$(echo "$ra" | awk '{ printf "%.7f", ($1 + 15.041) % 360 }')
	hdr=name,ra_deg,dec_deg,flux_mjy,spectral_index
	{ echo $hdr; six "${n}c" "$ra" "$dec0"; six "${n}f" "$fra" "$dec0"; } >"$D/catalog.csv"
	{ echo $hdr; echo "$cal,$ra,$dec,$(echo "$flux" | awk '{ print $1 * 1000 }'),0"
	  six "${n}c" "$ra" "$dec0"; } >"$D/cal.csv"
	{ echo $hdr; six "${n}f" "$fra" "$dec0"; } >"$D/field.csv"
	G=$(ls "$REF"/cal-0834/gains_*.h5)
	[ "$gains" = ref ] || G=$gains
	mk() { $SIM make --template "$REF/cal-0834" --dec "$dec0" --nants "$nants" "$@" >>"$D/sim.log" 2>&1 ||
		{ cat "$D/sim.log"; return 1; }; }
	mk --out "$D/cal" --shift-days "$shd" --sky "$D/cal.csv" --gains "$G" --seed 11 --gain-seed 5 || return 1
	# The same instrument one hour later (random gains: the same gain seed).
	mk --out "$D/field" --shift-days "$shf" --sky "$D/field.csv" --gains "$G" --seed 12 --gain-seed 5 || return 1
	mk --out "$D/abs" --shift-days "$shd" --sky "$D/cal.csv" --gains none --seed 13 || return 1
	export CONTIMG_CONFIG=$D/c.conf
	"$CTL" catalog import --vla "$VLA" >/dev/null || return 1
	"$CTL" catalog import --csv "$D/catalog.csv" >/dev/null || return 1
	for g in cal field; do
		"$CTL" process "$D/$g" --json "$@" >"$D/$g.json" 2>"$D/$g.err" || { tail -5 "$D/$g.err"; return 1; }
		p() { grep "\"$1\": \"" "$D/$g.json" | head -1 | cut -d'"' -f4; }
		"$TC" "$(p pbcor)" "$(p residual)" "$(p pb)" "$D/$g"/truth_*.json 10 >"$T/$n.$g.check" || return 1
	done
	sed "s#$D/state#$D/abs-state#" "$D/c.conf" >"$D/abs.conf"
	mkdir -p "$D/abs-state"
	export CONTIMG_CONFIG=$D/abs.conf
	"$CTL" process "$D/abs" --json "$@" --set calibrate.cal_min_flux_jy=1e9 >"$D/abs.json" \
		2>"$D/abs.err" || { tail -5 "$D/abs.err"; return 1; }
	g=abs
	"$TC" "$(p pbcor)" "$(p residual)" "$(p pb)" "$D/abs"/truth_*.json 10 >"$T/$n.abs.check" || return 1
	unset CONTIMG_CONFIG
}

# absolute NAME CAL: the group without gains, uncalibrated: the calibrator
# (thousands of σ) within 0.2" and 2 %, the six neighbours' median within 0.5".
absolute() {
	grep -q '"calibrated": false' "$T/$1/abs.json" || { echo "the group without gains was calibrated"; return 1; }
	awk -v cal="$2" -v n="$1" '
		$1 == cal { found = 1; off = $10; rat = $17 }
		$1 ~ "^" n "c_" { cnt++ }
		/^summary/ { mo = $5 }
		END {
			printf "uncalibrated: calibrator offset %s ratio %s; %d of 6 neighbours, median %s\"\n",
				off, rat, cnt, mo
			exit !(found && off < 0.2 && rat > 0.98 && rat < 1.02 && cnt == 6 && mo < 0.5)
		}' "$T/$1.abs.check"
}

# verify NAME CAL: both groups calibrated; the calibrator within 0.3" and
# 2 %; in each group all six sources measured, median offset < 0.5" and
# median pbcor ratio within 4 % (the 1.95 MHz channels smear by ~2 % at 0.8 deg).
verify() {
	grep -q '"calibrated": true' "$T/$1/cal.json" || { echo "calibrator group not calibrated"; return 1; }
	grep -q '"calibrated": true' "$T/$1/field.json" || { echo "field group not calibrated"; return 1; }
	awk -v cal="$2" -v n="$1" '
		FNR == 1 { grp = (FILENAME ~ /\.cal\.check$/) ? "cal" : "field" }
		$1 == cal { found = 1; off = $10; rat = $17 }
		$1 ~ "^" n "[cf]_" { cnt[grp]++ }
		/^summary/ { mo[grp] = $5; mr[grp] = $7 }
		END {
			printf "calibrator offset %s ratio %s; cal group %d of 6, median %s\" ratio %s; " \
				"field group %d of 6, median %s\" ratio %s\n", off, rat, cnt["cal"], mo["cal"], mr["cal"],
				cnt["field"], mo["field"], mr["field"]
			exit !(found && off < 0.3 && rat > 0.98 && rat < 1.02 && cnt["cal"] == 6 && cnt["field"] == 6 &&
			       mo["cal"] < 0.5 && mo["field"] < 0.5 && mr["cal"] > 0.96 && mr["cal"] < 1.04 &&
			       mr["field"] > 0.96 && mr["field"] < 1.04)
		}' "$T/$1.cal.check" "$T/$1.field.check"
}

# name calibrator pointing-dec days-after-2026-03-01 antennas gains [process options]
for s in "r16 0318+164 16.2 40 24 ref" "rm29 1924-292 -29.0 130 24 ref" "r30 1331+305 30.2 220 24 ref" \
	"r78 1800+784 78.2 300 24 ref --set calibrate.cal_min_flux_jy=1.5" "r40 1642+398 40.2 250 64 random"; do
	set -- $s
	n=$1 cal=$2 dec0=$3 nants=$5
	if scenario "$@" >"$T/$n.log" 2>&1; then
		check "recipe data, $cal at pointing dec $dec0, $nants antennas: calibrator and both groups' sources at their truth" \
			verify "$n" "$cal"
		check "recipe data, $cal at pointing dec $dec0, $nants antennas, no gains, uncalibrated: absolute positions" \
			absolute "$n" "$cal"
	else
		fail "recipe data, $cal at pointing dec $dec0, $nants antennas: the chain failed"
		tail -8 "$T/$n.log" >&2
	fi
	for g in cal field abs; do
		[ -f "$T/$n.$g.check" ] && sed "s/^/# $n $g: /" "$T/$n.$g.check" | tail -1
	done
done
