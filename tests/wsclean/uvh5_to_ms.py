#!/usr/bin/python3
"""tests/wsclean/uvh5_to_ms.py -- benchmark helper, not part of the pipeline.

Write the combined, calibrated visibilities that `contimgctl process
--export-vis` exports (UVH5, pyuvdata layout, one ICRS phase centre) as a
CASA Measurement Set, so that WSClean can image exactly what contimg's
imager images (make bench-wsclean, docs/performance.md).  Like contimg's
image stage it drops the autocorrelations and averages AVG adjacent channels
(weighted mean of the unflagged samples, weights summed, frequency = mean of
the channel centres).

    uvh5_to_ms.py IN.uvh5 OUT.ms [AVG]      (AVG default 8: 244 kHz -> 1.95 MHz)

Conventions: uvw and data go into the MS unchanged, as pyuvdata's write_ms
does.  Both the UVH5 file and the MS have uvw = position(ant2) -
position(ant1) in metres (UVW of the MS row ANTENNA1 = a1, ANTENNA2 = a2)
and V = sum S exp(+2 pi i (u l + v m + w (n - 1)) nu / c), the convention of
the DSA-110 files, pyuvdata, CASA and WSClean (../shared/data/README.md;
tests/integration/test_wsclean_oracle.sh checks that WSClean images the
exported visibilities with every source at its truth position).  Needs
Debian's python3-h5py and python3-casacore (run with /usr/bin/python3).
"""
import math
import sys

import h5py
import numpy as np
from casacore.tables import (default_ms, makearrcoldesc,
                             maketabdesc, table)


def wgs84_to_ecef(lat_deg, lon_deg, alt_m):
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    n = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return np.array([(n + alt_m) * math.cos(lat) * math.cos(lon),
                     (n + alt_m) * math.cos(lat) * math.sin(lon),
                     (n * (1 - e2) + alt_m) * math.sin(lat)])


def write_subtables(dst, site, names, positions, diameters, freqs, widths, ra0, dec0, mjds,
                    field_name="contimg"):
    """Fill the subtables of the new MS dst (made by casacore's default_ms):
    the antennas (names: station numbers; positions: ECEF offsets from the
    site, whose ECEF position is site), one spectral window (freqs, widths
    in Hz), XX and YY, one field whose PHASE_DIR is (ra0, dec0) in radians,
    and the observation's time range (mjds, MJD seconds).  Also used by
    tests/wsclean/oracle.py for the Measurement Set WSClean predicts into."""
    nant = len(names)
    ant = table(dst + "/ANTENNA", readonly=False, ack=False)
    ant.addrows(nant)
    ant.putcol("NAME", list(names))
    ant.putcol("STATION", ["DSA-%03d" % (int(n)) for n in names])
    ant.putcol("POSITION", np.asarray(positions, float) + site)
    ant.putcol("DISH_DIAMETER", np.asarray(diameters, float))
    ant.putcol("MOUNT", ["alt-az"] * nant)
    ant.putcol("TYPE", ["GROUND-BASED"] * nant)
    ant.close()

    nout = len(freqs)
    spw = table(dst + "/SPECTRAL_WINDOW", readonly=False, ack=False)
    spw.addrows(1)
    spw.putcell("NUM_CHAN", 0, nout)
    spw.putcell("CHAN_FREQ", 0, np.asarray(freqs, float))
    spw.putcell("CHAN_WIDTH", 0, np.asarray(widths, float))
    spw.putcell("EFFECTIVE_BW", 0, np.asarray(widths, float))
    spw.putcell("RESOLUTION", 0, np.asarray(widths, float))
    spw.putcell("REF_FREQUENCY", 0, float(freqs[0]))
    spw.putcell("TOTAL_BANDWIDTH", 0, float(np.sum(widths)))
    spw.putcell("MEAS_FREQ_REF", 0, 5)  # TOPO
    spw.putcell("NAME", 0, "L")
    spw.close()

    pol = table(dst + "/POLARIZATION", readonly=False, ack=False)
    pol.addrows(1)
    pol.putcell("NUM_CORR", 0, 2)
    pol.putcell("CORR_TYPE", 0, np.array([9, 12], np.int32))  # XX, YY
    pol.putcell("CORR_PRODUCT", 0, np.array([[0, 0], [1, 1]], np.int32))
    pol.close()

    dd = table(dst + "/DATA_DESCRIPTION", readonly=False, ack=False)
    dd.addrows(1)
    dd.putcell("SPECTRAL_WINDOW_ID", 0, 0)
    dd.putcell("POLARIZATION_ID", 0, 0)
    dd.close()

    fld = table(dst + "/FIELD", readonly=False, ack=False)
    fld.addrows(1)
    d = np.array([[ra0, dec0]])
    for col in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
        fld.putcell(col, 0, d)
    fld.putcell("NAME", 0, field_name)
    fld.putcell("NUM_POLY", 0, 0)
    fld.putcell("TIME", 0, float(np.mean(mjds)))
    fld.close()

    obs = table(dst + "/OBSERVATION", readonly=False, ack=False)
    obs.addrows(1)
    obs.putcell("TELESCOPE_NAME", 0, "DSA-110")
    obs.putcell("TIME_RANGE", 0, np.array([np.min(mjds), np.max(mjds)]))
    obs.putcell("OBSERVER", 0, "contimg")
    obs.close()

    feed = table(dst + "/FEED", readonly=False, ack=False)
    feed.addrows(nant)
    feed.putcol("ANTENNA_ID", np.arange(nant, dtype=np.int32))
    feed.putcol("NUM_RECEPTORS", np.full(nant, 2, np.int32))
    feed.putcol("SPECTRAL_WINDOW_ID", np.full(nant, -1, np.int32))
    feed.close()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    avg = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    f = h5py.File(src, "r")
    h = f["Header"]
    ntimes = int(h["Ntimes"][()])
    nbls = int(h["Nbls"][()])
    freq = h["freq_array"][()].reshape(-1)
    width = np.broadcast_to(h["channel_width"][()], freq.shape)
    a1 = h["ant_1_array"][()]
    a2 = h["ant_2_array"][()]
    cross = a1 != a2
    t_jd = h["time_array"][()][cross]
    uvw = h["uvw_array"][()][cross]
    a1, a2 = a1[cross], a2[cross]
    tint = h["integration_time"][()][cross]
    pols = list(h["polarization_array"][()])
    if pols != [-5, -6]:
        sys.exit("%s: expected XX, YY (-5, -6), got %s" % (src, pols))
    cat = h["phase_center_catalog"]["0"]
    ra0, dec0 = float(cat["cat_lon"][()]), float(cat["cat_lat"][()])

    nchan = len(freq)
    nout = (nchan + avg - 1) // avg
    fout = np.array([freq[c * avg:(c + 1) * avg].mean() for c in range(nout)])
    wout = np.array([width[c * avg:(c + 1) * avg].sum() for c in range(nout)])

    # Main table with DATA and WEIGHT_SPECTRUM.
    desc = maketabdesc([
        makearrcoldesc("DATA", 0j, ndim=2, shape=[nout, 2], valuetype="complex"),
        makearrcoldesc("WEIGHT_SPECTRUM", 0.0, ndim=2, shape=[nout, 2], valuetype="float"),
    ])
    ms = default_ms(dst, desc)
    nrow = len(t_jd)
    ms.addrows(nrow)
    ms.putcol("ANTENNA1", a1.astype(np.int32))
    ms.putcol("ANTENNA2", a2.astype(np.int32))
    # UVW and data are copied unchanged, as pyuvdata's write_ms does: the MS
    # row (ANTENNA1 = a1, ANTENNA2 = a2) gets the file's pos[a2] - pos[a1],
    # and WSClean's Fourier kernel has the same sign as the file's
    # (tests/integration/test_wsclean_oracle.sh measures both directions).
    ms.putcol("UVW", uvw)
    mjds = (t_jd - 2400000.5) * 86400.0
    ms.putcol("TIME", mjds)
    ms.putcol("TIME_CENTROID", mjds)
    ms.putcol("INTERVAL", tint)
    ms.putcol("EXPOSURE", tint)
    for col in ("FIELD_ID", "DATA_DESC_ID", "SCAN_NUMBER", "OBSERVATION_ID", "ARRAY_ID",
                "PROCESSOR_ID", "STATE_ID", "FEED1", "FEED2"):
        ms.putcol(col, np.zeros(nrow, np.int32))

    vis_ds, flag_ds, ns_ds = f["Data/visdata"], f["Data/flags"], f["Data/nsamples"]
    rows_all = np.nonzero(cross)[0]
    step = 8192
    for r0 in range(0, nrow, step):
        r1 = min(nrow, r0 + step)
        lo, hi = rows_all[r0], rows_all[r1 - 1] + 1
        sel = rows_all[r0:r1] - lo
        vis = vis_ds[lo:hi][sel].reshape(r1 - r0, nchan, 2)
        flg = flag_ds[lo:hi][sel].reshape(r1 - r0, nchan, 2)
        wgt = ns_ds[lo:hi][sel].reshape(r1 - r0, nchan, 2).astype(np.float64)
        wgt[flg | ~np.isfinite(vis.real) | ~np.isfinite(vis.imag)] = 0
        vis = np.where(wgt > 0, vis, 0)
        pad = nout * avg - nchan
        if pad:
            vis = np.concatenate([vis, np.zeros((r1 - r0, pad, 2), vis.dtype)], axis=1)
            wgt = np.concatenate([wgt, np.zeros((r1 - r0, pad, 2))], axis=1)
        ws = wgt.reshape(r1 - r0, nout, avg, 2).sum(axis=2)
        vs = (vis * wgt).reshape(r1 - r0, nout, avg, 2).sum(axis=2)
        vm = np.where(ws > 0, vs / np.where(ws > 0, ws, 1), 0).astype(np.complex64)
        ms.putcol("DATA", vm, startrow=r0, nrow=r1 - r0)
        ms.putcol("WEIGHT_SPECTRUM", ws.astype(np.float32), startrow=r0, nrow=r1 - r0)
        ms.putcol("FLAG", ws <= 0, startrow=r0, nrow=r1 - r0)
        ms.putcol("WEIGHT", ws.sum(axis=1).astype(np.float32), startrow=r0, nrow=r1 - r0)
        ms.putcol("SIGMA", np.ones((r1 - r0, 2), np.float32), startrow=r0, nrow=r1 - r0)

    # Subtables.
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in h["antenna_names"][()]]
    write_subtables(dst, site=wgs84_to_ecef(float(h["latitude"][()]), float(h["longitude"][()]),
                                            float(h["altitude"][()])),
                    names=names, positions=h["antenna_positions"][()],
                    diameters=h["antenna_diameters"][()], freqs=fout, widths=wout,
                    ra0=ra0, dec0=dec0, mjds=mjds)
    ms.close()
    print("%s: %d rows, %d channels of %.4f MHz (%d averaged), %d times x %d baselines"
          % (dst, nrow, nout, wout[0] / 1e6, avg, ntimes, nbls))


if __name__ == "__main__":
    main()
