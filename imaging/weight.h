/*
 * imaging/weight.h — Stokes I samples and imaging weights.
 *
 * weight_stokes_new() turns a vis_set into the imager's sample layout: one
 * row per (integration, cross-correlation baseline) — autocorrelations are
 * skipped — and one Stokes I value per (row, channel):
 *   - both XX and YY good:  I = (XX + YY)/2,  w = 4 / (1/w_XX + 1/w_YY)
 *     (the inverse variance of the mean of two samples of weights w_XX, w_YY);
 *   - only one of them good: I = that one, w = its weight (unbiased for the
 *     unpolarised continuum we image; the noise is larger, the weight says so);
 *   - neither: weight 0.  A sample is good when its flags are 0, its weight
 *     is > 0 and its value is finite.
 * RR/LL are treated like XX/YY; a set holding only pI (code 1) is used as is.
 * Optionally chan_avg adjacent channels are averaged (weighted mean, weights
 * summed, frequency = the group's mean channel frequency) before gridding;
 * docs/imaging.md gives the measured smearing cost.
 *
 * weight_apply() fills the imaging weights from the data weights:
 *   natural   w_img = w
 *   uniform   w_img = w / W_cell
 *   briggs    w_img = w / (1 + W_cell f²),  f² = (5·10^−R)² / (Σ W_cell² / Σ W_cell)
 * (Briggs 1995; the CASA/WSClean definition) where W_cell is the sum of data
 * weights in the sample's uv cell on the nx×ny grid of the image's Fourier
 * plane (cell 1/(nx·cell) by 1/(ny·cell) wavelengths), each sample counted at
 * (u, v) and at (−u, −v).  Then the optional Gaussian taper (FWHM in the image
 * plane: w_img *= exp(−2π² σ² (u² + v²)), σ = FWHM/√(8 ln 2)) and uv range
 * (w_img = 0 outside [uvmin, uvmax] wavelengths) apply.
 *
 * Ownership: weight_stokes_new allocates, its big arrays from the pool it is
 * given (core/pool.h; NULL: plain allocations); weight_stokes_free releases
 * (NULL ok), giving them back to that pool.
 */
#ifndef CONTIMG_WEIGHT_H
#define CONTIMG_WEIGHT_H

#include <complex.h>
#include <stddef.h>

#include "core/pool.h"
#include "core/vis.h"

enum weight_mode { WEIGHT_NATURAL = 0, WEIGHT_UNIFORM = 1, WEIGHT_BRIGGS = 2 };

typedef struct weight_params {
	int mode;              /* enum weight_mode (default WEIGHT_BRIGGS) */
	double robust;         /* Briggs robustness −2 .. 2 (default 0) */
	double taper_fwhm_rad; /* Gaussian taper FWHM in the image plane; 0 = none */
	double uvmin_lambda;   /* 0 = no lower cut */
	double uvmax_lambda;   /* 0 = no upper cut */
	int nx, ny;            /* image size the density grid matches */
	double cell_rad;       /* image cell */
	int nthreads;          /* <= 0: OpenMP default */
} weight_params;

void weight_params_default(weight_params *p);

/* Parse "natural", "uniform", "briggs" (case-insensitive); -EINVAL otherwise. */
int weight_mode_parse(const char *s, int *ret_mode);
const char *weight_mode_name(int mode);

typedef struct weight_stokes {
	int ntimes, nbl;       /* rows = ntimes * nbl, time-major (row = t*nbl + b) */
	size_t nrows;
	int nchan;
	double *uvw_m;         /* [nrows*3] */
	double *freq_hz;       /* [nchan] (after averaging) */
	double chan_width_hz;  /* width of one (averaged) channel */
	float complex *vis;    /* [nrows*nchan] Stokes I */
	float *data_wgt;       /* [nrows*nchan] data weight of I; 0 = flagged */
	float *img_wgt;        /* [nrows*nchan] imaging weight (weight_apply) */
	size_t ngood;          /* samples with data_wgt > 0 */
	size_t nsingle;        /* of which only one polarisation was good */

	/* Filled by weight_apply: */
	double sum_w;          /* Σ w_img */
	double sum_w2_over_d;  /* Σ w_img² / w_data: image variance ∝ this / sum_w² */
	double mean_freq_hz;   /* Σ w_img ν / Σ w_img */
	double *chan_wsum;     /* [nchan] Σ w_img per channel */
	double *time_wsum;     /* [ntimes] Σ w_img per integration */
	double max_uv_lambda;  /* largest √(u²+v²) with w_img > 0 */

	mem_pool *pool;        /* where the arrays came from and go back to */
} weight_stokes;

/* Build the Stokes I samples of v.  chan_avg >= 1 (a trailing partial group
 * is averaged over the channels it has).  -EINVAL when v has neither XX/YY,
 * RR/LL nor I, or no cross-correlations; -ENOMEM. */
int weight_stokes_new(const vis_set *v, int chan_avg, int nthreads, mem_pool *pool,
		      weight_stokes **ret, char *err, size_t errlen);
void weight_stokes_free(weight_stokes *s);

/* Compute img_wgt and the sums.  -EINVAL for a bad mode or robust outside
 * [−2, 2]; -ENOMEM. */
int weight_apply(weight_stokes *s, const weight_params *p, char *err, size_t errlen);

#endif
