/*
 * tests/daemon/test_housekeeping.c — the free-space guard and the retention
 * plan (daemon/housekeeping.h): settings, hysteresis, the rules, the files
 * that must survive; and one run against a real state database and files
 * (state/housedb.h): recorded before removed, requeue-relevant summary,
 * a group changed meanwhile keeps its files.
 */
#include "tests/test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core/config.h"
#include "core/err.h"
#include "daemon/housekeeping.h"
#include "state/db.h"
#include "state/housedb.h"
#include "state/queue.h"

#define DAY 86400.0

static house_settings defaults(void)
{
	house_settings s;
	cfg *c = cfg_new_empty();
	char err[ERR_LEN] = "";
	memset(&s, 0, sizeof s);
	CHECK_OK(house_settings_read(c, "/data/incoming", &s, err, sizeof err), err);
	cfg_free(c);
	return s;
}

static int parse(const char *text, house_settings *s, char *err, size_t errlen)
{
	cfg *c = NULL;
	int r = cfg_load_string(text, &c, err, errlen);
	if (r < 0)
		return r;
	r = house_settings_read(c, "/data/incoming", s, err, errlen);
	cfg_free(c);
	return r;
}

static void test_settings(void)
{
	house_settings s = defaults();
	char err[ERR_LEN] = "";

	/* Guard on, retention off by default: an upgrade deletes nothing. */
	CHECK(s.min_free_gb[HOUSE_INCOMING] == 20 && s.min_free_gb[HOUSE_PRODUCTS] == 20 &&
	      s.min_free_gb[HOUSE_STATE] == 1 && s.min_free_gb[HOUSE_SCRATCH] == 1, "thresholds");
	CHECK(s.resume_free_factor == 1.1 && s.guard_interval_s == 30 && s.interval_s == 3600, "");
	CHECK(!house_retention_on(&s), "retention must be off by default");
	CHECK(s.raw_action == HOUSE_RAW_DELETE, "raw_action default");
	CHECK(!strcmp(s.products_keep, "image,pbcor"), "products_keep '%s'", s.products_keep);

	CHECK_OK(parse("[housekeeping]\nraw_keep_days = 30\nraw_action = move\n"
		       "raw_move_to = /archive/raw\nproducts_keep = image ,model,, pbcor\n",
		       &s, err, sizeof err), err);
	CHECK(house_retention_on(&s) && s.raw_action == HOUSE_RAW_MOVE, "");
	CHECK(!strcmp(s.products_keep, "image,model,pbcor"), "'%s'", s.products_keep);

	CHECK(parse("[housekeeping]\nraw_action = shred\n", &s, err, sizeof err) == -EINVAL &&
	      strstr(err, "raw_action"), "%s", err);
	CHECK(parse("[housekeeping]\nraw_action = move\n", &s, err, sizeof err) == -EINVAL &&
	      strstr(err, "raw_move_to"), "%s", err);
	/* Moving into the watched directory would re-register the files. */
	CHECK(parse("[housekeeping]\nraw_action = move\nraw_move_to = /data/incoming/old\n", &s,
		    err, sizeof err) == -EINVAL && strstr(err, "inside"), "%s", err);
	CHECK(parse("[housekeeping]\nraw_move_to = /data/incoming2\n", &s, err, sizeof err) == 0,
	      "a sibling directory is not inside: %s", err);
	CHECK(parse("[housekeeping]\nmin_free_products_gb = -1\n", &s, err, sizeof err) == -EINVAL,
	      "negative threshold");
	CHECK(parse("[housekeeping]\nresume_free_factor = 0.9\n", &s, err, sizeof err) == -EINVAL,
	      "factor < 1");
	CHECK(parse("[housekeeping]\nproducts_keep = Image\n", &s, err, sizeof err) == -EINVAL,
	      "bad product name");
}

static void test_guard(void)
{
	house_settings s = defaults();
	house_space sp[HOUSE_NPATHS] = { { "/in", 500e9 }, { "/prod", 19e9 }, { "/state", 5e9 },
					 { "", 0 } };
	char why[512];
	unsigned m;

	m = house_guard(&s, sp, 0, why, sizeof why);
	CHECK(m == (1u << HOUSE_PRODUCTS), "mask %u", m);
	CHECK(!strcmp(why, "products_dir free 19.0 GB < 20 GB"), "'%s'", why);
	/* Hysteresis: 21 GB is above the threshold but below 20 * 1.1 = 22 GB. */
	sp[HOUSE_PRODUCTS].free_bytes = 21e9;
	CHECK(house_guard(&s, sp, 0, NULL, 0) == 0, "not held when it was not before");
	m = house_guard(&s, sp, 1u << HOUSE_PRODUCTS, why, sizeof why);
	CHECK(m == (1u << HOUSE_PRODUCTS), "still held below the resume level");
	CHECK(strstr(why, "< 22 GB") != NULL, "the resume level is named: '%s'", why);
	sp[HOUSE_PRODUCTS].free_bytes = 22.5e9;
	CHECK(house_guard(&s, sp, 1u << HOUSE_PRODUCTS, why, sizeof why) == 0 && !why[0],
	      "resumes at 22.5 GB");
	/* Two paths; the state disk below 1 GB. */
	sp[HOUSE_PRODUCTS].free_bytes = 3.1e9;
	sp[HOUSE_STATE].free_bytes = 0.2e9;
	m = house_guard(&s, sp, 0, why, sizeof why);
	CHECK(m == ((1u << HOUSE_PRODUCTS) | (1u << HOUSE_STATE)), "mask %u", m);
	CHECK(!strcmp(why, "products_dir free 3.1 GB < 20 GB; state_dir free 0.2 GB < 1 GB"), "'%s'",
	      why);
	/* Not measured, not configured, or not guarded: never held. */
	sp[HOUSE_PRODUCTS].free_bytes = -1;
	s.min_free_gb[HOUSE_STATE] = 0;
	CHECK(house_guard(&s, sp, 0xf, NULL, 0) == 0, "unmeasured / threshold 0");
	sp[HOUSE_SCRATCH].free_bytes = 0; /* path "" */
	CHECK(house_guard(&s, sp, 0, NULL, 0) == 0, "scratch_dir not set");

	/* The measurement is the file system's own figure. */
	{
		house_space x;
		struct statvfs v;
		CHECK_OK(house_space_measure("/", &x, NULL, 0), "");
		CHECK(statvfs("/", &v) == 0, "");
		CHECK_NEAR(x.free_bytes, (double)v.f_bavail * v.f_frsize, 64e6);
		CHECK(house_space_measure("/nonexistent-dir-xyz", &x, NULL, 0) == -ENOENT &&
		      x.free_bytes < 0, "missing directory");
	}
}

static void test_nospace(void)
{
	CHECK(house_is_nospace(-ENOSPC, NULL) && house_is_nospace(-EDQUOT, ""), "");
	CHECK(house_is_nospace(-EIO, "stage image: x.fits: No space left on device"), "");
	CHECK(house_is_nospace(-EIO, "COMMIT: database or disk is full"), "");
	CHECK(!house_is_nospace(-EIO, "stage load: bad file"), "");
	CHECK(!house_is_nospace(-EINVAL, NULL), "");
}

/* A group with nraw raw files and the given products (NULL-terminated). */
static house_group mkgroup(int64_t id, const char *name, const char *state, double age_d,
			   int calibrator, int stale, int nraw, const char *const *prods,
			   double now)
{
	house_group g;
	size_t np = 0;
	char p[256];

	memset(&g, 0, sizeof g);
	while (prods && prods[np])
		np++;
	g.id = id;
	snprintf(g.name, sizeof g.name, "%s", name);
	snprintf(g.state, sizeof g.state, "%s", state);
	g.finished_at = now - age_d * DAY;
	g.calibrator = calibrator;
	g.stale = stale;
	g.files = calloc((size_t)nraw + np, sizeof *g.files);
	for (int k = 0; k < nraw; k++) {
		house_file *f = &g.files[g.nfiles++];
		snprintf(p, sizeof p, "/in/%s_sb%02d.hdf5", name, k);
		f->kind = HOUSE_KIND_RAW;
		snprintf(f->name, sizeof f->name, "sb%02d", k);
		f->path = strdup(p);
		f->bytes = 150000000;
	}
	for (size_t k = 0; k < np; k++) {
		house_file *f = &g.files[g.nfiles++];
		snprintf(p, sizeof p, "/prod/%.10s/%s/%s.fits", name, name, prods[k]);
		f->kind = HOUSE_KIND_PRODUCT;
		snprintf(f->name, sizeof f->name, "%s", prods[k]);
		f->path = strdup(p);
		f->bytes = 20000000;
	}
	return g;
}

/* How many actions of kind on group name, and with path containing sub. */
static int count(const house_action *a, size_t n, const char *group, int kind, const char *sub)
{
	int c = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].group, group) && a[i].kind == kind && (!sub || strstr(a[i].path, sub)))
			c++;
	return c;
}

static void test_plan(void)
{
	const double now = 1.8e9;
	const char *const prods[] = { "image", "residual", "psf", "pbcor", NULL };
	house_settings s = defaults();
	house_group g[7];
	house_action *a = NULL;
	size_t n = 0;
	char err[ERR_LEN] = "";
	const char *protect[] = { "/in/2026-01-06T00:00:00_sb03.hdf5",
				  "/prod/2026-01-06/2026-01-06T00:00:00/psf.fits" };
	const char *busy[] = { "2026-01-09T00:00:00" };

	g[0] = mkgroup(1, "2026-01-01T00:00:00", "completed", 40, 0, 0, 16, prods, now);
	g[1] = mkgroup(2, "2026-01-02T00:00:00", "completed", 40, 1, 0, 16, prods, now); /* cal */
	g[2] = mkgroup(3, "2026-01-03T00:00:00", "completed", 100, 1, 0, 16, prods, now); /* cal */
	g[3] = mkgroup(4, "2026-01-04T00:00:00", "completed", 5, 0, 0, 16, prods, now); /* young */
	g[4] = mkgroup(5, "2026-01-05T00:00:00", "failed", 40, 0, 0, 16, prods, now);
	g[5] = mkgroup(6, "2026-01-06T00:00:00", "completed", 40, 0, 0, 16, prods, now);
	g[6] = mkgroup(7, "2026-01-07T00:00:00", "completed", 40, 0, 1, 16, prods, now); /* stale */

	/* Retention off: nothing, however old. */
	CHECK_OK(house_plan(&s, now, g, 7, NULL, 0, NULL, 0, NULL, 0, &a, &n, err, sizeof err), err);
	CHECK(n == 0 && a == NULL, "%zu actions with every rule off", n);

	s.raw_keep_days = 30;
	s.calibrator_raw_keep_days = 90;
	s.products_keep_days = 30;
	CHECK_OK(house_plan(&s, now, g, 7, protect, 2, busy, 1, NULL, 0, &a, &n, err, sizeof err),
		 err);
	/* Group 1: 16 raw + residual and psf (image, pbcor kept). */
	CHECK(count(a, n, "2026-01-01T00:00:00", HOUSE_KIND_RAW, NULL) == 16, "");
	CHECK(count(a, n, "2026-01-01T00:00:00", HOUSE_KIND_PRODUCT, NULL) == 2, "");
	CHECK(count(a, n, "2026-01-01T00:00:00", HOUSE_KIND_PRODUCT, "image") == 0 &&
	      count(a, n, "2026-01-01T00:00:00", HOUSE_KIND_PRODUCT, "pbcor") == 0, "kept products");
	/* Group 2: a calibrator transit 40 days ago keeps its raw files (90 days). */
	CHECK(count(a, n, "2026-01-02T00:00:00", HOUSE_KIND_RAW, NULL) == 0, "calibrator raw kept");
	CHECK(count(a, n, "2026-01-02T00:00:00", HOUSE_KIND_PRODUCT, NULL) == 2, "");
	/* Group 3: a calibrator transit 100 days ago: raw goes. */
	CHECK(count(a, n, "2026-01-03T00:00:00", HOUSE_KIND_RAW, NULL) == 16, "");
	/* Young, failed and stale groups: nothing. */
	CHECK(count(a, n, "2026-01-04T00:00:00", HOUSE_KIND_RAW, NULL) +
		      count(a, n, "2026-01-04T00:00:00", HOUSE_KIND_PRODUCT, NULL) == 0, "young");
	CHECK(count(a, n, "2026-01-05T00:00:00", HOUSE_KIND_RAW, NULL) +
		      count(a, n, "2026-01-05T00:00:00", HOUSE_KIND_PRODUCT, NULL) == 0, "failed");
	CHECK(count(a, n, "2026-01-07T00:00:00", HOUSE_KIND_RAW, NULL) +
		      count(a, n, "2026-01-07T00:00:00", HOUSE_KIND_PRODUCT, NULL) == 0, "stale");
	/* Group 6: a path another (pending/failed) group registers survives. */
	CHECK(count(a, n, "2026-01-06T00:00:00", HOUSE_KIND_RAW, NULL) == 15, "");
	CHECK(count(a, n, "2026-01-06T00:00:00", HOUSE_KIND_RAW, "_sb03") == 0, "protected raw");
	CHECK(count(a, n, "2026-01-06T00:00:00", HOUSE_KIND_PRODUCT, NULL) == 1 &&
	      count(a, n, "2026-01-06T00:00:00", HOUSE_KIND_PRODUCT, "residual") == 1,
	      "protected product");
	CHECK(n == (16 + 2) + 2 + (16 + 2) + (15 + 1), "%zu actions", n);
	for (size_t i = 0; i < n; i++) {
		CHECK(a[i].action == HOUSE_DELETE && !a[i].dest, "delete");
		if (a[i].kind == HOUSE_KIND_RAW && !strcmp(a[i].group, "2026-01-03T00:00:00"))
			CHECK(strstr(a[i].why, "calibrator_raw_keep_days = 90: completed 100.0 days"),
			      "%s", a[i].why);
	}
	house_actions_free(a, n);

	/* Move: the destination is raw_move_to/YYYY-MM-DD/FILE. */
	s.raw_action = HOUSE_RAW_MOVE;
	snprintf(s.raw_move_to, sizeof s.raw_move_to, "/archive");
	s.products_keep_days = 0;
	CHECK_OK(house_plan(&s, now, g, 1, NULL, 0, NULL, 0, NULL, 0, &a, &n, err, sizeof err), err);
	CHECK(n == 16, "%zu", n);
	CHECK(n && a[0].action == HOUSE_MOVE && a[0].dest &&
	      !strcmp(a[0].dest, "/archive/2026-01-01/2026-01-01T00:00:00_sb00.hdf5"), "%s",
	      n && a[0].dest ? a[0].dest : "(none)");
	house_actions_free(a, n);

	/* calibrator_raw_keep_days alone does not switch raw retention on. */
	s.raw_keep_days = 0;
	CHECK_OK(house_plan(&s, now, g, 7, NULL, 0, NULL, 0, NULL, 0, &a, &n, err, sizeof err), err);
	CHECK(n == 0, "%zu", n);
	house_actions_free(a, n);

	/* A group named by a running group is never touched (read between
	 * look-ups). */
	s.raw_keep_days = 30;
	{
		const char *b1[] = { "2026-01-01T00:00:00" };
		CHECK_OK(house_plan(&s, now, g, 1, NULL, 0, b1, 1, NULL, 0, &a, &n, err, sizeof err),
			 err);
		CHECK(n == 0, "%zu", n);
		house_actions_free(a, n);
	}

	/* Scratch: old group-named directories go, unless their group runs;
	 * anything not named like a group stays. */
	{
		house_scratch x[4] = {
			{ "2026-01-08T00:00:00", "/shm/2026-01-08T00:00:00", now - 30 * 3600, 5 },
			{ "2026-01-09T00:00:00", "/shm/2026-01-09T00:00:00", now - 30 * 3600, 5 },
			{ "2026-01-10T00:00:00", "/shm/2026-01-10T00:00:00", now - 3600, 5 },
			{ "lost+found", "/shm/lost+found", now - 300 * 3600, 5 },
		};
		house_settings t = defaults();
		t.scratch_keep_hours = 24;
		CHECK_OK(house_plan(&t, now, NULL, 0, NULL, 0, busy, 1, x, 4, &a, &n, err, sizeof err),
			 err);
		CHECK(n == 1 && a[0].action == HOUSE_RMDIR && !strcmp(a[0].path, x[0].path),
		      "%zu scratch actions", n);
		house_actions_free(a, n);
	}
	for (int i = 0; i < 7; i++) {
		for (size_t k = 0; k < g[i].nfiles; k++)
			free(g[i].files[k].path);
		free(g[i].files);
	}
}

/* ---- against a real database and files ---- */

static void touch(const char *path, size_t bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char buf[4096] = { 0 };
	CHECK(fd >= 0, "%s", path);
	for (size_t k = 0; fd >= 0 && k < bytes; k += sizeof buf)
		CHECK(write(fd, buf, bytes - k < sizeof buf ? bytes - k : sizeof buf) > 0, "");
	if (fd >= 0)
		close(fd);
}

static void test_run_db(void)
{
	char dir[1024], in[1100], path[1200], err[ERR_LEN] = "", dbp[1200];
	sqlite3 *db = NULL;
	queue_params q;
	house_settings s = defaults();
	house_action *a = NULL;
	size_t n = 0;
	house_stats st;
	housedb_removed hr;
	const double now = 1.8e9;
	/* Group 1 completed 40 days ago, group 2 pending (its files must stay). */
	const int64_t t1 = 1767225600, t2 = 1767225600 + 600;

	snprintf(dir, sizeof dir, "%s/house", test_tmpdir());
	snprintf(in, sizeof in, "%s/in", dir);
	mkdir(dir, 0755);
	mkdir(in, 0755);
	snprintf(dbp, sizeof dbp, "%s/contimg.sqlite", dir);
	CHECK_OK(db_open(dbp, 1, &db, err, sizeof err), err);
	if (!db)
		return;
	queue_params_default(&q);
	q.nsubbands = 2;
	q.min_subbands = 2;
	for (int g = 0; g < 2; g++)
		for (int sb = 0; sb < 2; sb++) {
			char name[QUEUE_NAME_LEN];
			queue_format_ts(g ? t2 : t1, name, sizeof name);
			snprintf(path, sizeof path, "%s/%s_sb%02d.hdf5", in, name, sb);
			touch(path, 10000);
			CHECK_OK(queue_add_file(db, path, 10000, 1, &q, now - 50 * DAY, NULL, err,
						sizeof err), err);
		}
	CHECK(db_exec(db, err, sizeof err,
		      "UPDATE groups SET state = 'completed', finished_at = ? WHERE t_first = ?",
		      "dI", now - 40 * DAY, (int64_t)t1) == 1, "%s", err);
	snprintf(path, sizeof path, "%s/image.fits", dir);
	touch(path, 5000);
	CHECK_OK(queue_add_product(db, 1, "image", path, err, sizeof err), err);
	snprintf(path, sizeof path, "%s/residual.fits", dir);
	touch(path, 7000);
	CHECK_OK(queue_add_product(db, 1, "residual", path, err, sizeof err), err);

	s.raw_keep_days = 30;
	s.products_keep_days = 30;
	/* Dry run: the plan, nothing touched or recorded. */
	CHECK_OK(house_run(db, &s, "", now, 1, &a, &n, &st, err, sizeof err), err);
	CHECK(n == 3, "%zu actions (2 raw + residual)", n);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		CHECK(stat(a[i].path, &sb) == 0, "dry run removed %s", a[i].path);
		CHECK(a[i].group_id == 1, "group");
		CHECK(a[i].bytes == (a[i].kind == HOUSE_KIND_RAW ? 10000 : 7000), "%lld",
		      (long long)a[i].bytes);
	}
	house_actions_free(a, n);
	CHECK_OK(housedb_removed_of(db, 1, &hr, err, sizeof err), err);
	CHECK(hr.nfiles == 0, "dry run recorded");

	/* A group requeued meanwhile keeps its files: the plan is made, then the
	 * group changes before the execution. */
	CHECK_OK(house_run(db, &s, "", now, 1, &a, &n, NULL, err, sizeof err), err);
	CHECK_OK(queue_requeue(db, 1, "test", now, err, sizeof err), err);
	CHECK_OK(house_execute(db, &s, a, n, now, &st, err, sizeof err), err);
	CHECK(st.done == 0 && st.skipped == 3, "done %d skipped %d", st.done, st.skipped);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		CHECK(stat(a[i].path, &sb) == 0, "%s removed from a requeued group", a[i].path);
	}
	house_actions_free(a, n);
	CHECK(db_exec(db, err, sizeof err,
		      "UPDATE groups SET state = 'completed', finished_at = ? WHERE id = 1", "d",
		      now - 40 * DAY) == 1, "%s", err);

	/* The real run. */
	CHECK_OK(house_run(db, &s, "", now, 0, &a, &n, &st, err, sizeof err), err);
	CHECK(n == 3 && st.done == 3 && st.failed == 0 && st.bytes == 27000, "n %zu done %d "
	      "bytes %lld", n, st.done, (long long)st.bytes);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		CHECK(stat(a[i].path, &sb) < 0 && errno == ENOENT, "%s still there", a[i].path);
	}
	house_actions_free(a, n);
	snprintf(path, sizeof path, "%s/image.fits", dir);
	{
		struct stat sb;
		CHECK(stat(path, &sb) == 0, "kept product image removed");
	}
	/* The pending group's files are untouched. */
	{
		char name[QUEUE_NAME_LEN];
		struct stat sb;
		queue_format_ts(t2, name, sizeof name);
		snprintf(path, sizeof path, "%s/%s_sb00.hdf5", in, name);
		CHECK(stat(path, &sb) == 0, "pending group's file removed");
	}
	CHECK_OK(housedb_removed_of(db, 1, &hr, err, sizeof err), err);
	CHECK(hr.nfiles == 2 && hr.bytes == 20000 && hr.nproducts == 1 &&
	      !strcmp(hr.action, "delete") && hr.at == now, "nfiles %d bytes %lld", hr.nfiles,
	      (long long)hr.bytes);
	{
		int64_t k = -1;
		db_query_int(db, &k, NULL, 0,
			     "SELECT count(*) FROM group_events WHERE group_id = 1 AND kind = 'retention'"
			     " AND message LIKE 'retention: 2 raw file(s)%'", NULL);
		CHECK(k == 1, "retention event %lld", (long long)k);
	}
	/* Nothing left to do: a second run finds no candidate. */
	CHECK_OK(house_run(db, &s, "", now, 1, &a, &n, NULL, err, sizeof err), err);
	CHECK(n == 0, "%zu", n);
	house_actions_free(a, n);
	db_close(db);
}

/* A run that failed for lack of space goes back to pending without a retry;
 * a full database reports -ENOSPC (SQLITE_FULL), which the worker recognises. */
static void test_defer_and_full(void)
{
	char path[1200], err[ERR_LEN] = "", name[QUEUE_NAME_LEN];
	sqlite3 *db = NULL;
	queue_params q;
	int64_t id = 0, v = -1;
	int r;

	snprintf(path, sizeof path, "%s/defer.sqlite", test_tmpdir());
	unlink(path);
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), err);
	if (!db)
		return;
	queue_params_default(&q);
	q.nsubbands = 1;
	q.min_subbands = 1;
	CHECK_OK(queue_add_file(db, "/in/2026-01-01T00:00:00_sb00.hdf5", 1, 1, &q, 100, NULL, err,
				sizeof err), err);
	CHECK(queue_claim(db, 1, 200, &id, name, err, sizeof err) == 1, "%s", err);
	CHECK_OK(queue_defer(db, id, "stage image: No space left on device", 260, 230, err,
			     sizeof err), err);
	db_query_int(db, &v, NULL, 0,
		     "SELECT (state = 'pending') + 10 * retries + 100 * (not_before = 260)"
		     " + 1000 * (owner_pid IS NULL) FROM groups", NULL);
	CHECK(v == 1101, "state/retries/not_before/owner %lld", (long long)v);
	db_query_int(db, &v, NULL, 0,
		     "SELECT count(*) FROM group_events WHERE kind = 'nospace'", NULL);
	CHECK(v == 1, "nospace events %lld", (long long)v);
	CHECK(queue_claim(db, 1, 250, &id, name, err, sizeof err) == 0, "claimed before not_before");
	CHECK(queue_defer(db, id, "x", 0, 0, err, sizeof err) == -ENOENT, "defer of a pending group");

	/* SQLITE_FULL: cap the database at its current size and grow it. */
	db_query_int(db, &v, NULL, 0, "PRAGMA page_count", NULL);
	{
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)v + 1);
		CHECK(db_exec(db, err, sizeof err, sql, NULL) >= 0, "%s", err);
	}
	CHECK(db_exec(db, err, sizeof err, "CREATE TABLE filler (b BLOB)", NULL) >= 0, "%s", err);
	r = db_exec(db, err, sizeof err, "INSERT INTO filler VALUES (zeroblob(1000000))", NULL);
	CHECK(r == -ENOSPC, "full database gave %d: %s", r, err);
	CHECK(house_is_nospace(r, err), "not recognised: %s", err);
	db_close(db);
}

/* More groups than one batch (HOUSE_BATCH_GROUPS): every one is seen once,
 * the not-completed ones in between are skipped. */
static void test_batches(void)
{
	char path[1200], err[ERR_LEN] = "";
	sqlite3 *db = NULL;
	house_settings s = defaults();
	house_action *a = NULL;
	size_t n = 0;
	const int ng = 2 * HOUSE_BATCH_GROUPS + 37;
	int bad = 0;

	snprintf(path, sizeof path, "%s/batches.sqlite", test_tmpdir());
	unlink(path);
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), err);
	if (!db)
		return;
	for (int i = 1; i <= ng; i++) {
		char name[QUEUE_NAME_LEN], f[128];
		queue_format_ts(1767225600 + 300 * i, name, sizeof name);
		snprintf(f, sizeof f, "/nonexistent/%s_sb00.hdf5", name);
		CHECK(db_exec(db, err, sizeof err,
			      "INSERT INTO groups (id, name, t_first, state, n_expected, finished_at,"
			      " created_at, updated_at) VALUES (?, ?, ?, ?, 1, 1000, 0, 0)", "Isis",
			      (int64_t)i, name, i, i % 10 ? "completed" : "pending") == 1, "%s", err);
		CHECK(db_exec(db, err, sizeof err,
			      "INSERT INTO subband_files (group_id, path, subband, ts, size, added_at)"
			      " VALUES (?, ?, 0, 0, 5, 0)", "Is", (int64_t)i, f) == 1, "%s", err);
	}
	s.raw_keep_days = 1;
	CHECK_OK(house_run(db, &s, "", 1000 + 2 * DAY, 1, &a, &n, NULL, err, sizeof err), err);
	CHECK(n == (size_t)(ng - ng / 10), "%zu actions for %d completed groups", n, ng - ng / 10);
	for (size_t i = 0; i < n; i++) {
		bad += a[i].group_id % 10 == 0;
		bad += i && a[i].group_id <= a[i - 1].group_id;
		bad += !a[i].gone;
	}
	CHECK(bad == 0, "%d actions out of order, of a pending group or not 'gone'", bad);
	house_actions_free(a, n);
	db_close(db);
}

int main(void)
{
	RUN(test_settings);
	RUN(test_guard);
	RUN(test_nospace);
	RUN(test_plan);
	RUN(test_run_db);
	RUN(test_defer_and_full);
	RUN(test_batches);
	return TEST_DONE();
}
