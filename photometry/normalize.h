/*
 * photometry/normalize.h — relative flux normalisation with a reference
 * ensemble per field (differential photometry).
 *
 * Per-epoch flux-scale errors (calibration, ionosphere, primary-beam
 * pointing) multiply every source of an image by the same factor.  A set of
 * bright, compact, stable references measures that factor: each reference has
 * a baseline (the median of its first `baseline_epochs` raw fluxes; usable
 * once `baseline_min_epochs` exist), and an epoch's correction is the median
 * of current/baseline over the references after `clip_sigma` × 1.4826·MAD
 * clipping.  Normalised flux = raw / correction with the correction's
 * uncertainty propagated.  A reference whose own normalised light curve has
 * χ²_ν > retire_chi2_nu over the last retire_window_days is retired.
 *
 * All functions are pure (no I/O); the caller stores norm_ref and the epoch
 * results.  Angles in radians.
 */
#ifndef CONTIMG_NORMALIZE_H
#define CONTIMG_NORMALIZE_H

#include <stddef.h>

#define NORM_MAX_BASELINE 64

typedef struct norm_params {
	double ref_min_snr;         /* catalog SNR >= this (50) */
	double ref_max_offset_rad;  /* within this of the image centre (1.5°) */
	int ref_max;                /* at most this many references (20) */
	int baseline_epochs;        /* baseline = median of the first N epochs (10, <= 64) */
	int baseline_min_epochs;    /* a baseline needs this many epochs (3) */
	int min_refs;               /* an epoch needs this many surviving ratios (3) */
	double clip_sigma;          /* MAD clipping of the ratios (3) */
	double retire_chi2_nu;      /* retire above this χ²_ν (2) */
	double retire_window_days;  /* over this window (30) */
	int retire_min_epochs;      /* and only with this many epochs in the window (20: with
				       fewer, χ²_ν > 2 happens by chance too often) */
} norm_params;

void norm_params_default(norm_params *p);

/* A catalog source considered as a reference. */
typedef struct norm_candidate {
	double snr;          /* catalog SNR (NAN: unknown → not eligible) */
	int resolved;        /* catalog says extended */
	int confused;        /* catalog says blended */
	double offset_rad;   /* distance from the image centre */
} norm_candidate;

/* Choose references: the indices (into c) of up to ref_max eligible
 * candidates, highest SNR first, written to ret_idx (room for ref_max).
 * Returns how many. */
size_t norm_select_refs(const norm_candidate *c, size_t n, const norm_params *p, size_t *ret_idx);

/* Persistent state of one reference source. */
typedef struct norm_ref {
	int nbase;                        /* raw fluxes collected for the baseline */
	double base_flux[NORM_MAX_BASELINE];
	double baseline;                  /* median of base_flux, NAN until nbase >= min */
	int retired;                      /* 1: no longer used */
} norm_ref;

void norm_ref_init(norm_ref *r);

/* Offer one epoch's raw flux to the reference's baseline: counted while fewer
 * than baseline_epochs are held (non-finite fluxes are ignored). */
void norm_ref_add_baseline(norm_ref *r, double raw_flux, const norm_params *p);

enum norm_flag {
	NORM_TOO_FEW_REFS = 1u << 0, /* fewer than min_refs usable ratios: not normalised */
	NORM_PROVISIONAL = 1u << 1,  /* normalised, but some references' baselines are still
					growing (fewer than baseline_epochs): the flux scale
					moves from epoch to epoch until they are complete, so
					such epochs are kept out of variability statistics and
					reference retirement */
	NORM_BAD_QUALITY = 1u << 2,  /* the image failed its quality checks (epoch_quality,
					docs/photometry.md): normalised and shown, but kept out
					of baselines, statistics, retirement and ESE fits */
};

typedef struct norm_epoch {
	double correction;      /* median ratio (NAN when not normalised) */
	double correction_err;  /* its 1σ uncertainty */
	int nref_used;          /* ratios kept after clipping */
	int nref_clipped;       /* ratios rejected by the clip */
	unsigned flags;         /* enum norm_flag */
} norm_epoch;

/* The correction of one epoch from the references' raw fluxes flux[i] ± err[i]
 * (NAN flux: not measured) and their states refs[i] (retired or baseline-less
 * references are skipped).  Always fills *ret; returns 0, or -ENOMEM. */
int norm_epoch_correction(const norm_ref *refs, const double *flux, const double *err,
			  size_t nref, const norm_params *p, norm_epoch *ret);

/* Normalise one measurement: *ret_flux = flux / c, *ret_err = sqrt(err² +
 * (flux σc / c)²) / c.  NAN out when the epoch is not normalised. */
void norm_apply(double flux, double err, const norm_epoch *e, double *ret_flux, double *ret_err);

/* Should a reference be retired?  Its normalised light curve (mjd, flux, err;
 * any order) restricted to (now − retire_window_days, now]: χ²_ν about the
 * weighted mean > retire_chi2_nu with at least retire_min_epochs points.
 * *ret_chi2_nu (may be NULL) gets the value (NAN when too few points). */
int norm_should_retire(const double *mjd, const double *flux, const double *err, size_t n,
		       double now_mjd, const norm_params *p, double *ret_chi2_nu);

#endif
