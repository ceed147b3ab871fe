/*
 * daemon/views.c — the JSON views the CLI prints and the web service serves
 * (daemon/views.h).  The CLI's builders were moved here from ctl_ops.c,
 * ctl_cat.c and ctl_phot.c without change of keys or values.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/util.h"
#include "daemon/views.h"
#include "state/photdb_band.h"
#include "photometry/ese.h"
#include "photometry/normalize.h"
#include "state/heartbeat.h"
#include "state/queue.h"
#include "state/report.h"
#include "state/webdb.h"

#define D2R (M_PI / 180.0)

/* ---- from ctl_ops.c: status, groups, show ---- */

static json_object *jiso(double t)
{
	char buf[40];
	if (t <= 0)
		return NULL;
	util_iso_utc(t, buf, sizeof buf);
	return json_object_new_string(buf);
}

/* A string, or null for NULL. */
static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}


/* A list of subband numbers as a JSON array of ints. */
static json_object *int_array(const int *v, int n)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int(v[i]));
	return a;
}


/* Why each missing subband is missing, as {"SB": "FILE: reason"} ("absent"
 * when no file of it was usable or none came). */
static json_object *missing_reasons(const report_group *g)
{
	json_object *m = json_object_new_object();

	for (int i = 0; i < g->nmissing; i++) {
		const report_missing *x = &g->missing[i];
		char key[8], why[600] = "absent";
		snprintf(key, sizeof key, "%d", x->subband);
		if (x->bad_path) {
			const char *b = strrchr(x->bad_path, '/');
			snprintf(why, sizeof why, "%s: %s", b ? b + 1 : x->bad_path,
				 x->bad_reason ? x->bad_reason : "unusable");
		}
		json_object_object_add(m, key, json_object_new_string(why));
	}
	return m;
}

/* The groups --json object of a group (docs/cli.md). */
static json_object *group_object(const report_group *g)
{
	json_object *o = json_object_new_object();
	int sbs[REPORT_MAX_SUBBANDS];

	for (int i = 0; i < g->nmissing; i++)
		sbs[i] = g->missing[i].subband;
	json_object_object_add(o, "group_id", jstr(g->name));
	json_object_object_add(o, "state", jstr(g->state));
	json_object_object_add(o, "n_subbands", json_object_new_int(g->n_subbands));
	json_object_object_add(o, "n_expected", json_object_new_int(g->n_expected));
	json_object_object_add(o, "missing", int_array(sbs, g->nmissing));
	json_object_object_add(o, "missing_reasons", missing_reasons(g));
	json_object_object_add(o, "retries", json_object_new_int(g->retries));
	json_object_object_add(o, "error", jstr(g->error));
	json_object_object_add(o, "stage", jstr(g->stage));
	/* calibrated: a gain solution was applied (bandpass-only is not); calibration
	 * names the state (docs/photometry.md, "The flux scale of field groups") */
	json_object_object_add(o, "calibrated", json_object_new_boolean(g->calibrated == PHOT_CAL_FULL));
	json_object_object_add(o, "calibration", json_object_new_string(
		g->calibrated == PHOT_CAL_FULL ? "full"
		: g->calibrated == PHOT_CAL_BANDPASS ? "bandpass-only" : "none"));
	json_object_object_add(o, "created_at", jiso(g->created_at));
	json_object_object_add(o, "updated_at", jiso(g->updated_at));
	json_object_object_add(o, "started_at", jiso(g->started_at));
	json_object_object_add(o, "finished_at", jiso(g->finished_at));
	json_object_object_add(o, "runs", json_object_new_int(g->runs));
	json_object_object_add(o, "stale", json_object_new_boolean(g->stale));
	json_object_object_add(o, "stale_reason", jstr(g->stale_reason));
	return o;
}


/* Is a daemon holding the pid file's lock?  1 yes (pid in *ret_pid), 0 no. */
static int daemon_running(const pipe_settings *s, int *ret_pid)
{
	char path[PATH_MAX], buf[32] = "";
	int fd, up = 0;

	if ((size_t)snprintf(path, sizeof path, "%s/contimgd.pid", s->state_dir) >= sizeof path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		up = 1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n > 0)
		buf[n] = 0;
	*ret_pid = atoi(buf);
	return up;
}

/* {group_id, at_key[, message]} of l; NULL when there is none. */
static json_object *latest(const report_last *l, const char *at_key, int with_message)
{
	json_object *o;

	if (!l->name)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "group_id", jstr(l->name));
	json_object_object_add(o, at_key, jiso(l->at));
	if (with_message)
		json_object_object_add(o, "message", jstr(l->message));
	return o;
}


static json_object *jnum_or_null(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

/* The group's pointing record (docs/cli.md, "pointing"). */
json_object *view_pointing(const pointingdb_group *g)
{
	json_object *o = json_object_new_object(), *q = NULL;
	json_object_object_add(o, "dec_deg", json_object_new_double(g->dec_deg));
	json_object_object_add(o, "file_dec_deg", jnum_or_null(g->file_dec_deg));
	json_object_object_add(o, "source", json_object_new_string(g->from_override ? "override"
										  : "file"));
	json_object_object_add(o, "override_id",
			       g->override_id ? json_object_new_int64(g->override_id) : NULL);
	json_object_object_add(o, "mid_mjd", json_object_new_double(g->mid_mjd));
	if (g->qa_status[0]) {
		q = json_object_new_object();
		json_object_object_add(q, "status", json_object_new_string(g->qa_status));
		json_object_object_add(q, "offset_deg", jnum_or_null(g->qa_offset_deg));
		json_object_object_add(q, "offset_err_deg", jnum_or_null(g->qa_offset_err_deg));
		json_object_object_add(q, "significance", jnum_or_null(g->qa_significance));
		json_object_object_add(q, "scale", jnum_or_null(g->qa_scale));
		json_object_object_add(q, "chi2_nu", jnum_or_null(g->qa_chi2_nu));
		json_object_object_add(q, "nsources", json_object_new_int(g->qa_nsources));
		json_object_object_add(q, "nnorth", json_object_new_int(g->qa_nnorth));
		json_object_object_add(q, "nsouth", json_object_new_int(g->qa_nsouth));
		json_object_object_add(q, "nclipped", json_object_new_int(g->qa_nclipped));
	}
	json_object_object_add(o, "check", q);
	return o;
}

/* The show --json object of group gid (docs/cli.md). */
int view_group(sqlite3 *db, int64_t gid, json_object **ret, char *err, size_t errlen)
{
	report_detail d;
	json_object *o, *a;
	int r = report_detail_get(db, gid, &d, err, errlen);

	if (r <= 0)
		return r;
	o = group_object(&d.group);

	a = json_object_new_array();
	for (size_t i = 0; i < d.nfiles; i++) {
		const report_file *x = &d.files[i];
		json_object *f = json_object_new_object();
		json_object_object_add(f, "subband", json_object_new_int(x->subband));
		json_object_object_add(f, "path", jstr(x->path));
		json_object_object_add(f, "status", jstr(x->status));
		json_object_object_add(f, "reason", jstr(x->reason));
		json_object_object_add(f, "size", json_object_new_int64(x->size));
		json_object_array_add(a, f);
	}
	json_object_object_add(o, "files", a);

	/* Where the dishes pointed (null: not processed since the table exists). */
	pointingdb_group pg;
	json_object_object_add(o, "pointing", pointingdb_group_get(db, gid, &pg, NULL, 0) == 1
						      ? view_pointing(&pg) : NULL);

	json_object *stages = json_object_new_object(), *sd = json_object_new_array();
	for (size_t i = 0; i < d.nstage_runs; i++) {
		const report_stage_run *sr = &d.stage_runs[i];
		json_object *x = json_object_new_object();
		json_object_object_add(stages, sr->stage, json_object_new_double(sr->seconds));
		json_object_object_add(x, "stage", json_object_new_string(sr->stage));
		json_object_object_add(x, "seconds", json_object_new_double(sr->seconds));
		json_object_object_add(x, "ok", json_object_new_boolean(sr->ok));
		json_object_object_add(x, "error", jstr(sr->error));
		json_object_object_add(x, "at", jiso(sr->at));
		json_object_array_add(sd, x);
	}
	json_object_object_add(o, "stages", stages);
	json_object_object_add(o, "stage_runs", sd);

	json_object *prod = json_object_new_object();
	for (size_t i = 0; i < d.nproducts; i++)
		json_object_object_add(prod, d.products[i].name, jstr(d.products[i].path));
	json_object_object_add(o, "products", prod);

	json_object *ev = json_object_new_array();
	for (size_t i = 0; i < d.nevents; i++) {
		const report_event *e = &d.events[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "at", jiso(e->at));
		json_object_object_add(x, "kind", jstr(e->kind));
		json_object_object_add(x, "stage", jstr(e->stage));
		json_object_object_add(x, "message", jstr(e->message));
		json_object_array_add(ev, x);
	}
	json_object_object_add(o, "events", ev);
	report_detail_release(&d);
	*ret = o;
	return 1;
}


int view_status(sqlite3 *db, const pipe_settings *s, const house_settings *hs, double now,
		json_object **ret, char *err, size_t errlen)
{
	json_object *o, *counts, *running, *dm;
	report_status rs = { 0 };
	heartbeat hb;
	int64_t cnt[5], per_hour;
	int pid = 0, up, r;

	if ((r = queue_counts(db, cnt, err, errlen)) < 0)
		return r;
	if ((r = report_status_get(db, now - 3600, &rs, err, errlen)) < 0)
		return r;
	per_hour = rs.completed_since;
	up = daemon_running(s, &pid);
	o = json_object_new_object();
	dm = json_object_new_object();
	json_object_object_add(dm, "running", json_object_new_boolean(up));
	json_object_object_add(dm, "pid", up ? json_object_new_int(pid) : NULL);
	/* The heartbeat row is informative: an unreadable one is left out. */
	if (heartbeat_read(db, &hb, NULL, 0) == 1) {
		json_object_object_add(dm, "started_at", jiso(hb.started_at));
		json_object_object_add(dm, "heartbeat_age_s",
				       json_object_new_double(now - hb.heartbeat_at));
		json_object_object_add(dm, "status", up ? jstr(hb.status) : NULL);
		heartbeat_release(&hb);
	}
	json_object_object_add(o, "daemon", dm);
	/* The free-space guard (daemon/housekeeping.h): why a running daemon
	 * holds intake and claims, and the free space now (thresholds unknown
	 * when hs is NULL). */
	{
		json_object *hk = json_object_new_object();
		char why[512] = "";
		int paused = up && heartbeat_read_paused(db, why, sizeof why, NULL, 0) == 1;
		json_object_object_add(hk, "paused", json_object_new_boolean(paused));
		json_object_object_add(hk, "reason", paused ? json_object_new_string(why) : NULL);
		json_object_object_add(hk, "paths", ctl_house_disk(s, hs));
		json_object_object_add(o, "housekeeping", hk);
	}
	json_object_object_add(o, "state_db", json_object_new_string(s->db_path));
	counts = json_object_new_object();
	for (int i = 0; i < 5; i++)
		json_object_object_add(counts, queue_states[i], json_object_new_int64(cnt[i]));
	json_object_object_add(o, "counts", counts);

	running = json_object_new_array();
	for (size_t i = 0; i < rs.nrunning; i++) {
		const report_running *rr = &rs.running[i];
		json_object *g = json_object_new_object();
		json_object_object_add(g, "group_id", jstr(rr->name));
		json_object_object_add(g, "stage", jstr(rr->stage));
		json_object_object_add(g, "elapsed_s", json_object_new_double(now - rr->started_at));
		json_object_object_add(g, "pid", json_object_new_int(rr->pid));
		json_object_array_add(running, g);
	}
	json_object_object_add(o, "running", running);

	json_object_object_add(o, "last_completed",
			       latest(&rs.last_completed, "finished_at", 0));
	json_object_object_add(o, "last_error", latest(&rs.last_error, "at", 1));
	json_object_object_add(o, "groups_per_hour", json_object_new_int64(per_hour));
	report_status_release(&rs);
	*ret = o;
	return 0;
}

int view_groups(sqlite3 *db, const char *state, int64_t since_t, int limit, json_object **ret,
		char *err, size_t errlen)
{
	report_group *groups = NULL;
	size_t ngroups = 0;
	json_object *arr;
	int r = report_groups(db, state, since_t, limit, &groups, &ngroups, err, errlen);

	if (r < 0)
		return r;
	arr = json_object_new_array();
	for (size_t i = 0; i < ngroups; i++)
		json_object_array_add(arr, group_object(&groups[i]));
	report_groups_free(groups, ngroups);
	*ret = arr;
	return 0;
}

/* ---- from ctl_cat.c: caltables ---- */

static json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL; /* NULL serialises as null */
}

json_object *view_caltables_json(const calreg_entry *rows, size_t n)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		const calreg_entry *e = &rows[i];
		json_object *o = json_object_new_object();
		char type[2] = { e->type, 0 }, buf[64];
		json_object_object_add(o, "id", json_object_new_int64(e->id));
		json_object_object_add(o, "type", json_object_new_string(type));
		json_object_object_add(o, "path", json_object_new_string(e->path));
		json_object_object_add(o, "calibrator", json_object_new_string(e->calibrator));
		json_object_object_add(o, "source_group",
				       json_object_new_string(e->source_group));
		json_object_object_add(o, "refant", json_object_new_int(e->refant));
		json_object_object_add(o, "obs_mjd", json_object_new_double(e->obs_mjd));
		json_object_object_add(o, "valid_start_mjd",
				       json_object_new_double(e->valid_start_mjd));
		json_object_object_add(o, "valid_end_mjd",
				       json_object_new_double(e->valid_end_mjd));
		util_iso_utc(e->created_unix, buf, sizeof buf);
		json_object_object_add(o, "created", json_object_new_string(buf));
		json_object_object_add(o, "status",
				       json_object_new_string(calreg_status_name(e->status)));
		json_object_object_add(o, "flagged_fraction", jnum(e->flagged_fraction));
		json_object_object_add(o, "median_snr", jnum(e->median_snr));
		json_object_object_add(o, "phase_scatter_deg", jnum(e->phase_scatter_deg));
		json_object_array_add(arr, o);
	}
	return arr;
}

int view_caltables(sqlite3 *db, json_object **ret, char *err, size_t errlen)
{
	calreg_entry *rows = NULL;
	size_t n = 0;
	int r = calreg_list(db, &rows, &n, err, errlen);

	/* A database from before the registry's migration has no rows either. */
	if (r < 0 && strstr(err, "no such table"))
		r = 0, n = 0;
	if (r < 0)
		return r;
	*ret = view_caltables_json(rows, n);
	free(rows);
	return 0;
}

/* ---- from ctl_phot.c: candidates, lightcurve ---- */

static json_object *jint_or_null(int v)
{
	return v >= 0 ? json_object_new_int(v) : NULL;
}

static json_object *jflag(int v)
{
	return v >= 0 ? json_object_new_boolean(v) : NULL;
}

/* The keys issue 17 added to a candidate's object (docs/cli.md): what the fit
 * knows and the vetting context.  One function, so that other views of the
 * candidates (the web service) add exactly these. */
static void cand_json_vetting(json_object *o, const photdb_cand *c)
{
	json_object *alt = json_object_new_object(), *terms = json_object_new_object();
	json_object *ep = json_object_new_object(), *cat = json_object_new_object();
	json_object *bright = NULL;
	json_object_object_add(o, "ongoing", json_object_new_boolean(c->ongoing));
	json_object_object_add(o, "depth", jnum(c->amplitude));
	json_object_object_add(o, "duration_days", jnum(c->duration_days));
	json_object_object_add(o, "f0_jy", jnum(c->f0));
	json_object_object_add(o, "lensed_fraction", jnum(c->lensed_fraction));
	json_object_object_add(o, "last_mjd", jnum(c->last_mjd));
	json_object_object_add(o, "first_crossed_mjd", jnum(c->first_crossed_mjd));
	json_object_object_add(o, "first_crossed_at_unix", jnum(c->first_crossed_at));
	json_object_object_add(o, "ra_deg", jnum(c->ra_deg));
	json_object_object_add(o, "dec_deg", jnum(c->dec_deg));
	/* the best alternative model and the evidence against it */
	json_object_object_add(alt, "model", c->best_alt[0] ? json_object_new_string(c->best_alt)
							    : NULL);
	json_object_object_add(alt, "dbic", jnum(c->dbic));
	json_object_object_add(alt, "evidence", jnum(c->alt_evidence));
	json_object_object_add(o, "best_alternative", alt);
	json_object_object_add(ep, "inside", jint_or_null(c->n_event));
	json_object_object_add(ep, "ingress", jint_or_null(c->n_ingress));
	json_object_object_add(ep, "egress", jint_or_null(c->n_egress));
	json_object_object_add(ep, "baseline", jint_or_null(c->n_base));
	json_object_object_add(o, "epochs", ep);
	json_object_object_add(terms, "s_evid", jnum(c->s_evid));
	json_object_object_add(terms, "s_depth", jnum(c->s_depth));
	json_object_object_add(terms, "s_time", jnum(c->s_time));
	json_object_object_add(terms, "s_epochs", jnum(c->s_epochs));
	json_object_object_add(terms, "s_sig", jnum(c->s_sig));
	json_object_object_add(terms, "s_quiet", jnum(c->s_quiet));
	json_object_object_add(o, "score_terms", terms);
	json_object_object_add(o, "pb", jnum(c->pb));
	json_object_object_add(cat, "flux_mjy", jnum(c->cat_flux_mjy));
	json_object_object_add(cat, "resolved", jflag(c->cat_resolved));
	json_object_object_add(cat, "confused", jflag(c->cat_confused));
	json_object_object_add(cat, "major_arcsec", jnum(c->cat_major_arcsec));
	json_object_object_add(o, "catalog", cat);
	if (c->bright_source[0]) {
		bright = json_object_new_object();
		json_object_object_add(bright, "source", json_object_new_string(c->bright_source));
		json_object_object_add(bright, "sep_deg", jnum(c->bright_sep_deg));
		json_object_object_add(bright, "flux_mjy", jnum(c->bright_flux_mjy));
	}
	json_object_object_add(o, "bright_neighbour", bright);
	/* in-band sub-band fluxes and spectral index: null until the photometry
	 * stores them (issue 17, sub-band imaging) */
	json_object_object_add(o, "subband", NULL);
}

json_object *view_candidates_json(const photdb_cand *c, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "source", json_object_new_string(c[i].source));
		json_object_object_add(o, "score", jnum(c[i].score));
		json_object_object_add(o, "status", json_object_new_string(c[i].status));
		json_object_object_add(o, "n", json_object_new_int64(c[i].n));
		json_object_object_add(o, "chi2_nu", jnum(c[i].chi2_nu));
		json_object_object_add(o, "eta", jnum(c[i].eta));
		json_object_object_add(o, "v", jnum(c[i].v));
		json_object_object_add(o, "amplitude", jnum(c[i].amplitude));
		json_object_object_add(o, "timescale_days", jnum(c[i].timescale_days));
		json_object_object_add(o, "asymmetry", jnum(c[i].asymmetry));
		json_object_object_add(o, "t0_mjd", jnum(c[i].t0_mjd));
		json_object_object_add(o, "note", c[i].note[0] ? json_object_new_string(c[i].note)
							   : NULL);
		cand_json_vetting(o, &c[i]);
		json_object_array_add(a, o);
	}
	return a;
}

int view_candidates(sqlite3 *db, json_object **ret, char *err, size_t errlen)
{
	photdb_cand *c = NULL;
	size_t n = 0;
	int r = photdb_cand_list(db, &c, &n, err, errlen);

	if (r < 0)
		return r;
	*ret = view_candidates_json(c, n);
	/* The joint sub-band lens fit of each candidate (null without one). */
	for (size_t i = 0; i < n; i++) {
		photdb_ese_band b;
		int rb = photdb_ese_band_get(db, c[i].source, &b, err, errlen);
		if (rb == -ENOENT)
			continue;
		if (rb < 0) {
			json_object_put(*ret);
			*ret = NULL;
			free(c);
			return rb;
		}
		json_object *sb = json_object_new_object();
		json_object_object_add(sb, "consistency", jnum(b.consistency));
		json_object_object_add(sb, "dchi2", jnum(b.dchi2));
		json_object_object_add(sb, "decisive", json_object_new_boolean(b.decisive));
		json_object_object_add(sb, "n", json_object_new_int(b.n));
		json_object_object_add(sb, "nsub", json_object_new_int(b.nsub));
		json_object_object_add(sb, "lens_alpha", jnum(b.lens_alpha));
		json_object_object_add(sb, "ref_freq_hz", jnum(b.ref_freq_hz));
		json_object_object_add(json_object_array_get_idx(*ret, i), "subband", sb);
	}
	free(c);
	return 0;
}

/* One integer of flags per point: forced flags in bits 0–7, normalisation
 * flags in bits 8–15, PHOT_FLAG_UNCALIBRATED (bit 16) — see docs/cli.md. */
unsigned view_point_flags(const photdb_row *r)
{
	return (r->forced_flags & 0xff) | ((r->norm_flags & 0xff) << 8) |
	       (r->calibrated == PHOT_CAL_NONE ? PHOT_FLAG_UNCALIBRATED : 0) |
	       (r->calibrated == PHOT_CAL_BANDPASS ? PHOT_FLAG_BANDPASS_ONLY : 0) |
	       (r->norm_flags & NORM_BAD_QUALITY ? PHOT_FLAG_BAD_QUALITY : 0);
}

int view_flux_in_jy(const photdb_row *r)
{
	return r->calibrated == PHOT_CAL_FULL;
}

json_object *view_lightcurve_json(const char *source, const photdb_row *rows, size_t n)
{
	json_object *o = json_object_new_object(), *pts = json_object_new_array();
	json_object_object_add(o, "source", json_object_new_string(source));
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "mjd", jnum(rows[i].mjd));
		int jy = view_flux_in_jy(&rows[i]);
		json_object_object_add(p, "flux_jy", jnum(jy ? rows[i].flux_jy : NAN));
		json_object_object_add(p, "flux_raw", jnum(rows[i].flux_jy));
		json_object_object_add(p, "flux_unit", json_object_new_string(jy ? "Jy" : "uncal"));
		json_object_object_add(p, "quality", json_object_new_string(
			rows[i].norm_flags & NORM_BAD_QUALITY ? "bad" : "good"));
		json_object_object_add(p, "flux_err_jy", jnum(rows[i].flux_err_jy));
		json_object_object_add(p, "normalized_flux_jy", jnum(rows[i].normalized_flux_jy));
		json_object_object_add(p, "normalized_flux_err_jy",
				       jnum(rows[i].normalized_flux_err_jy));
		json_object_object_add(p, "correction", jnum(rows[i].correction));
		json_object_object_add(p, "flags", json_object_new_int64(view_point_flags(&rows[i])));
		json_object_object_add(p, "local_rms_jy", jnum(rows[i].local_rms_jy));
		json_object_object_add(p, "group_id", json_object_new_int64(rows[i].group_id));
		json_object_object_add(p, "in_variability",
				       json_object_new_boolean(rows[i].in_variability));
		json_object_array_add(pts, p);
	}
	json_object_object_add(o, "points", pts);
	return o;
}

int view_lightcurve(sqlite3 *db, const char *source, json_object **ret, char *err,
		    size_t errlen)
{
	photdb_row *rows = NULL;
	size_t n = 0;
	int r = photdb_lightcurve(db, source, &rows, &n, err, errlen);

	if (r < 0)
		return r;
	if (n == 0) {
		free(rows);
		return 0;
	}
	*ret = view_lightcurve_json(source, rows, n);
	free(rows);
	return 1;
}

/* ---- quality: the epoch quality records ---- */

/* The checks of enum phot_qual by bit, with the name an operator types and
 * reads (docs/cli.md, quality). */
static const struct {
	unsigned bit;
	const char *name;
} quality_checks[] = {
	{ PHOT_QUAL_NOISE, "noise" },       { PHOT_QUAL_DR, "dr" },
	{ PHOT_QUAL_FLAGGED, "flagged" },   { PHOT_QUAL_CORRECTION, "correction" },
	{ PHOT_QUAL_CLIPPED, "clipped" },   { PHOT_QUAL_RADIOMETER, "radiometer" },
	{ PHOT_QUAL_PROVISIONAL, "provisional" },
};
#define NQUALITY_CHECKS (sizeof quality_checks / sizeof quality_checks[0])

/* The name of bit b (0..31) into buf (>= 8 bytes). */
static const char *quality_bit_name(int b, char *buf, size_t buflen)
{
	for (size_t k = 0; k < NQUALITY_CHECKS; k++)
		if (quality_checks[k].bit == 1u << b)
			return quality_checks[k].name;
	snprintf(buf, buflen, "bit%d", b);
	return buf;
}

void view_quality_checks_text(unsigned flags, char *buf, size_t buflen)
{
	size_t len = 0;
	if (!buflen)
		return;
	snprintf(buf, buflen, "%s", flags ? "" : "ok");
	for (int b = 0; b < 32; b++) {
		char tmp[8];
		if (!(flags & 1u << b))
			continue;
		int w = snprintf(buf + len, buflen - len, "%s%s", len ? "," : "",
				 quality_bit_name(b, tmp, sizeof tmp));
		if (w < 0 || (size_t)w >= buflen - len)
			break; /* truncated: snprintf terminated it */
		len += (size_t)w;
	}
}

json_object *view_quality_record(const photdb_quality *q, const char *group)
{
	json_object *o = json_object_new_object(), *checks = json_object_new_array();
	json_object_object_add(o, "group_id", json_object_new_int64(q->group_id));
	json_object_object_add(o, "group", group && group[0] ? json_object_new_string(group)
							     : NULL);
	json_object_object_add(o, "mjd", jnum(q->mjd));
	json_object_object_add(o, "noise_jy", jnum(q->noise_jy));
	json_object_object_add(o, "expected_noise_jy", jnum(q->expected_noise_jy));
	json_object_object_add(o, "radiometer_ratio", jnum(q->radiometer_ratio));
	json_object_object_add(o, "noise_ratio", jnum(q->noise_ratio));
	json_object_object_add(o, "dynamic_range", jnum(q->dynamic_range));
	json_object_object_add(o, "correction", jnum(q->correction));
	json_object_object_add(o, "correction_z", jnum(q->correction_z));
	json_object_object_add(o, "clipped_frac", jnum(q->clipped_frac));
	json_object_object_add(o, "flagged_frac", jnum(q->flagged_frac));
	json_object_object_add(o, "nref", json_object_new_int(q->nref));
	json_object_object_add(o, "flags", json_object_new_int64(q->flags));
	for (int b = 0; b < 32; b++) {
		char tmp[8];
		if (q->flags & 1u << b)
			json_object_array_add(checks, json_object_new_string(
				quality_bit_name(b, tmp, sizeof tmp)));
	}
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "ok", json_object_new_boolean(!(q->flags & PHOT_QUAL_BAD)));
	return o;
}

json_object *view_quality_json(const photdb_quality_entry *e, size_t n)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, view_quality_record(&e[i].q, e[i].group));
	json_object_object_add(o, "records", a);
	return o;
}

json_object *view_quality_thresholds(const photdb_quality *q, const phot_quality_settings *qs)
{
	/* The value each check of daemon/stage_photometry.c compares, and with
	 * what; a limit of 0 turns the dr and radiometer checks off. */
	const struct {
		unsigned bit;
		double value, limit;
		const char *compare;
		int enabled;
	} t[] = {
		{ PHOT_QUAL_NOISE, q->noise_ratio, qs->max_noise_ratio, "<=", 1 },
		{ PHOT_QUAL_DR, q->dynamic_range, qs->min_dynamic_range, ">=",
		  qs->min_dynamic_range > 0 },
		{ PHOT_QUAL_FLAGGED, q->flagged_frac, qs->max_flagged_frac, "<=", 1 },
		{ PHOT_QUAL_CORRECTION, q->correction_z, qs->max_correction_z, "|z| <=", 1 },
		{ PHOT_QUAL_CLIPPED, q->clipped_frac, qs->max_clipped_frac, "<=", 1 },
		{ PHOT_QUAL_RADIOMETER, q->radiometer_ratio, qs->max_radiometer_ratio, "<=",
		  qs->max_radiometer_ratio > 0 },
	};
	json_object *a = json_object_new_array();
	unsigned now = phot_quality_failed(q, qs);
	for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
		json_object *o = json_object_new_object();
		char tmp[8];
		int b = __builtin_ctz(t[k].bit);
		json_object_object_add(o, "check", json_object_new_string(
			quality_bit_name(b, tmp, sizeof tmp)));
		json_object_object_add(o, "value", jnum(t[k].value));
		json_object_object_add(o, "limit", jnum(t[k].limit));
		json_object_object_add(o, "compare", json_object_new_string(t[k].compare));
		json_object_object_add(o, "enabled", json_object_new_boolean(t[k].enabled));
		json_object_object_add(o, "failed", json_object_new_boolean(q->flags & t[k].bit));
		/* The stage's own judgement, with today's settings. */
		json_object_object_add(o, "fails_now",
				       json_object_new_boolean(now & t[k].bit));
		json_object_array_add(a, o);
	}
	return a;
}

/* ---- the views only contimg-web serves ---- */

int view_ese_model(sqlite3 *db, const char *source, double t0_mjd, double t1_mjd, int npts,
		   json_object **ret, char *err, size_t errlen)
{
	photdb_cand c;
	ese_result er;
	json_object *o, *curve;
	int r = photdb_cand_get(db, source, &c, err, errlen);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (npts < 2 || !(t1_mjd > t0_mjd))
		return err_set(err, errlen, -EINVAL, "ese model: empty time range");
	/* As `lightcurve --svg` draws it (daemon/ctl_phot.c). */
	memset(&er, 0, sizeof er);
	er.scored = 1;
	er.score = c.score;
	er.f0 = c.f0;
	er.t0_mjd = c.t0_mjd;
	er.t_days = c.t_days;
	er.alpha = c.alpha;
	er.src_size = c.src_size;
	o = json_object_new_object();
	json_object_object_add(o, "score", jnum(c.score));
	json_object_object_add(o, "f0_jy", jnum(c.f0));
	json_object_object_add(o, "t0_mjd", jnum(c.t0_mjd));
	json_object_object_add(o, "t_days", jnum(c.t_days));
	json_object_object_add(o, "alpha", jnum(c.alpha));
	json_object_object_add(o, "src_size", jnum(c.src_size));
	curve = json_object_new_array();
	for (int k = 0; k < npts; k++) {
		double t = t0_mjd + (t1_mjd - t0_mjd) * k / (npts - 1), f = ese_model_flux(&er, t);
		json_object *p;
		if (!isfinite(f))
			continue;
		p = json_object_new_array();
		json_object_array_add(p, json_object_new_double(t));
		json_object_array_add(p, json_object_new_double(f));
		json_object_array_add(curve, p);
	}
	json_object_object_add(o, "curve", curve);
	*ret = o;
	return 1;
}

int view_group_names(sqlite3 *db, json_object *lightcurve, json_object **ret, char *err,
		     size_t errlen)
{
	json_object *pts = NULL, *o = json_object_new_object();

	json_object_object_get_ex(lightcurve, "points", &pts);
	for (size_t i = 0; i < json_object_array_length(pts); i++) {
		json_object *p = json_object_array_get_idx(pts, i), *g = NULL;
		char key[32], name[QUEUE_NAME_LEN];
		int64_t gid;
		int r;
		if (!json_object_object_get_ex(p, "group_id", &g))
			continue;
		gid = json_object_get_int64(g);
		snprintf(key, sizeof key, "%lld", (long long)gid);
		if (json_object_object_get_ex(o, key, NULL))
			continue;
		r = queue_group_name(db, gid, name, sizeof name, err, errlen);
		if (r == -ENOENT)
			continue; /* the group was deleted since */
		if (r < 0) {
			json_object_put(o);
			return r;
		}
		json_object_object_add(o, key, json_object_new_string(name));
	}
	*ret = o;
	return 0;
}

/* The base name of a path (products are shown by name only). */
static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static json_object *image_object(const webdb_image *m, double sefd_jy)
{
	json_object *o = json_object_new_object(), *b, *c;
	double expect = NAN, f = isfinite(m->flag_fraction) ? m->flag_fraction : 0;
	const char *source = NULL;
	char url[128];

	if (m->expected_noise_jy > 0) {
		/* What the image stage measured: the visibilities' own noise
		 * through the imaging weights actually used (imaging/noise.h). */
		expect = m->expected_noise_jy;
		source = "data";
	} else if (m->n_antennas > 1 && sefd_jy > 0 && m->bandwidth_hz > 0 &&
		   m->integration_s > 0 && f < 1) {
		/* Rows without it: the radiometer equation for a naturally
		 * weighted Stokes I image of two polarisations, sigma = SEFD /
		 * sqrt(2 Nbl dnu tau (1 - f)).  It ignores the imaging weights
		 * (Briggs 0 is 1.32x above it for the 96-antenna array) and
		 * trusts sefd_jy (docs/web.md), so this ratio is only a trend. */
		double nbl = 0.5 * m->n_antennas * (m->n_antennas - 1);
		expect = sefd_jy / sqrt(2.0 * nbl * m->bandwidth_hz * m->integration_s * (1 - f));
		source = "sefd-natural";
	}
	json_object_object_add(o, "group_id", json_object_new_string(m->group));
	json_object_object_add(o, "product", json_object_new_string(base_name(m->path)));
	json_object_object_add(o, "mjd_obs", jnum(m->mjd_obs));
	json_object_object_add(o, "rms_jy", jnum(m->noise_jy));
	json_object_object_add(o, "expected_rms_jy", jnum(expect));
	json_object_object_add(o, "expected_rms_source", jstr(source));
	json_object_object_add(o, "rms_ratio", jnum(m->noise_jy / expect));
	json_object_object_add(o, "peak_jy", jnum(m->peak_jy));
	json_object_object_add(o, "dynamic_range", jnum(m->dynamic_range));
	b = json_object_new_object();
	json_object_object_add(b, "bmaj_arcsec", jnum(m->bmaj_arcsec));
	json_object_object_add(b, "bmin_arcsec", jnum(m->bmin_arcsec));
	json_object_object_add(b, "bpa_deg", jnum(m->bpa_deg));
	json_object_object_add(o, "beam", b);
	c = json_object_new_object();
	json_object_object_add(c, "ra_deg", jnum(m->ra_deg));
	json_object_object_add(c, "dec_deg", jnum(m->dec_deg));
	json_object_object_add(o, "centre", c);
	json_object_object_add(o, "nx", json_object_new_int(m->nx));
	json_object_object_add(o, "ny", json_object_new_int(m->ny));
	json_object_object_add(o, "cell_arcsec", jnum(m->cell_arcsec));
	json_object_object_add(o, "freq_hz", jnum(m->freq_hz));
	json_object_object_add(o, "bandwidth_hz", jnum(m->bandwidth_hz));
	json_object_object_add(o, "integration_s", jnum(m->integration_s));
	json_object_object_add(o, "calibrated", json_object_new_boolean(m->calibrated));
	json_object_object_add(o, "flag_fraction", jnum(m->flag_fraction));
	json_object_object_add(o, "n_antennas",
			       m->n_antennas ? json_object_new_int(m->n_antennas) : NULL);
	snprintf(url, sizeof url, "/products/%s/quicklook.png", m->group);
	json_object_object_add(o, "quicklook_url", json_object_new_string(url));
	return o;
}

int view_images(sqlite3 *db, int limit, double sefd_jy, json_object **ret, char *err,
		size_t errlen)
{
	webdb_image *m = NULL;
	size_t n = 0;
	json_object *a;
	int r;

	if (limit < 1 || limit > 1000)
		return err_set(err, errlen, -EINVAL, "images: limit %d not in 1..1000", limit);
	if ((r = webdb_images(db, limit, &m, &n, err, errlen)) < 0)
		return r;
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, image_object(&m[i], sefd_jy));
	free(m);
	*ret = a;
	return 0;
}

int view_image_latest(sqlite3 *db, double sefd_jy, json_object **ret, char *err,
		      size_t errlen)
{
	json_object *a = NULL;
	int r = view_images(db, 1, sefd_jy, &a, err, errlen);

	if (r < 0)
		return r;
	if (json_object_array_length(a) == 0) {
		json_object_put(a);
		return 0;
	}
	*ret = json_object_get(json_object_array_get_idx(a, 0));
	json_object_put(a);
	return 1;
}

/* Great-circle distance in degrees (Vincenty's form, well-conditioned at all
 * separations). */
static double sep_deg(double ra1, double dec1, double ra2, double dec2)
{
	double dra = (ra2 - ra1) * D2R, s1 = sin(dec1 * D2R), c1 = cos(dec1 * D2R),
	       s2 = sin(dec2 * D2R), c2 = cos(dec2 * D2R);
	double x = c2 * sin(dra), y = c1 * s2 - s1 * c2 * cos(dra), z = s1 * s2 + c1 * c2 * cos(dra);
	return atan2(hypot(x, y), z) / D2R;
}

static int by_distance(const void *a, const void *b)
{
	double x = json_object_get_double(
		json_object_object_get(*(json_object *const *)a, "distance_deg"));
	double y = json_object_get_double(
		json_object_object_get(*(json_object *const *)b, "distance_deg"));
	return (x > y) - (x < y);
}

int view_sources(sqlite3 *db, const char *name, double ra_deg, double dec_deg,
		 double radius_deg, int limit, json_object **ret, char *err, size_t errlen)
{
	webdb_source *s = NULL;
	size_t n = 0;
	json_object *a;
	int r, bypos = name == NULL;

	if (limit < 1 || limit > 1000)
		return err_set(err, errlen, -EINVAL, "sources: limit %d not in 1..1000", limit);
	if (bypos && (!isfinite(ra_deg) || !isfinite(dec_deg) || !(radius_deg > 0) ||
		      radius_deg > 180 || dec_deg < -90 || dec_deg > 90))
		return err_set(err, errlen, -EINVAL, "sources: bad position or radius");
	/* By position the declination band is the SQL filter, the great circle
	 * the exact one; every source of the band is read before the limit. */
	r = bypos ? webdb_sources(db, NULL, dec_deg - radius_deg, dec_deg + radius_deg, 1000000,
				  &s, &n, err, errlen)
		  : webdb_sources(db, name, -91, 91, limit, &s, &n, err, errlen);
	if (r < 0)
		return r;
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o;
		double d = NAN;
		if (bypos) {
			d = sep_deg(ra_deg, dec_deg, s[i].ra_deg, s[i].dec_deg);
			if (!(d <= radius_deg))
				continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "source", json_object_new_string(s[i].source));
		json_object_object_add(o, "ra_deg", jnum(s[i].ra_deg));
		json_object_object_add(o, "dec_deg", jnum(s[i].dec_deg));
		json_object_object_add(o, "n", json_object_new_int64(s[i].n));
		json_object_object_add(o, "last_mjd", jnum(s[i].last_mjd));
		json_object_object_add(o, "score", jnum(s[i].score));
		if (bypos)
			json_object_object_add(o, "distance_deg", json_object_new_double(d));
		json_object_array_add(a, o);
	}
	free(s);
	if (bypos) {
		json_object_array_sort(a, by_distance);
		while (json_object_array_length(a) > (size_t)limit)
			json_object_array_del_idx(a, json_object_array_length(a) - 1, 1);
	}
	*ret = a;
	return 0;
}
