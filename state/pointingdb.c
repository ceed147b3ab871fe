/*
 * state/pointingdb.c — pointing overrides and per-group pointing records
 * (see pointingdb.h).
 */
#include "state/pointingdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

/* Open ranges are stored as NULL end_mjd. */
static int open_end(double end_mjd)
{
	return isnan(end_mjd) || end_mjd == INFINITY;
}

static void read_override(sqlite3_stmt *st, pointingdb_override *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->start_mjd = sqlite3_column_double(st, 1);
	o->end_mjd = sqlite3_column_type(st, 2) == SQLITE_NULL ? INFINITY
								: sqlite3_column_double(st, 2);
	o->dec_deg = sqlite3_column_double(st, 3);
	db_column_text(st, 4, o->note, sizeof o->note);
	o->created_at = sqlite3_column_double(st, 5);
}

#define OVERRIDE_COLS "id, start_mjd, end_mjd, dec_deg, note, created_at"

int pointingdb_add(sqlite3 *db, double start_mjd, double end_mjd, double dec_deg,
		   const char *note, double now, int64_t *ret_id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int open = open_end(end_mjd), r;

	if (!isfinite(start_mjd) || (!open && !(end_mjd > start_mjd)))
		return err_set(err, errlen, -EINVAL,
			       "pointing override: the end must be after the start");
	if (!isfinite(dec_deg) || fabs(dec_deg) > 90)
		return err_set(err, errlen, -EINVAL,
			       "pointing override: declination %g is not in -90..90 degrees", dec_deg);
	if (note && strlen(note) > 255)
		return err_set(err, errlen, -EINVAL, "pointing override: note longer than 255 bytes");
	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	/* Two ranges [s1, e1) and [s2, e2) overlap when s1 < e2 and s2 < e1
	 * (an open end is +infinity). */
	if (open)
		r = db_prepare(db, err, errlen, &st,
			       "SELECT " OVERRIDE_COLS " FROM pointing_overrides"
			       " WHERE end_mjd IS NULL OR ? < end_mjd ORDER BY start_mjd LIMIT 1",
			       "d", start_mjd);
	else
		r = db_prepare(db, err, errlen, &st,
			       "SELECT " OVERRIDE_COLS " FROM pointing_overrides"
			       " WHERE (end_mjd IS NULL OR ? < end_mjd) AND start_mjd < ?"
			       " ORDER BY start_mjd LIMIT 1",
			       "dd", start_mjd, end_mjd);
	if (r == 0) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			pointingdb_override o;
			char end[32] = "open";
			read_override(st, &o);
			if (isfinite(o.end_mjd))
				snprintf(end, sizeof end, "%.6f", o.end_mjd);
			r = err_set(err, errlen, -EEXIST,
				    "pointing override: the range overlaps override %lld (MJD %.6f to %s, "
				    "dec %.4f deg); remove it first", (long long)o.id, o.start_mjd, end,
				    o.dec_deg);
		} else if (rc != SQLITE_DONE) {
			r = err_set(err, errlen, -EIO, "pointing override: %s", sqlite3_errmsg(db));
		}
		sqlite3_finalize(st);
	}
	if (r == 0) {
		r = open ? db_exec(db, err, errlen,
				   "INSERT INTO pointing_overrides (start_mjd, end_mjd, dec_deg, note,"
				   " created_at) VALUES (?, NULL, ?, ?, ?)",
				   "ddsd", start_mjd, dec_deg, note ? note : "", now)
			 : db_exec(db, err, errlen,
				   "INSERT INTO pointing_overrides (start_mjd, end_mjd, dec_deg, note,"
				   " created_at) VALUES (?, ?, ?, ?, ?)",
				   "dddsd", start_mjd, end_mjd, dec_deg, note ? note : "", now);
		if (r > 0)
			r = 0;
	}
	int64_t id = sqlite3_last_insert_rowid(db);
	int e = db_end(db, r == 0, r == 0 ? err : NULL, r == 0 ? errlen : 0);
	if (r == 0)
		r = e;
	if (r == 0 && ret_id)
		*ret_id = id;
	return r;
}

int pointingdb_remove(sqlite3 *db, int64_t id, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "DELETE FROM pointing_overrides WHERE id = ?", "I", id);
	if (r < 0)
		return r;
	return r == 0 ? err_set(err, errlen, -ENOENT, "no pointing override %lld", (long long)id)
		      : 0;
}

static int read_listed(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	read_override(st, row);
	return 1;
}

int pointingdb_list(sqlite3 *db, pointingdb_override **ret, size_t *ret_n, char *err,
		    size_t errlen)
{
	static const db_row_type type = { sizeof(pointingdb_override), read_listed, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int r;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT " OVERRIDE_COLS " FROM pointing_overrides ORDER BY start_mjd, id",
		       NULL);
	if (r < 0)
		return r;
	r = db_rows(st, &type, NULL, &v, ret_n, "pointing overrides", err, errlen);
	if (r == 0)
		*ret = v;
	return r;
}

int pointingdb_find(sqlite3 *db, double mjd, pointingdb_override *ret, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT " OVERRIDE_COLS " FROM pointing_overrides"
		       " WHERE start_mjd <= ? AND (end_mjd IS NULL OR ? < end_mjd)"
		       " ORDER BY start_mjd DESC, id DESC LIMIT 1",
		       "dd", mjd, mjd);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_override(st, ret);
		r = 1;
	} else if (rc == SQLITE_DONE) {
		r = 0;
	} else {
		r = err_set(err, errlen, -EIO, "pointing overrides: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int pointingdb_group_put(sqlite3 *db, int64_t group_id, const pointingdb_group *g, double now,
			 char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(
		db, err, errlen, &st,
		"INSERT INTO group_pointing (group_id, mid_mjd, file_dec_deg, dec_deg, source,"
		" override_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT(group_id) DO UPDATE SET mid_mjd = excluded.mid_mjd,"
		" file_dec_deg = excluded.file_dec_deg, dec_deg = excluded.dec_deg,"
		" source = excluded.source, override_id = excluded.override_id,"
		" qa_status = NULL, qa_offset_deg = NULL, qa_offset_err_deg = NULL,"
		" qa_significance = NULL, qa_scale = NULL, qa_chi2_nu = NULL, qa_nsources = NULL,"
		" qa_nnorth = NULL, qa_nsouth = NULL, qa_nclipped = NULL,"
		" updated_at = excluded.updated_at",
		NULL);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, group_id);
	sqlite3_bind_double(st, 2, g->mid_mjd);
	db_bind_real_or_null(st, 3, g->file_dec_deg);
	sqlite3_bind_double(st, 4, g->dec_deg);
	sqlite3_bind_text(st, 5, g->from_override ? "override" : "file", -1, SQLITE_STATIC);
	if (g->from_override && g->override_id > 0)
		sqlite3_bind_int64(st, 6, g->override_id);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_double(st, 7, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "group pointing: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int pointingdb_group_qa(sqlite3 *db, int64_t group_id, const pointingdb_group *g, double now,
			char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(
		db, err, errlen, &st,
		"UPDATE group_pointing SET qa_status = ?, qa_offset_deg = ?, qa_offset_err_deg = ?,"
		" qa_significance = ?, qa_scale = ?, qa_chi2_nu = ?, qa_nsources = ?, qa_nnorth = ?,"
		" qa_nsouth = ?, qa_nclipped = ?, updated_at = ? WHERE group_id = ?",
		NULL);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, g->qa_status, -1, SQLITE_TRANSIENT);
	db_bind_real_or_null(st, 2, g->qa_offset_deg);
	db_bind_real_or_null(st, 3, g->qa_offset_err_deg);
	db_bind_real_or_null(st, 4, g->qa_significance);
	db_bind_real_or_null(st, 5, g->qa_scale);
	db_bind_real_or_null(st, 6, g->qa_chi2_nu);
	sqlite3_bind_int(st, 7, g->qa_nsources);
	sqlite3_bind_int(st, 8, g->qa_nnorth);
	sqlite3_bind_int(st, 9, g->qa_nsouth);
	sqlite3_bind_int(st, 10, g->qa_nclipped);
	sqlite3_bind_double(st, 11, now);
	sqlite3_bind_int64(st, 12, group_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "group pointing: %s", sqlite3_errmsg(db));
	else if (sqlite3_changes(db) == 0)
		r = err_set(err, errlen, -ENOENT, "group %lld has no pointing record",
			    (long long)group_id);
	sqlite3_finalize(st);
	return r;
}

int pointingdb_group_get(sqlite3 *db, int64_t group_id, pointingdb_group *ret, char *err,
			 size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT mid_mjd, file_dec_deg, dec_deg, source, coalesce(override_id, 0),"
		       " coalesce(qa_status, ''), qa_offset_deg, qa_offset_err_deg, qa_significance,"
		       " qa_scale, qa_chi2_nu, coalesce(qa_nsources, 0), coalesce(qa_nnorth, 0),"
		       " coalesce(qa_nsouth, 0), coalesce(qa_nclipped, 0)"
		       " FROM group_pointing WHERE group_id = ?",
		       "I", group_id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		pointingdb_group g;
		char src[16];
		memset(&g, 0, sizeof g);
		g.mid_mjd = sqlite3_column_double(st, 0);
		g.file_dec_deg = db_column_real_or_nan(st, 1);
		g.dec_deg = sqlite3_column_double(st, 2);
		db_column_text(st, 3, src, sizeof src);
		g.from_override = !strcmp(src, "override");
		g.override_id = sqlite3_column_int64(st, 4);
		db_column_text(st, 5, g.qa_status, sizeof g.qa_status);
		g.qa_offset_deg = db_column_real_or_nan(st, 6);
		g.qa_offset_err_deg = db_column_real_or_nan(st, 7);
		g.qa_significance = db_column_real_or_nan(st, 8);
		g.qa_scale = db_column_real_or_nan(st, 9);
		g.qa_chi2_nu = db_column_real_or_nan(st, 10);
		g.qa_nsources = sqlite3_column_int(st, 11);
		g.qa_nnorth = sqlite3_column_int(st, 12);
		g.qa_nsouth = sqlite3_column_int(st, 13);
		g.qa_nclipped = sqlite3_column_int(st, 14);
		*ret = g;
		r = 1;
	} else if (rc == SQLITE_DONE) {
		r = 0;
	} else {
		r = err_set(err, errlen, -EIO, "group pointing: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

/* A group name into a char[32] element. */
static int read_name(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	db_column_text(st, 0, row, 32);
	return 1;
}

int pointingdb_groups_to_redo(sqlite3 *db, double start_mjd, double end_mjd, double dec_deg,
			      char (**ret)[32], size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { 32, read_name, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int open = open_end(end_mjd), r;

	if (open)
		r = db_prepare(db, err, errlen, &st,
			       "SELECT g.name FROM group_pointing p JOIN groups g ON g.id = p.group_id"
			       " WHERE p.mid_mjd >= ? AND abs(p.dec_deg - ?) > 1e-6"
			       " ORDER BY p.mid_mjd, g.name",
			       "dd", start_mjd, dec_deg);
	else
		r = db_prepare(db, err, errlen, &st,
			       "SELECT g.name FROM group_pointing p JOIN groups g ON g.id = p.group_id"
			       " WHERE p.mid_mjd >= ? AND p.mid_mjd < ? AND abs(p.dec_deg - ?) > 1e-6"
			       " ORDER BY p.mid_mjd, g.name",
			       "ddd", start_mjd, end_mjd, dec_deg);
	if (r < 0)
		return r;
	r = db_rows(st, &type, NULL, &v, ret_n, "group pointing", err, errlen);
	if (r == 0)
		*ret = v;
	return r;
}
