/*
 * daemon/watch.h — notice subband files arriving in the ingest directory.
 *
 * Raw inotify on a uv_poll (libuv's uv_fs_event hides IN_CLOSE_WRITE and the
 * queue overflow): IN_CLOSE_WRITE | IN_MOVED_TO.  The correlator writes a
 * temporary name and renames it, so only names of the form
 * YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 are passed on; everything else is ignored.
 * IN_Q_OVERFLOW (events were dropped) triggers a rescan, as does
 * watch_rescan() (start-up, periodic timer, SIGUSR1).  Start-up order: add
 * the watch first, then scan, so a file that lands in between is seen by one
 * or the other (possibly both: the callback must be idempotent).
 */
#ifndef CONTIMG_WATCH_H
#define CONTIMG_WATCH_H

#include <stddef.h>

#include <uv.h>

typedef struct watch watch;

/* Called on the loop thread for each candidate file: path = dir/name with a
 * matching name (not yet checked to be a regular file). */
typedef void (*watch_file_cb)(void *arg, const char *path);

/* Watch dir (must exist).  Fails with -errno and a message. */
int watch_start(uv_loop_t *loop, const char *dir, watch_file_cb cb, void *arg, watch **ret,
		char *err, size_t errlen);

/* Read the whole directory and call cb for every matching name.  *ret_n (may
 * be NULL) = number of matching names. */
int watch_rescan(watch *w, int *ret_n, char *err, size_t errlen);

/* Events seen / overflows since start (for status and tests). */
long watch_events(const watch *w);
long watch_overflows(const watch *w);

/* Stop watching and release (the poll handle closes asynchronously; w is
 * freed by the loop).  NULL ok. */
void watch_stop(watch *w);

#endif
