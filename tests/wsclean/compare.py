#!/usr/bin/python3
"""tests/wsclean/compare.py -- benchmark helper, not part of the pipeline.

Measure the sources of a simulated group (truth_*.json from contimg-sim) in
restored images made by contimg and by WSClean from the same visibilities,
and print one line per imager: sources above 10 sigma, median and worst
position offset, median restored peak / (truth flux at the image frequency
x primary beam), residual noise.  Positions come from each image's own WCS
(astropy, i.e. WCSLIB: contimg's slant-SIN PV2_1/PV2_2 included) and a 3x3
log-paraboloid peak fit, as in tests/imaging/test_reference.c.  The primary
beam is contimg's time- and band-averaged pb image (WSClean has no DSA-110
beam); both images are compared with the same truth x pb.

    compare.py TRUTH.json PB.fits NAME=IMAGE.fits,RESIDUAL.fits ...

Needs Debian's python3-astropy (run with /usr/bin/python3).
"""
import json
import sys

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS


def load(path):
    with fits.open(path) as h:
        data = np.asarray(h[0].data, dtype=np.float64)
        hdr = h[0].header
    while data.ndim > 2:
        data = data[0]
    return data, WCS(hdr).celestial, hdr


def peak_fit(img, x0, y0, radius=3):
    ny, nx = img.shape
    best, bx, by = -np.inf, -1, -1
    for y in range(y0 - radius, y0 + radius + 1):
        for x in range(x0 - radius, x0 + radius + 1):
            if 1 <= x < nx - 1 and 1 <= y < ny - 1 and np.isfinite(img[y, x]) and img[y, x] > best:
                best, bx, by = img[y, x], x, y
    if bx < 0:
        return None
    z = img[by - 1:by + 2, bx - 1:bx + 2].copy()
    uselog = np.all(z > 0)
    if uselog:
        z = np.log(z)
    b = (z[:, 2].sum() - z[:, 0].sum()) / 6
    c = (z[2, :].sum() - z[0, :].sum()) / 6
    s0 = z.sum()
    sx = (z * np.array([1, 0, 1])[None, :]).sum()
    sy = (z * np.array([1, 0, 1])[:, None]).sum()
    d = (sx - 2.0 / 3 * s0) / 2
    e = (sy - 2.0 / 3 * s0) / 2
    f = (z[0, 0] + z[2, 2] - z[0, 2] - z[2, 0]) / 4
    a = (5 * s0 - 3 * (sx + sy)) / 9
    det = 4 * d * e - f * f
    dx = dy = 0.0
    if d < 0 and e < 0 and det > 0:
        dx = (-2 * e * b + f * c) / det
        dy = (-2 * d * c + f * b) / det
        if abs(dx) > 1 or abs(dy) > 1:
            dx = dy = 0.0
    pk = a + b * dx + c * dy + d * dx * dx + e * dy * dy + f * dx * dy
    return bx + dx, by + dy, (np.exp(pk) if uselog else pk)


def mad_sigma(a):
    a = a[np.isfinite(a)]
    return 1.4826 * np.median(np.abs(a - np.median(a)))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    truth = json.load(open(sys.argv[1]))
    pb, pbw, _ = load(sys.argv[2])
    for arg in sys.argv[3:]:
        name, files = arg.split("=", 1)
        ipath, rpath = files.split(",")
        img, w, hdr = load(ipath)
        res, _, _ = load(rpath)
        sigma = mad_sigma(res)
        freq = None
        for k in range(1, 5):
            if str(hdr.get("CTYPE%d" % k, "")).startswith("FREQ"):
                freq = float(hdr["CRVAL%d" % k])
        cell = abs(float(hdr["CDELT2"])) * 3600
        offs, ratios = [], []
        for s in truth["sources"]:
            x, y = w.all_world2pix([[s["ra"], s["dec"]]], 0)[0]
            px, py = pbw.all_world2pix([[s["ra"], s["dec"]]], 0)[0]
            ix, iy = int(round(x)), int(round(y))
            jx, jy = int(round(px)), int(round(py))
            if not (3 <= ix < img.shape[1] - 3 and 3 <= iy < img.shape[0] - 3):
                continue
            if not (0 <= jx < pb.shape[1] and 0 <= jy < pb.shape[0]) or pb[jy, jx] < 0.2:
                continue
            expect = s["flux"] * (freq / 1.4e9) ** s.get("alpha", 0.0) * pb[jy, jx]
            if expect < 10 * sigma:
                continue
            fit = peak_fit(img, ix, iy)
            if fit is None:
                continue
            fx, fy, pk = fit
            ra, dec = w.all_pix2world([[fx, fy]], 0)[0]
            dra = (ra - s["ra"]) * np.cos(np.radians(s["dec"]))
            offs.append(3600 * np.hypot(dra, dec - s["dec"]))
            ratios.append(pk / expect)
        offs, ratios = np.array(offs), np.array(ratios)
        bmaj = float(hdr.get("BMAJ", 0)) * 3600
        bmin = float(hdr.get("BMIN", 0)) * 3600
        print("%-8s beam %5.1f\" x %5.1f\", cell %.1f\", noise %.3f mJy/beam: %d sources above "
              "10 sigma, median offset %.2f\" (worst %.2f\"), median peak/(S pb) %.4f "
              "(range %.3f .. %.3f)"
              % (name, bmaj, bmin, cell, sigma * 1e3, len(offs), np.median(offs), offs.max(),
                 np.median(ratios), ratios.min(), ratios.max()))


if __name__ == "__main__":
    main()
