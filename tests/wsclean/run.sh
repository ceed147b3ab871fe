#!/bin/sh
# tests/wsclean/run.sh — contimg's imager against WSClean on the same
# visibilities (make bench-wsclean; called by tests/bench.sh with
# BENCH_WSCLEAN=1 before it removes its data).
#
#   run.sh BENCH_DIR GROUP
#
# BENCH_DIR is a bench directory whose state already holds the calibration
# from the calibrator group; GROUP is the field group.  Steps:
#   1. contimgctl process GROUP --export-vis: the calibrated, combined,
#      rephased visibilities as UVH5, and contimg's own image stage timing;
#   2. uvh5_to_ms.py: the same samples as a Measurement Set (autos dropped,
#      channels averaged to 1.95 MHz exactly as the image stage does);
#   3. wsclean 3.1 (Debian) with the same image and CLEAN parameters
#      (4096² at 3″, Briggs 0, niter 20000, gain 0.1, mgain 0.8, 3σ
#      auto-threshold, wgridder at accuracy 1e-4, 2 threads), timed;
#   4. compare.py: both restored images against the simulator's truth.
# WSClean, python3-casacore, python3-h5py and python3-astropy come from
# Debian; they are installed here, not by `make deps` (the pipeline needs
# none of them).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
D=$1
G=$2
W=$D/wsclean
PY=/usr/bin/python3
sh "$ROOT/tests/deps.sh" wsclean python3-casacore python3-h5py python3-astropy time || exit 1
rm -rf "$W"
mkdir -p "$W"
export CONTIMG_CONFIG=$D/contimg.conf
export OMP_WAIT_POLICY=passive

echo "wsclean: contimg on $G (with --export-vis) ..."
"$BIN/contimgctl" process "$D/in/$G" --export-vis --json >"$W/contimg.json" 2>"$W/contimg.err" || {
	tail -5 "$W/contimg.err"; exit 1; }
path() { grep "\"$1\": *\"" "$W/contimg.json" | head -1 | sed 's/.*: *"\(.*\)".*/\1/'; }
uvh5=$(path vis)
img=$(path image)
res=$(path residual)
pb=$(path pb)
c_img=$(grep '"image": *[0-9]' "$W/contimg.json" | head -1 | sed 's/.*: *\([0-9.]*\).*/\1/')
c_img=$(printf '%.1f' "$c_img")

echo "wsclean: writing the Measurement Set ..."
$PY "$ROOT/tests/wsclean/uvh5_to_ms.py" "$uvh5" "$W/field.ms" 8 || exit 1
rm -f "$uvh5"

echo "wsclean: imaging ..."
(cd "$W" && /usr/bin/time -v wsclean -name wsc -size 4096 4096 -scale 3asec -weight briggs 0 \
	-niter 20000 -gain 0.1 -mgain 0.8 -auto-threshold 3 -use-wgridder -wgridder-accuracy 1e-4 \
	-j 2 -pol I -no-update-model-required field.ms >wsclean.log 2>wsclean.time) || {
	tail -5 "$W/wsclean.log"; exit 1; }
w_wall=$(awk -F': ' '/Elapsed/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.1f", s }' "$W/wsclean.time")
w_rss=$(awk '/Maximum resident/ { printf "%.0f", $NF / 1024 }' "$W/wsclean.time")
w_parts=$(grep -o 'Inversion: .*' "$W/wsclean.log" | tail -1)
w_major=$(grep -o '[0-9]* major iterations were performed' "$W/wsclean.log" | tail -1)

printf '\n%s\n' "contimg vs WSClean 3.1 on the same visibilities (field group $G)"
printf '%-10s %14s %s\n' "contimg" "${c_img} s" "image stage of contimgctl process (incl. primary beam, six FITS files)"
printf '%-10s %14s %s\n' "WSClean" "${w_wall} s" "wall, peak RSS ${w_rss} MB; $w_major; $w_parts"
$PY "$ROOT/tests/wsclean/compare.py" "$D/sim/truth_$G.json" "$pb" "contimg=$img,$res" \
	"WSClean=$W/wsc-image.fits,$W/wsc-residual.fits" 2>/dev/null
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W/field.ms"
