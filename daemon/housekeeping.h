/*
 * daemon/housekeeping.h — free-space guard and retention ([housekeeping],
 * docs/operations.md "Disk space and retention").
 *
 * Three parts, so the decisions can be tested without a disk:
 *
 *   1. The guard (house_guard): given the free bytes of each watched path
 *      (incoming_dir, products_dir, state_dir, scratch_dir) and the paths
 *      paused before, which paths hold intake and claims now, and the
 *      sentence STATUS= and `contimgctl status` show.  Hysteresis: a path
 *      pauses below min_free_<path>_gb and resumes only at
 *      min_free_<path>_gb * resume_free_factor or more.  Pure.
 *   2. The plan (house_plan): given the completed groups old enough to be
 *      considered (with their raw subband files and product files), the
 *      paths and group names that must survive (files of groups that are not
 *      completed, groups running now), the scratch directories found, the
 *      rules and now: the list of actions (delete or move one file, remove
 *      one scratch directory), each with its bytes and the reason.  Pure: no
 *      file, clock or database is touched.
 *   3. The gathering and the executor (house_gather, house_execute): read
 *      the database (state/housedb.h) and the file system for the plan, then
 *      act on it: each group's removal is recorded in the database (table
 *      retention_removed, an event "retention" on the group) before its files
 *      are touched, inside a transaction that re-checks the group is still
 *      completed and not stale, so a group requeued meanwhile keeps its
 *      files and `requeue` of a group whose raw files are gone can say why.
 *
 * Safety rules the plan keeps whatever the configuration says: only groups
 * in state completed and not stale are candidates; a path that any group not
 * completed (collecting, pending, in_progress, failed) registers is never
 * touched; a scratch directory of a group in progress is never touched;
 * calibration tables (caltables_dir) are never candidates (other groups are
 * calibrated with them); only directories named like a group are considered
 * in scratch_dir.
 *
 * Errors follow core/err.h.  Library-like: nothing here logs; contimgd and
 * contimgctl log and print.
 */
#ifndef CONTIMG_HOUSEKEEPING_H
#define CONTIMG_HOUSEKEEPING_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"

/* The watched paths, in this order everywhere. */
enum { HOUSE_INCOMING = 0, HOUSE_PRODUCTS, HOUSE_STATE, HOUSE_SCRATCH, HOUSE_NPATHS };

/* "incoming_dir", "products_dir", "state_dir", "scratch_dir". */
const char *house_path_label(int i);

enum { HOUSE_RAW_DELETE = 0, HOUSE_RAW_MOVE = 1 };

/* [housekeeping], parsed once (house_settings_read; docs/config.md). */
typedef struct house_settings {
	double min_free_gb[HOUSE_NPATHS]; /* min_free_{incoming,products,state,scratch}_gb
					     (20, 20, 1, 1); 0 = not guarded */
	double resume_free_factor;        /* (1.1), >= 1: resume at min * factor */
	double guard_interval_s;          /* (30): free space checked this often */
	double interval_s;                /* (3600): retention runs this often */
	double raw_keep_days;             /* (0 = keep for ever) */
	double calibrator_raw_keep_days;  /* (0 = keep for ever) groups that solved caltables */
	int raw_action;                   /* raw_action = delete | move (delete) */
	char raw_move_to[4096];           /* raw_move: the directory (required for move) */
	double products_keep_days;        /* (0 = keep for ever) */
	char products_keep[512];          /* names kept beyond products_keep_days
					     ("image, pbcor"); "" = none */
	double scratch_keep_hours;        /* (0 = never remove) */
} house_settings;

/* Parse [housekeeping] into s.  ingest_dir is [paths] ingest_dir (raw_move_to
 * must not lie inside it, or the rescans would register the moved files
 * again).  -EINVAL with "[housekeeping] key ..." in err. */
int house_settings_read(const cfg *c, const char *ingest_dir, house_settings *s, char *err,
			size_t errlen);

/* Is any retention rule on (raw, products or scratch)? */
int house_retention_on(const house_settings *s);

/* ---- 1. the guard ---- */

typedef struct house_space {
	const char *path;   /* the directory measured ("" = not configured: never paused) */
	double free_bytes;  /* available to the daemon's user (statvfs f_bavail * f_frsize);
			       < 0 when it could not be measured (never paused) */
} house_space;

/* Measure the free bytes of path into sp->free_bytes (-1 and err when statvfs
 * fails, e.g. the directory does not exist).  sp->path = path.  0 or -errno. */
int house_space_measure(const char *path, house_space *sp, char *err, size_t errlen);

/* Which paths hold intake now, as a bit mask (bit i = path i), from the
 * paths held before (prev_mask): path i is held when its free bytes are below
 * min_free_gb[i] GB (1 GB = 1e9 bytes), or it was held and has not reached
 * min_free_gb[i] * resume_free_factor.  A path with min_free_gb 0, no
 * directory or no measurement is never held.  reason (may be NULL) gets
 * "products_dir free 3.1 GB < 20 GB" for every held path, "; "-separated
 * ("" when none). */
unsigned house_guard(const house_settings *s, const house_space sp[HOUSE_NPATHS],
		     unsigned prev_mask, char *reason, size_t len);

/* Would a failure with this errno and message be the disk's or the
 * database's lack of space?  -ENOSPC, -EDQUOT, or a message with "No space
 * left on device", "Disk quota exceeded" or SQLite's "database or disk is
 * full". */
int house_is_nospace(int r, const char *msg);

/* ---- 2. the plan ---- */

enum { HOUSE_KIND_RAW = 0, HOUSE_KIND_PRODUCT = 1, HOUSE_KIND_SCRATCH = 2 };

/* One file of a candidate group. */
typedef struct house_file {
	int kind;        /* HOUSE_KIND_RAW or HOUSE_KIND_PRODUCT */
	char name[32];   /* product name ("image"), or "sbNN" for a raw file */
	char *path;      /* owned by the group (house_groups_free) */
	int64_t bytes;   /* its size (0 when gone) */
	int gone;        /* 1: the file no longer exists (recorded, nothing to remove) */
} house_file;

/* A completed group that retention may consider. */
typedef struct house_group {
	int64_t id;
	char name[32];      /* YYYY-MM-DDTHH:MM:SS */
	double finished_at; /* unix seconds of its completion: its age counts from there */
	int stale;          /* 1: a file its run used changed since (never touched) */
	int calibrator;     /* 1: it solved calibration tables (calibrator transit) */
	char state[16];     /* "completed" for candidates (anything else is skipped) */
	house_file *files;  /* owned */
	size_t nfiles;
} house_group;

/* A directory found in scratch_dir. */
typedef struct house_scratch {
	char name[32];  /* the directory's name (a group name) */
	char *path;     /* owned by the array (house_scratch_free) */
	double mtime;   /* unix seconds of its last change */
	int64_t bytes;  /* the files in it */
} house_scratch;

enum { HOUSE_DELETE = 0, HOUSE_MOVE = 1, HOUSE_RMDIR = 2 };

/* One thing to do. */
typedef struct house_action {
	int kind;            /* HOUSE_KIND_* */
	int action;          /* HOUSE_DELETE, HOUSE_MOVE (raw, raw_action = move), HOUSE_RMDIR
				(a scratch directory and the regular files in it) */
	int64_t group_id;    /* 0 for scratch */
	char group[32];
	char name[32];       /* product or "sbNN"; "" for scratch */
	char *path;          /* owned by the array (house_actions_free) */
	char *dest;          /* HOUSE_MOVE: where to (owned); else NULL */
	int64_t bytes;
	int gone;            /* the file is already gone: only recorded */
	char why[96];        /* "raw_keep_days = 30: completed 41.2 days ago" */
} house_action;

/* The plan.  groups: candidate groups (any order; a group not "completed", or
 * stale, is skipped); protect: paths that must survive (the files of every
 * group not completed), nprotect of them; busy: names of the groups in
 * progress (their scratch directories survive); scratch: the directories
 * found in scratch_dir.  Rules (s): raw files of a group completed more than
 * raw_keep_days ago (calibrator_raw_keep_days for a calibrator group; 0 =
 * for ever) are deleted, or moved to raw_move_to/YYYY-MM-DD/<file name>;
 * products not listed in products_keep of a group completed more than
 * products_keep_days ago are deleted; scratch directories unchanged for
 * scratch_keep_hours are removed.  *ret is a new array (house_actions_free)
 * ordered by group then path, NULL when *ret_n == 0.  -ENOMEM. */
int house_plan(const house_settings *s, double now, const house_group *groups, size_t ngroups,
	       const char *const *protect, size_t nprotect, const char *const *busy, size_t nbusy,
	       const house_scratch *scratch, size_t nscratch, house_action **ret, size_t *ret_n,
	       char *err, size_t errlen);

void house_actions_free(house_action *a, size_t n);
void house_groups_free(house_group *g, size_t n);
void house_scratch_free(house_scratch *s, size_t n);

/* ---- 3. gathering and execution ---- */

/* Everything house_plan needs, read from db and the file system. */
typedef struct house_input {
	house_group *groups;
	size_t ngroups;
	char **protect;
	size_t nprotect;
	char **busy;
	size_t nbusy;
	house_scratch *scratch;
	size_t nscratch;
} house_input;

/* Fill *in for one batch: the next max_groups completed groups (by id, after
 * after_id) finished before the youngest age any rule would act on, with
 * their files (lstat()ed for sizes; *ret_last_id = the last group id covered,
 * after_id when none is left), with with_protect the protected paths and busy
 * groups (state/housedb.h; once per run is enough: the execution re-checks
 * each group), and with with_scratch the group-named directories of
 * scratch_dir ("" = none).  Release with house_input_release. */
int house_gather(sqlite3 *db, const house_settings *s, const char *scratch_dir, double now,
		 int64_t after_id, int max_groups, int with_protect, int with_scratch,
		 house_input *in, int64_t *ret_last_id, char *err, size_t errlen);
void house_input_release(house_input *in);

typedef struct house_stats {
	int done;          /* actions carried out (or recorded, for files already gone) */
	int skipped;       /* actions skipped: the group changed state meanwhile, the file
			      is no longer a regular file */
	int failed;        /* actions that failed (first message in err) */
	int64_t bytes;     /* bytes freed (moved bytes count: they left the path) */
} house_stats;

/* Carry out the plan: per group, record its removals (state/housedb.h) and
 * an event, then unlink or move the files; then the scratch directories.
 * Stops at nothing: a failed action is counted and the rest go on; the first
 * failure's message is in err.  Returns 0, or a negative errno when the
 * database could not be used at all. */
int house_execute(sqlite3 *db, const house_settings *s, const house_action *a, size_t n,
		  double now, house_stats *ret, char *err, size_t errlen);

/* What house_run_each calls for every action of the plan, after its batch
 * was carried out (dry_run: instead); a non-zero return stops the run. */
typedef int (*house_action_fn)(const house_action *a, void *arg);

/* gather + plan (+ execute unless dry_run), in batches of HOUSE_BATCH_GROUPS
 * groups so a long history never sits in memory at once, then the scratch
 * directories; as contimgd's timer and `contimgctl housekeeping` run it.
 * fn (may be NULL) sees each action; *ret_stats (may be NULL) the totals
 * (execution only). */
#define HOUSE_BATCH_GROUPS 256
int house_run_each(sqlite3 *db, const house_settings *s, const char *scratch_dir, double now,
		   int dry_run, house_action_fn fn, void *arg, house_stats *ret_stats, char *err,
		   size_t errlen);

/* house_run_each collecting every action into *ret_actions/n (may be NULL;
 * house_actions_free): for tests and small states. */
int house_run(sqlite3 *db, const house_settings *s, const char *scratch_dir, double now,
	      int dry_run, house_action **ret_actions, size_t *ret_n, house_stats *ret_stats,
	      char *err, size_t errlen);

#endif
