/*
 * daemon/earth.h — Earth orientation for the pipeline: the process's IERS
 * table and the choice of UT1 − UTC and polar motion for a group
 * (docs/config.md [earth], docs/conventions.md "Time").
 *
 * The table: one per process, read from [earth] eop_file (core/eop.h).
 * contimgd reads it at start-up (a file that cannot be read or parsed stops
 * the start, like any configuration error), again on SIGHUP, and checks it
 * every EARTH_CHECK_S seconds on libuv's threadpool — re-read when its
 * modification time or size changed, and at least once a day — so the
 * event loop never parses; a failed re-read keeps the table in use and is
 * logged.  `contimgctl process` reads it once at start.  A group takes a
 * reference when it starts (pipe_ctx_init) and keeps that table for its
 * whole run.  The table is immutable and reference counted; the holder is
 * guarded by a mutex, so any thread may update or get it.
 *
 * The choice (earth_for_group), for each quantity on its own:
 *   UT1 − UTC:     [pipeline] dut1_s when set (an explicit override), else
 *                  the table at the group's mid time, else 0;
 *   polar motion:  [earth] xp_arcsec / yp_arcsec when either is set (the
 *                  other is then 0), else the table, else 0.
 * It says where each value came from and warns when no table was used for a
 * quantity that has no override, when the time lies outside the table, and
 * when the group is more than [earth] eop_max_age_days after the table's
 * last measured day (its predictions get worse: ~1 ms of UT1 after 10 days,
 * ~10 ms after 100).
 */
#ifndef CONTIMG_EARTH_H
#define CONTIMG_EARTH_H

#include <stddef.h>

#include "core/astro.h"
#include "core/eop.h"

#define EARTH_CHECK_S 600.0     /* contimgd looks at the file's mtime this often */
#define EARTH_REREAD_S 86400.0  /* and re-reads it at least this often */

/* The [earth] keys and the [pipeline] dut1_s override, as read at start-up
 * and reload (pipe_settings_read). */
typedef struct earth_settings {
	char eop_file[4096];      /* [earth] eop_file: absolute path, "" = no table */
	double max_age_days;      /* [earth] eop_max_age_days (30) */
	int dut1_set;             /* [pipeline] dut1_s is given */
	double dut1_s;            /* its value (|dut1_s| < 1) */
	int pm_set;               /* [earth] xp_arcsec or yp_arcsec is given */
	double xp_arcsec, yp_arcsec;
} earth_settings;

/* Make path the process's table.  It is (re)read when path differs from the
 * table's, when the file's mtime or size changed since the last read, or
 * when force is set; a failed read keeps the old table.  "" drops it.
 * Returns 1 when a new table was installed (or dropped), 0 when nothing
 * changed, a negative errno with "PATH...: reason" in err on failure. */
int earth_table_update(const char *path, int force, char *err, size_t errlen);

/* A new reference to the current table (NULL when there is none); release
 * it with eop_table_free. */
eop_table *earth_table_get(void);

/* CLOCK_MONOTONIC seconds of the last successful read (0: never). */
double earth_table_read_at(void);

/* One line describing the current table ("" when none):
 * "PATH: N days MJD a..b (YYYY-MM-DD..YYYY-MM-DD), measured to YYYY-MM-DD". */
void earth_table_describe(const eop_table *t, char *buf, size_t len);

typedef struct earth_choice {
	astro_eop eop;            /* the values to use */
	int quality;              /* the table lookup's enum eop_quality, -1 when no table was used */
	int warn;                 /* 1: log the text as a warning */
	char text[768];           /* what was used and where from (and why it is a warning) */
} earth_choice;

/* Choose the Earth orientation for a group whose mid time is mjd_utc
 * (table t may be NULL).  -EINVAL when the table has no value for that time
 * (ERFA has no TAI − UTC for it). */
int earth_for_group(const earth_settings *s, const eop_table *t, double mjd_utc,
		    earth_choice *ret);

#endif
