/*
 * photometry/spindex.c — in-band spectral index (see spindex.h).
 */
#include "photometry/spindex.h"

#include <errno.h>
#include <math.h>

int spindex_fit(const double *nu_hz, const double *s, const double *e, int n,
		spindex_result *ret)
{
	double sw = 0, swl = 0, swx = 0, swxx = 0, swxy = 0, swy = 0;
	int m = 0;

	*ret = (spindex_result){ NAN, NAN, NAN, NAN, NAN, NAN, 0 };
	for (int k = 0; k < n; k++) {
		if (!(s[k] > 0) || !(e[k] > 0) || !(nu_hz[k] > 0) || !isfinite(s[k]) ||
		    !isfinite(e[k]))
			continue;
		double w = (s[k] / e[k]) * (s[k] / e[k]);
		sw += w;
		swl += w * log(nu_hz[k]);
		m++;
	}
	if (m < 2)
		return -EINVAL;
	double lnu0 = swl / sw;
	for (int k = 0; k < n; k++) {
		if (!(s[k] > 0) || !(e[k] > 0) || !(nu_hz[k] > 0) || !isfinite(s[k]) ||
		    !isfinite(e[k]))
			continue;
		double w = (s[k] / e[k]) * (s[k] / e[k]), x = log(nu_hz[k]) - lnu0, y = log(s[k]);
		swx += w * x;
		swxx += w * x * x;
		swxy += w * x * y;
		swy += w * y;
	}
	if (!(swxx > 0))
		return -EINVAL;
	double a = swxy / swxx, lns0 = swy / sw, chi2 = 0;
	for (int k = 0; k < n; k++) {
		if (!(s[k] > 0) || !(e[k] > 0) || !(nu_hz[k] > 0) || !isfinite(s[k]) ||
		    !isfinite(e[k]))
			continue;
		double w = (s[k] / e[k]) * (s[k] / e[k]), x = log(nu_hz[k]) - lnu0;
		double d = log(s[k]) - lns0 - a * x;
		chi2 += w * d * d;
	}
	(void)swx; /* Σ w x = 0 by the choice of ν0 */
	ret->alpha = a;
	ret->alpha_err = 1 / sqrt(swxx);
	ret->s0 = exp(lns0);
	ret->s0_err = ret->s0 / sqrt(sw);
	ret->nu0_hz = exp(lnu0);
	ret->chi2 = chi2;
	ret->n = m;
	return m;
}
