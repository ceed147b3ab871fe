/*
 * photometry/normalize.c — reference-ensemble flux normalisation (normalize.h).
 */
#include "photometry/normalize.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"

#define MEDIAN_EFFICIENCY 1.2533141373155 /* sqrt(pi/2): σ(median) / σ(mean) */

void norm_params_default(norm_params *p)
{
	p->ref_min_snr = 50;
	p->ref_max_offset_rad = 1.5 * M_PI / 180;
	p->ref_max = 20;
	p->baseline_epochs = 10;
	p->baseline_min_epochs = 3;
	p->min_refs = 3;
	p->clip_sigma = 3;
	p->retire_chi2_nu = 2;
	p->retire_window_days = 30;
	p->retire_min_epochs = 20;
}

size_t norm_select_refs(const norm_candidate *c, size_t n, const norm_params *p, size_t *ret_idx)
{
	size_t k = 0;
	if (p->ref_max <= 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!(c[i].snr >= p->ref_min_snr) || c[i].resolved || c[i].confused ||
		    !(c[i].offset_rad <= p->ref_max_offset_rad))
			continue;
		/* insertion into the top-ref_max list, by SNR descending */
		size_t pos = k;
		while (pos > 0 && c[ret_idx[pos - 1]].snr < c[i].snr)
			pos--;
		if (pos >= (size_t)p->ref_max)
			continue;
		size_t last = k < (size_t)p->ref_max ? k : (size_t)p->ref_max - 1;
		for (size_t j = last; j > pos; j--)
			ret_idx[j] = ret_idx[j - 1];
		ret_idx[pos] = i;
		if (k < (size_t)p->ref_max)
			k++;
	}
	return k;
}

void norm_ref_init(norm_ref *r)
{
	memset(r, 0, sizeof *r);
	r->baseline = NAN;
}

void norm_ref_add_baseline(norm_ref *r, double raw_flux, const norm_params *p)
{
	int cap = p->baseline_epochs < NORM_MAX_BASELINE ? p->baseline_epochs : NORM_MAX_BASELINE;
	if (!isfinite(raw_flux) || r->nbase >= cap)
		return;
	r->base_flux[r->nbase++] = raw_flux;
	if (r->nbase >= p->baseline_min_epochs) {
		double tmp[NORM_MAX_BASELINE];
		memcpy(tmp, r->base_flux, r->nbase * sizeof *tmp);
		r->baseline = stats_median_d(tmp, r->nbase);
	}
}

int norm_epoch_correction(const norm_ref *refs, const double *flux, const double *err,
			  size_t nref, const norm_params *p, norm_epoch *e)
{
	double *ratio = NULL, *rerr = NULL, *dev = NULL;
	int rc = 0;
	memset(e, 0, sizeof *e);
	e->correction = e->correction_err = NAN;
	e->flags = NORM_TOO_FEW_REFS;
	if (nref == 0)
		return 0;
	ratio = malloc(nref * sizeof *ratio);
	rerr = malloc(nref * sizeof *rerr);
	dev = malloc(nref * sizeof *dev);
	if (!ratio || !rerr || !dev) {
		rc = -ENOMEM;
		goto out;
	}
	size_t k = 0;
	unsigned provisional = 0;
	int full = p->baseline_epochs < NORM_MAX_BASELINE ? p->baseline_epochs : NORM_MAX_BASELINE;
	for (size_t i = 0; i < nref; i++) {
		if (refs[i].retired || !(refs[i].baseline > 0) || !isfinite(flux[i]))
			continue;
		if (refs[i].nbase < full)
			provisional = NORM_PROVISIONAL;
		ratio[k] = flux[i] / refs[i].baseline;
		rerr[k] = isfinite(err[i]) && err[i] > 0 ? err[i] / refs[i].baseline : NAN;
		k++;
	}
	if (k < (size_t)p->min_refs)
		goto out;
	/* 3σ MAD clip about the median, then the median of the survivors */
	memcpy(dev, ratio, k * sizeof *dev);
	double med = stats_median_d(dev, k);
	for (size_t i = 0; i < k; i++)
		dev[i] = fabs(ratio[i] - med);
	double sigma = STATS_MAD_TO_SIGMA * stats_median_d(dev, k);
	size_t kept = 0;
	double sum_rerr2 = 0;
	int nerr = 0;
	for (size_t i = 0; i < k; i++) {
		if (sigma > 0 && fabs(ratio[i] - med) > p->clip_sigma * sigma)
			continue;
		if (isfinite(rerr[i])) {
			sum_rerr2 += rerr[i] * rerr[i];
			nerr++;
		}
		ratio[kept] = ratio[i];
		kept++;
	}
	e->nref_clipped = (int)(k - kept);
	e->nref_used = (int)kept;
	if (kept < (size_t)p->min_refs)
		goto out;
	/* survivors' spread (for the error) before stats_median_d sorts them */
	double mean = 0, var = 0;
	for (size_t i = 0; i < kept; i++)
		mean += ratio[i];
	mean /= kept;
	for (size_t i = 0; i < kept; i++)
		var += (ratio[i] - mean) * (ratio[i] - mean);
	var = kept > 1 ? var / (kept - 1) : 0;
	e->correction = stats_median_d(ratio, kept);
	/* Uncertainty of a median: sqrt(pi/2) × that of the mean, the spread
	 * taken from the scatter of the ratios, but never below what the
	 * references' own errors allow (few references give a noisy scatter). */
	double from_scatter = sqrt(var / kept);
	double from_errors = nerr ? sqrt(sum_rerr2 / nerr) / sqrt((double)kept) : 0;
	e->correction_err = MEDIAN_EFFICIENCY * fmax(from_scatter, from_errors);
	e->flags = provisional;
out:
	free(ratio);
	free(rerr);
	free(dev);
	return rc;
}

void norm_apply(double flux, double err, const norm_epoch *e, double *ret_flux, double *ret_err)
{
	double c = e->correction;
	if (e->flags & NORM_TOO_FEW_REFS || !(c > 0)) {
		*ret_flux = *ret_err = NAN;
		return;
	}
	double sc = isfinite(e->correction_err) ? e->correction_err : 0;
	*ret_flux = flux / c;
	*ret_err = sqrt(err * err + (flux * sc / c) * (flux * sc / c)) / c;
}

int norm_should_retire(const double *mjd, const double *flux, const double *err, size_t n,
		       double now_mjd, const norm_params *p, double *ret_chi2_nu)
{
	double sw = 0, swx = 0;
	int k = 0;
	for (int pass = 0; pass < 2; pass++) {
		double s2 = 0;
		for (size_t i = 0; i < n; i++) {
			if (!(mjd[i] > now_mjd - p->retire_window_days) || mjd[i] > now_mjd ||
			    !isfinite(flux[i]) || !(err[i] > 0))
				continue;
			double w = 1.0 / (err[i] * err[i]);
			if (pass == 0) {
				sw += w;
				swx += w * flux[i];
				k++;
			} else {
				double d = flux[i] - swx / sw;
				s2 += w * d * d;
			}
		}
		if (pass == 1) {
			double chi2_nu = k >= p->retire_min_epochs && k > 1 ? s2 / (k - 1) : NAN;
			if (ret_chi2_nu)
				*ret_chi2_nu = chi2_nu;
			return chi2_nu > p->retire_chi2_nu;
		}
	}
	return 0;
}
