/* tests/state/test_report.c — the queue views contimgctl prints (state/report.h):
 * status, the groups list with its subband census, one group's record. */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <errno.h>

#include "core/err.h"
#include "state/db.h"
#include "state/report.h"

#define T0 1772344154LL /* 2026-03-01T05:49:14Z */

static void group(sqlite3 *db, int id, int64_t t, const char *name, const char *state,
		  int n_expected, const char *error, const char *stage, double started,
		  double finished, int pid)
{
	char err[ERR_LEN];
	int r = db_exec(db, err, sizeof err,
			"INSERT INTO groups (id, name, t_first, state, n_expected, retries, runs, error,"
			" stage, calibrated, owner_pid, created_at, updated_at, started_at, finished_at)"
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), ?, ?, nullif(?, 0),"
			" nullif(?, 0))",
			"isIsiiissiiddd" "d", id, name, t, state, n_expected, id % 3, id + 1, error,
			stage, id == 1, pid, 100.0 * id, 100.0 * id + 50, started, finished);
	if (r != 1)
		fprintf(stderr, "  group %s: %s\n", name, err);
}

static void file(sqlite3 *db, int gid, int sb, const char *name, const char *status,
		 const char *reason)
{
	char path[200];
	snprintf(path, sizeof path, "/in/%s_sb%02d.hdf5", name, sb);
	if (!strcmp(status, "duplicate"))
		strcat(path, ".dup");
	db_exec(db, NULL, 0,
		"INSERT INTO subband_files (group_id, path, subband, ts, size, status, reason, added_at)"
		" VALUES (?, ?, ?, 0, ?, ?, ?, 0)", "isiiss", gid, path, sb, 1000 + sb, status,
		reason);
}

static void event(sqlite3 *db, int gid, double at, const char *kind, const char *stage,
		  const char *msg)
{
	db_exec(db, NULL, 0,
		"INSERT INTO group_events (group_id, at, kind, stage, message) VALUES (?, ?, ?, ?, ?)",
		"idsss", gid, at, kind, stage, msg);
}

/* The fixture:
 *   1 G1 completed (finished 1000): 16 subbands, sb07 bad ("not HDF5"), sb09 late,
 *        a duplicate of sb02; three stage runs, two products, events
 *   2 G2 in_progress (stage image, started 2000, pid 42): sb00..03 only
 *   3 G3 in_progress (no stage yet, started 1500, no pid)
 *   4 G4 failed ("boom"): sb03 bad with no reason
 *   5 G5 completed (finished 5000)
 *   6 G6 collecting, n_expected 70 (more than a view tracks), a file of sb65 */
static sqlite3 *fixture(const char *dbname)
{
	static const char *names[] = { "", "2026-03-01T05:49:14", "2026-03-01T05:54:14",
				       "2026-03-01T05:59:14", "2026-03-01T06:04:14",
				       "2026-03-01T06:09:14", "2026-03-01T06:14:14" };
	sqlite3 *db = statedb_fresh(dbname);

	if (!db)
		return NULL;
	group(db, 1, T0, names[1], "completed", 16, NULL, NULL, 900, 1000, 0);
	group(db, 2, T0 + 300, names[2], "in_progress", 16, NULL, "image", 2000, 0, 42);
	group(db, 3, T0 + 600, names[3], "in_progress", 16, NULL, NULL, 1500, 0, 0);
	group(db, 4, T0 + 900, names[4], "failed", 16, "boom", NULL, 2900, 3000, 0);
	group(db, 5, T0 + 1200, names[5], "completed", 16, NULL, NULL, 4900, 5000, 0);
	group(db, 6, T0 + 1500, names[6], "collecting", 70, NULL, NULL, 0, 0, 0);
	for (int sb = 15; sb >= 0; sb--)
		file(db, 1, sb, names[1], sb == 7 ? "bad" : sb == 9 ? "late" : "ok",
		     sb == 7 ? "not HDF5" : NULL);
	file(db, 1, 2, names[1], "duplicate", NULL);
	for (int sb = 0; sb < 4; sb++)
		file(db, 2, sb, names[2], "ok", NULL);
	file(db, 4, 3, names[4], "bad", NULL);
	file(db, 6, 65, names[6], "ok", NULL);
	db_exec(db, NULL, 0,
		"INSERT INTO stage_timings (group_id, stage, seconds, ok, error, at) VALUES"
		" (1, 'load', 1.5, 1, NULL, 910), (1, 'image', 30.25, 0, 'no beam', 950),"
		" (1, 'convert', 2.5, 1, NULL, 920)", NULL);
	db_exec(db, NULL, 0,
		"INSERT INTO products (group_id, name, path, created_at) VALUES"
		" (1, 'pbcor', '/p/G1.pbcor.fits', 960), (1, 'image', '/p/G1.image.fits', 960)",
		NULL);
	event(db, 1, 2500, "retry", "image", "no beam");
	event(db, 1, 800, "missing", NULL, NULL);
	event(db, 4, 3000, "error", "flag", "too much");
	event(db, 2, 4000, "requeue", NULL, "operator");
	return db;
}

static void test_empty(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = statedb_fresh("empty.sqlite");
	report_status s;
	report_group dummy, *g = &dummy;
	report_detail d;
	size_t n = 99;

	if (!db)
		return;
	CHECK_OK(report_status_get(db, 0, &s, err, sizeof err), e);
	CHECK(s.nrunning == 0 && !s.running, "%zu running", s.nrunning);
	CHECK(!s.last_completed.name && !s.last_error.name, "%s", "no last group");
	CHECK(s.completed_since == 0, "%lld", (long long)s.completed_since);
	report_status_release(&s);
	CHECK_OK(report_groups(db, NULL, 0, 0, &g, &n, err, sizeof err), e);
	CHECK(n == 0 && g == NULL, "%zu groups", n);
	CHECK(report_detail_get(db, 1, &d, err, sizeof err) == 0, "%s", err);
	db_close(db);
}

static void test_status(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = fixture(__func__);
	report_status s;

	if (!db)
		return;
	CHECK_OK(report_status_get(db, 1000, &s, err, sizeof err), e);
	printf("# status: %zu running, last done %s, last error %s at %.0f, %lld completed since"
	       " t = 1000\n", s.nrunning, test_str_(s.last_completed.name),
	       test_str_(s.last_error.name), s.last_error.at, (long long)s.completed_since);
	/* Earliest start first: G3 (1500) before G2 (2000). */
	CHECK(s.nrunning == 2, "%zu", s.nrunning);
	if (s.nrunning == 2) {
		CHECK(!strcmp(s.running[0].name, "2026-03-01T05:59:14"), "%s", s.running[0].name);
		CHECK(s.running[0].stage == NULL && s.running[0].pid == 0, "%d", s.running[0].pid);
		CHECK(s.running[0].started_at == 1500, "%g", s.running[0].started_at);
		CHECK(!strcmp(s.running[1].name, "2026-03-01T05:54:14"), "%s", s.running[1].name);
		CHECK(!strcmp(test_str_(s.running[1].stage), "image") && s.running[1].pid == 42,
		      "%s %d", test_str_(s.running[1].stage), s.running[1].pid);
	}
	/* The latest finish, not the latest name or id order. */
	CHECK(!strcmp(test_str_(s.last_completed.name), "2026-03-01T06:09:14"), "%s",
	      test_str_(s.last_completed.name));
	CHECK(s.last_completed.at == 5000, "%g", s.last_completed.at);
	CHECK(!s.last_completed.message, "%s", "no message");
	/* The latest error or retry event (the later requeue does not count). */
	CHECK(!strcmp(test_str_(s.last_error.name), "2026-03-01T06:04:14"), "%s",
	      test_str_(s.last_error.name));
	CHECK(s.last_error.at == 3000, "%g", s.last_error.at);
	CHECK(!strcmp(test_str_(s.last_error.stage), "flag"), "%s", test_str_(s.last_error.stage));
	CHECK(!strcmp(test_str_(s.last_error.message), "too much"), "%s",
	      test_str_(s.last_error.message));
	/* finished_at >= since: G1 (1000) and G5 (5000); G4 failed at 3000. */
	CHECK(s.completed_since == 2, "%lld", (long long)s.completed_since);
	report_status_release(&s);
	CHECK_OK(report_status_get(db, 1000.5, &s, err, sizeof err), e);
	CHECK(s.completed_since == 1, "%lld", (long long)s.completed_since);
	report_status_release(&s);
	report_status_release(NULL);
	db_close(db);
}

static int find(const report_group *g, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(g[i].name, name))
			return (int)i;
	return -1;
}

static void test_groups(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = fixture(__func__);
	report_group *g = NULL;
	size_t n = 0;
	int k;

	if (!db)
		return;
	CHECK_OK(report_groups(db, NULL, 0, 0, &g, &n, err, sizeof err), e);
	CHECK(n == 6, "%zu groups", n);
	/* Newest first. */
	for (size_t i = 0; g && i + 1 < n; i++)
		CHECK(strcmp(g[i].name, g[i + 1].name) > 0, "%s before %s", g[i].name,
		      g[i + 1].name);
	k = g ? find(g, n, "2026-03-01T05:49:14") : -1;
	CHECK(k >= 0, "%s", "G1 listed");
	if (k >= 0) {
		const report_group *x = &g[k];
		printf("# G1: %d of %d subbands, missing sb%02d: %s: %s\n", x->n_subbands,
		       x->n_expected, x->nmissing ? x->missing[0].subband : -1,
		       x->nmissing ? test_str_(x->missing[0].bad_path) : "",
		       x->nmissing ? test_str_(x->missing[0].bad_reason) : "");
		/* 15 usable: the late sb09 counts, the bad sb07 and the duplicate do not. */
		CHECK(x->id == 1 && x->n_subbands == 15 && x->n_expected == 16, "%d/%d",
		      x->n_subbands, x->n_expected);
		CHECK(x->nmissing == 1 && x->missing[0].subband == 7, "%d", x->nmissing);
		CHECK(!strcmp(test_str_(x->missing[0].bad_path),
			      "/in/2026-03-01T05:49:14_sb07.hdf5"), "%s",
		      test_str_(x->missing[0].bad_path));
		CHECK(!strcmp(test_str_(x->missing[0].bad_reason), "not HDF5"), "%s",
		      test_str_(x->missing[0].bad_reason));
		CHECK(!strcmp(x->state, "completed") && !x->error && !x->stage, "%s", x->state);
		CHECK(x->retries == 1 && x->runs == 2 && x->calibrated == 1, "%d %d %d", x->retries,
		      x->runs, x->calibrated);
		CHECK(x->created_at == 100 && x->updated_at == 150 && x->started_at == 900 &&
			      x->finished_at == 1000, "%g %g %g %g", x->created_at, x->updated_at,
		      x->started_at, x->finished_at);
	}
	k = g ? find(g, n, "2026-03-01T05:54:14") : -1;
	if (k >= 0) {
		const report_group *x = &g[k];
		/* Four subbands came; 4..15 are absent (no file at all). */
		CHECK(x->n_subbands == 4 && x->nmissing == 12, "%d %d", x->n_subbands, x->nmissing);
		for (int i = 0; i < x->nmissing; i++)
			CHECK(x->missing[i].subband == 4 + i && !x->missing[i].bad_path, "%d",
			      x->missing[i].subband);
		CHECK(!strcmp(test_str_(x->stage), "image"), "%s", test_str_(x->stage));
	}
	k = g ? find(g, n, "2026-03-01T06:04:14") : -1;
	if (k >= 0) {
		const report_group *x = &g[k];
		CHECK(!strcmp(test_str_(x->error), "boom"), "%s", test_str_(x->error));
		CHECK(x->nmissing == 16 && x->missing[3].subband == 3, "%d", x->nmissing);
		/* A bad file without a reason: the file, and a NULL reason. */
		CHECK(x->missing[3].bad_path && !x->missing[3].bad_reason, "%s", "sb03");
		CHECK(!x->missing[2].bad_path, "%s", "sb02 absent");
		CHECK(x->started_at == 2900 && x->finished_at == 3000, "%g", x->started_at);
	}
	k = g ? find(g, n, "2026-03-01T06:14:14") : -1;
	if (k >= 0) {
		/* 70 expected, only 0..63 tracked; the sb65 file is out of range. */
		CHECK(g[k].n_subbands == 0 && g[k].nmissing == REPORT_MAX_SUBBANDS, "%d %d",
		      g[k].n_subbands, g[k].nmissing);
		CHECK(g[k].missing[63].subband == 63, "%d", g[k].missing[63].subband);
		CHECK(g[k].started_at == 0 && g[k].finished_at == 0, "%s", "not started");
	}
	report_groups_free(g, n);

	/* Filters: state, time (>= since), limit. */
	CHECK_OK(report_groups(db, "in_progress", 0, 0, &g, &n, err, sizeof err), e);
	CHECK(n == 2 && !strcmp(g[0].name, "2026-03-01T05:59:14") &&
		      !strcmp(g[1].name, "2026-03-01T05:54:14"), "%zu", n);
	report_groups_free(g, n);
	CHECK_OK(report_groups(db, NULL, T0 + 300, 0, &g, &n, err, sizeof err), e);
	CHECK(n == 5 && !strcmp(g[n - 1].name, "2026-03-01T05:54:14"), "%zu", n);
	report_groups_free(g, n);
	CHECK_OK(report_groups(db, NULL, 0, 2, &g, &n, err, sizeof err), e);
	CHECK(n == 2 && !strcmp(g[0].name, "2026-03-01T06:14:14") &&
		      !strcmp(g[1].name, "2026-03-01T06:09:14"), "%zu", n);
	report_groups_free(g, n);
	CHECK_OK(report_groups(db, "failed", T0 + 1000, 0, &g, &n, err, sizeof err), e);
	CHECK(n == 0 && !g, "%zu", n);
	report_groups_free(NULL, 0);

	/* The census alone (contimgctl process). */
	int miss[REPORT_MAX_SUBBANDS], nm = -1, ngood = -1;
	CHECK_OK(report_subbands(db, 1, 16, &ngood, miss, &nm, err, sizeof err), e);
	CHECK(ngood == 15 && nm == 1 && miss[0] == 7, "%d %d", ngood, nm);
	CHECK_OK(report_subbands(db, 2, 6, &ngood, miss, &nm, err, sizeof err), e);
	CHECK(ngood == 4 && nm == 2 && miss[0] == 4 && miss[1] == 5, "%d %d", ngood, nm);
	db_close(db);
}

static void test_detail(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = fixture(__func__);
	report_detail d, keep;

	if (!db)
		return;
	memset(&keep, 0x5a, sizeof keep);
	d = keep;
	CHECK(report_detail_get(db, 99, &d, err, sizeof err) == 0, "%s", err);
	CHECK(!memcmp(&d, &keep, sizeof d), "%s", "untouched when absent");
	CHECK(report_detail_get(db, 1, &d, err, sizeof err) == 1, "%s", e);
	printf("# show G1: %zu files, %zu stage runs, %zu products, %zu events\n", d.nfiles,
	       d.nstage_runs, d.nproducts, d.nevents);
	CHECK(!strcmp(d.group.name, "2026-03-01T05:49:14") && d.group.nmissing == 1, "%s",
	      d.group.name);
	/* Every file, duplicates included, by subband then path. */
	CHECK(d.nfiles == 17, "%zu", d.nfiles);
	for (size_t i = 0; i + 1 < d.nfiles; i++)
		CHECK(d.files[i].subband < d.files[i + 1].subband ||
			      (d.files[i].subband == d.files[i + 1].subband &&
			       strcmp(d.files[i].path, d.files[i + 1].path) < 0),
		      "file %zu", i);
	if (d.nfiles == 17) {
		CHECK(d.files[2].subband == 2 && !strcmp(d.files[3].status, "duplicate"), "%s",
		      d.files[3].status);
		CHECK(!strcmp(d.files[8].status, "bad") && !strcmp(d.files[8].reason, "not HDF5"),
		      "%s", d.files[8].status);
		CHECK(d.files[0].reason == NULL && d.files[0].size == 1000, "%lld",
		      (long long)d.files[0].size);
	}
	/* Stage runs in the order they ran (at), not by name. */
	CHECK(d.nstage_runs == 3, "%zu", d.nstage_runs);
	if (d.nstage_runs == 3) {
		CHECK(!strcmp(d.stage_runs[0].stage, "load") &&
			      !strcmp(d.stage_runs[1].stage, "convert") &&
			      !strcmp(d.stage_runs[2].stage, "image"), "%s", d.stage_runs[1].stage);
		CHECK(d.stage_runs[2].ok == 0 && !strcmp(test_str_(d.stage_runs[2].error), "no beam"),
		      "%s", test_str_(d.stage_runs[2].error));
		CHECK(d.stage_runs[2].seconds == 30.25 && d.stage_runs[2].at == 950, "%g",
		      d.stage_runs[2].seconds);
		CHECK(d.stage_runs[0].error == NULL, "%s", "no error");
	}
	/* Products by name. */
	CHECK(d.nproducts == 2 && !strcmp(d.products[0].name, "image") &&
		      !strcmp(d.products[1].path, "/p/G1.pbcor.fits"), "%zu", d.nproducts);
	/* Events oldest first, NULL stage and message kept NULL. */
	CHECK(d.nevents == 2, "%zu", d.nevents);
	if (d.nevents == 2) {
		CHECK(d.events[0].at == 800 && !strcmp(d.events[0].kind, "missing") &&
			      !d.events[0].stage && !d.events[0].message, "%s", d.events[0].kind);
		CHECK(!strcmp(d.events[1].kind, "retry") && !strcmp(d.events[1].message, "no beam"),
		      "%s", d.events[1].kind);
	}
	report_detail_release(&d);
	report_detail_release(NULL);

	/* A group with nothing recorded yet. */
	CHECK(report_detail_get(db, 3, &d, err, sizeof err) == 1, "%s", e);
	CHECK(d.nfiles == 0 && !d.files && d.nstage_runs == 0 && d.nproducts == 0 &&
		      d.nevents == 0 && d.group.nmissing == 16, "%d", d.group.nmissing);
	report_detail_release(&d);
	db_close(db);
}

int main(void)
{
	RUN(test_empty);
	RUN(test_status);
	RUN(test_groups);
	RUN(test_detail);
	return TEST_DONE();
}
