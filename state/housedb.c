/*
 * state/housedb.c — retention's reads and records (see housedb.h).
 */
#include "state/housedb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

static int read_row(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	housedb_row *r = row;
	(void)arg;

	r->group_id = sqlite3_column_int64(st, 0);
	db_column_text(st, 1, r->group, sizeof r->group);
	r->finished_at = sqlite3_column_double(st, 2);
	r->stale = sqlite3_column_int(st, 3);
	r->calibrator = sqlite3_column_int(st, 4);
	r->product = sqlite3_column_int(st, 5);
	if (r->product)
		db_column_text(st, 6, r->name, sizeof r->name);
	else
		snprintf(r->name, sizeof r->name, "sb%02d", sqlite3_column_int(st, 6));
	if (db_column_strdup(st, 7, &r->path) < 0 || !r->path)
		return err_set(err, errlen, -ENOMEM, "retention candidates: out of memory");
	r->size = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
	return 1;
}

static void release_row(void *row)
{
	housedb_row *r = row;
	free(r->path);
	r->path = NULL;
}

static const db_row_type row_type = { sizeof(housedb_row), read_row, release_row };

int housedb_candidates(sqlite3 *db, double finished_before, int64_t after_id, int max_groups,
		       housedb_row **ret, size_t *ret_n, int64_t *ret_last_id, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	size_t n = 0;
	int64_t last = after_id;
	int r;

	r = db_query_int(db, &last, err, errlen,
			 /* Unary + keeps the planner on the id (rowid) range: the
			  * index on state would scan every completed group per batch. */
			 "SELECT max(id) FROM (SELECT id FROM groups WHERE +state = 'completed'"
			 " AND +finished_at < ? AND id > ? ORDER BY id LIMIT ?)", "dIi",
			 finished_before, after_id, max_groups);
	if (r < 0)
		return r;
	if (r == 0 || last <= after_id) {
		*ret = NULL;
		*ret_n = 0;
		*ret_last_id = after_id;
		return 0;
	}

	/* A calibrator group is one that calibration tables name as the group
	 * they were solved from (state/calreg.c). */
	r = db_prepare(db, err, errlen, &st,
		       "SELECT g.id, g.name, g.finished_at, g.stale,"
		       "  EXISTS (SELECT 1 FROM caltables c WHERE c.source_group = g.name),"
		       "  0, f.subband, f.path, f.size"
		       " FROM groups g JOIN subband_files f ON f.group_id = g.id"
		       " WHERE +g.state = 'completed' AND +g.finished_at < ?1"
		       "  AND g.id > ?2 AND g.id <= ?3"
		       "  AND NOT EXISTS (SELECT 1 FROM retention_removed x WHERE x.path = f.path)"
		       " UNION ALL "
		       "SELECT g.id, g.name, g.finished_at, g.stale,"
		       "  EXISTS (SELECT 1 FROM caltables c WHERE c.source_group = g.name),"
		       "  1, p.name, p.path, NULL"
		       " FROM groups g JOIN products p ON p.group_id = g.id"
		       " WHERE +g.state = 'completed' AND +g.finished_at < ?1"
		       "  AND g.id > ?2 AND g.id <= ?3"
		       "  AND NOT EXISTS (SELECT 1 FROM retention_removed x WHERE x.path = p.path)"
		       " ORDER BY 1, 8", "dII", finished_before, after_id, last);
	if (r < 0)
		return r;
	r = db_rows(st, &row_type, NULL, &rows, &n, "retention candidates", err, errlen);
	if (r < 0)
		return r;
	*ret = rows;
	*ret_n = n;
	*ret_last_id = last;
	return 0;
}

void housedb_rows_free(housedb_row *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		free(r[i].path);
	free(r);
}

static int read_string(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	char **s = row;
	(void)arg;
	if (db_column_strdup(st, 0, s) < 0)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	return *s ? 1 : 0;
}

static void release_string(void *row)
{
	char **s = row;
	free(*s);
	*s = NULL;
}

static const db_row_type string_type = { sizeof(char *), read_string, release_string };

static int strings(sqlite3 *db, const char *sql, const char *what, char ***ret, size_t *ret_n,
		   char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	size_t n = 0;
	int r = db_prepare(db, err, errlen, &st, sql, NULL);

	if (r < 0)
		return r;
	r = db_rows(st, &string_type, NULL, &rows, &n, what, err, errlen);
	if (r < 0)
		return r;
	*ret = rows;
	*ret_n = n;
	return 0;
}

int housedb_protected(sqlite3 *db, char ***ret, size_t *ret_n, char *err, size_t errlen)
{
	return strings(db,
		       /* IN, not !=: the few groups not completed through the
			* state index, never a scan of every file. */
		       "SELECT f.path FROM groups g JOIN subband_files f ON f.group_id = g.id"
		       " WHERE g.state IN ('collecting', 'pending', 'in_progress', 'failed')"
		       " UNION "
		       "SELECT p.path FROM groups g JOIN products p ON p.group_id = g.id"
		       " WHERE g.state IN ('collecting', 'pending', 'in_progress', 'failed')",
		       "protected paths", ret, ret_n, err, errlen);
}

int housedb_busy(sqlite3 *db, char ***ret, size_t *ret_n, char *err, size_t errlen)
{
	return strings(db, "SELECT name FROM groups WHERE state = 'in_progress'", "busy groups",
		       ret, ret_n, err, errlen);
}

void housedb_strings_free(char **s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

int housedb_group_removable(sqlite3 *db, int64_t group_id, char *err, size_t errlen)
{
	int64_t ok = 0;
	int r = db_query_int(db, &ok, err, errlen,
			     "SELECT state = 'completed' AND stale = 0 FROM groups WHERE id = ?", "I",
			     group_id);
	if (r < 0)
		return r;
	return r > 0 && ok ? 1 : 0;
}

int housedb_record(sqlite3 *db, int64_t group_id, const char *kind, const char *name,
		   const char *path, int64_t bytes, const char *action, const char *dest,
		   double now, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"INSERT OR REPLACE INTO retention_removed (path, group_id, kind, name, bytes,"
			" action, dest, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "sIssIssd", path,
			group_id, kind, name, bytes, action, dest, now);
	return r < 0 ? r : 0;
}

int housedb_unrecord(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "DELETE FROM retention_removed WHERE path = ?", "s", path);
	return r < 0 ? r : 0;
}

int housedb_removed_of(sqlite3 *db, int64_t group_id, housedb_removed *ret, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	housedb_removed h;
	int64_t have = 0;
	int r, rc;

	memset(&h, 0, sizeof h);
	r = db_query_int(db, &have, err, errlen,
			 "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
			 " AND name = 'retention_removed'", NULL);
	if (r < 0)
		return r;
	if (!have)
		goto done;
	r = db_prepare(db, err, errlen, &st,
		       "SELECT sum(kind = 'raw'), sum(CASE WHEN kind = 'raw' THEN bytes END),"
		       " sum(kind = 'product'),"
		       " (SELECT at FROM retention_removed WHERE group_id = ?1 AND kind = 'raw'"
		       "  ORDER BY at DESC LIMIT 1),"
		       " (SELECT action FROM retention_removed WHERE group_id = ?1 AND kind = 'raw'"
		       "  ORDER BY at DESC LIMIT 1),"
		       " (SELECT dest FROM retention_removed WHERE group_id = ?1 AND kind = 'raw'"
		       "  ORDER BY at DESC LIMIT 1)"
		       " FROM retention_removed WHERE group_id = ?1", "I", group_id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		h.nfiles = sqlite3_column_int(st, 0);
		h.bytes = sqlite3_column_int64(st, 1);
		h.nproducts = sqlite3_column_int(st, 2);
		h.at = sqlite3_column_double(st, 3);
		db_column_text(st, 4, h.action, sizeof h.action);
		db_column_text(st, 5, h.dest, sizeof h.dest);
	} else if (rc != SQLITE_DONE) {
		r = err_set(err, errlen, -EIO, "retention record: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
done:
	*ret = h;
	return 0;
}
