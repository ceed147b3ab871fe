/*
 * tests/state/test_pointingdb.c — pointing overrides (validation, overlap
 * refusal, lookup at range edges, open ranges, removal) and the per-group
 * pointing records with their check (state/pointingdb.h).
 */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <errno.h>
#include <math.h>

#include "core/err.h"
#include "state/db.h"
#include "state/pointingdb.h"

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

static void test_overrides(void)
{
	sqlite3 *db = statedb_fresh("ov.sqlite");
	pointingdb_override o, *list = NULL;
	int64_t a = 0, b = 0, c = 0;
	size_t n = 0;

	if (!db)
		return;
	CHECK_OK(pointingdb_add(db, 61100.0, 61101.0, 40.2, "dishes moved", 1.0, &a, err,
				sizeof err), err);
	CHECK(a > 0);
	/* Overlaps are refused, naming the other override; touching is fine. */
	err[0] = 0;
	CHECK(pointingdb_add(db, 61100.5, 61102.0, 41.0, NULL, 2.0, NULL, err, sizeof err) ==
	      -EEXIST);
	CHECK(strstr(err, "overlaps override 1") != NULL, "%s", err);
	CHECK(pointingdb_add(db, 61099.0, 61100.001, 41.0, NULL, 2.0, NULL, err, sizeof err) ==
	      -EEXIST);
	CHECK(pointingdb_add(db, 61099.0, 61103.0, 41.0, NULL, 2.0, NULL, err, sizeof err) ==
	      -EEXIST);
	CHECK_OK(pointingdb_add(db, 61101.0, 61102.0, -10.5, "", 3.0, &b, err, sizeof err), err);
	/* An open range, and what it then blocks. */
	CHECK_OK(pointingdb_add(db, 61103.0, INFINITY, 55.0, "until the writer restarts", 4.0,
				&c, err, sizeof err), err);
	CHECK(pointingdb_add(db, 61200.0, 61201.0, 55.0, NULL, 5.0, NULL, err, sizeof err) ==
	      -EEXIST);
	CHECK(pointingdb_add(db, 61102.5, NAN, 55.0, NULL, 5.0, NULL, err, sizeof err) == -EEXIST);
	CHECK(pointingdb_add(db, 61102.0, 61102.5, 54.0, NULL, 5.0, NULL, err, sizeof err) == 0,
	      "%s", err);
	/* Bad values. */
	CHECK(pointingdb_add(db, 61300.0, 61300.0, 40, NULL, 5.0, NULL, err, sizeof err) ==
	      -EINVAL);
	CHECK(pointingdb_add(db, 61300.0, 61299.0, 40, NULL, 5.0, NULL, err, sizeof err) ==
	      -EINVAL);
	CHECK(pointingdb_add(db, NAN, 61299.0, 40, NULL, 5.0, NULL, err, sizeof err) == -EINVAL);
	CHECK(pointingdb_add(db, 61300.0, 61301.0, 90.5, NULL, 5.0, NULL, err, sizeof err) ==
	      -EINVAL);
	CHECK(pointingdb_add(db, 61300.0, 61301.0, NAN, NULL, 5.0, NULL, err, sizeof err) ==
	      -EINVAL);

	/* Lookup: start inclusive, end exclusive. */
	CHECK(pointingdb_find(db, 61099.999, &o, err, sizeof err) == 0);
	CHECK(pointingdb_find(db, 61100.0, &o, err, sizeof err) == 1 && o.id == a &&
	      o.dec_deg == 40.2 && !strcmp(o.note, "dishes moved"));
	CHECK(pointingdb_find(db, 61100.9999, &o, err, sizeof err) == 1 && o.id == a);
	CHECK(pointingdb_find(db, 61101.0, &o, err, sizeof err) == 1 && o.id == b &&
	      o.dec_deg == -10.5 && o.end_mjd == 61102.0);
	CHECK(pointingdb_find(db, 61102.7, &o, err, sizeof err) == 0);
	CHECK(pointingdb_find(db, 70000.0, &o, err, sizeof err) == 1 && o.id == c &&
	      isinf(o.end_mjd));

	CHECK_OK(pointingdb_list(db, &list, &n, err, sizeof err), err);
	CHECK(n == 4, "%zu overrides", n);
	for (size_t i = 1; i < n; i++)
		CHECK(list[i].start_mjd > list[i - 1].start_mjd);
	free(list);

	CHECK_OK(pointingdb_remove(db, a, err, sizeof err), err);
	CHECK(pointingdb_remove(db, a, err, sizeof err) == -ENOENT);
	CHECK(pointingdb_find(db, 61100.5, &o, err, sizeof err) == 0);
	/* Ids are never reused (logs and group events name them). */
	int64_t d = 0, last = c;
	CHECK_OK(pointingdb_remove(db, c, err, sizeof err), err);
	CHECK_OK(pointingdb_add(db, 61400.0, 61401.0, 20, NULL, 6.0, &d, err, sizeof err), err);
	CHECK(d > last, "id %lld reused (last %lld)", (long long)d, (long long)last);
	/* The schema refuses what the API refuses, for anyone writing SQL. */
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO pointing_overrides (start_mjd, end_mjd, dec_deg, created_at)"
		      " VALUES (1, 0, 10, 0)", NULL) < 0);
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO pointing_overrides (start_mjd, end_mjd, dec_deg, created_at)"
		      " VALUES (1, 2, 95, 0)", NULL) < 0);
	db_close(db);
}

static void test_group_records(void)
{
	sqlite3 *db = statedb_fresh("gp.sqlite");
	pointingdb_group g, r;
	int64_t ov = 0, g1, g2, g3;
	char (*names)[32] = NULL;
	size_t n = 0;

	if (!db)
		return;
	g1 = add_group(db, "2026-03-01T06:00:00");
	g2 = add_group(db, "2026-03-01T06:05:09");
	g3 = add_group(db, "2026-03-01T09:00:00");
	CHECK(pointingdb_group_get(db, g1, &r, err, sizeof err) == 0);

	memset(&g, 0, sizeof g);
	g.mid_mjd = 61100.2518;
	g.file_dec_deg = 40.0;
	g.dec_deg = 40.0;
	CHECK_OK(pointingdb_group_put(db, g1, &g, 10, err, sizeof err), err);
	g.mid_mjd = 61100.2554;
	CHECK_OK(pointingdb_group_put(db, g2, &g, 10, err, sizeof err), err);
	g.mid_mjd = 61100.3768;
	g.dec_deg = 40.2;
	CHECK_OK(pointingdb_group_put(db, g3, &g, 10, err, sizeof err), err);

	/* The check's result. */
	memset(&g, 0, sizeof g);
	snprintf(g.qa_status, sizeof g.qa_status, "warn");
	g.qa_offset_deg = 0.19;
	g.qa_offset_err_deg = 0.01;
	g.qa_significance = 19;
	g.qa_scale = 0.98;
	g.qa_chi2_nu = NAN;
	g.qa_nsources = 12;
	g.qa_nnorth = 5;
	g.qa_nsouth = 7;
	CHECK_OK(pointingdb_group_qa(db, g1, &g, 11, err, sizeof err), err);
	CHECK(pointingdb_group_get(db, g1, &r, err, sizeof err) == 1);
	CHECK(r.dec_deg == 40.0 && r.file_dec_deg == 40.0 && !r.from_override && !r.override_id);
	CHECK(!strcmp(r.qa_status, "warn") && r.qa_offset_deg == 0.19 && r.qa_nsources == 12 &&
	      r.qa_nnorth == 5 && r.qa_nsouth == 7 && isnan(r.qa_chi2_nu));
	CHECK(pointingdb_group_qa(db, 9999, &g, 11, err, sizeof err) == -ENOENT);

	/* Groups in a new override's range processed with another pointing. */
	CHECK_OK(pointingdb_add(db, 61100.25, 61100.30, 40.2, "moved at 06:00", 12, &ov, err,
				sizeof err), err);
	CHECK_OK(pointingdb_groups_to_redo(db, 61100.25, 61100.30, 40.2, &names, &n, err,
					   sizeof err), err);
	CHECK(n == 2 && !strcmp(names[0], "2026-03-01T06:00:00") &&
	      !strcmp(names[1], "2026-03-01T06:05:09"), "%zu groups", n);
	free(names);
	CHECK_OK(pointingdb_groups_to_redo(db, 61100.0, INFINITY, 40.2, &names, &n, err,
					   sizeof err), err);
	CHECK(n == 2, "%zu groups (the one at 40.2 needs nothing)", n);
	free(names);

	/* A re-run with the override: its check is cleared until it runs again. */
	memset(&g, 0, sizeof g);
	g.mid_mjd = 61100.2518;
	g.file_dec_deg = 40.0;
	g.dec_deg = 40.2;
	g.from_override = 1;
	g.override_id = ov;
	CHECK_OK(pointingdb_group_put(db, g1, &g, 13, err, sizeof err), err);
	CHECK(pointingdb_group_get(db, g1, &r, err, sizeof err) == 1);
	CHECK(r.from_override && r.override_id == ov && r.dec_deg == 40.2 && !r.qa_status[0] &&
	      isnan(r.qa_offset_deg));
	/* Removing the override keeps the record, which then names none. */
	CHECK_OK(pointingdb_remove(db, ov, err, sizeof err), err);
	CHECK(pointingdb_group_get(db, g1, &r, err, sizeof err) == 1);
	CHECK(r.from_override && r.override_id == 0 && r.dec_deg == 40.2);
	/* Deleting the group deletes its record. */
	CHECK(db_exec(db, err, sizeof err, "DELETE FROM groups WHERE id = ?", "I", g1) == 1);
	CHECK(pointingdb_group_get(db, g1, &r, err, sizeof err) == 0);
	db_close(db);
}

int main(void)
{
	RUN(test_overrides);
	RUN(test_group_records);
	return TEST_DONE();
}
