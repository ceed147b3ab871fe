/*
 * state/metricsdb.c — the metrics' numbers from the state database
 * (metricsdb.h).
 */
#include "state/metricsdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"
#include "state/queue.h"

const char *const metricsdb_candidate_status[3] = { "new", "investigated", "dismissed" };

int metricsdb_table_exists(sqlite3 *db, const char *name, char *err, size_t errlen)
{
	int64_t n = 0;
	int r = db_query_int(db, &n, err, errlen,
			     "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
			     "s", name);
	return r < 0 ? r : n > 0;
}

/* MAX/aggregate of one REAL column; NaN when NULL. */
static int query_real(sqlite3 *db, double *ret, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, err, errlen, &st, sql, NULL), rc;

	if (r < 0)
		return r;
	*ret = NAN;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = db_column_real_or_nan(st, 0);
	else if (rc != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "metrics: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

static int read_groups(sqlite3 *db, metricsdb_snapshot *m, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(db, err, errlen, &st, "SELECT state, COUNT(*) FROM groups GROUP BY state",
		       NULL);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		for (int i = 0; i < 5; i++)
			if (s && !strcmp(s, queue_states[i]))
				m->groups[i] = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "metrics: groups: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	if ((r = db_query_int(db, &m->stale, err, errlen,
			      "SELECT COUNT(*) FROM groups WHERE stale != 0", NULL)) < 0 ||
	    (r = query_real(db, &m->newest_t_first, "SELECT MAX(t_first) FROM groups", err,
			    errlen)) < 0)
		return r;
	r = db_prepare(db, err, errlen, &st,
		       "SELECT finished_at, t_first FROM groups WHERE state = 'completed' "
		       "AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1", NULL);
	if (r < 0)
		return r;
	m->last_completed_at = m->last_completed_t_first = NAN;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		m->last_completed_at = db_column_real_or_nan(st, 0);
		m->last_completed_t_first = db_column_real_or_nan(st, 1);
	} else if (rc != SQLITE_DONE) {
		r = err_set(err, errlen, -EIO, "metrics: groups: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

/* One row per stage: COUNT, TOTAL, failures, then SUM(seconds <= ?) per bound,
 * each bound a bound parameter. */
static int read_stages(sqlite3 *db, const double *bounds, int nb, metricsdb_snapshot *m,
		       char *err, size_t errlen)
{
	char sql[2048];
	size_t len;
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	len = (size_t)snprintf(sql, sizeof sql,
			       "SELECT stage, COUNT(*), TOTAL(seconds), SUM(ok = 0)");
	for (int i = 0; i < nb; i++)
		len += (size_t)snprintf(sql + len, sizeof sql - len, ", SUM(seconds <= ?%d)", i + 1);
	snprintf(sql + len, sizeof sql - len, " FROM stage_timings GROUP BY stage ORDER BY stage");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return err_set(err, errlen, -EIO, "metrics: stage_timings: %s", sqlite3_errmsg(db));
	for (int i = 0; i < nb; i++)
		sqlite3_bind_double(st, i + 1, bounds[i]);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		metricsdb_stage *s;
		if (m->nstages >= METRICSDB_MAX_STAGES)
			continue;
		s = &m->stages[m->nstages++];
		db_column_text(st, 0, s->stage, sizeof s->stage);
		s->count = sqlite3_column_int64(st, 1);
		s->sum_s = sqlite3_column_double(st, 2);
		s->failed = sqlite3_column_int64(st, 3);
		for (int i = 0; i < nb; i++)
			s->le[i] = sqlite3_column_int64(st, 4 + i);
	}
	if (rc != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "metrics: stage_timings: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

static int read_events(sqlite3 *db, metricsdb_snapshot *m, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, r = db_prepare(db, err, errlen, &st,
			       "SELECT kind, COUNT(*) FROM group_events GROUP BY kind ORDER BY kind",
			       NULL);

	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (m->nkinds >= METRICSDB_MAX_KINDS)
			continue;
		db_column_text(st, 0, m->events[m->nkinds].kind, sizeof m->events[0].kind);
		m->events[m->nkinds++].n = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "metrics: group_events: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

static int read_science(sqlite3 *db, metricsdb_snapshot *m, char *err, size_t errlen)
{
	int r;

	for (int i = 0; i < 3; i++)
		if ((r = db_query_int(db, &m->candidates[i], err, errlen,
				      "SELECT COUNT(*) FROM ese_candidates WHERE status = ?", "s",
				      metricsdb_candidate_status[i])) < 0)
			return r;
	if ((r = db_query_int(db, &m->images, err, errlen, "SELECT COUNT(*) FROM images",
			      NULL)) < 0 ||
	    (r = db_query_int(db, &m->photometry, err, errlen, "SELECT COUNT(*) FROM photometry",
			      NULL)) < 0 ||
	    (r = db_query_int(db, &m->caltables_active, err, errlen,
			      "SELECT COUNT(*) FROM caltables WHERE status = 'active'", NULL)) < 0)
		return r;
	/* The alerts table comes with another part of issue 18: count it only
	 * where a migration created it. */
	r = metricsdb_table_exists(db, "alerts", err, errlen);
	if (r < 0)
		return r;
	m->alerts_present = r;
	if (r && (r = db_query_int(db, &m->alerts, err, errlen, "SELECT COUNT(*) FROM alerts",
				   NULL)) < 0)
		return r;
	return 0;
}

static int read_daemon(sqlite3 *db, metricsdb_snapshot *m, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, r = db_prepare(db, err, errlen, &st,
			       "SELECT pid, heartbeat_at FROM daemon WHERE id = 1", NULL);

	if (r < 0)
		return r;
	m->daemon_heartbeat_at = NAN;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		m->daemon_pid = sqlite3_column_int(st, 0);
		m->daemon_heartbeat_at = db_column_real_or_nan(st, 1);
	} else if (rc != SQLITE_DONE) {
		r = err_set(err, errlen, -EIO, "metrics: daemon: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int metricsdb_read(sqlite3 *db, const double *bounds, int nbounds, metricsdb_snapshot *ret,
		   char *err, size_t errlen)
{
	int r, began = 0;

	if (nbounds < 0 || nbounds > METRICSDB_MAX_BOUNDS)
		return err_set(err, errlen, -EINVAL, "metrics: %d bucket bounds (at most %d)",
			       nbounds, METRICSDB_MAX_BOUNDS);
	for (int i = 1; i < nbounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return err_set(err, errlen, -EINVAL, "metrics: bucket bounds not ascending");
	memset(ret, 0, sizeof *ret);
	/* One read transaction: a deferred BEGIN takes its snapshot at the
	 * first SELECT and keeps it to the COMMIT (WAL), also on a read-only
	 * connection. */
	if (sqlite3_get_autocommit(db)) {
		if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			return err_set(err, errlen, -EIO, "metrics: BEGIN: %s", sqlite3_errmsg(db));
		began = 1;
	}
	if ((r = read_groups(db, ret, err, errlen)) < 0 ||
	    (r = read_stages(db, bounds, nbounds, ret, err, errlen)) < 0 ||
	    (r = read_events(db, ret, err, errlen)) < 0 ||
	    (r = read_science(db, ret, err, errlen)) < 0 ||
	    (r = read_daemon(db, ret, err, errlen)) < 0)
		goto out;
	r = 0;
out:
	if (began)
		sqlite3_exec(db, r < 0 ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	return r;
}
