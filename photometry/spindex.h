/*
 * photometry/spindex.h — in-band spectral index from sub-band fluxes.
 *
 * S(ν) = S0 (ν/ν0)^α fitted by weighted least squares in log space:
 *
 *     y_k = ln S_k,  σ_y,k = e_k / S_k  (first-order error propagation),
 *     y = ln S0 + α x,  x_k = ln(ν_k / ν0),
 *
 * with ν0 the weighted geometric mean of the frequencies used (Σ w x = 0), so
 * the intercept and the slope are uncorrelated:  α = Σ w x y / Σ w x²,
 * σ_α = 1 / √(Σ w x²),  ln S0 = Σ w y / Σ w,  σ(ln S0) = 1/√(Σ w),
 * w = 1/σ_y².  Only points with S > 0 and e > 0 enter (a logarithm needs a
 * positive flux; a source at low S/N in one sub-band should be read with
 * its error, which the log fit cannot give — spindex_fit says how many
 * points it used).  The errors are the formal ones; chi2 says whether they
 * describe the scatter (n − 2 degrees of freedom).
 */
#ifndef CONTIMG_SPINDEX_H
#define CONTIMG_SPINDEX_H

typedef struct spindex_result {
	double alpha, alpha_err;   /* S ∝ ν^alpha */
	double s0, s0_err;         /* flux at nu0_hz (Jy) */
	double nu0_hz;             /* weighted geometric mean frequency */
	double chi2;               /* Σ w (y − model)² */
	int n;                     /* points used */
} spindex_result;

/* Fit n sub-band fluxes s[k] ± e[k] (Jy) at nu_hz[k].  Returns the number of
 * points used (>= 2) and fills *ret; -EINVAL (and *ret all NAN, n = 0) when
 * fewer than two points have s > 0 and e > 0 or the frequencies are all
 * equal. */
int spindex_fit(const double *nu_hz, const double *s, const double *e, int n,
		spindex_result *ret);

#endif
