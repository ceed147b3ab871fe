/*
 * imaging/proj.c — SIN / slant-SIN pixel geometry (see proj.h).
 */
#include "imaging/proj.h"

#include <math.h>

#include "core/astro.h"

double proj_one_minus_n(const img_proj *p, double X, double Y)
{
	double a = 1 + p->xi * p->xi + p->eta * p->eta, b = 1 + p->xi * X + p->eta * Y;
	double c = X * X + Y * Y, d = b * b - a * c;
	if (d < 0 || b <= 0)
		return -1;
	/* c / (b + √d) is the smaller root without cancellation near the centre. */
	double t = c / (b + sqrt(d));
	return t <= 1 ? t : -1;
}

int proj_pix_to_radec(const img_proj *p, double x, double y, double *ret_ra, double *ret_dec)
{
	double X = -(x - p->nx / 2) * p->cell_rad, Y = (y - p->ny / 2) * p->cell_rad;
	double t = proj_one_minus_n(p, X, Y);
	if (t < 0)
		return -1;
	double l = X - p->xi * t, m = Y - p->eta * t, n = 1 - t;
	double sd = sin(p->dec0_rad), cd = cos(p->dec0_rad);
	/* Inverse of astro_lmn: rotate (l, m, n) from the centre's east/north/
	 * direction basis back to equatorial axes. */
	*ret_dec = asin(fmax(-1, fmin(1, m * cd + n * sd)));
	*ret_ra = astro_wrap_2pi(p->ra0_rad + atan2(l, n * cd - m * sd));
	return 0;
}

int proj_radec_to_pix(const img_proj *p, double ra, double dec, double *ret_x, double *ret_y)
{
	double l, m, n;
	astro_lmn(ra, dec, p->ra0_rad, p->dec0_rad, &l, &m, &n);
	if (n <= 0)
		return -1;
	/* 1 − n without cancellation: (l² + m²) / (1 + n). */
	double t = (l * l + m * m) / (1 + n);
	*ret_x = p->nx / 2 - (l + p->xi * t) / p->cell_rad;
	*ret_y = p->ny / 2 + (m + p->eta * t) / p->cell_rad;
	return 0;
}
