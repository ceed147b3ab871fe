/*
 * tests/calib/test_calsel.c — calibrator transits and calibrator-group selection,
 * on the reference groups cal-0834 and field-0834-plus1h.
 */
#include "tests/test.h"

#include <erfa.h>
#include <json-c/json.h>
#include <math.h>

#include "calib/calsel.h"
#include "core/astro.h"
#include "core/err.h"
#include "state/catalog.h"

#define D2R (M_PI / 180.0)
#define INT_TIME_S 12.885 /* reference data: 24 integrations of 12.885 s */

static char err[ERR_LEN];

/* 0834+555 from the VLA list (08h34m54.904117s +55°34'21.07098"). */
static const double ra0834 = (8 + 34 / 60.0 + 54.904117 / 3600.0) * 15 * D2R;
static const double dec0834 = (55 + 34 / 60.0 + 21.070980 / 3600.0) * D2R;

typedef struct truth {
	double mid_jd, t0_jd, t1_jd; /* span: first integration start .. last end */
	double ra_mid_app_deg, dec_deg;
	calsel_site site;
	int ok;
} truth;

static truth load_truth(const char *rel)
{
	truth t = { 0 };
	json_object *o = json_object_from_file(test_data(rel)), *v;
	int ntimes;

	if (!o)
		return t;
	if (json_object_object_get_ex(o, "mid_isot", &v) &&
	    astro_iso_to_jd(json_object_get_string(v), &t.mid_jd) == 0 &&
	    json_object_object_get_ex(o, "ntimes", &v)) {
		ntimes = json_object_get_int(v);
		t.t0_jd = t.mid_jd - ntimes * INT_TIME_S / 2 / 86400;
		t.t1_jd = t.mid_jd + ntimes * INT_TIME_S / 2 / 86400;
		json_object_object_get_ex(o, "ra_mid_app_deg", &v);
		t.ra_mid_app_deg = json_object_get_double(v);
		json_object_object_get_ex(o, "dec", &v);
		t.dec_deg = json_object_get_double(v);
		json_object_object_get_ex(o, "lat", &v);
		t.site.lat_rad = json_object_get_double(v) * D2R;
		json_object_object_get_ex(o, "lon", &v);
		t.site.lon_rad = json_object_get_double(v) * D2R;
		json_object_object_get_ex(o, "alt", &v);
		t.site.alt_m = json_object_get_double(v);
		t.ok = 1;
	}
	json_object_put(o);
	return t;
}

static void test_beam_radius(void)
{
	double r = calsel_beam_radius_rad(4.65, 1.405e9, 0.3);
	double x = M_PI * 4.65 * sin(r) * 1.405e9 / 299792458.0;
	double p = pow(2 * j1(x) / x, 2);

	CHECK_NEAR(p, 0.3, 1e-9);
	CHECK_NEAR(r / D2R, 1.74, 0.01);
	/* Half power at x = 1.6163 (the Airy FWHM 1.029 λ/D). */
	CHECK_NEAR(2 * calsel_beam_radius_rad(4.65, 1.4e9, 0.5), 1.029 * 299792458.0 / 1.4e9 / 4.65,
		   1e-3 * 1.029 * 299792458.0 / 1.4e9 / 4.65);
	CHECK(isnan(calsel_beam_radius_rad(4.65, 1.4e9, 1.5)));
}

/* Transits repeat every sidereal day (23h56m4.09s) and have H = 0. */
static void test_transit_period(void)
{
	truth t = load_truth("reference/cal-0834/truth_2026-03-01T05:49:14.json");
	double jd[8];
	size_t n = 0;

	CHECK(t.ok);
	CHECK_OK(calsel_transits(ra0834, dec0834, &t.site, t.mid_jd - 1.5, 4.0, jd, 8, &n), "");
	CHECK(n == 4, "%zu transits in 4 days", n);
	for (size_t i = 0; i < n && i < 8; i++) {
		double h = calsel_hour_angle(ra0834, dec0834, &t.site, jd[i], NULL);
		CHECK(fabs(h) < 1e-8, "H at transit %g rad", h);
		CHECK(jd[i] >= t.mid_jd - 1.5 && jd[i] < t.mid_jd + 2.5);
		if (i > 0)
			CHECK_NEAR((jd[i] - jd[i - 1]) * 86400, 23 * 3600 + 56 * 60 + 4.09, 1.0);
	}
	/* Counting only, and an empty window. */
	CHECK_OK(calsel_transits(ra0834, dec0834, &t.site, t.mid_jd, 10.0, NULL, 0, &n), "");
	CHECK(n == 10 || n == 11, "%zu", n);
	CHECK(calsel_transits(ra0834, dec0834, &t.site, t.mid_jd, -1, NULL, 0, &n) == -EINVAL);
}

/*
 * Where in the cal-0834 group does 0834+555 transit?  The truth's ra_mid_app_deg
 * is the local apparent sidereal time at mid_isot, and it equals the J2000 RA
 * of 0834+555 to 0.03° — the group was timed by "LST = J2000 RA".  The
 * apparent place has moved +0.49° in RA since J2000 (precession), so the true
 * transit (H = 0, the reference data's own recipe) comes ~116 s after
 * mid_isot, still inside the 309 s span.  Check against ERFA's observed-place
 * route (eraAtco13, no refraction), which is independent of core/astro.c.
 */
static void test_transit_in_reference_group(void)
{
	truth t = load_truth("reference/cal-0834/truth_2026-03-01T05:49:14.json");
	double u1, u2, aob, zob, hob, dob, rob, eo, tt, expect, dec_app;

	CHECK(t.ok);
	/* The truth's sidereal time at mid agrees with ours: the time scale is right. */
	CHECK_NEAR(astro_last(t.mid_jd, t.site.lon_rad, 0) / D2R, t.ra_mid_app_deg, 1e-5);
	CHECK_NEAR(ra0834 / D2R, t.ra_mid_app_deg, 0.03);

	u1 = floor(t.mid_jd - 0.5) + 0.5;
	u2 = t.mid_jd - u1;
	CHECK(eraAtco13(ra0834, dec0834, 0, 0, 0, 0, u1, u2, 0, t.site.lon_rad, t.site.lat_rad,
			t.site.alt_m, 0, 0, 0, 0, 0, 0.21, &aob, &zob, &hob, &dob, &rob, &eo) >= 0);
	expect = t.mid_jd - hob / (2 * M_PI * 1.00273781191135448);
	tt = calsel_transit_near(ra0834, dec0834, &t.site, t.mid_jd);
	/* Diurnal aberration (in eraAtco13, not in the recipe) moves H by < 0.02 s. */
	CHECK_NEAR((tt - expect) * 86400, 0, 0.1);
	CHECK_NEAR((tt - t.mid_jd) * 86400, 116.5, 2.0);
	CHECK(tt > t.t0_jd && tt < t.t1_jd);
	/* The declination at transit: 0.58° from the (apparent) pointing. */
	calsel_hour_angle(ra0834, dec0834, &t.site, tt, &dec_app);
	CHECK_NEAR(dec_app / D2R, dob / D2R, 1e-3);
	CHECK_NEAR(dec_app / D2R - t.dec_deg, 0.583, 0.002);
}

/* Candidates from the catalog, as the calibrate stage will build them. */
static calsel_cand *catalog_candidates(double dec_deg, size_t *ret_n)
{
	char path[1024];
	catalog *c = NULL;
	catalog_cal *v = NULL;
	calsel_cand *cands = NULL;
	size_t n = 0;

	*ret_n = 0;
	snprintf(path, sizeof path, "%s/cat.sqlite", test_tmpdir());
	CHECK_OK(catalog_open(path, 0, &c, err, sizeof err), err);
	if (!c)
		return NULL;
	CHECK_OK(catalog_import_vla(c, test_data("catalogs/vlacalibrators.txt"), NULL, err,
				    sizeof err), err);
	CHECK_OK(catalog_cals_near_dec(c, dec_deg, 3.0, 0.0, &v, &n, err, sizeof err), err);
	cands = calloc(n ? n : 1, sizeof *cands);
	for (size_t i = 0; cands && i < n; i++) {
		catalog_calmodel m;
		snprintf(cands[i].name, sizeof cands[i].name, "%s", v[i].name);
		if (catalog_cal_model(c, &v[i], &m, NULL, 0) == 0) {
			cands[i].ra_rad = m.ra_rad;
			cands[i].dec_rad = m.dec_rad;
			cands[i].flux_jy = catalog_model_flux_jy(&m, 1.405e9);
		}
	}
	free(v);
	catalog_close(c);
	*ret_n = cands ? n : 0;
	return cands;
}

static void test_calibrator_groups(void)
{
	truth cal = load_truth("reference/cal-0834/truth_2026-03-01T05:49:14.json");
	truth fld = load_truth("reference/field-0834-plus1h/truth_2026-03-01T06:50:09.json");
	size_t n = 0;
	calsel_cand *cands = catalog_candidates(54.9, &n);
	calsel_match m;
	calsel_params p;
	int k;

	CHECK(cal.ok && fld.ok && cands && n > 10, "%zu candidates", n);
	calsel_params_default(&p);

	k = calsel_find(cands, n, cal.t0_jd, cal.t1_jd, cal.dec_deg * D2R, &cal.site, &p, &m, err,
			sizeof err);
	CHECK(k == 1, "cal-0834: %d calibrators (%s)", k, err);
	CHECK(m.index >= 0 && !strcmp(cands[m.index].name, "0834+555"));
	CHECK_NEAR(m.flux_jy, 8.80, 1e-9);
	CHECK_NEAR(m.sep_rad / D2R, 0.583, 0.002);
	CHECK_NEAR((m.transit_jd - cal.mid_jd) * 86400, 116.5, 2.0);

	k = calsel_find(cands, n, fld.t0_jd, fld.t1_jd, fld.dec_deg * D2R, &fld.site, &p, &m, err,
			sizeof err);
	CHECK(k == 0 && m.index == -1, "field group: %d", k);

	/* The same span with a flux floor above 8.8 Jy, or a radius below the
	 * separation, is not a calibrator group; a narrower span that ends
	 * before the transit is not either. */
	p.min_flux_jy = 9.0;
	CHECK(calsel_find(cands, n, cal.t0_jd, cal.t1_jd, cal.dec_deg * D2R, &cal.site, &p, &m,
			  err, sizeof err) == 0);
	calsel_params_default(&p);
	p.radius_rad = 0.5 * D2R;
	CHECK(calsel_find(cands, n, cal.t0_jd, cal.t1_jd, cal.dec_deg * D2R, &cal.site, &p, &m,
			  err, sizeof err) == 0);
	CHECK(calsel_find(cands, n, cal.t0_jd, cal.mid_jd + 100 / 86400.0, cal.dec_deg * D2R,
			  &cal.site, NULL, &m, err, sizeof err) == 0);
	CHECK(calsel_find(cands, n, cal.t1_jd, cal.t0_jd, 0, &cal.site, NULL, &m, err,
			  sizeof err) == -EINVAL);
	free(cands);
}

/* A synthetic calibrator at RA ≈ 0 (hour-angle wrap) and the span edges. */
static void test_span_edges(void)
{
	calsel_site site = { 37.2339 * D2R, -118.2825 * D2R, 1222 };
	calsel_cand c = { .name = "wrap", .ra_rad = 0.001 * D2R, .dec_rad = 55.0 * D2R,
			  .flux_jy = 5 };
	calsel_match m;
	double t0, tt, h, dec_app = NAN;

	CHECK(astro_iso_to_jd("2026-06-01T00:00:00", &t0) == 0);
	tt = calsel_transit_near(c.ra_rad, c.dec_rad, &site, t0);
	CHECK(fabs(tt - t0) <= 0.5 * CALSEL_SIDEREAL_DAY_S / 86400);
	/* One hour later the hour angle is one sidereal hour: 15.041°. */
	h = calsel_hour_angle(c.ra_rad, c.dec_rad, &site, tt + 1 / 24.0, &dec_app);
	CHECK_NEAR(h / D2R, 15.0411, 0.001);
	h = calsel_hour_angle(c.ra_rad, c.dec_rad, &site, tt - 1 / 24.0, NULL);
	CHECK_NEAR(h / D2R, -15.0411, 0.001);
	CHECK(calsel_find(&c, 1, tt - 60 / 86400.0, tt + 60 / 86400.0, dec_app, &site, NULL, &m,
			  err, sizeof err) == 1);
	CHECK(m.index == 0 && fabs(m.transit_jd - tt) * 86400 < 0.01 && m.sep_rad < 1e-6);
	CHECK(calsel_find(&c, 1, tt + 1 / 86400.0, tt + 100 / 86400.0, dec_app, &site, NULL, &m,
			  err, sizeof err) == 0);
	CHECK(calsel_find(&c, 1, tt - 100 / 86400.0, tt - 1 / 86400.0, dec_app, &site, NULL, &m,
			  err, sizeof err) == 0);
	/* Just outside the automatic 1.74° radius in declination. */
	CHECK(calsel_find(&c, 1, tt - 60 / 86400.0, tt + 60 / 86400.0, dec_app - 1.76 * D2R,
			  &site, NULL, &m, err, sizeof err) == 0);
	CHECK(calsel_find(&c, 1, tt - 60 / 86400.0, tt + 60 / 86400.0, dec_app - 1.72 * D2R,
			  &site, NULL, &m, err, sizeof err) == 1);
}

int main(void)
{
	RUN(test_span_edges);
	RUN(test_beam_radius);
	RUN_REF(test_transit_period);
	RUN_REF(test_transit_in_reference_group);
	RUN_REF(test_calibrator_groups);
	return TEST_DONE();
}
