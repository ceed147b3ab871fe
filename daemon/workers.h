/*
 * daemon/workers.h — the worker pool: dedicated threads that claim pending
 * groups (oldest first) and run the pipeline on them.
 *
 * Each worker owns its own state-DB connection.  Workers report to the event
 * loop through one uv_async (thread-safe wake-up): the loop's callback runs
 * on the loop thread and may look at workers_snapshot().  libuv's own
 * threadpool is not used, so it stays free for file-system work.
 *
 * Lifecycle: workers_start → (workers_kick, workers_set_config)* →
 * workers_stop (no new claims) → [workers_cancel (stop before next stage)] →
 * workers_busy() == 0 → workers_free (joins the threads, closes the async).
 */
#ifndef CONTIMG_WORKERS_H
#define CONTIMG_WORKERS_H

#include <uv.h>

#include "daemon/pipeline.h"
#include "daemon/settings.h"

typedef struct workers workers;

typedef struct worker_status {
	int busy;                  /* running a group */
	int claiming;              /* between asking the DB for a group and publishing it */
	long long group_id;        /* the group's id (0 when idle) */
	char group[32];            /* its name */
	int end_attempts;          /* > 0: recording the group's end failed this many times;
				      retried with back-off (1 s doubling to 60 s) until it
				      succeeds: the claim is never dropped */
	char end_error[160];       /* the last failure of that state change */
	char stage[PIPE_NAME_LEN]; /* the stage running ("" between stages) */
	double started_mono;       /* CLOCK_MONOTONIC seconds when the group was claimed */
	double progress_mono;      /* last sign of life (stage boundary, pipe_progress, idle poll) */
} worker_status;

/* Start s->workers threads.  c is referenced (contimg_config_ref) for the runs
 * (s: its pipe settings with what needs a restart kept); on_event
 * is called on the loop thread after any worker reports (claim, stage,
 * finish, exit).  Fails with a negative errno (thread or DB open failure). */
int workers_start(uv_loop_t *loop, const contimg_config *c, const pipe_settings *s,
		  void (*on_event)(void *arg), void *arg, workers **ret, char *err, size_t errlen);

/* workers_start with the pool paused from its first instant when paused
 * (the free-space guard held intake at start-up; workers_pause resumes). */
int workers_start_paused(uv_loop_t *loop, const contimg_config *c, const pipe_settings *s,
			 int paused, void (*on_event)(void *arg), void *arg, workers **ret,
			 char *err, size_t errlen);

/* Wake idle workers to look for pending groups now. */
void workers_kick(workers *w);

/* New configuration for groups claimed from now on (SIGHUP). */
void workers_set_config(workers *w, const contimg_config *c, const pipe_settings *s);

/* The free-space guard (daemon/housekeeping.h): while paused no worker claims
 * a group; running groups go on.  Resuming wakes the idle workers. */
void workers_pause(workers *w, int paused);

/* How many runs failed for lack of space so far (ENOSPC, EDQUOT, SQLITE_FULL,
 * or any failure while a watched path is below its threshold): each went back
 * to pending without counting a retry (queue_defer).  The loop compares it
 * with the last value it saw to check the free space at once. */
int workers_nospace(workers *w);

/* Stop claiming; idle workers exit, busy ones exit after their group. */
void workers_stop(workers *w);

/* Ask running groups to stop before their next stage (they go back to pending). */
void workers_cancel(workers *w);

/* Number of threads still running a group / still alive. */
int workers_busy(workers *w);
int workers_alive(workers *w);

/* Copy up to max statuses into out; returns the number of workers.  A group
 * a worker holds (busy, group_id) is not an orphan; while any worker is
 * claiming, the set of held groups is not yet known. */
int workers_snapshot(workers *w, worker_status *out, int max);

/* Join all threads (call after workers_stop, when workers_alive() == 0 or
 * prepared to wait) and release everything; the uv_async is closed. */
void workers_free(workers *w);

#endif
