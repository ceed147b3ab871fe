/*
 * core/beam.c — Airy primary beam (see beam.h).
 */
#include "core/beam.h"

#include <math.h>

#include "core/astro.h"
#include "core/vis.h"

double beam_j1(double x)
{
	/* glibc's j1 (Sun fdlibm: rational approximations on [0, 2], Hankel
	 * asymptotic forms beyond) is accurate to a few ulp; tests compare it
	 * against tabulated values (Abramowitz & Stegun, Table 9.1). */
	return j1(x);
}

double beam_airy_x(double x)
{
	double r;

	if (fabs(x) < 1e-4)
		return 1.0 - x * x / 4.0; /* 2 J1(x)/x = 1 − x²/8 + …, squared */
	r = 2.0 * beam_j1(x) / x;
	return r * r;
}

double beam_airy(double sin_theta, double freq_hz, double diam_m)
{
	return beam_airy_x(M_PI * diam_m * freq_hz * sin_theta / VIS_C_M_S);
}

double beam_radius(double level, double freq_hz, double diam_m)
{
	/* Bisection on the main lobe x in (0, j1,1 = 3.8317), where P is monotone. */
	double lo = 0, hi = 3.8317059702075123, s;

	if (!(level > 0 && level < 1) || !(freq_hz > 0) || !(diam_m > 0))
		return NAN;
	for (int i = 0; i < 100; i++) {
		double mid = 0.5 * (lo + hi);
		if (beam_airy_x(mid) > level)
			lo = mid;
		else
			hi = mid;
	}
	s = 0.5 * (lo + hi) * VIS_C_M_S / (M_PI * diam_m * freq_hz);
	return s >= 1 ? M_PI / 2 : asin(s);
}

double beam_airy_radec(double ra_rad, double dec_rad, double ra0_rad, double dec0_rad,
		       double freq_hz, double diam_m)
{
	double l, m, n;

	astro_lmn(ra_rad, dec_rad, ra0_rad, dec0_rad, &l, &m, &n);
	return beam_airy(sqrt(l * l + m * m), freq_hz, diam_m);
}
