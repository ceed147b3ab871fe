/*
 * state/heartbeat.c — the daemon's heartbeat row (see heartbeat.h).
 */
#include "state/heartbeat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

int heartbeat_start(sqlite3 *db, int pid, double now, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"INSERT INTO daemon (id, pid, started_at, heartbeat_at, status) VALUES"
			" (1, ?, ?, ?, 'starting') ON CONFLICT (id) DO UPDATE SET pid = excluded.pid,"
			" started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
			" status = excluded.status", "idd", pid, now, now);
	return r < 0 ? r : 0;
}

int heartbeat_beat(sqlite3 *db, int pid, double now, const char *status, char *err,
		   size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"INSERT INTO daemon (id, pid, started_at, heartbeat_at, status)"
			" VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid,"
			" heartbeat_at = excluded.heartbeat_at, status = excluded.status", "idds",
			pid, now, now, status);
	return r < 0 ? r : 0;
}

int heartbeat_read(sqlite3 *db, heartbeat *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	heartbeat h;
	int r, rc;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT pid, started_at, heartbeat_at, status FROM daemon WHERE id = 1", NULL);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = 0;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = err_set(err, errlen, -EIO, "daemon heartbeat: %s", sqlite3_errmsg(db));
		goto out;
	}
	memset(&h, 0, sizeof h);
	h.pid = sqlite3_column_int(st, 0);
	h.started_at = sqlite3_column_double(st, 1);
	h.heartbeat_at = sqlite3_column_double(st, 2);
	if (db_column_strdup(st, 3, &h.status) < 0) {
		r = err_set(err, errlen, -ENOMEM, "daemon heartbeat: out of memory");
		goto out;
	}
	*ret = h;
	r = 1;
out:
	sqlite3_finalize(st);
	return r;
}

void heartbeat_release(heartbeat *h)
{
	if (!h)
		return;
	free(h->status);
	h->status = NULL;
}

int heartbeat_set_paused(sqlite3 *db, const char *reason, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "UPDATE daemon SET paused = ? WHERE id = 1", "s",
			reason && *reason ? reason : NULL);
	return r < 0 ? r : 0;
}

int heartbeat_read_paused(sqlite3 *db, char *buf, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t have = 0;
	int r, rc;

	if (len)
		buf[0] = 0;
	r = db_query_int(db, &have, err, errlen,
			 "SELECT count(*) FROM pragma_table_info('daemon') WHERE name = 'paused'",
			 NULL);
	if (r < 0)
		return r;
	if (!have)
		return 0;
	r = db_prepare(db, err, errlen, &st, "SELECT paused FROM daemon WHERE id = 1", NULL);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	r = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		db_column_text(st, 0, buf, len);
		r = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = err_set(err, errlen, -EIO, "daemon heartbeat: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}
