#!/bin/sh
# tests/integration/test_subband_wsclean.sh — contimg's sub-band images
# against an outside authority: WSClean 3.1 (Debian) with -channels-out 4
# -join-channels on exactly the visibilities contimg imaged.
#
# The reference calibrator group gives the solutions; the reference field
# group one hour later is processed with [image] subbands = 4 and
# --export-vis; tests/wsclean/uvh5_to_ms.py writes the exported samples to
# a Measurement Set unchanged (the reference groups' channels are already
# 1.95 MHz: no averaging), and WSClean images it with the same image and
# CLEAN parameters (1024² at 6″, Briggs 0, niter 20000, gain 0.1, mgain 0.8,
# auto-threshold 3, wgridder at 1e-4) and -channels-out 4 -join-channels
# (no spectral fitting, per-channel weighting, per-channel restoring beams).
# For every catalog source brighter than 15σ of contimg's sub-band noise in
# all four sub-bands, the peak within 1.5 pixels of its position in
# contimg's image-SB<k> (not beam-corrected, as WSClean's) is compared with
# WSClean's wsc-000k-image at the same place, and the MFS images likewise.
# The MFS images differ by their restoring beams (contimg's box fit of the
# sparse 24-antenna PSF against WSClean's fit, docs/imaging.md) and CLEAN
# details, so the assertion is on the spectrum: each sub-band's peak over
# its MFS peak, contimg's against WSClean's, median over the bright sources
# within 3 % in every sub-band; and the sub-band frequencies agree to
# 0.1 %.  The comparison is printed, absolute ratios included.
# About a minute on 2 cores.
. "$(dirname "$0")/lib.sh"
CTL="$BIN/contimgctl --config $T/contimg.conf"
REF=$DATA/reference
PY=/usr/bin/python3
if ! command -v wsclean >/dev/null 2>&1 || ! $PY -c 'import casacore.tables' 2>/dev/null; then
	ok "WSClean sub-band comparison # SKIP wsclean or python3-casacore not installed"
	exit 0
fi
mkdir -p "$T/state" "$T/products" "$T/in" "$T/w"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in
[pipeline]
threads = 2
[image]
size = 1024
cell_arcsec = 6
subbands = 4
CONF
export OMP_WAIT_POLICY=passive
check "import the reference catalog" $CTL catalog import --csv "$REF/catalog.csv"
check "import the calibrator list" $CTL catalog import --vla "$DATA/catalogs/vlacalibrators.txt"
check "process the calibrator group" $CTL process "$REF/cal-0834"
check "process the field group with --export-vis" sh -c \
	"$CTL process '$REF/field-0834-plus1h' --export-vis --json >'$T/field.json'"
vis=$(grep '"vis": *"' "$T/field.json" | head -1 | sed 's/.*: *"\(.*\)".*/\1/')
check "write the Measurement Set" $PY "$ROOT/tests/wsclean/uvh5_to_ms.py" "$vis" "$T/w/field.ms" 1
check "WSClean -channels-out 4 -join-channels" sh -c "cd '$T/w' && wsclean -name wsc \
	-size 1024 1024 -scale 6asec -weight briggs 0 -niter 20000 -gain 0.1 -mgain 0.8 \
	-auto-threshold 3 -use-wgridder -wgridder-accuracy 1e-4 -channels-out 4 -join-channels \
	-j 2 -pol I -no-update-model-required field.ms >wsclean.log 2>&1"
$PY - "$T" "$REF/catalog.csv" >"$T/cmp.out" 2>&1 <<'PY'
import csv, glob, sys, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter("ignore")
T, cat = sys.argv[1], sys.argv[2]
srcs = [(r["name"], float(r["ra_deg"]), float(r["dec_deg"])) for r in csv.DictReader(open(cat))] \
    if open(cat).readline().startswith("name") else \
    [(r[0], float(r[1]), float(r[2])) for r in csv.reader(open(cat))]
bad = []
def peak(data, x, y):
    xi, yi = int(round(x)), int(round(y))
    best = -np.inf
    for j in range(yi - 1, yi + 2):
        for i in range(xi - 1, xi + 2):
            if (i - x) ** 2 + (j - y) ** 2 <= 2.25 and 0 <= i < data.shape[1] and 0 <= j < data.shape[0]:
                best = max(best, data[j, i])
    return best
ours, theirs, noise = [], [], []
files = [(glob.glob(T + "/products/*/*/*.image-SB%d.fits" % k)[0], T + "/w/wsc-%04d-image.fits" % k)
         for k in range(4)]
files.append((glob.glob(T + "/products/*/*/*.image.fits")[0], T + "/w/wsc-MFS-image.fits"))
for k, (fo, fw) in enumerate(files):
    ho, hw = fits.getheader(fo), fits.getheader(fw)
    if k < 4 and abs(ho["CRVAL3"] / hw["CRVAL3"] - 1) > 1e-3:
        bad.append("sub-band %d: %.6g Hz vs WSClean %.6g Hz" % (k, ho["CRVAL3"], hw["CRVAL3"]))
    do, dw = fits.getdata(fo)[0, 0], fits.getdata(fw)[0, 0]
    wo, ww = WCS(ho).celestial, WCS(hw).celestial
    po, pw = [], []
    for name, ra, dec in srcs:
        xo, yo = (float(v) for v in wo.all_world2pix(ra, dec, 0))
        xw, yw = (float(v) for v in ww.all_world2pix(ra, dec, 0))
        if not (5 < xo < do.shape[1] - 5 and 5 < yo < do.shape[0] - 5):
            po.append(np.nan); pw.append(np.nan); continue
        po.append(peak(do, xo, yo)); pw.append(peak(dw, xw, yw))
    ours.append(po); theirs.append(pw); noise.append(ho["NOISE"])
    print("# %s: contimg %.5f GHz (noise %.3g mJy), WSClean %.5f GHz" %
          ("sub-band %d" % k if k < 4 else "MFS", ho["CRVAL3"] / 1e9, ho["NOISE"] * 1e3,
           hw["CRVAL3"] / 1e9))
ours, theirs = np.array(ours), np.array(theirs)
bright = [i for i in range(len(srcs)) if all(np.isfinite(ours[k, i]) and ours[k, i] > 15 * noise[k] for k in range(4))]
print("# source       contimg/WSClean peak (Jy/beam) per sub-band 0..3, then MFS")
for i in bright:
    print("# %-12s " % srcs[i][0] + "  ".join("%.4f/%.4f" % (ours[k, i], theirs[k, i]) for k in range(5)))
if len(bright) < 2:
    bad.append("only %d bright sources" % len(bright))
# The MFS images differ by their restoring beams (contimg's box fit against
# WSClean's) and CLEAN details; the sub-band question is whether each
# sub-band stands to its MFS image as WSClean's does: the spectrum.
mfs = np.median(ours[4, bright] / theirs[4, bright]) if bright else np.nan
print("# MFS: median contimg/WSClean %.4f" % mfs)
for k in range(4):
    r = np.median(ours[k, bright] / theirs[k, bright]) if bright else np.nan
    rel = np.median((ours[k, bright] / ours[4, bright]) / (theirs[k, bright] / theirs[4, bright])) if bright else np.nan
    print("# sub-band %d: median contimg/WSClean %.4f, relative to the MFS %.4f over %d sources" %
          (k, r, rel, len(bright)))
    if not (abs(rel - 1) <= 0.03):
        bad.append("sub-band %d: median ratio relative to the MFS %.4f" % (k, rel))
print("\n".join(bad) if bad else "all good")
sys.exit(1 if bad else 0)
PY
rc=$?
sed 's/^/# /' "$T/cmp.out"
check "sub-band peaks within 3 % of WSClean -join-channels" test $rc = 0
