/*
 * imaging/noise.c — σ of a unit-weight Stokes I sample from the data, and
 * the radiometer expectation of an image (see noise.h).
 */
#include "imaging/noise.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "core/stats.h"

static inline int good(const vis_set *v, size_t i)
{
	return v->flags[i] == 0 && v->weight[i] > 0 && isfinite(crealf(v->vis[i])) &&
	       isfinite(cimagf(v->vis[i]));
}

static size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* A stride through n candidates that keeps at most NOISE_MAX_VALUES / 2 of
 * them, coprime with nchan so that every channel is visited. */
static size_t stride_for(size_t n, int nchan)
{
	size_t keep = NOISE_MAX_VALUES / 2, st = n > keep ? (n + keep - 1) / keep : 1;
	while (nchan > 1 && gcd(st, (size_t)nchan) != 1)
		st++;
	return st;
}

/* σ = 1.4826 MAD of x[0..n) (reordered), or NAN when too few. */
static double robust_sigma(float *x, size_t n)
{
	if (n < NOISE_MIN_VALUES)
		return NAN;
	return STATS_MAD_TO_SIGMA * stats_mad_hi_f(x, n, NULL);
}

/* (XX − YY)/2 · sqrt(w_I) for the pair products at px, py. */
static size_t fill_poldiff(const vis_set *v, int px, int py, float *buf)
{
	size_t ncross = 0, m = 0;
	for (int b = 0; b < v->nbls; b++)
		ncross += v->ant1[b] != v->ant2[b];
	if (!ncross || !v->nchan || !v->ntimes)
		return 0;
	int *bl = malloc(ncross * sizeof *bl);
	if (!bl)
		return (size_t)-1;
	ncross = 0;
	for (int b = 0; b < v->nbls; b++)
		if (v->ant1[b] != v->ant2[b])
			bl[ncross++] = b;
	size_t n = (size_t)v->ntimes * ncross * v->nchan, st = stride_for(n, v->nchan);
	for (size_t k = 0; k < n; k += st) {
		int c = (int)(k % v->nchan);
		size_t rb = k / v->nchan;
		int t = (int)(rb / ncross), b = bl[rb % ncross];
		size_t ix = vis_idx(v, t, b, c, px), iy = vis_idx(v, t, b, c, py);
		if (!good(v, ix) || !good(v, iy))
			continue;
		double w = 4.0 / (1.0 / v->weight[ix] + 1.0 / v->weight[iy]);
		double sc = 0.5 * sqrt(w);
		float complex d = v->vis[ix] - v->vis[iy];
		buf[m++] = (float)(sc * crealf(d));
		buf[m++] = (float)(sc * cimagf(d));
	}
	free(bl);
	return m;
}

/* (I(t+1) − I(t)) / sqrt(1/w₁ + 1/w₂) on the imager's Stokes I samples. */
static size_t fill_timediff(const weight_stokes *s, float *buf)
{
	size_t m = 0;
	if (!s || s->ntimes < 2 || !s->nchan)
		return 0;
	size_t n = (size_t)(s->ntimes - 1) * s->nbl * s->nchan, st = stride_for(n, s->nchan);
	for (size_t k = 0; k < n; k += st) {
		size_t o1 = k, o2 = k + (size_t)s->nbl * s->nchan; /* same baseline, next time */
		float w1 = s->data_wgt[o1], w2 = s->data_wgt[o2];
		if (!(w1 > 0) || !(w2 > 0))
			continue;
		double sc = 1.0 / sqrt(1.0 / w1 + 1.0 / w2);
		float complex d = s->vis[o2] - s->vis[o1];
		buf[m++] = (float)(sc * crealf(d));
		buf[m++] = (float)(sc * cimagf(d));
	}
	return m;
}

int noise_unit_sigma(const vis_set *v, const weight_stokes *s, mem_pool *pool,
		     noise_estimate *ret)
{
	noise_estimate e = { .sigma_unit = NAN, .method = NOISE_NONE, .nvalues = 0 };
	float *buf = pool_get(pool, (NOISE_MAX_VALUES + 2) * sizeof *buf);
	int px, py;

	if (!buf)
		return -ENOMEM;
	px = vis_pol_index(v, VIS_POL_XX);
	py = vis_pol_index(v, VIS_POL_YY);
	if (px < 0 || py < 0) {
		px = vis_pol_index(v, VIS_POL_RR);
		py = vis_pol_index(v, VIS_POL_LL);
	}
	if (px >= 0 && py >= 0) {
		size_t m = fill_poldiff(v, px, py, buf);
		if (m == (size_t)-1) {
			pool_put(pool, buf);
			return -ENOMEM;
		}
		e.sigma_unit = robust_sigma(buf, m);
		if (isfinite(e.sigma_unit)) {
			e.method = NOISE_POLDIFF;
			e.nvalues = m;
		}
	}
	if (e.method == NOISE_POLDIFF && !(e.sigma_unit > 0)) {
		/* XX = YY to the last bit: noiseless (simulated) data, whose
		 * image has no thermal noise to compare with. */
		e = (noise_estimate){ .sigma_unit = NAN, .method = NOISE_NONE, .nvalues = 0 };
	} else if (e.method == NOISE_NONE) {
		size_t m = fill_timediff(s, buf);
		e.sigma_unit = robust_sigma(buf, m);
		if (e.sigma_unit > 0) {
			e.method = NOISE_TIMEDIFF;
			e.nvalues = m;
		} else {
			e.sigma_unit = NAN;
		}
	}
	pool_put(pool, buf);
	*ret = e;
	return 0;
}

double noise_image_expect(double sigma_unit, double sum_w, double sum_w2_over_d)
{
	if (!isfinite(sigma_unit) || !(sum_w > 0) || !(sum_w2_over_d >= 0))
		return NAN;
	return sigma_unit * sqrt(sum_w2_over_d) / sum_w;
}

const char *noise_method_name(int method)
{
	switch (method) {
	case NOISE_POLDIFF:
		return "poldiff";
	case NOISE_TIMEDIFF:
		return "timediff";
	}
	return "none";
}
