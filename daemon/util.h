/*
 * daemon/util.h — small system utilities shared by the daemon's files
 * (contimgd, the worker pool, the pipeline runner and its stages).  The
 * clocks are core/clock.h's (clk_mono_s, clk_wall_s), included here for the
 * files that time themselves.
 */
#ifndef CONTIMG_DAEMON_UTIL_H
#define CONTIMG_DAEMON_UTIL_H

#include "core/clock.h"
#include "core/config.h"

/* `mkdir -p path` with mode 0755 (before umask): creates every missing
 * component, each new one fsynced into its parent (core/fsx.h); components
 * that already exist are fine.  Returns 0, or -errno of
 * the mkdir that failed; -ENAMETOOLONG when path is empty or 4096 bytes or
 * longer. */
int util_mkdir_p(const char *path);

#endif
