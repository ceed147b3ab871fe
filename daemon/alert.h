/*
 * daemon/alert.h — ESE alerts at the daemon's edge: after the photometry
 * stage has scored an epoch, one alert per source per event and kind, as a
 * row in the alerts table (state/alertdb.h), a VOEvent 2.0 file
 * (photometry/voevent.h) in products_dir/alerts/ and a journal entry with a
 * fixed MESSAGE_ID.  docs/ese.md "Alerts" is the contract.
 *
 * When:  a source whose score this epoch is >= [alerts] min_score (and so a
 *        candidate) gets
 *          - an "ongoing" alert when its event is under way (ese_result.ongoing)
 *            and no alert of any kind exists for the same event;
 *          - a "candidate" alert when the event is complete and no candidate
 *            alert exists for it; if the event was alerted as ongoing before,
 *            this one cites it (VOEvent Citations, cite="followup") — the
 *            astronomer hears once when the event is seen starting and once
 *            when it is seen whole, never more.
 *        The same event: the alert's event interval [t0 − D/2, t0 + D/2]
 *        overlaps the new fit's (the fitted t0 and D move a little from epoch to
 *        epoch).  An event of a source that does not overlap the old one is a
 *        new event and alerts again.
 * Order: the row (with the VOEvent text, sent_at NULL) is committed first, in
 *        a write transaction that checked for the same event; then the file is
 *        written durably and the journal entry sent; then sent_at is set.  A
 *        crash between leaves a row with sent_at NULL, which the next epoch
 *        sends (the file from the stored text): at most one alert per event,
 *        none lost, a journal entry possibly twice after a crash.
 *
 * Journal: MESSAGE_ID=ALERT_MESSAGE_ID, PRIORITY=5 (notice), MESSAGE,
 *        CONTIMG_ALERT_KIND, CONTIMG_SOURCE, CONTIMG_RA_DEG, CONTIMG_DEC_DEG,
 *        CONTIMG_SCORE, CONTIMG_DEPTH, CONTIMG_DURATION_DAYS, CONTIMG_T0_MJD,
 *        CONTIMG_ONGOING, CONTIMG_BEST_ALT, CONTIMG_IVORN, CONTIMG_VOEVENT (the
 *        file), GROUP_ID, when the program logs to the journal (core/log.h);
 *        otherwise one notice line with the same facts.
 */
#ifndef CONTIMG_ALERT_H
#define CONTIMG_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"
#include "state/catalog.h"
#include "state/photdb.h"

/* journalctl MESSAGE_ID=2217b4511e3a4f2eaac60f3ed632d563 (systemd-id128 new, once) */
#define ALERT_MESSAGE_ID "2217b4511e3a4f2eaac60f3ed632d563"

/* The bright neighbour of a candidate: the nearest other catalog source in the
 * photometry stage's field (the image's half-diagonal) whose 1.4 GHz flux is
 * at least min(ALERT_BRIGHT_FACTOR × the candidate's, ALERT_BRIGHT_MJY). */
#define ALERT_BRIGHT_FACTOR 10.0
#define ALERT_BRIGHT_MJY 1000.0

/* [alerts] (docs/config.md). */
typedef struct alert_settings {
	int enabled;              /* (true) */
	char ivorn_base[256];     /* ("ivo://dsa110.caltech/contimg"): ivo://AUTHORITY[/PATH] */
	char role[16];            /* ("observation"): observation, test, prediction, utility */
	double min_score;         /* ([photometry] ese_candidate_score), 0..1 */
	char contact_email[128];  /* Who/Author/contactEmail ("": left out) */
	char reference_uri[512];  /* How/Reference uri, e.g. the documentation ("": left out) */
} alert_settings;

/* Parse [alerts] from c; candidate_score is the default of min_score.
 * -EINVAL with "[alerts] key: reason" in err. */
int alert_settings_read(const cfg *c, double candidate_score, alert_settings *s, char *err,
			size_t errlen);

/* The vetting context of candidate src[i] for its ese_candidates row: catalog
 * position, flux and flags, the primary-beam level pb at it in this image,
 * this epoch's mjd (last_mjd) and its bright neighbour among src[0..n). */
void alert_vetting(const catalog_source *src, size_t n, size_t i, double pb, double mjd,
		   photdb_cand *c);

struct phot_result;

/* Emit the alerts this epoch's candidates call for (above), then send any
 * alert a crash left unsent.  Failures are logged (warning), never returned:
 * the photometry is stored whatever happens here. */
void alert_emit_epoch(sqlite3 *db, const alert_settings *s, const char *products_dir,
		      int64_t group_id, const char *group_name, const struct phot_result *p);

#endif
