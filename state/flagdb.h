/*
 * state/flagdb.h — the `flag_stats` table: the flagged fractions of a group,
 * written by the flag stage (schema: the "calib: flag_stats" migration in
 * state/db.c).
 *
 * A group's rows: one "total" row (key ""), one "reason" row per flag reason
 * (key: the reason's name, calib/flag.h), one "antenna" row per antenna on a
 * baseline (key: its antenna_names entry) and one "channel" row per channel
 * (key: the channel index in the combined band, freq_hz its centre).  Each
 * fraction is of the cross-correlation samples.  All SQL is parameterised.
 */
#ifndef CONTIMG_FLAGDB_H
#define CONTIMG_FLAGDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define FLAGDB_KEY_LEN 32

typedef struct flagdb_row {
	const char *kind;           /* "total", "reason", "antenna" or "channel" */
	char key[FLAGDB_KEY_LEN];   /* "", reason name, antenna name, channel index */
	double freq_hz;             /* channel rows; NAN (stored as NULL) for the others */
	double fraction;            /* flagged fraction, 0..1 */
} flagdb_row;

/* Replace every flag_stats row of the group with rows[0..n-1], in one
 * transaction (db_begin/db_end, so it nests in the caller's), so a re-run
 * leaves exactly its own rows.  0, or -EIO with SQLite's message in err
 * (nothing changed then). */
int flagdb_replace(sqlite3 *db, int64_t group_id, const flagdb_row *rows, size_t n, char *err,
		   size_t errlen);

#endif
