/*
 * photometry/variability.c — incremental and batch variability metrics
 * (definitions and references in variability.h).
 */
#include "photometry/variability.h"

#include <errno.h>
#include <math.h>
#include <string.h>

void var_init(var_state *s)
{
	memset(s, 0, sizeof *s);
	s->min = s->max = NAN;
	s->vs = s->m = NAN;
	s->first_mjd = s->last_mjd = NAN;
}

/* Consider the pair (a, b): keep it when |Vs| >= vs_min and |m| beats the best. */
static void consider_pair(double a, double ea, double b, double eb, double vs_min,
			  double *best_vs, double *best_m)
{
	if (!(a > 0) || !(b > 0))
		return;
	double vs = fabs(a - b) / hypot(ea, eb);
	double m = fabs(2.0 * (a - b) / (a + b));
	if (vs >= vs_min && (isnan(*best_m) || m > *best_m)) {
		*best_m = m;
		*best_vs = vs;
	}
}

/* Insert p into a Pareto frontier.  dir = +1: better = higher flux; -1: lower.
 * A point is dominated when another has a flux at least as extreme and an
 * error no larger. */
static void frontier_insert(var_point *f, int *nf, var_point p, int dir)
{
	for (int i = 0; i < *nf; i++)
		if (dir * (f[i].flux - p.flux) >= 0 && f[i].err <= p.err)
			return; /* p is dominated */
	int k = 0;
	for (int i = 0; i < *nf; i++)
		if (!(dir * (p.flux - f[i].flux) >= 0 && p.err <= f[i].err))
			f[k++] = f[i];
	*nf = k;
	if (*nf == VAR_FRONTIER_MAX) {
		/* drop the least extreme point */
		int worst = 0;
		for (int i = 1; i < *nf; i++)
			if (dir * (f[i].flux - f[worst].flux) < 0)
				worst = i;
		f[worst] = f[--*nf];
	}
	f[(*nf)++] = p;
}

int var_add(var_state *s, double mjd, double flux, double err, double vs_min)
{
	if (!isfinite(flux) || !isfinite(err) || !(err > 0))
		return -EINVAL;
	/* two-epoch pairs of the new point with the history (via the frontiers) */
	for (int i = 0; i < s->nup; i++)
		consider_pair(flux, err, s->up[i].flux, s->up[i].err, vs_min, &s->vs, &s->m);
	for (int i = 0; i < s->nlo; i++)
		consider_pair(flux, err, s->lo[i].flux, s->lo[i].err, vs_min, &s->vs, &s->m);
	if (flux > 0) {
		var_point p = { flux, err };
		frontier_insert(s->up, &s->nup, p, +1);
		frontier_insert(s->lo, &s->nlo, p, -1);
	}

	/* Welford (1962) */
	s->n++;
	double d = flux - s->mean;
	s->mean += d / s->n;
	s->m2 += d * (flux - s->mean);
	if (s->n == 1 || flux < s->min)
		s->min = flux;
	if (s->n == 1 || flux > s->max)
		s->max = flux;

	/* West (1979): weighted mean and Σ w (x − x̄_w)² */
	double w = 1.0 / (err * err);
	s->sw += w;
	double dw = flux - s->wmean;
	s->wmean += (w / s->sw) * dw;
	s->s2w += w * dw * (flux - s->wmean);

	if (isfinite(mjd)) {
		if (isnan(s->first_mjd) || mjd < s->first_mjd)
			s->first_mjd = mjd;
		if (isnan(s->last_mjd) || mjd > s->last_mjd)
			s->last_mjd = mjd;
	}
	return 0;
}

static void derive(var_stats *r, long n, double mean, double m2, double min, double max,
		   double wmean, double s2w)
{
	r->n = n;
	r->mean = n > 0 ? mean : NAN;
	r->min = n > 0 ? min : NAN;
	r->max = n > 0 ? max : NAN;
	r->wmean = n > 0 ? wmean : NAN;
	r->std = n > 1 ? sqrt(m2 / (n - 1)) : NAN;
	r->chi2_nu = n > 1 ? s2w / (n - 1) : NAN;
	r->eta = r->chi2_nu;
	r->v = n > 1 && mean != 0 ? r->std / mean : NAN;
	double dev = fmax(fabs(max - mean), fabs(min - mean));
	r->sigma_deviation = n > 1 && r->std > 0 ? dev / r->std : NAN;
}

void var_get(const var_state *s, var_stats *r)
{
	memset(r, 0, sizeof *r);
	derive(r, s->n, s->mean, s->m2, s->min, s->max, s->wmean, s->s2w);
	r->vs = s->vs;
	r->m = s->m;
}

int var_batch(const double *flux, const double *err, size_t n, double vs_min, var_stats *r)
{
	memset(r, 0, sizeof *r);
	long k = 0;
	double sx = 0, sw = 0, swx = 0, swx2 = 0, min = NAN, max = NAN;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(flux[i]) || !isfinite(err[i]) || !(err[i] > 0))
			continue;
		double w = 1.0 / (err[i] * err[i]);
		k++;
		sx += flux[i];
		sw += w;
		swx += w * flux[i];
		swx2 += w * flux[i] * flux[i];
		if (k == 1 || flux[i] < min)
			min = flux[i];
		if (k == 1 || flux[i] > max)
			max = flux[i];
	}
	double mean = k ? sx / k : 0, wmean = k ? swx / sw : 0;
	/* second pass: squared deviations about the means */
	double m2 = 0, s2w = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(flux[i]) || !isfinite(err[i]) || !(err[i] > 0))
			continue;
		double w = 1.0 / (err[i] * err[i]);
		m2 += (flux[i] - mean) * (flux[i] - mean);
		s2w += w * (flux[i] - wmean) * (flux[i] - wmean);
	}
	derive(r, k, mean, m2, min, max, wmean, s2w);
	/* η exactly as vast-tools writes it (Swinbank et al. 2015 eq. 4) */
	if (k > 1)
		r->eta = ((double)k / (k - 1)) * (swx2 / k - (swx / k) * (swx / k) / (sw / k));
	/* every pair */
	r->vs = r->m = NAN;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(flux[i]) || !isfinite(err[i]) || !(err[i] > 0))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!isfinite(flux[j]) || !isfinite(err[j]) || !(err[j] > 0))
				continue;
			consider_pair(flux[i], err[i], flux[j], err[j], vs_min, &r->vs, &r->m);
		}
	}
	return 0;
}
