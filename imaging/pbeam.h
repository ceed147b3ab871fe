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

/* out[j] = img[j] / pb[j] where pb[j] >= cut, NaN elsewhere (out may be img). */
void pbeam_correct(const float *img, const float *pb, size_t n, double cut, float *out);

#endif
