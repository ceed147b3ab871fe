/*
 * daemon/view_alerts.h — the JSON view of the ESE alerts, shared by
 * `contimgctl alerts --json` and any other program that serves it (the web
 * service's /api/alerts).  The keys are a contract (docs/cli.md, alerts).
 */
#ifndef CONTIMG_VIEW_ALERTS_H
#define CONTIMG_VIEW_ALERTS_H

#include <stddef.h>

#include <json-c/json.h>
#include <sqlite3.h>

/* A JSON array of the alerts created at or after since_unix (-INFINITY: all),
 * oldest first, one object each: id, ivorn, source, kind, ongoing, score,
 * depth, duration_days, t0_mjd, event_start_mjd, event_end_mjd, mjd,
 * group_id, ra_deg, dec_deg, flux_jy, f0_jy, best_alt, dbic, alt_evidence,
 * cites, voevent (the file), created_at (ISO 8601 UTC), created_at_unix,
 * sent (bool), sent_at_unix.  Unknown numbers are null.  *ret is a new
 * reference (json_object_put).  Returns 0, -EIO with SQLite's message, or
 * -ENOMEM. */
int view_alerts(sqlite3 *db, double since_unix, json_object **ret, char *err, size_t errlen);

/* Parse --since: a number of days before now_unix ("7", "0.5"), or an ISO
 * 8601 UTC time YYYY-MM-DD[THH:MM[:SS]][Z].  0 and *ret_unix, or -EINVAL. */
int view_parse_since(const char *s, double now_unix, double *ret_unix);

#endif
