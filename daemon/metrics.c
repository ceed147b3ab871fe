/*
 * daemon/metrics.c — Prometheus text exposition of the state database, and
 * contimgd's textfile timer (metrics.h).
 *
 * Format: Prometheus "text-based exposition format" version 0.0.4 (the
 * exposition_formats document of prometheus/docs): per family one "# HELP
 * name text" (text escapes \ and newline) and one "# TYPE name type" before
 * its samples, samples "name{label="value",...} value" (label values escape
 * \, " and newline), values as Go's ParseFloat reads them (NaN, +Inf, -Inf),
 * histogram samples name_bucket{le="..."} cumulative and ending with le="+Inf"
 * equal to name_count, then name_sum and name_count.  No timestamps: the
 * textfile collector refuses them.
 */
#include "daemon/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/version.h"
#include "state/db.h"
#include "state/metricsdb.h"
#include "state/queue.h"

const double metrics_buckets_s[] = { 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600 };
const int metrics_nbuckets = (int)(sizeof metrics_buckets_s / sizeof metrics_buckets_s[0]);

/* ---- a growing string ---- */

typedef struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->s && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *g = realloc(b->s, cap);
		if (!g) {
			b->oom = 1;
			return;
		}
		b->s = g;
		b->cap = cap;
	}
}

/* A label value, escaped (\\, \", \n). */
static void sb_label(sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			sb_add(b, "\\\\");
		else if (*v == '"')
			sb_add(b, "\\\"");
		else if (*v == '\n')
			sb_add(b, "\\n");
		else
			sb_add(b, "%c", *v);
	}
}

static void sb_value(sbuf *b, double v)
{
	if (isnan(v))
		sb_add(b, "NaN\n");
	else if (isinf(v))
		sb_add(b, "%sInf\n", v > 0 ? "+" : "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		sb_add(b, "%.0f\n", v);
	else
		sb_add(b, "%.17g\n", v);
}

static void family(sbuf *b, const char *name, const char *type, const char *help)
{
	sb_add(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="value"} v  (key NULL: no labels) */
static void sample(sbuf *b, const char *name, const char *key, const char *value, double v)
{
	sb_add(b, "%s", name);
	if (key) {
		sb_add(b, "{%s=\"", key);
		sb_label(b, value);
		sb_add(b, "\"}");
	}
	sb_add(b, " ");
	sb_value(b, v);
}

static void gauge1(sbuf *b, const char *name, const char *help, double v)
{
	family(b, name, "gauge", help);
	sample(b, name, NULL, NULL, v);
}

/* ---- the families ---- */

static void render_groups(sbuf *b, const metricsdb_snapshot *m, double now)
{
	family(b, "contimg_groups", "gauge", "Groups per state in the state database.");
	for (int i = 0; i < 5; i++)
		sample(b, "contimg_groups", "state", queue_states[i], (double)m->groups[i]);
	gauge1(b, "contimg_groups_stale",
	       "Groups whose files changed after their last run (requeue to redo).",
	       (double)m->stale);
	gauge1(b, "contimg_queue_depth", "Groups pending, waiting for a worker.",
	       (double)m->groups[1]);
	if (isfinite(m->newest_t_first)) {
		gauge1(b, "contimg_newest_group_timestamp_seconds",
		       "Unix time of the first file of the newest group.", m->newest_t_first);
		gauge1(b, "contimg_lag_seconds",
		       "Seconds between the newest group's first file and now.",
		       now - m->newest_t_first);
	}
	if (isfinite(m->last_completed_at))
		gauge1(b, "contimg_last_completed_group_timestamp_seconds",
		       "Unix time at which the last group completed.", m->last_completed_at);
}

static void render_stages(sbuf *b, const metricsdb_snapshot *m)
{
	const char *h = "contimg_stage_duration_seconds";

	family(b, h, "histogram",
	       "Wall seconds of each stage run, over every row of stage_timings (all time).");
	for (int s = 0; s < m->nstages; s++) {
		const metricsdb_stage *st = &m->stages[s];
		for (int i = 0; i < metrics_nbuckets; i++) {
			sb_add(b, "%s_bucket{stage=\"", h);
			sb_label(b, st->stage);
			sb_add(b, "\",le=\"%g\"} ", metrics_buckets_s[i]);
			sb_value(b, (double)st->le[i]);
		}
		sb_add(b, "%s_bucket{stage=\"", h);
		sb_label(b, st->stage);
		sb_add(b, "\",le=\"+Inf\"} ");
		sb_value(b, (double)st->count);
		sb_add(b, "%s_sum{stage=\"", h);
		sb_label(b, st->stage);
		sb_add(b, "\"} ");
		sb_value(b, st->sum_s);
		sb_add(b, "%s_count{stage=\"", h);
		sb_label(b, st->stage);
		sb_add(b, "\"} ");
		sb_value(b, (double)st->count);
	}
	family(b, "contimg_stage_failures_total", "counter",
	       "Stage runs recorded as failed in stage_timings.");
	for (int s = 0; s < m->nstages; s++)
		sample(b, "contimg_stage_failures_total", "stage", m->stages[s].stage,
		       (double)m->stages[s].failed);
	family(b, "contimg_group_events_total", "counter",
	       "Group events (error, retry, requeue, recovered, ...) per kind.");
	for (int k = 0; k < m->nkinds; k++)
		sample(b, "contimg_group_events_total", "kind", m->events[k].kind,
		       (double)m->events[k].n);
}

static void render_science(sbuf *b, const metricsdb_snapshot *m)
{
	family(b, "contimg_ese_candidates", "gauge", "ESE candidates per review status.");
	for (int i = 0; i < 3; i++)
		sample(b, "contimg_ese_candidates", "status", metricsdb_candidate_status[i],
		       (double)m->candidates[i]);
	gauge1(b, "contimg_alerts_table_present",
	       "1 when the state database has an alerts table.", m->alerts_present);
	gauge1(b, "contimg_alerts", "Rows of the alerts table (0 without one).",
	       (double)m->alerts);
	gauge1(b, "contimg_images", "Images recorded (images table).", (double)m->images);
	gauge1(b, "contimg_photometry_measurements", "Forced-photometry measurements recorded.",
	       (double)m->photometry);
	gauge1(b, "contimg_caltables_active", "Calibration tables with status active.",
	       (double)m->caltables_active);
	if (isfinite(m->daemon_heartbeat_at))
		gauge1(b, "contimg_daemon_heartbeat_timestamp_seconds",
		       "Unix time of contimgd's last heartbeat in the state database.",
		       m->daemon_heartbeat_at);
}

static void render_paths(sbuf *b, const contimg_config *conf)
{
	const struct { const char *role, *path; } p[4] = {
		{ "ingest", conf->pipe.ingest_dir },   { "state", conf->pipe.state_dir },
		{ "products", conf->pipe.products_dir }, { "scratch", conf->pipe.scratch_dir },
	};
	struct statvfs sv[4];
	int ok[4];

	for (int i = 0; i < 4; i++)
		ok[i] = p[i].path[0] && statvfs(p[i].path, &sv[i]) == 0;
	family(b, "contimg_filesystem_avail_bytes", "gauge",
	       "Bytes available to unprivileged users on the file system of each configured path.");
	for (int i = 0; i < 4; i++)
		if (ok[i]) {
			sb_add(b, "contimg_filesystem_avail_bytes{role=\"%s\",path=\"", p[i].role);
			sb_label(b, p[i].path);
			sb_add(b, "\"} ");
			sb_value(b, (double)sv[i].f_bavail * (double)sv[i].f_frsize);
		}
	family(b, "contimg_filesystem_size_bytes", "gauge",
	       "Size in bytes of the file system of each configured path.");
	for (int i = 0; i < 4; i++)
		if (ok[i]) {
			sb_add(b, "contimg_filesystem_size_bytes{role=\"%s\",path=\"", p[i].role);
			sb_label(b, p[i].path);
			sb_add(b, "\"} ");
			sb_value(b, (double)sv[i].f_blocks * (double)sv[i].f_frsize);
		}
}

int metrics_render(sqlite3 *db, const contimg_config *conf, double now, char **out, char *err,
		   size_t errlen)
{
	metricsdb_snapshot *m = malloc(sizeof *m);
	sbuf b = { 0 };
	int r;

	if (!m)
		return err_set(err, errlen, -ENOMEM, "metrics: out of memory");
	r = metricsdb_read(db, metrics_buckets_s, metrics_nbuckets, m, err, errlen);
	if (r < 0)
		goto out;
	family(&b, "contimg_info", "gauge", "The contimg version that wrote these metrics.");
	sb_add(&b, "contimg_info{version=\"");
	sb_label(&b, contimg_version());
	sb_add(&b, "\"} 1\n");
	render_groups(&b, m, now);
	render_stages(&b, m);
	render_science(&b, m);
	render_paths(&b, conf);
	if (b.oom) {
		r = err_set(err, errlen, -ENOMEM, "metrics: out of memory");
		goto out;
	}
	*out = b.s;
	b.s = NULL;
	r = 0;
out:
	free(b.s);
	free(m);
	return r;
}

int metrics_write_textfile(sqlite3 *db, const contimg_config *conf, double now,
			   const char *path, char *err, size_t errlen)
{
	char tmp[4200], *text = NULL;
	FILE *f = NULL;
	int r;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	r = metrics_render(db, conf, now, &text, err, errlen);
	if (r < 0)
		return r;
	f = fopen(tmp, "w");
	if (!f) {
		r = err_set(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fputs(text, f) < 0) {
		r = err_set(err, errlen, -EIO, "%s: write failed", tmp);
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0) {
		r = err_set(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = fsx_replace(tmp, path, err, errlen);
out:
	free(text);
	return r;
}

/* ---- contimgd's timer ---- */

struct metrics_timer {
	uv_loop_t *loop;
	uv_timer_t timer;
	uv_work_t work;
	contimg_config *conf;     /* in force (a reference) */
	contimg_config *running;  /* the one the queued work uses (a reference) */
	int busy, stopping, timer_closed;
	double interval_s;
	int rc;
	char err[ERR_LEN];
	char last_err[ERR_LEN];   /* logged already */
};

static void free_if_done(metrics_timer *t)
{
	if (!t->stopping || t->busy || !t->timer_closed)
		return;
	contimg_config_free(t->conf);
	free(t);
}

static void work_run(uv_work_t *w)
{
	metrics_timer *t = w->data;
	const contimg_config *c = t->running;
	sqlite3 *db = NULL;

	t->err[0] = 0;
	t->rc = db_open_readonly(c->pipe.db_path, &db, t->err, sizeof t->err);
	if (t->rc == 0)
		t->rc = metrics_write_textfile(db, c, clk_wall_s(), c->metrics.textfile, t->err,
					       sizeof t->err);
	db_close(db);
}

static void work_done(uv_work_t *w, int status)
{
	metrics_timer *t = w->data;

	t->busy = 0;
	if (status == 0) {
		if (t->rc < 0 && strcmp(t->err, t->last_err))
			log_warn("metrics textfile %s: %s", t->running->metrics.textfile, t->err);
		else if (t->rc == 0 && t->last_err[0])
			log_notice("metrics textfile %s written again", t->running->metrics.textfile);
		snprintf(t->last_err, sizeof t->last_err, "%s", t->rc < 0 ? t->err : "");
	}
	contimg_config_free(t->running);
	t->running = NULL;
	free_if_done(t);
}

static void on_timer(uv_timer_t *h)
{
	metrics_timer *t = h->data;

	if (t->busy || t->stopping || !t->conf->metrics.textfile[0])
		return;
	t->running = contimg_config_ref(t->conf);
	t->work.data = t;
	if (uv_queue_work(t->loop, &t->work, work_run, work_done) == 0) {
		t->busy = 1;
	} else {
		contimg_config_free(t->running);
		t->running = NULL;
	}
}

static void arm(metrics_timer *t)
{
	uint64_t ms = (uint64_t)(t->conf->metrics.interval_s * 1000);

	t->interval_s = t->conf->metrics.interval_s;
	if (t->conf->metrics.textfile[0])
		uv_timer_start(&t->timer, on_timer, 100, ms ? ms : 1000);
	else
		uv_timer_stop(&t->timer);
}

int metrics_timer_start(uv_loop_t *loop, const contimg_config *conf, metrics_timer **ret)
{
	metrics_timer *t = calloc(1, sizeof *t);

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->conf = contimg_config_ref(conf);
	uv_timer_init(loop, &t->timer);
	t->timer.data = t;
	arm(t);
	*ret = t;
	return 0;
}

void metrics_timer_configure(metrics_timer *t, const contimg_config *conf)
{
	if (!t || t->stopping)
		return;
	contimg_config *old = t->conf;
	t->conf = contimg_config_ref(conf);
	contimg_config_free(old);
	arm(t);
}

static void on_closed(uv_handle_t *h)
{
	metrics_timer *t = h->data;
	t->timer_closed = 1;
	free_if_done(t);
}

void metrics_timer_stop(metrics_timer *t)
{
	if (!t || t->stopping)
		return;
	t->stopping = 1;
	uv_timer_stop(&t->timer);
	uv_close((uv_handle_t *)&t->timer, on_closed);
}
