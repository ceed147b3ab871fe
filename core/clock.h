/*
 * core/clock.h — the one monotonic clock of the library floors.
 *
 * Stages time themselves (convert, gridding, CLEAN, the simulator) with
 * clk_mono_s(): seconds on CLOCK_MONOTONIC, immune to steps of the wall
 * clock, origin arbitrary, so only differences mean anything.  Timestamps
 * stored in the database or shown to operators come from the wall clock,
 * which is the daemon's business (daemon/util.h, util_wall_s).
 *
 * The prefix is clk_ because POSIX reserves clock_ for <time.h>.
 */
#ifndef CONTIMG_CLOCK_H
#define CONTIMG_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC (for durations). */
static inline double clk_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#endif
