/*
 * daemon/stage_photometry.c — the photometry stage (stage_photometry.h).
 */
#include "daemon/stage_photometry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/stats.h"
#include "daemon/alert.h"
#include "daemon/pointing.h"
#include "daemon/settings.h"
#include "daemon/stage_flag.h"
#include "daemon/stage_phot_band.h"
#include "imaging/image.h"
#include "photometry/epoch.h"
#include "photometry/variability.h"
#include "state/db.h"
#include "state/photdb.h"

#define DEG (M_PI / 180.0)

void phot_settings_default(phot_settings *s)
{
	memset(s, 0, sizeof *s);
	forced_params_default(&s->fp);
	norm_params_default(&s->np);
	ese_params_default(&s->ep);
	s->ese_window_days = 365;
	s->min_flux_mjy = 0;
	s->qual.max_noise_ratio = 2.0;
	s->qual.min_dynamic_range = 0;
	s->qual.max_flagged_frac = 0.5;
	s->qual.max_correction_z = 5;
	s->qual.max_clipped_frac = 0.5;
	s->qual.max_radiometer_ratio = 6.0;
	s->qual.window = 30;
}

int phot_settings_read(const cfg *c, phot_settings *s, char *err, size_t errlen)
{
	const char *sec = "photometry";
	double ref_off_deg;
	int r = 0;
	phot_settings_default(s);
	s->fp.threads = 0;
	if ((r = cfg_double(c, sec, "box_beams", s->fp.box_beams, &s->fp.box_beams, err, errlen)) ||
	    (r = cfg_double(c, sec, "group_beams", s->fp.group_beams, &s->fp.group_beams, err, errlen)) ||
	    (r = cfg_double(c, sec, "pb_cut", s->fp.pb_cut, &s->fp.pb_cut, err, errlen)) ||
	    (r = cfg_double(c, sec, "rms_box_beams", s->fp.rms_box_beams, &s->fp.rms_box_beams, err,
			    errlen)) ||
	    (r = cfg_bool(c, sec, "noise_correlated", s->fp.noise_correlated,
			  &s->fp.noise_correlated, err, errlen)) ||
	    (r = cfg_double(c, sec, "ref_min_snr", s->np.ref_min_snr, &s->np.ref_min_snr, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "ref_max_offset_deg", 1.5, &ref_off_deg, err, errlen)) ||
	    (r = cfg_int(c, sec, "ref_max", s->np.ref_max, &s->np.ref_max, err, errlen)) ||
	    (r = cfg_int(c, sec, "baseline_epochs", s->np.baseline_epochs, &s->np.baseline_epochs,
			 err, errlen)) ||
	    (r = cfg_int(c, sec, "baseline_min_epochs", s->np.baseline_min_epochs,
			 &s->np.baseline_min_epochs, err, errlen)) ||
	    (r = cfg_int(c, sec, "min_refs", s->np.min_refs, &s->np.min_refs, err, errlen)) ||
	    (r = cfg_double(c, sec, "clip_sigma", s->np.clip_sigma, &s->np.clip_sigma, err, errlen)) ||
	    (r = cfg_double(c, sec, "retire_chi2_nu", s->np.retire_chi2_nu, &s->np.retire_chi2_nu,
			    err, errlen)) ||
	    (r = cfg_double(c, sec, "retire_window_days", s->np.retire_window_days,
			    &s->np.retire_window_days, err, errlen)) ||
	    (r = cfg_int(c, sec, "retire_min_epochs", s->np.retire_min_epochs,
			 &s->np.retire_min_epochs, err, errlen)) ||
	    (r = cfg_int(c, sec, "ese_min_epochs", s->ep.min_epochs, &s->ep.min_epochs, err,
			 errlen)) ||
	    (r = cfg_double(c, sec, "ese_gate_chi2_nu", s->ep.gate_chi2_nu, &s->ep.gate_chi2_nu,
			    err, errlen)) ||
	    (r = cfg_double(c, sec, "ese_gate_v", s->ep.gate_v, &s->ep.gate_v, err, errlen)) ||
	    (r = cfg_double(c, sec, "ese_tmin_days", s->ep.tmin_days, &s->ep.tmin_days, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "ese_tmax_days", s->ep.tmax_days, &s->ep.tmax_days, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "ese_candidate_score", s->ep.candidate_score,
			    &s->ep.candidate_score, err, errlen)) ||
	    (r = cfg_double(c, sec, "ese_window_days", s->ese_window_days, &s->ese_window_days, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "min_flux_mjy", s->min_flux_mjy, &s->min_flux_mjy, err, errlen)) ||
	    (r = cfg_double(c, sec, "quality_max_noise_ratio", s->qual.max_noise_ratio,
			    &s->qual.max_noise_ratio, err, errlen)) ||
	    (r = cfg_double(c, sec, "quality_min_dynamic_range", s->qual.min_dynamic_range,
			    &s->qual.min_dynamic_range, err, errlen)) ||
	    (r = cfg_double(c, sec, "quality_max_flagged_frac", s->qual.max_flagged_frac,
			    &s->qual.max_flagged_frac, err, errlen)) ||
	    (r = cfg_double(c, sec, "quality_max_correction_z", s->qual.max_correction_z,
			    &s->qual.max_correction_z, err, errlen)) ||
	    (r = cfg_double(c, sec, "quality_max_clipped_frac", s->qual.max_clipped_frac,
			    &s->qual.max_clipped_frac, err, errlen)) ||
	    (r = cfg_double(c, sec, "quality_max_radiometer_ratio", s->qual.max_radiometer_ratio,
			    &s->qual.max_radiometer_ratio, err, errlen)) ||
	    (r = cfg_int(c, sec, "quality_window", s->qual.window, &s->qual.window, err, errlen)))
		return r;
	if (!(s->qual.max_noise_ratio > 0) || !(s->qual.min_dynamic_range >= 0) ||
	    !(s->qual.max_flagged_frac >= 0) || !(s->qual.max_correction_z > 0) ||
	    !(s->qual.max_clipped_frac >= 0) || s->qual.window < 5 || s->qual.window > 64 ||
	    !(s->qual.max_radiometer_ratio == 0 || s->qual.max_radiometer_ratio >= 1))
		return err_set(err, errlen, -EINVAL, "[photometry] quality values out of range "
			       "(quality_max_noise_ratio, quality_max_correction_z > 0; "
			       "quality_min_dynamic_range, quality_max_flagged_frac, "
			       "quality_max_clipped_frac >= 0; 5 <= quality_window <= 64; "
			       "quality_max_radiometer_ratio 0 (off) or >= 1)");
	s->np.ref_max_offset_rad = ref_off_deg * DEG;
	if (!(s->fp.box_beams > 0) || !(s->fp.group_beams >= 0) || !(s->fp.rms_box_beams > 0) ||
	    s->np.ref_max < 1 || s->np.baseline_epochs < 1 ||
	    s->np.baseline_epochs > NORM_MAX_BASELINE || s->np.baseline_min_epochs < 1 ||
	    s->np.baseline_min_epochs > s->np.baseline_epochs || s->np.min_refs < 1 ||
	    !(s->ep.candidate_score >= 0 && s->ep.candidate_score <= 1) ||
	    !(s->ep.tmax_days > s->ep.tmin_days))
		return err_set(err, errlen, -EINVAL, "[photometry] values out of range (box_beams, "
			       "rms_box_beams > 0; 1 <= baseline_min_epochs <= baseline_epochs <= %d; "
			       "ref_max, min_refs >= 1; 0 <= ese_candidate_score <= 1; "
			       "ese_tmax_days > ese_tmin_days)", NORM_MAX_BASELINE);
	return 0;
}

void phot_result_free(struct phot_result *r)
{
	if (r) {
		free(r->forced);
		free(r->cand);
	}
	free(r);
}

_Static_assert(PHOTDB_MAX_BASE == NORM_MAX_BASELINE, "a stored baseline holds every epoch");

static void ref_from_db(const photdb_ref *d, epoch_ref *r)
{
	epoch_ref_init(r);
	r->norm.nbase = d->nbase;
	memcpy(r->norm.base_flux, d->base_flux, (size_t)d->nbase * sizeof *d->base_flux);
	r->norm.baseline = d->baseline;
	r->norm.retired = d->retired;
	r->snr = d->snr;
	r->retired_mjd = d->retired_mjd;
	r->retire_chi2_nu = d->retire_chi2_nu;
}

static void ref_to_db(const char *source, const epoch_ref *r, photdb_ref *d)
{
	memset(d, 0, sizeof *d);
	snprintf(d->source, sizeof d->source, "%s", source);
	d->snr = r->snr;
	d->nbase = r->norm.nbase;
	memcpy(d->base_flux, r->norm.base_flux, (size_t)r->norm.nbase * sizeof *d->base_flux);
	d->baseline = r->norm.baseline;
	d->retired = r->norm.retired;
	d->retired_mjd = r->retired_mjd;
	d->retire_chi2_nu = r->retire_chi2_nu;
}

static epoch_lc lc_view(const photdb_lc *l)
{
	return (epoch_lc){ .mjd = l->mjd, .flux = l->flux, .err = l->err, .n = l->n };
}

/* The running sums of a source: stored state, or rebuilt from the stored
 * light curve when the stored blob is from a different build (-EPROTO). */
static int load_var_state(sqlite3 *db, const char *source, var_state *st, char *err,
			  size_t errlen)
{
	int rc = photdb_var_get(db, source, NULL, st, sizeof *st, err, errlen);
	if (rc == -ENOENT) {
		var_init(st);
		return 0;
	}
	if (rc != -EPROTO)
		return rc;
	photdb_lc lc;
	if ((rc = photdb_var_lightcurve(db, source, -INFINITY, -1, &lc, err, errlen)))
		return rc;
	epoch_lc v = lc_view(&lc);
	epoch_var_rebuild(&v, st);
	photdb_lc_release(&lc);
	return 0;
}

static void var_to_db(const char *source, const epoch_var *v, photdb_var *d)
{
	memset(d, 0, sizeof *d);
	snprintf(d->source, sizeof d->source, "%s", source);
	d->n = v->vs.n;
	d->mean = v->vs.mean;
	d->std = v->vs.std;
	d->min = v->vs.min;
	d->max = v->vs.max;
	d->wmean = v->vs.wmean;
	d->chi2_nu = v->vs.chi2_nu;
	d->eta = v->vs.eta;
	d->v = v->vs.v;
	d->sigma_deviation = v->vs.sigma_deviation;
	d->vs = v->vs.vs;
	d->m = v->vs.m;
	d->first_mjd = v->st.first_mjd;
	d->last_mjd = v->st.last_mjd;
	d->ese_score = v->ese_score;
}

static void cand_to_db(const char *source, const epoch_var *v, photdb_cand *c)
{
	const ese_result *er = &v->ese;
	memset(c, 0, sizeof *c);
	snprintf(c->source, sizeof c->source, "%s", source);
	c->score = er->score;
	c->n = v->vs.n;
	c->chi2_nu = v->vs.chi2_nu;
	c->eta = v->vs.eta;
	c->v = v->vs.v;
	c->amplitude = er->amplitude;
	c->timescale_days = er->timescale_days;
	c->asymmetry = er->asymmetry;
	c->f0 = er->f0;
	c->t0_mjd = er->t0_mjd;
	c->t_days = er->t_days;
	c->alpha = er->alpha;
	c->src_size = er->src_size;
	c->ongoing = er->ongoing;
	snprintf(c->best_alt, sizeof c->best_alt, "%s", ese_alt_name(er->best_alt));
	c->alt_evidence = er->alt_evidence;
	c->dbic = er->dbic;
	c->duration_days = er->duration_days;
	c->lensed_fraction = er->lensed_fraction;
	c->n_event = er->n_event;
	c->n_ingress = er->n_ingress;
	c->n_egress = er->n_egress;
	c->n_base = er->n_base;
	c->s_evid = er->s_evid;
	c->s_depth = er->s_depth;
	c->s_time = er->s_time;
	c->s_epochs = er->s_epochs;
	c->s_sig = er->s_sig;
	c->s_quiet = er->s_quiet;
}

/* What the epoch's science needs from the database (photometry/epoch.h, step
 * 2): the candidates' reference state (baselines from the stored rows) and
 * recent light curves, and each measured source's running statistics and
 * whether they must be rebuilt. */
typedef struct epoch_loaded {
	epoch_ref *ref;          /* [n] with this epoch in the baseline (when eligible) */
	epoch_ref *ref_wo;       /* [n] without it (a bad-quality epoch) */
	photdb_lc *ref_lcs;
	epoch_lc *ref_lc;
	int *counted;
	var_state *var;
	int *rebuild;
	int *older;              /* [n] this epoch is older than the source's last counted one */
	int *was_retired;        /* [n] retired after this epoch's time: used here, kept retired */
	photdb_lc *rb_lcs;
	epoch_lc *rb_lc;
} epoch_loaded;

static void loaded_release(epoch_loaded *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (l->ref_lcs)
			photdb_lc_release(&l->ref_lcs[i]);
		if (l->rb_lcs)
			photdb_lc_release(&l->rb_lcs[i]);
	}
	free(l->ref);
	free(l->ref_wo);
	free(l->ref_lcs);
	free(l->ref_lc);
	free(l->counted);
	free(l->var);
	free(l->rebuild);
	free(l->older);
	free(l->was_retired);
	free(l->rb_lcs);
	free(l->rb_lc);
	memset(l, 0, sizeof *l);
}

/* A reference's baseline epochs are its first baseline_epochs calibrated,
 * good raw fluxes by time, from the stored rows of the other groups plus this
 * epoch's flux at its place in time (with = 1): keyed by group, so a re-run
 * replaces its epoch instead of appending it again. */
static int ref_baseline(sqlite3 *db, int64_t group_id, const char *name, double mjd,
			double flux, int with, const norm_params *np, norm_ref *with_ret,
			norm_ref *wo_ret, char *err, size_t errlen)
{
	double t[NORM_MAX_BASELINE], f[NORM_MAX_BASELINE];
	int n = 0, cap = np->baseline_epochs < NORM_MAX_BASELINE ? np->baseline_epochs
								  : NORM_MAX_BASELINE;
	int rc = photdb_ref_base(db, name, group_id, FORCED_BAD, NORM_BAD_QUALITY, cap, t, f, &n,
				 err, errlen);
	if (rc)
		return rc;
	int retired_w = with_ret->retired, retired_o = wo_ret->retired;
	norm_ref_init(with_ret);
	norm_ref_init(wo_ret);
	with_ret->retired = retired_w;
	wo_ret->retired = retired_o;
	int added = !(with && isfinite(flux));
	for (int k = 0; k < n; k++) {
		if (!added && t[k] > mjd) {
			norm_ref_add_baseline(with_ret, flux, np);
			added = 1;
		}
		norm_ref_add_baseline(with_ret, f[k], np);
		norm_ref_add_baseline(wo_ret, f[k], np);
	}
	if (!added)
		norm_ref_add_baseline(with_ret, flux, np);
	return 0;
}

static int load_epoch(sqlite3 *db, int64_t group_id, const epoch_input *in,
		      const catalog_source *src, const epoch_params *p, epoch_loaded *l,
		      char *err, size_t errlen)
{
	size_t n = in->n ? in->n : 1, *cand = NULL, ncand = 0;
	int rc;
	l->ref = malloc(n * sizeof *l->ref);
	l->ref_wo = malloc(n * sizeof *l->ref_wo);
	l->ref_lcs = calloc(n, sizeof *l->ref_lcs);
	l->ref_lc = calloc(n, sizeof *l->ref_lc);
	l->counted = calloc(n, sizeof *l->counted);
	l->var = calloc(n, sizeof *l->var);
	l->rebuild = calloc(n, sizeof *l->rebuild);
	l->older = calloc(n, sizeof *l->older);
	l->was_retired = calloc(n, sizeof *l->was_retired);
	l->rb_lcs = calloc(n, sizeof *l->rb_lcs);
	l->rb_lc = calloc(n, sizeof *l->rb_lc);
	if (!l->ref || !l->ref_wo || !l->ref_lcs || !l->ref_lc || !l->counted || !l->var ||
	    !l->rebuild || !l->older || !l->was_retired || !l->rb_lcs || !l->rb_lc ||
	    epoch_ref_candidates(in, &p->norm, &cand, &ncand)) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	for (size_t k = 0; k < ncand; k++) {
		size_t i = cand[k];
		photdb_ref d;
		rc = photdb_ref_get(db, src[i].name, &d, err, errlen);
		if (rc == -ENOENT)
			epoch_ref_init(&l->ref[i]);
		else if (rc)
			goto out;
		else
			ref_from_db(&d, &l->ref[i]);
		/* A re-run of an epoch before the reference's retirement uses it as
		 * the first run did; the retirement itself stays. */
		if (l->ref[i].norm.retired && in->mjd < l->ref[i].retired_mjd) {
			l->was_retired[i] = 1;
			l->ref[i].norm.retired = 0;
		}
		l->ref_wo[i] = l->ref[i];
		if (l->ref[i].norm.retired)
			continue;
		if ((rc = ref_baseline(db, group_id, src[i].name, in->mjd, in->fr[i].flux_jy,
				       in->calibrated, &p->norm, &l->ref[i].norm,
				       &l->ref_wo[i].norm, err, errlen)))
			goto out;
		if ((rc = photdb_var_lightcurve(db, src[i].name,
						in->mjd - p->norm.retire_window_days - 1, group_id,
						&l->ref_lcs[i], err, errlen)))
			goto out;
		l->ref_lc[i] = lc_view(&l->ref_lcs[i]);
	}
	for (size_t i = 0; i < in->n; i++) {
		if (!epoch_measured(&in->fr[i]))
			continue;
		photdb_row old;
		rc = photdb_get(db, group_id, src[i].name, &old, err, errlen);
		if (rc && rc != -ENOENT)
			goto out;
		l->counted[i] = rc == 0 && old.in_variability;
		if ((rc = load_var_state(db, src[i].name, &l->var[i], err, errlen)))
			goto out;
		l->older[i] = l->var[i].n > 0 && in->mjd < l->var[i].last_mjd;
		/* Appending in time order is what a rebuild from the rows
		 * computes; anything else (a re-run, a catch-up, an epoch older
		 * than the last counted) is rebuilt, so the state never depends
		 * on the order the groups were processed in. */
		l->rebuild[i] = l->counted[i] || (l->var[i].n > 0 && !(in->mjd > l->var[i].last_mjd));
		if (!l->rebuild[i])
			continue;
		if ((rc = photdb_var_lightcurve(db, src[i].name, -INFINITY, group_id, &l->rb_lcs[i],
						err, errlen)))
			goto out;
		l->rb_lc[i] = lc_view(&l->rb_lcs[i]);
	}
	rc = 0;
out:
	free(cand);
	return rc;
}

/* cout (NULL: not wanted, as for a caught-up older epoch) receives the
 * candidates upserted by this epoch for the alerts (*ret_ncout of them). */
static int store_epoch(sqlite3 *db, int64_t group_id, int calibrated, const epoch_input *in,
		       const catalog_source *src, const epoch_loaded *ld, const epoch_result *er,
		       phot_cand_out *cout, size_t *ret_ncout, char *err, size_t errlen)
{
	int rc;
	for (size_t k = 0; k < er->nref; k++) {
		photdb_ref d;
		size_t i = er->ref[k].src;
		if (!er->ref[k].store)
			continue;
		ref_to_db(src[i].name, &er->ref[k].state, &d);
		/* the SNR it was last chosen with is the latest epoch's, whatever
		 * order the groups were (re-)processed in */
		if (ld->older[i])
			d.snr = ld->ref_wo[i].snr;
		if (ld->was_retired[i]) {
			d.retired = 1;
			d.retired_mjd = ld->ref_wo[i].retired_mjd;
			d.retire_chi2_nu = ld->ref_wo[i].retire_chi2_nu;
		}
		if ((rc = photdb_ref_put(db, &d, err, errlen)))
			return rc;
	}
	for (size_t i = 0; i < in->n; i++) {
		const forced_result *f = &in->fr[i];
		const epoch_row *w = &er->row[i];
		if (!w->measured)
			continue;
		photdb_row row;
		memset(&row, 0, sizeof row);
		row.group_id = group_id;
		snprintf(row.source, sizeof row.source, "%s", src[i].name);
		row.mjd = in->mjd;
		row.ra_deg = src[i].ra_deg;
		row.dec_deg = src[i].dec_deg;
		row.flux_jy = f->flux_jy;
		row.flux_err_jy = f->flux_err_jy;
		row.normalized_flux_jy = w->norm_flux_jy;
		row.normalized_flux_err_jy = w->norm_flux_err_jy;
		row.correction = er->norm.correction;
		row.correction_err = er->norm.correction_err;
		row.local_rms_jy = f->rms_jy;
		row.pb = f->pb;
		row.chi2 = f->chi2;
		row.npix = f->npix;
		row.forced_flags = f->flags;
		row.norm_flags = er->norm.flags;
		row.calibrated = calibrated;
		row.in_variability = w->in_variability;
		if ((rc = photdb_put(db, &row, err, errlen)))
			return rc;
	}
	for (size_t k = 0; k < er->nvar; k++) {
		const epoch_var *v = &er->var[k];
		const char *name = src[v->src].name;
		photdb_var pv;
		photdb_cand c;
		var_to_db(name, v, &pv);
		if ((rc = photdb_var_put(db, &pv, &v->st, sizeof v->st, err, errlen)))
			return rc;
		if (v->cand == EPOCH_CAND_NONE)
			continue;
		cand_to_db(name, v, &c);
		alert_vetting(src, in->n, v->src, in->fr[v->src].pb, in->mjd, &c);
		rc = v->cand == EPOCH_CAND_UPSERT ? photdb_cand_upsert(db, &c, err, errlen)
						  : photdb_cand_refresh(db, &c, err, errlen);
		if (rc)
			return rc;
		/* The alerts of this epoch (daemon/alert.h) read these after the
		 * commit. */
		if (cout && v->cand == EPOCH_CAND_UPSERT) {
			const epoch_row *w = &er->row[v->src];
			cout[*ret_ncout] = (phot_cand_out){ .c = c, .flux_jy = w->norm_flux_jy,
							     .flux_err_jy = w->norm_flux_err_jy };
			++*ret_ncout;
		}
	}
	return 0;
}

/* Robust z of x against v[n] (median, 1.4826 MAD); NAN with fewer than 5. */
static double robust_z(double x, const double *v, int n)
{
	double a[64], d[64];
	int m = 0;
	for (int k = 0; k < n && m < 64; k++)
		if (isfinite(v[k]))
			a[m++] = v[k];
	if (m < 5 || !isfinite(x))
		return NAN;
	double med = stats_median_d(a, (size_t)m);
	for (int k = 0; k < m; k++)
		d[k] = fabs(a[k] - med);
	double sig = STATS_MAD_TO_SIGMA * stats_median_d(d, (size_t)m);
	return sig > 0 ? (x - med) / sig : (x == med ? 0 : INFINITY);
}

static double median_of(const double *v, int n)
{
	double a[64];
	int m = 0;
	for (int k = 0; k < n && m < 64; k++)
		if (isfinite(v[k]) && v[k] > 0)
			a[m++] = v[k];
	return m >= 5 ? stats_median_d(a, (size_t)m) : NAN;
}

unsigned phot_quality_failed(const photdb_quality *q, const phot_quality_settings *qs)
{
	unsigned f = 0;
	if (q->noise_ratio > qs->max_noise_ratio)
		f |= PHOT_QUAL_NOISE;
	if (qs->max_radiometer_ratio > 0 && q->radiometer_ratio > qs->max_radiometer_ratio)
		f |= PHOT_QUAL_RADIOMETER;
	if (q->dynamic_range < qs->min_dynamic_range)
		f |= PHOT_QUAL_DR;
	if (q->flagged_frac > qs->max_flagged_frac)
		f |= PHOT_QUAL_FLAGGED;
	if (fabs(q->correction_z) > qs->max_correction_z)
		f |= PHOT_QUAL_CORRECTION;
	if (q->clipped_frac > qs->max_clipped_frac)
		f |= PHOT_QUAL_CLIPPED;
	return f;
}

/* The image-level checks (before the correction is known). */
static int quality_pre(sqlite3 *db, int64_t group_id, double mjd, const phot_settings *s,
		       photdb_quality *q, char *err, size_t errlen)
{
	double noise[64], corr[64];
	int n = 0, w = s->qual.window < 64 ? s->qual.window : 64;
	int rc = photdb_quality_recent(db, mjd, group_id, w, noise, corr, &n, err, errlen);
	if (rc)
		return rc;
	q->noise_ratio = q->noise_jy / median_of(noise, n);
	/* The radiometer check needs no history: the expectation comes with
	 * the image (imaging/noise.h). */
	q->radiometer_ratio = q->expected_noise_jy > 0 ? q->noise_jy / q->expected_noise_jy : NAN;
	unsigned pre = PHOT_QUAL_NOISE | PHOT_QUAL_DR | PHOT_QUAL_FLAGGED | PHOT_QUAL_RADIOMETER;
	q->flags = (q->flags & ~pre) | (phot_quality_failed(q, &s->qual) & pre);
	return 0;
}

/* The correction-level checks.  Returns 1 when one fails. */
static int quality_post(sqlite3 *db, int64_t group_id, double mjd, const phot_settings *s,
			const epoch_result *er, photdb_quality *q, char *err, size_t errlen,
			int *ret_bad)
{
	double noise[64], corr[64];
	int n = 0, w = s->qual.window < 64 ? s->qual.window : 64;
	int rc = photdb_quality_recent(db, mjd, group_id, w, noise, corr, &n, err, errlen);
	if (rc)
		return rc;
	int with_ratio = er->norm.nref_used + er->norm.nref_clipped;
	q->correction = er->norm.correction;
	q->correction_z = robust_z(er->norm.correction, corr, n);
	q->clipped_frac = with_ratio > 0 ? (double)er->norm.nref_clipped / with_ratio : NAN;
	q->nref = er->norm.nref_used;
	unsigned post = PHOT_QUAL_CORRECTION | PHOT_QUAL_CLIPPED;
	q->flags = (q->flags & ~(post | PHOT_QUAL_PROVISIONAL)) |
		   (phot_quality_failed(q, &s->qual) & post);
	*ret_bad = (q->flags & PHOT_QUAL_BAD) != 0;
	if (!er->final && !*ret_bad)
		q->flags |= PHOT_QUAL_PROVISIONAL; /* not a failure: kept out of the distributions */
	return 0;
}

/* Steps 2-6 of one epoch inside the caller's transaction: load, run (again
 * as a bad-quality epoch when a check fails), score, store rows, statistics,
 * candidates, references and the quality record.  er is filled (caller
 * releases). */
static int run_epoch(sqlite3 *db, int64_t group_id, int calibrated, epoch_input *in,
		     const catalog_source *src, const phot_settings *s, const epoch_params *ep,
		     photdb_quality *q, epoch_result *er, phot_cand_out *cout, size_t *ret_ncout,
		     char *err, size_t errlen)
{
	epoch_loaded ld = { 0 };
	photdb_lc *ese_lcs = NULL;
	epoch_lc *ese_lc = NULL;
	int rc, bad = 0;
	q->group_id = group_id;
	q->mjd = in->mjd;
	if ((rc = quality_pre(db, group_id, in->mjd, s, q, err, errlen)))
		goto out;
	in->bad_quality = (q->flags & PHOT_QUAL_BAD) != 0;
	if ((rc = load_epoch(db, group_id, in, src, ep, &ld, err, errlen)))
		goto out;
	in->ref = in->bad_quality ? ld.ref_wo : ld.ref;
	in->ref_lc = ld.ref_lc;
	in->counted = ld.counted;
	in->var = ld.var;
	in->base_ready = 1;
	in->rebuild = ld.rebuild;
	in->rebuild_lc = ld.rb_lc;
	for (int pass = 0; pass < 2; pass++) {
		epoch_result_release(er);
		if ((rc = epoch_run(in, ep, er))) {
			err_set(err, errlen, rc, "photometry: %s",
				rc == -ENOMEM ? "out of memory" : "bad epoch input");
			goto out;
		}
		if ((rc = quality_post(db, group_id, in->mjd, s, er, q, err, errlen, &bad)))
			goto out;
		if (!bad || in->bad_quality)
			break;
		in->bad_quality = 1;
		in->ref = ld.ref_wo;
	}
	ese_lcs = calloc(er->nvar ? er->nvar : 1, sizeof *ese_lcs);
	ese_lc = calloc(er->nvar ? er->nvar : 1, sizeof *ese_lc);
	if (!ese_lcs || !ese_lc) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	for (size_t k = 0; k < er->nvar; k++) {
		if (!er->var[k].gated)
			continue;
		if ((rc = photdb_var_lightcurve(db, src[er->var[k].src].name,
						in->mjd - ep->ese_window_days, group_id, &ese_lcs[k],
						err, errlen)))
			goto out;
		ese_lc[k] = lc_view(&ese_lcs[k]);
	}
	if ((rc = epoch_score_ese(in, ese_lc, ep, er))) {
		err_set(err, errlen, rc, "photometry: out of memory");
		goto out;
	}
	if ((rc = store_epoch(db, group_id, calibrated, in, src, &ld, er, cout, ret_ncout, err,
			      errlen)) ||
	    (rc = photdb_quality_put(db, q, err, errlen)))
		goto out;
out:
	for (size_t k = 0; ese_lcs && k < er->nvar; k++)
		photdb_lc_release(&ese_lcs[k]);
	free(ese_lcs);
	free(ese_lc);
	loaded_release(&ld, in->n);
	in->ref = NULL;
	in->ref_lc = NULL;
	in->counted = NULL;
	in->var = NULL;
	in->rebuild = NULL;
	in->rebuild_lc = NULL;
	return rc;
}

static int cmp_row_source(const void *key, const void *elem)
{
	return strcmp(key, ((const photdb_row *)elem)->source);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Item 4 of issue 17: once this epoch is final, the stored provisional
 * epochs of its references' groups are re-run from their stored raw fluxes
 * (the baselines are complete now): quality judged again, re-normalised,
 * marked final and, when good, folded into the statistics (rebuilt in time
 * order).  Provisional epochs that failed quality are re-run as well: their
 * failure may have come from the provisional correction.  Returns how many were
 * re-run in *ret_n. */
static int catch_up(sqlite3 *db, int64_t group_id, const epoch_input *cur,
		    const epoch_result *cur_er, const catalog_source *src,
		    const phot_settings *s, const epoch_params *ep, size_t *ret_n, char *err,
		    size_t errlen)
{
	int64_t *gids = NULL;
	size_t ng = 0;
	forced_result *fr = NULL;
	photdb_row *rows = NULL;
	size_t nrows = 0;
	epoch_result er = { 0 };
	int rc = 0;
	*ret_n = 0;
	for (size_t k = 0; k < cur_er->nref; k++) {
		int64_t *g = NULL;
		size_t n = 0;
		if ((rc = photdb_provisional_groups(db, src[cur_er->ref[k].src].name, group_id,
						    NORM_PROVISIONAL, 0, &g, &n, err,
						    errlen)))
			goto out;
		int64_t *t = n ? realloc(gids, (ng + n) * sizeof *gids) : gids;
		if (n && !t) {
			free(g);
			rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
			goto out;
		}
		gids = t;
		if (n)
			memcpy(gids + ng, g, n * sizeof *g);
		ng += n;
		free(g);
	}
	if (ng == 0)
		goto out;
	qsort(gids, ng, sizeof *gids, cmp_i64);
	fr = malloc((cur->n ? cur->n : 1) * sizeof *fr);
	if (!fr) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	for (size_t k = 0; k < ng; k++) {
		if (k > 0 && gids[k] == gids[k - 1])
			continue;
		free(rows);
		rows = NULL;
		if ((rc = photdb_group_rows(db, gids[k], &rows, &nrows, err, errlen)))
			goto out;
		if (nrows == 0)
			continue;
		for (size_t i = 0; i < cur->n; i++) {
			const photdb_row *r = bsearch(src[i].name, rows, nrows, sizeof *rows,
						      cmp_row_source);
			memset(&fr[i], 0, sizeof fr[i]);
			fr[i].flux_jy = fr[i].flux_err_jy = NAN;
			if (!r) {
				fr[i].flags = FORCED_OUTSIDE;
				continue;
			}
			fr[i].flux_jy = r->flux_jy;
			fr[i].flux_err_jy = r->flux_err_jy;
			fr[i].rms_jy = r->local_rms_jy;
			fr[i].pb = r->pb;
			fr[i].chi2 = r->chi2;
			fr[i].npix = r->npix;
			fr[i].flags = r->forced_flags;
		}
		photdb_quality q;
		rc = photdb_quality_get(db, gids[k], &q, err, errlen);
		if (rc == -ENOENT) {
			memset(&q, 0, sizeof q);
			q.noise_jy = q.dynamic_range = q.flagged_frac = NAN;
			q.expected_noise_jy = q.radiometer_ratio = NAN;
		} else if (rc) {
			goto out;
		}
		epoch_input in = *cur;
		in.mjd = rows[0].mjd;
		in.calibrated = rows[0].calibrated == PHOT_CAL_FULL;
		in.fr = fr;
		if ((rc = run_epoch(db, gids[k], rows[0].calibrated, &in, src, s, ep, &q, &er, NULL, NULL, err,
				    errlen)))
			goto out;
		epoch_result_release(&er);
		(*ret_n)++;
	}
out:
	epoch_result_release(&er);
	free(gids);
	free(fr);
	free(rows);
	return rc;
}

int phot_process_epoch_qa(sqlite3 *db, int64_t group_id, double mjd, int calibrated,
			  const forced_image *img, double ra0_rad, double dec0_rad,
			  const catalog_source *src, size_t nsrc, const phot_settings *s,
			  const phot_image_qa *qa, struct phot_result **ret, char *err,
			  size_t errlen)
{
	epoch_params ep = { .norm = s->np, .ese = s->ep, .ese_window_days = s->ese_window_days,
			    .threads = s->fp.threads };
	double *ra = NULL, *dec = NULL;
	forced_result *fr = NULL;
	epoch_source *es = NULL;
	epoch_input in = { .mjd = mjd, .calibrated = calibrated == PHOT_CAL_FULL,
			   .ra0_rad = ra0_rad, .dec0_rad = dec0_rad, .n = nsrc };
	epoch_result er = { 0 };
	photdb_quality q = { .group_id = group_id, .mjd = mjd, .noise_jy = NAN,
			     .dynamic_range = NAN, .flagged_frac = NAN,
			     .expected_noise_jy = NAN, .radiometer_ratio = NAN };
	phot_result *res = NULL;
	int rc = 0, in_tx = 0;
	size_t nm = nsrc ? nsrc : 1, ncaught = 0;

	if (qa) {
		q.noise_jy = qa->noise_jy;
		q.dynamic_range = qa->dynamic_range;
		q.flagged_frac = qa->flagged_frac;
		q.expected_noise_jy = qa->expected_noise_jy > 0 ? qa->expected_noise_jy : NAN;
	}
	res = calloc(1, sizeof *res);
	ra = malloc(nm * sizeof *ra);
	dec = malloc(nm * sizeof *dec);
	fr = malloc(nm * sizeof *fr);
	es = malloc(nm * sizeof *es);
	if (!res || !ra || !dec || !fr || !es) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}

	/* 1. forced photometry (before taking the write lock) */
	for (size_t i = 0; i < nsrc; i++) {
		ra[i] = src[i].ra_deg * DEG;
		dec[i] = src[i].dec_deg * DEG;
		es[i] = (epoch_source){ .ra_rad = ra[i], .dec_rad = dec[i], .snr = src[i].snr,
					.flux_mjy = src[i].flux_mjy,
					.e_flux_mjy = src[i].e_flux_mjy,
					.resolved = src[i].resolved, .confused = src[i].confused };
	}
	if ((rc = forced_measure(img, NULL, &s->fp, ra, dec, nsrc, fr, err, errlen)))
		goto out;
	in.src = es;
	in.fr = fr;

	/* 2.-6. in one transaction, so a concurrent re-run cannot interleave;
	 * then the catch-up of provisional epochs in the same one */
	if ((rc = db_begin(db, err, errlen)))
		goto out;
	in_tx = 1;
	if (!(res->cand = calloc(nm, sizeof *res->cand))) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	if ((rc = run_epoch(db, group_id, calibrated, &in, src, s, &ep, &q, &er, res->cand,
			    &res->ncand, err, errlen)))
		goto out;
	if (er.final &&
	    (rc = catch_up(db, group_id, &in, &er, src, s, &ep, &ncaught, err, errlen)))
		goto out;
	rc = db_end(db, 1, err, errlen);
	in_tx = 0;
	if (rc)
		goto out;

	res->mjd = mjd;
	res->ncatalog = nsrc;
	res->nmeasured = er.nmeasured;
	res->nvalid = er.nvalid;
	res->nrefs = (size_t)er.norm.nref_used;
	res->correction = er.norm.correction;
	res->correction_err = er.norm.correction_err;
	res->norm_flags = er.norm.flags;
	res->quality_flags = q.flags;
	res->ncaught_up = ncaught;
	res->nvariability = er.nvar;
	res->nscored = er.nscored;
	res->ncandidates = er.ncandidates;
	for (size_t k = 0; k < er.nref; k++) {
		if (!er.ref[k].retired_now)
			continue;
		if (res->nretired < sizeof res->retired / sizeof res->retired[0]) {
			snprintf(res->retired[res->nretired], sizeof res->retired[0], "%s",
				 src[er.ref[k].src].name);
			res->retired_chi2_nu[res->nretired] = er.ref[k].state.retire_chi2_nu;
		}
		res->nretired++;
	}
out:
	if (in_tx) {
		char e2[ERR_LEN];
		db_end(db, 0, e2, sizeof e2);
	}
	if (rc == 0 && ret) {
		res->forced = fr;
		fr = NULL;
		*ret = res;
		res = NULL;
	}
	epoch_result_release(&er);
	phot_result_free(res);
	free(ra);
	free(dec);
	free(fr);
	free(es);
	return rc;
}

int phot_process_epoch(sqlite3 *db, int64_t group_id, double mjd, int calibrated,
		       const forced_image *img, double ra0_rad, double dec0_rad,
		       const catalog_source *src, size_t nsrc, const phot_settings *s,
		       struct phot_result **ret, char *err, size_t errlen)
{
	return phot_process_epoch_qa(db, group_id, mjd, calibrated, img, ra0_rad, dec0_rad, src,
				     nsrc, s, NULL, ret, err, errlen);
}

/* ---- the pipeline stage ---- */

static int img_sky2pix(void *ctx, double ra, double dec, double *x, double *y)
{
	return image_radec_to_pix(ctx, ra, dec, x, y);
}

void stage_photometry_release(pipe_ctx *ctx)
{
	phot_result_free(ctx->phot);
	ctx->phot = NULL;
}

int stage_photometry(pipe_ctx *ctx, char *err, size_t errlen)
{
	phot_settings s = ctx->conf->phot; /* parsed and validated with the configuration */
	const pointing_settings *ps = &ctx->conf->pointing;
	catalog *cat = NULL;
	catalog_source *src = NULL;
	size_t nsrc = 0;
	int rc;
	image_result *im = ctx->image;
	if (!im || !im->pbcor)
		return PIPE_SKIPPED;
	s.fp.threads = ctx->threads;
	rc = catalog_open(s.catalog_path, 1, &cat, err, errlen);
	if (rc == -ENOENT)
		return PIPE_SKIPPED; /* no source catalog imported yet: nothing to measure */
	if (rc)
		return rc;
	/* every source within the image's half-diagonal (the pb cut does the rest) */
	double radius_deg = 0.5 * hypot(im->nx, im->ny) * im->cell_rad / DEG;
	rc = catalog_sources_near(cat, im->ra0_rad / DEG, im->dec0_rad / DEG, radius_deg,
				  s.min_flux_mjy, &src, &nsrc, err, errlen);
	catalog_close(cat);
	if (rc)
		return rc;
	forced_image fi = {
		.nx = im->nx, .ny = im->ny, .data = im->pbcor, .pb = im->pb,
		.cell_rad = im->cell_rad, .bmaj_rad = im->beam.bmaj_rad,
		.bmin_rad = im->beam.bmin_rad, .bpa_rad = im->beam.bpa_rad,
		.sky2pix = img_sky2pix, .sky2pix_ctx = im,
	};
	phot_result_free(ctx->phot);
	ctx->phot = NULL;
	phot_image_qa qa = { .noise_jy = im->noise_jy, .dynamic_range = im->dynamic_range,
			     .flagged_frac = flag_report_fraction(ctx->flags),
			     .expected_noise_jy = im->expected_noise_jy };
	rc = phot_process_epoch_qa(ctx->db, ctx->group_id, im->jd_mid - 2400000.5,
				   ctx->calibrated, &fi, im->ra0_rad, im->dec0_rad, src, nsrc, &s,
				   &qa, &ctx->phot, err, errlen);
	if (rc == 0) {
		/* Is the beam where we think it is?  A failure to check (database,
		 * memory) is logged, not fatal: the photometry is stored. */
		char e[ERR_LEN] = "";
		if (pipe_pointing_check(ctx, ps, src, ctx->phot->forced, nsrc, e, sizeof e) < 0)
			log_msg(LOG_WARNING, ctx->group_name, "photometry", -1,
				"pointing check failed: %s", e);
		/* Alerts for the sources that first crossed the candidate score or
		 * first became ongoing (daemon/alert.h); logged, never fatal. */
		alert_emit_epoch(ctx->db, &ctx->conf->alerts, ctx->conf->pipe.products_dir,
				 ctx->group_id, ctx->group_name, ctx->phot);
	}
	if (rc == 0 && im->nsub >= 2) {
		/* Sub-band fluxes, spectral indices, the candidates' joint lens
		 * fits (daemon/stage_phot_band.h); the MFS epoch is already stored,
		 * so a failure here is logged, not fatal. */
		phot_band_summary bs;
		char e[ERR_LEN] = "";
		if (stage_phot_subbands(ctx, &s, src, nsrc, &bs, e, sizeof e) < 0)
			log_msg(LOG_WARNING, ctx->group_name, "photometry", -1,
				"sub-band photometry failed: %s", e);
		else
			log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
				"%d sub-bands: %zu measurements, %zu spectral indices (median alpha "
				"%.2f of the well measured), %zu candidate lens fits", bs.nsub,
				bs.nrows, bs.nspindex, bs.median_alpha, bs.nlens);
	}
	free(src);
	if (rc)
		return rc;
	const phot_result *p = ctx->phot;
	for (size_t k = 0; k < p->nretired && k < sizeof p->retired / sizeof p->retired[0]; k++)
		log_msg(LOG_NOTICE, ctx->group_name, "photometry", -1,
			"reference %s retired: chi2_nu %.2f over the last %.0f days", p->retired[k],
			p->retired_chi2_nu[k], s.np.retire_window_days);
	if (p->norm_flags & NORM_TOO_FEW_REFS)
		log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
			"not normalised: %zu usable references (need %d)", p->nrefs, s.np.min_refs);
	if (p->quality_flags & PHOT_QUAL_BAD)
		log_msg(LOG_NOTICE, ctx->group_name, "photometry", -1,
			"epoch failed its quality checks (flags 0x%x): stored, kept out of the "
			"statistics", p->quality_flags & PHOT_QUAL_BAD);
	if (p->ncaught_up)
		log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
			"%zu provisional epochs re-normalised and counted", p->ncaught_up);
	log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
		"%zu catalog sources, %zu measured (%zu with flux), correction %.4f ± %.4f from %zu "
		"references%s, %zu into variability, %zu ESE-scored, %zu candidates%s",
		p->ncatalog, p->nmeasured, p->nvalid, p->correction, p->correction_err, p->nrefs,
		p->norm_flags & NORM_PROVISIONAL ? " (provisional baseline)" : "",
		p->nvariability, p->nscored, p->ncandidates,
		ctx->calibrated == PHOT_CAL_FULL ? ""
		: ctx->calibrated == PHOT_CAL_BANDPASS ? " (bandpass only: kept out of variability)"
		: " (uncalibrated: kept out of variability)");
	return 0;
}
