/*
 * photometry/ese.h — Extreme Scattering Event (ESE) scoring of a light curve.
 *
 * An ESE (Fiedler et al. 1987, Nature 326, 675; 1994, ApJ 430, 581) is a
 * weeks-to-months flux dip (or spike) of a compact source, with caustic
 * "shoulders", made by a plasma lens crossing the line of sight.  The lens
 * fitted here is the one-dimensional Gaussian plasma lens of Clegg, Fey &
 * Lazio (1998, ApJ 496, 253): lens-plane coordinate x (units of the lens
 * width a) maps to observer coordinate u = x (1 + α e^{−x²}) (α > 0: an
 * over-dense, diverging lens → dip with caustic edges; α < 0: under-dense,
 * converging → spike with flanking dimming); the point-source gain
 * G(u) = Σ_images |dx/du| is computed by ray shooting, then smoothed by a
 * Gaussian source of width s (units of a).  The light curve is
 * F(t) = F0 · G((t − t0) / T).
 *
 * The lens is compared, by BIC weights with the χ² scaled by the best
 * model's over-dispersion, with what real sources and instruments do:
 * constant, line, step, one-epoch outlier, short dropout, fast-rise
 * exponential-decay flare, symmetric flare, sinusoid and sinusoid plus trend.
 * The score in [0, 1] is the lens's weight against all of them times terms
 * computed from the data: depth, duration, epochs inside the event and on its
 * edges, and the lens signature (shoulders of a dip, flanks of a spike).  An
 * event whose ingress is seen but not its end is scored as `ongoing`, by the
 * lens or by the ingress model (a baseline, a caustic shoulder above it, then
 * a low state that lasts to the last epoch: what tells an ESE in progress
 * from a step).  The formula and the reasoning are in docs/ese.md.
 */
#ifndef CONTIMG_ESE_H
#define CONTIMG_ESE_H

#include <stddef.h>

typedef struct ese_params {
	int min_epochs;            /* score only when n > this (12: docs/ese.md) */
	double gate_chi2_nu;       /* variability gate: χ²_ν > this (3) ... */
	double gate_v;             /* ... or V > this (0.05) */
	double tmin_days;          /* plausible event duration (FWHM), lower end (14) */
	double tmax_days;          /* upper end (180) */
	double candidate_score;    /* score >= this makes a candidate (0.6) */
} ese_params;

void ese_params_default(ese_params *p);

/* Models compared with the lens (ese_result.best_alt indexes this order). */
enum ese_alt {
	ESE_ALT_CONST, ESE_ALT_LINE, ESE_ALT_STEP, ESE_ALT_OUTLIER, ESE_ALT_DROPOUT,
	ESE_ALT_FRED, ESE_ALT_SYMFLARE, ESE_ALT_SINE, ESE_ALT_SINE_TREND, ESE_NALT
};

/* The name of an alternative ("constant", "line", "step", "outlier",
 * "dropout", "fred", "symmetric_flare", "sinusoid", "sinusoid_trend"); a
 * static string, "" for an out-of-range value. */
const char *ese_alt_name(int alt);

typedef struct ese_result {
	int scored;              /* 1 when n > min_epochs and the gate passed */
	double score;            /* [0,1]; 0 when not gated in; NAN when n <= min_epochs */
	int ongoing;             /* 1: the ingress is seen, the end is not (yet); score is then
				    the ongoing score (no egress or duration-ceiling terms) */
	int ingress;             /* 1: the ongoing score is the ingress model's (baseline,
				    shoulder, low state to the last epoch; docs/ese.md), not
				    the lens's; the lens parameters below are still the lens
				    fit's, the counts, χ², evidence and terms the ingress's */
	double ingress_mjd;      /* with ingress: the first epoch of the low state (NAN
				    otherwise) */
	/* event characterisation (NAN when not scored) */
	double amplitude;        /* depth of a dip (height of a spike) measured from the data:
				    the extreme 3-epoch running mean inside the event vs F0,
				    as a fraction of F0 */
	double timescale_days;   /* 2T: time to cross the lens's ±1 width */
	double duration_days;    /* D: full width of the fitted event at a quarter of its depth */
	double asymmetry;        /* (D_before − D_after)/(D_before + D_after) of the data's
				    deviation from F0 either side of t0, in [−1, 1] */
	double coverage;         /* fraction of [t0 − D/2, t0 + D/2] inside the data span */
	/* fitted lens model */
	double f0, t0_mjd, t_days, alpha, src_size;
	double lensed_fraction;  /* A in (0, 1]; ese_model_flux takes 0 (a result rebuilt
				    from a stored candidate without it) as 1 */
	/* fit statistics (χ² unscaled) */
	double chi2_const, chi2_line, chi2_model;
	double chi2_alt;         /* the best alternative (lowest BIC) */
	int best_alt;            /* enum ese_alt of that alternative */
	double overdispersion;   /* ĉ = max(1, χ²/dof) of the best model of all */
	double dbic;             /* BIC(best alternative) − BIC(lens), with χ²/ĉ */
	double alt_evidence;     /* summed BIC weight of all alternatives (1 − s_evid) */
	double explained;        /* (χ²_alt − χ²_model) / (χ²_alt − dof_alt), in [0, 1] */
	int n_event;             /* epochs with |t − t0| < D/2 */
	int n_ingress, n_egress; /* epochs within D/4 of either edge (t0 ∓ D/2) */
	int n_base;              /* epochs outside the event, more than 3D/4 from t0 */
	double signature_sigma;  /* significance of the lens signature in the data: excess
				    on the shoulders of a dip, deficit on the flanks of a spike */
	double chi2_nu_out;      /* χ²_ν about their mean of the epochs outside the event where
				    the lens is within a third of an error bar of F0 (NAN when
				    fewer than 5) */
	/* score components, each in [0,1] (docs/ese.md) */
	double s_evid, s_depth, s_time, s_epochs, s_sig, s_quiet;
} ese_result;

/* Score the light curve (mjd, flux, err; n points, sorted by time or not;
 * non-finite flux or err <= 0 are skipped).  Fills *ret always.  Returns 0,
 * -ENOMEM. */
int ese_score(const double *mjd, const double *flux, const double *err, size_t n,
	      const ese_params *p, ese_result *ret);

/* The fitted model's flux at mjd (NAN when not scored or when alpha and
 * src_size are not tabulated values). */
double ese_model_flux(const ese_result *r, double mjd);

/* Gain of the smoothed Gaussian lens G(u) for strength alpha and source size
 * s, at observer position u (units of the lens width); exposed for tests and
 * simulations.  alpha and s must be one of the tabulated values
 * (ese_lens_alphas / ese_lens_sizes); other values return NAN. */
double ese_lens_gain(double alpha, double s, double u);
/* The tabulated grid (static arrays; *ret_n gets the count). */
const double *ese_lens_alphas(int *ret_n);
const double *ese_lens_sizes(int *ret_n);

/* ---- joint sub-band lens fit (photometry/ese_band.c) ----
 *
 * Refraction scales as λ²: the strength of a plasma lens at frequency ν is
 * α(ν) = α_ref (ν_ref/ν)² (Clegg, Fey & Lazio 1998, eq. 5: α ∝ λ² N0 L / a²),
 * so across 1.28–1.53 GHz it changes by ~40 %, while a flare, an
 * instrumental step or a calibration dip changes every sub-band alike.
 * ese_score_subband fits the per-sub-band light curves jointly with one
 * Gaussian lens crossing (t0, T, source size s common), in two versions with
 * the same number of parameters:
 *   chromatic    sub-band k sees α_ref (ν_ref/ν_k)²
 *   achromatic   every sub-band sees the same α
 * each with its own F0 per sub-band (solved linearly), on a grid of t0, T,
 * α_ref and s (the gain by ray shooting through the lens of ese.h, u = x(1 +
 * α e^{−x²}), smoothed by a Gaussian source of width s).  ν_ref is the
 * geometric mean of the first and last sub-band frequencies.
 *
 *   dchi2        = (χ²_achromatic − χ²_chromatic) / ĉ, ĉ = max(1, χ²_best / dof)
 *   consistency  = 1 / (1 + e^{−dchi2/2}): the probability of the chromatic
 *                  lens against the achromatic dip with equal priors (same
 *                  parameter count, so the BIC difference is dchi2)
 *   decisive     = the lens improves on constant sub-band fluxes by Δχ²/ĉ >=
 *                  ESE_BAND_EVENT and |dchi2| >= ESE_BAND_DECISIVE (2 ln B
 *                  >= 10, "very strong" on the Kass & Raftery 1995 scale)
 */
#define ESE_BAND_MIN_EPOCHS 8
#define ESE_BAND_EVENT 25.0
#define ESE_BAND_DECISIVE 10.0
#define ESE_BAND_MAX 16

typedef struct ese_band_result {
	int scored;             /* 1 when fitted: >= ESE_BAND_MIN_EPOCHS epochs with every
				   sub-band measured, 2..ESE_BAND_MAX sub-bands */
	int decisive;           /* see above */
	double consistency;     /* [0, 1]; NAN when not scored */
	double dchi2;           /* > 0: the λ² lens is preferred */
	double chi2_chromatic, chi2_achromatic, chi2_const; /* unscaled */
	double overdispersion;  /* ĉ */
	double alpha_ref;       /* chromatic lens strength at ref_freq_hz */
	double ref_freq_hz;
	double t0_mjd, t_days, src_size; /* the chromatic fit */
	int n;                  /* epochs used */
	int nsub;
} ese_band_result;

/* Fit n epochs (mjd[i]) of nsub sub-bands at freq_hz[k]: flux[i*nsub + k] ±
 * err[i*nsub + k] (an epoch with any non-finite flux or err <= 0 is
 * skipped).  Fills *ret always (scored = 0 when there is too little).
 * Returns 0, -EINVAL (nsub outside 2..ESE_BAND_MAX), -ENOMEM.  Does not use
 * or change ese_score. */
int ese_score_subband(const double *mjd, size_t n, int nsub, const double *freq_hz,
		      const double *flux, const double *err, ese_band_result *ret);

/* The gain of the smoothed Gaussian lens of any strength alpha >= 0 and
 * source size s > 0 (units of the lens width) at u, by ray shooting (the
 * table ese_score_subband uses; exposed for tests and simulations). */
double ese_band_gain(double alpha, double s, double u);

#endif
