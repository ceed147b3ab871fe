/* tests/state/test_flagdb.c — the flag_stats table's writer (state/flagdb.h). */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <errno.h>
#include <math.h>

#include "core/err.h"
#include "state/db.h"
#include "state/flagdb.h"

static void test_replace(void)
{
	char path[1100], err[ERR_LEN] = "", *e = err;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	flagdb_row rows[5] = {
		{ .kind = "total", .freq_hz = NAN, .fraction = 0.25 },
		{ .kind = "reason", .key = "rfi", .freq_hz = NAN, .fraction = 0.125 },
		{ .kind = "antenna", .key = "DSA-010", .freq_hz = NAN, .fraction = 1.0 },
		{ .kind = "channel", .key = "0", .freq_hz = 1.311e9, .fraction = 0.5 },
		{ .kind = "channel", .key = "1", .freq_hz = 1.3112e9, .fraction = 0.0 },
	};

	snprintf(path, sizeof path, "%s/flag.sqlite", test_tmpdir());
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), e);
	if (!db)
		return;
	db_exec(db, NULL, 0,
		"INSERT INTO groups (id, name, t_first, state, n_expected, created_at, updated_at)"
		" VALUES (1, 'G1', 0, 'in_progress', 16, 0, 0), (2, 'G2', 300, 'in_progress', 16, 0, 0)",
		NULL);
	CHECK_OK(flagdb_replace(db, 1, rows, 5, err, sizeof err), e);
	CHECK_OK(flagdb_replace(db, 2, rows, 1, err, sizeof err), e);
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 1") == 5, "%s", "5 rows");
	/* Only channel rows carry a frequency; the others store NULL. */
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE freq_hz IS NULL") == 4, "%s",
	      "NULL freq");
	CHECK(db_prepare(db, err, sizeof err, &st,
			 "SELECT kind, key, freq_hz, fraction FROM flag_stats WHERE group_id = 1"
			 " ORDER BY kind, key", NULL) == 0, "%s", err);
	/* antenna, channel 0, channel 1, reason, total */
	static const char *kinds[] = { "antenna", "channel", "channel", "reason", "total" };
	static const int from[] = { 2, 3, 4, 1, 0 };
	for (int i = 0; st && i < 5; i++) {
		CHECK(sqlite3_step(st) == SQLITE_ROW, "row %d", i);
		const flagdb_row *w = &rows[from[i]];
		CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), kinds[i]), "%s",
		      sqlite3_column_text(st, 0));
		CHECK(!strcmp((const char *)sqlite3_column_text(st, 1), w->key), "%s",
		      sqlite3_column_text(st, 1));
		CHECK(sqlite3_column_double(st, 3) == w->fraction, "%g", sqlite3_column_double(st, 3));
		if (isfinite(w->freq_hz))
			CHECK(sqlite3_column_double(st, 2) == w->freq_hz, "%g",
			      sqlite3_column_double(st, 2));
	}
	sqlite3_finalize(st);

	/* A re-run replaces the group's rows (not adds to them), and leaves the
	 * other group's alone. */
	rows[0].fraction = 0.75;
	CHECK_OK(flagdb_replace(db, 1, rows, 2, err, sizeof err), e);
	printf("# flag_stats after a re-run with 2 rows: %lld rows of G1, %lld of G2\n",
	       (long long)statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 1"),
	       (long long)statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 2"));
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 1") == 2, "%s", "2");
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 2") == 1, "%s", "1");
	CHECK(statedb_count(db, "SELECT round(fraction * 100) FROM flag_stats WHERE group_id = 1"
			" AND kind = 'total'") == 75, "%s", "0.75");

	/* A bad row (kind outside the CHECK) fails the whole replacement: the
	 * previous rows stay. */
	flagdb_row bad[2] = { rows[0], { .kind = "bogus", .freq_hz = NAN, .fraction = 0 } };
	bad[0].fraction = 0.9;
	CHECK(flagdb_replace(db, 1, bad, 2, err, sizeof err) == -EIO, "%s", err);
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 1") == 2, "%s", "kept");
	CHECK(statedb_count(db, "SELECT round(fraction * 100) FROM flag_stats WHERE group_id = 1"
			" AND kind = 'total'") == 75, "%s", "rolled back");

	/* Nested in the caller's transaction: rolled back with it. */
	CHECK_OK(db_begin(db, err, sizeof err), e);
	CHECK_OK(flagdb_replace(db, 1, rows, 5, err, sizeof err), e);
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 1") == 5, "%s", "5 in");
	db_end(db, 0, NULL, 0);
	CHECK(statedb_count(db, "SELECT count(*) FROM flag_stats WHERE group_id = 1") == 2, "%s",
	      "outer rollback");
	db_close(db);
}

int main(void)
{
	RUN(test_replace);
	return TEST_DONE();
}
