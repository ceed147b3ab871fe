/*
 * tests/state/test_photdb_band.c — the sub-band photometry tables
 * (state/photdb_band.h): rows go in and come back ordered by time and
 * sub-band, NAN round-trips as NULL, a re-run replaces, and a source with no
 * joint lens fit is -ENOENT (the candidate's "subband" is null).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "tests/test.h"
#include "tests/state/statedb.h"
#include "state/photdb_band.h"

static void test_band_rows(void)
{
	char e[ERR_LEN] = "";
	sqlite3 *db = statedb_fresh("band.sqlite");
	if (!db)
		return;
	/* Two epochs (group 2 earlier than group 1), 3 sub-bands, inserted
	 * out of order. */
	for (int g = 1; g <= 2; g++)
		for (int k = 2; k >= 0; k--) {
			photdb_band_row r = { .group_id = g, .subband = k,
					      .mjd = g == 1 ? 61010.5 : 61000.5,
					      .freq_hz = 1.33e9 + k * 5e7, .flux_jy = 0.1 * (k + 1),
					      .flux_err_jy = 0.01, .local_rms_jy = 0.002, .pb = 0.9,
					      .forced_flags = k, .correction = g == 1 ? 1.02 : NAN };
			snprintf(r.source, sizeof r.source, "J1");
			CHECK_OK(photdb_band_put(db, &r, e, sizeof e), e);
		}
	/* A re-run replaces the row. */
	photdb_band_row again = { .group_id = 1, .subband = 0, .mjd = 61010.5, .freq_hz = 1.33e9,
				  .flux_jy = 0.5, .flux_err_jy = 0.02, .local_rms_jy = NAN,
				  .pb = NAN, .correction = 1.02 };
	snprintf(again.source, sizeof again.source, "J1");
	CHECK_OK(photdb_band_put(db, &again, e, sizeof e), e);
	photdb_band_row *rows = NULL;
	size_t n = 0;
	CHECK_OK(photdb_band_lightcurve(db, "J1", &rows, &n, e, sizeof e), e);
	CHECK(n == 6, "%zu rows", n);
	if (n == 6) {
		CHECK(rows[0].group_id == 2 && rows[0].subband == 0 && rows[2].subband == 2);
		CHECK(isnan(rows[0].correction));
		CHECK(rows[3].group_id == 1 && rows[3].subband == 0);
		CHECK_NEAR(rows[3].flux_jy, 0.5, 1e-12);
		CHECK(isnan(rows[3].pb)); /* NAN in, NULL stored, NAN out */
		CHECK_NEAR(rows[5].flux_jy, 0.3, 1e-12);
		CHECK(rows[5].forced_flags == 2);
	}
	free(rows);
	CHECK_OK(photdb_band_lightcurve(db, "nobody", &rows, &n, e, sizeof e), e);
	CHECK(n == 0 && rows == NULL);
	sqlite3_close(db);
}

static void test_spindex_and_lens(void)
{
	char e[ERR_LEN] = "";
	sqlite3 *db = statedb_fresh("band2.sqlite");
	if (!db)
		return;
	photdb_spindex s = { .group_id = 7, .mjd = 61000.5, .alpha = -0.71, .alpha_err = 0.04,
			     .s0_jy = 2.0, .nu0_hz = 1.4e9, .chi2 = NAN, .npoints = 4 }, g;
	snprintf(s.source, sizeof s.source, "J2");
	CHECK_OK(photdb_spindex_put(db, &s, e, sizeof e), e);
	CHECK_OK(photdb_spindex_get(db, 7, "J2", &g, e, sizeof e), e);
	CHECK_NEAR(g.alpha, -0.71, 1e-12);
	CHECK_NEAR(g.alpha_err, 0.04, 1e-12);
	CHECK(isnan(g.chi2) && g.npoints == 4);
	CHECK(photdb_spindex_get(db, 8, "J2", &g, e, sizeof e) == -ENOENT);

	photdb_ese_band b = { .n = 40, .nsub = 4, .decisive = 1, .consistency = 0.998,
			      .dchi2 = 12.3, .chi2_chromatic = 40, .chi2_achromatic = 52.3,
			      .lens_alpha = 3, .t0_mjd = 61020, .t_days = 25, .ref_freq_hz = 1.4e9,
			      .updated_at = 1.7e9 }, r;
	snprintf(b.source, sizeof b.source, "J2");
	CHECK(photdb_ese_band_get(db, "J2", &r, e, sizeof e) == -ENOENT);
	CHECK_OK(photdb_ese_band_put(db, &b, e, sizeof e), e);
	b.consistency = 0.9;
	CHECK_OK(photdb_ese_band_put(db, &b, e, sizeof e), e); /* upsert */
	CHECK_OK(photdb_ese_band_get(db, "J2", &r, e, sizeof e), e);
	CHECK_NEAR(r.consistency, 0.9, 1e-12);
	CHECK(r.decisive == 1 && r.n == 40 && r.nsub == 4);
	CHECK_NEAR(r.dchi2, 12.3, 1e-12);
	CHECK(statedb_count(db, "SELECT COUNT(*) FROM ese_subband") == 1);
	sqlite3_close(db);
}

/* Every field of each row type comes back as it went in (distinct values, so
 * a column left out of a table's list or read into the wrong field shows). */
static void test_every_field_round_trips(void)
{
	char e[ERR_LEN] = "";
	sqlite3 *db = statedb_fresh("band3.sqlite");
	if (!db)
		return;
	photdb_band_row b = { .group_id = 3000000000LL, .subband = 5, .mjd = 61001.125,
			      .freq_hz = 1.41e9, .flux_jy = 1.5, .flux_err_jy = 2.5,
			      .local_rms_jy = 3.5, .pb = 0.75, .forced_flags = 0x80000001u,
			      .correction = 4.5 }, *rows = NULL;
	size_t n = 0;
	snprintf(b.source, sizeof b.source, "J3+01");
	CHECK_OK(photdb_band_put(db, &b, e, sizeof e), e);
	CHECK_OK(photdb_band_lightcurve(db, "J3+01", &rows, &n, e, sizeof e), e);
	CHECK(n == 1, "%zu rows", n);
	if (n == 1) {
		CHECK(rows[0].group_id == b.group_id && !strcmp(rows[0].source, "J3+01"));
		CHECK(rows[0].subband == 5 && rows[0].forced_flags == 0x80000001u);
		CHECK(rows[0].mjd == b.mjd && rows[0].freq_hz == b.freq_hz);
		CHECK(rows[0].flux_jy == 1.5 && rows[0].flux_err_jy == 2.5);
		CHECK(rows[0].local_rms_jy == 3.5 && rows[0].pb == 0.75 && rows[0].correction == 4.5);
	}
	free(rows);

	photdb_spindex s = { .group_id = 9, .mjd = 61002.25, .alpha = -1.25, .alpha_err = 0.125,
			     .s0_jy = 2.25, .nu0_hz = 1.39e9, .chi2 = 3.75, .npoints = 6 }, g;
	snprintf(s.source, sizeof s.source, "J4");
	CHECK_OK(photdb_spindex_put(db, &s, e, sizeof e), e);
	CHECK_OK(photdb_spindex_get(db, 9, "J4", &g, e, sizeof e), e);
	CHECK(g.group_id == 9 && !strcmp(g.source, "J4") && g.mjd == s.mjd);
	CHECK(g.alpha == s.alpha && g.alpha_err == s.alpha_err && g.s0_jy == s.s0_jy);
	CHECK(g.nu0_hz == s.nu0_hz && g.chi2 == s.chi2 && g.npoints == 6);

	photdb_ese_band l = { .n = 11, .nsub = 3, .decisive = 1, .consistency = 0.5, .dchi2 = 1.5,
			      .chi2_chromatic = 2.5, .chi2_achromatic = 3.5, .lens_alpha = 4.5,
			      .t0_mjd = 61003.5, .t_days = 5.5, .ref_freq_hz = 1.38e9,
			      .updated_at = 1.75e9 }, r;
	snprintf(l.source, sizeof l.source, "J5");
	CHECK_OK(photdb_ese_band_put(db, &l, e, sizeof e), e);
	CHECK_OK(photdb_ese_band_get(db, "J5", &r, e, sizeof e), e);
	CHECK(!strcmp(r.source, "J5") && r.n == 11 && r.nsub == 3 && r.decisive == 1);
	CHECK(r.consistency == 0.5 && r.dchi2 == 1.5 && r.chi2_chromatic == 2.5);
	CHECK(r.chi2_achromatic == 3.5 && r.lens_alpha == 4.5 && r.t0_mjd == l.t0_mjd);
	CHECK(r.t_days == 5.5 && r.ref_freq_hz == l.ref_freq_hz && r.updated_at == l.updated_at);
	sqlite3_close(db);
}

int main(void)
{
	RUN(test_band_rows);
	RUN(test_spindex_and_lens);
	RUN(test_every_field_round_trips);
	return TEST_DONE();
}
