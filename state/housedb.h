/*
 * state/housedb.h — what retention (daemon/housekeeping.h) reads and records:
 * the candidate files of completed groups, the paths and groups that must
 * survive, and the table retention_removed (one row per raw or product file
 * retention deleted or moved; schema: the migration "housekeeping" in
 * state/db.c).
 *
 * A row is written before the file is touched, in the same transaction that
 * checks the group is still completed and not stale, so a group requeued
 * at the same moment either keeps every file or is refused by `requeue`
 * with the reason (housedb_removed_raw).
 *
 * Errors follow core/err.h: 0 or a negative errno (-EIO with SQLite's
 * message, -ENOSPC when the database's disk is full, -ENOMEM).  All SQL is
 * parameterised.
 */
#ifndef CONTIMG_HOUSEDB_H
#define CONTIMG_HOUSEDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* One file of a candidate group (a raw subband file or a product). */
typedef struct housedb_row {
	int64_t group_id;
	char group[32];       /* groups.name */
	double finished_at;   /* unix seconds */
	int stale;            /* groups.stale */
	int calibrator;       /* 1 when caltables name the group as their source_group */
	int product;          /* 0: subband_files row, 1: products row */
	char name[32];        /* product name, or "sbNN" */
	char *path;           /* owned (housedb_rows_free) */
	int64_t size;         /* subband_files.size; -1 for products (unknown) */
} housedb_row;

/* The files, not yet removed by retention, of the next max_groups completed
 * groups (by id, after after_id) finished before finished_before (unix
 * seconds), ordered by group and path: a batch, so a year of history is never
 * held in memory at once.  *ret is a new array (housedb_rows_free), NULL when
 * *ret_n == 0; *ret_last_id = the last group id the batch covered (files or
 * not), or after_id when there are no more groups. */
int housedb_candidates(sqlite3 *db, double finished_before, int64_t after_id, int max_groups,
		       housedb_row **ret, size_t *ret_n, int64_t *ret_last_id, char *err,
		       size_t errlen);
void housedb_rows_free(housedb_row *r, size_t n);

/* Paths that must survive: every subband file and product of a group that is
 * not completed (collecting, pending, in_progress, failed).  *ret is a new
 * array of new strings (housedb_strings_free). */
int housedb_protected(sqlite3 *db, char ***ret, size_t *ret_n, char *err, size_t errlen);

/* Names of the groups in progress now. */
int housedb_busy(sqlite3 *db, char ***ret, size_t *ret_n, char *err, size_t errlen);
void housedb_strings_free(char **s, size_t n);

/* Inside the caller's db_begin(): 1 when the group is still completed and not
 * stale (its files may go), 0 when not (or unknown). */
int housedb_group_removable(sqlite3 *db, int64_t group_id, char *err, size_t errlen);

/* Record that retention removes path (kind "raw" or "product", name its
 * subband "sbNN" or product name, action "delete" or "move", dest the new
 * path for a move, else NULL) at now.  A path recorded twice keeps one row
 * (the later). */
int housedb_record(sqlite3 *db, int64_t group_id, const char *kind, const char *name,
		   const char *path, int64_t bytes, const char *action, const char *dest,
		   double now, char *err, size_t errlen);

/* Forget the record of path (the removal failed after all). */
int housedb_unrecord(sqlite3 *db, const char *path, char *err, size_t errlen);

/* What retention removed of a group's raw files. */
typedef struct housedb_removed {
	int nfiles;           /* raw files removed (0: none) */
	int64_t bytes;
	double at;            /* the latest removal, unix seconds */
	char action[8];       /* "delete" or "move" (of the latest) */
	char dest[4096];      /* a moved file's new path (of the latest), else "" */
	int nproducts;        /* product files removed */
} housedb_removed;

/* Fill *ret for group_id (zeros when nothing was removed).  A database whose
 * schema predates the table reads as nothing removed. */
int housedb_removed_of(sqlite3 *db, int64_t group_id, housedb_removed *ret, char *err,
		       size_t errlen);

#endif
