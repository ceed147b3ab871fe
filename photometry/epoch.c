/*
 * photometry/epoch.c — one epoch of a field's photometry (epoch.h).
 */
#include "photometry/epoch.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void epoch_params_default(epoch_params *p)
{
	norm_params_default(&p->norm);
	ese_params_default(&p->ese);
	p->ese_window_days = 365;
	p->threads = 1;
}

void epoch_ref_init(epoch_ref *r)
{
	memset(r, 0, sizeof *r);
	norm_ref_init(&r->norm);
	r->snr = r->retired_mjd = r->retire_chi2_nu = NAN;
}

int epoch_measured(const forced_result *fr)
{
	return !(fr->flags & (FORCED_OUTSIDE | FORCED_PB_CUT));
}

double epoch_ref_snr(const epoch_source *src, const forced_result *fr)
{
	if ((fr->flags & FORCED_BAD) || (fr->flags & FORCED_BLENDED))
		return NAN;
	double snr = src->snr;
	if (!isfinite(snr) && src->e_flux_mjy > 0)
		snr = src->flux_mjy / src->e_flux_mjy;
	if (!isfinite(snr) && fr->flux_err_jy > 0)
		snr = fr->flux_jy / fr->flux_err_jy;
	return snr;
}

static double ang_dist(double ra1, double dec1, double ra2, double dec2)
{
	double s = sin(0.5 * (dec2 - dec1)), t = sin(0.5 * (ra2 - ra1));
	return 2 * asin(sqrt(s * s + cos(dec1) * cos(dec2) * t * t));
}

int epoch_ref_candidates(const epoch_input *in, const norm_params *p, size_t **ret_idx,
			 size_t *ret_n)
{
	norm_candidate *cand = NULL;
	size_t *idx = NULL, n = in->n, k = 0;
	int rc = 0;
	if (n == 0)
		goto out;
	cand = malloc(n * sizeof *cand);
	idx = malloc(n * sizeof *idx);
	if (!cand || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cand[i].snr = epoch_ref_snr(&in->src[i], &in->fr[i]);
		cand[i].resolved = in->src[i].resolved;
		cand[i].confused = in->src[i].confused;
		cand[i].offset_rad = ang_dist(in->src[i].ra_rad, in->src[i].dec_rad, in->ra0_rad,
					      in->dec0_rad);
	}
	/* every eligible source in SNR order: retired ones are skipped later */
	norm_params all = *p;
	all.ref_max = (int)n;
	k = norm_select_refs(cand, n, &all, idx);
out:
	free(cand);
	if (rc || k == 0) {
		free(idx);
		idx = NULL;
		k = 0;
	}
	if (rc == 0) {
		*ret_idx = idx;
		*ret_n = k;
	}
	return rc;
}

/* lc's points with mjd >= since, and (when now_flux is not NULL) this epoch's
 * point (now_mjd, *now_flux, *now_err) after those of the same mjd, into the
 * arrays t, f, e (room for lc->n + 1).  Returns the count. */
static size_t lc_with_epoch(const epoch_lc *lc, double since, double now_mjd,
			    const double *now_flux, const double *now_err, double *t, double *f,
			    double *e)
{
	size_t k = 0;
	int added = now_flux == NULL;
	for (size_t i = 0; i < lc->n; i++) {
		if (!(lc->mjd[i] >= since))
			continue;
		if (!added && lc->mjd[i] > now_mjd) {
			t[k] = now_mjd;
			f[k] = *now_flux;
			e[k] = *now_err;
			k++;
			added = 1;
		}
		t[k] = lc->mjd[i];
		f[k] = lc->flux[i];
		e[k] = lc->err[i];
		k++;
	}
	if (!added) {
		t[k] = now_mjd;
		f[k] = *now_flux;
		e[k] = *now_err;
		k++;
	}
	return k;
}

static int lc_alloc(size_t n, double **t, double **f, double **e)
{
	*t = malloc((n + 1) * sizeof **t);
	*f = malloc((n + 1) * sizeof **f);
	*e = malloc((n + 1) * sizeof **e);
	return *t && *f && *e ? 0 : -ENOMEM;
}

/* References: the first ref_max candidates that are not retired, their
 * baselines rebuilt from the stored epochs under the current parameters (and
 * extended by this epoch's flux when it is calibrated), then the correction. */
static int choose_and_correct(const epoch_input *in, const epoch_params *p, epoch_result *r)
{
	const norm_params *np = &p->norm;
	size_t *cand = NULL, ncand = 0;
	norm_ref *nr = NULL;
	double *rf = NULL, *re = NULL;
	size_t rmax = (size_t)(np->ref_max > 0 ? np->ref_max : 1);
	int rc;
	if ((rc = epoch_ref_candidates(in, np, &cand, &ncand)))
		goto out;
	r->ref = calloc(rmax, sizeof *r->ref);
	nr = malloc(rmax * sizeof *nr);
	rf = malloc(rmax * sizeof *rf);
	re = malloc(rmax * sizeof *re);
	if (!r->ref || !nr || !rf || !re) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < ncand && r->nref < rmax; k++) {
		size_t i = cand[k];
		const epoch_ref *old = &in->ref[i];
		if (old->norm.retired)
			continue;
		epoch_ref_out *o = &r->ref[r->nref];
		o->src = i;
		o->state = *old;
		o->state.snr = epoch_ref_snr(&in->src[i], &in->fr[i]);
		/* uncalibrated epochs do not shape the flux scale */
		norm_ref *b = &nr[r->nref];
		norm_ref_init(b);
		for (int j = 0; j < old->norm.nbase && j < NORM_MAX_BASELINE; j++)
			norm_ref_add_baseline(b, old->norm.base_flux[j], np);
		if (in->calibrated && !in->bad_quality && !in->base_ready)
			norm_ref_add_baseline(b, in->fr[i].flux_jy, np);
		o->state.norm = *b;
		o->store = in->calibrated && !in->bad_quality;
		rf[r->nref] = in->fr[i].flux_jy;
		re[r->nref] = in->fr[i].flux_err_jy;
		r->nref++;
	}
	/* With min_refs references whose baselines are complete, the others
	 * (new ones still filling) do not take part: they would only make the
	 * epoch provisional. */
	int full = np->baseline_epochs < NORM_MAX_BASELINE ? np->baseline_epochs
							   : NORM_MAX_BASELINE;
	size_t ncomplete = 0;
	for (size_t k = 0; k < r->nref; k++)
		ncomplete += nr[k].nbase >= full && nr[k].baseline > 0 && isfinite(rf[k]);
	if (ncomplete >= (size_t)(np->min_refs > 0 ? np->min_refs : 1))
		for (size_t k = 0; k < r->nref; k++)
			if (nr[k].nbase < full)
				nr[k].baseline = NAN; /* a copy: o->state keeps it */
	rc = norm_epoch_correction(nr, rf, re, r->nref, np, &r->norm);
	/* too few references only because baselines are still filling: a
	 * provisional epoch too, re-run once they are complete */
	for (size_t k = 0; k < r->nref && (r->norm.flags & NORM_TOO_FEW_REFS); k++)
		if (isfinite(rf[k]) && r->ref[k].state.norm.nbase < full)
			r->norm.flags |= NORM_PROVISIONAL;
	if (in->bad_quality)
		r->norm.flags |= NORM_BAD_QUALITY;
	r->final = in->calibrated && !in->bad_quality &&
		   !(r->norm.flags & (NORM_TOO_FEW_REFS | NORM_PROVISIONAL));
out:
	free(cand);
	free(nr);
	free(rf);
	free(re);
	return rc;
}

/* var_add of lc's points in order with (mjd, flux, err) inserted after the
 * points of the same mjd when use is set. */
static void rebuild_with_epoch(const epoch_lc *lc, double mjd, int use, double flux, double err,
			       var_state *st)
{
	int added = !use;
	var_init(st);
	for (size_t k = 0; k < lc->n; k++) {
		if (!added && lc->mjd[k] > mjd) {
			var_add(st, mjd, flux, err, VAR_VS_MIN);
			added = 1;
		}
		var_add(st, lc->mjd[k], lc->flux[k], lc->err[k], VAR_VS_MIN);
	}
	if (!added)
		var_add(st, mjd, flux, err, VAR_VS_MIN);
}

/* Rows and the statistics' updates of every measured source. */
static int rows_and_statistics(const epoch_input *in, const epoch_params *p, epoch_result *r)
{
	size_t n = in->n;
	r->row = calloc(n ? n : 1, sizeof *r->row);
	r->var = calloc(n ? n : 1, sizeof *r->var);
	if (!r->row || !r->var)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const forced_result *f = &in->fr[i];
		epoch_row *w = &r->row[i];
		w->var = -1;
		w->norm_flux_jy = w->norm_flux_err_jy = NAN;
		if (!epoch_measured(f))
			continue;
		w->measured = 1;
		r->nmeasured++;
		if (!(f->flags & FORCED_BAD))
			r->nvalid++;
		norm_apply(f->flux_jy, f->flux_err_jy, &r->norm, &w->norm_flux_jy,
			   &w->norm_flux_err_jy);
		int usable = r->final && !(f->flags & FORCED_BAD) && isfinite(w->norm_flux_jy) &&
			     w->norm_flux_err_jy > 0;
		int rebuild = in->rebuild && in->rebuild[i];
		epoch_var *v = &r->var[r->nvar];
		if (rebuild) {
			/* the state is what the points in time order give, this
			 * epoch's among them: the same sums as if every epoch had
			 * arrived once and in order */
			w->in_variability = usable;
			v->src = i;
			rebuild_with_epoch(&in->rebuild_lc[i], in->mjd, usable, w->norm_flux_jy,
					   w->norm_flux_err_jy, &v->st);
			if (v->st.n == 0)
				continue;
		} else {
			w->in_variability = usable || in->counted[i];
			if (!usable || in->counted[i])
				continue;
			v->src = i;
			v->st = in->var[i];
			var_add(&v->st, in->mjd, w->norm_flux_jy, w->norm_flux_err_jy, VAR_VS_MIN);
		}
		var_get(&v->st, &v->vs);
		v->gated = usable && v->vs.n > p->ese.min_epochs &&
			   (v->vs.chi2_nu > p->ese.gate_chi2_nu || v->vs.v > p->ese.gate_v);
		v->ese_score = v->vs.n > p->ese.min_epochs ? 0 : NAN;
		v->cand = EPOCH_CAND_NONE;
		w->var = (long)r->nvar;
		r->nvar++;
	}
	return 0;
}

/* Retire the references whose recent normalised light curve is not constant. */
static int retire(const epoch_input *in, const epoch_params *p, epoch_result *r)
{
	double *t = NULL, *f = NULL, *e = NULL;
	int rc = 0;
	for (size_t k = 0; k < r->nref && r->final; k++) {
		epoch_ref_out *o = &r->ref[k];
		const epoch_lc *lc = &in->ref_lc[o->src];
		const epoch_row *w = &r->row[o->src];
		double chi2_nu;
		if ((rc = lc_alloc(lc->n, &t, &f, &e)))
			goto out;
		size_t n = lc_with_epoch(lc, -INFINITY, in->mjd,
					 w->in_variability ? &w->norm_flux_jy : NULL,
					 &w->norm_flux_err_jy, t, f, e);
		int gone = norm_should_retire(t, f, e, n, in->mjd, &p->norm, &chi2_nu);
		free(t);
		free(f);
		free(e);
		t = f = e = NULL;
		if (!gone)
			continue;
		o->state.norm.retired = 1;
		o->state.retired_mjd = in->mjd;
		o->state.retire_chi2_nu = chi2_nu;
		o->retired_now = 1;
		r->nretired++;
	}
out:
	free(t);
	free(f);
	free(e);
	return rc;
}

int epoch_run(const epoch_input *in, const epoch_params *p, epoch_result *ret)
{
	int rc;
	memset(ret, 0, sizeof *ret);
	ret->n = in->n;
	ret->norm.correction = ret->norm.correction_err = NAN;
	ret->norm.flags = NORM_TOO_FEW_REFS;
	if (in->n > 0 && (!in->src || !in->fr || !in->ref || !in->ref_lc || !in->counted ||
			  !in->var))
		return -EINVAL;
	if ((rc = choose_and_correct(in, p, ret)) || (rc = rows_and_statistics(in, p, ret)) ||
	    (rc = retire(in, p, ret)))
		return rc;
	return 0;
}

int epoch_score_ese(const epoch_input *in, const epoch_lc *lc, const epoch_params *p,
		    epoch_result *r)
{
	int nthreads = p->threads > 0 ? p->threads : 1, nomem = 0;
	double since = in->mjd - p->ese_window_days;
	/* the fits are independent: run them in parallel */
	#pragma omp parallel for schedule(dynamic) num_threads(nthreads) reduction(|:nomem)
	for (size_t k = 0; k < r->nvar; k++) {
		epoch_var *v = &r->var[k];
		const epoch_row *w = &r->row[v->src];
		double *t, *f, *e;
		if (!v->gated)
			continue;
		if (lc_alloc(lc[k].n, &t, &f, &e) == 0) {
			size_t n = lc_with_epoch(&lc[k], since, in->mjd, &w->norm_flux_jy,
						 &w->norm_flux_err_jy, t, f, e);
			if (ese_score(t, f, e, n, &p->ese, &v->ese))
				nomem = 1;
		} else {
			nomem = 1;
		}
		free(t);
		free(f);
		free(e);
	}
	if (nomem)
		return -ENOMEM;
	r->nscored = r->ncandidates = 0;
	for (size_t k = 0; k < r->nvar; k++) {
		epoch_var *v = &r->var[k];
		if (!v->gated)
			continue;
		v->cand = EPOCH_CAND_NONE;
		v->ese_score = v->vs.n > p->ese.min_epochs ? 0 : NAN;
		if (isfinite(v->ese.score))
			v->ese_score = v->ese.score;
		r->nscored += v->ese.scored;
		if (!v->ese.scored)
			continue;
		if (v->ese.score >= p->ese.candidate_score) {
			v->cand = EPOCH_CAND_UPSERT;
			r->ncandidates++;
		} else {
			v->cand = EPOCH_CAND_REFRESH;
		}
	}
	return 0;
}

void epoch_result_release(epoch_result *r)
{
	if (!r)
		return;
	free(r->ref);
	free(r->row);
	free(r->var);
	memset(r, 0, sizeof *r);
}

void epoch_var_rebuild(const epoch_lc *lc, var_state *ret)
{
	var_init(ret);
	for (size_t i = 0; i < lc->n; i++)
		var_add(ret, lc->mjd[i], lc->flux[i], lc->err[i], VAR_VS_MIN);
}
