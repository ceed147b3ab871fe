#!/usr/bin/python3
"""tests/wsclean/oracle.py -- WSClean 3.1 and casacore as the sign and frame
authority for contimg (tests/integration/test_wsclean_oracle.sh).

contimg's simulator, its tests and its pipeline could agree on a wrong sign
or frame, so the visibilities here are made by a program nobody in this
project wrote: `wsclean -predict` fills the MODEL_DATA of a small Measurement
Set of known point sources, and those visibilities become a DSA-110 group
with uvw and data unchanged.  The way back images contimg's export with
WSClean.  Run with /usr/bin/python3 (Debian's python3-casacore, -astropy,
-h5py, -erfa, -numpy).

  oracle.py ms DIR --template GROUP_DIR [--time ISO] [--dec DEG]
      DIR/oracle.ms: one integration (centre ISO, UTC), STATIONS of the
      template group's antenna_positions, every pair in the correlator's
      order (STATIONS is the input order: 21 rows have ant_1 > ant_2, as in
      the real files), 16 subbands x 2 channels of 5.86 MHz over the
      DSA-110 band, UVW = the DSA file's uvw_array (float32) unchanged, DATA
      zero, PHASE_DIR = the drift phase centre (below).  DIR/setup.json keeps
      what `group` needs.

  oracle.py model DIR TEMPLATE.fits
      DIR/wsc-model.fits: WSClean's own image header (TEMPLATE.fits, an
      image WSClean made of oracle.ms) with SOURCES on exact pixel centres;
      DIR/truth_oracle.json: their positions converted to ICRS, in the
      truth format of tests/integration/truthcheck.c.

  oracle.py group DIR OUT_DIR [--conjugate] [--flagged-after N | --mislabel-late N]
      OUT_DIR: the DSA-110 group (SPEC section 2) whose visdata are the
      MODEL_DATA WSClean predicted (XX and YY), unchanged or, as a negative
      control, complex conjugated.  --flagged-after appends N flagged
      integrations, which moves the group's mid time and so its fixed phase
      centre away from the data's drift centre (exercising the sign of the
      rephasing's phase term); --mislabel-late, its negative control, puts
      the N flagged integrations first and so labels the data N
      integrations late (a phase-centre error of the size a wrong rephasing
      sign makes).  Prints how well the recipe's model
      (../shared/data/README.md, both signs) matches WSClean's prediction.

  oracle.py measure IMAGE.fits TRUTH.json [--expect normal|mirrored|moved] ...
      Per truth source: the position of the peak near it (astropy WCS, a
      quadratic fit to the log of the 3x3 pixels around the brightest pixel)
      and its offset, peak / flux, and the largest |value| near the truth
      position and near the mirror position (the source reflected through
      the image's reference point, (l, m) -> (-l, -m) in the SIN projection
      about CRVAL), as fractions of the flux.  Exit status 0 when the
      expectation holds: normal, every source within --max-offset-pix,
      peak within --ratio-tol and < --max-mirror at its mirror; mirrored,
      >= --min-mirror at every mirror and <= --max-at-truth at every truth
      position; moved, <= --max-at-truth at every truth position.

  oracle.py negate-uvw MS
      Multiply the UVW column of MS by -1 (the old uvh5_to_ms.py workaround
      for contimg's former sign), for the way back's negative control.

  oracle.py sim-inputs DIR
      For contimg's own prediction (core/predict.c, through contimg-sim):
      DIR/sky_oracle.csv, the truth as a contimg-sim --sky catalogue;
      DIR/sim.args, contimg-sim's options for the forward group's
      observation (--start = the integration centre - tau/2, --ntimes 1,
      --dec, --nchan-per-subband 2, --active STATIONS); DIR/pbJ-model.fits
      (J = 0, 1, 2), WSClean's model with fluxes S c_J, where
      A(nu) = sum_J c_J x^J is contimg's Airy beam (4.65 m) at each source
      fitted over the band (x = -1..1), since contimg-sim applies the beam
      and WSClean does not.

  oracle.py predict-check DIR SIM_DIR FWD_DIR
      contimg-sim's group SIM_DIR against the forward group FWD_DIR: the
      same baselines in the same order, channels, time and uvw (< 1 mm; exit
      status 1 otherwise); then the complex coherence of its
      cross-correlations with WSClean's prediction of S*A, sum_J x^J times
      the MODEL_DATA WSClean predicted from pbJ-model.fits into DIR/pbJ.ms
      (its linearity), and with that prediction's conjugate, and the ratio
      of their rms.

The frames.  A DSA-110 file's uvw are R(H_G = -longitude, dec0) applied to
pos[a2] - pos[a1] (the recipe in ../shared/data/README.md), i.e. the phase
centre at hour angle 0 and apparent declination dec0 at the integration
centre, and the recipe's l, m, n (with H = ERA + east longitude - RA_CIRS)
are exactly the SIN projection in the CIRS frame about (RA = ERA +
longitude, Dec = dec0).  So WSClean is given that CIRS position as
PHASE_DIR and the model image's WCS is WSClean's own for that PHASE_DIR:
WSClean uses the numbers (it converts no frame, checked by `group`, which
compares its prediction with the recipe's model of the ICRS truth).  The
truth is the model pixels' CIRS positions converted to ICRS with ERFA
(eraAtic13, UT1 = UTC as contimg's default dut1 = 0).  WSClean predicts no
primary beam, so contimg's image (not the pbcor one) should show the full
flux S.
"""
import argparse
import json
import math
import os
import sys
import warnings

import erfa
import h5py
import numpy as np

# WSClean's headers have DATE-OBS but no MJD-OBS; astropy's note about
# deriving one is noise here.
warnings.filterwarnings("ignore", message=".*datfix.*")
warnings.filterwarnings("ignore", message=".*MJD-OBS.*")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "recipe"))
import recipe_sim  # noqa: E402  (the recipe: hour angle, l m n, uvw, times)
import uvh5_to_ms  # noqa: E402  (the Measurement Set subtables)

C = 299792458.0

# 28 active DSA-110 stations (none of 10, 21-23, 52-67, 117): 12 on the
# east-west arm, 8 on the north-south arm and 8 outriggers chosen for long
# east-west as well as north-south baselines, so that one integration gives
# a beam CLEAN can deconvolve and a position can be fitted along either axis.
# Listed in the correlator's input order that contimg-sim uses by default
# (docs/simulator.md): DSA-102 and DSA-116 right after the east-west arm, so
# the rows (102, x) and (116, x) of the stations after them have
# ant_1 > ant_2 (21 of the 406 baselines), which WSClean takes as they are.
STATIONS = [2, 6, 11, 15, 20, 25, 29, 33, 37, 42, 46, 51,
            102, 116,
            68, 72, 77, 82, 87, 92, 97,
            103, 104, 106, 109, 111, 114, 115]

# Sources: name, offset east and north of the phase centre (degrees; moved
# to the nearest pixel centre of WSClean's model image), flux (Jy, flat
# spectrum).  Asymmetric, so that no source's mirror (-l, -m) lies near
# another source.
SOURCES = [("wsc_a", 0.42, 0.17, 5.0),
           ("wsc_b", -0.27, 0.46, 3.0),
           ("wsc_c", 0.08, -0.55, 2.0),
           ("wsc_d", -0.58, -0.21, 1.5),
           ("wsc_e", 0.21, 0.31, 1.0)]

NSUB = 16                        # subband files, sb00 the highest frequencies
NCHAN_SB = 2                     # channels per file
CHAN_WIDTH = 24 * 244140.625     # Hz: 16 x 2 channels cover the 187.5 MHz band
TOP_EDGE_HZ = 1498765270.3125    # upper edge of sb00 (SPEC section 2, the reference files)
INT_TIME = 12.884901888          # s, the correlator's integration
NSAMPLES = 24.0
SEFD = 0.0                       # noise-free: the comparison is geometric


def baseline_order(ants):
    """The correlator's order (dsa110-antpos get_baselines): for each antenna
    of the input order, every antenna before it, then itself."""
    a1 = [a for j, _ in enumerate(ants) for a in ants[:j + 1]]
    a2 = [b for j, b in enumerate(ants) for _ in ants[:j + 1]]
    return np.array(a1, np.int64), np.array(a2, np.int64)


def freqs_descending():
    """All channel centres, sb00's first (highest) to sb15's last."""
    k = np.arange(NSUB * NCHAN_SB)
    return TOP_EDGE_HZ - (k + 0.5) * CHAN_WIDTH


def cmd_ms(args):
    from casacore.tables import default_ms, makearrcoldesc, maketabdesc
    files = recipe_sim.subband_files(args.template)
    with h5py.File(files[0], "r") as f:
        h = f["Header"]
        tel = {k: h[k][()] for k in ("antenna_positions", "antenna_numbers", "antenna_names",
                                     "antenna_diameters", "latitude", "longitude", "altitude")}
    numbers = [int(x) for x in tel["antenna_numbers"]]
    if numbers != list(range(len(numbers))):
        sys.exit("oracle: the template's antenna_numbers are not 0..N-1")
    names = [x.decode() if isinstance(x, bytes) else str(x) for x in tel["antenna_names"]]
    ants = [s - 1 for s in STATIONS]
    for a in ants:
        if int(names[a]) != a + 1:
            sys.exit("oracle: antenna number %d is not station %d" % (a, a + 1))
    a1, a2 = baseline_order(ants)
    dec0 = math.radians(args.dec)
    lon = math.radians(float(tel["longitude"]))
    hdr = {"longitude": np.asarray(tel["longitude"]), "antenna_positions": tel["antenna_positions"],
           "antenna_numbers": tel["antenna_numbers"], "ant_1_array": a1, "ant_2_array": a2}
    # The file stores uvw as float32; the MS gets exactly those values.
    uvw = recipe_sim.baseline_uvw(hdr, dec0).astype(np.float32)
    # The integration centre as the file's time_array holds it (one float64
    # JD), used for every quantity derived from the time.
    t1, t2 = recipe_sim.jd_of_iso(args.time)
    jd = t1 + t2
    # The drift phase centre in CIRS: hour angle 0 at the integration centre.
    ra0 = (erfa.era00(jd, 0.0) + lon) % (2 * math.pi)
    f_desc = freqs_descending()
    f_asc = f_desc[::-1].copy()
    nchan = len(f_asc)

    os.makedirs(args.dir, exist_ok=True)
    dst = os.path.join(args.dir, "oracle.ms")
    desc = maketabdesc([makearrcoldesc("DATA", 0j, ndim=2, shape=[nchan, 2], valuetype="complex")])
    ms = default_ms(dst, desc)
    nrow = len(a1)
    ms.addrows(nrow)
    ms.putcol("ANTENNA1", a1.astype(np.int32))
    ms.putcol("ANTENNA2", a2.astype(np.int32))
    ms.putcol("UVW", uvw.astype(np.float64))
    mjds = np.full(nrow, (jd - 2400000.5) * 86400.0)
    ms.putcol("TIME", mjds)
    ms.putcol("TIME_CENTROID", mjds)
    ms.putcol("INTERVAL", np.full(nrow, INT_TIME))
    ms.putcol("EXPOSURE", np.full(nrow, INT_TIME))
    for col in ("FIELD_ID", "DATA_DESC_ID", "SCAN_NUMBER", "OBSERVATION_ID", "ARRAY_ID",
                "PROCESSOR_ID", "STATE_ID", "FEED1", "FEED2"):
        ms.putcol(col, np.zeros(nrow, np.int32))
    ms.putcol("DATA", np.zeros((nrow, nchan, 2), np.complex64))
    ms.putcol("FLAG", np.zeros((nrow, nchan, 2), bool))
    ms.putcol("WEIGHT", np.ones((nrow, 2), np.float32))
    ms.putcol("SIGMA", np.ones((nrow, 2), np.float32))
    site = uvh5_to_ms.wgs84_to_ecef(float(tel["latitude"]), float(tel["longitude"]),
                                    float(tel["altitude"]))
    # PHASE_DIR is labelled J2000 (default_ms's frame) but holds CIRS numbers:
    # WSClean takes the numbers, and so does everything measured here.
    uvh5_to_ms.write_subtables(dst, site=site, names=names, positions=tel["antenna_positions"],
                               diameters=tel["antenna_diameters"], freqs=f_asc,
                               widths=np.full(nchan, CHAN_WIDTH), ra0=ra0, dec0=dec0,
                               mjds=mjds, field_name="oracle")
    ms.close()
    setup = {"time_isot": args.time, "jd": jd, "dec0_rad": dec0, "ra0_cirs_rad": ra0,
             "lat_deg": float(tel["latitude"]), "lon_deg": float(tel["longitude"]),
             "alt_m": float(tel["altitude"]), "stations": STATIONS,
             "ant_1_array": a1.tolist(), "ant_2_array": a2.tolist(),
             "uvw_array": uvw.astype(float).tolist(), "freq_desc_hz": f_desc.tolist(),
             "antenna_positions": np.asarray(tel["antenna_positions"], float).tolist(),
             "antenna_names": names, "antenna_diameters": np.asarray(tel["antenna_diameters"],
                                                                     float).tolist()}
    with open(os.path.join(args.dir, "setup.json"), "w") as f:
        json.dump(setup, f)
    print("oracle.ms: %d stations, %d rows, %d channels %.2f-%.2f MHz, phase centre (CIRS) "
          "RA %.6f Dec %.6f deg at %s" % (len(ants), nrow, nchan, f_asc[0] / 1e6, f_asc[-1] / 1e6,
                                          math.degrees(ra0), args.dec, args.time))
    return 0


def sin_offset_to_world(l, m, ra0, dec0):
    """The direction at SIN-projection offsets (l, m) about (ra0, dec0)."""
    n = math.sqrt(1.0 - l * l - m * m)
    dec = math.asin(m * math.cos(dec0) + n * math.sin(dec0))
    ra = ra0 + math.atan2(l, n * math.cos(dec0) - m * math.sin(dec0))
    return ra % (2 * math.pi), dec


def world_to_sin_offset(ra, dec, ra0, dec0):
    l = math.cos(dec) * math.sin(ra - ra0)
    m = math.sin(dec) * math.cos(dec0) - math.cos(dec) * math.sin(dec0) * math.cos(ra - ra0)
    return l, m


def load_setup(d):
    with open(os.path.join(d, "setup.json")) as f:
        return json.load(f)


def cmd_model(args):
    from astropy.io import fits
    from astropy.wcs import WCS
    setup = load_setup(args.dir)
    ra0, dec0 = setup["ra0_cirs_rad"], setup["dec0_rad"]
    with fits.open(args.template) as h:
        hdr = h[0].header.copy()
        shape = h[0].data.shape
    w = WCS(hdr).celestial
    # WSClean's image must be centred on the PHASE_DIR it was given.
    dra = (float(hdr["CRVAL1"]) - math.degrees(ra0) + 180) % 360 - 180
    ddec = float(hdr["CRVAL2"]) - math.degrees(dec0)
    if abs(dra) * 3600 > 1e-3 or abs(ddec) * 3600 > 1e-3:
        sys.exit("oracle: WSClean's image is centred %.4f\" / %.4f\" away from PHASE_DIR"
                 % (dra * 3600, ddec * 3600))
    ny, nx = shape[-2], shape[-1]
    model = np.zeros(shape, np.float32)
    tt1, tt2 = recipe_sim.tt_of(setup["jd"])
    sources = []
    for name, east, north, flux in SOURCES:
        ra, dec = sin_offset_to_world(math.radians(east), math.radians(north), ra0, dec0)
        x, y = w.all_world2pix([[math.degrees(ra), math.degrees(dec)]], 0)[0]
        px, py = int(round(float(x))), int(round(float(y)))
        if not (8 <= px < nx - 8 and 8 <= py < ny - 8):
            sys.exit("oracle: %s falls outside the %dx%d image" % (name, nx, ny))
        model[..., py, px] = flux
        # The pixel centre's position is the source's CIRS position.
        rc, dc = (math.radians(v) for v in w.all_pix2world([[px, py]], 0)[0])
        ri, di, _ = erfa.atic13(rc, dc, tt1, tt2)
        sources.append({"name": name, "ra": math.degrees(ri) % 360, "dec": math.degrees(di),
                        "flux": flux, "alpha": 0.0, "cirs_ra": math.degrees(rc),
                        "cirs_dec": math.degrees(dc), "model_pixel": [px, py]})
    # Every mirror (-l, -m) must be well away from every other source.
    lm = [world_to_sin_offset(math.radians(s["cirs_ra"]), math.radians(s["cirs_dec"]), ra0, dec0)
          for s in sources]
    closest = min(math.hypot(-a[0] - b[0], -a[1] - b[1]) for i, a in enumerate(lm)
                  for j, b in enumerate(lm) if i != j)
    if math.degrees(closest) < 0.1:
        sys.exit("oracle: a mirror position lies %.3f deg from another source" % math.degrees(closest))
    hdr["BUNIT"] = "JY/PIXEL"
    fits.PrimaryHDU(model, hdr).writeto(os.path.join(args.dir, "wsc-model.fits"), overwrite=True)
    truth = {"made_by": "tests/wsclean/oracle.py (WSClean -predict model, CIRS pixel centres "
                        "-> ICRS with eraAtic13)",
             "time_isot": setup["time_isot"], "dec": math.degrees(dec0),
             "phase_dir_cirs_deg": [math.degrees(ra0), math.degrees(dec0)],
             "sigma_vis": 0.0, "sefd": SEFD, "sources": sources}
    with open(os.path.join(args.dir, "truth_oracle.json"), "w") as f:
        json.dump(truth, f, indent=1)
    cell = abs(float(hdr["CDELT2"])) * 3600
    for s in sources:
        print("model %s %.1f Jy pixel (%d, %d) CIRS %.6f %+.6f ICRS %.6f %+.6f" %
              (s["name"], s["flux"], s["model_pixel"][0], s["model_pixel"][1], s["cirs_ra"],
               s["cirs_dec"], s["ra"], s["dec"]))
    print("model: %dx%d at %.2f\", closest mirror-to-source distance %.3f deg" %
          (nx, ny, cell, math.degrees(closest)))
    return 0


def recipe_model(setup, sources, uvw, freqs, sign):
    """The recipe's visibilities of the ICRS truth without a primary beam:
    sum S exp(sign 2 pi i (u l + v m + w (n - 1)) nu / c), l m n from
    eraAtci13 and H = ERA + longitude - RA_CIRS (recipe_sim.source_lmn)."""
    jd = setup["jd"]
    lon = math.radians(setup["lon_deg"])
    vis = np.zeros((uvw.shape[0], len(freqs)), complex)
    for s in sources:
        l, m, n = recipe_sim.source_lmn(math.radians(s["ra"]), math.radians(s["dec"]), jd, lon,
                                        setup["dec0_rad"])
        path = uvw[:, 0] * l + uvw[:, 1] * m + uvw[:, 2] * (n - 1.0)
        vis += s["flux"] * np.exp(sign * 2j * np.pi * path[:, None] * freqs[None, :] / C)
    return vis


def coherence(a, b):
    return abs(np.vdot(b, a)) / math.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)


def cmd_group(args):
    from casacore.tables import table
    setup = load_setup(args.dir)
    with open(os.path.join(args.dir, "truth_oracle.json")) as f:
        truth = json.load(f)
    t = table(os.path.join(args.dir, "oracle.ms"), ack=False)
    model = t.getcol("MODEL_DATA")        # (row, channel ascending, XX/YY)
    uvw_ms = t.getcol("UVW")
    t.close()
    a1 = np.array(setup["ant_1_array"], np.int64)
    a2 = np.array(setup["ant_2_array"], np.int64)
    uvw = np.array(setup["uvw_array"], np.float32)
    if np.max(np.abs(uvw_ms - uvw.astype(np.float64))) != 0.0:
        sys.exit("oracle: the MS's UVW differ from the file's uvw_array")
    f_desc = np.array(setup["freq_desc_hz"])
    f_asc = f_desc[::-1]
    cross = a1 != a2
    xx, yy = model[..., 0], model[..., 1]
    if not np.allclose(xx, yy, rtol=0, atol=1e-6 * np.abs(xx).max()):
        sys.exit("oracle: WSClean's XX and YY differ for an unpolarised model")
    if not args.conjugate:
        u64 = uvw.astype(np.float64)[cross]
        plus = recipe_model(setup, truth["sources"], u64, f_asc, +1)
        minus = recipe_model(setup, truth["sources"], u64, f_asc, -1)
        d = xx[cross]
        rms = math.sqrt(np.mean(np.abs(d - plus) ** 2) / np.mean(np.abs(plus) ** 2))
        # One line per fact, "key value" pairs for the test's awk.
        print("recipe coherence_plus %.6f coherence_minus %.6f rms_rel %.2e (wsclean -predict vs "
              "recipe_sim's model of the ICRS truth, cross-correlations, no beam)" %
              (coherence(d, plus), coherence(d, minus), rms))
        print("WSClean's autocorrelations: %.3g Jy (the files get the sum of the fluxes, %.1f Jy)"
              % (float(np.max(np.abs(xx[~cross]))), sum(s["flux"] for s in truth["sources"])))
    vis = np.conj(model) if args.conjugate else model
    # WSClean predicts no autocorrelations (it leaves them 0); the files
    # carry them, so they get a point-source sky's zero-spacing value, the
    # sum of the fluxes (contimg never images them; its flagger reads them
    # to find dead antennas).
    vis = vis.copy()
    vis[~cross] = sum(s["flux"] for s in truth["sources"])

    # The group: file timestamps a little after the integration's start, as
    # the correlator nodes open their files (up to 2 s apart).
    jd = setup["jd"]
    start = jd - INT_TIME / 2 / 86400.0
    group = recipe_sim.iso_of(start, 0)
    os.makedirs(args.out, exist_ok=True)
    nbl = len(a1)
    nant = len(setup["antenna_names"])
    if args.flagged_after and args.mislabel_late:
        sys.exit("oracle: --flagged-after and --mislabel-late exclude each other")
    late = args.mislabel_late > 0
    nflag = args.mislabel_late if late else args.flagged_after
    ntimes = 1 + nflag
    times = jd + np.arange(ntimes) * INT_TIME / 86400.0
    for sb in range(NSUB):
        stamp = recipe_sim.iso_of(start + (sb % 3) / 86400.0, 0)
        path = os.path.join(args.out, "%s_sb%02d.hdf5" % (stamp, sb))
        f_sb = f_desc[sb * NCHAN_SB:(sb + 1) * NCHAN_SB]
        # The MS's channels ascend; this file's descend from sb * NCHAN_SB.
        idx = [len(f_desc) - 1 - (sb * NCHAN_SB + j) for j in range(NCHAN_SB)]
        data = vis[:, idx, :].astype(np.complex64)[:, None, :, :]
        flags = np.zeros(data.shape, bool)
        if nflag:
            # Time-major: all baselines of one integration, then the next;
            # the flagged ones have zero data.
            fz = np.zeros((nbl * nflag,) + data.shape[1:], data.dtype)
            fo = np.ones((nbl * nflag,) + flags.shape[1:], bool)
            data = np.concatenate([fz, data] if late else [data, fz])
            flags = np.concatenate([fo, flags] if late else [flags, fo])
        with h5py.File(path, "w") as g:
            h = g.create_group("Header")
            ints = {"Nants_data": len(STATIONS), "Nants_telescope": nant, "Nbls": nbl,
                    "Nblts": nbl * ntimes, "Ntimes": ntimes, "Nfreqs": NCHAN_SB, "Npols": 2, "Nspws": 1}
            for k, v in ints.items():
                h.create_dataset(k, data=np.int64(v))
            h.create_dataset("ant_1_array", data=np.tile(a1, ntimes))
            h.create_dataset("ant_2_array", data=np.tile(a2, ntimes))
            h.create_dataset("antenna_numbers", data=np.arange(nant, dtype=np.int64))
            h.create_dataset("antenna_names", data=np.array([n.encode() for n in setup["antenna_names"]],
                                                            "S4"))
            h.create_dataset("antenna_positions", data=np.array(setup["antenna_positions"]))
            h.create_dataset("antenna_diameters", data=np.array(setup["antenna_diameters"]))
            h.create_dataset("latitude", data=np.float64(setup["lat_deg"]))
            h.create_dataset("longitude", data=np.float64(setup["lon_deg"]))
            h.create_dataset("altitude", data=np.float64(setup["alt_m"]))
            h.create_dataset("time_array", data=np.repeat(times, nbl))
            h.create_dataset("integration_time", data=np.full(nbl * ntimes, INT_TIME))
            h.create_dataset("uvw_array", data=np.tile(uvw, (ntimes, 1)))
            h.create_dataset("freq_array", data=f_sb[None, :])
            h.create_dataset("channel_width", data=np.float64(CHAN_WIDTH))
            h.create_dataset("polarization_array", data=np.array([-5, -6], np.int64))
            h.create_dataset("spw_array", data=np.array([1], np.int64))
            h.create_dataset("phase_type", data=np.bytes_("drift"))
            h.create_dataset("telescope_name", data=np.bytes_("OVRO_MMA"))
            h.create_dataset("instrument", data=np.bytes_("DSA"))
            h.create_dataset("object_name", data=np.bytes_("oracle"))
            h.create_dataset("history", data=np.bytes_("tests/wsclean/oracle.py: wsclean -predict"
                                                       + (", conjugated" if args.conjugate else "")))
            h.create_dataset("phase_center_app_dec", data=np.float64(setup["dec0_rad"]))
            e = h.create_group("extra_keywords")
            e.create_dataset("phase_center_dec", data=np.float64(setup["dec0_rad"]))
            e.create_dataset("ha_phase_center", data=np.float64(0.0))
            e.create_dataset("phase_center_epoch", data="HADEC", dtype=h5py.string_dtype())
            dg = g.create_group("Data")
            dg.create_dataset("visdata", data=data)
            dg.create_dataset("flags", data=flags)
            dg.create_dataset("nsamples", data=np.full(data.shape, NSAMPLES, np.float32))
    with open(os.path.join(args.out, "truth_%s.json" % group), "w") as f:
        json.dump(dict(truth, group=group, conjugated=bool(args.conjugate)), f, indent=1)
    print("group %s: %d files x %d channels, %d baselines (autocorrelations included), %s%s" %
          (group, NSUB, NCHAN_SB, nbl, "conjugated" if args.conjugate else "data unchanged",
           (", labelled %d integration(s) late after as many flagged ones" if late else
            ", then %d flagged integration(s)") % nflag if nflag else ""))
    return 0


# contimg's model prediction (core/predict.c, through contimg-sim) against
# WSClean's.  contimg-sim applies the primary beam A, WSClean's prediction
# has none, so WSClean predicts S*A: A_s(nu) is a quadratic in
# x = (nu - nu_mid) / (half the band) per source, A_s = sum_j c_sj x^j, and
# WSClean predicts the three models with fluxes S_s c_sj (DIR/pbJ-model.fits,
# into copies pbJ.ms of oracle.ms); by its linearity sum_j x^j V_j is its
# prediction of S*A_fit.
PB_TERMS = 3
DISH_M = 4.65                    # contimg's Airy beam (core/beam.h)


def airy_power(sin_theta, freq_hz):
    """[2 J1(x) / x]^2, x = pi D nu sin(theta) / c (core/beam.h's definition;
    J1 by recipe_sim's power series)."""
    x = math.pi * DISH_M * sin_theta * np.asarray(freq_hz, float) / C
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, (2 * recipe_sim.j1(safe) / safe) ** 2)


def band_x(freqs):
    f = np.asarray(freqs, float)
    lo, hi = freqs_descending()[-1], freqs_descending()[0]
    return (f - 0.5 * (lo + hi)) / (0.5 * (hi - lo))


def cmd_sim_inputs(args):
    """contimg-sim's inputs for the forward group's observation, and the
    beam-weighted models WSClean predicts for the comparison."""
    from astropy.io import fits
    setup = load_setup(args.dir)
    with open(os.path.join(args.dir, "truth_oracle.json")) as f:
        truth = json.load(f)
    with open(os.path.join(args.dir, "sky_oracle.csv"), "w") as f:
        f.write("name,ra_deg,dec_deg,flux_mjy,spectral_index\n")
        for s in truth["sources"]:
            f.write("%s,%.12f,%.12f,%.9f,%g\n" % (s["name"], s["ra"], s["dec"], s["flux"] * 1e3,
                                                  s["alpha"]))
    # contimg-sim's integration centres are start + (t + 1/2) tau.
    start = recipe_sim.iso_of(setup["jd"] - INT_TIME / 2 / 86400.0, 9)
    with open(os.path.join(args.dir, "sim.args"), "w") as f:
        f.write("--start %s --ntimes 1 --dec %.12g --nchan-per-subband %d --subbands %d "
                "--active %s\n" % (start, math.degrees(setup["dec0_rad"]), NCHAN_SB, NSUB,
                                   ",".join(str(s) for s in setup["stations"])))
    # The beam: the pointing is the phase centre (hour angle 0, dec0), so
    # sin(theta) = sqrt(l^2 + m^2) of the source's CIRS position.
    ra0, dec0 = setup["ra0_cirs_rad"], setup["dec0_rad"]
    f_desc = np.array(setup["freq_desc_hz"])
    x = band_x(f_desc)
    with fits.open(os.path.join(args.dir, "wsc-model.fits")) as h:
        hdr = h[0].header.copy()
        shape = h[0].data.shape
    models = [np.zeros(shape, np.float32) for _ in range(PB_TERMS)]
    worst = 0.0
    amin, amax = 1.0, 0.0
    for s in truth["sources"]:
        l, m = world_to_sin_offset(math.radians(s["cirs_ra"]), math.radians(s["cirs_dec"]), ra0,
                                   dec0)
        a = airy_power(math.hypot(l, m), f_desc)
        c = np.polynomial.polynomial.polyfit(x, a, PB_TERMS - 1)
        worst = max(worst, float(np.max(np.abs(np.polynomial.polynomial.polyval(x, c) - a))))
        amin, amax = min(amin, float(a.min())), max(amax, float(a.max()))
        px, py = s["model_pixel"]
        for j in range(PB_TERMS):
            models[j][..., py, px] = s["flux"] * c[j]
    for j in range(PB_TERMS):
        fits.PrimaryHDU(models[j], hdr).writeto(os.path.join(args.dir, "pb%d-model.fits" % j),
                                                overwrite=True)
    print("sim inputs: sky_oracle.csv (%d sources), sim.args (%s); beam A %.4f-%.4f over "
          "sources and channels, %d-term fit in frequency within %.1e of A (pb0..pb%d-model.fits)"
          % (len(truth["sources"]), start, amin, amax, PB_TERMS, worst, PB_TERMS - 1))
    return 0


def read_group(d):
    """A group's header arrays and visdata (baseline-time, channel descending
    over the subbands, pol), its files ordered by subband."""
    files = sorted((p for p in os.listdir(d) if p.endswith(".hdf5") and "_sb" in p),
                   key=lambda p: int(p.rsplit("_sb", 1)[1][:2]))
    out = {}
    vis, freqs = [], []
    for p in files:
        with h5py.File(os.path.join(d, p), "r") as f:
            h = f["Header"]
            for k in ("ant_1_array", "ant_2_array", "uvw_array", "time_array", "antenna_positions"):
                out.setdefault(k, np.asarray(h[k][()]))
            freqs.append(np.asarray(h["freq_array"][()], float).ravel())
            vis.append(np.asarray(f["Data/visdata"][()])[:, 0])
    out["freq"] = np.concatenate(freqs)
    out["vis"] = np.concatenate(vis, axis=1)
    return out


def cmd_predict_check(args):
    """contimg-sim's group (SIM_DIR) against the forward group's geometry
    (FWD_DIR) and WSClean's prediction of S*A (DIR/pbJ.ms)."""
    from casacore.tables import table
    sim, fwd = read_group(args.sim), read_group(args.fwd)
    bad = []
    same_bl = (np.array_equal(sim["ant_1_array"], fwd["ant_1_array"]) and
               np.array_equal(sim["ant_2_array"], fwd["ant_2_array"]))
    if not same_bl:
        bad.append("the baselines (ant_1_array, ant_2_array) differ")
    def maxdiff(key, scale=1.0):
        if sim[key].shape != fwd[key].shape:
            return float("inf")
        return float(np.max(np.abs(sim[key] - fwd[key]))) * scale
    dnu = maxdiff("freq")
    dt = maxdiff("time_array", 86400.0)
    ants = np.unique(np.concatenate([fwd["ant_1_array"], fwd["ant_2_array"]]))
    dpos = float(np.max(np.abs(sim["antenna_positions"][ants] - fwd["antenna_positions"][ants])))
    duvw = float(np.max(np.abs(sim["uvw_array"].astype(float) - fwd["uvw_array"].astype(float)))) \
        if same_bl else float("inf")
    if dnu > 1.0:
        bad.append("the channel frequencies differ by up to %.3g Hz" % dnu)
    if dt > 1e-3:
        bad.append("the integration centres differ by %.3g s" % dt)
    if duvw > 1e-3:
        bad.append("the uvw differ by up to %.3g m" % duvw)
    print("geometry: baselines %s (%d), max |d freq| %.3g Hz, |d time| %.3g s, max |d position| "
          "%.2g m (the template's vs the station CSV via WGS84), max |d uvw| %.2g m" %
          ("identical" if same_bl else "DIFFERENT", len(fwd["ant_1_array"]), dnu, dt, dpos, duvw))
    if bad:
        print("geometry: " + "; ".join(bad))
        return 1
    # WSClean's prediction of S*A: sum_j x^j V_j, channels descending.
    x = band_x(fwd["freq"])
    wsc = 0
    for j in range(PB_TERMS):
        t = table(os.path.join(args.dir, "pb%d.ms" % j), ack=False)
        md = t.getcol("MODEL_DATA")[:, ::-1, :]
        t.close()
        wsc = wsc + md * (x ** j)[None, :, None]
    cross = fwd["ant_1_array"] != fwd["ant_2_array"]
    a, b = sim["vis"][cross].astype(complex), wsc[cross]
    print("predict coherence_plus %.6f coherence_minus %.6f rms_ratio %.5f (contimg-sim vs wsclean "
          "-predict of S*A, and vs its conjugate; %d cross-correlation samples)" %
          (coherence(a, b), coherence(a, np.conj(b)),
           math.sqrt(np.mean(np.abs(a) ** 2) / np.mean(np.abs(b) ** 2)), a.size))
    return 0


def load_image(path):
    from astropy.io import fits
    from astropy.wcs import WCS
    with fits.open(path) as h:
        data = np.asarray(h[0].data, np.float64)
        hdr = h[0].header
    while data.ndim > 2:
        data = data[0]
    return data, WCS(hdr).celestial, hdr


def peak_fit(img, x0, y0, radius):
    """Brightest pixel within radius of (x0, y0), then a least-squares
    quadratic through the log of its 3x3 neighbourhood (exact for a
    Gaussian); returns (x, y, peak) or None."""
    ny, nx = img.shape
    ys = slice(max(1, y0 - radius), min(ny - 1, y0 + radius + 1))
    xs = slice(max(1, x0 - radius), min(nx - 1, x0 + radius + 1))
    box = img[ys, xs]
    if box.size == 0 or not np.isfinite(box).any():
        return None
    j, i = np.unravel_index(np.nanargmax(box), box.shape)
    by, bx = ys.start + j, xs.start + i
    z = img[by - 1:by + 2, bx - 1:bx + 2]
    if not (np.all(z > 0) and np.all(np.isfinite(z))):
        return float(bx), float(by), float(img[by, bx])
    dy, dx = np.mgrid[-1:2, -1:2]
    a = np.stack([np.ones(9), dx.ravel(), dy.ravel(), dx.ravel() ** 2, dy.ravel() ** 2,
                  (dx * dy).ravel()], 1)
    c = np.linalg.lstsq(a, np.log(z).ravel(), rcond=None)[0]
    hess = np.array([[2 * c[3], c[5]], [c[5], 2 * c[4]]])
    if np.linalg.det(hess) <= 0 or hess[0, 0] >= 0:
        return float(bx), float(by), float(img[by, bx])
    off = np.linalg.solve(hess, -c[1:3])
    if np.any(np.abs(off) > 1):
        return float(bx), float(by), float(img[by, bx])
    v = c[0] + c[1] * off[0] + c[2] * off[1] + c[3] * off[0] ** 2 + c[4] * off[1] ** 2 + \
        c[5] * off[0] * off[1]
    return bx + off[0], by + off[1], float(math.exp(v))


def max_abs_near(img, x, y, radius):
    ny, nx = img.shape
    ix, iy = int(round(x)), int(round(y))
    if not (0 <= ix < nx and 0 <= iy < ny):
        return float("nan")
    box = img[max(0, iy - radius):iy + radius + 1, max(0, ix - radius):ix + radius + 1]
    return float(np.nanmax(np.abs(box)))


def cmd_measure(args):
    img, w, hdr = load_image(args.image)
    with open(args.truth) as f:
        truth = json.load(f)
    cell = abs(float(hdr["CDELT2"])) * 3600
    ra0, dec0 = math.radians(float(hdr["CRVAL1"])), math.radians(float(hdr["CRVAL2"]))
    beam = ""
    if "BMAJ" in hdr:
        beam = ", beam %.1f\" x %.1f\"" % (float(hdr["BMAJ"]) * 3600, float(hdr["BMIN"]) * 3600)
    print("%s: %dx%d at %.2f\"%s, centre %.6f %+.6f" % (os.path.basename(args.image), img.shape[1],
                                                       img.shape[0], cell, beam, math.degrees(ra0),
                                                       math.degrees(dec0)))
    ok = True
    worst_off = worst_rat = worst_mir = worst_at = 0.0
    least_mir = float("inf")
    for s in truth["sources"]:
        S = float(s["flux"])
        ra, dec = math.radians(s["ra"]), math.radians(s["dec"])
        x, y = w.all_world2pix([[s["ra"], s["dec"]]], 0)[0]
        l, m = world_to_sin_offset(ra, dec, ra0, dec0)
        mra, mdec = sin_offset_to_world(-l, -m, ra0, dec0)
        mx, my = w.all_world2pix([[math.degrees(mra), math.degrees(mdec)]], 0)[0]
        mirror = max_abs_near(img, mx, my, args.radius) / S
        at_truth = max_abs_near(img, x, y, args.radius) / S
        if args.expect == "mirrored":
            # The flux should have left the truth position for the mirror.
            print("%-6s S %.2f Jy |image| at truth %.4f, at mirror %.4f of S" %
                  (s["name"], S, at_truth, mirror))
            worst_mir = max(worst_mir, mirror)
            least_mir = min(least_mir, mirror)
            worst_at = max(worst_at, at_truth)
            ok &= mirror >= args.min_mirror and at_truth <= args.max_at_truth
            continue
        if args.expect == "moved":
            # The flux should have left the truth position.
            print("%-6s S %.2f Jy |image| at truth %.4f of S" % (s["name"], S, at_truth))
            worst_at = max(worst_at, at_truth)
            ok &= at_truth <= args.max_at_truth
            continue
        fit = peak_fit(img, int(round(float(x))), int(round(float(y))), args.radius)
        if fit is None:
            print("%-6s S %.2f Jy: no pixels near the truth position" % (s["name"], S))
            ok = False
            continue
        fx, fy, pk = fit
        fra, fdec = w.all_pix2world([[fx, fy]], 0)[0]
        dra = ((fra - s["ra"] + 180) % 360 - 180) * math.cos(dec) * 3600
        ddec = (fdec - s["dec"]) * 3600
        off = math.hypot(dra, ddec)
        ratio = pk / S
        print("%-6s S %.2f Jy offset %.3f arcsec = %.3f pixel (dRA %+.3f dDec %+.3f) peak/S %.4f, "
              "|image| at mirror %.5f of S" % (s["name"], S, off, off / cell, dra, ddec, ratio, mirror))
        worst_off = max(worst_off, off / cell)
        worst_rat = max(worst_rat, abs(ratio - 1))
        worst_mir = max(worst_mir, mirror)
        least_mir = min(least_mir, mirror)
        ok &= off <= args.max_offset_pix * cell and abs(ratio - 1) <= args.ratio_tol and \
            mirror < args.max_mirror
    if args.expect == "moved":
        print("summary moved: |image| at truth max %.4f of S (expected <= %g) -> %s" %
              (worst_at, args.max_at_truth, "as expected" if ok else "NOT as expected"))
    elif args.expect == "mirrored":
        print("summary mirrored: |image| at mirror min %.4f max %.4f of S (expected >= %g), at "
              "truth max %.4f (expected <= %g) -> %s" %
              (least_mir, worst_mir, args.min_mirror, worst_at, args.max_at_truth,
               "as expected" if ok else "NOT as expected"))
    else:
        print("summary normal: worst offset %.3f pixel (limit %g), worst |peak/S - 1| %.4f (limit "
              "%g), mirror fraction max %.5f (limit %g) -> %s" %
              (worst_off, args.max_offset_pix, worst_rat, args.ratio_tol, worst_mir,
               args.max_mirror, "as expected" if ok else "NOT as expected"))
    return 0 if ok else 1


def cmd_negate_uvw(args):
    from casacore.tables import table
    t = table(args.ms, readonly=False, ack=False)
    t.putcol("UVW", -t.getcol("UVW"))
    t.close()
    print("%s: UVW negated" % args.ms)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ms")
    p.add_argument("dir")
    p.add_argument("--template", required=True)
    p.add_argument("--time", default="2026-09-10T10:30:00", help="integration centre, UTC")
    p.add_argument("--dec", type=float, default=47.5, help="pointing (apparent) declination, deg")
    p = sub.add_parser("model")
    p.add_argument("dir")
    p.add_argument("template")
    p = sub.add_parser("group")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--conjugate", action="store_true")
    p.add_argument("--flagged-after", type=int, default=0,
                   help="append this many flagged integrations (moves the group's mid time)")
    p.add_argument("--mislabel-late", type=int, default=0,
                   help="negative control of --flagged-after: this many flagged integrations "
                        "first and the data labelled as many integrations late")
    p = sub.add_parser("measure")
    p.add_argument("image")
    p.add_argument("truth")
    p.add_argument("--expect", choices=("normal", "mirrored", "moved"), default="normal")
    p.add_argument("--radius", type=int, default=3, help="pixels searched around a position")
    p.add_argument("--max-offset-pix", type=float, default=1.0)
    p.add_argument("--ratio-tol", type=float, default=0.05)
    p.add_argument("--max-mirror", type=float, default=0.01)
    p.add_argument("--min-mirror", type=float, default=0.5)
    p.add_argument("--max-at-truth", type=float, default=0.1)
    p = sub.add_parser("negate-uvw")
    p.add_argument("ms")
    p = sub.add_parser("sim-inputs")
    p.add_argument("dir")
    p = sub.add_parser("predict-check")
    p.add_argument("dir")
    p.add_argument("sim")
    p.add_argument("fwd")
    args = ap.parse_args()
    return {"ms": cmd_ms, "model": cmd_model, "group": cmd_group, "measure": cmd_measure,
            "negate-uvw": cmd_negate_uvw, "sim-inputs": cmd_sim_inputs,
            "predict-check": cmd_predict_check}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
