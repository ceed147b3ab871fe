/*
 * photometry/ese.h — Extreme Scattering Event (ESE) scoring of a light curve.
 *
 * An ESE (Fiedler et al. 1987, Nature 326, 675; 1994, ApJ 430, 581) is a
 * weeks-to-months flux dip (or spike) of a compact source, with caustic
 * "shoulders", made by a plasma lens crossing the line of sight.  The model
 * fitted here is the one-dimensional Gaussian plasma lens of Clegg, Fey &
 * Lazio (1998, ApJ 496, 253): lens-plane coordinate x (units of the lens
 * width a) maps to observer coordinate u = x (1 + α e^{−x²}) (α > 0: an
 * over-dense, diverging lens → dip with caustic edges; α < 0: under-dense,
 * converging → spike); the point-source gain G(u) = Σ_images |dx/du| is
 * computed by ray shooting, then smoothed by a Gaussian source of width s
 * (units of a).  The light curve is F(t) = F0 · G((t − t0) / T).
 *
 * Only sources with n > min_epochs that pass the variability gate
 * (χ²_ν > gate_chi2_nu or V > gate_v) are scored; the score in [0, 1] combines
 * how much better the lens model fits than the best of a constant and a
 * straight line (ΔBIC), how much of the excess χ² it explains, whether its
 * timescale is plausible, its amplitude, whether the event is covered by the
 * data, and its symmetry.  The formula and the reasoning are in docs/ese.md.
 */
#ifndef CONTIMG_ESE_H
#define CONTIMG_ESE_H

#include <stddef.h>

typedef struct ese_params {
	int min_epochs;            /* score only when n > this (20) */
	double gate_chi2_nu;       /* variability gate: χ²_ν > this (3) ... */
	double gate_v;             /* ... or V > this (0.05) */
	double tmin_days;          /* plausible event duration 2T, lower end (14) */
	double tmax_days;          /* upper end (180) */
	double candidate_score;    /* score >= this makes a candidate (0.6) */
} ese_params;

void ese_params_default(ese_params *p);

typedef struct ese_result {
	int scored;              /* 1 when n > min_epochs and the gate passed */
	double score;            /* [0,1]; 0 when not gated in; NAN when n <= min_epochs */
	/* event characterisation (NAN when not scored) */
	double amplitude;        /* peak-to-trough fraction of the fitted model, (max − min)/max */
	double timescale_days;   /* 2T: time to cross the lens's ±1 width */
	double asymmetry;        /* (D_before − D_after)/(D_before + D_after) of the data's
				    deviation from F0 either side of t0, in [−1, 1] */
	double coverage;         /* fraction of [t0 − 1.5T, t0 + 1.5T] inside the data span */
	/* fitted lens model */
	double f0, t0_mjd, t_days, alpha, src_size;
	/* fit statistics */
	double chi2_const, chi2_line, chi2_model;
	double dbic;             /* BIC(best of constant, line) − BIC(lens) */
	double explained;        /* (χ²_alt − χ²_model) / (χ²_alt − dof_alt) */
	/* score components, each in [0,1] (docs/ese.md) */
	double s_bic, s_expl, s_time, s_amp, s_cov, s_sym;
} ese_result;

/* Score the light curve (mjd, flux, err; n points, sorted by time or not;
 * non-finite flux or err <= 0 are skipped).  Fills *ret always.  Returns 0,
 * -ENOMEM. */
int ese_score(const double *mjd, const double *flux, const double *err, size_t n,
	      const ese_params *p, ese_result *ret);

/* The fitted model's flux at mjd (NAN when not scored). */
double ese_model_flux(const ese_result *r, double mjd);

/* Gain of the smoothed Gaussian lens G(u) for strength alpha and source size
 * s, at observer position u (units of the lens width); exposed for tests and
 * simulations.  alpha and s must be one of the tabulated values
 * (ese_lens_alphas / ese_lens_sizes); other values return NAN. */
double ese_lens_gain(double alpha, double s, double u);
/* The tabulated grid (static arrays; *ret_n gets the count). */
const double *ese_lens_alphas(int *ret_n);
const double *ese_lens_sizes(int *ret_n);

#endif
