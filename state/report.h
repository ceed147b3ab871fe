/*
 * state/report.h — the read-only views of the queue that contimgctl prints:
 * the state of the pipeline at a glance (`status`), the list of groups
 * (`groups`) and one group's whole record (`show`).  docs/cli.md documents
 * what the commands print; this module only reads.
 *
 * The views return plain structs holding the columns as stored: times in
 * unix seconds (0 when the column is NULL, which the CLI prints as null),
 * text as NUL-terminated strings that are NULL when the column is NULL.
 * Formatting (ISO-8601 times, JSON, tables, the "FILE: reason" of a missing
 * subband) is the caller's, so this floor knows nothing of presentation.
 * Strings belong to the struct that holds them; each struct has one function
 * that frees everything it owns.
 *
 * Errors follow core/err.h: 0 (or a documented count) on success, -EIO with
 * SQLite's message in err, -ENOMEM; the ret_* outputs are untouched on
 * failure.  All SQL is parameterised.  The other tables' views live with
 * their writers (state/calreg.h, state/photdb.h, state/pointingdb.h,
 * state/mosaicdb.h); the daemon's heartbeat row is state/heartbeat.h.
 */
#ifndef CONTIMG_REPORT_H
#define CONTIMG_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Subband numbers a view tracks: 0 .. REPORT_MAX_SUBBANDS - 1. */
#define REPORT_MAX_SUBBANDS 64

/* ---- status ---- */

/* A group being processed now (state in_progress). */
typedef struct report_running {
	char *name;         /* groups.name */
	char *stage;        /* the stage running now; NULL when none recorded yet */
	double started_at;  /* unix seconds */
	int pid;            /* the process running it (0 when NULL) */
} report_running;

/* The latest group that completed, or the latest error or retry event. */
typedef struct report_last {
	char *name;         /* groups.name; NULL when there is none */
	double at;          /* finished_at, or the event's time (unix seconds) */
	char *stage;        /* the event's stage (last error only; NULL when none) */
	char *message;      /* the event's message (last error only; NULL when none) */
} report_last;

typedef struct report_status {
	report_running *running;    /* in_progress groups, earliest start first */
	size_t nrunning;
	report_last last_completed; /* the completed group with the latest finished_at */
	report_last last_error;     /* the latest group event of kind error or retry */
	int64_t completed_since;    /* completed groups with finished_at >= since */
} report_status;

/* Fill *ret (release it with report_status_release).  The group counts per
 * state are queue_counts() (state/queue.h). */
int report_status_get(sqlite3 *db, double since, report_status *ret, char *err, size_t errlen);
void report_status_release(report_status *s); /* NULL ok */

/* ---- groups ---- */

/* A subband of 0 .. n_expected - 1 that has no usable (ok or late) file. */
typedef struct report_missing {
	int subband;
	char *bad_path;     /* a file of that subband marked bad; NULL: none came */
	char *bad_reason;   /* why it is bad; NULL when no reason was recorded */
} report_missing;

/* One row of groups with its subband census. */
typedef struct report_group {
	int64_t id;                 /* groups.id */
	char *name;                 /* YYYY-MM-DDTHH:MM:SS */
	char *state;                /* one of queue_states[] (state/queue.h) */
	int n_expected, retries, runs, calibrated;
	char *error;                /* the last failure; NULL when none */
	char *stage;                /* stage running now; NULL when none */
	double created_at, updated_at, started_at, finished_at; /* unix seconds; 0: not set */
	int stale;                  /* 1: a file a run used changed since (groups.stale) */
	char *stale_reason;         /* the latest "stale" event's message; NULL when not stale */
	int n_subbands;             /* distinct subbands 0..63 with an ok or late file */
	int nmissing;
	report_missing *missing;    /* [nmissing], ascending subband; NULL when none */
} report_group;

/* The subband census of group group_id alone (what report_group holds in
 * n_subbands and missing[].subband, without the bad files): *ret_ngood
 * distinct subbands 0..63 have an ok or late file; missing[0 .. *ret_nmissing
 * - 1] lists the subbands of 0 .. n_expected - 1 (below 64) that have
 * none, ascending. */
int report_subbands(sqlite3 *db, int64_t group_id, int n_expected, int *ret_ngood,
		    int missing[REPORT_MAX_SUBBANDS], int *ret_nmissing, char *err,
		    size_t errlen);

/* Groups newest first (by the time in their name): those in state (NULL:
 * any; "stale": those whose files changed after a run, whatever their
 * state, state/queue.h) whose time is >= since_t (unix seconds), at most limit of them (0: no
 * limit).  *ret is a new array (NULL when *ret_n == 0) the caller frees with
 * report_groups_free(*ret, *ret_n). */
int report_groups(sqlite3 *db, const char *state, int64_t since_t, int limit,
		  report_group **ret, size_t *ret_n, char *err, size_t errlen);
void report_groups_free(report_group *v, size_t n); /* NULL ok */

/* ---- show ---- */

typedef struct report_file {
	int subband;
	char *path;
	char *status;       /* ok, bad, duplicate, late */
	char *reason;       /* NULL when none */
	int64_t size;       /* bytes (0 when unknown) */
} report_file;

typedef struct report_stage_run {
	char *stage;
	double seconds;
	int ok;
	char *error;        /* NULL when none */
	double at;          /* unix seconds */
} report_stage_run;

typedef struct report_product {
	char *name, *path;
} report_product;

typedef struct report_event {
	double at;          /* unix seconds */
	char *kind;         /* error, retry, requeue, recovered, missing ... */
	char *stage;        /* NULL when none */
	char *message;      /* NULL when none */
} report_event;

/* Everything the state database knows about one group except its pointing
 * (state/pointingdb.h pointingdb_group_get). */
typedef struct report_detail {
	report_group group;
	report_file *files;          /* every subband file, by subband then path */
	size_t nfiles;
	report_stage_run *stage_runs; /* the last run's stage timings, in the order run */
	size_t nstage_runs;
	report_product *products;    /* by name */
	size_t nproducts;
	report_event *events;        /* oldest first */
	size_t nevents;
} report_detail;

/* Read group group_id into *ret: 1 when it exists (release it with
 * report_detail_release), 0 when it does not (*ret untouched). */
int report_detail_get(sqlite3 *db, int64_t group_id, report_detail *ret, char *err,
		      size_t errlen);
void report_detail_release(report_detail *d); /* NULL ok */

#endif
