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
#include "daemon/pipeline.h"
#include "daemon/pointing.h"
#include "imaging/image.h"
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
	    (r = cfg_double(c, sec, "min_flux_mjy", s->min_flux_mjy, &s->min_flux_mjy, err, errlen)))
		return r;
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
	const char *p = cfg_get_str(c, "catalog", "path", "");
	if (*p) {
		snprintf(s->catalog_path, sizeof s->catalog_path, "%s", p);
	} else {
		const char *sd = cfg_get_str(c, "paths", "state_dir", "/var/lib/contimg");
		if (catalog_default_path(sd, s->catalog_path, sizeof s->catalog_path) < 0)
			return err_set(err, errlen, -EINVAL, "[paths] state_dir: path too long");
	}
	return 0;
}

void phot_result_free(struct phot_result *r)
{
	if (r)
		free(r->forced);
	free(r);
}

static double ang_dist(double ra1, double dec1, double ra2, double dec2)
{
	double s = sin(0.5 * (dec2 - dec1)), t = sin(0.5 * (ra2 - ra1));
	return 2 * asin(sqrt(s * s + cos(dec1) * cos(dec2) * t * t));
}

static void to_photdb_var(const char *source, const var_state *st, double ese_score,
			  photdb_var *v)
{
	var_stats vs;
	var_get(st, &vs);
	memset(v, 0, sizeof *v);
	snprintf(v->source, sizeof v->source, "%s", source);
	v->n = vs.n;
	v->mean = vs.mean;
	v->std = vs.std;
	v->min = vs.min;
	v->max = vs.max;
	v->wmean = vs.wmean;
	v->chi2_nu = vs.chi2_nu;
	v->eta = vs.eta;
	v->v = vs.v;
	v->sigma_deviation = vs.sigma_deviation;
	v->vs = vs.vs;
	v->m = vs.m;
	v->first_mjd = st->first_mjd;
	v->last_mjd = st->last_mjd;
	v->ese_score = ese_score;
}

/* The light curve that enters the statistics: rows with in_variability. */
static int load_var_lc(sqlite3 *db, const char *source, double since_mjd, double **ret_t,
		       double **ret_f, double **ret_e, size_t *ret_n, char *err, size_t errlen)
{
	photdb_row *rows = NULL;
	size_t n = 0, k = 0;
	int rc = photdb_lightcurve(db, source, &rows, &n, err, errlen);
	if (rc)
		return rc;
	double *t = malloc((n ? n : 1) * sizeof *t), *f = malloc((n ? n : 1) * sizeof *f),
	       *e = malloc((n ? n : 1) * sizeof *e);
	if (!t || !f || !e) {
		free(t);
		free(f);
		free(e);
		free(rows);
		return err_set(err, errlen, -ENOMEM, "light curve of %s: out of memory", source);
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].in_variability && rows[i].mjd >= since_mjd) {
			t[k] = rows[i].mjd;
			f[k] = rows[i].normalized_flux_jy;
			e[k] = rows[i].normalized_flux_err_jy;
			k++;
		}
	free(rows);
	*ret_t = t;
	*ret_f = f;
	*ret_e = e;
	*ret_n = k;
	return 0;
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
	double *t, *f, *e;
	size_t n;
	if ((rc = load_var_lc(db, source, -INFINITY, &t, &f, &e, &n, err, errlen)))
		return rc;
	var_init(st);
	for (size_t i = 0; i < n; i++)
		var_add(st, t[i], f[i], e[i], VAR_VS_MIN);
	free(t);
	free(f);
	free(e);
	return 0;
}

static void cand_from(const char *source, const var_stats *vs, const ese_result *er,
		      photdb_cand *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->source, sizeof c->source, "%s", source);
	c->score = er->score;
	c->n = vs->n;
	c->chi2_nu = vs->chi2_nu;
	c->eta = vs->eta;
	c->v = vs->v;
	c->amplitude = er->amplitude;
	c->timescale_days = er->timescale_days;
	c->asymmetry = er->asymmetry;
	c->f0 = er->f0;
	c->t0_mjd = er->t0_mjd;
	c->t_days = er->t_days;
	c->alpha = er->alpha;
	c->src_size = er->src_size;
}

/* A source whose running statistics take this epoch (and maybe an ESE fit). */
typedef struct ese_job {
	size_t src;
	var_state st;
	var_stats vs;
	int gated;
	double *t, *f, *e;  /* the light curve for the fit (gated only) */
	size_t n;
	ese_result er;
} ese_job;

int phot_process_epoch(sqlite3 *db, int64_t group_id, double mjd, int calibrated,
		       const forced_image *img, double ra0_rad, double dec0_rad,
		       const catalog_source *src, size_t nsrc, const phot_settings *s,
		       struct phot_result **ret, char *err, size_t errlen)
{
	double *ra = NULL, *dec = NULL, *rf = NULL, *re = NULL;
	forced_result *fr = NULL;
	norm_candidate *cand = NULL;
	size_t *order = NULL;
	norm_ref *refs = NULL;
	photdb_ref *prefs = NULL;
	phot_result *res = NULL;
	ese_job *jobs = NULL;
	size_t njobs = 0;
	int rc = 0, in_tx = 0;
	size_t nm = nsrc ? nsrc : 1;

	res = calloc(1, sizeof *res);
	jobs = calloc(nm, sizeof *jobs);
	ra = malloc(nm * sizeof *ra);
	dec = malloc(nm * sizeof *dec);
	fr = malloc(nm * sizeof *fr);
	cand = malloc(nm * sizeof *cand);
	order = malloc(nm * sizeof *order);
	size_t rmax = (size_t)(s->np.ref_max > 0 ? s->np.ref_max : 1);
	refs = malloc(rmax * sizeof *refs);
	prefs = malloc(rmax * sizeof *prefs);
	rf = malloc(rmax * sizeof *rf);
	re = malloc(rmax * sizeof *re);
	if (!res || !jobs || !ra || !dec || !fr || !cand || !order || !refs || !prefs || !rf || !re) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	res->mjd = mjd;
	res->ncatalog = nsrc;
	res->correction = res->correction_err = NAN;

	/* 1. forced photometry (before taking the write lock) */
	for (size_t i = 0; i < nsrc; i++) {
		ra[i] = src[i].ra_deg * DEG;
		dec[i] = src[i].dec_deg * DEG;
	}
	if ((rc = forced_measure(img, NULL, &s->fp, ra, dec, nsrc, fr, err, errlen)))
		goto out;

	if ((rc = db_begin(db, err, errlen)))
		goto out;
	in_tx = 1;

	/* 2. references: eligible by the catalog, measured now, not retired */
	for (size_t i = 0; i < nsrc; i++) {
		/* catalog SNR; a catalog without errors (a plain CSV) falls back to
		 * the SNR measured in this image */
		double snr = src[i].snr;
		if (!isfinite(snr) && src[i].e_flux_mjy > 0)
			snr = src[i].flux_mjy / src[i].e_flux_mjy;
		if (!isfinite(snr) && fr[i].flux_err_jy > 0)
			snr = fr[i].flux_jy / fr[i].flux_err_jy;
		cand[i].snr = (fr[i].flags & FORCED_BAD) || (fr[i].flags & FORCED_BLENDED) ? NAN : snr;
		cand[i].resolved = src[i].resolved;
		cand[i].confused = src[i].confused;
		cand[i].offset_rad = ang_dist(ra[i], dec[i], ra0_rad, dec0_rad);
	}
	norm_params all = s->np;
	all.ref_max = (int)nsrc;
	size_t nelig = nsrc ? norm_select_refs(cand, nsrc, &all, order) : 0, nref = 0;
	for (size_t k = 0; k < nelig && nref < rmax; k++) {
		size_t i = order[k];
		photdb_ref *pr = &prefs[nref];
		int g = photdb_ref_get(db, src[i].name, pr, err, errlen);
		if (g == -ENOENT) {
			memset(pr, 0, sizeof *pr);
			snprintf(pr->source, sizeof pr->source, "%s", src[i].name);
			pr->baseline = pr->retired_mjd = pr->retire_chi2_nu = NAN;
		} else if (g) {
			rc = g;
			goto out;
		}
		pr->snr = cand[i].snr;
		if (pr->retired)
			continue;
		/* rebuild the baseline from the stored epochs; uncalibrated epochs
		 * do not shape the flux scale */
		norm_ref *nr = &refs[nref];
		norm_ref_init(nr);
		for (int j = 0; j < pr->nbase && j < NORM_MAX_BASELINE; j++)
			norm_ref_add_baseline(nr, pr->base_flux[j], &s->np);
		if (calibrated)
			norm_ref_add_baseline(nr, fr[i].flux_jy, &s->np);
		pr->nbase = nr->nbase;
		memcpy(pr->base_flux, nr->base_flux, nr->nbase * sizeof *nr->base_flux);
		pr->baseline = nr->baseline;
		rf[nref] = fr[i].flux_jy;
		re[nref] = fr[i].flux_err_jy;
		nref++;
	}
	norm_epoch ne;
	if ((rc = norm_epoch_correction(refs, rf, re, nref, &s->np, &ne))) {
		err_set(err, errlen, rc, "photometry: out of memory");
		goto out;
	}
	res->nrefs = (size_t)ne.nref_used;
	res->correction = ne.correction;
	res->correction_err = ne.correction_err;
	res->norm_flags = ne.flags;
	if (calibrated)
		for (size_t r = 0; r < nref; r++)
			if ((rc = photdb_ref_put(db, &prefs[r], err, errlen)))
				goto out;
	int final = calibrated && !(ne.flags & (NORM_TOO_FEW_REFS | NORM_PROVISIONAL));

	/* 3. rows, running statistics, ESE scores */
	for (size_t i = 0; i < nsrc; i++) {
		if (fr[i].flags & (FORCED_OUTSIDE | FORCED_PB_CUT))
			continue;
		res->nmeasured++;
		photdb_row row;
		memset(&row, 0, sizeof row);
		row.group_id = group_id;
		snprintf(row.source, sizeof row.source, "%s", src[i].name);
		row.mjd = mjd;
		row.ra_deg = src[i].ra_deg;
		row.dec_deg = src[i].dec_deg;
		row.flux_jy = fr[i].flux_jy;
		row.flux_err_jy = fr[i].flux_err_jy;
		norm_apply(fr[i].flux_jy, fr[i].flux_err_jy, &ne, &row.normalized_flux_jy,
			   &row.normalized_flux_err_jy);
		row.correction = ne.correction;
		row.correction_err = ne.correction_err;
		row.local_rms_jy = fr[i].rms_jy;
		row.pb = fr[i].pb;
		row.chi2 = fr[i].chi2;
		row.npix = fr[i].npix;
		row.forced_flags = fr[i].flags;
		row.norm_flags = ne.flags;
		row.calibrated = calibrated;
		if (!(fr[i].flags & FORCED_BAD))
			res->nvalid++;
		int usable = final && !(fr[i].flags & FORCED_BAD) &&
			     isfinite(row.normalized_flux_jy) && row.normalized_flux_err_jy > 0;
		photdb_row old;
		int had = photdb_get(db, group_id, row.source, &old, err, errlen);
		if (had && had != -ENOENT) {
			rc = had;
			goto out;
		}
		int counted = had == 0 && old.in_variability;
		row.in_variability = usable || counted;
		if ((rc = photdb_put(db, &row, err, errlen)))
			goto out;
		if (!usable || counted)
			continue;

		ese_job *j = &jobs[njobs];
		j->src = i;
		if ((rc = load_var_state(db, row.source, &j->st, err, errlen)))
			goto out;
		var_add(&j->st, mjd, row.normalized_flux_jy, row.normalized_flux_err_jy, VAR_VS_MIN);
		res->nvariability++;
		var_get(&j->st, &j->vs);
		j->gated = j->vs.n > s->ep.min_epochs &&
			   (j->vs.chi2_nu > s->ep.gate_chi2_nu || j->vs.v > s->ep.gate_v);
		if (j->gated && (rc = load_var_lc(db, row.source, mjd - s->ese_window_days, &j->t,
						  &j->f, &j->e, &j->n, err, errlen)))
			goto out;
		njobs++;
	}

	/* ESE fits are pure and independent: run them in parallel */
	int nthreads = s->fp.threads > 0 ? s->fp.threads : 1, nomem = 0;
	#pragma omp parallel for schedule(dynamic) num_threads(nthreads) reduction(|:nomem)
	for (size_t k = 0; k < njobs; k++)
		if (jobs[k].gated && ese_score(jobs[k].t, jobs[k].f, jobs[k].e, jobs[k].n, &s->ep,
					       &jobs[k].er))
			nomem = 1;
	if (nomem) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	for (size_t k = 0; k < njobs; k++) {
		ese_job *j = &jobs[k];
		const char *name = src[j->src].name;
		double score = j->vs.n > s->ep.min_epochs ? 0 : NAN;
		if (j->gated && isfinite(j->er.score))
			score = j->er.score;
		if (j->gated)
			res->nscored += j->er.scored;
		photdb_var pv;
		to_photdb_var(name, &j->st, score, &pv);
		if ((rc = photdb_var_put(db, &pv, &j->st, sizeof j->st, err, errlen)))
			goto out;
		if (j->gated && j->er.scored) {
			photdb_cand c;
			cand_from(name, &j->vs, &j->er, &c);
			if (j->er.score >= s->ep.candidate_score) {
				res->ncandidates++;
				rc = photdb_cand_upsert(db, &c, err, errlen);
			} else {
				rc = photdb_cand_refresh(db, &c, err, errlen);
			}
			if (rc)
				goto out;
		}
	}

	/* 4. retire references whose recent normalised light curve is not constant */
	for (size_t r = 0; r < nref && final; r++) {
		double *t, *f, *e, chi2_nu;
		size_t n;
		if ((rc = load_var_lc(db, prefs[r].source, mjd - s->np.retire_window_days - 1, &t, &f,
				      &e, &n, err, errlen)))
			goto out;
		int retire = norm_should_retire(t, f, e, n, mjd, &s->np, &chi2_nu);
		free(t);
		free(f);
		free(e);
		if (!retire)
			continue;
		prefs[r].retired = 1;
		prefs[r].retired_mjd = mjd;
		prefs[r].retire_chi2_nu = chi2_nu;
		if ((rc = photdb_ref_put(db, &prefs[r], err, errlen)))
			goto out;
		if (res->nretired < sizeof res->retired / sizeof res->retired[0]) {
			snprintf(res->retired[res->nretired], sizeof res->retired[0], "%s",
				 prefs[r].source);
			res->retired_chi2_nu[res->nretired] = chi2_nu;
		}
		res->nretired++;
	}
	rc = db_end(db, 1, err, errlen);
	in_tx = 0;
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
	free(res);
	for (size_t k = 0; jobs && k < njobs; k++) {
		free(jobs[k].t);
		free(jobs[k].f);
		free(jobs[k].e);
	}
	free(jobs);
	free(ra);
	free(dec);
	free(fr);
	free(cand);
	free(order);
	free(refs);
	free(prefs);
	free(rf);
	free(re);
	return rc;
}

/* ---- the pipeline stage ---- */

static int img_sky2pix(void *ctx, double ra, double dec, double *x, double *y)
{
	return image_radec_to_pix(ctx, ra, dec, x, y);
}

int stage_photometry(pipe_ctx *ctx, char *err, size_t errlen)
{
	phot_settings s;
	pointing_settings ps;
	catalog *cat = NULL;
	catalog_source *src = NULL;
	size_t nsrc = 0;
	int rc;
	image_result *im = ctx->image;
	if (!im || !im->pbcor)
		return PIPE_SKIPPED;
	if ((rc = phot_settings_read(ctx->cfg, &s, err, errlen)) ||
	    (rc = pointing_settings_read(ctx->cfg, &ps, err, errlen)))
		return rc;
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
	rc = phot_process_epoch(ctx->db, ctx->group_id, im->jd_mid - 2400000.5, ctx->calibrated,
				&fi, im->ra0_rad, im->dec0_rad, src, nsrc, &s, &ctx->phot, err,
				errlen);
	if (rc == 0) {
		/* Is the beam where we think it is?  A failure to check (database,
		 * memory) is logged, not fatal: the photometry is stored. */
		char e[ERR_LEN] = "";
		if (pipe_pointing_check(ctx, &ps, src, ctx->phot->forced, nsrc, e, sizeof e) < 0)
			log_msg(LOG_WARNING, ctx->group_name, "photometry", -1,
				"pointing check failed: %s", e);
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
	log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
		"%zu catalog sources, %zu measured (%zu with flux), correction %.4f ± %.4f from %zu "
		"references%s, %zu into variability, %zu ESE-scored, %zu candidates%s",
		p->ncatalog, p->nmeasured, p->nvalid, p->correction, p->correction_err, p->nrefs,
		p->norm_flags & NORM_PROVISIONAL ? " (provisional baseline)" : "",
		p->nvariability, p->nscored, p->ncandidates,
		ctx->calibrated ? "" : " (uncalibrated: kept out of variability)");
	return 0;
}
