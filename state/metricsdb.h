/*
 * state/metricsdb.h — the numbers of the metrics exposition (daemon/metrics.h)
 * read from the state database in one read transaction, so every number of
 * one rendering comes from the same snapshot.
 *
 * What is read (docs/operations.md "Metrics"):
 *   groups per state (groups.state), the newest group's start (MAX t_first),
 *   the last completed group (its finished_at and t_first), the stage wall
 *   times as a histogram per stage over every row of stage_timings (all time:
 *   a group re-run replaces its rows), group_events per kind (error, retry,
 *   requeue, ...), ESE candidates per status, the alerts table's rows when
 *   that table exists, images and photometry rows, and the daemon row's
 *   heartbeat.
 *
 * Read-only: works on a connection from db_open_readonly.
 */
#ifndef CONTIMG_METRICSDB_H
#define CONTIMG_METRICSDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define METRICSDB_MAX_BOUNDS 24  /* histogram bucket upper bounds (without +Inf) */
#define METRICSDB_MAX_STAGES 32
#define METRICSDB_MAX_KINDS 32

typedef struct metricsdb_stage {
	char stage[32];
	int64_t count;                      /* rows */
	double sum_s;                       /* total seconds */
	int64_t le[METRICSDB_MAX_BOUNDS];   /* rows with seconds <= bounds[i] (cumulative) */
	int64_t failed;                     /* rows with ok = 0 */
} metricsdb_stage;

typedef struct metricsdb_snapshot {
	int64_t groups[5];          /* collecting, pending, in_progress, completed, failed
				       (queue_states order) */
	int64_t stale;              /* groups whose files changed after their run */
	double newest_t_first;      /* unix seconds of the newest group's first file; NaN: none */
	double last_completed_at;   /* finished_at of the latest completed group; NaN: none */
	double last_completed_t_first; /* its t_first; NaN: none */
	int nstages;
	metricsdb_stage stages[METRICSDB_MAX_STAGES]; /* by stage name */
	int nkinds;
	struct { char kind[32]; int64_t n; } events[METRICSDB_MAX_KINDS]; /* group_events */
	int64_t candidates[3];      /* ese_candidates: new, investigated, dismissed */
	int alerts_present;         /* 1 when an alerts table exists */
	int64_t alerts;             /* its rows (0 when absent) */
	int64_t images;             /* rows of images */
	int64_t photometry;         /* rows of photometry */
	int64_t caltables_active;   /* caltables with status 'active' */
	int daemon_pid;             /* the daemon row (0: none) */
	double daemon_heartbeat_at; /* its heartbeat, unix seconds; NaN: none */
} metricsdb_snapshot;

/* Candidate statuses in the order of metricsdb_snapshot.candidates. */
extern const char *const metricsdb_candidate_status[3];

/* Fill *ret (zeroed first) from db.  bounds[0 .. nbounds) are the histogram's
 * upper bounds in seconds, ascending (nbounds <= METRICSDB_MAX_BOUNDS).
 * Stages and event kinds beyond the maxima are left out.  Returns 0, -EINVAL
 * for bad bounds, -EIO with SQLite's message in err. */
int metricsdb_read(sqlite3 *db, const double *bounds, int nbounds, metricsdb_snapshot *ret,
		   char *err, size_t errlen);

/* 1 when a table of that name exists in db, 0 when not, -EIO. */
int metricsdb_table_exists(sqlite3 *db, const char *name, char *err, size_t errlen);

#endif
