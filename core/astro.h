/*
 * core/astro.h — time scales and astrometry (thin wrappers around ERFA).
 *
 * Everything here follows the recipe of the reference visibilities
 * (../shared/data/README.md) and docs/conventions.md:
 *  - Times are UTC Julian dates (double) at the API; UT1 = UTC + dut1_s.
 *    Earth orientation (astro_eop: UT1 − UTC and the polar motion xp, yp;
 *    core/eop.h reads them from the IERS tables) enters only through the
 *    Earth rotation angle and the ITRS ↔ CIRS rotation of a frame; zero
 *    (the truth data's UT1 = UTC, no polar motion) gives exactly the
 *    numbers of the reference recipe.
 *  - "Apparent" positions are CIRS (eraAtci13: IAU 2006/2000A precession-
 *    nutation, annual aberration, light deflection; no diurnal aberration, no
 *    refraction).  CIRS and the true equator and equinox of date share the
 *    equator, so declinations agree; RAs differ by the equation of the origins.
 *  - The local hour angle of a CIRS position is H = ERA + lon_east − RA_CIRS,
 *    which equals the classical LAST − RA_apparent(equinox), when there is
 *    no polar motion.  In general hour angle and declination are
 *    terrestrial: measured from the ITRS pole and the site's meridian
 *    (longitude, latitude and antenna positions are ITRS and do not move),
 *    i.e. the direction W(xp, yp, s') · R3(ERA) · (CIRS vector) of ERFA's
 *    CIO-based chain (astro_frame_cirs_to_hadec).
 *  - Angles are radians.  Longitudes are east-positive.
 *
 * No function allocates.  Functions returning int give 0 or a negative errno
 * (see core/err.h); the rest cannot fail.
 */
#ifndef CONTIMG_ASTRO_H
#define CONTIMG_ASTRO_H

#include <stddef.h>

#include <erfa.h>

#define ASTRO_MJD0 2400000.5   /* JD of MJD 0 */
#define ASTRO_DAY_S 86400.0

/* ---- times ---------------------------------------------------------------- */

static inline double astro_jd_to_mjd(double jd) { return jd - ASTRO_MJD0; }
static inline double astro_mjd_to_jd(double mjd) { return mjd + ASTRO_MJD0; }

/* Parse an ISO-8601 UTC time "YYYY-MM-DDTHH:MM:SS[.fff]" (a space may replace
 * the T; a trailing "Z" is accepted; the seconds may be omitted) into a UTC JD.
 * -EINVAL on anything else. */
int astro_iso_to_jd(const char *iso, double *ret_jd_utc);

/* Format a UTC JD as "YYYY-MM-DDTHH:MM:SS" with ndp (0..6) decimals of the
 * second into buf.  -EINVAL when buf is too small or the date is out of range. */
int astro_jd_to_iso(double jd_utc, int ndp, char *buf, size_t buflen);

/* UTC JD → TT as an ERFA two-part JD (ret_tt1 + ret_tt2), leap seconds applied. */
int astro_utc_to_tt(double jd_utc, double *ret_tt1, double *ret_tt2);

/* Earth orientation at one time (IERS: UT1 − UTC, and the pole's position
 * xp, yp in the ITRS; core/eop.h).  All zero: UT1 = UTC, no polar motion. */
typedef struct astro_eop {
	double dut1_s;   /* UT1 − UTC, seconds */
	double xp_rad;   /* polar motion x, radians (IERS sign) */
	double yp_rad;   /* polar motion y, radians */
} astro_eop;

/* UTC JD → UT1 two-part JD, with UT1 − UTC = dut1_s seconds. */
int astro_utc_to_ut1(double jd_utc, double dut1_s, double *ret_ut11, double *ret_ut12);

/* Earth rotation angle (IAU 2000), radians in [0, 2π). */
double astro_era(double jd_utc, double dut1_s);

/* Greenwich mean / apparent sidereal time (IAU 2006 / 2006-2000A), radians in
 * [0, 2π).  Local values: add the east longitude (astro_last). */
double astro_gmst(double jd_utc, double dut1_s);
double astro_gast(double jd_utc, double dut1_s);

/* Local apparent sidereal time (GAST + lon), radians in [0, 2π). */
double astro_last(double jd_utc, double lon_rad, double dut1_s);

/* ---- a frame of date: everything that depends only on the time ------------ */

/* Precomputed once per integration (eraApci13 costs tens of microseconds);
 * then converting many sources is cheap.  Plain value struct, no release. */
typedef struct astro_frame {
	double jd_utc;
	double tt1, tt2;    /* TT two-part JD */
	double era_rad;     /* Earth rotation angle */
	double eo_rad;      /* equation of the origins (ERA − GAST) */
	double lon_rad;     /* site east longitude given to astro_frame_init */
	astro_eop eop;      /* the Earth orientation used */
	int has_pm;         /* polar motion non-zero (then rpom is not the identity) */
	double rpom[3][3];  /* polar motion: TIRS → ITRS, W = R3(−s') R2(xp) R1(yp) (eraPom00) */
	double c2t[3][3];   /* GCRS → ITRS rotation: W · R3(ERA) · bias-precession-nutation */
	eraASTROM astrom;   /* ERFA star-independent parameters (ICRS ↔ CIRS) */
} astro_frame;

/* Fill f for the UTC JD, the site's east longitude and the Earth orientation
 * (NULL: all zero).  -EINVAL for a time ERFA rejects or non-finite input. */
int astro_frame_init_eop(astro_frame *f, double jd_utc, double lon_rad, const astro_eop *eop);

/* The same with UT1 − UTC only (no polar motion). */
int astro_frame_init(astro_frame *f, double jd_utc, double lon_rad, double dut1_s);

/* ICRS (zero proper motion and parallax) → CIRS (apparent) and back, in f. */
void astro_frame_icrs_to_cirs(const astro_frame *f, double ra_rad, double dec_rad,
			      double *ret_ra_cirs, double *ret_dec_cirs);
void astro_frame_cirs_to_icrs(const astro_frame *f, double ra_cirs, double dec_cirs,
			      double *ret_ra_rad, double *ret_dec_rad);

/* Local hour angle of a CIRS right ascension: ERA + lon − RA_CIRS, in (−π, π].
 * Ignores polar motion (astro_frame_cirs_to_hadec does not). */
double astro_frame_hour_angle(const astro_frame *f, double ra_cirs);

/* CIRS RA of the local meridian (hour angle 0): ERA + lon, in [0, 2π).  This is
 * the "apparent LST" expressed in the CIRS (CIO-based) system.  Ignores polar
 * motion (astro_frame_hadec_to_cirs does not). */
double astro_frame_meridian_ra_cirs(const astro_frame *f);

/* Terrestrial hour angle (−π, π] and declination of a CIRS position: of the
 * ITRS direction W · R3(ERA) · s_cirs, measured from the site's meridian and
 * the ITRS pole — the frame of the antenna positions and of the drift scan's
 * Earth-fixed phase centre (H = 0, δ0).  Without polar motion exactly
 * (ERA + lon − RA_CIRS, Dec_CIRS); polar motion (~0.1–0.5") tilts it. */
void astro_frame_cirs_to_hadec(const astro_frame *f, double ra_cirs, double dec_cirs,
			       double *ret_ha_rad, double *ret_dec_rad);

/* The inverse: the CIRS position of terrestrial (hour angle, declination).
 * Without polar motion exactly (ERA + lon − H in [0, 2π), δ). */
void astro_frame_hadec_to_cirs(const astro_frame *f, double ha_rad, double dec_rad,
			       double *ret_ra_cirs, double *ret_dec_cirs);

/* Geocentric apparent direction of an ICRS position as a unit vector in GCRS
 * axes (aberration and light deflection applied, no precession): the
 * direction whose CIRS coordinates eraAtciq would give, rotated back by the
 * bias-precession-nutation matrix. */
void astro_frame_icrs_to_gcrs_dir(const astro_frame *f, double ra_rad, double dec_rad,
				  double ret_dir[3]);

/* The frame of a fixed ICRS phase centre (ra0, dec0) at the time of f, as
 * core/convert and core/predict use it (docs/conventions.md):
 *  - ret_q: rows east, north, centre of the centre's geocentric apparent
 *    direction s0 (astro_frame_icrs_to_gcrs_dir) in GCRS axes;
 *  - ret_j: the 2×2 Jacobian mapping ICRS tangent-plane offsets (l, m) at
 *    (ra0, dec0) to apparent offsets along ret_q's east/north rows.  It is the
 *    identity up to ~1e-4: aberration moves the centre by ~20", which turns
 *    the local north by Δα·sin δ, and scales offsets by 1 − κ cos φ.
 * uvw stored as (Jᵀ (u, v), w) with (u, v, w) = q · b_gcrs makes image-plane
 * (l, m) the ICRS offsets to second order (~1e-4 · θ²). */
void astro_frame_fixed_basis(const astro_frame *f, double ra0_rad, double dec0_rad,
			     double ret_q[3][3], double ret_j[2][2]);

/* Rotate an ITRS (ECEF) vector to GCRS axes: r_gcrs = c2tᵀ · r_itrs (polar
 * motion, ERA and bias-precession-nutation of the frame). */
void astro_frame_itrs_to_gcrs(const astro_frame *f, const double itrs[3], double ret_gcrs[3]);

/* One-shot conversions (build a frame internally). */
int astro_icrs_to_cirs(double jd_utc, double ra_rad, double dec_rad,
		       double *ret_ra_cirs, double *ret_dec_cirs);
int astro_cirs_to_icrs(double jd_utc, double ra_cirs, double dec_cirs,
		       double *ret_ra_rad, double *ret_dec_rad);
/* "Apparent" in the classical sense: true equator and equinox of date
 * (RA_app = RA_CIRS − eo). */
int astro_icrs_to_apparent(double jd_utc, double ra_rad, double dec_rad,
			   double *ret_ra_app, double *ret_dec_app);
int astro_apparent_to_icrs(double jd_utc, double ra_app, double dec_app,
			   double *ret_ra_rad, double *ret_dec_rad);

/* Hour angle (−π, π] at the site of an ICRS position at a UTC JD; the CIRS
 * declination is returned in *ret_dec_app when non-NULL.  No polar motion
 * (calibrator transit times and the simulator's pointing: ≤ 0.5" matters
 * not there). */
int astro_hour_angle(double jd_utc, double lon_rad, double dut1_s, double ra_rad,
		     double dec_rad, double *ret_ha_rad, double *ret_dec_app);

/* ---- geometry ------------------------------------------------------------- */

/* Unit vector of a direction (ra, dec) in the same equatorial axes. */
void astro_dir(double ra_rad, double dec_rad, double ret[3]);

/* Direction cosines of (ra, dec) relative to the centre (ra0, dec0), exact:
 *   l = cos δ sin(α − α0)
 *   m = sin δ cos δ0 − cos δ sin δ0 cos(α − α0)
 *   n = sin δ sin δ0 + cos δ cos δ0 cos(α − α0)
 * (l towards east, m towards north; for hour angles use α − α0 = −(H − H0)). */
void astro_lmn(double ra_rad, double dec_rad, double ra0_rad, double dec0_rad,
	       double *ret_l, double *ret_m, double *ret_n);

/* The (u, v, w) rotation (Thompson, Moran & Swenson 2017, eq. 4.1) for a phase
 * centre at hour angle h_rad and declination dec_rad:  uvw = R · (X, Y, Z)
 * with X towards (H = 0, δ = 0), Y towards H = −6 h (east), Z the pole.
 * For ECEF baselines pass the Greenwich hour angle H_G = H − lon_east.
 * Row 0 is the east unit vector, row 1 north, row 2 the centre direction. */
void astro_uvw_matrix(double h_rad, double dec_rad, double ret_r[3][3]);

/* The same basis built from an (ra, dec) in a non-rotating frame: rows
 * east, north, direction, with X towards ra = 0. */
void astro_radec_basis(double ra_rad, double dec_rad, double ret_r[3][3]);

/* WGS84 geodetic (lat, east lon, height) → ECEF metres and back. */
int astro_geodetic_to_ecef(double lat_rad, double lon_rad, double h_m, double ret_xyz[3]);
int astro_ecef_to_geodetic(const double xyz[3], double *ret_lat_rad, double *ret_lon_rad,
			   double *ret_h_m);

/* Angular separation of two directions (Vincenty form, accurate at all angles). */
double astro_separation(double ra1_rad, double dec1_rad, double ra2_rad, double dec2_rad);

/* Normalise an angle to [0, 2π) / (−π, π]. */
double astro_wrap_2pi(double a);
double astro_wrap_pi(double a);

#endif
