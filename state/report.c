/*
 * state/report.c — the queue views contimgctl prints (see report.h).
 */
#include "state/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

static int oom(char *err, size_t errlen, const char *what)
{
	return err_set(err, errlen, -ENOMEM, "%s: out of memory", what);
}

/* ---- status ---- */

static int read_running(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	report_running *g = row;
	(void)arg;
	if (db_column_strdup(st, 0, &g->name) < 0 || db_column_strdup(st, 1, &g->stage) < 0)
		return oom(err, errlen, "running groups");
	g->started_at = sqlite3_column_double(st, 2);
	g->pid = sqlite3_column_int(st, 3);
	return 1;
}

static void release_running(void *row)
{
	report_running *g = row;
	free(g->name);
	free(g->stage);
}

static const db_row_type running_type = { sizeof(report_running), read_running,
					  release_running };

static void last_release(report_last *l)
{
	free(l->name);
	free(l->stage);
	free(l->message);
	memset(l, 0, sizeof *l);
}

/* The first row of sql (name, time[, stage, message]) into *l; l->name stays
 * NULL when there is none. */
static int read_last(sqlite3 *db, const char *sql, report_last *l, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(db, err, errlen, &st, sql, NULL);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		l->at = sqlite3_column_double(st, 1);
		if (db_column_strdup(st, 0, &l->name) < 0 ||
		    (sqlite3_column_count(st) > 3 && (db_column_strdup(st, 2, &l->stage) < 0 ||
						      db_column_strdup(st, 3, &l->message) < 0)))
			r = oom(err, errlen, "status");
	} else if (rc != SQLITE_DONE) {
		r = err_set(err, errlen, -EIO, "status: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int report_status_get(sqlite3 *db, double since, report_status *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	report_status s;
	void *v = NULL;
	int r;

	memset(&s, 0, sizeof s);
	r = db_prepare(db, err, errlen, &st,
		       "SELECT name, stage, started_at, owner_pid FROM groups WHERE state = 'in_progress'"
		       " ORDER BY started_at", NULL);
	if (r < 0)
		goto out;
	r = db_rows(st, &running_type, NULL, &v, &s.nrunning, "running groups", err, errlen);
	if (r < 0)
		goto out;
	s.running = v;
	r = read_last(db, "SELECT name, finished_at FROM groups WHERE state = 'completed'"
			  " ORDER BY finished_at DESC LIMIT 1", &s.last_completed, err, errlen);
	if (r < 0)
		goto out;
	r = read_last(db, "SELECT g.name, e.at, e.stage, e.message FROM group_events e"
			  " JOIN groups g ON g.id = e.group_id"
			  " WHERE e.kind IN ('error','retry') ORDER BY e.at DESC LIMIT 1",
		      &s.last_error, err, errlen);
	if (r < 0)
		goto out;
	r = db_query_int(db, &s.completed_since, err, errlen,
			 "SELECT count(*) FROM groups WHERE state = 'completed' AND finished_at >= ?",
			 "d", since);
	if (r < 0)
		goto out;
	*ret = s;
	return 0;
out:
	report_status_release(&s);
	return r;
}

void report_status_release(report_status *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrunning; i++)
		release_running(&s->running[i]);
	free(s->running);
	last_release(&s->last_completed);
	last_release(&s->last_error);
	memset(s, 0, sizeof *s);
}

/* ---- groups ---- */

int report_subbands(sqlite3 *db, int64_t group_id, int n_expected, int *ret_ngood,
		    int missing[REPORT_MAX_SUBBANDS], int *ret_nmissing, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char have[REPORT_MAX_SUBBANDS] = { 0 };
	int ngood = 0, nmissing = 0, r, rc;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT DISTINCT subband FROM subband_files WHERE group_id = ?"
		       " AND status IN ('ok','late')", "I", group_id);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int sb = sqlite3_column_int(st, 0);
		if (sb >= 0 && sb < REPORT_MAX_SUBBANDS && !have[sb]) {
			have[sb] = 1;
			ngood++;
		}
	}
	if (rc != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "subband_files: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	for (int sb = 0; sb < n_expected && sb < REPORT_MAX_SUBBANDS; sb++)
		if (!have[sb])
			missing[nmissing++] = sb;
	*ret_ngood = ngood;
	*ret_nmissing = nmissing;
	return 0;
}

static void group_release(report_group *g)
{
	free(g->name);
	free(g->state);
	free(g->error);
	free(g->stage);
	free(g->stale_reason);
	for (int i = 0; i < g->nmissing; i++) {
		free(g->missing[i].bad_path);
		free(g->missing[i].bad_reason);
	}
	free(g->missing);
	memset(g, 0, sizeof *g);
}

/* The census of g and, for each missing subband, its first bad file. */
static int group_census(sqlite3 *db, report_group *g, char *err, size_t errlen)
{
	int sbs[REPORT_MAX_SUBBANDS], n = 0, r;

	r = report_subbands(db, g->id, g->n_expected, &g->n_subbands, sbs, &n, err, errlen);
	if (r < 0)
		return r;
	if (n && !(g->missing = calloc((size_t)n, sizeof *g->missing)))
		return oom(err, errlen, "subband_files");
	for (int i = 0; i < n; i++) {
		report_missing *m = &g->missing[g->nmissing++];
		sqlite3_stmt *st = NULL;
		int rc;

		m->subband = sbs[i];
		r = db_prepare(db, err, errlen, &st,
			       "SELECT path, reason FROM subband_files WHERE group_id = ? AND subband = ?"
			       " AND status = 'bad' LIMIT 1", "Ii", g->id, m->subband);
		if (r < 0)
			return r;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (db_column_strdup(st, 0, &m->bad_path) < 0 ||
			    db_column_strdup(st, 1, &m->bad_reason) < 0)
				r = oom(err, errlen, "subband_files");
		} else if (rc != SQLITE_DONE) {
			r = err_set(err, errlen, -EIO, "subband_files: %s", sqlite3_errmsg(db));
		}
		sqlite3_finalize(st);
		if (r < 0)
			return r;
	}
	return 0;
}

#define GROUP_COLS                                                                          \
	"id, name, state, n_expected, retries, error, stage, calibrated, created_at,"       \
	" updated_at, coalesce(started_at, 0), coalesce(finished_at, 0), runs, stale,"       \
	" CASE WHEN stale != 0 THEN (SELECT message FROM group_events e WHERE"            \
	" e.group_id = groups.id AND e.kind = 'stale' ORDER BY e.id DESC LIMIT 1) END"

/* The current row of a "SELECT " GROUP_COLS statement into *g (zeroed); the
 * census is group_census's. */
static int read_group_cols(sqlite3_stmt *st, report_group *g, char *err, size_t errlen)
{
	g->id = sqlite3_column_int64(st, 0);
	if (db_column_strdup(st, 1, &g->name) < 0 || db_column_strdup(st, 2, &g->state) < 0 ||
	    db_column_strdup(st, 5, &g->error) < 0 || db_column_strdup(st, 6, &g->stage) < 0)
		return oom(err, errlen, "groups");
	g->n_expected = sqlite3_column_int(st, 3);
	g->retries = sqlite3_column_int(st, 4);
	g->calibrated = sqlite3_column_int(st, 7);
	g->created_at = sqlite3_column_double(st, 8);
	g->updated_at = sqlite3_column_double(st, 9);
	g->started_at = sqlite3_column_double(st, 10);
	g->finished_at = sqlite3_column_double(st, 11);
	g->runs = sqlite3_column_int(st, 12);
	g->stale = sqlite3_column_int(st, 13) != 0;
	if (db_column_strdup(st, 14, &g->stale_reason) < 0)
		return oom(err, errlen, "groups");
	return 0;
}

/* arg is the connection: the census is read while the list's statement is
 * still open, so both see the same snapshot of a database the daemon writes. */
static int read_group(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	int r = read_group_cols(st, row, err, errlen);
	if (r == 0)
		r = group_census(arg, row, err, errlen);
	return r < 0 ? r : 1;
}

static void release_group(void *row)
{
	group_release(row);
}

static const db_row_type group_type = { sizeof(report_group), read_group, release_group };

int report_groups(sqlite3 *db, const char *state, int64_t since_t, int limit,
		  report_group **ret, size_t *ret_n, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT " GROUP_COLS " FROM groups WHERE (?1 IS NULL OR state = ?1"
		       " OR (?1 = 'stale' AND stale != 0))"
		       " AND t_first >= ?2 ORDER BY t_first DESC LIMIT ?3", "sIi", state, since_t,
		       limit ? limit : -1);
	if (r < 0)
		return r;
	r = db_rows(st, &group_type, db, &v, &n, "groups", err, errlen);
	if (r < 0)
		return r;
	*ret = v;
	*ret_n = n;
	return 0;
}

void report_groups_free(report_group *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		group_release(&v[i]);
	free(v);
}

/* ---- show ---- */

static int read_file(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	report_file *f = row;
	(void)arg;
	f->subband = sqlite3_column_int(st, 0);
	f->size = sqlite3_column_int64(st, 4);
	if (db_column_strdup(st, 1, &f->path) < 0 || db_column_strdup(st, 2, &f->status) < 0 ||
	    db_column_strdup(st, 3, &f->reason) < 0)
		return oom(err, errlen, "subband_files");
	return 1;
}

static void release_file(void *row)
{
	report_file *f = row;
	free(f->path);
	free(f->status);
	free(f->reason);
}

static int read_stage_run(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	report_stage_run *s = row;
	(void)arg;
	s->seconds = sqlite3_column_double(st, 1);
	s->ok = sqlite3_column_int(st, 2);
	s->at = sqlite3_column_double(st, 4);
	if (db_column_strdup(st, 0, &s->stage) < 0 || db_column_strdup(st, 3, &s->error) < 0)
		return oom(err, errlen, "stage_timings");
	return 1;
}

static void release_stage_run(void *row)
{
	report_stage_run *s = row;
	free(s->stage);
	free(s->error);
}

static int read_product(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	report_product *p = row;
	(void)arg;
	if (db_column_strdup(st, 0, &p->name) < 0 || db_column_strdup(st, 1, &p->path) < 0)
		return oom(err, errlen, "products");
	return 1;
}

static void release_product(void *row)
{
	report_product *p = row;
	free(p->name);
	free(p->path);
}

static int read_event(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	report_event *e = row;
	(void)arg;
	e->at = sqlite3_column_double(st, 0);
	if (db_column_strdup(st, 1, &e->kind) < 0 || db_column_strdup(st, 2, &e->stage) < 0 ||
	    db_column_strdup(st, 3, &e->message) < 0)
		return oom(err, errlen, "group_events");
	return 1;
}

static void release_event(void *row)
{
	report_event *e = row;
	free(e->kind);
	free(e->stage);
	free(e->message);
}

static const db_row_type file_type = { sizeof(report_file), read_file, release_file };
static const db_row_type stage_run_type = { sizeof(report_stage_run), read_stage_run,
					    release_stage_run };
static const db_row_type product_type = { sizeof(report_product), read_product,
					  release_product };
static const db_row_type event_type = { sizeof(report_event), read_event, release_event };

/* The rows of sql (bound to the group id) into *ret_rows, *ret_n. */
static int group_rows(sqlite3 *db, int64_t group_id, const char *sql, const db_row_type *type,
		      void *ret_rows, size_t *ret_n, const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, err, errlen, &st, sql, "I", group_id);
	if (r < 0)
		return r;
	return db_rows(st, type, NULL, ret_rows, ret_n, what, err, errlen);
}

int report_detail_get(sqlite3 *db, int64_t group_id, report_detail *ret, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st = NULL;
	report_detail d;
	void *v;
	int r, rc;

	memset(&d, 0, sizeof d);
	r = db_prepare(db, err, errlen, &st, "SELECT " GROUP_COLS " FROM groups WHERE id = ?", "I",
		       group_id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = read_group_cols(st, &d.group, err, errlen);
	else if (rc != SQLITE_DONE)
		r = err_set(err, errlen, -EIO, "groups: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (r < 0 || rc == SQLITE_DONE)
		goto out;
	if ((r = group_census(db, &d.group, err, errlen)) < 0)
		goto out;
	v = NULL;
	r = group_rows(db, group_id,
		       "SELECT subband, path, status, reason, size FROM subband_files"
		       " WHERE group_id = ? ORDER BY subband, path", &file_type, &v, &d.nfiles,
		       "subband_files", err, errlen);
	if (r < 0)
		goto out;
	d.files = v;
	v = NULL;
	r = group_rows(db, group_id,
		       "SELECT stage, seconds, ok, error, at FROM stage_timings WHERE group_id = ?"
		       " ORDER BY at, rowid", &stage_run_type, &v, &d.nstage_runs, "stage_timings",
		       err, errlen);
	if (r < 0)
		goto out;
	d.stage_runs = v;
	v = NULL;
	r = group_rows(db, group_id,
		       "SELECT name, path FROM products WHERE group_id = ? ORDER BY name",
		       &product_type, &v, &d.nproducts, "products", err, errlen);
	if (r < 0)
		goto out;
	d.products = v;
	v = NULL;
	r = group_rows(db, group_id,
		       "SELECT at, kind, stage, message FROM group_events WHERE group_id = ?"
		       " ORDER BY at, id", &event_type, &v, &d.nevents, "group_events", err, errlen);
	if (r < 0)
		goto out;
	d.events = v;
	*ret = d;
	return 1;
out:
	report_detail_release(&d);
	return r;
}

void report_detail_release(report_detail *d)
{
	if (!d)
		return;
	group_release(&d->group);
	for (size_t i = 0; i < d->nfiles; i++)
		release_file(&d->files[i]);
	for (size_t i = 0; i < d->nstage_runs; i++)
		release_stage_run(&d->stage_runs[i]);
	for (size_t i = 0; i < d->nproducts; i++)
		release_product(&d->products[i]);
	for (size_t i = 0; i < d->nevents; i++)
		release_event(&d->events[i]);
	free(d->files);
	free(d->stage_runs);
	free(d->products);
	free(d->events);
	memset(d, 0, sizeof *d);
}
