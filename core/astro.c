/*
 * core/astro.c — time scales and astrometry on top of ERFA (see astro.h).
 *
 * ERFA's prototypes take non-const pointers for inputs it never writes; the
 * casts below only drop that const.
 */
#include "core/astro.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erfam.h>

double astro_wrap_2pi(double a)
{
	return eraAnp(a);
}

double astro_wrap_pi(double a)
{
	double r = eraAnpm(a); /* [−π, π) */
	return r <= -M_PI ? r + 2 * M_PI : r;
}

int astro_iso_to_jd(const char *iso, double *ret_jd_utc)
{
	int y, mo, d, h = 0, mi = 0, n = 0, k;
	double s = 0, d1, d2;
	char sep;

	if (!iso)
		return -EINVAL;
	k = sscanf(iso, "%4d-%2d-%2d%n", &y, &mo, &d, &n);
	if (k != 3)
		return -EINVAL;
	iso += n;
	if (*iso) {
		sep = *iso++;
		if (sep != 'T' && sep != ' ')
			return -EINVAL;
		n = 0;
		k = sscanf(iso, "%2d:%2d%n", &h, &mi, &n);
		if (k != 2)
			return -EINVAL;
		iso += n;
		if (*iso == ':') {
			char *end;
			iso++;
			if (*iso < '0' || *iso > '9')
				return -EINVAL;
			s = strtod(iso, &end);
			iso = end;
		}
		if (*iso == 'Z')
			iso++;
		if (*iso)
			return -EINVAL;
	}
	if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s >= 61)
		return -EINVAL;
	/* +1 is ERFA's "dubious year" (beyond its leap-second table's confident
	 * range, from 2027 with liberfa 2.0.0): still the best value, as in
	 * astro_utc_to_tt.  Negative statuses are bad dates. */
	if (eraDtf2d("UTC", y, mo, d, h, mi, s, &d1, &d2) < 0)
		return -EINVAL;
	*ret_jd_utc = d1 + d2;
	return 0;
}

int astro_jd_to_iso(double jd_utc, int ndp, char *buf, size_t buflen)
{
	int iy, im, id, hmsf[4], n;
	double d1 = floor(jd_utc), d2 = jd_utc - d1;

	if (ndp < 0 || ndp > 6 || !isfinite(jd_utc))
		return -EINVAL;
	if (eraD2dtf("UTC", ndp, d1, d2, &iy, &im, &id, hmsf) < 0)
		return -EINVAL;
	if (ndp > 0)
		n = snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%0*d", iy, im, id,
			     hmsf[0], hmsf[1], hmsf[2], ndp, hmsf[3]);
	else
		n = snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d", iy, im, id,
			     hmsf[0], hmsf[1], hmsf[2]);
	return n < 0 || (size_t)n >= buflen ? -EINVAL : 0;
}

int astro_utc_to_tt(double jd_utc, double *ret_tt1, double *ret_tt2)
{
	double u1 = floor(jd_utc - 0.5) + 0.5, u2 = jd_utc - u1, a1, a2, t1, t2;

	/* eraUtctai returns +1 ("dubious year") for dates outside its leap-second
	 * table's confident range; the result is still the best available. */
	if (eraUtctai(u1, u2, &a1, &a2) < 0 || eraTaitt(a1, a2, &t1, &t2) != 0)
		return -EINVAL;
	*ret_tt1 = t1;
	*ret_tt2 = t2;
	return 0;
}

int astro_utc_to_ut1(double jd_utc, double dut1_s, double *ret_ut11, double *ret_ut12)
{
	double u1 = floor(jd_utc - 0.5) + 0.5, u2 = jd_utc - u1, r1, r2;

	if (eraUtcut1(u1, u2, dut1_s, &r1, &r2) < 0)
		return -EINVAL;
	*ret_ut11 = r1;
	*ret_ut12 = r2;
	return 0;
}

/* UT1 for sidereal-time functions; falls back to UTC for impossible dates. */
static void ut1_tt(double jd_utc, double dut1_s, double *u1, double *u2, double *t1, double *t2)
{
	if (astro_utc_to_ut1(jd_utc, dut1_s, u1, u2) != 0) {
		*u1 = jd_utc;
		*u2 = dut1_s / ASTRO_DAY_S;
	}
	if (astro_utc_to_tt(jd_utc, t1, t2) != 0) {
		*t1 = jd_utc;
		*t2 = 69.184 / ASTRO_DAY_S;
	}
}

double astro_era(double jd_utc, double dut1_s)
{
	double u1, u2, t1, t2;
	ut1_tt(jd_utc, dut1_s, &u1, &u2, &t1, &t2);
	return eraEra00(u1, u2);
}

double astro_gmst(double jd_utc, double dut1_s)
{
	double u1, u2, t1, t2;
	ut1_tt(jd_utc, dut1_s, &u1, &u2, &t1, &t2);
	return eraGmst06(u1, u2, t1, t2);
}

double astro_gast(double jd_utc, double dut1_s)
{
	double u1, u2, t1, t2;
	ut1_tt(jd_utc, dut1_s, &u1, &u2, &t1, &t2);
	return eraGst06a(u1, u2, t1, t2);
}

double astro_last(double jd_utc, double lon_rad, double dut1_s)
{
	return eraAnp(astro_gast(jd_utc, dut1_s) + lon_rad);
}

int astro_frame_init_eop(astro_frame *f, double jd_utc, double lon_rad, const astro_eop *eop)
{
	static const astro_eop zero;
	double u1, u2;

	if (!eop)
		eop = &zero;
	if (!isfinite(jd_utc) || !isfinite(lon_rad) || !isfinite(eop->dut1_s) ||
	    !isfinite(eop->xp_rad) || !isfinite(eop->yp_rad))
		return -EINVAL;
	memset(f, 0, sizeof *f);
	f->jd_utc = jd_utc;
	f->lon_rad = lon_rad;
	f->eop = *eop;
	if (astro_utc_to_tt(jd_utc, &f->tt1, &f->tt2) != 0 ||
	    astro_utc_to_ut1(jd_utc, eop->dut1_s, &u1, &u2) != 0)
		return -EINVAL;
	f->era_rad = eraEra00(u1, u2);
	/* TT is used for TDB (they differ by < 2 ms, far below what matters here). */
	eraApci13(f->tt1, f->tt2, &f->astrom, &f->eo_rad);
	/* The CIO-based chain GCRS → CIRS (bpn) → TIRS (ERA) → ITRS (W, with the
	 * TIO locator s' of a few tens of µas).  Without polar motion W is the
	 * identity, as in the reference recipe. */
	f->has_pm = eop->xp_rad != 0 || eop->yp_rad != 0;
	if (f->has_pm)
		eraPom00(eop->xp_rad, eop->yp_rad, eraSp00(f->tt1, f->tt2), f->rpom);
	else
		eraIr(f->rpom);
	eraC2tcio(f->astrom.bpn, f->era_rad, f->rpom, f->c2t);
	return 0;
}

int astro_frame_init(astro_frame *f, double jd_utc, double lon_rad, double dut1_s)
{
	astro_eop e = { dut1_s, 0, 0 };
	return astro_frame_init_eop(f, jd_utc, lon_rad, &e);
}

void astro_frame_icrs_to_cirs(const astro_frame *f, double ra_rad, double dec_rad,
			      double *ret_ra_cirs, double *ret_dec_cirs)
{
	eraAtciq(ra_rad, dec_rad, 0, 0, 0, 0, (eraASTROM *)&f->astrom, ret_ra_cirs, ret_dec_cirs);
}

void astro_frame_cirs_to_icrs(const astro_frame *f, double ra_cirs, double dec_cirs,
			      double *ret_ra_rad, double *ret_dec_rad)
{
	eraAticq(ra_cirs, dec_cirs, (eraASTROM *)&f->astrom, ret_ra_rad, ret_dec_rad);
}

double astro_frame_hour_angle(const astro_frame *f, double ra_cirs)
{
	return astro_wrap_pi(f->era_rad + f->lon_rad - ra_cirs);
}

double astro_frame_meridian_ra_cirs(const astro_frame *f)
{
	return eraAnp(f->era_rad + f->lon_rad);
}

void astro_frame_cirs_to_hadec(const astro_frame *f, double ra_cirs, double dec_cirs,
			       double *ret_ha_rad, double *ret_dec_rad)
{
	double v[3], t[3], x[3], a, d, ce, se;

	if (!f->has_pm) {
		*ret_ha_rad = astro_wrap_pi(f->era_rad + f->lon_rad - ra_cirs);
		*ret_dec_rad = dec_cirs;
		return;
	}
	/* TIRS = R3(ERA) · CIRS, ITRS = W · TIRS; then the ITRS longitude of the
	 * direction is lon − H. */
	eraS2c(ra_cirs, dec_cirs, v);
	ce = cos(f->era_rad);
	se = sin(f->era_rad);
	t[0] = ce * v[0] + se * v[1];
	t[1] = -se * v[0] + ce * v[1];
	t[2] = v[2];
	eraRxp((double (*)[3])f->rpom, t, x);
	eraC2s(x, &a, &d);
	*ret_ha_rad = astro_wrap_pi(f->lon_rad - a);
	*ret_dec_rad = d;
}

void astro_frame_hadec_to_cirs(const astro_frame *f, double ha_rad, double dec_rad,
			       double *ret_ra_cirs, double *ret_dec_cirs)
{
	double v[3], t[3], x[3], a, d, ce, se;

	if (!f->has_pm) {
		*ret_ra_cirs = eraAnp(f->era_rad + f->lon_rad - ha_rad);
		*ret_dec_cirs = dec_rad;
		return;
	}
	eraS2c(f->lon_rad - ha_rad, dec_rad, x);
	eraTrxp((double (*)[3])f->rpom, x, t);
	ce = cos(f->era_rad);
	se = sin(f->era_rad);
	v[0] = ce * t[0] - se * t[1];
	v[1] = se * t[0] + ce * t[1];
	v[2] = t[2];
	eraC2s(v, &a, &d);
	*ret_ra_cirs = eraAnp(a);
	*ret_dec_cirs = d;
}

void astro_frame_icrs_to_gcrs_dir(const astro_frame *f, double ra_rad, double dec_rad,
				  double ret_dir[3])
{
	/* The first two steps of eraAtciq (light deflection by the Sun, then
	 * aberration); eraAtciq would go on to rotate by bpn into CIRS. */
	double p[3], pnat[3];

	eraS2c(ra_rad, dec_rad, p);
	eraLdsun(p, (double *)f->astrom.eh, f->astrom.em, pnat);
	eraAb(pnat, (double *)f->astrom.v, f->astrom.em, f->astrom.bm1, ret_dir);
}

void astro_frame_fixed_basis(const astro_frame *f, double ra0_rad, double dec0_rad,
			     double ret_q[3][3], double ret_j[2][2])
{
	/* Central differences of the ICRS → apparent map at the centre: the map
	 * is smooth on the scale of aberration (1e-4 rad), so a step of 1e-4 rad
	 * leaves errors of order κ·h² ≈ 1e-12. */
	const double h = 1e-4;
	double s0[3], a, d, qi[3][3];

	astro_frame_icrs_to_gcrs_dir(f, ra0_rad, dec0_rad, s0);
	eraC2s(s0, &a, &d);
	astro_radec_basis(a, d, ret_q);
	astro_radec_basis(ra0_rad, dec0_rad, qi);
	for (int k = 0; k < 2; k++) {
		double proj[2][2];
		for (int sgn = 0; sgn < 2; sgn++) {
			double dir[3], p[3], ra, dec, step = sgn ? -h : h;
			for (int i = 0; i < 3; i++)
				dir[i] = qi[2][i] + step * qi[k][i];
			eraC2s(dir, &ra, &dec);
			astro_frame_icrs_to_gcrs_dir(f, ra, dec, p);
			for (int r = 0; r < 2; r++)
				proj[sgn][r] = ret_q[r][0] * p[0] + ret_q[r][1] * p[1] + ret_q[r][2] * p[2];
		}
		/* The tangent-plane point (l, m) = ±h·e_k has gnomonic offset h; its
		 * direction-cosine offset is h / sqrt(1 + h²), the same to 5e-9. */
		for (int r = 0; r < 2; r++)
			ret_j[r][k] = (proj[0][r] - proj[1][r]) / (2 * h / sqrt(1 + h * h));
	}
}

void astro_frame_itrs_to_gcrs(const astro_frame *f, const double itrs[3], double ret_gcrs[3])
{
	eraTrxp((double (*)[3])f->c2t, (double *)itrs, ret_gcrs);
}

int astro_icrs_to_cirs(double jd_utc, double ra_rad, double dec_rad, double *ret_ra_cirs,
		       double *ret_dec_cirs)
{
	astro_frame f;
	int r = astro_frame_init(&f, jd_utc, 0, 0);
	if (r)
		return r;
	astro_frame_icrs_to_cirs(&f, ra_rad, dec_rad, ret_ra_cirs, ret_dec_cirs);
	return 0;
}

int astro_cirs_to_icrs(double jd_utc, double ra_cirs, double dec_cirs, double *ret_ra_rad,
		       double *ret_dec_rad)
{
	astro_frame f;
	int r = astro_frame_init(&f, jd_utc, 0, 0);
	if (r)
		return r;
	astro_frame_cirs_to_icrs(&f, ra_cirs, dec_cirs, ret_ra_rad, ret_dec_rad);
	return 0;
}

int astro_icrs_to_apparent(double jd_utc, double ra_rad, double dec_rad, double *ret_ra_app,
			   double *ret_dec_app)
{
	astro_frame f;
	double ri, di;
	int r = astro_frame_init(&f, jd_utc, 0, 0);
	if (r)
		return r;
	astro_frame_icrs_to_cirs(&f, ra_rad, dec_rad, &ri, &di);
	/* RA from the equinox = RA from the CIO − eo (eo = ERA − GAST). */
	*ret_ra_app = eraAnp(ri - f.eo_rad);
	*ret_dec_app = di;
	return 0;
}

int astro_apparent_to_icrs(double jd_utc, double ra_app, double dec_app, double *ret_ra_rad,
			   double *ret_dec_rad)
{
	astro_frame f;
	int r = astro_frame_init(&f, jd_utc, 0, 0);
	if (r)
		return r;
	astro_frame_cirs_to_icrs(&f, eraAnp(ra_app + f.eo_rad), dec_app, ret_ra_rad, ret_dec_rad);
	return 0;
}

int astro_hour_angle(double jd_utc, double lon_rad, double dut1_s, double ra_rad, double dec_rad,
		     double *ret_ha_rad, double *ret_dec_app)
{
	astro_frame f;
	double ri, di;
	int r = astro_frame_init(&f, jd_utc, lon_rad, dut1_s);
	if (r)
		return r;
	astro_frame_icrs_to_cirs(&f, ra_rad, dec_rad, &ri, &di);
	*ret_ha_rad = astro_frame_hour_angle(&f, ri);
	if (ret_dec_app)
		*ret_dec_app = di;
	return 0;
}

void astro_dir(double ra_rad, double dec_rad, double ret[3])
{
	double cd = cos(dec_rad);
	ret[0] = cd * cos(ra_rad);
	ret[1] = cd * sin(ra_rad);
	ret[2] = sin(dec_rad);
}

void astro_lmn(double ra_rad, double dec_rad, double ra0_rad, double dec0_rad, double *ret_l,
	       double *ret_m, double *ret_n)
{
	double da = ra_rad - ra0_rad, sd = sin(dec_rad), cd = cos(dec_rad);
	double sd0 = sin(dec0_rad), cd0 = cos(dec0_rad), cda = cos(da);

	*ret_l = cd * sin(da);
	*ret_m = sd * cd0 - cd * sd0 * cda;
	*ret_n = sd * sd0 + cd * cd0 * cda;
}

void astro_uvw_matrix(double h_rad, double dec_rad, double r[3][3])
{
	/* Thompson, Moran & Swenson (2017) eq. 4.1. */
	double sh = sin(h_rad), ch = cos(h_rad), sd = sin(dec_rad), cd = cos(dec_rad);

	r[0][0] = sh;       r[0][1] = ch;       r[0][2] = 0;
	r[1][0] = -sd * ch; r[1][1] = sd * sh;  r[1][2] = cd;
	r[2][0] = cd * ch;  r[2][1] = -cd * sh; r[2][2] = sd;
}

void astro_radec_basis(double ra_rad, double dec_rad, double r[3][3])
{
	/* A direction at RA α in a non-rotating frame sits at hour angle −α
	 * relative to the frame's x axis. */
	astro_uvw_matrix(-ra_rad, dec_rad, r);
}

int astro_geodetic_to_ecef(double lat_rad, double lon_rad, double h_m, double ret_xyz[3])
{
	return eraGd2gc(ERFA_WGS84, lon_rad, lat_rad, h_m, ret_xyz) ? -EINVAL : 0;
}

int astro_ecef_to_geodetic(const double xyz[3], double *ret_lat_rad, double *ret_lon_rad,
			   double *ret_h_m)
{
	double e, p, h;
	if (eraGc2gd(ERFA_WGS84, (double *)xyz, &e, &p, &h))
		return -EINVAL;
	*ret_lat_rad = p;
	*ret_lon_rad = e;
	*ret_h_m = h;
	return 0;
}

double astro_separation(double ra1_rad, double dec1_rad, double ra2_rad, double dec2_rad)
{
	return eraSeps(ra1_rad, dec1_rad, ra2_rad, dec2_rad);
}
