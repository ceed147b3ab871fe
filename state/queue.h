/*
 * state/queue.h — the group queue: subband files, groups and their states.
 *
 *   collecting ──(all subbands, or collect timeout with ≥ min_subbands)──▶ pending
 *   collecting ──(collect timeout with < min_subbands)──────────────────▶ failed
 *   pending ──queue_claim──▶ in_progress ──queue_finish──▶ completed | pending (retry) | failed
 *   completed | failed ──queue_requeue──▶ pending;  in_progress ──queue_recover(_unheld)──▶ pending
 *   in_progress ──queue_requeue_force──▶ pending (operator)
 *
 * Grouping: a subband file named YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 joins the
 * group whose first (earliest) timestamp is nearest to its own and within
 * tolerance_s; otherwise it starts a new group.  A group is named by its
 * earliest file's timestamp; the name follows an earlier file that arrives
 * while the group is still collecting/pending (nothing has been produced yet).
 * Paths are unique: a re-delivered or rewritten file updates its row.
 *
 * Every function that reads then writes does so inside db_begin() (BEGIN
 * IMMEDIATE, or a savepoint when the caller already holds a transaction).
 * Errors: negative errno with a sentence in err (-EIO database, -EINVAL bad
 * name, -ENOENT unknown group, -EBUSY group running elsewhere).
 */
#ifndef CONTIMG_QUEUE_H
#define CONTIMG_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define QUEUE_NAME_LEN 32 /* "YYYY-MM-DDTHH:MM:SS" + NUL, with room */

typedef struct queue_params {
	int nsubbands;       /* subbands per group (16) */
	double tolerance_s;  /* grouping tolerance (60) */
	int min_subbands;    /* fewest good subbands a group may be processed with */
	int max_retries;     /* failed runs retried this many times before `failed` */
	double retry_delay_s;/* back-off before a retried group may be claimed again */
} queue_params;

/* Fill p with the documented defaults (16, 60 s, 16, 2, 30 s). */
void queue_params_default(queue_params *p);

/* Parse a subband file's base name.  Returns 0 and fills *ret_ts (unix seconds,
 * UTC) and *ret_subband (NN) when name is exactly YYYY-MM-DDTHH:MM:SS_sbNN.hdf5
 * with a valid calendar date; -EINVAL otherwise.  Either pointer may be NULL. */
int queue_parse_file_name(const char *name, int64_t *ret_ts, int *ret_subband);

/* Parse/validate a group name "YYYY-MM-DDTHH:MM:SS"; -EINVAL otherwise. */
int queue_parse_group_name(const char *name, int64_t *ret_ts);

/* Format unix seconds as a group name into buf (>= QUEUE_NAME_LEN). */
void queue_format_ts(int64_t ts, char *buf, size_t buflen);

enum queue_add_outcome {
	QUEUE_ADD_NEW = 0,       /* new file row */
	QUEUE_ADD_KNOWN = 1,     /* path already registered, unchanged */
	QUEUE_ADD_UPDATED = 2,   /* path known, size/mtime changed (rewritten) */
	QUEUE_ADD_DUPLICATE = 3, /* the group already has this subband from another file */
	QUEUE_ADD_LATE = 4,      /* group already running/finished: recorded, not processed
				    until the group is requeued */
};

typedef struct queue_add_result {
	int outcome;                 /* enum queue_add_outcome */
	int64_t group_id;
	char group_name[QUEUE_NAME_LEN];
	char state[16];              /* the group's state afterwards */
	int subband;
	int stale;                   /* 1: a file the group's run used changed (UPDATED) */
} queue_add_result;

/* Register the subband file at path (absolute; its base name must parse).
 * size/mtime describe the file (stat).  now = wall-clock unix seconds.  The
 * group becomes pending when all p->nsubbands subbands are present.
 *
 * A second file for a subband is a DUPLICATE only when the group already has
 * a usable (ok or late) file for it: one whose earlier copy was found bad
 * takes the new file.  A known path whose size or mtime changed is UPDATED:
 * before the group has run (collecting, pending) a bad file gets another
 * chance (status ok again); once a run read it (in_progress, completed,
 * failed, and the file ok or bad) the file keeps the status that run gave it
 * and the group is marked stale (groups.stale = 1, a "stale" event naming the
 * file, ret->stale = 1) until it is requeued.  ret may be NULL. */
int queue_add_file(sqlite3 *db, const char *path, int64_t size, double mtime,
		   const queue_params *p, double now, queue_add_result *ret, char *err,
		   size_t errlen);

/* Is path registered with this size and mtime?  1 yes, 0 no (unknown, or
 * changed since).  One indexed look-up (subband_files.path is unique), so a
 * rescan's cost per known file does not grow with the history. */
int queue_file_known(sqlite3 *db, const char *path, int64_t size, double mtime, char *err,
		     size_t errlen);

/* Move collecting groups created more than timeout_s before now to pending
 * (≥ min_subbands present; the absent subbands are recorded as a "missing"
 * event) or failed (fewer; the reason lists what is present).  *ret_changed
 * (may be NULL) = number of groups moved. */
int queue_collect_timeouts(sqlite3 *db, const queue_params *p, double timeout_s, double now,
			   int *ret_changed, char *err, size_t errlen);

/* Who runs an in_progress group.  A pid alone is not an identity: after a
 * reboot or a wrap-around an unrelated live process may hold it.  The owner
 * is (pid, the machine's boot id, the process's start time in clock ticks
 * since boot: field 22 of /proc/PID/stat).  An owner is alive when its pid
 * is alive, the boot id is this boot's and the pid's start time is the
 * recorded one; an unknown boot id ("") or start time (-1) is not compared
 * (rows written before the identity was recorded). */
typedef struct queue_owner {
	int64_t pid;
	char boot_id[40];
	int64_t start;
} queue_owner;

/* Fill o with pid's identity as of now (boot id and start time from /proc;
 * "" and -1 when unreadable, e.g. pid is not running). */
void queue_owner_of(int64_t pid, queue_owner *o);

/* 1 when the process o names is running, 0 when it is gone or its pid now
 * belongs to another process. */
int queue_owner_alive(const queue_owner *o);

/* Claim the oldest pending group (by first timestamp) whose back-off has
 * passed: it becomes in_progress owned by pid.  Returns 1 and fills *ret_id
 * and ret_name (>= QUEUE_NAME_LEN) when one was claimed, 0 when none. */
int queue_claim(sqlite3 *db, int pid, double now, int64_t *ret_id, char *ret_name,
		char *err, size_t errlen);

/* Claims record pid's identity (queue_owner_of) with the pid. */

/* Every claim also advances groups.claim; the value identifies that one run.
 * queue_claim_ex is queue_claim that also returns it in *ret_claim (read in
 * the claim's own transaction). */
int queue_claim_ex(sqlite3 *db, int pid, double now, int64_t *ret_id, char *ret_name,
		   int64_t *ret_claim, char *err, size_t errlen);

/* *ret_claim = the claim number of in_progress group id (0 when it is not
 * in_progress).  For a caller that has just claimed it with
 * queue_claim_group. */
int queue_current_claim(sqlite3 *db, int64_t id, int64_t *ret_claim, char *err, size_t errlen);

/* 1 when group id is still in_progress under claim (nobody took it away with
 * queue_requeue_force, recovery or another claim since), 0 when not, < 0 on
 * error.  A run checks it between stages and, inside the transaction that
 * records its end, before recording anything. */
int queue_claim_held(sqlite3 *db, int64_t id, int64_t claim, char *err, size_t errlen);

/* Claim one named group whatever its state (contimgctl process): -EBUSY when
 * it is in_progress under a live owner (queue_owner_alive) other than pid,
 * -ENOENT if unknown. */
int queue_claim_group(sqlite3 *db, int64_t id, int pid, double now, char *err, size_t errlen);

/* Look a group up by name: 1 and *ret_id when found, 0 when not. */
int queue_find(sqlite3 *db, const char *name, int64_t *ret_id, char *err, size_t errlen);

/* Group name of id into buf (>= QUEUE_NAME_LEN); -ENOENT when unknown. */
int queue_group_name(sqlite3 *db, int64_t id, char *buf, size_t buflen, char *err,
		     size_t errlen);

typedef struct queue_file {
	int64_t id;
	char *path;     /* owned by the array; queue_files_free() frees */
	int subband;
	char status[12];
} queue_file;

/* The group's files to process (status ok, bad or late; not duplicates),
 * sorted by subband.  *ret is a new array (queue_files_free). */
int queue_files(sqlite3 *db, int64_t group_id, queue_file **ret, int *ret_n, char *err,
		size_t errlen);
void queue_files_free(queue_file *f, int n);

/* Mark a file good (reason NULL) or bad (reason = why it counts as missing). */
int queue_set_file_status(sqlite3 *db, int64_t file_id, const char *reason, char *err,
			  size_t errlen);

/* The stage now running (NULL or "" between stages). */
int queue_set_stage(sqlite3 *db, int64_t group_id, const char *stage, char *err, size_t errlen);

/* Record one stage's timing of the current run (replaces the previous run's row). */
int queue_record_stage(sqlite3 *db, int64_t group_id, const char *stage, double seconds, int ok,
		       const char *error, char *err, size_t errlen);

/* Forget the stage timings of earlier runs (a new run starts). */
int queue_clear_stage_timings(sqlite3 *db, int64_t group_id, char *err, size_t errlen);

/* Append an event (kind: "error", "retry", "requeue", "recovered", "missing", ...). */
int queue_event(sqlite3 *db, int64_t group_id, const char *kind, const char *stage,
		const char *message, char *err, size_t errlen);

/* Upsert a product (group, name) → path. */
int queue_add_product(sqlite3 *db, int64_t group_id, const char *name, const char *path,
		      char *err, size_t errlen);

/* Drop every product row of the group (before re-recording a new run's set). */
int queue_clear_products(sqlite3 *db, int64_t group_id, char *err, size_t errlen);

enum queue_outcome {
	QUEUE_DONE = 0,      /* all stages passed → completed */
	QUEUE_FAIL = 1,      /* failed; retried while retries < max_retries */
	QUEUE_FAIL_HARD = 2, /* failed; a retry cannot help → failed now */
	QUEUE_CANCEL = 3,    /* stopped by shutdown → pending again, no retry counted */
};

/* End a run of an in_progress group.  error is kept (NULL for DONE).  For
 * QUEUE_DONE, calibrated is stored.  *ret_state (may be NULL, >= 16 bytes)
 * receives the new state. */
int queue_finish(sqlite3 *db, int64_t group_id, int outcome, const char *error, int calibrated,
		 const queue_params *p, double now, char *ret_state, char *err, size_t errlen);

/* completed | failed (or pending) → pending with reason recorded; retries reset.
 * The group's files are reconsidered: bad and late files become ok (tried
 * again), a subband without a usable file takes its duplicates (the load
 * stage keeps the first readable copy), and the stale mark is cleared.
 * -ENOENT unknown group, -EBUSY when collecting, or when in_progress (err says whether its owner
 * is alive, gone, or its pid reused, and that the daemon's recovery or
 * queue_requeue_force frees it). */
int queue_requeue(sqlite3 *db, int64_t group_id, const char *reason, double now, char *err,
		  size_t errlen);

/* queue_requeue that also takes an in_progress group from its owner, alive or
 * not (the operator knows better: e.g. a wedged process).  The claim it
 * takes is over: a live run under it stops at its next stage and records
 * nothing (queue_claim_held).  The event names the owner it was taken from. */
int queue_requeue_force(sqlite3 *db, int64_t group_id, const char *reason, double now,
			char *err, size_t errlen);

/* Requeue every failed group; *ret_n = how many. */
int queue_retry_failed(sqlite3 *db, const char *reason, double now, int *ret_n, char *err,
		       size_t errlen);

/* Recovery: in_progress groups whose owner is gone (queue_owner_alive; or is self_pid:
 * at start-up our earlier incarnation cannot still be running them) go back
 * to pending with a "recovered" event.  With max_retries >= 0 the
 * interruption counts as a failed run (retries + 1) and a group interrupted
 * more than max_retries times becomes failed, naming the stage it died in —
 * a group that crashes the daemon must not crash-loop it.  max_retries < 0
 * (an orderly shutdown requeueing its own groups) counts nothing.
 * *ret_n = groups moved. */
int queue_recover(sqlite3 *db, int self_pid, int max_retries, double now, int *ret_n,
		  char *err, size_t errlen);

/* Running-daemon recovery of claims nobody holds: in_progress groups owned
 * by this very process (self_pid with its identity), claimed before
 * claimed_before (wall-clock; a claim made after the caller looked at its
 * workers is not in held yet), whose id is not in held[0..nheld-1] (the
 * groups its workers are running) go back to pending (or failed) as
 * queue_recover would.  *ret_n = groups moved. */
int queue_recover_unheld(sqlite3 *db, int self_pid, const int64_t *held, int nheld,
			 double claimed_before, int max_retries, double now, int *ret_n,
			 char *err, size_t errlen);

/* A run that failed for lack of space (a full disk or database: ENOSPC,
 * EDQUOT, SQLITE_FULL) is not the group's fault: the in_progress group goes
 * back to pending with reason as its error and a "nospace" event, claimable
 * again from not_before, and no retry is counted (retries unchanged).
 * -ENOENT when the group is not in progress. */
int queue_defer(sqlite3 *db, int64_t group_id, const char *reason, double not_before,
		double now, char *err, size_t errlen);

/* queue_defer with another event kind: "busy" for a run that failed because
 * another process held the state database's write lock past the busy
 * timeout (daemon/workers.c) — not the group's fault either. */
int queue_defer_as(sqlite3 *db, int64_t group_id, const char *kind, const char *reason,
		   double not_before, double now, char *err, size_t errlen);

/* Groups per state: counts[0..4] for collecting, pending, in_progress,
 * completed, failed. */
extern const char *const queue_states[5];
int queue_counts(sqlite3 *db, int64_t counts[5], char *err, size_t errlen);

#endif
