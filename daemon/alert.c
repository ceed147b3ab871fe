/*
 * daemon/alert.c — ESE alerts at the daemon's edge (alert.h).
 */
#include "daemon/alert.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/fsx.h"
#include "core/log.h"
#include "daemon/stage_photometry.h"
#include "daemon/util.h"
#include "photometry/voevent.h"
#include "state/alertdb.h"
#include "state/db.h"

#define DEG (M_PI / 180.0)

/* ---- settings ---- */

int alert_settings_read(const cfg *c, double candidate_score, alert_settings *s, char *err,
			size_t errlen)
{
	const char *sec = "alerts";
	const char *base = cfg_get_str(c, sec, "ivorn_base", "ivo://dsa110.caltech/contimg");
	const char *role = cfg_get_str(c, sec, "role", "observation");
	const char *mail = cfg_get_str(c, sec, "contact_email", "");
	const char *ref = cfg_get_str(c, sec, "reference_uri", "");
	int r;

	memset(s, 0, sizeof *s);
	if ((r = cfg_bool(c, sec, "enabled", 1, &s->enabled, err, errlen)) < 0 ||
	    (r = cfg_double(c, sec, "min_score", candidate_score, &s->min_score, err, errlen)) < 0)
		return r;
	if (!(s->min_score >= 0 && s->min_score <= 1))
		return cfg_err(c, sec, "min_score", err, errlen, "%g: must be in [0, 1]",
			       s->min_score);
	/* ivo://AUTHORITY[/PATH]: the fragment is ours (voevent_fragment), so
	 * the base carries none; characters that need escaping in a URI are
	 * refused rather than escaped. */
	int ok = !strncmp(base, "ivo://", 6) && strlen(base) > 6 && strlen(base) < sizeof s->ivorn_base;
	for (const char *p = base; ok && *p; p++)
		ok = *p > ' ' && *p < 0x7f && !strchr("#?\"<>\\^`{|}", *p);
	if (!ok)
		return cfg_err(c, sec, "ivorn_base", err, errlen,
			       "'%s': expected ivo://AUTHORITY[/PATH] without '#', blanks or quotes",
			       base);
	snprintf(s->ivorn_base, sizeof s->ivorn_base, "%s", base);
	if (strcmp(role, "observation") && strcmp(role, "test") && strcmp(role, "prediction") &&
	    strcmp(role, "utility"))
		return cfg_err(c, sec, "role", err, errlen,
			       "'%s': expected observation, test, prediction or utility", role);
	snprintf(s->role, sizeof s->role, "%s", role);
	if (strlen(mail) >= sizeof s->contact_email)
		return cfg_err(c, sec, "contact_email", err, errlen, "too long");
	snprintf(s->contact_email, sizeof s->contact_email, "%s", mail);
	if (strlen(ref) >= sizeof s->reference_uri)
		return cfg_err(c, sec, "reference_uri", err, errlen, "too long");
	snprintf(s->reference_uri, sizeof s->reference_uri, "%s", ref);
	return 0;
}

/* ---- vetting context ---- */

static double sep_rad(double ra1, double dec1, double ra2, double dec2)
{
	/* haversine: exact near zero, where the neighbours are */
	double sd = sin(0.5 * (dec2 - dec1)), sr = sin(0.5 * (ra2 - ra1));
	double h = sd * sd + cos(dec1) * cos(dec2) * sr * sr;
	return 2 * asin(fmin(1, sqrt(h)));
}

void alert_vetting(const catalog_source *src, size_t n, size_t i, double pb, double mjd,
		   photdb_cand *c)
{
	const catalog_source *s = &src[i];
	c->last_mjd = mjd;
	c->ra_deg = s->ra_deg;
	c->dec_deg = s->dec_deg;
	c->pb = pb;
	c->cat_flux_mjy = s->flux_mjy;
	c->cat_resolved = s->resolved != 0;
	c->cat_confused = s->confused != 0;
	c->cat_major_arcsec = s->major_arcsec > 0 ? s->major_arcsec : NAN;
	c->bright_source[0] = 0;
	c->bright_sep_deg = c->bright_flux_mjy = NAN;
	double lim = isfinite(s->flux_mjy) && s->flux_mjy > 0
		     ? fmin(ALERT_BRIGHT_FACTOR * s->flux_mjy, ALERT_BRIGHT_MJY) : ALERT_BRIGHT_MJY;
	double best = INFINITY;
	size_t bj = n;
	for (size_t j = 0; j < n; j++) {
		if (j == i || !(src[j].flux_mjy >= lim))
			continue;
		double d = sep_rad(s->ra_deg * DEG, s->dec_deg * DEG, src[j].ra_deg * DEG,
				   src[j].dec_deg * DEG);
		if (d < best) {
			best = d;
			bj = j;
		}
	}
	if (bj < n) {
		snprintf(c->bright_source, sizeof c->bright_source, "%s", src[bj].name);
		c->bright_sep_deg = best / DEG;
		c->bright_flux_mjy = src[bj].flux_mjy;
	}
}

/* ---- emission ---- */

static void journal_alert(const alertdb_alert *a, const char *group_name)
{
	char msg[5200];
	snprintf(msg, sizeof msg, "ESE alert (%s): %s score %.3f depth %.3f duration %.1f d "
		 "t0 MJD %.2f%s; VOEvent %s", a->kind, a->source, a->score, a->depth,
		 a->duration_days, a->t0_mjd, a->ongoing ? " (ongoing)" : "", a->path);
	if (log_sink_format() != LOG_FORMAT_JOURNAL) {
		log_msg(LOG_NOTICE, group_name, "alerts", -1, "%s [MESSAGE_ID=%s IVORN=%s]", msg,
			ALERT_MESSAGE_ID, a->ivorn);
		return;
	}
	sd_journal_send("MESSAGE=%s", msg, "MESSAGE_ID=" ALERT_MESSAGE_ID, "PRIORITY=5",
			"SYSLOG_IDENTIFIER=contimgd", "GROUP_ID=%s", group_name ? group_name : "",
			"STAGE=photometry", "CONTIMG_ALERT_KIND=%s", a->kind,
			"CONTIMG_SOURCE=%s", a->source, "CONTIMG_RA_DEG=%.6f", a->ra_deg,
			"CONTIMG_DEC_DEG=%.6f", a->dec_deg, "CONTIMG_SCORE=%.4f", a->score,
			"CONTIMG_DEPTH=%.4f", a->depth, "CONTIMG_DURATION_DAYS=%.2f", a->duration_days,
			"CONTIMG_T0_MJD=%.4f", a->t0_mjd, "CONTIMG_ONGOING=%d", a->ongoing,
			"CONTIMG_BEST_ALT=%s", a->best_alt, "CONTIMG_IVORN=%s", a->ivorn,
			"CONTIMG_VOEVENT=%s", a->path, NULL);
}

/* The file from the stored text (durably), the journal entry, sent_at. */
static int send_alert(sqlite3 *db, const alertdb_alert *a, const char *group_name, char *err,
		      size_t errlen)
{
	char dir[4200], tmp[4300];
	int rc;
	snprintf(dir, sizeof dir, "%s", a->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (!a->xml)
		return err_set(err, errlen, -EINVAL, "alert %s has no VOEvent text", a->ivorn);
	if (slash && (rc = util_mkdir_p(dir)) < 0)
		return err_set(err, errlen, rc, "%s: %s", dir, strerror(-rc));
	snprintf(tmp, sizeof tmp, "%s.tmp", a->path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	size_t len = strlen(a->xml);
	int bad = fwrite(a->xml, 1, len, f) != len;
	if (fclose(f) || bad) {
		remove(tmp);
		return err_set(err, errlen, -EIO, "%s: write failed", tmp);
	}
	if ((rc = fsx_replace(tmp, a->path, err, errlen)) < 0)
		return rc;
	journal_alert(a, group_name);
	return alertdb_mark_sent(db, a->id, clk_wall_s(), err, errlen);
}

/* One source's alert, if its event calls for one.  Returns 0 (also when no
 * alert was due) or a negative errno with the reason in err. */
static int alert_one(sqlite3 *db, const alert_settings *s, const char *products_dir,
		     int64_t group_id, const char *group_name, double mjd, const phot_cand_out *o,
		     char *err, size_t errlen)
{
	const photdb_cand *c = &o->c;
	const char *kind = c->ongoing ? "ongoing" : "candidate";
	double d = c->duration_days > 0 ? c->duration_days
		   : c->timescale_days > 0 ? c->timescale_days : 0;
	double t0 = isfinite(c->t0_mjd) ? c->t0_mjd : mjd;
	double start = t0 - 0.5 * d, end = t0 + 0.5 * d;
	alertdb_alert a, prev;
	char frag[256], *xml = NULL;
	size_t xlen = 0;
	int64_t id = -1;
	int rc, in_tx = 0;

	memset(&a, 0, sizeof a);
	if ((rc = db_begin(db, err, errlen)) < 0)
		return rc;
	in_tx = 1;
	/* the same event alerted already: as this kind, or (for an ongoing fit)
	 * as a complete candidate */
	rc = alertdb_find_event(db, c->source, c->ongoing ? NULL : "candidate", start, end, &prev,
				err, errlen);
	if (rc == 0 || rc != -ENOENT)
		goto out; /* 0: nothing to do */
	if (!c->ongoing) {
		rc = alertdb_find_event(db, c->source, "ongoing", start, end, &prev, err, errlen);
		if (rc == 0)
			snprintf(a.cites, sizeof a.cites, "%s", prev.ivorn);
		else if (rc != -ENOENT)
			goto out;
	}
	if ((rc = voevent_fragment(c->source, kind, (long)floor(start), frag, sizeof frag)) < 0) {
		err_set(err, errlen, rc, "alert for %s: name too long", c->source);
		goto out;
	}
	if (snprintf(a.ivorn, sizeof a.ivorn, "%s#%s", s->ivorn_base, frag) >= (int)sizeof a.ivorn ||
	    snprintf(a.path, sizeof a.path, "%s/alerts/%s.xml", products_dir, frag) >=
	    (int)sizeof a.path) {
		rc = err_set(err, errlen, -ENAMETOOLONG, "alert for %s: ivorn or path too long",
			     c->source);
		goto out;
	}
	snprintf(a.source, sizeof a.source, "%s", c->source);
	snprintf(a.kind, sizeof a.kind, "%s", kind);
	snprintf(a.best_alt, sizeof a.best_alt, "%s", c->best_alt);
	a.event_start_mjd = start;
	a.event_end_mjd = end;
	a.t0_mjd = c->t0_mjd;
	a.mjd = mjd;
	a.group_id = group_id;
	a.score = c->score;
	a.depth = c->amplitude;
	a.duration_days = c->duration_days;
	a.ongoing = c->ongoing;
	a.ra_deg = c->ra_deg;
	a.dec_deg = c->dec_deg;
	a.flux_jy = o->flux_jy;
	a.f0_jy = c->f0;
	a.dbic = c->dbic;
	a.alt_evidence = c->alt_evidence;
	a.created_at = clk_wall_s();
	a.sent_at = NAN;
	voevent_alert v = {
		.ivorn = a.ivorn, .role = s->role, .author_ivorn = s->ivorn_base,
		.short_name = "DSA-110 contimg", .title = "DSA-110 continuum imaging: ESE alerts",
		.contact_email = s->contact_email, .date_unix = a.created_at, .kind = kind,
		.source = c->source, .ra_deg = c->ra_deg, .dec_deg = c->dec_deg, .pos_err_deg = NAN,
		.obs_mjd = mjd, .score = c->score, .ongoing = c->ongoing, .depth = c->amplitude,
		.duration_days = c->duration_days, .t0_mjd = c->t0_mjd, .event_start_mjd = start,
		.f0_jy = c->f0, .flux_jy = o->flux_jy, .flux_err_jy = o->flux_err_jy,
		.n_epochs = (int)c->n, .n_event = c->n_event, .n_ingress = c->n_ingress,
		.n_egress = c->n_egress, .n_base = c->n_base, .best_alt = c->best_alt,
		.dbic = c->dbic, .alt_evidence = c->alt_evidence, .s_evid = c->s_evid,
		.s_depth = c->s_depth, .s_time = c->s_time, .s_epochs = c->s_epochs,
		.s_sig = c->s_sig, .s_quiet = c->s_quiet, .pb = c->pb,
		.cat_resolved = c->cat_resolved, .cat_confused = c->cat_confused,
		.cat_major_arcsec = c->cat_major_arcsec, .bright_source = c->bright_source,
		.bright_sep_deg = c->bright_sep_deg, .bright_flux_mjy = c->bright_flux_mjy,
		.reference_uri = s->reference_uri,
		.cites_ivorn = a.cites,
	};
	if ((rc = voevent_build(&v, &xml, &xlen, err, errlen)) < 0)
		goto out;
	a.xml = xml;
	if ((rc = alertdb_insert(db, &a, &id, err, errlen)) < 0)
		goto out;
	rc = db_end(db, 1, err, errlen);
	in_tx = 0;
	if (rc < 0 || id < 0)
		goto out; /* id < 0: the same ivorn exists (a concurrent writer) */
	a.id = id;
	rc = send_alert(db, &a, group_name, err, errlen);
out:
	if (in_tx)
		db_end(db, rc == 0, NULL, 0);
	free(xml);
	return rc;
}

void alert_emit_epoch(sqlite3 *db, const alert_settings *s, const char *products_dir,
		      int64_t group_id, const char *group_name, const struct phot_result *p)
{
	char err[ERR_LEN];
	if (!s->enabled || !p)
		return;
	for (size_t k = 0; k < p->ncand; k++) {
		if (!(p->cand[k].c.score >= s->min_score))
			continue;
		if (alert_one(db, s, products_dir, group_id, group_name, p->mjd, &p->cand[k], err,
			      sizeof err) < 0)
			log_msg(LOG_WARNING, group_name, "alerts", -1, "alert for %s: %s",
				p->cand[k].c.source, err);
	}
	/* what a crash (or a failed write above) left unsent */
	alertdb_alert *a = NULL;
	size_t n = 0;
	if (alertdb_list(db, -INFINITY, 1, 1, &a, &n, err, sizeof err) < 0) {
		log_msg(LOG_WARNING, group_name, "alerts", -1, "unsent alerts: %s", err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (send_alert(db, &a[i], group_name, err, sizeof err) < 0)
			log_msg(LOG_WARNING, group_name, "alerts", -1, "alert %s: %s", a[i].ivorn,
				err);
		alertdb_release(&a[i]);
	}
	free(a);
}
