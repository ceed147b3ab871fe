/*
 * photometry/variability.h — variability metrics of a light curve, updated one
 * epoch at a time without rescanning the history.
 *
 * Metrics (over the epochs added so far; flux in any unit, err > 0):
 *   n, mean, std (sample, n-1), min, max;
 *   chi2_nu  = Σ w_i (x_i − x̄_w)² / (n − 1), w = 1/err², about the weighted mean;
 *   eta      = the VAST/TraP η (Swinbank et al. 2015, A&C 11, 25, eq. 4;
 *              vast-tools utils.pipeline_get_eta_metric):
 *              η = n/(n−1) · ( mean(w x²) − mean(w x)² / mean(w) ),
 *              which is algebraically the same number as chi2_nu (both are
 *              kept because both names are in use);
 *   v        = std / mean (TraP's V; pandas std, ddof = 1);
 *   sigma_deviation = max(|max − mean|, |min − mean|) / std;
 *   vs, m    = the two-epoch metrics of Mooley et al. (2016, ApJ 818, 105, §5):
 *              Vs = (a − b)/sqrt(σa² + σb²), m = 2 (a − b)/(a + b); the source's
 *              value is |Vs| and |m| of the pair with the largest |m| among the
 *              pairs with |Vs| >= vs_min (4.3), as vast-pipeline's
 *              vs/m_abs_significant_max.  NAN when no pair qualifies.
 * Undefined values are NAN (n < 2, zero std, zero mean ...).
 *
 * How the pair search stays incremental.  When epoch a arrives the only new
 * pairs are (a, b) for earlier b.  For positive fluxes |m| grows as b moves
 * away from a and |Vs| ≥ vs_min is easier to meet with a smaller σb, so an
 * earlier point b is useless for every future a once another point has a
 * flux at least as extreme on the same side and an error no larger.  The
 * state therefore keeps two small Pareto frontiers — (high flux, low error)
 * and (low flux, low error) — and the new pairs are evaluated against them
 * only: O(frontier) per epoch, exact for positive fluxes.  Pairs with a
 * non-positive flux are excluded (m is a fractional modulation; a + b ≤ 0
 * makes it meaningless), both here and in var_batch().  A frontier is capped
 * at VAR_FRONTIER_MAX points (when full, the least extreme point is dropped;
 * with errors that do not shrink steadily while the flux keeps rising a
 * frontier holds a handful of points).
 *
 * Running sums: Welford (1962) for mean/std; West (1979, CACM 22, 532) for the
 * weighted mean and Σ w (x − x̄_w)².  Both stay accurate over years of epochs.
 */
#ifndef CONTIMG_VARIABILITY_H
#define CONTIMG_VARIABILITY_H

#include <stddef.h>

#define VAR_VS_MIN 4.3          /* Mooley et al. 2016 significance threshold */
#define VAR_FRONTIER_MAX 32

typedef struct var_point {
	double flux, err;
} var_point;

/* The persistent per-source state (plain data: store it as a blob or columns). */
typedef struct var_state {
	long n;
	double mean, m2;            /* Welford: mean, Σ (x − mean)² */
	double min, max;
	double sw, wmean, s2w;      /* West: Σ w, weighted mean, Σ w (x − x̄_w)² */
	double vs, m;               /* |Vs|, |m| of the best significant pair so far (NAN: none) */
	double first_mjd, last_mjd; /* time span covered */
	int nup, nlo;
	var_point up[VAR_FRONTIER_MAX];  /* not dominated in (high flux, low err) */
	var_point lo[VAR_FRONTIER_MAX];  /* not dominated in (low flux, low err) */
} var_state;

typedef struct var_stats {
	long n;
	double mean, std, min, max;
	double wmean;               /* error-weighted mean */
	double chi2_nu, eta, v, sigma_deviation;
	double vs, m;
} var_stats;

/* Empty state. */
void var_init(var_state *s);

/* Add one epoch.  vs_min is the |Vs| significance threshold (VAR_VS_MIN).
 * Returns 0, or -EINVAL (state unchanged) when flux/err are not finite or
 * err <= 0. */
int var_add(var_state *s, double mjd, double flux, double err, double vs_min);

/* The metrics of the epochs added so far. */
void var_get(const var_state *s, var_stats *ret);

/* The same metrics computed from a whole light curve at once (two-pass sums
 * and an O(n²) pair search) — the reference var_add() is tested against, and
 * what `contimgctl variability` uses.  Epochs with a non-finite flux or a
 * non-positive error are skipped.  Returns 0 (also for n = 0). */
int var_batch(const double *flux, const double *err, size_t n, double vs_min, var_stats *ret);

#endif
