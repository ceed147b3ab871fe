/*
 * state/heartbeat.h — the daemon's heartbeat: the one-row `daemon` table of
 * the state database (schema: the first migration in state/db.c).
 *
 * contimgd writes the row when it starts (status "starting") and then at most
 * every few seconds with its systemd STATUS= line; `contimgctl status` reads
 * it to show when the daemon started and how old its last heartbeat is.
 * Whether a daemon is running at all is the pid file's lock, not this row (a
 * killed daemon leaves its last row behind).
 *
 * Errors follow core/err.h: 0 or a negative errno (-EIO with SQLite's message
 * in err, -ENOMEM).  All SQL is parameterised.
 */
#ifndef CONTIMG_HEARTBEAT_H
#define CONTIMG_HEARTBEAT_H

#include <stddef.h>

#include <sqlite3.h>

typedef struct heartbeat {
	int pid;              /* the process that wrote the row (0 when NULL) */
	double started_at;    /* unix seconds; 0 when NULL */
	double heartbeat_at;  /* unix seconds of the last write; 0 when NULL */
	char *status;         /* the daemon's STATUS= line; NULL when none (owned) */
} heartbeat;

/* A daemon process pid starts at unix time now: the row becomes
 * (pid, now, now, "starting"). */
int heartbeat_start(sqlite3 *db, int pid, double now, char *err, size_t errlen);

/* The daemon pid is alive at unix time now with the given status text: pid,
 * heartbeat_at and status are updated; started_at is kept (set to now only
 * when there was no row). */
int heartbeat_beat(sqlite3 *db, int pid, double now, const char *status, char *err,
		   size_t errlen);

/* Read the row into *ret: 1 when there is one (release it with
 * heartbeat_release), 0 when no daemon ever wrote one (*ret untouched). */
int heartbeat_read(sqlite3 *db, heartbeat *ret, char *err, size_t errlen);

/* Free what *h owns (h may be NULL). */
void heartbeat_release(heartbeat *h);

/* The free-space guard (daemon/housekeeping.h) holds intake: reason is why
 * ("products_dir free 3.1 GB < 20 GB"); NULL or "" when it runs again.
 * Column daemon.paused; the row must exist (heartbeat_start). */
int heartbeat_set_paused(sqlite3 *db, const char *reason, char *err, size_t errlen);

/* The guard's reason into buf (len bytes): 1 when paused, 0 when not (or the
 * database predates the column; buf ""). */
int heartbeat_read_paused(sqlite3 *db, char *buf, size_t len, char *err, size_t errlen);

#endif
