#!/usr/bin/python3
"""tests/recipe/recipe_sim.py -- an independent implementation of the recipe
the reference groups were made with (../shared/data/README.md), for checking
contimg on data "made the same way" at pointings the reference groups do not
cover.  It shares no code with contimg: numpy, h5py and pyerfa only (Debian:
python3-numpy python3-h5py python3-erfa; run it with /usr/bin/python3).

  recipe_sim.py verify GROUP_DIR
      Rebuild the model of a reference group from its truth_*.json and
      gains_*.h5 and print chi2/dof of the cross-correlations against the
      file's data, and the largest uvw difference.  1.00 means this file
      implements the recipe.

  recipe_sim.py make --template DIR --out DIR --dec DEG --shift-days D
                     --sky CSV [--gains FILE|none|random] [--sefd JY] [--seed N]
                     [--nants N] [--gain-seed N] [--dut1 S] [--xp AS --yp AS]
      A new group from the files of the template group (same stations,
      baselines, band, integrations and layout): every time moved by D days
      (fractional: choose D to put a source on the meridian), the pointing
      declination DEG, uvw recomputed, visibilities of the sources in CSV
      (name,ra_deg,dec_deg,flux_mjy,spectral_index, the catalog format),
      + SEFD on the autocorrelations, then the gains (gains_*.h5 of the
      recipe, indexed by integration, antenna number, channel and pol; or
      none; or random: smooth per-antenna gains of the same kind, a 3-6 %
      bandpass ripple, delays within +-3 ns, any phase, a phase drift of up
      to 0.1 rad over the group, amplitudes 0.8-1.2; drawn from --gain-seed,
      default --seed: the same seed gives the same instrument on any date,
      as the template's integrations), then complex Gaussian
      noise sigma = SEFD / sqrt(2 dnu tau) (SEFD 0: no noise).  --nants N
      re-lays the files out for N of the 96 active stations of the
      template's 117 (index round(i (n - 1) / (N - 1)) of the active list,
      every pair a1 <= a2 in the correlator's order: for each a2 ascending,
      every a1 up to it).  Writes truth_<group>.json with the template's
      keys and, with gains, gains_<group>.h5 with the new time_jd.
      --dut1 S: the Earth rotates with UT1 = UTC + S (the recipe has
      UT1 = UTC), so H = ERA(UT1) + lon - RA_CIRS.  --xp, --yp (arcsec):
      polar motion; then H and the declination are those of ERFA's
      observed-place route, eraApio + eraAtioq (polar motion referred to
      the local meridian; refraction off, diurnal aberration set to zero
      as everywhere in the recipe): the hour angle and declination about
      the ITRS pole at the site, the frame of the Earth-fixed antenna
      positions and uvw.  The truth JSON records dut1_s, xp_arcsec, yp_arcsec.

  recipe_sim.py shift TEMPLATE_DIR RA DEC [--after DAYS]
      The --shift-days (at least DAYS, default 0) that puts the ICRS position
      (RA, DEC degrees) on the meridian (H = 0) at the template's mid time.

  recipe_sim.py meridian ISOT DEC
      The ICRS right ascension (degrees) on the local meridian at the UTC
      time ISOT for the ICRS declination DEC (the recipe's H = 0).
"""
import argparse
import csv
import glob
import json
import os
import sys

import erfa
import h5py
import numpy as np

C = 299792458.0
DISH = 4.65


def j1(x):
    """Bessel J1 by its power series (|x| < 20 here: ample terms)."""
    x = np.asarray(x, float)
    s = np.zeros_like(x)
    t = x / 2.0
    for k in range(60):
        s += t
        t = t * -(x * x / 4.0) / ((k + 1) * (k + 2))
    return s


def airy_power(nu, n):
    x = np.pi * DISH * nu * np.sqrt(max(1.0 - n * n, 0.0)) / C
    if x[0] < 1e-9:
        return np.ones_like(nu)
    return (2.0 * j1(x) / x) ** 2


def tt_of(jd_utc):
    return erfa.taitt(*erfa.utctai(jd_utc, 0.0))


def jd_of_iso(iso):
    """UTC two-part JD of 'YYYY-MM-DDTHH:MM:SS[.fff]'."""
    d, tm = iso.split("T")
    y, mo, dd = (int(x) for x in d.split("-"))
    hh, mm, ss = tm.split(":")
    return erfa.dtf2d("UTC", y, mo, dd, int(hh), int(mm), float(ss))


EOP = {"dut1": 0.0, "xp": 0.0, "yp": 0.0}   # UT1 - UTC (s), polar motion (arcsec); make --dut1/--xp/--yp


def hour_angle(ra, dec, jd_utc, lon, lat=None):
    """Recipe: eraAtci13 ICRS -> CIRS, H = ERA(UT1) + lon - RA_CIRS with
    UT1 = UTC + EOP["dut1"] (the recipe: 0).  With polar motion, H and the
    declination are eraAtioq's about the ITRS pole (see make --xp).
    Returns (H, declination)."""
    tt1, tt2 = tt_of(jd_utc)
    ri, di, _ = erfa.atci13(ra, dec, 0.0, 0.0, 0.0, 0.0, tt1, tt2)
    theta = erfa.era00(jd_utc, EOP["dut1"] / 86400.0)
    if EOP["xp"] == 0.0 and EOP["yp"] == 0.0:
        return theta + lon - ri, di
    xp, yp = np.radians(EOP["xp"] / 3600.0), np.radians(EOP["yp"] / 3600.0)
    astrom = erfa.apio(erfa.sp00(tt1, tt2), theta, lon, lat, 0.0, xp, yp, 0.0, 0.0)
    astrom["diurab"] = 0.0
    _, _, hob, dob, _ = erfa.atioq(ri, di, astrom)
    return hob, dob


def source_lmn(ra, dec, jd_utc, lon, dec0, lat=None):
    h, di = hour_angle(ra, dec, jd_utc, lon, lat)
    l = -np.cos(di) * np.sin(h)
    m = np.sin(di) * np.cos(dec0) - np.cos(di) * np.sin(dec0) * np.cos(h)
    n = np.sin(di) * np.sin(dec0) + np.cos(di) * np.cos(dec0) * np.cos(h)
    return l, m, n


def baseline_uvw(hdr, dec0):
    """uvw = R(H_G = -lon, dec0) (pos[a2] - pos[a1]) with ECEF offsets."""
    lon = np.radians(hdr["longitude"][()])
    pos = hdr["antenna_positions"][:]
    index = {int(a): i for i, a in enumerate(hdr["antenna_numbers"][:])}
    i1 = np.array([index[int(a)] for a in hdr["ant_1_array"][:]])
    i2 = np.array([index[int(a)] for a in hdr["ant_2_array"][:]])
    b = pos[i2] - pos[i1]
    sh, ch = np.sin(-lon), np.cos(-lon)
    sd, cd = np.sin(dec0), np.cos(dec0)
    u = sh * b[:, 0] + ch * b[:, 1]
    v = -sd * ch * b[:, 0] + sd * sh * b[:, 1] + cd * b[:, 2]
    w = cd * ch * b[:, 0] - cd * sh * b[:, 1] + sd * b[:, 2]
    return np.stack([u, v, w], 1)


def model_vis(hdr, sources, dec0, uvw, sefd):
    """Sum over sources of S A exp(+2 pi i (ul + vm + w(n-1)) nu / c), per
    (blt, channel); autocorrelations get + SEFD.  The sign is the real
    telescope's and pyuvdata's (the recipe as corrected on 2026-12-06)."""
    lon = np.radians(hdr["longitude"][()])
    lat = np.radians(hdr["latitude"][()])
    t = hdr["time_array"][:]
    nu = hdr["freq_array"][:].reshape(-1)
    vis = np.zeros((len(t), len(nu)), complex)
    for tj in np.unique(t):
        sel = np.nonzero(t == tj)[0]
        for s in sources:
            l, m, n = source_lmn(s["ra_rad"], s["dec_rad"], tj, lon, dec0, lat)
            flux = s["flux"] * (nu / 1.4e9) ** s["alpha"] * airy_power(nu, n)
            path = uvw[sel, 0] * l + uvw[sel, 1] * m + uvw[sel, 2] * (n - 1.0)
            vis[sel] += flux[None, :] * np.exp(2j * np.pi * path[:, None] * nu[None, :] / C)
    auto = hdr["ant_1_array"][:] == hdr["ant_2_array"][:]
    vis[auto] += sefd
    return vis


class Gains:
    """gains[time][antenna][channel][pol] of the recipe's gains_*.h5."""

    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.g = f["gains"][:]
            self.ant = {int(a): i for i, a in enumerate(f["antenna_numbers"][:])}
            self.freq = f["freq_hz"][:]
            self.time = f["time_jd"][:]

    def apply(self, hdr, vis, time_offset_days=0.0):
        """vis[blt, chan] -> per pol g[a1] vis conj(g[a2]); returns (blt, chan, pol)."""
        t = hdr["time_array"][:] - time_offset_days
        nu = hdr["freq_array"][:].reshape(-1)
        tu, inv = np.unique(t, return_inverse=True)
        it = np.argmin(np.abs(self.time[None, :] - tu[:, None]), axis=1)[inv]
        if np.max(np.abs(self.time[it] - t)) * 86400.0 > 1.0:
            sys.exit("recipe_sim: the gains' times do not match the group's integrations")
        ic = np.array([int(np.argmin(np.abs(self.freq - x))) for x in nu])
        if np.max(np.abs(self.freq[ic] - nu)) > 1.0:
            sys.exit("recipe_sim: the gains' frequencies do not match the group's channels")
        try:
            i1 = np.array([self.ant[int(a)] for a in hdr["ant_1_array"][:]])
            i2 = np.array([self.ant[int(a)] for a in hdr["ant_2_array"][:]])
        except KeyError as e:
            sys.exit("recipe_sim: antenna %s has no gains" % e)
        out = np.empty(vis.shape + (2,), complex)
        for p in range(2):
            g1 = self.g[it, i1][:, ic, p]
            g2 = self.g[it, i2][:, ic, p]
            out[..., p] = g1 * vis * np.conj(g2)
        return out


def read_truth(group_dir):
    paths = glob.glob(os.path.join(group_dir, "truth_*.json"))
    if len(paths) != 1:
        sys.exit("recipe_sim: %s: expected one truth_*.json" % group_dir)
    with open(paths[0]) as f:
        return json.load(f)


def truth_sources(truth):
    return [{"name": s["name"], "ra_rad": np.radians(s["ra"]), "dec_rad": np.radians(s["dec"]),
             "flux": float(s["flux"]), "alpha": float(s.get("alpha", 0.0))} for s in truth["sources"]]


def subband_files(group_dir):
    files = sorted(glob.glob(os.path.join(group_dir, "*_sb[0-9][0-9].hdf5")))
    if not files:
        sys.exit("recipe_sim: no *_sbNN.hdf5 files in %s" % group_dir)
    return files


def cmd_verify(args):
    truth = read_truth(args.group)
    sources = truth_sources(truth)
    gp = glob.glob(os.path.join(args.group, "gains_*.h5"))
    gains = Gains(gp[0]) if gp else None
    sigma = float(truth["sigma_vis"])
    chi2 = 0.0
    dof = 0
    duvw = 0.0
    for path in subband_files(args.group):
        with h5py.File(path, "r") as f:
            hdr = f["Header"]
            dec0 = float(hdr["extra_keywords/phase_center_dec"][()])
            uvw = baseline_uvw(hdr, dec0)
            duvw = max(duvw, float(np.max(np.abs(uvw - hdr["uvw_array"][:]))))
            vis = model_vis(hdr, sources, dec0, uvw, float(truth["sefd"]))
            model = gains.apply(hdr, vis) if gains else np.repeat(vis[..., None], 2, axis=2)
            data = f["Data/visdata"][:][:, 0, :, :]
            cross = hdr["ant_1_array"][:] != hdr["ant_2_array"][:]
            r = data[cross] - model[cross]
            chi2 += float(np.sum(r.real ** 2 + r.imag ** 2)) / sigma ** 2
            dof += 2 * r.size
    print("verify %s: chi2/dof %.4f over %d values; max |uvw - file| %.2e m" %
          (args.group, chi2 / dof, dof, duvw))
    return 0


def read_sky(path):
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out.append({"name": row["name"], "ra_rad": np.radians(float(row["ra_deg"])),
                        "dec_rad": np.radians(float(row["dec_deg"])),
                        "flux": float(row["flux_mjy"]) / 1000.0,
                        "alpha": float(row.get("spectral_index") or 0.0)})
    if not out:
        sys.exit("recipe_sim: no sources in %s" % path)
    return out


def shifted_name(base, days):
    """'YYYY-MM-DDTHH:MM:SS_sbNN.hdf5' with the timestamp moved by days."""
    stamp, rest = base.split("_sb", 1)
    d1, d2 = jd_of_iso(stamp)
    y, mo, d, hmsf = erfa.d2dtf("UTC", 0, d1, d2 + days)
    return "%04d-%02d-%02dT%02d:%02d:%02d_sb%s" % (y, mo, d, hmsf[0], hmsf[1], hmsf[2], rest)


INACTIVE = set([10, 21, 22, 23, 117] + list(range(52, 68)))


def choose_antennas(hdr, nants):
    """N of the active stations (data README), spread over the active list."""
    names = [x.decode() if isinstance(x, bytes) else str(x) for x in hdr["antenna_names"][:]]
    nums = [int(x) for x in hdr["antenna_numbers"][:]]
    active = [a for a, nm in zip(nums, names) if int(nm) not in INACTIVE]
    if nants < 2 or nants > len(active):
        sys.exit("recipe_sim: --nants must be 2..%d" % len(active))
    n = len(active)
    return [active[int(np.floor(i * (n - 1) / (nants - 1) + 0.5))] for i in range(nants)]


def relayout(g, ants):
    """Rebuild the baseline-time axis of an open file for antennas ants."""
    hdr = g["Header"]
    t_old = hdr["time_array"][:]
    times = np.unique(t_old)
    tau = float(hdr["integration_time"][0])
    nsamp = float(g["Data/nsamples"][0, 0, 0, 0])
    a1 = [a for j, a2 in enumerate(ants) for a in ants[:j + 1]]
    a2 = [a2 for j, a2 in enumerate(ants) for a in ants[:j + 1]]
    nbl, nt = len(a1), len(times)
    nf = int(hdr["Nfreqs"][()])
    npol = int(hdr["Npols"][()])
    new = {"ant_1_array": np.tile(np.array(a1, np.int64), nt),
           "ant_2_array": np.tile(np.array(a2, np.int64), nt),
           "time_array": np.repeat(times, nbl),
           "integration_time": np.full(nbl * nt, tau),
           "uvw_array": np.zeros((nbl * nt, 3), np.float32)}
    for k, v in new.items():
        dt = hdr[k].dtype
        del hdr[k]
        hdr.create_dataset(k, data=v.astype(dt))
    for k, v in (("Nbls", nbl), ("Nblts", nbl * nt), ("Nants_data", len(ants))):
        hdr[k][...] = v
    shape = (nbl * nt, 1, nf, npol)
    for k in ("visdata", "flags", "nsamples"):
        dt = g["Data"][k].dtype
        del g["Data"][k]
        g["Data"].create_dataset(k, shape=shape, dtype=dt)
    g["Data/nsamples"][...] = np.full(shape, nsamp, g["Data/nsamples"].dtype)


def write_random_gains(path, ants, freqs, times, seed):
    """Smooth instrumental gains in the recipe's gains_*.h5 layout."""
    rng = np.random.default_rng(seed + 1000)
    na, nf, nt = len(ants), len(freqs), len(times)
    f = np.asarray(freqs)[None, :, None]
    tt = (np.asarray(times) - times[0])[:, None, None, None] / (times[-1] - times[0])
    amp = rng.uniform(0.8, 1.2, (na, 1, 2))
    ripple = rng.uniform(0.03, 0.06, (na, 1, 2))
    period = rng.uniform(20e6, 60e6, (na, 1, 2))
    rphase = rng.uniform(0, 2 * np.pi, (na, 1, 2))
    delay = rng.uniform(-3e-9, 3e-9, (na, 1, 2))
    phase0 = rng.uniform(-np.pi, np.pi, (na, 1, 2))
    drift = rng.uniform(-0.1, 0.1, (na, 1, 2))
    band = amp * (1 + ripple * np.sin(2 * np.pi * f / period + rphase))
    ph = phase0 + 2 * np.pi * f * delay
    g = band[None] * np.exp(1j * (ph[None] + drift[None] * tt))
    with h5py.File(path, "w") as h:
        h.create_dataset("gains", data=g.astype(np.complex64))
        h.create_dataset("antenna_numbers", data=np.asarray(ants, np.int64))
        h.create_dataset("freq_hz", data=np.asarray(freqs, float))
        h.create_dataset("time_jd", data=np.asarray(times, float))
        h.attrs["convention"] = "V_obs(a1,a2) = g[a1] V_true g[a2]^*, a1=ant_1_array, a2=ant_2_array"


def iso_of(jd_utc, ndp=3):
    y, mo, d, hmsf = erfa.d2dtf("UTC", ndp, jd_utc, 0.0)
    frac = ("." + "%0*d" % (ndp, hmsf[3])) if ndp else ""
    return "%04d-%02d-%02dT%02d:%02d:%02d%s" % (y, mo, d, hmsf[0], hmsf[1], hmsf[2], frac)


def cmd_make(args):
    EOP.update(dut1=args.dut1, xp=args.xp, yp=args.yp)
    files = subband_files(args.template)
    truth = read_truth(args.template)
    sources = read_sky(args.sky)
    dec0 = np.radians(args.dec)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    group = shifted_name(os.path.basename(files[0]), args.shift_days).split("_sb")[0]
    ants = None
    freqs = []
    with h5py.File(files[0], "r") as f:
        if args.nants:
            ants = choose_antennas(f["Header"], args.nants)
        tmpl_times = np.unique(f["Header/time_array"][:]) + args.shift_days
        if ants is None:
            ants = sorted(set(int(a) for a in f["Header/ant_2_array"][:]))
    for path in files:
        with h5py.File(path, "r") as f:
            freqs.extend(f["Header/freq_array"][:].reshape(-1))
    gains_out = os.path.join(args.out, "gains_%s.h5" % group)
    gain_shift = args.shift_days
    if args.gains == "none":
        gains = None
    elif args.gains == "random":
        gseed = args.seed if args.gain_seed is None else args.gain_seed
        write_random_gains(gains_out + ".tmp", ants, sorted(freqs), tmpl_times, gseed)
        gains = Gains(gains_out + ".tmp")
        gain_shift = 0.0
    else:
        gains = Gains(args.gains)
    times = None
    for path in files:
        out = os.path.join(args.out, shifted_name(os.path.basename(path), args.shift_days))
        with h5py.File(path, "r") as f, h5py.File(out, "w") as g:
            for k in f:
                f.copy(k, g)
        with h5py.File(out, "r+") as g:
            if args.nants:
                relayout(g, ants)
            hdr = g["Header"]
            hdr["time_array"][...] = hdr["time_array"][:] + args.shift_days
            hdr["extra_keywords/phase_center_dec"][...] = dec0
            if "phase_center_app_dec" in hdr:
                hdr["phase_center_app_dec"][...] = dec0
            uvw = baseline_uvw(hdr, dec0)
            hdr["uvw_array"][...] = uvw.astype(hdr["uvw_array"].dtype)
            vis = model_vis(hdr, sources, dec0, uvw, args.sefd)
            if gains:
                v2 = gains.apply(hdr, vis, gain_shift)
            else:
                v2 = np.repeat(vis[..., None], 2, axis=2)
            if args.sefd > 0:
                dnu = abs(float(hdr["channel_width"][()]))
                tau = hdr["integration_time"][:]
                sig = args.sefd / np.sqrt(2.0 * dnu * tau)
                v2 = v2 + sig[:, None, None] * (rng.standard_normal(v2.shape) +
                                                1j * rng.standard_normal(v2.shape))
            data = g["Data/visdata"]
            data[...] = v2[:, None, :, :].astype(data.dtype)
            g["Data/flags"][...] = np.zeros(g["Data/flags"].shape, bool)
            if times is None:
                times = np.unique(hdr["time_array"][:])
                tau0 = float(hdr["integration_time"][0])
                dnu0 = abs(float(hdr["channel_width"][()]))
    start = times[0] - tau0 / 2 / 86400.0
    t = dict(truth)
    t.update({"group": group, "start_isot": iso_of(start), "mid_isot": iso_of(0.5 * (times[0] + times[-1])),
              "dec": args.dec, "sefd": args.sefd,
              "sigma_vis": args.sefd / np.sqrt(2.0 * dnu0 * tau0) if args.sefd > 0 else 0.0,
              "sources": [{"name": s["name"], "ra": np.degrees(s["ra_rad"]), "dec": np.degrees(s["dec_rad"]),
                           "flux": s["flux"], "alpha": s["alpha"]} for s in sources],
              "gains": {"file": args.gains, "none": gains is None},
              "dut1_s": args.dut1, "xp_arcsec": args.xp, "yp_arcsec": args.yp,
              "made_by": "tests/recipe/recipe_sim.py (template %s, shift %.6f d)" %
                         (os.path.basename(os.path.normpath(args.template)), args.shift_days)})
    t.pop("ra_mid_app_deg", None)
    with open(os.path.join(args.out, "truth_%s.json" % group), "w") as f:
        json.dump(t, f, indent=1)
    t["nant"] = len(ants)
    if args.gains == "random":
        os.replace(gains_out + ".tmp", gains_out)
    elif gains:
        with h5py.File(args.gains, "r") as f, h5py.File(gains_out, "w") as g:
            for k in f:
                f.copy(k, g)
            for k, v in f.attrs.items():
                g.attrs[k] = v
            g["time_jd"][...] = f["time_jd"][:] + args.shift_days
    print("made %s: %d files, %d antennas, dec %.4f, %d sources, gains %s, SEFD %g, "
          "UT1-UTC %g s, polar motion %g\" %g\"" %
          (group, len(files), len(ants), args.dec, len(sources), args.gains, args.sefd,
           args.dut1, args.xp, args.yp))
    return 0


def cmd_shift(args):
    truth = read_truth(args.template)
    lon = np.radians(float(truth["lon"]))
    mid_jd = sum(jd_of_iso(truth["mid_isot"]))
    ra, dec = np.radians(args.ra), np.radians(args.dec)
    sidereal_day = 1.0 / 1.00273781191135448

    def step(shift):
        h = hour_angle(ra, dec, mid_jd + shift, lon)[0]
        return np.arctan2(np.sin(h), np.cos(h)) / (2 * np.pi) * sidereal_day

    shift = args.after
    for _ in range(8):
        shift -= step(shift)
    while shift < args.after:
        shift += sidereal_day
        for _ in range(3):
            shift -= step(shift)
    print("%.9f" % shift)
    return 0


def cmd_meridian(args):
    u1, u2 = jd_of_iso(args.isot)
    tt1, tt2 = erfa.taitt(*erfa.utctai(u1, u2))
    target = erfa.era00(u1, u2) + np.radians(-118.2825 if args.lon is None else args.lon)
    dec = np.radians(args.dec)
    ra = target
    for _ in range(6):
        ri, _, _ = erfa.atci13(ra, dec, 0.0, 0.0, 0.0, 0.0, tt1, tt2)
        ra += np.arctan2(np.sin(target - ri), np.cos(target - ri))
    print("%.8f" % np.degrees(ra % (2 * np.pi)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("group")
    m = sub.add_parser("make")
    m.add_argument("--template", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--dec", type=float, required=True)
    m.add_argument("--shift-days", type=float, default=0.0)
    m.add_argument("--sky", required=True)
    m.add_argument("--gains", default="none")
    m.add_argument("--sefd", type=float, default=6500.0)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--nants", type=int, default=0)
    m.add_argument("--gain-seed", type=int, default=None, help="seed of --gains random (default --seed)")
    m.add_argument("--dut1", type=float, default=0.0, help="UT1 - UTC in seconds (default 0)")
    m.add_argument("--xp", type=float, default=0.0, help="polar motion x, arcsec (default 0)")
    m.add_argument("--yp", type=float, default=0.0, help="polar motion y, arcsec (default 0)")
    sh = sub.add_parser("shift")
    sh.add_argument("template")
    sh.add_argument("ra", type=float)
    sh.add_argument("dec", type=float)
    sh.add_argument("--after", type=float, default=0.0)
    r = sub.add_parser("meridian")
    r.add_argument("isot")
    r.add_argument("dec", type=float)
    r.add_argument("--lon", type=float, default=None, help="east longitude, degrees (default DSA-110)")
    args = ap.parse_args()
    return {"verify": cmd_verify, "make": cmd_make, "shift": cmd_shift,
            "meridian": cmd_meridian}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
