#include "daemon/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/pool.h"
#include "daemon/housekeeping.h"
#include "daemon/stage_photometry.h"
#include "daemon/util.h"
#include "state/db.h"
#include "state/queue.h"

struct worker {
	struct workers *pool;
	pthread_t thread;
	int started;
	int index;
	worker_status st; /* guarded by pool->lock */
	vis_set *vis_pool; /* this worker's visibility buffer, reused across groups */
	mem_pool *bufs;    /* this worker's cache of touched work buffers (core/pool.h) */
};

struct workers {
	uv_async_t async;
	void (*on_event)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const contimg_config *conf; /* guarded by lock */
	pipe_settings s;      /* guarded by lock */
	int stop;             /* guarded by lock */
	int kicked;           /* guarded by lock */
	int paused;           /* guarded by lock: no claims (the free-space guard) */
	atomic_int nospace;   /* runs deferred for lack of space (workers_nospace) */
	volatile int cancel;  /* read by pipe_run between stages */
	atomic_int alive;
	atomic_int busy;
	int n;
	struct worker *w;
};

static void on_async(uv_async_t *a)
{
	workers *w = a->data;
	if (w->on_event)
		w->on_event(w->arg);
}

static void progress(void *arg, const char *stage)
{
	struct worker *k = arg;
	pthread_mutex_lock(&k->pool->lock);
	k->st.progress_mono = clk_mono_s();
	snprintf(k->st.stage, sizeof k->st.stage, "%s", stage ? stage : "");
	pthread_mutex_unlock(&k->pool->lock);
	uv_async_send(&k->pool->async);
}

typedef int (*end_fn)(void *arg, char *state, char *err, size_t errlen);

/* Record the end of a group's run with fn until it succeeds: a locked or
 * full state database must not leave the group claimed for ever.  The
 * attempts show in the worker's status (STATUS=).  Back-off 1 s doubling to
 * 60 s; each attempt already waits DB_BUSY_TIMEOUT_MS for a lock. */
static void record_end(struct worker *k, const char *name, end_fn fn, void *arg, char *state)
{
	workers *w = k->pool;
	char err[ERR_LEN] = "";
	double delay = 1;

	for (int attempt = 1;; attempt++) {
		if (fn(arg, state, err, sizeof err) == 0)
			break;
		log_msg(attempt == 1 ? LOG_ERR : LOG_WARNING, name, NULL, -1,
			"cannot record the end of the run (attempt %d): %s; retrying in %.0f s",
			attempt, err, delay);
		pthread_mutex_lock(&w->lock);
		k->st.end_attempts = attempt;
		{
			/* A bounded copy: the status keeps the start of the message. */
			size_t m = strlen(err);
			if (m >= sizeof k->st.end_error)
				m = sizeof k->st.end_error - 1;
			memcpy(k->st.end_error, err, m);
			k->st.end_error[m] = 0;
		}
		k->st.progress_mono = clk_mono_s();
		pthread_mutex_unlock(&w->lock);
		uv_async_send(&w->async);
		struct timespec ts = { (time_t)delay, 0 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		delay = delay * 2 > 60 ? 60 : delay * 2;
	}
	pthread_mutex_lock(&w->lock);
	if (k->st.end_attempts)
		log_msg(LOG_NOTICE, name, NULL, -1, "end of the run recorded after %d failed attempts",
			k->st.end_attempts);
	k->st.end_attempts = 0;
	k->st.end_error[0] = 0;
	pthread_mutex_unlock(&w->lock);
}

struct end_fail {
	sqlite3 *db;
	int64_t id, claim;
	const char *error;
	const queue_params *q;
};

static int end_fail(void *arg, char *state, char *err, size_t errlen)
{
	struct end_fail *a = arg;
	int r = db_begin(a->db, err, errlen), held;

	if (r < 0)
		return r;
	/* As pipe_record: nothing is recorded over a claim taken away. */
	held = r = queue_claim_held(a->db, a->id, a->claim, err, errlen);
	if (r > 0)
		r = queue_finish(a->db, a->id, QUEUE_FAIL, a->error, 0, a->q, clk_wall_s(), state,
				 err, errlen);
	if (r < 0) {
		db_end(a->db, 0, NULL, 0);
		return r;
	}
	r = db_end(a->db, 1, err, errlen);
	if (r == 0 && !held)
		snprintf(state, 16, "superseded");
	return r;
}

struct end_run {
	pipe_ctx *ctx;
	const queue_params *q;
	int r;
	const char *e;
};

static int end_run(void *arg, char *state, char *err, size_t errlen)
{
	struct end_run *a = arg;
	return pipe_record(a->ctx, a->q, a->r, a->e, state, err, errlen);
}

struct end_defer {
	sqlite3 *db;
	int64_t id, claim;
	const char *kind; /* the event: "nospace" or "busy" */
	const char *reason;
	double delay_s;
};

/* Back to pending without counting a retry (queue_defer).  A group no longer
 * in progress under this run's claim (taken by requeue --force meanwhile) has
 * nothing to record. */
static int end_defer(void *arg, char *state, char *err, size_t errlen)
{
	struct end_defer *a = arg;
	double now = clk_wall_s();
	int r = db_begin(a->db, err, errlen), held;

	if (r < 0)
		return r;
	held = r = queue_claim_held(a->db, a->id, a->claim, err, errlen);
	if (r > 0)
		r = queue_defer_as(a->db, a->id, a->kind, a->reason, now + a->delay_s, now, err,
				   errlen);
	if (r < 0) {
		db_end(a->db, 0, NULL, 0);
		return r;
	}
	r = db_end(a->db, 1, err, errlen);
	if (r == 0)
		snprintf(state, 16, "%s", held ? "pending" : "superseded");
	return r;
}

/* Did the run fail for lack of space?  The error says so (ENOSPC, EDQUOT,
 * SQLITE_FULL), or a watched path is below its [housekeeping] threshold now:
 * a writer that reported a full disk as a plain I/O error (cfitsio, HDF5)
 * must not burn the group's retries either. */
static int out_of_space(const contimg_config *c, const pipe_settings *s, int r, const char *msg)
{
	const char *paths[HOUSE_NPATHS] = { s->ingest_dir, s->products_dir, s->state_dir,
					    s->scratch_dir };
	house_space sp[HOUSE_NPATHS];

	if (r == -ECANCELED || r >= 0)
		return 0;
	if (house_is_nospace(r, msg))
		return 1;
	for (int i = 0; i < HOUSE_NPATHS; i++)
		house_space_measure(paths[i], &sp[i], NULL, 0);
	return house_guard(&c->house, sp, 0, NULL, 0) != 0;
}

/* Did the run fail because another process held the state database's write
 * lock past the busy timeout (an operator's sqlite3 shell, a backup)?  Not
 * the group's fault: it goes back to pending without a retry counted (found
 * by the soak, docs/operations.md). */
static int db_was_busy(int r, const char *msg)
{
	return r < 0 && r != -ECANCELED && msg &&
	       (strstr(msg, "database is locked") || strstr(msg, "database table is locked"));
}

static void run_group(struct worker *k, sqlite3 *db, const contimg_config *c,
		      const pipe_settings *s, int64_t id, int64_t claim, const char *name)
{
	workers *w = k->pool;
	pipe_ctx ctx;
	char err[ERR_LEN] = "", state[16] = "";
	double t0 = clk_mono_s();
	int r;

	pthread_mutex_lock(&w->lock);
	k->st.busy = 1;
	k->st.claiming = 0;
	k->st.group_id = id;
	snprintf(k->st.group, sizeof k->st.group, "%s", name);
	k->st.stage[0] = 0;
	k->st.started_mono = k->st.progress_mono = t0;
	pthread_mutex_unlock(&w->lock);
	uv_async_send(&w->async);
	log_msg(LOG_INFO, name, NULL, -1, "worker %d: processing", k->index);

	r = pipe_ctx_init_config(&ctx, c, db, id, err, sizeof err);
	if (r < 0) {
		struct end_fail a = { db, id, claim, err, &s->q };
		log_msg(LOG_ERR, name, NULL, -1, "cannot set up the group: %s", err);
		record_end(k, name, end_fail, &a, state);
		goto out;
	}
	ctx.progress_cb = progress;
	ctx.progress_arg = k;
	ctx.cancel = &w->cancel;
	ctx.claim = claim;
	ctx.vis_pool = &k->vis_pool;
	ctx.pool = k->bufs;
	{
		char e[ERR_LEN] = "";
		struct end_run a = { &ctx, &s->q, 0, e };
		a.r = r = pipe_run(&ctx, e, sizeof e);
		if (out_of_space(c, s, r, e)) {
			struct end_defer d = { db, id, claim, "nospace", e, s->q.retry_delay_s };
			atomic_fetch_add(&w->nospace, 1);
			record_end(k, name, end_defer, &d, state);
			r = -ENOSPC;
		} else if (db_was_busy(r, e)) {
			struct end_defer d = { db, id, claim, "busy", e, s->q.retry_delay_s };
			record_end(k, name, end_defer, &d, state);
			r = -EBUSY;
		} else {
			record_end(k, name, end_run, &a, state);
		}
		queue_set_stage(db, id, NULL, NULL, 0);
		snprintf(err, sizeof err, "%s", e);
	}
	if (!strcmp(state, "superseded"))
		log_msg(LOG_WARNING, name, NULL, -1, "run given up after %.1f s: %s",
			clk_mono_s() - t0, r < 0 ? err : "the group was taken from it (requeue --force)");
	else if (r == 0)
		log_msg(LOG_NOTICE, name, NULL, -1, "completed in %.1f s (%d products%s)",
			clk_mono_s() - t0, ctx.nproducts,
			ctx.calibrated == PHOT_CAL_FULL ? ", calibrated"
			: ctx.calibrated == PHOT_CAL_BANDPASS ? ", bandpass only" : "");
	else if (r == -ECANCELED)
		log_msg(LOG_WARNING, name, NULL, -1, "stopped, back to pending: %s", err);
	else if (r == -ENOSPC)
		log_msg(LOG_WARNING, name, NULL, -1,
			"out of space, back to pending (no retry counted): %s", err);
	else if (r == -EBUSY)
		log_msg(LOG_WARNING, name, NULL, -1,
			"state database locked by another process, back to pending (no retry"
			" counted): %s", err);
	else
		log_msg(state[0] == 'f' ? LOG_ERR : LOG_WARNING, name, NULL, -1, "%s: %s",
			!strcmp(state, "pending") ? "failed, will retry" : "failed", err);
	pipe_ctx_release(&ctx);
out:
	pthread_mutex_lock(&w->lock);
	k->st.busy = 0;
	k->st.group_id = 0;
	k->st.group[0] = k->st.stage[0] = 0;
	k->st.progress_mono = clk_mono_s();
	pthread_mutex_unlock(&w->lock);
	uv_async_send(&w->async);
}

static void *worker_main(void *arg)
{
	struct worker *k = arg;
	workers *w = k->pool;
	sqlite3 *db = NULL;
	char err[ERR_LEN];

	pthread_mutex_lock(&w->lock);
	char path[sizeof w->s.db_path];
	memcpy(path, w->s.db_path, sizeof path);
	pthread_mutex_unlock(&w->lock);
	if (db_open(path, 0, &db, err, sizeof err) < 0) {
		log_err("worker %d: %s", k->index, err);
		goto out;
	}
	/* Without a cache the worker still runs, allocating afresh per group. */
	k->bufs = pool_new();
	for (;;) {
		const contimg_config *c;
		pipe_settings s;
		int64_t id = 0, claim = 0;
		char name[QUEUE_NAME_LEN];
		int r;

		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		c = contimg_config_ref(w->conf);
		s = w->s;
		w->kicked = 0;
		k->st.progress_mono = clk_mono_s();
		int paused = w->paused;
		k->st.claiming = !paused;
		pthread_mutex_unlock(&w->lock);

		/* Paused by the free-space guard: no claim until it resumes. */
		r = paused ? 0 : queue_claim_ex(db, (int)getpid(), clk_wall_s(), &id, name, &claim,
						err, sizeof err);
		if (r != 1) {
			pthread_mutex_lock(&w->lock);
			k->st.claiming = 0;
			pthread_mutex_unlock(&w->lock);
		}
		if (r < 0)
			log_err("worker %d: claim: %s", k->index, err);
		if (r == 1) {
			atomic_fetch_add(&w->busy, 1);
			run_group(k, db, c, &s, id, claim, name);
			atomic_fetch_sub(&w->busy, 1);
			contimg_config_free(c);
			continue;
		}
		contimg_config_free(c);

		/* Nothing to do: sleep until kicked or the poll interval passes
		 * (contimgctl requeue/process write the DB without telling us). */
		pthread_mutex_lock(&w->lock);
		if (!w->stop && !w->kicked) {
			struct timespec until;
			double dt = s.poll_interval_s;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += (time_t)dt;
			until.tv_nsec += (long)((dt - (double)(time_t)dt) * 1e9);
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cond, &w->lock, &until);
		}
		pthread_mutex_unlock(&w->lock);
	}
out:
	db_close(db);
	vis_free(k->vis_pool);
	k->vis_pool = NULL;
	pool_free(k->bufs);
	k->bufs = NULL;
	atomic_fetch_sub(&w->alive, 1);
	uv_async_send(&w->async);
	return NULL;
}

static int start(uv_loop_t *loop, const contimg_config *c, const pipe_settings *s, int paused,
		 void (*on_event)(void *arg), void *arg, workers **ret, char *err, size_t errlen);

int workers_start(uv_loop_t *loop, const contimg_config *c, const pipe_settings *s,
		  void (*on_event)(void *arg), void *arg, workers **ret, char *err, size_t errlen)
{
	return start(loop, c, s, 0, on_event, arg, ret, err, errlen);
}

int workers_start_paused(uv_loop_t *loop, const contimg_config *c, const pipe_settings *s,
			 int paused, void (*on_event)(void *arg), void *arg, workers **ret,
			 char *err, size_t errlen)
{
	return start(loop, c, s, paused, on_event, arg, ret, err, errlen);
}

static int start(uv_loop_t *loop, const contimg_config *c, const pipe_settings *s, int paused,
		 void (*on_event)(void *arg), void *arg, workers **ret, char *err, size_t errlen)
{
	workers *w = calloc(1, sizeof *w);
	int r;

	if (!w)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	w->w = calloc((size_t)s->workers, sizeof *w->w);
	if (!w->w) {
		free(w);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->on_event = on_event;
	w->arg = arg;
	w->conf = contimg_config_ref(c);
	w->s = *s;
	w->n = s->workers;
	atomic_init(&w->alive, 0);
	atomic_init(&w->busy, 0);
	atomic_init(&w->nospace, 0);
	w->paused = paused != 0; /* before any thread can claim */
	r = uv_async_init(loop, &w->async, on_async);
	if (r < 0) {
		contimg_config_free(w->conf);
		free(w->w);
		free(w);
		return err_set(err, errlen, -EIO, "uv_async_init: %s", uv_strerror(r));
	}
	w->async.data = w;
	for (int i = 0; i < w->n; i++) {
		w->w[i].pool = w;
		w->w[i].index = i;
		atomic_fetch_add(&w->alive, 1);
		r = pthread_create(&w->w[i].thread, NULL, worker_main, &w->w[i]);
		if (r) {
			atomic_fetch_sub(&w->alive, 1);
			workers_stop(w);
			workers_free(w);
			return err_set(err, errlen, -r, "cannot start worker thread: %s", strerror(r));
		}
		w->w[i].started = 1;
	}
	*ret = w;
	return 0;
}

void workers_kick(workers *w)
{
	pthread_mutex_lock(&w->lock);
	w->kicked = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void workers_set_config(workers *w, const contimg_config *c, const pipe_settings *s)
{
	const contimg_config *old;
	pthread_mutex_lock(&w->lock);
	old = w->conf;
	w->conf = contimg_config_ref(c);
	/* The database path and the thread count are fixed for this run. */
	char path[sizeof w->s.db_path];
	int n = w->s.workers;
	memcpy(path, w->s.db_path, sizeof path);
	w->s = *s;
	memcpy(w->s.db_path, path, sizeof path);
	w->s.workers = n;
	pthread_mutex_unlock(&w->lock);
	contimg_config_free(old);
}

void workers_pause(workers *w, int paused)
{
	pthread_mutex_lock(&w->lock);
	w->paused = paused != 0;
	w->kicked = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int workers_nospace(workers *w)
{
	return atomic_load(&w->nospace);
}

void workers_stop(workers *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void workers_cancel(workers *w)
{
	w->cancel = 1;
}

int workers_busy(workers *w)
{
	return atomic_load(&w->busy);
}

int workers_alive(workers *w)
{
	return atomic_load(&w->alive);
}

int workers_snapshot(workers *w, worker_status *out, int max)
{
	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < w->n && i < max; i++)
		out[i] = w->w[i].st;
	pthread_mutex_unlock(&w->lock);
	return w->n;
}

static void on_closed(uv_handle_t *h)
{
	workers *w = h->data;
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->w);
	free(w);
}

void workers_free(workers *w)
{
	if (!w)
		return;
	workers_stop(w);
	for (int i = 0; i < w->n; i++)
		if (w->w[i].started)
			pthread_join(w->w[i].thread, NULL);
	contimg_config_free(w->conf);
	w->conf = NULL;
	uv_close((uv_handle_t *)&w->async, on_closed);
}
