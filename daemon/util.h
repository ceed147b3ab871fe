/*
 * daemon/util.h — small system utilities shared by the daemon's files
 * (contimgd, the worker pool, the pipeline runner and its stages, and the
 * views contimgctl and contimg-web print).  The
 * clocks are core/clock.h's (clk_mono_s, clk_wall_s), included here for the
 * files that time themselves.
 */
#ifndef CONTIMG_DAEMON_UTIL_H
#define CONTIMG_DAEMON_UTIL_H

#include "core/clock.h"
#include "core/config.h"

#include <stddef.h>

/* `mkdir -p path` with mode 0755 (before umask): creates every missing
 * component, each new one fsynced into its parent (core/fsx.h); components
 * that already exist are fine.  Returns 0, or -errno of
 * the mkdir that failed; -ENAMETOOLONG when path is empty or 4096 bytes or
 * longer. */
int util_mkdir_p(const char *path);

/* t_unix (seconds since the Unix epoch, rounded down) as ISO 8601 UTC,
 * "YYYY-MM-DDTHH:MM:SSZ", into buf: 21 bytes hold it; a shorter buf (or a
 * time gmtime cannot break down) gets "". */
void util_iso_utc(double t_unix, char *buf, size_t len);

#endif
