/*
 * tests/state/test_mosaicdb.c — mosaic planning from the images table and the
 * mosaics table (state/mosaicdb.h).  Rows are written with plain SQL, as the
 * image stage writes them.
 */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <math.h>

#include "core/err.h"
#include "state/db.h"
#include "state/mosaicdb.h"

static char err[ERR_LEN];

static int64_t add_group(sqlite3 *db, const char *name)
{
	int64_t id = 0;
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at)"
		      " VALUES (?, 0, 'completed', 16, 0, 0)", "s", name) == 1, "%s", err);
	CHECK(db_query_int(db, &id, err, sizeof err, "SELECT id FROM groups WHERE name = ?", "s",
			   name) == 1, "%s", err);
	return id;
}

/* An image row (integration 300 s, so the mid time is mjd + 150 s). */
static void add_image(sqlite3 *db, int64_t gid, const char *path, int pbcor, double mjd,
		      double ra, double dec, double noise, double created)
{
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO images (group_id, path, pbcor, noise_jy, ra_deg, dec_deg, nx, ny,"
		      " cell_arcsec, integration_s, mjd_obs, created_at)"
		      " VALUES (?,?,?,?,?,?,512,512,3,300,?,?)",
		      "Isiddddd", gid, path, pbcor, noise, ra, dec, mjd, created) == 1, "%s", err);
}

static void test_plan(void)
{
	sqlite3 *db = statedb_fresh("plan.sqlite");
	mosaicdb_tile *t = NULL;
	int n = -1;
	const double d = 1.0 / 1440; /* one minute in days */
	double m0 = 61100.25;

	if (!db)
		return;
	int64_t g1 = add_group(db, "2026-03-01T06:00:00");
	int64_t g2 = add_group(db, "2026-03-01T06:05:00");
	int64_t g3 = add_group(db, "2026-03-01T08:00:00");
	add_image(db, g1, "/p/g1.image.fits", 0, m0, 120, 40, 1e-3, 1);
	add_image(db, g1, "/p/g1.pbcor.fits", 1, m0, 120, 40, 1e-3, 1);
	/* g2 was imaged twice: the newer pbcor row wins. */
	add_image(db, g2, "/old/g2.pbcor.fits", 1, m0 + 5 * d, 121.25, 40, 5e-3, 1);
	add_image(db, g2, "/p/g2.pbcor.fits", 1, m0 + 5 * d, 121.25, 40, 2e-3, 2);
	add_image(db, g3, "/p/g3.pbcor.fits", 1, m0 + 120 * d, 150, 40, 1e-3, 1);
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO products (group_id, name, path, created_at)"
		      " VALUES (?, 'pb', '/elsewhere/g1-beam.fits', 0)", "I", g1) == 1, "%s", err);

	CHECK_OK(mosaicdb_plan(db, m0 - 30 * d, m0 + 30 * d, 0, 0, 0, 0, &t, &n, err, sizeof err),
		 err);
	CHECK(n == 2, "n = %d", n);
	if (n == 2) {
		CHECK(!strcmp(t[0].group, "2026-03-01T06:00:00") &&
			      !strcmp(t[1].group, "2026-03-01T06:05:00"), "order %s %s", t[0].group,
		      t[1].group);
		CHECK(!strcmp(t[0].path, "/p/g1.pbcor.fits"), "%s", t[0].path);
		CHECK(!strcmp(t[0].pb_path, "/elsewhere/g1-beam.fits"), "pb product: %s",
		      t[0].pb_path);
		CHECK(!strcmp(t[1].path, "/p/g2.pbcor.fits"), "newest row: %s", t[1].path);
		CHECK(!strcmp(t[1].pb_path, "/p/g2.pb.fits"), "pb from the name: %s", t[1].pb_path);
		CHECK_NEAR(t[1].noise_jy, 2e-3, 1e-12);
		CHECK_NEAR(t[0].mid_mjd, m0 + 150.0 / 86400, 1e-9);
	}
	free(t);
	t = NULL;

	/* The window is on mid times: a window ending between g1's start and
	 * mid time leaves it out. */
	CHECK_OK(mosaicdb_plan(db, m0 - 10 * d, m0 + 1 * d, 0, 0, 0, 0, &t, &n, err, sizeof err),
		 err);
	CHECK(n == 0, "n = %d (mid time is start + 150 s)", n);
	free(t);
	t = NULL;

	/* Near (150, 40): only g3, and only with the wide window. */
	CHECK_OK(mosaicdb_plan(db, m0 - 1, m0 + 1, 1, 150.5, 40.2, 1.0, &t, &n, err, sizeof err),
		 err);
	CHECK(n == 1 && !strcmp(t[0].group, "2026-03-01T08:00:00"), "near: n = %d", n);
	free(t);
	db_close(db);
}

static void test_record(void)
{
	sqlite3 *db = statedb_fresh("record.sqlite");
	int64_t id1 = 0, id2 = 0, count = 0;
	double ra = 0;

	if (!db)
		return;
	mosaicdb_row r = { .name = "m", .path = "/m/m.fits", .weight_path = "/m/m.weight.fits",
			   .noise_path = "/m/m.noise.fits", .created = 1, .t_start_mjd = 61100,
			   .t_end_mjd = 61100.1, .ntiles = 2, .ra_deg = 121.2, .dec_deg = 40,
			   .nx = 100, .ny = 50, .cell_arcsec = 3, .groups = "a,b" };
	CHECK_OK(mosaicdb_record(db, &r, &id1, err, sizeof err), err);
	r.ra_deg = 122.0;
	r.ntiles = 3;
	r.groups = "a,b,c";
	CHECK_OK(mosaicdb_record(db, &r, &id2, err, sizeof err), err);
	CHECK(id1 == id2 && id1 > 0, "same path keeps its row: %lld %lld", (long long)id1,
	      (long long)id2);
	CHECK(db_query_int(db, &count, err, sizeof err, "SELECT count(*) FROM mosaics", NULL) == 1 &&
		      count == 1, "rows %lld", (long long)count);
	sqlite3_stmt *st = NULL;
	CHECK_OK(db_prepare(db, err, sizeof err, &st,
			    "SELECT ra_deg, ntiles, groups FROM mosaics WHERE id = ?", "I", id1),
		 err);
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		ra = sqlite3_column_double(st, 0);
		CHECK(sqlite3_column_int(st, 1) == 3, "ntiles");
		CHECK(!strcmp((const char *)sqlite3_column_text(st, 2), "a,b,c"), "groups");
	}
	sqlite3_finalize(st);
	CHECK_NEAR(ra, 122.0, 1e-12);
	/* The window must not be reversed (CHECK constraint). */
	r.path = "/m/bad.fits";
	r.t_end_mjd = r.t_start_mjd - 1;
	CHECK(mosaicdb_record(db, &r, NULL, err, sizeof err) == -EIO, "reversed window accepted");
	db_close(db);
}

int main(void)
{
	RUN(test_plan);
	RUN(test_record);
	return TEST_DONE();
}
