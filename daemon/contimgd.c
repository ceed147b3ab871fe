/*
 * contimgd — the streaming daemon: watches the ingest directory, groups the
 * subband files in the state database, and runs the pipeline on complete
 * groups with a pool of worker threads.  See docs/operations.md.
 *
 *   contimgd [--config FILE] [--foreground] [--log-format auto|text|json|journal]
 *            [--log-level debug|info|notice|warning|err] [--enable-fault-injection]
 *   contimgd --check-config [--config FILE] [--enable-fault-injection]
 *
 * The configuration (daemon/settings.h) is parsed and validated once at
 * start-up: any unknown section or key, or bad value, stops the start (exit
 * 2) with "FILE:LINE: [section] key: reason".  --check-config does only that
 * and exits 0 (valid) or 2.  The [debug] fault-injection keys (stage_delay_s,
 * crash_at_step) are refused unless --enable-fault-injection is given (the
 * integration tests; ops/contimgd.service never passes it).
 *
 * Signals: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the configuration,
 * SIGUSR1 rescans the ingest directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "core/config.h"
#include "core/err.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/version.h"
#include "daemon/earth.h"
#include "daemon/housekeeping.h"
#include "daemon/metrics.h"
#include "daemon/pipeline.h"
#include "daemon/settings.h"
#include "daemon/util.h"
#include "daemon/watch.h"
#include "plot/axes.h"
#include "daemon/workers.h"
#include "state/db.h"
#include "state/heartbeat.h"
#include "state/queue.h"

/* One housekeeping pass on libuv's threadpool (daemon/housekeeping.h): the
 * free space of the watched paths, and retention when it is due.  The loop
 * fills the inputs, the pass the outputs; the loop reads them when done. */
typedef struct house_job {
	house_settings hs;
	char paths[HOUSE_NPATHS][4096];
	char db_path[4200];
	int retention;            /* run retention in this pass */
	house_space sp[HOUSE_NPATHS];
	int rc;                   /* retention's result */
	char err[ERR_LEN];
	size_t nactions;
	house_stats st;
} house_job;

/* How long the start waits for a locked or full state database (below the
 * unit's TimeoutStartSec=120). */
#define START_RETRY_S 90

typedef struct daemon_state {
	uv_loop_t *loop;
	const char *config_path;
	contimg_config *conf;     /* the configuration in force */
	pipe_settings s;          /* conf->pipe, with what needs a restart kept from the start */
	sqlite3 *db;              /* the loop thread's connection */
	watch *watch;
	workers *workers;
	metrics_timer *metrics;   /* [metrics] textfile, rewritten off the loop */
	uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
	uv_timer_t tick, rescan, wdog, grace, eop;
	uv_work_t eop_work;       /* an [earth] eop_file check on libuv's threadpool */
	int eop_busy;             /* eop_work is queued or running */
	int eop_again;            /* a forced check was asked for while busy */
	int eop_force;            /* the running check re-reads even an unchanged file */
	char eop_path[4096];      /* the file it checks (copied on the loop thread) */
	int eop_rc;               /* its result (earth_table_update) */
	char eop_err[ERR_LEN];
	int draining;
	int pid_fd;
	char pid_path[PATH_MAX];
	uint64_t wdog_usec;
	double last_heartbeat;
	int stalled_logged;
	char last_status[512];
	uv_timer_t house;         /* [housekeeping] guard_interval_s */
	uv_work_t house_work;
	house_job job;
	int house_busy, house_again;
	double house_last_retention; /* CLOCK_MONOTONIC s of the last retention pass (0: none) */
	unsigned paused;          /* the guard's held paths (bit i = HOUSE_* path i) */
	char pause_reason[512];
	int nospace_seen;         /* workers_nospace() last seen */
} daemon_state;

/* [debug] crash_at_step (fault injection, --enable-fault-injection only):
 * the step of core/fsx.h after which the daemon kills itself with SIGKILL,
 * as a power cut or kill -9 would stop it between the steps of a product
 * write; 0 = off.  Set at start-up and on reload, read by the workers. */
static atomic_int crash_step;

static void crash_hook(int step, const char *path, void *arg)
{
	(void)arg;
	if (step != atomic_load(&crash_step))
		return;
	log_warn("fault injection: SIGKILL after step '%s' of %s", fsx_step_name(step), path);
	raise(SIGKILL);
}

/* STATUS= for systemctl status, and the daemon row contimgctl status reads. */
static void update_status(daemon_state *d)
{
	int64_t c[5] = { 0 };
	char st[512], running[300] = "";
	worker_status ws[64];
	int n = 0;
	size_t len = 0;
	double now = clk_wall_s();

	if (queue_counts(d->db, c, NULL, 0) < 0)
		return;
	if (d->workers)
		n = workers_snapshot(d->workers, ws, 64);
	for (int i = 0; i < n && i < 64; i++) {
		if (!ws[i].busy)
			continue;
		int k;
		if (ws[i].end_attempts)
			k = snprintf(running + len, sizeof running - len,
				     "%s%s (end not recorded, retry %d: %.60s)", len ? ", " : "",
				     ws[i].group, ws[i].end_attempts, ws[i].end_error);
		else
			k = snprintf(running + len, sizeof running - len, "%s%s (%s)", len ? ", " : "",
				     ws[i].group, ws[i].stage[0] ? ws[i].stage : "starting");
		if (k < 0 || (size_t)k >= sizeof running - len)
			break;
		len += (size_t)k;
	}
	snprintf(st, sizeof st, "%s%s%.200s%s%lld pending, %lld collecting, %lld failed; running: %s",
		 d->draining ? "stopping; " : "", d->paused ? "paused: " : "",
		 d->paused ? d->pause_reason : "", d->paused ? "; " : "", (long long)c[1], (long long)c[0],
		 (long long)c[4], running[0] ? running : "none");
	if (strcmp(st, d->last_status)) {
		sd_notifyf(0, "STATUS=%s", st);
		snprintf(d->last_status, sizeof d->last_status, "%s", st);
	}
	if (now - d->last_heartbeat >= 5) {
		heartbeat_beat(d->db, (int)getpid(), now, st, NULL, 0);
		d->last_heartbeat = now;
	}
}

/* An inotify event: the writer closed or renamed the file, so it is
 * registered at once (symbolic links and non-regular files are refused). */
static void on_file(void *arg, const char *path)
{
	daemon_state *d = arg;
	queue_add_result res;
	char err[ERR_LEN];
	int r;

	/* Paused by the free-space guard: the file stays where it is; the
	 * rescan at resume registers it. */
	if (d->draining || d->paused)
		return;
	r = watch_register(d->db, path, &d->s.q, clk_wall_s(), &res, err, sizeof err);
	if (r < 0) {
		/* Gone again since the event: nothing to register. */
		if (r != -ENOENT)
			log_warn("%s", err);
		return;
	}
	/* The queue counts behind the status pass over the groups table: once
	 * per group that became ready, not per file (the tick refreshes them
	 * every second anyway). */
	if (!strcmp(res.state, "pending")) {
		if (d->workers)
			workers_kick(d->workers);
		update_status(d);
	}
}

/* A rescan finished on the threadpool: one status update and one kick for
 * the whole scan, never one per file (the queue counts cost a scan of the
 * groups table each time). */
static void on_scan_done(void *arg, const watch_scan_stats *s)
{
	daemon_state *d = arg;

	if (s->rc < 0) {
		log_err("rescan (%s): %s", s->why, s->err);
		return;
	}
	/* The periodic scan that found nothing new stays quiet. */
	log_msg(s->taken || s->unsettled || s->failed || strcmp(s->why, "periodic") ? LOG_INFO
										    : LOG_DEBUG,
		NULL, NULL, -1,
		"rescan (%s): %d subband files, %d known, %d registered, %d still changing,"
		" %d refused, %d failed in %.3f s", s->why, s->names, s->known, s->taken,
		s->unsettled, s->refused, s->failed, s->seconds);
	if (d->draining)
		return;
	if (s->pending && d->workers)
		workers_kick(d->workers);
	update_status(d);
}

static void watch_opts_fill(const daemon_state *d, watch_opts *o)
{
	memset(o, 0, sizeof *o);
	snprintf(o->db_path, sizeof o->db_path, "%s", d->s.db_path);
	o->q = d->s.q;
	o->settle_s = d->s.settle_s;
}

static void rescan(daemon_state *d, const char *why)
{
	if (!d->watch)
		return;
	if (d->paused) {
		log_msg(LOG_DEBUG, NULL, NULL, -1, "rescan (%s) skipped: paused (%s)", why,
			d->pause_reason);
		return;
	}
	if (watch_rescan(d->watch, why) < 0)
		log_err("rescan (%s): could not start", why);
}

static void on_rescan_timer(uv_timer_t *t)
{
	rescan(t->data, "periodic");
}

/* Our own claims that no worker holds (a worker that lost its group without
 * recording its end) go back to pending: only a restart freed them before.
 * Skipped while a worker is between its claim and publishing it; claims
 * younger than a minute are left alone (a wall-clock step must not make a
 * fresh claim look older than the look at the workers). */
static int recover_unheld(daemon_state *d)
{
	worker_status ws[64];
	int64_t held[64];
	int n, nheld = 0, moved = 0;
	double t = clk_wall_s();
	char err[ERR_LEN];

	if (!d->workers)
		return 0;
	n = workers_snapshot(d->workers, ws, 64);
	for (int i = 0; i < n && i < 64; i++) {
		if (ws[i].claiming)
			return 0;
		if (ws[i].busy)
			held[nheld++] = ws[i].group_id;
	}
	if (queue_recover_unheld(d->db, (int)getpid(), held, nheld, t - 60, d->s.q.max_retries,
				 clk_wall_s(), &moved, err, sizeof err) < 0)
		log_err("recover unheld claims: %s", err);
	else if (moved)
		log_warn("%d group(s) claimed by this daemon but run by no worker: back to pending",
			 moved);
	return moved;
}

static void on_tick(uv_timer_t *t)
{
	daemon_state *d = t->data;
	char err[ERR_LEN];
	int changed = 0, recovered = 0;

	if (queue_collect_timeouts(d->db, &d->s.q, d->s.collect_timeout_s, clk_wall_s(), &changed, err,
				   sizeof err) < 0)
		log_err("collect timeout: %s", err);
	/* A `contimgctl process` that died leaves its group in_progress. */
	if (queue_recover(d->db, 0, d->s.q.max_retries, clk_wall_s(), &recovered, err, sizeof err) < 0)
		log_err("recover: %s", err);
	recovered += recover_unheld(d);
	if ((changed || recovered) && d->workers)
		workers_kick(d->workers);
	update_status(d);
}

/* WATCHDOG=1 only while every busy worker has shown progress recently; a
 * stuck stage stops the pings and systemd restarts us (then recovery puts the
 * group back to pending). */
static void on_wdog(uv_timer_t *t)
{
	daemon_state *d = t->data;
	worker_status ws[64];
	int n = d->workers ? workers_snapshot(d->workers, ws, 64) : 0;
	double now = clk_mono_s();

	for (int i = 0; i < n && i < 64; i++) {
		if (ws[i].busy && now - ws[i].progress_mono > d->s.stall_timeout_s) {
			if (!d->stalled_logged)
				log_msg(LOG_ERR, ws[i].group, ws[i].stage, -1,
					"no progress for %.0f s; withholding the watchdog ping",
					now - ws[i].progress_mono);
			d->stalled_logged = 1;
			return;
		}
	}
	d->stalled_logged = 0;
	sd_notify(0, "WATCHDOG=1");
}

/* ---- the IERS table ([earth] eop_file; daemon/earth.h) ----
 * Checked on libuv's threadpool so the loop never reads or parses it: every
 * EARTH_CHECK_S (re-read when the file's mtime or size changed, forced once
 * EARTH_REREAD_S passed since the last read) and on SIGHUP (forced). */

static void eop_check_work(uv_work_t *w)
{
	daemon_state *d = w->data;
	d->eop_err[0] = 0;
	d->eop_rc = earth_table_update(d->eop_path, d->eop_force, d->eop_err, sizeof d->eop_err);
}

static void eop_check(daemon_state *d, int force);

static void eop_check_done(uv_work_t *w, int status)
{
	daemon_state *d = w->data;
	char desc[4400];

	d->eop_busy = 0;
	if (status == 0) {
		if (d->eop_rc < 0) {
			log_err("Earth orientation table: %s; keeping the table in use", d->eop_err);
		} else if (d->eop_rc > 0) {
			eop_table *t = earth_table_get();
			earth_table_describe(t, desc, sizeof desc);
			if (t)
				log_notice("Earth orientation table re-read: %s", desc);
			else
				log_warn("no Earth orientation table ([earth] eop_file): UT1 = UTC and no "
					 "polar motion assumed (0.1 s of UT1-UTC moves sources by "
					 "1.5\"*cos(dec) in RA)");
			eop_table_free(t);
		}
	}
	if (d->eop_again && !d->draining) {
		d->eop_again = 0;
		eop_check(d, 1);
	}
}

static void eop_check(daemon_state *d, int force)
{
	if (d->eop_busy) {
		d->eop_again |= force;
		return;
	}
	snprintf(d->eop_path, sizeof d->eop_path, "%s", d->s.earth.eop_file);
	d->eop_force = force || (d->eop_path[0] && clk_mono_s() - earth_table_read_at() >= EARTH_REREAD_S);
	d->eop_work.data = d;
	if (uv_queue_work(d->loop, &d->eop_work, eop_check_work, eop_check_done) == 0)
		d->eop_busy = 1;
}

static void on_eop_timer(uv_timer_t *t)
{
	eop_check(t->data, 0);
}

/* Every EARTH_CHECK_S, or [debug] eop_check_s (tests). */
static void eop_timer_start(daemon_state *d)
{
	double s = d->conf->eop_check_s;
	uint64_t ms = (uint64_t)(fmax(s, 0.1) * 1000);
	uv_timer_start(&d->eop, on_eop_timer, ms, ms);
}

/* ---- housekeeping: the free-space guard and retention ([housekeeping]) ----
 * statvfs and retention's file work run on libuv's threadpool (a slow or
 * hung file system must not stop the loop); the guard's decision is applied
 * on the loop: pause or resume intake (on_file, rescans) and claims
 * (workers_pause), STATUS= and the heartbeat row say why. */

static void apply_guard(daemon_state *d, unsigned mask, const char *reason)
{
	char err[ERR_LEN];

	if (d->draining)
		return;
	if (mask && !d->paused)
		log_warn("free-space guard: pausing intake and claims: %s", reason);
	else if (!mask && d->paused)
		log_notice("free-space guard: resuming intake and claims (was: %s)", d->pause_reason);
	if (mask != d->paused || (mask && strcmp(reason, d->pause_reason))) {
		if (heartbeat_set_paused(d->db, mask ? reason : NULL, err, sizeof err) < 0)
			log_msg(LOG_DEBUG, NULL, NULL, -1, "heartbeat: %s", err);
	}
	if (mask != d->paused && d->workers)
		workers_pause(d->workers, mask != 0);
	if (!mask && d->paused) {
		d->paused = 0;
		d->pause_reason[0] = 0;
		/* Files that arrived while paused were not registered. */
		rescan(d, "resume");
		if (d->workers)
			workers_kick(d->workers);
	}
	d->paused = mask;
	snprintf(d->pause_reason, sizeof d->pause_reason, "%s", mask ? reason : "");
	update_status(d);
}

static void house_fill(daemon_state *d, house_job *j)
{
	memset(j, 0, sizeof *j);
	j->hs = d->conf->house;
	snprintf(j->paths[HOUSE_INCOMING], sizeof j->paths[0], "%s", d->s.ingest_dir);
	snprintf(j->paths[HOUSE_PRODUCTS], sizeof j->paths[0], "%s", d->s.products_dir);
	snprintf(j->paths[HOUSE_STATE], sizeof j->paths[0], "%s", d->s.state_dir);
	snprintf(j->paths[HOUSE_SCRATCH], sizeof j->paths[0], "%s", d->s.scratch_dir);
	snprintf(j->db_path, sizeof j->db_path, "%s", d->s.db_path);
}

static void house_measure(house_job *j)
{
	for (int i = 0; i < HOUSE_NPATHS; i++)
		house_space_measure(j->paths[i], &j->sp[i], NULL, 0);
}

static void house_work_cb(uv_work_t *w)
{
	house_job *j = &((daemon_state *)w->data)->job;
	sqlite3 *db = NULL;

	if (j->retention) {
		j->rc = db_open(j->db_path, 0, &db, j->err, sizeof j->err);
		if (j->rc == 0)
			j->rc = house_run(db, &j->hs, j->paths[HOUSE_SCRATCH], clk_wall_s(), 0, NULL,
					  NULL, &j->st, j->err, sizeof j->err);
		db_close(db);
	}
	house_measure(j);
}

static void house_check(daemon_state *d);

static void house_done_cb(uv_work_t *w, int status)
{
	daemon_state *d = w->data;
	house_job *j = &d->job;
	char reason[512];
	unsigned mask;

	d->house_busy = 0;
	if (status != 0 || d->draining)
		return;
	if (j->retention) {
		if (j->rc < 0)
			log_err("retention: %s", j->err);
		else if (j->st.done || j->st.failed || j->st.skipped)
			log_msg(j->st.failed ? LOG_WARNING : LOG_NOTICE, NULL, NULL, -1,
				"retention: %d file(s) or scratch directories removed (%.2f GB freed),"
				" %d skipped, %d failed%s%s", j->st.done, j->st.bytes / 1e9,
				j->st.skipped, j->st.failed, j->st.failed ? ": " : "",
				j->st.failed ? j->err : "");
	}
	mask = house_guard(&d->conf->house, j->sp, d->paused, reason, sizeof reason);
	apply_guard(d, mask, reason);
	if (d->house_again) {
		d->house_again = 0;
		house_check(d);
	}
}

/* A pass now (or right after the running one). */
static void house_check(daemon_state *d)
{
	double now = clk_mono_s();

	if (d->draining)
		return;
	if (d->house_busy) {
		d->house_again = 1;
		return;
	}
	house_fill(d, &d->job);
	if (house_retention_on(&d->job.hs) &&
	    (d->house_last_retention == 0 || now - d->house_last_retention >= d->job.hs.interval_s)) {
		d->job.retention = 1;
		d->house_last_retention = now;
	}
	d->house_work.data = d;
	if (uv_queue_work(d->loop, &d->house_work, house_work_cb, house_done_cb) == 0)
		d->house_busy = 1;
}

static void on_house_timer(uv_timer_t *t)
{
	house_check(t->data);
}

static void house_timer_start(daemon_state *d)
{
	uint64_t ms = (uint64_t)(d->conf->house.guard_interval_s * 1000);
	uv_timer_start(&d->house, on_house_timer, ms, ms);
}

static void close_all(daemon_state *d)
{
	uv_timer_stop(&d->tick);
	uv_timer_stop(&d->rescan);
	uv_timer_stop(&d->wdog);
	uv_timer_stop(&d->grace);
	uv_timer_stop(&d->eop);
	uv_timer_stop(&d->house);
	uv_close((uv_handle_t *)&d->house, NULL);
	uv_close((uv_handle_t *)&d->eop, NULL);
	uv_close((uv_handle_t *)&d->tick, NULL);
	uv_close((uv_handle_t *)&d->rescan, NULL);
	uv_close((uv_handle_t *)&d->wdog, NULL);
	uv_close((uv_handle_t *)&d->grace, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	uv_close((uv_handle_t *)&d->sig_usr1, NULL);
	metrics_timer_stop(d->metrics);
	d->metrics = NULL;
	watch_stop(d->watch);
	d->watch = NULL;
	workers_free(d->workers);
	d->workers = NULL;
}

static void on_worker_event(void *arg)
{
	daemon_state *d = arg;
	/* A run failed for lack of space: look at the disks now. */
	if (d->workers && workers_nospace(d->workers) != d->nospace_seen) {
		d->nospace_seen = workers_nospace(d->workers);
		house_check(d);
	}
	update_status(d);
	if (d->draining && d->workers && workers_alive(d->workers) == 0) {
		log_notice("all workers finished; exiting");
		close_all(d);
	}
}

/* The grace period is over: groups still running go back to pending now
 * (their threads are abandoned mid-stage; the next start re-runs them). */
static void on_grace(uv_timer_t *t)
{
	daemon_state *d = t->data;
	char err[ERR_LEN];
	int n = 0;

	workers_cancel(d->workers);
	if (queue_recover(d->db, (int)getpid(), -1, clk_wall_s(), &n, err, sizeof err) < 0)
		log_err("requeue at shutdown: %s", err);
	log_warn("stop grace period (%.0f s) over: %d running group(s) requeued; exiting",
		 d->s.stop_grace_s, n);
	db_close(d->db);
	if (d->pid_path[0])
		unlink(d->pid_path);
	_exit(0);
}

static void on_term(uv_signal_t *h, int sig)
{
	daemon_state *d = h->data;

	if (d->draining) {
		log_notice("signal %d again while stopping; still waiting for workers", sig);
		return;
	}
	d->draining = 1;
	sd_notify(0, "STOPPING=1");
	log_notice("signal %d: stopping intake, letting %d running group(s) finish (grace %.0f s)",
		   sig, d->workers ? workers_busy(d->workers) : 0, d->s.stop_grace_s);
	watch_stop(d->watch);
	d->watch = NULL;
	uv_timer_stop(&d->rescan);
	uv_timer_stop(&d->tick);
	uv_timer_stop(&d->eop);
	uv_timer_stop(&d->house);
	if (!d->workers) {
		close_all(d);
		return;
	}
	workers_stop(d->workers);
	uv_timer_start(&d->grace, on_grace, (uint64_t)(d->s.stop_grace_s * 1000), 0);
	on_worker_event(d);
}

/* Log a configuration's problems (one per line of err) at level. */
static void log_lines(int level, const char *what, const char *err)
{
	const char *p = err;

	do {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		log_msg(level, NULL, NULL, -1, "%s%.*s", what, n, p);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
}

static void on_hup(uv_signal_t *h, int sig)
{
	daemon_state *d = h->data;
	contimg_config *c = NULL;
	pipe_settings s;
	char err[4 * ERR_LEN];
	(void)sig;

	if (d->draining) {
		log_notice("SIGHUP while stopping: ignored");
		return;
	}
	sd_notify(0, "RELOADING=1");
	/* A bad file keeps the configuration in force: running and later
	 * groups see no change, and the operator sees why in the log. */
	if (contimg_config_load(d->config_path, 0, &c, err, sizeof err) < 0) {
		log_lines(LOG_WARNING, "reload failed, keeping the old configuration: ", err);
		sd_notify(0, "READY=1");
		return;
	}
	s = c->pipe;
	if (strcmp(s.ingest_dir, d->s.ingest_dir) || strcmp(s.state_dir, d->s.state_dir) ||
	    s.workers != d->s.workers)
		log_warn("reload: ingest_dir, state_dir and workers take effect at the next restart");
	/* Keep what cannot change while running. */
	memcpy(s.ingest_dir, d->s.ingest_dir, sizeof s.ingest_dir);
	memcpy(s.state_dir, d->s.state_dir, sizeof s.state_dir);
	memcpy(s.db_path, d->s.db_path, sizeof s.db_path);
	s.workers = d->s.workers;
	d->s = s;
	if (d->workers)
		workers_set_config(d->workers, c, &s);
	contimg_config_free(d->conf);
	d->conf = c;
	atomic_store(&crash_step, c->crash_at_step);
	log_set_level(c->log_level);
	metrics_timer_configure(d->metrics, c);
	if (s.rescan_interval_s > 0)
		uv_timer_start(&d->rescan, on_rescan_timer, (uint64_t)(s.rescan_interval_s * 1000),
			       (uint64_t)(s.rescan_interval_s * 1000));
	else
		uv_timer_stop(&d->rescan);
	if (d->watch) {
		watch_opts wo;
		watch_opts_fill(d, &wo);
		watch_set_opts(d->watch, &wo);
	}
	log_notice("configuration reloaded from %s", d->config_path);
	/* Re-read the IERS table (maybe another file now) off the loop. */
	eop_timer_start(d);
	eop_check(d, 1);
	/* New thresholds or rules apply now (a lower threshold resumes). */
	house_timer_start(d);
	house_check(d);
	sd_notify(0, "READY=1");
	if (d->workers)
		workers_kick(d->workers);
}

static void on_usr1(uv_signal_t *h, int sig)
{
	(void)sig;
	rescan(h->data, "SIGUSR1");
}

/* One daemon per state directory: an flock()ed pid file. */
static int take_pid_file(daemon_state *d, char *err, size_t errlen)
{
	char buf[32];
	int n;

	if ((size_t)snprintf(d->pid_path, sizeof d->pid_path, "%s/contimgd.pid", d->s.state_dir) >=
	    sizeof d->pid_path)
		return err_set(err, errlen, -ENAMETOOLONG, "state_dir too long");
	d->pid_fd = open(d->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->pid_fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", d->pid_path, strerror(errno));
	if (flock(d->pid_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(d->pid_fd);
		d->pid_fd = -1;
		d->pid_path[0] = 0;
		return err_set(err, errlen, e == EWOULDBLOCK ? -EEXIST : -e,
			       "another contimgd runs on state_dir %s", d->s.state_dir);
	}
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (ftruncate(d->pid_fd, 0) < 0 || write(d->pid_fd, buf, (size_t)n) != n)
		return err_set(err, errlen, -errno, "%s: %s", d->pid_path, strerror(errno));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: contimgd [--config FILE] [--foreground] [--log-format "
		   "auto|text|json|journal] [--log-level LEVEL]\n"
		   "                [--enable-fault-injection]\n"
		   "       contimgd --check-config [--config FILE] [--enable-fault-injection]\n"
		   "       contimgd --help | --version\n"
		   "  FILE defaults to $CONTIMG_CONFIG, then /etc/contimg/contimg.conf\n");
}

/* --check-config: what the start-up checks (every section, key and value, and
 * the [earth] eop_file table), nothing started.  0 valid, 2 not. */
static int check_config(const char *path)
{
	contimg_config *c = NULL;
	char err[4 * ERR_LEN];

	if (contimg_config_load(path, 0, &c, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (earth_table_update(c->pipe.earth.eop_file, 1, err, sizeof err) < 0) {
		fprintf(stderr, "[earth] eop_file: %s\n", err);
		contimg_config_free(c);
		return 2;
	}
	earth_table_update("", 0, NULL, 0);
	contimg_config_free(c);
	printf("%s: configuration OK\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	daemon_state d;
	char err[ERR_LEN];
	const char *env = getenv("CONTIMG_CONFIG");
	int foreground = 0, fmt = LOG_FORMAT_AUTO, level = -1, r, n = 0, rc = 1, check = 0;
	int faults = 0;

	memset(&d, 0, sizeof d);
	d.pid_fd = -1;
	d.config_path = env && *env ? env : "/etc/contimg/contimg.conf";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			d.config_path = argv[++i];
		} else if (!strcmp(argv[i], "--check-config")) {
			check = 1;
		} else if (!strcmp(argv[i], "--enable-fault-injection")) {
			/* Before any configuration is built: [debug] stage_delay_s
			 * and crash_at_step are refused without it. */
			contimg_config_allow_faults(1);
			faults = 1;
		} else if (!strcmp(argv[i], "--foreground") || !strcmp(argv[i], "-f")) {
			foreground = 1;
		} else if (!strcmp(argv[i], "--log-format") && i + 1 < argc) {
			fmt = log_parse_format(argv[++i]);
			if (fmt < 0) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
			level = log_parse_level(argv[++i]);
			if (level < 0) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("contimgd %s\n", contimg_version());
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (check)
		return check_config(d.config_path);
	log_init("contimgd", fmt, LOG_INFO);
	/* Until the loop's handlers are installed (after the configuration, the
	 * pid file and up to START_RETRY_S of waiting for the database), a reload
	 * or rescan request would end the process (their default action): the
	 * start reads the configuration and scans the directory anyway.  Found
	 * by the soak. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	{
		char errs[4 * ERR_LEN];
		if (contimg_config_load(d.config_path, 0, &d.conf, errs, sizeof errs) < 0) {
			log_lines(LOG_ERR, "", errs);
			return 2;
		}
	}
	d.s = d.conf->pipe;
	if (faults) {
		atomic_store(&crash_step, d.conf->crash_at_step);
		fsx_set_hook(crash_hook, NULL); /* before any worker starts */
		log_warn("fault injection enabled (--enable-fault-injection): a test run");
	}
	if (level < 0)
		level = d.conf->log_level;
	log_set_level(level);
	/* The IERS table is part of the configuration: one that cannot be read
	 * stops the start, as a malformed key does. */
	if (earth_table_update(d.s.earth.eop_file, 1, err, sizeof err) < 0) {
		log_err("[earth] eop_file: %s", err);
		contimg_config_free(d.conf);
		return 2;
	}
	{
		eop_table *t = earth_table_get();
		char desc[4400];
		earth_table_describe(t, desc, sizeof desc);
		if (t)
			log_notice("Earth orientation table %s", desc);
		else
			log_warn("no Earth orientation table ([earth] eop_file): UT1 = UTC and no polar "
				 "motion assumed (0.1 s of UT1-UTC moves sources by 1.5\"*cos(dec) in RA)");
		eop_table_free(t);
	}
	if (!foreground && !getenv("NOTIFY_SOCKET") && daemon(1, 1) < 0) {
		log_err("daemon(): %s", strerror(errno));
		goto out;
	}
	if ((r = util_mkdir_p(d.s.state_dir)) < 0 || (r = util_mkdir_p(d.s.products_dir)) < 0 ||
	    (r = util_mkdir_p(d.s.ingest_dir)) < 0) {
		log_err("cannot create the state, products or ingest directory: %s", strerror(-r));
		goto out;
	}
	if (take_pid_file(&d, err, sizeof err) < 0) {
		log_err("%s", err);
		goto out;
	}
	/* Open, then recovery: our previous incarnation's groups go back to
	 * pending.  Both take the write lock; a lock held for longer than the
	 * busy timeout (an operator's sqlite3 shell) or a full state file system
	 * is waited for, as the workers wait to record a run's end, instead of
	 * exiting into a restart loop (found by the soak, tests/soak/).  After
	 * START_RETRY_S the error stops the start as before (within the unit's
	 * TimeoutStartSec). */
	for (double t0 = clk_mono_s(), delay = 1;; delay = delay * 2 > 10 ? 10 : delay * 2) {
		const char *what = "";
		if ((r = db_open(d.s.db_path, 1, &d.db, err, sizeof err)) >= 0) {
			what = "recovery: ";
			r = queue_recover(d.db, (int)getpid(), d.s.q.max_retries, clk_wall_s(), &n, err,
					  sizeof err);
			if (r >= 0)
				break;
			db_close(d.db);
			d.db = NULL;
		}
		if (r == -EPROTO || r == -ENOENT || clk_mono_s() - t0 > START_RETRY_S) {
			log_err("%s%s", what, err);
			goto out;
		}
		log_warn("%s%s; retrying in %.0f s", what, err, delay);
		struct timespec ts = { (time_t)delay, 0 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (n)
		log_notice("recovered %d interrupted group(s): back to pending", n);
	heartbeat_start(d.db, (int)getpid(), clk_wall_s(), NULL, 0);

	d.loop = uv_default_loop();
	uv_signal_init(d.loop, &d.sig_term);
	uv_signal_init(d.loop, &d.sig_int);
	uv_signal_init(d.loop, &d.sig_hup);
	uv_signal_init(d.loop, &d.sig_usr1);
	d.sig_term.data = d.sig_int.data = d.sig_hup.data = d.sig_usr1.data = &d;
	uv_signal_start(&d.sig_term, on_term, SIGTERM);
	uv_signal_start(&d.sig_int, on_term, SIGINT);
	uv_signal_start(&d.sig_hup, on_hup, SIGHUP);
	uv_signal_start(&d.sig_usr1, on_usr1, SIGUSR1);
	uv_timer_init(d.loop, &d.tick);
	uv_timer_init(d.loop, &d.rescan);
	uv_timer_init(d.loop, &d.wdog);
	uv_timer_init(d.loop, &d.grace);
	uv_timer_init(d.loop, &d.eop);
	uv_timer_init(d.loop, &d.house);
	d.tick.data = d.rescan.data = d.wdog.data = d.grace.data = d.eop.data = &d;
	d.house.data = &d;
	/* The guard's first look, before the start-up scan registers anything
	 * (statvfs on the loop this once: nothing else runs yet). */
	{
		char reason[512];
		house_fill(&d, &d.job);
		house_measure(&d.job);
		unsigned mask = house_guard(&d.conf->house, d.job.sp, 0, reason, sizeof reason);
		if (mask) {
			log_warn("free-space guard: pausing intake and claims: %s", reason);
			heartbeat_set_paused(d.db, reason, NULL, 0);
			d.paused = mask;
			snprintf(d.pause_reason, sizeof d.pause_reason, "%s", reason);
		} else {
			heartbeat_set_paused(d.db, NULL, NULL, 0);
		}
	}

	/* Watch first, then scan: a file landing in between is seen twice at
	 * worst, never missed. */
	{
		watch_opts wo;
		watch_opts_fill(&d, &wo);
		if (watch_start(d.loop, d.s.ingest_dir, &wo, on_file, on_scan_done, &d, &d.watch, err,
				sizeof err) < 0) {
			log_err("%s", err);
			goto out_loop;
		}
	}
	/* On the threadpool: READY=1 below does not wait for it, however long
	 * the history. */
	rescan(&d, "start-up");
	on_tick(&d.tick);
	if (workers_start_paused(d.loop, d.conf, &d.s, d.paused != 0, on_worker_event, &d,
				 &d.workers, err, sizeof err) < 0) {
		log_err("%s", err);
		goto out_loop;
	}
	uv_timer_start(&d.tick, on_tick, 1000, 1000);
	eop_timer_start(&d);
	house_timer_start(&d);
	house_check(&d);
	if (metrics_timer_start(d.loop, d.conf, &d.metrics) < 0)
		log_warn("metrics textfile: out of memory; not written");
	if (d.s.rescan_interval_s > 0)
		uv_timer_start(&d.rescan, on_rescan_timer, (uint64_t)(d.s.rescan_interval_s * 1000),
			       (uint64_t)(d.s.rescan_interval_s * 1000));
	if (sd_watchdog_enabled(0, &d.wdog_usec) > 0 && d.wdog_usec > 0) {
		uint64_t ms = d.wdog_usec / 2000;
		uv_timer_start(&d.wdog, on_wdog, ms ? ms : 1, ms ? ms : 1);
	}
	sd_notify(0, "READY=1");
	log_notice("ready: watching %s with %d worker(s), %d thread(s) each; state %s",
		   d.s.ingest_dir, d.s.workers, d.s.threads, d.s.db_path);
	update_status(&d);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = 0;
	plot_release_statics(); /* fontconfig caches of the quick-look pictures */
	log_notice("stopped");
	goto out;
out_loop:
	close_all(&d);
	uv_run(d.loop, UV_RUN_DEFAULT);
out:
	if (d.loop)
		uv_loop_close(d.loop);
	db_close(d.db);
	if (d.pid_fd >= 0) {
		unlink(d.pid_path);
		close(d.pid_fd);
	}
	contimg_config_free(d.conf);
	earth_table_update("", 0, NULL, 0);
	return rc;
}
