/* tests/state/test_imagedb.c — the images table's writer (state/imagedb.h). */
#include "tests/test.h"

#include <errno.h>
#include <math.h>

#include "core/err.h"
#include "state/db.h"
#include "state/imagedb.h"

static double real_col(sqlite3 *db, const char *col, const char *path)
{
	char sql[200];
	sqlite3_stmt *st = NULL;
	double v = -999;
	snprintf(sql, sizeof sql, "SELECT coalesce(%s, -1) FROM images WHERE path = ?", col);
	if (db_prepare(db, NULL, 0, &st, sql, "s", path) == 0 && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_record(void)
{
	char path[1100], err[ERR_LEN] = "", *e = err, w[32] = "";
	sqlite3 *db = NULL;
	int64_t n = -1, gid = 0;
	sqlite3_stmt *st = NULL;
	imagedb_row r = {
		.path = "/p/G.image.fits", .pbcor = 0, .bmaj_arcsec = 27.81, .bmin_arcsec = 14.11,
		.bpa_deg = -75.6, .noise_jy = 0.0296, .peak_jy = 0.1746, .dynamic_range = 5.89,
		.ra_deg = 128.2177, .dec_deg = 54.988, .nx = 512, .ny = 256, .cell_arcsec = 3.0,
		.freq_hz = 1.4067847e9, .bandwidth_hz = 1.875e8, .integration_s = 309.24,
		.mjd_obs = 61100.2425, .calibrated = 1, .niter = 90, .nmajor = 2,
		.weighting = "briggs 0", .created_at = 1e9,
	};

	snprintf(path, sizeof path, "%s/img.sqlite", test_tmpdir());
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), e);
	if (!db)
		return;
	db_exec(db, NULL, 0,
		"INSERT INTO groups (id, name, t_first, state, n_expected, created_at, updated_at)"
		" VALUES (1, 'G1', 0, 'in_progress', 16, 0, 0), (2, 'G2', 300, 'in_progress', 16, 0, 0)",
		NULL);
	r.group_id = 1;
	CHECK_OK(imagedb_record(db, &r, err, sizeof err), e);
	r.path = "/p/G.pbcor.fits";
	r.pbcor = 1;
	r.noise_jy = NAN; /* unknown: stored as NULL */
	CHECK_OK(imagedb_record(db, &r, err, sizeof err), e);
	db_query_int(db, &n, NULL, 0, "SELECT count(*) FROM images", NULL);
	CHECK(n == 2, "%lld rows", (long long)n);
	/* Every column lands where the mosaic planner reads it. */
	CHECK(real_col(db, "bmaj_arcsec", "/p/G.image.fits") == 27.81, "%g",
	      real_col(db, "bmaj_arcsec", "/p/G.image.fits"));
	CHECK(real_col(db, "bmin_arcsec", "/p/G.image.fits") == 14.11, "%s", "bmin");
	CHECK(real_col(db, "bpa_deg", "/p/G.image.fits") == -75.6, "%s", "bpa");
	CHECK(real_col(db, "noise_jy", "/p/G.image.fits") == 0.0296, "%s", "noise");
	CHECK(real_col(db, "noise_jy", "/p/G.pbcor.fits") == -1, "%s", "NaN noise is NULL");
	CHECK(real_col(db, "peak_jy", "/p/G.image.fits") == 0.1746, "%s", "peak");
	CHECK(real_col(db, "dynamic_range", "/p/G.image.fits") == 5.89, "%s", "dr");
	CHECK(real_col(db, "ra_deg", "/p/G.image.fits") == 128.2177, "%s", "ra");
	CHECK(real_col(db, "dec_deg", "/p/G.image.fits") == 54.988, "%s", "dec");
	CHECK(real_col(db, "nx", "/p/G.image.fits") == 512 &&
		      real_col(db, "ny", "/p/G.image.fits") == 256, "%s", "nx ny");
	CHECK(real_col(db, "cell_arcsec", "/p/G.image.fits") == 3.0, "%s", "cell");
	CHECK(real_col(db, "freq_hz", "/p/G.image.fits") == 1.4067847e9, "%s", "freq");
	CHECK(real_col(db, "bandwidth_hz", "/p/G.image.fits") == 1.875e8, "%s", "bw");
	CHECK(real_col(db, "integration_s", "/p/G.image.fits") == 309.24, "%s", "int");
	CHECK(real_col(db, "mjd_obs", "/p/G.image.fits") == 61100.2425, "%s", "mjd");
	CHECK(real_col(db, "calibrated", "/p/G.image.fits") == 1, "%s", "cal");
	CHECK(real_col(db, "niter", "/p/G.image.fits") == 90 &&
		      real_col(db, "nmajor", "/p/G.image.fits") == 2, "%s", "clean");
	CHECK(real_col(db, "pbcor", "/p/G.pbcor.fits") == 1 &&
		      real_col(db, "pbcor", "/p/G.image.fits") == 0, "%s", "pbcor");
	CHECK(real_col(db, "created_at", "/p/G.image.fits") == 1e9, "%s", "created");
	if (db_prepare(db, NULL, 0, &st, "SELECT weighting FROM images WHERE path = ?", "s",
		       "/p/G.image.fits") == 0 && sqlite3_step(st) == SQLITE_ROW)
		db_column_text(st, 0, w, sizeof w);
	sqlite3_finalize(st);
	CHECK(!strcmp(w, "briggs 0"), "%s", w);

	/* Re-imaging the path (another run, here re-assigned to G2) updates the
	 * row in place. */
	r.path = "/p/G.image.fits";
	r.pbcor = 0;
	r.group_id = 2;
	r.noise_jy = 0.5;
	r.niter = 7;
	CHECK_OK(imagedb_record(db, &r, err, sizeof err), e);
	db_query_int(db, &n, NULL, 0, "SELECT count(*) FROM images", NULL);
	db_query_int(db, &gid, NULL, 0,
		     "SELECT group_id FROM images WHERE path = '/p/G.image.fits'", NULL);
	printf("# images: %lld rows after re-recording one path; it belongs to group %lld\n",
	       (long long)n, (long long)gid);
	CHECK(n == 2 && gid == 2, "%lld %lld", (long long)n, (long long)gid);
	CHECK(real_col(db, "noise_jy", "/p/G.image.fits") == 0.5 &&
		      real_col(db, "niter", "/p/G.image.fits") == 7, "%s", "updated");

	/* A group that does not exist: the foreign key refuses it. */
	r.group_id = 99;
	r.path = "/p/other.fits";
	CHECK(imagedb_record(db, &r, err, sizeof err) == -EIO, "%s", err);
	db_close(db);
}

int main(void)
{
	RUN(test_record);
	return TEST_DONE();
}
