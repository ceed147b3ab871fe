/*
 * state/pointingdb.h — where the dishes pointed: operators' overrides of the
 * files' pointing declination, and the pointing each group was processed
 * with (plus its pointing check).
 *
 * The correlator's writer reads the pointing declination once at start-up
 * and stamps it into every file (extra_keywords/phase_center_dec); when the
 * dishes are re-pointed without restarting it, the files name the old
 * declination.  An override says "between start and end (UTC) the dishes
 * pointed at dec_deg": the pipeline then uses dec_deg for the primary beam
 * (imaging, pbcor, calibrator models, calibrator selection) while the phase
 * centre stays the files' (docs/operations.md, *Pointing*).
 *
 * Tables (state/db.c migration "pointing"):
 *   pointing_overrides  id, start_mjd (inclusive), end_mjd (exclusive; NULL =
 *                       open: until further notice), dec_deg (apparent, of
 *                       date, like phase_center_dec), note, created_at.
 *                       Ranges never overlap (pointingdb_add refuses).
 *   group_pointing      one row per processed group: its mid time, the files'
 *                       declination, the one used and where it came from,
 *                       and the pointing check's result (qa_* columns; NULL
 *                       until the photometry stage ran it).
 *
 * Times are UTC MJD, declinations degrees (this is the database edge).  All
 * SQL is parameterised; read-then-write runs inside db_begin().  Errors:
 * negative errno with a sentence in err (-EIO database, -EINVAL bad value,
 * -EEXIST overlapping range, -ENOENT unknown id).
 */
#ifndef CONTIMG_POINTINGDB_H
#define CONTIMG_POINTINGDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct pointingdb_override {
	int64_t id;
	double start_mjd;        /* UTC, inclusive */
	double end_mjd;          /* UTC, exclusive; INFINITY = open */
	double dec_deg;          /* apparent declination of the pointing */
	char note[256];
	double created_at;       /* unix seconds */
} pointingdb_override;

/* Add an override.  -EINVAL for a non-finite start, end <= start (end may be
 * INFINITY or NAN for an open range), |dec_deg| > 90 or non-finite, a note
 * longer than 255 bytes; -EEXIST (naming the other override) when the range
 * overlaps an existing one.  *ret_id (may be NULL) gets the new id. */
int pointingdb_add(sqlite3 *db, double start_mjd, double end_mjd, double dec_deg,
		   const char *note, double now, int64_t *ret_id, char *err, size_t errlen);

/* Remove override id (groups processed with it keep their record, which
 * then names no override).  -ENOENT when there is none. */
int pointingdb_remove(sqlite3 *db, int64_t id, char *err, size_t errlen);

/* Every override by start time into a new array (*ret, free()); NULL when
 * *ret_n = 0.  A database without the table gives -EIO ("no such table"). */
int pointingdb_list(sqlite3 *db, pointingdb_override **ret, size_t *ret_n, char *err,
		    size_t errlen);

/* The override whose range holds mjd: 1 and *ret filled, 0 when none. */
int pointingdb_find(sqlite3 *db, double mjd, pointingdb_override *ret, char *err,
		    size_t errlen);

/* What a group was processed with. */
typedef struct pointingdb_group {
	double mid_mjd;          /* the group's mid time (UTC) */
	double file_dec_deg;     /* the files' declination; NAN when they give none */
	double dec_deg;          /* the pointing used for the beam */
	int from_override;       /* 1: dec_deg came from an override */
	int64_t override_id;     /* that override (0 when none, or since removed) */
	/* The pointing check (photometry/pointcheck.h); qa_status "" = not run. */
	char qa_status[16];      /* "ok", "warn", "too_few", "degenerate" */
	double qa_offset_deg, qa_offset_err_deg, qa_significance, qa_scale, qa_chi2_nu;
	int qa_nsources, qa_nnorth, qa_nsouth, qa_nclipped;
} pointingdb_group;

/* Record the pointing a group run uses (upsert; clears the previous run's
 * check).  The qa_* fields of g are ignored. */
int pointingdb_group_put(sqlite3 *db, int64_t group_id, const pointingdb_group *g, double now,
			 char *err, size_t errlen);

/* Store the check's result in the group's record (qa_status and qa_* of g;
 * the rest ignored).  -ENOENT when the group has no record. */
int pointingdb_group_qa(sqlite3 *db, int64_t group_id, const pointingdb_group *g, double now,
			char *err, size_t errlen);

/* The group's record: 1 and *ret filled, 0 when none (never processed, or
 * processed before this table existed). */
int pointingdb_group_get(sqlite3 *db, int64_t group_id, pointingdb_group *ret, char *err,
			 size_t errlen);

/* Names of the groups already processed whose mid time lies in
 * [start_mjd, end_mjd) with a pointing that differs from dec_deg by more
 * than 1e-6° (the ones an operator requeues after adding an override), by
 * time, into a new array of QUEUE-style names (*ret, free()). */
int pointingdb_groups_to_redo(sqlite3 *db, double start_mjd, double end_mjd, double dec_deg,
			      char (**ret)[32], size_t *ret_n, char *err, size_t errlen);

#endif
