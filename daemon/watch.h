/*
 * daemon/watch.h — notice subband files arriving in the ingest directory.
 *
 * Raw inotify on a uv_poll (libuv's uv_fs_event hides IN_CLOSE_WRITE and the
 * queue overflow): IN_CLOSE_WRITE | IN_MOVED_TO.  The correlator writes a
 * temporary name and renames it, so only names of the form
 * YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 are passed on; everything else is ignored.
 * A rename into the directory (IN_MOVED_TO) hands the file to the file
 * callback on the loop thread at once; a close (IN_CLOSE_WRITE) hands it on
 * once the file has been left unchanged (size, mtime) for settle_s since,
 * re-checked by a timer on the loop (a writer may close and re-open a file it
 * has not finished).
 *
 * Rescans (start-up, the periodic timer, SIGUSR1, IN_Q_OVERFLOW) catch what
 * no event announced.  They run on libuv's threadpool with their own
 * connection to the state database, so the loop (inotify, timers, signals,
 * the watchdog) never waits for a directory of thousands of files, and
 * READY=1 does not wait for the start-up scan.  Per file a rescan costs one
 * lstat() and one indexed look-up (queue_file_known): a file registered with
 * the same size and mtime is skipped, whatever the length of the history.
 * Only a file whose mtime is at least settle_s old (or whose size and mtime a
 * previous look saw unchanged settle_s ago, for a writer whose clock is
 * ahead) is registered: a file still being written in place waits, and a
 * follow-up rescan looks again settle_s later.  Symbolic links and other
 * non-regular files are refused (logged, never registered): the pipeline
 * reads what it registered, not whatever a link points to later.
 *
 * One rescan runs at a time; asking for one while one runs queues exactly one
 * more.  Start-up order: add the watch first, then scan, so a file that lands
 * in between is seen by one or the other (possibly both: registration is
 * idempotent).
 */
#ifndef CONTIMG_WATCH_H
#define CONTIMG_WATCH_H

#include <stddef.h>

#include <sqlite3.h>
#include <uv.h>

#include "state/queue.h"

typedef struct watch watch;

/* What rescans need; copied by watch_start and watch_set_opts. */
typedef struct watch_opts {
	char db_path[4300];  /* the state database: each rescan opens its own connection */
	queue_params q;      /* grouping rules for registration */
	double settle_s;     /* [ingest] settle_s: how long a file must be unchanged */
} watch_opts;

/* What one rescan did (handed to the scan callback on the loop thread). */
typedef struct watch_scan_stats {
	char why[32];     /* "start-up", "periodic", "SIGUSR1", "overflow", "settle" */
	int names;        /* directory entries with a subband file name */
	int known;        /* registered before, size and mtime unchanged: skipped */
	int taken;        /* registered by this scan (new, rewritten, duplicate, late) */
	int pending;      /* of those, how many left their group pending (work to do) */
	int unsettled;    /* changed less than settle_s ago: looked at again later */
	int refused;      /* symbolic links and other non-regular files */
	int failed;       /* lstat or registration errors (each logged) */
	double seconds;   /* wall time of the scan on its thread */
	int rc;           /* 0, or -errno when the scan itself failed (err says why) */
	char err[256];
} watch_scan_stats;

/* Called on the loop thread for each inotify event with a matching name:
 * path = dir/name (not yet checked to be a regular file). */
typedef void (*watch_file_cb)(void *arg, const char *path);

/* Called on the loop thread when a rescan has finished. */
typedef void (*watch_scan_cb)(void *arg, const watch_scan_stats *s);

/* Watch dir (must exist).  scan_cb may be NULL.  Fails with -errno and a
 * message. */
int watch_start(uv_loop_t *loop, const char *dir, const watch_opts *o, watch_file_cb cb,
		watch_scan_cb scan_cb, void *arg, watch **ret, char *err, size_t errlen);

/* New options (configuration reload); the next rescan uses them. */
void watch_set_opts(watch *w, const watch_opts *o);

/* Start a rescan on the threadpool (why names it in the stats and log).
 * Returns 0 when started, 1 when one is running (another follows it),
 * -errno when it could not be queued. */
int watch_rescan(watch *w, const char *why);

/* 1 while a rescan is queued or running (tests, status). */
int watch_scanning(const watch *w);

/* Register one candidate file through db (any connection; used by the
 * inotify path on the loop thread and by rescans on their thread): lstat()
 * it, refuse a symbolic link (-ELOOP) or another non-regular file (-EINVAL),
 * else queue_add_file() with its size and mtime and log what happened (new,
 * rewritten, duplicate, late, stale).  *ret (may be NULL) as queue_add_file.
 * -errno and a message in err on failure (the caller logs it). */
int watch_register(sqlite3 *db, const char *path, const queue_params *q, double now,
		   queue_add_result *ret, char *err, size_t errlen);

/* Events seen / overflows since start (for status and tests). */
long watch_events(const watch *w);
long watch_overflows(const watch *w);

/* Stop watching and release: handles close asynchronously, a running rescan
 * stops at its next file, and w is freed by the loop once both are done.
 * NULL ok. */
void watch_stop(watch *w);

#endif
