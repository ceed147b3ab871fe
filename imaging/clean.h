/*
 * imaging/clean.h — Cotton–Schwab CLEAN with a Högbom minor cycle.
 *
 * Schwab 1984 (AJ 89, 1076): major cycles compute the exact residual image
 * from the visibilities — residual_vis = vis − degrid(model), residual =
 * dirty(residual_vis)/Σw — and minor cycles (Högbom 1974, A&AS 15, 417)
 * subtract gain × peak × PSF from an approximate residual.  As in Clark
 * (1980, A&A 89, 377) the minor cycle works only on the pixels above its
 * stopping level (capped at CLEAN_MAX_CAND by raising that level), so its
 * cost does not grow with the image size; the next major cycle corrects
 * whatever that approximation missed.
 *
 * Stopping levels:  threshold = max(threshold_jy, auto_threshold · σ) with
 * σ = 1.4826 · MAD of the residual (robust against the sources); each minor
 * cycle cleans down to max(threshold, (1 − major_gain) · peak).  With
 * auto_mask > 0 (WSClean-style): clean everywhere to auto_mask · σ first,
 * then only at pixels that already hold components, down to the threshold.
 * CLEAN stops after the major cycle that follows a minor cycle which cleaned
 * down to the threshold itself (WSClean's rule: that residual may sit a
 * little above a threshold computed from the new, lower σ, and is final),
 * when the peak residual is already below the threshold, after niter
 * components or max_major cycles, or when a major cycle did not lower the
 * peak residual (it stopped improving: the last cycle is kept as it is).
 * With floor_jy > CLEAN_FLOOR_MIN × the threshold it also stops before a
 * minor cycle whose level would be below floor_jy (stop "floor"; a floor
 * nearer the threshold is ignored: what it guards against stays below the
 * threshold, imaging/subband.h), and clean_run_vis stops after the degrid
 * of a major cycle whose next level would be (max(threshold, (1 − major_gain)
 * × this cycle's level) < floor_jy: the exact peak comes out near the level
 * reached), without its image step: residual is then the one before that
 * cycle (residual_stale = 1; the cycle's peak_after_jy and sigma_after_jy are
 * NAN) while the residual visibilities are the final model's.
 */
#ifndef CONTIMG_CLEAN_H
#define CONTIMG_CLEAN_H

#include <complex.h>
#include <stddef.h>

#include "core/pool.h"
#include "imaging/grid.h"
#include "imaging/weight.h"

#define CLEAN_MAX_CAND 65536
#define CLEAN_FLOOR_MIN 2.0

typedef struct clean_params {
	int niter;             /* maximum components in total (default 20000; 0 = no CLEAN) */
	double gain;           /* minor-cycle loop gain (default 0.1) */
	double major_gain;     /* fraction of the peak cleaned per major cycle (default 0.8) */
	double threshold_jy;   /* absolute stopping level (default 0) */
	double auto_threshold; /* stopping level in residual σ (default 3; 0 = off) */
	double auto_mask;      /* auto-mask level in σ (default 0 = off), > auto_threshold */
	int max_major;         /* maximum major cycles (default 20) */
	double floor_jy;       /* stop (stop "floor") instead of a minor cycle whose level
				  would be below this (default 0 = off; the joined CLEAN
				  hands over there, imaging/subband.h) */
	int nthreads;          /* <= 0: OpenMP default */
	mem_pool *pool;        /* work buffers from this pool (core/pool.h; default NULL) */
} clean_params;

void clean_params_default(clean_params *p);

/* One major cycle as it went (clean_stats.cycle). */
typedef struct clean_cycle {
	double peak_jy;       /* |peak| of the residual the minor cycle started from */
	double level_jy;      /* the level the minor cycle cleaned down to */
	int components;       /* components it subtracted */
	int candidates;       /* pixels it worked on */
	double peak_after_jy; /* |peak| of the exact residual after the major cycle */
	double sigma_after_jy; /* 1.4826·MAD of that residual */
	double minor_s, major_s;
} clean_cycle;

#define CLEAN_MAX_TRACE 32

typedef struct clean_stats {
	int iterations;        /* components subtracted */
	int major_cycles;      /* residual recomputations from the visibilities */
	double peak_jy;        /* |peak| of the final residual */
	double sigma_jy;       /* 1.4826·MAD of the final residual */
	double threshold_jy;   /* the threshold used at the end */
	double model_flux_jy;  /* Σ model */
	double minor_s;        /* seconds in minor cycles */
	double major_s;        /* seconds in major cycles (degrid + grid) */
	const char *stop;      /* "threshold", "niter", "max_major", "no improvement",
				  "floor" */
	int joined_cycles;     /* of major_cycles, the joined-channel ones at the end
				  (imaging/subband.h; 0 without sub-bands) */
	int joined_factor;     /* their pixel, in image pixels a side (1: the image's
				  own grid; 0 when none ran) */
	int resumed_cycles;    /* of major_cycles, MFS ones after the joined ones */
	int residual_stale;    /* stop "floor" without the last image step (above) */
	int ntrace;            /* entries in cycle[]: the first CLEAN_MAX_TRACE major cycles */
	clean_cycle cycle[CLEAN_MAX_TRACE];
} clean_stats;

/* The end of a major cycle, shared by clean_run and the joined-channel CLEAN
 * (imaging/subband.c): records cyc in st's trace and applies the stopping
 * rules above — 1 (stop; st->stop set) after the cycle that followed a minor
 * cycle which cleaned to the threshold itself (last != 0) or when the peak
 * residual did not fall below *prev_peak, else 0 with *prev_peak updated. */
int clean_end_cycle(clean_stats *st, const clean_cycle *cyc, int last, double *prev_peak);

/* The largest |img[i]| of img[n] where mask[i] != 0 (everywhere when mask
 * is NULL); 0 when none. */
float clean_peak_masked(const float *img, size_t n, const unsigned char *mask);

/* Robust noise: 1.4826 × median absolute deviation of the finite values of
 * img[n] (subsampled to at most ~2M values).  0 when n == 0. */
double clean_mad_sigma(const float *img, size_t n);

/* Deconvolve.  g has its data set to s (grid_plan_set_data with s's uvw,
 * freq and img_wgt); psf[ny*nx] is the normalised PSF (peak 1 at the centre).
 * On entry residual[ny*nx] holds the dirty image normalised by s->sum_w and
 * model[ny*nx] zeros (or a starting model whose residual `residual` is); on
 * return they hold the final model (Jy per pixel) and residual (Jy/beam).
 * -ENOMEM. */
int clean_run(grid_plan *g, const weight_stokes *s, const float *psf, const clean_params *p,
	      float *model, float *residual, clean_stats *ret, char *err, size_t errlen);

/* The image step of the major cycle that clean_run_vis knows beforehand to
 * be its last (its minor cycle cleaned down to the threshold itself, or
 * niter or max_major end CLEAN after it): called instead of
 * grid_dirty(rvis)/Σw with the residual visibilities rvis (s's layout) of the
 * final model; it must fill residual[ny*nx] (Jy/beam) with their dirty image
 * (or a sum of partial ones that equals it, as the sub-band images do:
 * imaging/subband.h), and may use the plan as it likes (clean_run_vis no
 * longer does).  0, or a negative error with the reason in err. */
typedef int (*clean_last_image_fn)(void *ctx, const float complex *rvis, float *residual,
				   char *err, size_t errlen);

/* clean_run, and the residual visibilities of the final model: rvis[nrows ×
 * nchan] (caller's buffer, used as the work buffer of the major cycles) holds
 * on success s->vis − grid_degrid(model) for the returned model (computed
 * once more when no major cycle ran).  last_image (may be NULL) replaces the
 * image step of a last major cycle known in advance (above); when CLEAN ends
 * otherwise (no improvement, or no cycle at all) it is not called and
 * `residual` is clean_run's own.  Errors as clean_run's. */
int clean_run_vis(grid_plan *g, const weight_stokes *s, const float *psf,
		  const clean_params *p, float *model, float *residual, float complex *rvis,
		  clean_last_image_fn last_image, void *ctx, clean_stats *ret, char *err,
		  size_t errlen);

#endif
