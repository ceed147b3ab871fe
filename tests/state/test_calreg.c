/*
 * tests/state/test_calreg.c — the calibration-table registry in the state DB.
 */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <math.h>

#include "core/err.h"
#include "state/calreg.h"
#include "state/db.h"

static char err[ERR_LEN];

static calreg_entry entry(char type, const char *path, double obs, double half_window)
{
	calreg_entry e;
	memset(&e, 0, sizeof e);
	e.type = type;
	snprintf(e.path, sizeof e.path, "%s", path);
	snprintf(e.calibrator, sizeof e.calibrator, "0834+555");
	snprintf(e.source_group, sizeof e.source_group, "2026-03-01T05:49:14");
	e.refant = 3;
	e.obs_mjd = obs;
	e.valid_start_mjd = obs - half_window;
	e.valid_end_mjd = obs + half_window;
	e.status = CALREG_ACTIVE;
	e.flagged_fraction = 0.02;
	e.median_snr = 150;
	e.phase_scatter_deg = NAN;
	return e;
}

static void test_register_and_list(void)
{
	sqlite3 *db = statedb_fresh("reg.sqlite");
	calreg_entry *rows = NULL, e = entry('B', "/p/caltables/a_B.h5", 61100.25, 0.5), got;
	size_t n = 99;
	int64_t id1 = 0, id2 = 0;

	CHECK_OK(calreg_list(db, &rows, &n, err, sizeof err), err);
	CHECK(n == 0 && rows == NULL);
	CHECK_OK(calreg_add(db, &e, &id1, err, sizeof err), err);
	CHECK(id1 > 0);
	CHECK_OK(calreg_get(db, id1, &got, err, sizeof err), err);
	CHECK(got.type == 'B' && !strcmp(got.path, e.path) && got.refant == 3);
	CHECK(!strcmp(got.calibrator, "0834+555") && got.status == CALREG_ACTIVE);
	CHECK_NEAR(got.valid_start_mjd, 61099.75, 1e-9);
	CHECK_NEAR(got.flagged_fraction, 0.02, 1e-12);
	CHECK(isnan(got.phase_scatter_deg));
	CHECK(got.created_unix > 1.7e9);
	/* Same path again (a re-run of the stage): the row is updated, not duplicated. */
	e.refant = 5;
	CHECK_OK(calreg_add(db, &e, &id2, err, sizeof err), err);
	CHECK(id2 == id1);
	CHECK_OK(calreg_list(db, &rows, &n, err, sizeof err), err);
	CHECK(n == 1 && rows && rows[0].refant == 5);
	free(rows);
	/* Bad input. */
	e.type = 'X';
	CHECK(calreg_add(db, &e, NULL, err, sizeof err) == -EINVAL);
	e.type = 'G';
	e.valid_end_mjd = e.valid_start_mjd - 1;
	CHECK(calreg_add(db, &e, NULL, err, sizeof err) == -EINVAL);
	CHECK(calreg_get(db, 12345, &got, err, sizeof err) == -ENOENT);
	CHECK(calreg_set_status(db, 12345, CALREG_RETIRED, err, sizeof err) == -ENOENT);
	db_close(db);
}

static void test_select(void)
{
	sqlite3 *db = statedb_fresh("sel.sqlite");
	calreg_entry b1 = entry('B', "/c/b1.h5", 61100.25, 0.5);   /* 24 h window */
	calreg_entry b2 = entry('B', "/c/b2.h5", 61100.75, 0.5);   /* a later transit */
	calreg_entry g1 = entry('G', "/c/g1.h5", 61100.25, 1 / 48.0); /* 1 h window */
	calreg_entry got;
	calreg_set set;
	int64_t id_b1, id_b2, id_b3;

	CHECK_OK(calreg_add(db, &b1, &id_b1, err, sizeof err), err);
	CHECK_OK(calreg_add(db, &b2, &id_b2, err, sizeof err), err);
	CHECK_OK(calreg_add(db, &g1, NULL, err, sizeof err), err);

	/* Nearest calibrator observation wins where windows overlap. */
	CHECK_OK(calreg_select(db, 'B', 61100.40, &got, err, sizeof err), err);
	CHECK(got.id == id_b1, "%s", got.path);
	CHECK_OK(calreg_select(db, 'B', 61100.60, &got, err, sizeof err), err);
	CHECK(got.id == id_b2, "%s", got.path);
	/* Only b2 is valid late; nothing after both windows. */
	CHECK_OK(calreg_select(db, 'B', 61101.2, &got, err, sizeof err), err);
	CHECK(got.id == id_b2);
	CHECK(calreg_select(db, 'B', 61101.3, &got, err, sizeof err) == -ENOENT);
	/* Observation time, not wall-clock: an old observation still finds its tables. */
	CHECK_OK(calreg_select(db, 'G', 61100.26, &got, err, sizeof err), err);
	CHECK(!strcmp(got.path, "/c/g1.h5"));
	CHECK(calreg_select(db, 'G', 61100.30, &got, err, sizeof err) == -ENOENT);

	/* A newer table from the same observation wins the tie; registering
	 * it retires nothing. */
	{
		calreg_entry b3 = entry('B', "/c/b3.h5", 61100.25, 0.5);
		CHECK_OK(calreg_add(db, &b3, &id_b3, err, sizeof err), err);
		CHECK_OK(calreg_select(db, 'B', 61100.30, &got, err, sizeof err), err);
		CHECK(got.id == id_b3);
		CHECK_OK(calreg_get(db, id_b1, &got, err, sizeof err), err);
		CHECK(got.status == CALREG_ACTIVE);
	}
	/* Retired and failed tables are never selected. */
	CHECK_OK(calreg_set_status(db, id_b3, CALREG_RETIRED, err, sizeof err), err);
	CHECK_OK(calreg_set_status(db, id_b1, CALREG_FAILED, err, sizeof err), err);
	CHECK_OK(calreg_select(db, 'B', 61100.30, &got, err, sizeof err), err);
	CHECK(got.id == id_b2);

	/* B then G for the apply step. */
	CHECK_OK(calreg_select_set(db, 61100.26, &set, err, sizeof err), err);
	CHECK(set.has_b && set.has_g && !set.has_k);
	CHECK(set.b.id == id_b2 && !strcmp(set.g.path, "/c/g1.h5"));
	CHECK_OK(calreg_select_set(db, 61200.0, &set, err, sizeof err), err);
	CHECK(!set.has_b && !set.has_g && !set.has_k);
	db_close(db);
}

static void test_status_names(void)
{
	int s = -1;
	CHECK(!strcmp(calreg_status_name(CALREG_RETIRED), "retired"));
	CHECK(calreg_status_parse("failed", &s) == 0 && s == CALREG_FAILED);
	CHECK(calreg_status_parse("bogus", &s) == -EINVAL);
}

int main(void)
{
	RUN(test_register_and_list);
	RUN(test_select);
	RUN(test_status_names);
	return TEST_DONE();
}
