#!/bin/sh
# tests/integration/test_subband.sh — sub-band imaging and the in-band
# spectral index through the whole pipeline (issue 17, item 2).
#
# contimg-sim makes a 24-antenna group (16 × 4 channels, 1.31–1.50 GHz,
# thermal noise, unit gains) of three sources with spectral indices −0.7,
# +1.0 and 0 (S(ν) = S·(ν/1.4 GHz)^α, core/predict.c); `contimgctl process`
# images it with [image] subbands = 4 and measures it.  Checked: the eight
# sub-band FITS files exist with their FREQ axis at increasing sub-band
# frequencies inside the band and the MFS image's celestial WCS; every
# source has four sub-band rows and a spectral index within 3σ (and 0.2) of
# its truth; the three indices are told apart (the steep one below the flat
# one below the inverted one).  Negative control: with subbands = 0 there
# are no sub-band files and no rows.  About 30 s on 2 cores.
. "$(dirname "$0")/lib.sh"
CTL=$BIN/contimgctl
PY=/usr/bin/python3
cat >"$T/sky.csv" <<CSV
name,ra_deg,dec_deg,flux_mjy,spectral_index
SRC_STEEP,127.95,54.95,2000,-0.7
SRC_INV,128.25,54.75,1500,1.0
SRC_FLAT,127.75,54.70,1200,0.0
CSV
"$BIN/contimg-sim" --tiny --nants 24 --no-gains --sky "$T/sky.csv" --seed 5 --out "$T/sim" \
	>"$T/sim.log" 2>&1
check "contimg-sim writes the group" test -s "$(ls "$T"/sim/truth_*.json | head -1)"

run() { # run DIR SUBBANDS: process the group with its own state
	mkdir -p "$1/state" "$1/products" "$1/ingest" "$1/in"
	cat >"$1/contimg.conf" <<CONF
[paths]
ingest_dir = $1/ingest
state_dir = $1/state
products_dir = $1/products
[image]
size = 1024
cell_arcsec = 6
subbands = $2
CONF
	ln -sf "$T"/sim/*.hdf5 "$1/in/"
	CONTIMG_CONFIG=$1/contimg.conf "$CTL" catalog import --csv "$T/sky.csv" >/dev/null &&
		CONTIMG_CONFIG=$1/contimg.conf OMP_WAIT_POLICY=passive "$CTL" process "$1/in" \
			--json >"$1/p.json" 2>"$1/p.err"
}
check "process with subbands = 4" run "$T/a" 4
check "process with subbands = 0" run "$T/b" 0
# Every connection process opened (the state database, the catalog it read)
# was closed and checkpointed: no -wal or -shm is left in state_dir.
check "no -wal or -shm left in state_dir after process" sh -c \
	"ls '$T/a/state' | grep -q catalog.sqlite && [ -z \"\$(find '$T/a/state' '$T/b/state' -name '*-wal' -o -name '*-shm')\" ]"

$PY - "$T/a" "$T/sim" >"$T/a.out" 2>&1 <<'PY'
import glob, json, sqlite3, sys
from astropy.io import fits
d, sim = sys.argv[1], sys.argv[2]
truth = {s["name"]: s for s in json.load(open(glob.glob(sim + "/truth_*.json")[0]))["sources"]}
bad = []
mfs = fits.getheader(glob.glob(d + "/products/*/*/*.image.fits")[0])
freqs = []
for k in range(4):
    for kind in ("image", "pbcor"):
        f = glob.glob(d + "/products/*/*/*.%s-SB%d.fits" % (kind, k))
        if len(f) != 1:
            bad.append("no %s-SB%d" % (kind, k)); continue
        h = fits.getheader(f[0])
        for key in ("CRVAL1", "CRVAL2", "CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "BMAJ"):
            if h[key] != mfs[key]:
                bad.append("%s-SB%d %s %r != %r" % (kind, k, key, h[key], mfs[key]))
        if h["CTYPE3"] != "FREQ" or h["SUBBAND"] != k:
            bad.append("%s-SB%d axis 3 / SUBBAND" % (kind, k))
        if kind == "image":
            freqs.append(h["CRVAL3"])
if freqs != sorted(freqs) or not (1.30e9 < freqs[0] and freqs[-1] < 1.50e9):
    bad.append("sub-band frequencies %r" % freqs)
db = sqlite3.connect(d + "/state/contimg.sqlite")
alpha = {}
for src, a, e, n in db.execute("SELECT source, alpha, alpha_err, npoints FROM photometry_spindex"):
    t = truth[src]["alpha"]
    print("%s alpha %.3f +- %.3f truth %.2f (%d sub-bands)" % (src, a, e, t, n))
    alpha[src] = a
    if n != 4 or not (abs(a - t) <= 3 * e and abs(a - t) <= 0.2):
        bad.append("%s alpha %.3f +- %.3f vs %.2f" % (src, a, e, t))
for src in truth:
    n = db.execute("SELECT COUNT(*) FROM photometry_subband WHERE source = ? AND flux_jy > 0",
                   (src,)).fetchone()[0]
    if n != 4:
        bad.append("%s: %d sub-band rows" % (src, n))
if len(alpha) == 3 and not (alpha["SRC_STEEP"] < alpha["SRC_FLAT"] < alpha["SRC_INV"]):
    bad.append("indices not ordered")
print("\n".join(bad) if bad else "all good")
sys.exit(1 if bad else 0)
PY
rc=$?
sed 's/^/# /' "$T/a.out"
check "sub-band FITS, rows and spectral indices match the truth" test $rc = 0
check "subbands = 0: no sub-band files" test -z "$(ls "$T"/b/products/*/*/ | grep -- '-SB')"
check "subbands = 0: no sub-band rows" test "$($PY -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute('SELECT COUNT(*) FROM photometry_subband').fetchone()[0])" "$T/b/state/contimg.sqlite")" = 0
