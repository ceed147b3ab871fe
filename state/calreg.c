/*
 * state/calreg.c — the calibration-table registry (see calreg.h).
 */
#include "state/calreg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "state/db.h"

static const char *const status_names[] = { "active", "retired", "failed" };

const char *calreg_status_name(int status)
{
	return status >= 0 && status < 3 ? status_names[status] : "?";
}

int calreg_status_parse(const char *s, int *ret_status)
{
	for (int i = 0; i < 3; i++)
		if (s && !strcmp(s, status_names[i])) {
			*ret_status = i;
			return 0;
		}
	return -EINVAL;
}

static int sql_err(char *err, size_t errlen, sqlite3 *db, const char *what)
{
	return err_set(err, errlen, -EIO, "caltables: %s: %s", what, sqlite3_errmsg(db));
}

#define COLS "id, type, path, calibrator, source_group, refant, obs_mjd, valid_start_mjd," \
	     " valid_end_mjd, created, status, flagged_fraction, median_snr, phase_scatter_deg"

static void read_row(sqlite3_stmt *st, calreg_entry *e)
{
	const unsigned char *t;
	char status[16];

	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	t = sqlite3_column_text(st, 1);
	e->type = t ? (char)t[0] : '?';
	db_column_text(st, 2, e->path, sizeof e->path);
	db_column_text(st, 3, e->calibrator, sizeof e->calibrator);
	db_column_text(st, 4, e->source_group, sizeof e->source_group);
	e->refant = sqlite3_column_int(st, 5);
	e->obs_mjd = sqlite3_column_double(st, 6);
	e->valid_start_mjd = sqlite3_column_double(st, 7);
	e->valid_end_mjd = sqlite3_column_double(st, 8);
	e->created_unix = sqlite3_column_double(st, 9);
	db_column_text(st, 10, status, sizeof status);
	if (calreg_status_parse(status, &e->status) < 0)
		e->status = CALREG_FAILED;
	e->flagged_fraction = db_column_real_or_nan(st, 11);
	e->median_snr = db_column_real_or_nan(st, 12);
	e->phase_scatter_deg = db_column_real_or_nan(st, 13);
}

int calreg_add(sqlite3 *db, const calreg_entry *e, int64_t *ret_id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char type[2] = { e->type, 0 };
	int r = 0;

	if ((e->type != 'B' && e->type != 'G' && e->type != 'K') || !e->path[0])
		return err_set(err, errlen, -EINVAL, "caltables: bad type '%c' or empty path",
			       e->type ? e->type : '?');
	if (!isfinite(e->valid_start_mjd) || !isfinite(e->valid_end_mjd) ||
	    e->valid_end_mjd < e->valid_start_mjd || !isfinite(e->obs_mjd))
		return err_set(err, errlen, -EINVAL, "caltables: %s: bad validity window [%g, %g]",
			       e->path, e->valid_start_mjd, e->valid_end_mjd);
	if (e->status < 0 || e->status > 2)
		return err_set(err, errlen, -EINVAL, "caltables: bad status %d", e->status);
	/* One statement: the upsert is atomic without an explicit transaction. */
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO caltables(type, path, calibrator, source_group, refant,"
			       " obs_mjd, valid_start_mjd, valid_end_mjd, created, status,"
			       " flagged_fraction, median_snr, phase_scatter_deg)"
			       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
			       " ON CONFLICT(path) DO UPDATE SET type=excluded.type,"
			       " calibrator=excluded.calibrator, source_group=excluded.source_group,"
			       " refant=excluded.refant, obs_mjd=excluded.obs_mjd,"
			       " valid_start_mjd=excluded.valid_start_mjd,"
			       " valid_end_mjd=excluded.valid_end_mjd, created=excluded.created,"
			       " status=excluded.status, flagged_fraction=excluded.flagged_fraction,"
			       " median_snr=excluded.median_snr,"
			       " phase_scatter_deg=excluded.phase_scatter_deg"
			       " RETURNING id",
			       -1, &st, NULL) != SQLITE_OK) {
		r = sql_err(err, errlen, db, "register");
		goto out;
	}
	sqlite3_bind_text(st, 1, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, e->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->calibrator, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->source_group, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, e->refant);
	sqlite3_bind_double(st, 6, e->obs_mjd);
	sqlite3_bind_double(st, 7, e->valid_start_mjd);
	sqlite3_bind_double(st, 8, e->valid_end_mjd);
	sqlite3_bind_double(st, 9, clk_wall_s());
	sqlite3_bind_text(st, 10, calreg_status_name(e->status), -1, SQLITE_STATIC);
	db_bind_real_or_null(st, 11, e->flagged_fraction);
	db_bind_real_or_null(st, 12, e->median_snr);
	db_bind_real_or_null(st, 13, e->phase_scatter_deg);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = sql_err(err, errlen, db, e->path);
		goto out;
	}
	if (ret_id)
		*ret_id = sqlite3_column_int64(st, 0);
	/* Step to completion so the statement's write is finished before finalize. */
	while (sqlite3_step(st) == SQLITE_ROW)
		;
out:
	sqlite3_finalize(st);
	return r;
}

int calreg_set_status(sqlite3 *db, int64_t id, int status, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (status < 0 || status > 2)
		return err_set(err, errlen, -EINVAL, "caltables: bad status %d", status);
	if (sqlite3_prepare_v2(db, "UPDATE caltables SET status = ?1 WHERE id = ?2", -1, &st,
			       NULL) != SQLITE_OK)
		return sql_err(err, errlen, db, "set status");
	sqlite3_bind_text(st, 1, calreg_status_name(status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sql_err(err, errlen, db, "set status");
	else if (sqlite3_changes(db) == 0)
		r = err_set(err, errlen, -ENOENT, "caltables: no table with id %lld", (long long)id);
	sqlite3_finalize(st);
	return r;
}

int calreg_get(sqlite3 *db, int64_t id, calreg_entry *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM caltables WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return sql_err(err, errlen, db, "get");
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_row(st, ret);
	else if (rc == SQLITE_DONE)
		r = err_set(err, errlen, -ENOENT, "caltables: no table with id %lld", (long long)id);
	else
		r = sql_err(err, errlen, db, "get");
	sqlite3_finalize(st);
	return r;
}

int calreg_select(sqlite3 *db, char type, double t_mjd, calreg_entry *ret, char *err,
		  size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char t[2] = { type, 0 };
	int r = 0, rc;

	if (!isfinite(t_mjd))
		return err_set(err, errlen, -EINVAL, "caltables: bad observation time");
	/* Valid at the observation time, then the calibrator observation nearest in
	 * time, then the most recently registered. */
	if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM caltables WHERE type = ?1"
				   " AND status = 'active' AND valid_start_mjd <= ?2"
				   " AND valid_end_mjd >= ?2"
				   " ORDER BY abs(obs_mjd - ?2), id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, db, "select");
	sqlite3_bind_text(st, 1, t, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 2, t_mjd);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_row(st, ret);
	else if (rc == SQLITE_DONE)
		r = err_set(err, errlen, -ENOENT, "caltables: no active %c table valid at MJD %.6f",
			    type, t_mjd);
	else
		r = sql_err(err, errlen, db, "select");
	sqlite3_finalize(st);
	return r;
}

int calreg_select_set(sqlite3 *db, double t_mjd, calreg_set *ret, char *err, size_t errlen)
{
	calreg_set s;
	const char types[3] = { 'B', 'G', 'K' };
	calreg_entry *dst[3] = { &s.b, &s.g, &s.k };
	int *has[3] = { &s.has_b, &s.has_g, &s.has_k };

	memset(&s, 0, sizeof s);
	for (int i = 0; i < 3; i++) {
		int r = calreg_select(db, types[i], t_mjd, dst[i], err, errlen);
		if (r == 0)
			*has[i] = 1;
		else if (r != -ENOENT)
			return r;
	}
	if (err && errlen)
		err[0] = 0;
	*ret = s;
	return 0;
}

static int read_listed(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	read_row(st, row);
	return 1;
}

int calreg_list(sqlite3 *db, calreg_entry **ret_rows, size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(calreg_entry), read_listed, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int r;

	if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM caltables ORDER BY created DESC, id DESC",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, db, "list");
	r = db_rows(st, &type, NULL, &v, ret_n, "caltables: list", err, errlen);
	if (r == 0)
		*ret_rows = v;
	return r;
}

int calreg_source_file(sqlite3 *db, int64_t id, char *buf, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT sf.path FROM caltables c JOIN groups g ON g.name = c.source_group "
		       "JOIN subband_files sf ON sf.group_id = g.id "
		       "WHERE c.id = ? AND sf.status = 'ok' ORDER BY sf.subband LIMIT 1",
		       "I", id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		db_column_text(st, 0, buf, len);
	else if (rc == SQLITE_DONE)
		r = err_set(err, errlen, -ENOENT,
			    "caltables: no subband file of table %lld's source group is registered",
			    (long long)id);
	else
		r = sql_err(err, errlen, db, "source file");
	sqlite3_finalize(st);
	return r;
}
