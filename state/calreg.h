/*
 * state/calreg.h — the calibration-table registry (table `caltables` in the
 * STATE database).
 *
 * Each row describes one solution file written by the calibrate stage: its
 * type (B bandpass, G gains, K delay), path, the calibrator and source group it
 * was solved from, the reference antenna, the validity window [valid_start_mjd,
 * valid_end_mjd] (observation time, UTC MJD), the calibrator observation's mid
 * time obs_mjd, a status (active / retired / failed) and quality metrics.
 *
 * Selection (calreg_select): for an observation at t_mjd, among ACTIVE rows of
 * the type whose window contains t_mjd, the one whose obs_mjd is nearest to
 * t_mjd; ties go to the newest (highest id).  Registering never retires an
 * older table by itself — newer (nearer) simply wins; retiring is explicit
 * (calreg_set_status).  Registering the same path again updates that row
 * (stages are idempotent), so re-running a group never duplicates tables.
 *
 * The functions take the state database's sqlite3 handle (state/db.h opens it,
 * WAL, foreign keys); all SQL is parameterised.  The table is created by the
 * "catalog: calibration-table registry" element of state/db.c's migrations.
 * Errors follow core/err.h (-ENOENT: nothing found, -EIO: SQLite error).
 */
#ifndef CONTIMG_CALREG_H
#define CONTIMG_CALREG_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

enum calreg_status { CALREG_ACTIVE = 0, CALREG_RETIRED = 1, CALREG_FAILED = 2 };

typedef struct calreg_entry {
	int64_t id;                /* assigned by calreg_add */
	char type;                 /* 'B', 'G' or 'K' */
	char path[1024];           /* solution file (products_dir/caltables/...) */
	char calibrator[64];       /* e.g. "0834+555" */
	char source_group[64];     /* group id the solutions came from */
	int refant;                /* antenna number, −1 if none */
	double obs_mjd;            /* mid time of the calibrator observation */
	double valid_start_mjd, valid_end_mjd;
	double created_unix;       /* wall-clock registration time (set by calreg_add) */
	int status;                /* enum calreg_status */
	double flagged_fraction;   /* 0..1; NAN unknown */
	double median_snr;         /* NAN unknown */
	double phase_scatter_deg;  /* NAN unknown (phases wrapped to [-180, 180)) */
} calreg_entry;

/* "active", "retired", "failed" (or "?"); and back (-EINVAL for others). */
const char *calreg_status_name(int status);
int calreg_status_parse(const char *s, int *ret_status);

/* Register (or update the row with the same path).  e->id and e->created_unix
 * are ignored on input; *ret_id (may be NULL) gets the row id.  -EINVAL for a bad
 * type, empty path or an inverted window. */
int calreg_add(sqlite3 *db, const calreg_entry *e, int64_t *ret_id, char *err, size_t errlen);

/* Change a row's status.  -ENOENT when no such id. */
int calreg_set_status(sqlite3 *db, int64_t id, int status, char *err, size_t errlen);

/* One row by id.  -ENOENT when absent. */
int calreg_get(sqlite3 *db, int64_t id, calreg_entry *ret, char *err, size_t errlen);

/* The table of `type` to apply to an observation at t_mjd (rule above).
 * -ENOENT when none is valid. */
int calreg_select(sqlite3 *db, char type, double t_mjd, calreg_entry *ret, char *err,
		  size_t errlen);

/* Bandpass then gains (then delay) for t_mjd: what the apply step needs.
 * has_* = 1 when that type was found.  Returns 0 even when none is found
 * (a group without solutions is imaged uncalibrated); negative only on error. */
typedef struct calreg_set {
	int has_b, has_g, has_k;
	calreg_entry b, g, k;
} calreg_set;
int calreg_select_set(sqlite3 *db, double t_mjd, calreg_set *ret, char *err, size_t errlen);

/* Every row, newest first; *ret_rows malloc'd (caller frees; NULL when 0). */
int calreg_list(sqlite3 *db, calreg_entry **ret_rows, size_t *ret_n, char *err, size_t errlen);

/* The path of one subband file (the lowest subband with status ok) of the
 * group table id was solved from, into buf (len bytes): where an export finds
 * the antennas and the site.  -ENOENT when the group or its files are not
 * registered, -EIO. */
int calreg_source_file(sqlite3 *db, int64_t id, char *buf, size_t len, char *err, size_t errlen);

#endif
