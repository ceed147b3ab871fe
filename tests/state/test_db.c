/* tests/state/test_db.c — open/migrate, pragmas, nested transactions, binding. */
#include "tests/test.h"

#include <errno.h>
#include <pthread.h>

#include "core/err.h"
#include "state/db.h"

static char dbfile[1024];

static void test_open_migrate(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = NULL;
	int64_t v = -1;
	sqlite3_stmt *st = NULL;

	snprintf(dbfile, sizeof dbfile, "%s/a.sqlite", test_tmpdir());
	CHECK(db_open(dbfile, 0, &db, err, sizeof err) == -ENOENT, "%s", "no create → ENOENT");
	CHECK(db_open_readonly(dbfile, &db, err, sizeof err) == -ENOENT, "%s", "");
	CHECK_OK(db_open(dbfile, 1, &db, err, sizeof err), e);
	if (!db)
		return;
	CHECK(db_query_int(db, &v, err, sizeof err, "PRAGMA user_version", NULL) == 1, "%s", err);
	CHECK(v == db_schema_version() && v >= 1, "user_version %lld", (long long)v);
	CHECK(db_prepare(db, err, sizeof err, &st, "PRAGMA journal_mode", NULL) == 0, "%s", err);
	if (st) {
		CHECK(sqlite3_step(st) == SQLITE_ROW, "%s", "");
		CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), "wal"), "journal %s",
		      sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	CHECK(db_query_int(db, &v, err, sizeof err, "PRAGMA foreign_keys", NULL) == 1 && v == 1,
	      "%s", "foreign keys on");
	/* Every commit is durable (issue 16: a group recorded completed survives a
	 * power cut): WAL with synchronous = FULL (2) fsyncs the log at each
	 * commit; NORMAL (1) only at checkpoints. */
	CHECK(db_query_int(db, &v, err, sizeof err, "PRAGMA synchronous", NULL) == 1 && v == 2,
	      "synchronous = %lld", (long long)v);
	/* Foreign keys are enforced: a file row for a missing group is refused. */
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO subband_files (group_id, path, subband, ts, added_at)"
		      " VALUES (999, '/x', 0, 0, 0)", NULL) == -EIO, "%s", "FK violation");
	db_close(db);
	db = NULL;

	/* Re-opening is idempotent. */
	CHECK_OK(db_open(dbfile, 0, &db, err, sizeof err), e);
	db_close(db);
	db = NULL;

	/* A schema newer than the program is refused, not downgraded. */
	char newer[1100];
	snprintf(newer, sizeof newer, "%s/newer.sqlite", test_tmpdir());
	CHECK_OK(db_open(newer, 1, &db, err, sizeof err), e);
	CHECK(db_exec(db, err, sizeof err, "PRAGMA user_version = 9999", NULL) >= 0, "%s", err);
	db_close(db);
	db = NULL;
	CHECK(db_open(newer, 0, &db, err, sizeof err) == -EPROTO, "%s", err);
	CHECK(db == NULL, "%s", "");
}

static void test_bind_and_quotes(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *evil = "x'); DROP TABLE groups; --";
	int64_t n = 0;

	CHECK_OK(db_open(dbfile, 0, &db, err, sizeof err), e);
	if (!db)
		return;
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at)"
		      " VALUES (?, ?, 'pending', ?, ?, ?)", "sIidd", evil, (int64_t)123, 16, 1.5, 2.5)
		      == 1, "%s", err);
	CHECK(db_prepare(db, err, sizeof err, &st, "SELECT name, t_first, created_at FROM groups"
		      " WHERE name = ?", "s", evil) == 0, "%s", err);
	if (st) {
		CHECK(sqlite3_step(st) == SQLITE_ROW, "%s", "");
		CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), evil), "%s", "");
		CHECK(sqlite3_column_int64(st, 1) == 123, "%s", "");
		CHECK(sqlite3_column_double(st, 2) == 1.5, "%s", "");
		sqlite3_finalize(st);
	}
	CHECK(db_query_int(db, &n, err, sizeof err, "SELECT count(*) FROM groups", NULL) == 1 && n == 1,
	      "%s", "table survived");
	CHECK(db_query_int(db, &n, err, sizeof err, "SELECT id FROM groups WHERE name = ?", "s",
			   "none") == 0, "%s", "no row → 0");
	CHECK(db_exec(db, err, sizeof err, "SELECT ?", "q", 1) == -EINVAL, "%s", "bad format letter");
	CHECK(db_exec(db, err, sizeof err, "SELEKT 1", NULL) == -EIO, "%s", "");
	CHECK(strstr(err, "SELEKT") != NULL, "%s", err);
	db_close(db);
}

static void test_nested_transactions(void)
{
	char err[ERR_LEN] = "", *e = err;
	sqlite3 *db = NULL;
	int64_t n = -1;

	CHECK_OK(db_open(dbfile, 0, &db, err, sizeof err), e);
	if (!db)
		return;
	db_exec(db, NULL, 0, "CREATE TABLE t (x INTEGER)", NULL);
	CHECK_OK(db_begin(db, err, sizeof err), e);
	db_exec(db, NULL, 0, "INSERT INTO t VALUES (1)", NULL);
	CHECK_OK(db_begin(db, err, sizeof err), e);
	db_exec(db, NULL, 0, "INSERT INTO t VALUES (2)", NULL);
	CHECK_OK(db_end(db, 0, err, sizeof err), e); /* inner rolled back */
	CHECK(!sqlite3_get_autocommit(db), "%s", "outer still open");
	CHECK_OK(db_begin(db, err, sizeof err), e);
	db_exec(db, NULL, 0, "INSERT INTO t VALUES (3)", NULL);
	CHECK_OK(db_end(db, 1, err, sizeof err), e);
	CHECK_OK(db_end(db, 1, err, sizeof err), e);
	CHECK(sqlite3_get_autocommit(db), "%s", "committed");
	db_query_int(db, &n, NULL, 0, "SELECT sum(x) FROM t", NULL);
	CHECK(n == 4, "sum %lld (1 + 3 expected)", (long long)n);
	CHECK_OK(db_begin(db, err, sizeof err), e);
	db_exec(db, NULL, 0, "INSERT INTO t VALUES (100)", NULL);
	CHECK_OK(db_end(db, 0, err, sizeof err), e);
	db_query_int(db, &n, NULL, 0, "SELECT sum(x) FROM t", NULL);
	CHECK(n == 4, "outer rollback, sum %lld", (long long)n);
	CHECK(db_end(db, 1, err, sizeof err) == -EIO, "%s", "end without begin");
	db_close(db);
}

/* Several connections migrating a fresh file at once: exactly one migrates,
 * the others see the finished schema. */
static char racefile[1100];
static void *race(void *arg)
{
	sqlite3 *db = NULL;
	char err[ERR_LEN];
	int *rc = arg;
	*rc = db_open(racefile, 1, &db, err, sizeof err);
	if (*rc < 0)
		fprintf(stderr, "  race: %s\n", err);
	db_close(db);
	return NULL;
}

static void test_concurrent_migration(void)
{
	pthread_t th[4];
	int rc[4];
	sqlite3 *db = NULL;
	int64_t v = 0;
	char err[ERR_LEN];

	snprintf(racefile, sizeof racefile, "%s/race.sqlite", test_tmpdir());
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, race, &rc[i]);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(rc[i] == 0, "opener %d: %d", i, rc[i]);
	}
	CHECK(db_open_readonly(racefile, &db, err, sizeof err) == 0, "%s", err);
	db_query_int(db, &v, NULL, 0, "PRAGMA user_version", NULL);
	CHECK(v == db_schema_version(), "version %lld", (long long)v);
	db_close(db);
}

/* db_rows: rows of (i, s) where s is NULL for every seventh i. */
struct row_ctx {
	int fail_at;      /* read fails (-ENOMEM) on this i; -1: never */
	int nreleased;    /* release calls */
};

struct irow {
	int i;
	char *s;
	struct row_ctx *ctx;
};

static int read_irow(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	struct irow *r = row;
	struct row_ctx *c = arg;

	r->ctx = c;
	r->i = sqlite3_column_int(st, 0);
	if (db_column_strdup(st, 1, &r->s) < 0)
		return -ENOMEM;
	if (r->i == c->fail_at)
		return err_set(err, errlen, -ENOMEM, "row %d: refused", r->i);
	return r->i % 2 == 0; /* keep the even ones */
}

static void release_irow(void *row)
{
	struct irow *r = row;
	free(r->s);
	r->s = NULL;
	if (r->ctx)
		r->ctx->nreleased++;
}

static const db_row_type irow_type = { sizeof(struct irow), read_irow, release_irow };

static void test_rows(void)
{
	char path[1100], err[ERR_LEN] = "", *e = err;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct row_ctx c = { -1, 0 };
	struct irow sentinel, *rows;
	void *v = NULL;
	size_t n = 12345;

	snprintf(path, sizeof path, "%s/rows.sqlite", test_tmpdir());
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), e);
	if (!db)
		return;
	CHECK(db_exec(db, err, sizeof err, "CREATE TABLE t (i INTEGER, s TEXT)", NULL) == 0,
	      "%s", err);
	for (int i = 0; i < 100; i++)
		db_exec(db, NULL, 0, "INSERT INTO t VALUES (?, ?)", "is", i,
			i % 7 ? "x" : NULL);

	/* 100 rows, 50 kept: the array grew past its first 16 slots several
	 * times; skipped rows were released as they went. */
	CHECK(db_prepare(db, err, sizeof err, &st, "SELECT i, s FROM t ORDER BY i", NULL) == 0,
	      "%s", err);
	CHECK_OK(db_rows(st, &irow_type, &c, &v, &n, "t", err, sizeof err), e);
	rows = v;
	printf("# db_rows: %zu of 100 rows kept, %d skipped rows released\n", n, c.nreleased);
	CHECK(n == 50, "n %zu", n);
	CHECK(c.nreleased == 50, "released %d", c.nreleased);
	for (size_t k = 0; rows && k < n; k++) {
		CHECK(rows[k].i == (int)(2 * k), "row %zu is %d", k, rows[k].i);
		CHECK((rows[k].s == NULL) == (rows[k].i % 7 == 0), "row %d text %s", rows[k].i,
		      rows[k].s ? rows[k].s : "NULL");
	}
	for (size_t k = 0; rows && k < n; k++)
		release_irow(&rows[k]);
	free(rows);
	CHECK(sqlite3_next_stmt(db, NULL) == NULL, "%s", "statement finalized");

	/* No row: NULL and 0. */
	v = &sentinel;
	CHECK(db_prepare(db, err, sizeof err, &st, "SELECT i, s FROM t WHERE i < 0", NULL) == 0,
	      "%s", err);
	CHECK_OK(db_rows(st, &irow_type, &c, &v, &n, "t", err, sizeof err), e);
	CHECK(v == NULL && n == 0, "v %p n %zu", v, n);

	/* read fails at i = 60: its error, every row read so far released
	 * (31 kept + 30 skipped + the failing one), outputs untouched. */
	c = (struct row_ctx){ 60, 0 };
	v = &sentinel;
	n = 777;
	CHECK(db_prepare(db, err, sizeof err, &st, "SELECT i, s FROM t ORDER BY i", NULL) == 0,
	      "%s", err);
	CHECK(db_rows(st, &irow_type, &c, &v, &n, "t", err, sizeof err) == -ENOMEM, "%s", err);
	CHECK(!strcmp(err, "row 60: refused"), "%s", err);
	CHECK(c.nreleased == 61, "released %d", c.nreleased);
	CHECK(v == &sentinel && n == 777, "%s", "outputs untouched");
	CHECK(sqlite3_next_stmt(db, NULL) == NULL, "%s", "statement finalized");

	/* SQLite fails in the middle of the rows (abs() of the most negative
	 * integer overflows): -EIO with SQLite's message, after the rows before
	 * it were read and released. */
	c = (struct row_ctx){ -1, 0 };
	db_exec(db, NULL, 0, "INSERT INTO t VALUES (1000, 'y')", NULL);
	CHECK(db_prepare(db, err, sizeof err, &st,
			 "SELECT i, s, abs(CASE WHEN i = 1000 THEN -9223372036854775807 - 1"
			 " ELSE i END) FROM t", NULL) == 0, "%s", err); /* no sort: one row a step */
	CHECK(db_rows(st, &irow_type, &c, &v, &n, "t", err, sizeof err) == -EIO, "%s", err);
	printf("# db_rows on a failing statement: %s\n", err);
	CHECK(strstr(err, "t: ") == err && strstr(err, "overflow"), "%s", err);
	CHECK(c.nreleased == 100, "released %d", c.nreleased);
	CHECK(v == &sentinel && n == 777, "%s", "outputs untouched");
	db_close(db);
}

int main(void)
{
	RUN(test_open_migrate);
	RUN(test_bind_and_quotes);
	RUN(test_nested_transactions);
	RUN(test_concurrent_migration);
	RUN(test_rows);
	return TEST_DONE();
}
