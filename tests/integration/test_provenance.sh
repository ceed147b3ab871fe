#!/bin/sh
# tests/integration/test_provenance.sh — the FITS provenance of issue 18 item
# 4 on a calibrated simulated group (the calibrator 0834+555 transiting, the
# station table and VLA list of tests/data): every image product passes
# fitsverify; astropy reads ORIGIN 'contimg VERSION', INSTRUME 'DSA-110',
# TELESCOP, OBSGEO-X/Y/Z equal to astropy's EarthLocation.from_geodetic of the
# files' latitude/longitude/altitude (1 mm), MJD-AVG and DATE-AVG at the mid
# time of the data, CONFSHA and the HISTORY lines (version, configuration
# digest, the two tables applied); the digest is the SHA-256 of the canonical
# configuration text computed independently here with configparser and
# hashlib, and `contimgctl config check --json` prints the same; the WCS of
# the image is the same with and without the provenance keywords.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T
CTL="$BIN/contimgctl --config $D/c.conf"
mkdir -p "$D/state" "$D/prod" "$D/in"
cat >"$D/c.conf" <<CONF
[paths]
ingest_dir = $D/in
state_dir = $D/state
products_dir = $D/prod
# comments and blank lines do not enter the digest

[image]
size = 512
cell_arcsec = 4
[calibrate]
min_snr = 3
CONF
if ! $PY -c 'import astropy, h5py, numpy' 2>/dev/null; then
	fail "/usr/bin/python3 with astropy, h5py and numpy is needed"
	exit 0
fi
"$BIN/contimg-sim" --out "$D/sim" --stations "$LOCAL/dsa110/DSA110_Station_Coordinates.csv" \
	--nants 24 --nchan-per-subband 4 --ntimes 6 --random 5 \
	--calibrator "0834+555,128.72876715,55.57251971,8.8" --seed 3 --quiet
check "import the VLA calibrator list" $CTL catalog import --vla "$LOCAL/catalogs/vlacalibrators.txt"
$CTL process "$D/sim" --json >"$D/out.json" 2>"$D/err"
check "process the calibrator group: exit 0" test $? = 0
check "calibrated" grep -q '"calibrated": true' "$D/out.json"
$CTL config check --json >"$D/cc.json"
check "config check --json prints a digest" grep -q '"digest": "[0-9a-f]\{64\}"' "$D/cc.json"

FITS=$(ls "$D"/prod/*/*/*.fits)
n=$(echo "$FITS" | wc -l)
# the six MFS products and, with [image] subbands (default 4), image-SB<k>
# and pbcor-SB<k> of each sub-band
nsb=$(echo "$FITS" | grep -c -- '-SB[0-9]*\.fits$')
check "six image products and the sub-band images ($n FITS, $nsb sub-band)" \
	test "$((n - nsb))" = 6
if command -v fitsverify >/dev/null 2>&1; then
	bad=0
	for f in $FITS; do
		fitsverify -q -e "$f" >"$D/fv.out" 2>&1 || { bad=$((bad + 1)); cat "$D/fv.out" >&2; }
	done
	check "fitsverify passes all of them (no errors)" test $bad = 0
else
	fail "fitsverify is missing (Debian fitsverify, in DEPS_PKGS)"
fi

cat >"$D/prov.py" <<'PYEOF'
import configparser, glob, hashlib, json, math, os, sys, warnings
import h5py, numpy as np
from astropy.io import fits
from astropy.coordinates import EarthLocation
import astropy.units as u
from astropy.wcs import WCS
warnings.simplefilter('ignore')
d, version = sys.argv[1], sys.argv[2]
bad = []
def need(cond, what):
    if not cond:
        bad.append(what)
# The digest, independently: every key set in the file, "section.key=value",
# sorted, one per line (daemon/provenance.h).
cp = configparser.ConfigParser(interpolation=None)
cp.read(d + '/c.conf')
lines = sorted('%s.%s=%s\n' % (s, k, v) for s in cp.sections() for k, v in cp.items(s))
digest = hashlib.sha256(''.join(lines).encode()).hexdigest()
cc = json.load(open(d + '/cc.json'))
need(cc.get('digest') == digest, 'config check digest %s != %s' % (cc.get('digest'), digest))
tables = sorted(glob.glob(d + '/prod/caltables/*.h5'))
need(len(tables) == 2, 'tables %s' % tables)
sb = sorted(glob.glob(d + '/sim/*_sb00.hdf5'))[0]
with h5py.File(sb, 'r') as f:
    hd = f['Header']
    lat, lon, alt = (float(hd[k][()]) for k in ('latitude', 'longitude', 'altitude'))
    tel = hd['telescope_name'][()].decode()
    times = np.unique(hd['time_array'][()])
    tint = float(np.atleast_1d(hd['integration_time'][()])[0])
loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, alt * u.m)
xyz = [loc.x.to_value(u.m), loc.y.to_value(u.m), loc.z.to_value(u.m)]
mid_mjd = (times.min() + times.max()) / 2 - 2400000.5
for path in sorted(glob.glob(d + '/prod/*/*/*.fits')):
    name = os.path.basename(path)
    h = fits.getheader(path)
    need(h.get('ORIGIN') == 'contimg ' + version, '%s ORIGIN %r' % (name, h.get('ORIGIN')))
    need(h.get('INSTRUME') == 'DSA-110', '%s INSTRUME %r' % (name, h.get('INSTRUME')))
    # The imager names the array (the files' telescope_name is the site's, OVRO_MMA).
    need(h.get('TELESCOP') == 'DSA-110', '%s TELESCOP %r (files: %r)' % (name, h.get('TELESCOP'), tel))
    for k, v in zip(('OBSGEO-X', 'OBSGEO-Y', 'OBSGEO-Z'), xyz):
        need(k in h and abs(h[k] - v) < 1e-3, '%s %s %r vs astropy %.4f' % (name, k, h.get(k), v))
    # The group mid time: within half an integration of the middle of the
    # integration centres.
    need('MJD-AVG' in h and abs(h['MJD-AVG'] - mid_mjd) * 86400 <= tint / 2 + 1e-3,
         '%s MJD-AVG %r vs %r' % (name, h.get('MJD-AVG'), mid_mjd))
    from astropy.time import Time
    need(abs(Time(h['DATE-AVG'], scale='utc').mjd - h['MJD-AVG']) * 86400 < 2e-3,
         '%s DATE-AVG %r' % (name, h.get('DATE-AVG')))
    need(h.get('CONFSHA') == digest, '%s CONFSHA %r' % (name, h.get('CONFSHA')))
    hist = [str(x) for x in h.get('HISTORY', [])]
    need('contimg ' + version in hist, '%s HISTORY version %r' % (name, hist))
    need('sha256 ' + digest in hist, '%s HISTORY digest' % name)
    joined = ''.join(hist)
    for t in tables:
        need(t in joined, '%s HISTORY lacks table %s' % (name, t))
    # The celestial WCS does not depend on the provenance keywords.
    h2 = h.copy()
    for k in ('OBSGEO-X', 'OBSGEO-Y', 'OBSGEO-Z', 'MJD-AVG', 'DATE-AVG', 'INSTRUME', 'CONFSHA'):
        h2.remove(k, ignore_missing=True)
    del h2['HISTORY']
    w1, w2 = WCS(h).celestial, WCS(h2).celestial
    px = np.array([[0, 0], [100.5, 300.25], [h['NAXIS1'] - 1, h['NAXIS2'] - 1]])
    need(np.allclose(w1.wcs_pix2world(px, 0), w2.wcs_pix2world(px, 0), rtol=0, atol=1e-12),
         '%s WCS changed' % name)
    c = w1.wcs_pix2world([[h['CRPIX1'] - 1, h['CRPIX2'] - 1]], 0)[0]
    need(abs(c[0] - h['CRVAL1']) < 1e-9 and abs(c[1] - h['CRVAL2']) < 1e-9, '%s CRVAL' % name)
print('# OBSGEO %.3f %.3f %.3f m (astropy), MJD-AVG %.8f, digest %s' % (xyz[0], xyz[1], xyz[2], mid_mjd, digest))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PYEOF
VERSION=$("$BIN/contimgctl" --version | cut -d' ' -f2)
check "astropy: ORIGIN, INSTRUME, TELESCOP, OBSGEO (= EarthLocation), MJD-AVG, DATE-AVG, CONFSHA, HISTORY (version, digest, tables), WCS unchanged" \
	$PY "$D/prov.py" "$D" "$VERSION"
sed -n 's/^# OBSGEO/# OBSGEO/p' "$T/.last"

# The digest follows the values, not the layout: reordered keys and another
# comment give the same digest; another value another.
{ echo "[calibrate]"; echo "min_snr = 3"; echo "; other comment"; echo "[image]";
  echo "cell_arcsec = 4"; echo "size = 512"; echo "[paths]"; echo "products_dir = $D/prod";
  echo "state_dir = $D/state"; echo "ingest_dir = $D/in"; } >"$D/c2.conf"
d1=$(sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p' "$D/cc.json")
d2=$("$BIN/contimgctl" --config "$D/c2.conf" config check --json | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')
check "the same values in another order: the same digest" test "$d1" = "$d2"
d3=$(CONTIMG_IMAGE_SIZE=1024 "$BIN/contimgctl" --config "$D/c2.conf" config check --json | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')
check "an environment override changes the digest" test -n "$d3" -a "$d3" != "$d1"
