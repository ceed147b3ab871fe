#!/bin/sh
# tests/integration/test_wsclean_oracle.sh — the sign and frame of contimg
# against an authority nobody in this project wrote: WSClean 3.1 (Debian
# wsclean) and casacore (python3-casacore).  Our simulator, tests and
# pipeline once agreed on exp(−2πi …) while the real DSA-110 files, pyuvdata
# and the Measurement Set use exp(+2πi …); only an outside program catches
# that kind of shared error (docs/conventions.md, ../shared/data/README.md).
#
# Forward (WSClean → contimg), tests/wsclean/oracle.py:
#   ms     a Measurement Set of one integration, 28 real DSA-110 stations
#          in the correlator's baseline order (21 of 406 rows with
#          ant_1 > ant_2, as in the real files and contimg-sim's default),
#          16 subbands × 2 channels over the band, whose UVW are exactly a
#          DSA file's uvw_array, R(H_G = −longitude, δ0)·(pos[a2] − pos[a1]),
#          and whose PHASE_DIR is the drift phase centre (hour angle 0, δ0)
#          in CIRS at the integration centre (the recipe's l, m, n are the
#          SIN projection in that frame);
#   model  five point sources (1–5 Jy, asymmetric offsets up to 0.6°) on
#          exact pixel centres of an image WSClean made of that MS (its own
#          WCS), their CIRS positions converted to ICRS with ERFA for the
#          truth;
#   wsclean -predict fills MODEL_DATA (no primary beam);
#   group  MODEL_DATA → a DSA-layout UVH5 group with uvw and data unchanged.
# contimg images it uncalibrated: every source within one pixel of its ICRS
# truth, its peak within 5 % of S in the image that is not beam-corrected
# (WSClean predicted no beam), and < 1 % of S at its mirror position
# (−l, −m).  Negative control: the same group with conjugated visibilities
# must put the flux at the mirror positions, so the assertion can fail.
# The way back (contimg → WSClean): contimg's export (--export-vis, ICRS
# phase centre) written to an MS unchanged by tests/wsclean/uvh5_to_ms.py and
# imaged by WSClean puts the sources at their truth positions; with the UVW
# negated (uvh5_to_ms.py's former workaround) WSClean mirrors them.
#
# The rephasing's phase term: with one integration the group's fixed (ICRS)
# centre is the drift centre's own direction, so that term is exactly 1 (the
# export equals the input to 4e-8 rad; only the frame changes, uvw move by
# up to 4 m).  Another group therefore appends a flagged second integration:
# the group's mid time, and with it the fixed centre, moves 6.4 s (65" on
# the sky) from the data's drift centre, and a wrong sign of that term would
# move every source by about twice that.  Its negative control labels the
# data one integration late, a phase-centre error of that size.
# recipe_sim's model is checked against WSClean's prediction as well (it
# made test_recipe.sh's data).
#
# contimg's model prediction (core/predict.c: calibration's model and the
# simulator's sky; every group above is imaged uncalibrated): contimg-sim
# writes the forward group's observation (the same stations from the
# station CSV via WGS84, baselines in the same order, integration, channels,
# uvw to < 1 mm) from the truth catalogue, noise-free, unit gains, no RFI.
# It applies the Airy beam A (0.86-0.96 here) and WSClean does not, so
# WSClean predicts S*A as well: A of each source is a quadratic in frequency
# (within 3e-6 of A), WSClean predicts each of its three terms and the sum
# over them is its prediction of S*A.  The cross-correlations must agree
# (coherence, rms) and not agree with the conjugate of WSClean's.
#
# Runs in about 20-30 s on 2 cores (11 contimg and WSClean runs at 1536²).
. "$(dirname "$0")/lib.sh"
CTL=$BIN/contimgctl
TC=${CONTIMG_BUILD:-$ROOT/build}/tests/integration/truthcheck
PY=/usr/bin/python3
OR="$PY $ROOT/tests/wsclean/oracle.py"
WSCLEAN=${WSCLEAN:-wsclean}
REF=$DATA/reference/cal-0834
# The snapshot beam is about 22" x 11": 3" cells, 1536 pixels (±0.64°).
SIZE=1536
CELL=3
START=$(date +%s)
if [ ! -x "$TC" ]; then
	fail "truthcheck not built ($TC: make unit builds it)"
	exit 0
fi
if ! command -v "$WSCLEAN" >/dev/null 2>&1; then
	fail "wsclean is missing: it is the sign authority of this test; make test installs it (Debian wsclean, with python3-casacore and python3-astropy)"
	exit 0
fi
if ! $PY -c 'import casacore.tables, astropy.io.fits, astropy.wcs, numpy, h5py, erfa' 2>"$T/py.err"; then
	fail "python3-casacore, python3-astropy, python3-numpy, python3-h5py or python3-erfa is missing for $PY: make test installs them"
	sed 's/^/    /' "$T/py.err" >&2
	exit 0
fi
need_reference "WSClean oracle on the reference group cal-0834"

W=$T/wsc
# run LOG command...: the command's output to LOG; on failure its tail to stderr.
run() {
	log=$1
	shift
	"$@" >"$log" 2>&1 || { echo "failed: $*" >&2; tail -8 "$log" >&2; return 1; }
}
# comment FILE: a file's lines as TAP comments.
comment() { sed 's/^/# /' "$1"; }

# Forward: the Measurement Set, WSClean's model image and prediction, the
# groups.  WSClean predicts from NAME-model.fits, which must be "in the exact
# same projection as WSClean would output it" (its documentation on
# prediction): the model takes the header of an image WSClean made of this MS
# (-niter 0).  The prediction uses the wgridder: WSClean 3.1's default
# w-stacking gridder chose too few w-layers for this snapshot and was 13 %
# rms off the direct sum (the wgridder 0.3 %, coherence 0.99999).
if run "$T/ms.log" $OR ms "$W" --template "$REF" --time 2026-09-10T10:30:00 --dec 47.5 &&
	(cd "$W" && run "$T/tmpl.log" "$WSCLEAN" -name tmpl -size $SIZE $SIZE -scale ${CELL}asec \
		-niter 0 -j 2 -no-update-model-required oracle.ms) &&
	run "$T/model.log" $OR model "$W" "$W/tmpl-image.fits" &&
	(cd "$W" && run "$T/predict.log" "$WSCLEAN" -predict -name wsc -use-wgridder -j 2 oracle.ms) &&
	run "$T/group.log" $OR group "$W" "$T/fwd" &&
	run "$T/conj.log" $OR group "$W" "$T/conj" --conjugate; then
	comment "$T/ms.log"
	comment "$T/model.log"
	comment "$T/group.log"
	ok "a DSA-110 group from wsclean -predict (uvw and data unchanged)"
else
	fail "a DSA-110 group from wsclean -predict (uvw and data unchanged)"
	exit 0
fi
# recipe_sim (the recipe of ../shared/data/README.md, which made the data of
# test_recipe.sh) against WSClean: the link that puts that test on an
# outside authority too.
check "recipe_sim's model of the truth equals wsclean -predict: coherence > 0.9999 with exp(+2 pi i ...), < 0.1 with exp(-2 pi i ...)" \
	awk '$1 == "recipe" { found = 1; exit !($3 > 0.9999 && $5 < 0.1) } END { if (!found) exit 1 }' "$T/group.log"

# contimg's prediction against WSClean's, through contimg-sim (the beam's
# three terms are predicted into copies of the MS; the forward group is
# already made from oracle.ms's MODEL_DATA).
STATIONS_CSV=$LOCAL/dsa110/DSA110_Station_Coordinates.csv
# shellcheck disable=SC2046  # $W/sim.args: contimg-sim's options, split into words
if [ -f "$STATIONS_CSV" ] && run "$T/siminp.log" $OR sim-inputs "$W" &&
	(cd "$W" && for j in 0 1 2; do
		cp -r oracle.ms pb$j.ms &&
			run "$T/pb$j.log" "$WSCLEAN" -predict -name pb$j -use-wgridder -j 2 pb$j.ms || exit 1
	done) &&
	run "$T/sim.log" "$BIN/contimg-sim" --out "$T/sim" --stations "$STATIONS_CSV" $(cat "$W/sim.args") \
		--sky "$W/sky_oracle.csv" --sefd 0 --no-gains --jitter 0 --quiet &&
	run "$T/pcheck.log" $OR predict-check "$W" "$T/sim" "$T/fwd"; then
	comment "$T/siminp.log"
	comment "$T/pcheck.log"
	ok "contimg-sim writes the forward group's observation: the same baselines in the same order, channels, time, uvw within 1 mm"
else
	[ -f "$STATIONS_CSV" ] || echo "missing $STATIONS_CSV" >&2
	fail "contimg-sim writes the forward group's observation: the same baselines in the same order, channels, time, uvw within 1 mm"
fi
# Measured: coherence 0.999994 (WSClean's wgridder is itself 0.999994 and
# 0.3 % rms off the direct sum; contimg-sim equals the recipe's direct sum
# with the beam to 1e-6), 0.032 with the conjugate, rms ratio 1.00008.
# What the limits catch (the recipe's sum with one thing wrong, against
# contimg-sim): a source 1" off gives a coherence of 0.9986, no w-term
# 0.988, a 1 s clock error 0.73; a 4.5 m or 4.75 m dish an rms ratio of
# 0.9946 or 1.0038.  Against WSClean's prediction without the beam
# contimg-sim gives 0.99979 and an rms ratio of 0.918.
check "contimg's prediction (contimg-sim) equals wsclean -predict of S*A: coherence > 0.9999 and rms ratio within 0.2 % with exp(+2 pi i ...), coherence < 0.1 with WSClean's conjugate" \
	awk '$1 == "predict" { found = 1; exit !($3 > 0.9999 && $5 < 0.1 && $7 > 0.998 && $7 < 1.002) }
		END { if (!found) exit 1 }' "$T/pcheck.log"

# process NAME GROUP_DIR [options]: contimg on a group in a state of its own,
# uncalibrated, no RFI flagging (noise-free data, docs/config.md), CLEAN to
# 2 mJy (0.2 % of the faintest source); the FFT plans are shared.  Leaves
# $T/NAME.json.
process() {
	n=$1 g=$2
	shift 2
	D=$T/$n
	mkdir -p "$D/state" "$D/products" "$D/ingest"
	printf '[paths]\ningest_dir = %s/ingest\nstate_dir = %s/state\nproducts_dir = %s/products\n' \
		"$D" "$D" "$D" >"$D/c.conf"
	printf '[flag]\nrfi = false\n[calibrate]\ncal_min_flux_jy = 1e9\n' >>"$D/c.conf"
	# The MFS image is the oracle's subject (sub-band images against WSClean's
	# -join-channels: test_subband_wsclean.sh), so no sub-band images here.
	CONTIMG_CONFIG=$D/c.conf "$CTL" process "$g" --json --set image.size=$SIZE \
		--set image.cell_arcsec=$CELL --set image.threshold_mjy=2 \
		--set image.fftw_wisdom="$T/fftw.wisdom" --set image.subbands=0 "$@" \
		>"$T/$n.json" 2>"$T/$n.err" ||
		{ tail -5 "$T/$n.err" >&2; return 1; }
	grep -q '"calibrated": false' "$T/$n.json" || { echo "$n: the group was calibrated" >&2; return 1; }
}
# product NAME KIND: a product's path from contimgctl's JSON.
product() { grep "\"$2\": \"" "$T/$1.json" | head -1 | cut -d'"' -f4; }
# measured NAME DESCRIPTION IMAGE [measure options]: oracle.py measure of
# IMAGE against the truth, its lines as TAP comments, ok when it exits 0.
measured() {
	n=$1 d=$2 img=$3
	shift 3
	$OR measure "$@" "$img" "$TRUTH" >"$T/$n.m" 2>&1
	rc=$?
	comment "$T/$n.m"
	if [ $rc = 0 ]; then ok "$d"; else fail "$d"; fi
}

TRUTH=$W/truth_oracle.json
if process fwd "$T/fwd" --export-vis; then
	img=$(product fwd image)
	"$TC" "$img" "$(product fwd residual)" "$(product fwd pb)" "$TRUTH" 10 >"$T/fwd.tc" 2>&1
	sed 's/^/# truthcheck: /' "$T/fwd.tc"
	# truthcheck measures the image that is not beam-corrected (its ratio
	# is then peak / S); positions in WCSLIB from contimg's FITS header.
	check "WSClean -> contimg: all 5 sources within one pixel ($CELL\") of their ICRS truth, peak within 5 % of S (truthcheck)" \
		awk -v cell=$CELL '
			$2 == "S" { n++; if (!($10 < cell && $17 > 0.95 && $17 < 1.05)) bad++ }
			END { exit !(n == 5 && !bad) }' "$T/fwd.tc"
	measured fwd "WSClean -> contimg: every source at its truth position and < 1 % of its flux at its mirror position (astropy)" "$img"
else
	fail "WSClean -> contimg: contimgctl process failed on the WSClean group"
fi

# Negative control: conjugated visibilities must image mirrored.
if process conj "$T/conj"; then
	measured conj "negative control: with conjugated visibilities contimg puts >= 50 % of every source at its mirror position" "$(product conj image)" --expect mirrored
else
	fail "negative control: contimgctl process failed on the conjugated group"
fi

# The rephasing's phase term: the same data followed by a flagged integration.
if run "$T/late.log" $OR group "$W" "$T/late" --flagged-after 1 && process late "$T/late"; then
	measured late "WSClean -> contimg, a flagged second integration (fixed centre 65\" from the data's drift centre): every source within one pixel, peak within 5 %, < 1 % at its mirror" "$(product late image)"
else
	fail "WSClean -> contimg: contimgctl process failed on the group with a flagged second integration"
fi
# Its negative control: the flagged integration first, so the data are
# labelled one integration late and contimg takes their drift centre to be
# 131" east of where it is, as a wrong sign of that term would.
if run "$T/mislabel.log" $OR group "$W" "$T/mislabel" --mislabel-late 1 && process mislabel "$T/mislabel"; then
	measured mislabel "negative control: the same data labelled one integration late leave < 10 % of every source at its truth position" "$(product mislabel image)" --expect moved
else
	fail "negative control: contimgctl process failed on the mislabelled group"
fi

# The way back: contimg's export → MS unchanged → WSClean.
vis=$(product fwd vis 2>/dev/null)
# wsclean_image NAME MS: a small CLEANed Stokes I image, NAME-image.fits.
wsclean_image() {
	(cd "$T" && run "$T/$1.log" "$WSCLEAN" -name "$1" -size $SIZE $SIZE -scale ${CELL}asec \
		-weight briggs 0 -niter 1000 -threshold 0.002 -mgain 0.8 -use-wgridder -j 2 \
		-no-update-model-required "$2")
}
if [ -n "$vis" ] && [ -f "$vis" ] && run "$T/back-ms.log" $PY "$ROOT/tests/wsclean/uvh5_to_ms.py" "$vis" "$T/back.ms" 1 &&
	wsclean_image back "$T/back.ms"; then
	comment "$T/back-ms.log"
	measured back "contimg -> WSClean: the exported visibilities (uvw unchanged) put every source within one pixel of its truth, < 1 % at its mirror" "$T/back-image.fits"
	# Negative control of the way back: the old -uvw workaround mirrors.
	cp -r "$T/back.ms" "$T/neg.ms"
	if run "$T/neg-ms.log" $OR negate-uvw "$T/neg.ms" && wsclean_image neg "$T/neg.ms"; then
		measured neg "negative control: with -uvw (the former uvh5_to_ms.py) WSClean puts every source at its mirror position" "$T/neg-image.fits" --expect mirrored
	else
		fail "negative control of the way back: WSClean failed on the MS with negated UVW"
	fi
else
	fail "contimg -> WSClean: no export, or uvh5_to_ms.py or wsclean failed"
fi
echo "# run time $(($(date +%s) - START)) s"
