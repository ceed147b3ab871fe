/*
 * imaging/pbeam.h — the drift scan's time- and band-averaged primary beam.
 *
 * DSA-110 does not track: each integration t points at hour angle 0 and the
 * pointing declination (apparent), so in ICRS the pointing moves ~1.25° in
 * RA across a 5-minute group while the image is fixed on the group's ICRS
 * centre.  The effective beam of pixel j is
 *
 *     pb_j = Σ_t Σ_c W(t) C(c) · P(sin θ_jt, ν_c)  /  Σ_t W(t) · Σ_c C(c)
 *
 * with P the Airy power pattern of core/beam.h, θ_jt the angle between the
 * pixel's ICRS direction and the pointing of integration t (terrestrial hour
 * angle 0 at the pointing declination — the CIRS meridian without polar
 * motion — converted to ICRS with ERFA at that time), and W(t), C(c) the
 * imaging weights summed per integration and per channel (the weights are
 * assumed to factorise, which holds unless flags depend on both).  The band
 * average is tabulated once over sin θ (linear interpolation on 8192 points),
 * so the cost is O(pixels × integrations).
 *
 * The image geometry is the imager's (imaging/proj.h): SIN or slant SIN
 * about the ICRS centre.
 */
#ifndef CONTIMG_PBEAM_H
#define CONTIMG_PBEAM_H

#include <stddef.h>

#include "imaging/proj.h"

typedef struct pbeam_params {
	img_proj proj;                /* the image's pixel geometry */
	double diam_m;                /* dish diameter (DSA-110: 4.65) */
	int ntimes;
	const double *time_jd;        /* [ntimes] integration centres, UTC JD */
	const double *time_w;         /* [ntimes] weights (NULL: equal) */
	int nchan;
	const double *freq_hz;        /* [nchan] */
	const double *chan_w;         /* [nchan] weights (NULL: equal) */
	double lon_rad;               /* site east longitude */
	double pointing_dec_rad;      /* declination of the pointing (terrestrial: the CIRS one
					 without polar motion) */
	double dut1_s;                /* UT1 − UTC */
	double xp_rad, yp_rad;        /* polar motion (core/astro.h astro_eop) */
	int nthreads;                 /* <= 0: OpenMP default */
} pbeam_params;

/* Fill pb[ny*nx] with the averaged power beam (<= 1).  -EINVAL on bad
 * parameters or zero total weight, -EIO when ERFA rejects a time. */
int pbeam_image(const pbeam_params *p, float *pb, char *err, size_t errlen);

/* The same averaged beam at n ICRS positions (ra_rad[i], dec_rad[i]),
 * evaluated exactly (every channel, no table, no interpolation; p->proj is
 * not used), and how it depends on the pointing declination δ_p:
 *
 *     ret_pb[i]          = pb_i(δ_p)
 *     ret_dlnpb_ddec[i]  = ∂ ln pb_i / ∂ δ_p   (per radian)
 *
 * from a central difference with δ_p ± 1e-4 rad (relative error ~(k h)² ≈
 * 5e-5, k = π D ν / c).  For a single integration and channel, at angle θ
 * from the pointing, with m = sin δ cos δ_p − cos δ sin δ_p cos(α − α_p) the
 * source's direction cosine towards north (m ≈ δ − δ_p near the meridian),
 * this is 2k (J2(x)/J1(x)) m / sin θ, x = k sin θ (from d ln[2J1(x)/x]²/dx =
 * −2 J2(x)/J1(x) and ∂θ/∂δ_p = −m / sin θ), which tends to (k²/2) m near
 * the centre: a source north of the pointing (m > 0) gains beam when the
 * pointing moves north.  photometry/pointcheck.h uses it to turn flux ratios into a
 * pointing offset.  A position with pb = 0 (far side, or on a null) gets
 * a NaN derivative.  Either output may be NULL.  Errors as pbeam_image. */
int pbeam_at(const pbeam_params *p, const double *ra_rad, const double *dec_rad, size_t n,
	     double *ret_pb, double *ret_dlnpb_ddec, char *err, size_t errlen);

/* out[j] = img[j] / pb[j] where pb[j] >= cut, NaN elsewhere (out may be img). */
void pbeam_correct(const float *img, const float *pb, size_t n, double cut, float *out);

#endif
