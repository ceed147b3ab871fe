/*
 * state/alertdb.c — the alerts table (alertdb.h).
 */
#include "state/alertdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

#define ALERT_COLS "id, ivorn, source, kind, event_start_mjd, event_end_mjd, t0_mjd, mjd, " \
	"group_id, score, depth, duration_days, ongoing, ra_deg, dec_deg, flux_jy, f0_jy, " \
	"best_alt, dbic, alt_evidence, cites, path, created_at, sent_at, xml"

void alertdb_release(alertdb_alert *a)
{
	if (a) {
		free(a->xml);
		a->xml = NULL;
	}
}

static int sql_fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	return err_set(err, errlen, -EIO, "%s: %s", what, sqlite3_errmsg(db));
}

/* with_xml: column 24 is copied into a->xml. */
static int read_alert(sqlite3_stmt *st, alertdb_alert *a, int with_xml)
{
	int k = 0;
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, k++);
	db_column_text(st, k++, a->ivorn, sizeof a->ivorn);
	db_column_text(st, k++, a->source, sizeof a->source);
	db_column_text(st, k++, a->kind, sizeof a->kind);
	a->event_start_mjd = db_column_real_or_nan(st, k++);
	a->event_end_mjd = db_column_real_or_nan(st, k++);
	a->t0_mjd = db_column_real_or_nan(st, k++);
	a->mjd = db_column_real_or_nan(st, k++);
	a->group_id = sqlite3_column_type(st, k) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, k);
	k++;
	a->score = db_column_real_or_nan(st, k++);
	a->depth = db_column_real_or_nan(st, k++);
	a->duration_days = db_column_real_or_nan(st, k++);
	a->ongoing = sqlite3_column_int(st, k++);
	a->ra_deg = db_column_real_or_nan(st, k++);
	a->dec_deg = db_column_real_or_nan(st, k++);
	a->flux_jy = db_column_real_or_nan(st, k++);
	a->f0_jy = db_column_real_or_nan(st, k++);
	db_column_text(st, k++, a->best_alt, sizeof a->best_alt);
	a->dbic = db_column_real_or_nan(st, k++);
	a->alt_evidence = db_column_real_or_nan(st, k++);
	db_column_text(st, k++, a->cites, sizeof a->cites);
	db_column_text(st, k++, a->path, sizeof a->path);
	a->created_at = db_column_real_or_nan(st, k++);
	a->sent_at = db_column_real_or_nan(st, k++);
	if (with_xml && db_column_strdup(st, k, &a->xml) < 0)
		return -ENOMEM;
	return 0;
}

int alertdb_find_event(sqlite3 *db, const char *source, const char *kind, double start_mjd,
		       double end_mjd, alertdb_alert *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " ALERT_COLS " FROM alerts WHERE source = ?1 AND "
			       "(?2 IS NULL OR kind = ?2) AND event_start_mjd <= ?4 AND "
			       "event_end_mjd >= ?3 ORDER BY created_at DESC, id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "alerts query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	if (kind)
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_double(st, 3, start_mjd);
	sqlite3_bind_double(st, 4, end_mjd);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		rc = read_alert(st, ret, 0);
	else if (s == SQLITE_DONE)
		rc = err_set(err, errlen, -ENOENT, "no alert of %s for that event", source);
	else
		rc = sql_fail(db, err, errlen, "alerts query");
	sqlite3_finalize(st);
	return rc;
}

int alertdb_insert(sqlite3 *db, const alertdb_alert *a, int64_t *ret_id, char *err,
		   size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO alerts (ivorn, source, kind, "
			       "event_start_mjd, event_end_mjd, t0_mjd, mjd, group_id, score, depth, "
			       "duration_days, ongoing, ra_deg, dec_deg, flux_jy, f0_jy, best_alt, "
			       "dbic, alt_evidence, cites, path, created_at, sent_at, xml) VALUES "
			       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "alerts insert");
	sqlite3_bind_text(st, k++, a->ivorn, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, k++, a->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, k++, a->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, k++, a->event_start_mjd);
	sqlite3_bind_double(st, k++, a->event_end_mjd);
	db_bind_real_or_null(st, k++, a->t0_mjd);
	sqlite3_bind_double(st, k++, a->mjd);
	if (a->group_id > 0)
		sqlite3_bind_int64(st, k++, a->group_id);
	else
		sqlite3_bind_null(st, k++);
	sqlite3_bind_double(st, k++, isfinite(a->score) ? a->score : 0);
	db_bind_real_or_null(st, k++, a->depth);
	db_bind_real_or_null(st, k++, a->duration_days);
	sqlite3_bind_int(st, k++, a->ongoing != 0);
	db_bind_real_or_null(st, k++, a->ra_deg);
	db_bind_real_or_null(st, k++, a->dec_deg);
	db_bind_real_or_null(st, k++, a->flux_jy);
	db_bind_real_or_null(st, k++, a->f0_jy);
	if (a->best_alt[0])
		sqlite3_bind_text(st, k++, a->best_alt, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, k++);
	db_bind_real_or_null(st, k++, a->dbic);
	db_bind_real_or_null(st, k++, a->alt_evidence);
	if (a->cites[0])
		sqlite3_bind_text(st, k++, a->cites, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, k++);
	if (a->path[0])
		sqlite3_bind_text(st, k++, a->path, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, k++);
	sqlite3_bind_double(st, k++, a->created_at);
	db_bind_real_or_null(st, k++, a->sent_at);
	if (a->xml)
		sqlite3_bind_text(st, k++, a->xml, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, k++);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sql_fail(db, err, errlen, "alerts insert");
	} else {
		*ret_id = sqlite3_changes(db) ? sqlite3_last_insert_rowid(db) : -1;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int alertdb_mark_sent(sqlite3 *db, int64_t id, double sent_at, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "UPDATE alerts SET sent_at = ? WHERE id = ?", "dI",
			sent_at, id);
	return r < 0 ? r : 0;
}

static int read_row(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	if (read_alert(st, row, *(const int *)arg) < 0)
		return err_set(err, errlen, -ENOMEM, "alerts: out of memory");
	return 1;
}

static void release_row(void *row)
{
	alertdb_release(row);
}

int alertdb_list(sqlite3 *db, double since_unix, int unsent_only, int with_xml,
		 alertdb_alert **ret, size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(alertdb_alert), read_row, release_row };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " ALERT_COLS " FROM alerts WHERE created_at >= ?1 "
			       "AND (?2 = 0 OR sent_at IS NULL) ORDER BY created_at, id", -1, &st,
			       NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "alerts query");
	sqlite3_bind_double(st, 1, isfinite(since_unix) ? since_unix : -1e300);
	sqlite3_bind_int(st, 2, unsent_only != 0);
	rc = db_rows(st, &type, &with_xml, &v, ret_n, "alerts query", err, errlen);
	if (rc == 0)
		*ret = v;
	return rc;
}

int alertdb_count(sqlite3 *db, int64_t *ret_n, char *err, size_t errlen)
{
	int r = db_query_int(db, ret_n, err, errlen, "SELECT count(*) FROM alerts", NULL);
	return r < 0 ? r : 0;
}
