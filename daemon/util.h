/*
 * daemon/util.h — small system utilities shared by the daemon's files
 * (contimgd, the worker pool, the pipeline runner and its stages).
 */
#ifndef CONTIMG_DAEMON_UTIL_H
#define CONTIMG_DAEMON_UTIL_H

#include "core/config.h"

/* Seconds on CLOCK_MONOTONIC: for durations and timeouts (immune to clock
 * steps; the origin is arbitrary). */
double util_mono_s(void);

/* Seconds since the Unix epoch on CLOCK_REALTIME: for timestamps stored in
 * the database or shown to operators. */
double util_wall_s(void);

/* `mkdir -p path` with mode 0755 (before umask): creates every missing
 * component, each new one fsynced into its parent (core/fsx.h); components
 * that already exist are fine.  Returns 0, or -errno of
 * the mkdir that failed; -ENAMETOOLONG when path is empty or 4096 bytes or
 * longer. */
int util_mkdir_p(const char *path);

/* Set the log level from [log] level of c (default info); a value
 * log_parse_level does not know leaves the level as it is. */
void util_apply_log_level(const cfg *c);

#endif
