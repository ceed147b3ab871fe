/*
 * calib/calsel.c — calibrator transits and calibrator-group selection (see calsel.h).
 */
#include "calib/calsel.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/astro.h"
#include "core/err.h"
#include "core/vis.h"

/* dERA/dt in radians per UT1 day (IAU 2000 ERA: 2π × 1.00273781191135448). */
#define ERA_RATE_RAD_DAY (2 * M_PI * 1.00273781191135448)
#define SIDEREAL_DAY_D (CALSEL_SIDEREAL_DAY_S / 86400.0)

void calsel_params_default(calsel_params *p)
{
	p->min_flux_jy = CALSEL_MIN_FLUX_JY;
	p->radius_rad = 0;
	p->beam_level = CALSEL_BEAM_LEVEL;
	p->dish_m = CALSEL_DISH_M;
	p->freq_hz = CALSEL_FREQ_HZ;
}

static double airy_power(double x)
{
	double a;
	if (fabs(x) < 1e-8)
		return 1.0;
	a = 2 * j1(x) / x;
	return a * a;
}

/* P(θ) = [2 J1(x)/x]², x = π D sin θ / λ (uniformly illuminated circular
 * aperture; e.g. Thompson, Moran & Swenson 2017, §15.1).  P falls
 * monotonically from 1 to 0 between x = 0 and the first zero of J1
 * (x = 3.8317), so bisection on x finds the level uniquely. */
double calsel_beam_radius_rad(double dish_m, double freq_hz, double level)
{
	double lo = 0, hi = 3.8317059702075125, lambda, s;

	if (!(dish_m > 0) || !(freq_hz > 0) || !(level > 0 && level < 1))
		return NAN;
	for (int i = 0; i < 100; i++) {
		double mid = 0.5 * (lo + hi);
		if (airy_power(mid) > level)
			lo = mid;
		else
			hi = mid;
	}
	lambda = VIS_C_M_S / freq_hz;
	s = 0.5 * (lo + hi) * lambda / (M_PI * dish_m);
	return s >= 1 ? M_PI / 2 : asin(s);
}

double calsel_hour_angle(double ra_rad, double dec_rad, const calsel_site *site, double t_jd,
			 double *ret_dec_app_rad)
{
	double ha, dec_app;

	if (astro_hour_angle(t_jd, site->lon_rad, 0.0, ra_rad, dec_rad, &ha, &dec_app) < 0)
		return NAN;
	if (ret_dec_app_rad)
		*ret_dec_app_rad = dec_app;
	return ha;
}

/* Newton iteration on H(t) = 0: dH/dt is the Earth's rotation rate minus the
 * apparent place's slow drift (< 1e-7 of it), so each step gains ~7 digits
 * and two or three steps reach the double-precision limit of a JD (~40 µs). */
static double refine_transit(double ra_rad, double dec_rad, const calsel_site *site, double t)
{
	for (int i = 0; i < 6; i++) {
		double h = calsel_hour_angle(ra_rad, dec_rad, site, t, NULL);
		double dt;
		if (!isfinite(h))
			return NAN;
		dt = -h / ERA_RATE_RAD_DAY;
		t += dt;
		if (fabs(dt) < 1e-10) /* ~9 µs */
			break;
	}
	return t;
}

double calsel_transit_near(double ra_rad, double dec_rad, const calsel_site *site, double t_jd)
{
	return refine_transit(ra_rad, dec_rad, site, t_jd);
}

int calsel_transits(double ra_rad, double dec_rad, const calsel_site *site, double from_jd,
		    double days, double *ret_jd, size_t max, size_t *ret_n)
{
	double t, end = from_jd + days;
	size_t n = 0;

	if (!isfinite(from_jd) || !isfinite(days) || days < 0 || !isfinite(ra_rad) ||
	    !isfinite(dec_rad))
		return -EINVAL;
	t = refine_transit(ra_rad, dec_rad, site, from_jd);
	if (!isfinite(t))
		return -EINVAL;
	if (t < from_jd)
		t = refine_transit(ra_rad, dec_rad, site, t + SIDEREAL_DAY_D);
	while (isfinite(t) && t < end) {
		if (n < max && ret_jd)
			ret_jd[n] = t;
		n++;
		t = refine_transit(ra_rad, dec_rad, site, t + SIDEREAL_DAY_D);
	}
	if (!isfinite(t))
		return -EINVAL;
	*ret_n = n;
	return 0;
}

int calsel_find(const calsel_cand *cands, size_t ncands, double t0_jd, double t1_jd,
		double pointing_dec_rad, const calsel_site *site, const calsel_params *p,
		calsel_match *ret_match, char *err, size_t errlen)
{
	calsel_params def;
	calsel_match best = { .index = -1, .transit_jd = NAN, .sep_rad = NAN,
			      .dec_app_rad = NAN, .flux_jy = NAN };
	double radius, lambda, best_score = -1;
	int found = 0;

	if (!p) {
		calsel_params_default(&def);
		p = &def;
	}
	if (!isfinite(t0_jd) || !isfinite(t1_jd) || t1_jd < t0_jd || !isfinite(pointing_dec_rad))
		return err_set(err, errlen, -EINVAL, "calsel: bad time span or pointing");
	radius = p->radius_rad > 0 ? p->radius_rad
				   : calsel_beam_radius_rad(p->dish_m, p->freq_hz, p->beam_level);
	if (!isfinite(radius))
		return err_set(err, errlen, -EINVAL, "calsel: bad beam parameters (dish %g m,"
			       " %g Hz, level %g)", p->dish_m, p->freq_hz, p->beam_level);
	lambda = VIS_C_M_S / (p->freq_hz > 0 ? p->freq_hz : CALSEL_FREQ_HZ);
	for (size_t i = 0; i < ncands; i++) {
		const calsel_cand *c = &cands[i];
		double tt, dec_app = NAN, sep, score, x;

		if (!(c->flux_jy >= p->min_flux_jy))
			continue;
		/* A candidate far from the pointing declination cannot qualify
		 * (apparent and J2000 decs differ by < 0.5° for centuries). */
		if (fabs(c->dec_rad - pointing_dec_rad) > radius + 0.01)
			continue;
		tt = refine_transit(c->ra_rad, c->dec_rad, site, 0.5 * (t0_jd + t1_jd));
		if (!isfinite(tt))
			return err_set(err, errlen, -EINVAL, "calsel: time out of range");
		if (tt < t0_jd || tt > t1_jd)
			continue;
		calsel_hour_angle(c->ra_rad, c->dec_rad, site, tt, &dec_app);
		sep = fabs(dec_app - pointing_dec_rad);
		if (!(sep <= radius))
			continue;
		found++;
		/* Prefer the brightest apparent calibrator: flux × beam response. */
		x = M_PI * (p->dish_m > 0 ? p->dish_m : CALSEL_DISH_M) * sin(sep) / lambda;
		score = c->flux_jy * airy_power(x);
		if (score > best_score) {
			best_score = score;
			best.index = (int)i;
			best.transit_jd = tt;
			best.sep_rad = sep;
			best.dec_app_rad = dec_app;
			best.flux_jy = c->flux_jy;
		}
	}
	if (ret_match)
		*ret_match = best;
	return found;
}
