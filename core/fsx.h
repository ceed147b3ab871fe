/*
 * core/fsx.h — durable replacement of a file: a product survives a power cut.
 *
 * Every product (FITS image, exported visibilities, calibration table, SVG
 * plot, FFTW wisdom) is written to a temporary name beside its final name and
 * then moved into place.  rename(2) alone makes the switch atomic for the
 * running system, but not durable: after a power cut ext4/xfs may show the new
 * name with an empty or partial file (the data were still in the page cache)
 * or the old name again (the directory entry was).  fsx_replace() does the
 * four steps in the order that leaves, at every instant, either the old
 * complete file or the new complete file under the final name:
 *
 *   1. the caller has written and closed tmp              (FSX_WRITTEN)
 *   2. fsync(tmp): its data and size are on disk            (FSX_SYNCED)
 *   3. rename(tmp, path): the atomic switch                 (FSX_RENAMED)
 *   4. fsync(the directory of path): the switch is on disk  (FSX_DIR_SYNCED)
 *
 * Only after step 4 may the caller record the product (the database commit
 * that follows is itself durable: docs/operations.md "Durability").
 *
 * Fault injection (tests only): fsx_set_hook() installs a function called
 * after each step with the step's number and the final path.  A hook that
 * kills the process there shows what a crash between the steps leaves.
 * contimgd installs one only when started with --enable-fault-injection and
 * [debug] crash_at_step is set; no library code installs one.
 */
#ifndef CONTIMG_FSX_H
#define CONTIMG_FSX_H

#include <stddef.h>

enum {
	FSX_WRITTEN = 1,    /* tmp written and closed (fsx_replace was called) */
	FSX_SYNCED = 2,     /* tmp fsynced */
	FSX_RENAMED = 3,    /* tmp renamed to path */
	FSX_DIR_SYNCED = 4, /* path's directory fsynced: durable */
};

/* "written", "synced", "renamed", "dir_synced" for the steps above; NULL for
 * any other number. */
const char *fsx_step_name(int step);

/* The step named s (as fsx_step_name), or -EINVAL. */
int fsx_step_parse(const char *s);

/* fsync the file at path (opened read-only).  0 or -errno. */
int fsx_sync_file(const char *path);

/* fsync the directory that holds path ("." when path has no '/').  0 or
 * -errno. */
int fsx_sync_parent(const char *path);

/* Move the written and closed file tmp to path durably (steps 2-4 above).
 * Returns 0, or -errno with "path: fsync|rename|directory fsync ...: reason"
 * in err.  On a failure before the rename tmp is removed and path is
 * untouched; when only the directory fsync fails, path already holds the new
 * file (not yet known to be durable) and the error is returned all the same. */
int fsx_replace(const char *tmp, const char *path, char *err, size_t errlen);

/* Fault injection: fn(step, path, arg) is called after each step of every
 * fsx_replace (step FSX_WRITTEN on entry).  NULL removes it.  Install before
 * any thread calls fsx_replace (the pointer is read without a lock). */
typedef void (*fsx_hook_fn)(int step, const char *path, void *arg);
void fsx_set_hook(fsx_hook_fn fn, void *arg);

/* Remove the temporaries a crashed writer left in dir: regular files whose
 * name starts with prefix (NULL or "" = any) and ends with ".tmp" or ".tmp"
 * followed only by digits (the "<name>.tmp<pid>" of the FITS writers).
 * Returns the number removed (>= 0), or -errno when dir cannot be read
 * (-ENOENT: no such directory, nothing to clean). */
int fsx_remove_temporaries(const char *dir, const char *prefix);

#endif
