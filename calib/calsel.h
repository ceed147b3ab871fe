/*
 * calib/calsel.h — which groups calibrate: calibrator transits and selection.
 *
 * Pure arithmetic, no database: the caller passes candidate calibrators (from
 * state/catalog.h: catalog_cals_near_dec + catalog_cal_model) as plain structs.
 *
 * A group is a calibrator group when a candidate with flux >= min_flux_jy
 * transits (apparent hour angle 0) inside the group's time span and, at that
 * transit, lies within radius_rad of the pointing (which is at hour angle 0 and
 * the pointing's apparent declination, so the separation is the difference of
 * apparent declinations).
 *
 * Hour angle follows the reference data's recipe (shared/data/README.md):
 * the geocentric apparent place at t (ERFA eraAtci13: ICRS → CIRS with
 * IAU 2006/2000A precession–nutation, annual aberration and light deflection),
 * H = ERA(UT1 = UTC) + east longitude − RA_CIRS.  UT1 − UTC = 0, no polar
 * motion, no diurnal aberration or refraction.  Times are UTC Julian dates.
 *
 * Typical use (the calibrate stage):
 *
 *     catalog_cals_near_dec(cat, pointing_dec_deg, radius_deg + 1, min_flux_jy, &cals, &n, ...);
 *     for each i: catalog_cal_model(cat, &cals[i], &m, ...);
 *                 cand[i] = (calsel_cand){ name, m.ra_rad, m.dec_rad,
 *                                          catalog_model_flux_jy(&m, band_centre_hz) };
 *     k = calsel_find(cand, n, t0_jd, t1_jd, vis->pointing_dec_rad, &site, &params, &match, ...);
 *     k > 0: calibrate on cals[match.index] (its model m); k == 0: not a calibrator group.
 *
 * Errors follow core/err.h.
 */
#ifndef CONTIMG_CALSEL_H
#define CONTIMG_CALSEL_H

#include <stddef.h>

#define CALSEL_SIDEREAL_DAY_S 86164.0905 /* mean sidereal day (23h56m4.0905s) */

/* The defaults of calsel_params, the one place they are written ([calibrate]
 * cal_min_flux_jy, cal_beam_level, cal_beam_freq_hz in docs/config.md). */
#define CALSEL_MIN_FLUX_JY 2.0     /* weakest calibrator that makes a calibrator group */
#define CALSEL_BEAM_LEVEL 0.3      /* primary-beam power level of the automatic radius */
#define CALSEL_DISH_M 4.65         /* DSA-110 dish diameter */
#define CALSEL_FREQ_HZ 1.405e9     /* band centre of the automatic radius */

typedef struct calsel_site {
	double lat_rad, lon_rad; /* geodetic latitude, east longitude */
	double alt_m;
} calsel_site;

/* One candidate calibrator. */
typedef struct calsel_cand {
	char name[32];
	double ra_rad, dec_rad;  /* ICRS / J2000 */
	double flux_jy;          /* at the band centre (or L band) */
} calsel_cand;

typedef struct calsel_params {
	double min_flux_jy;   /* default CALSEL_MIN_FLUX_JY */
	double radius_rad;    /* 0 = automatic: calsel_beam_radius_rad(dish_m, freq_hz, beam_level) */
	double beam_level;    /* primary-beam power level of the automatic radius; default
				 CALSEL_BEAM_LEVEL */
	double dish_m;        /* default CALSEL_DISH_M */
	double freq_hz;       /* band centre for the automatic radius; default CALSEL_FREQ_HZ */
} calsel_params;

typedef struct calsel_match {
	int index;            /* into the candidate array, -1 when none */
	double transit_jd;    /* UTC JD of hour angle 0 */
	double sep_rad;       /* |apparent dec − pointing dec| at transit */
	double dec_app_rad;   /* apparent (CIRS) declination at transit */
	double flux_jy;
} calsel_match;

/* The CALSEL_* defaults above (radius_rad 0: automatic). */
void calsel_params_default(calsel_params *p);

/* Angle from the beam centre where the Airy power pattern of a uniformly
 * illuminated dish, P(θ) = [2 J1(x)/x]², x = π D sin θ / λ, falls to `level`
 * (0 < level < 1).  Returns NAN for a bad argument.  4.65 m at 1.405 GHz and
 * level 0.3 gives ≈ 1.73°. */
double calsel_beam_radius_rad(double dish_m, double freq_hz, double level);

/* Apparent hour angle (radians, wrapped to (−π, π]) and CIRS declination of an
 * ICRS direction at UTC JD t_jd (ret_dec_app_rad may be NULL).  NAN when the
 * time is outside ERFA's range.  (core/astro.h astro_hour_angle, UT1 = UTC.) */
double calsel_hour_angle(double ra_rad, double dec_rad, const calsel_site *site,
			 double t_jd, double *ret_dec_app_rad);

/* The transit (H = 0) nearest to t_jd (within half a sidereal day), refined by
 * Newton iteration to < 1 ms.  Returns the UTC JD. */
double calsel_transit_near(double ra_rad, double dec_rad, const calsel_site *site, double t_jd);

/* All transits in [from_jd, from_jd + days), in time order.  Writes at most
 * max entries into ret_jd (may be NULL with max 0 to count) and the number that
 * exist into *ret_n.  -EINVAL for days < 0 or non-finite input. */
int calsel_transits(double ra_rad, double dec_rad, const calsel_site *site, double from_jd,
		    double days, double *ret_jd, size_t max, size_t *ret_n);

/* Decide whether the span [t0_jd, t1_jd] (first integration start to last
 * integration end) at apparent pointing declination pointing_dec_rad is a
 * calibrator group.  Returns the number of qualifying candidates (0 = not a
 * calibrator group) or a negative errno; *ret_match gets the best one (highest
 * flux × primary-beam response at transit; index −1 when none).  p NULL =
 * defaults. */
int calsel_find(const calsel_cand *cands, size_t ncands, double t0_jd, double t1_jd,
		double pointing_dec_rad, const calsel_site *site, const calsel_params *p,
		calsel_match *ret_match, char *err, size_t errlen);

#endif
