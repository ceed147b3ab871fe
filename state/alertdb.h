/*
 * state/alertdb.h — the alerts table: one row per ESE alert (a source's event
 * first crossing the alert score, or first seen under way), with the VOEvent
 * text it was sent as.  The schema is the "alerts:" migration in state/db.c.
 *
 * An alert is identified by its IVORN (UNIQUE), which names the source, the
 * kind and the event's start day: inserting the same IVORN twice is ignored,
 * so a re-run of a group or a restart never makes a second row.  Whether two
 * fits of a source are the same event (their fitted t0 moves a little from
 * epoch to epoch) is asked with alertdb_find_event before inserting, inside
 * one write transaction (db_begin) so concurrent workers cannot both insert.
 *
 * Conventions as state/photdb.h: NAN ↔ NULL, parameterised SQL, 0 or a
 * negative errno (-EIO SQLite, -ENOENT no row) with the message in err.
 */
#ifndef CONTIMG_ALERTDB_H
#define CONTIMG_ALERTDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct alertdb_alert {
	int64_t id;
	char ivorn[512];
	char source[64];
	char kind[16];            /* "candidate" or "ongoing" */
	double event_start_mjd, event_end_mjd; /* t0 ∓ D/2 of the fit that alerted */
	double t0_mjd, mjd;       /* event centre; the epoch that alerted (UTC MJD) */
	int64_t group_id;         /* the group of that epoch (-1: unknown / deleted) */
	double score, depth, duration_days;
	int ongoing;
	double ra_deg, dec_deg, flux_jy, f0_jy;
	char best_alt[24];
	double dbic, alt_evidence;
	char cites[512];          /* ivorn of the same event's earlier alert, "" when none */
	char path[4200];          /* the VOEvent file */
	double created_at;        /* unix seconds */
	double sent_at;           /* NAN until the file and the journal entry exist */
	char *xml;                /* the VOEvent text: malloc'd by the readers that ask for
				     it (alertdb_list with_xml), else NULL; alertdb_release */
} alertdb_alert;

/* Free a->xml (NULL ok). */
void alertdb_release(alertdb_alert *a);

/* The alert of source (of kind, NULL: any) whose event interval overlaps
 * [start_mjd, end_mjd], the most recent first.  0 and *ret filled (xml NULL),
 * -ENOENT when none. */
int alertdb_find_event(sqlite3 *db, const char *source, const char *kind, double start_mjd,
		       double end_mjd, alertdb_alert *ret, char *err, size_t errlen);

/* Insert a (created_at and sent_at as given; a->xml stored when non-NULL)
 * unless its ivorn exists.  *ret_id gets the new row's id, or -1 when the
 * ivorn was there already (nothing written).  Returns 0 or -EIO. */
int alertdb_insert(sqlite3 *db, const alertdb_alert *a, int64_t *ret_id, char *err,
		   size_t errlen);

/* Record that alert id was written to path and logged at sent_at. */
int alertdb_mark_sent(sqlite3 *db, int64_t id, double sent_at, char *err, size_t errlen);

/* Alerts created at or after since_unix (-INFINITY or NAN: all), oldest
 * first; unsent_only: only those with sent_at NULL; with_xml: read the text
 * too (then alertdb_release each).  *ret malloc'd (NULL when *ret_n == 0). */
int alertdb_list(sqlite3 *db, double since_unix, int unsent_only, int with_xml,
		 alertdb_alert **ret, size_t *ret_n, char *err, size_t errlen);

/* Count of rows (for tests and status). */
int alertdb_count(sqlite3 *db, int64_t *ret_n, char *err, size_t errlen);

#endif
