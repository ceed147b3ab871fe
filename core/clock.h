/*
 * core/clock.h — the clocks of every floor: one monotonic, one wall.
 *
 * Durations and timeouts (stages timing themselves, the daemon's progress
 * watch) use clk_mono_s(): seconds on CLOCK_MONOTONIC, immune to steps of
 * the wall clock, origin arbitrary, so only differences mean anything.
 * Timestamps stored in the database or shown to operators use clk_wall_s():
 * seconds since the Unix epoch on CLOCK_REALTIME.
 *
 * CPU cost (benchmarks: the stages of `contimgctl process`) uses clk_cpu_s():
 * CPU seconds of the whole process, all its threads, user and system.
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

/* Seconds since the Unix epoch on CLOCK_REALTIME (for timestamps). */
static inline double clk_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* CPU seconds of the process, every thread (CLOCK_PROCESS_CPUTIME_ID). */
static inline double clk_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#endif
