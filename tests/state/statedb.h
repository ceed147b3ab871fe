/*
 * tests/state/statedb.h — helpers the state/ tests share: a fresh state
 * database in the test's scratch directory, a count by SQL, and a subband
 * file name of the DSA-110 form.  Include after tests/test.h.
 */
#ifndef CONTIMG_TESTS_STATEDB_H
#define CONTIMG_TESTS_STATEDB_H

#include <sqlite3.h>

#include "core/err.h"
#include "state/db.h"
#include "state/queue.h"

/* A new, migrated state database test_tmpdir()/name (an old one is removed);
 * NULL, with a failed check, when it cannot be opened. */
static inline sqlite3 *statedb_fresh(const char *name)
{
	char path[1100], e[ERR_LEN] = "";
	sqlite3 *db = NULL;

	snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
	unlink(path);
	CHECK_OK(db_open(path, 1, &db, e, sizeof e), e);
	return db;
}

/* The integer the SQL yields (a count), -1 when it fails. */
static inline int64_t statedb_count(sqlite3 *db, const char *sql)
{
	int64_t n = -1;

	db_query_int(db, &n, NULL, 0, sql, NULL);
	return n;
}

/* "/in/YYYY-MM-DDTHH:MM:SS_sbNN.hdf5" for a Unix time and a subband. */
static inline void statedb_file_path(char *buf, size_t len, int64_t ts, int sb)
{
	char name[QUEUE_NAME_LEN];

	queue_format_ts(ts, name, sizeof name);
	snprintf(buf, len, "/in/%s_sb%02d.hdf5", name, sb);
}

#endif
