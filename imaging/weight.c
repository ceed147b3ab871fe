/*
 * imaging/weight.c — Stokes I samples and natural/uniform/Briggs weights.
 */
#include "imaging/weight.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

void weight_params_default(weight_params *p)
{
	memset(p, 0, sizeof *p);
	p->mode = WEIGHT_BRIGGS;
	p->robust = 0;
	p->nx = p->ny = 4096;
	p->cell_rad = 3.0 / 206264.80624709636;
}

int weight_mode_parse(const char *s, int *ret_mode)
{
	if (!s)
		return -EINVAL;
	if (!strcasecmp(s, "natural"))
		*ret_mode = WEIGHT_NATURAL;
	else if (!strcasecmp(s, "uniform"))
		*ret_mode = WEIGHT_UNIFORM;
	else if (!strcasecmp(s, "briggs"))
		*ret_mode = WEIGHT_BRIGGS;
	else
		return -EINVAL;
	return 0;
}

const char *weight_mode_name(int mode)
{
	switch (mode) {
	case WEIGHT_NATURAL:
		return "natural";
	case WEIGHT_UNIFORM:
		return "uniform";
	case WEIGHT_BRIGGS:
		return "briggs";
	}
	return "?";
}

void weight_stokes_free(weight_stokes *s)
{
	if (!s)
		return;
	pool_put(s->pool, s->uvw_m);
	free(s->freq_hz);
	pool_put(s->pool, s->vis);
	pool_put(s->pool, s->data_wgt);
	pool_put(s->pool, s->img_wgt);
	free(s->chan_wsum);
	free(s->time_wsum);
	free(s);
}

static inline int good(const vis_set *v, size_t i)
{
	return v->flags[i] == 0 && v->weight[i] > 0 && isfinite(crealf(v->vis[i])) &&
	       isfinite(cimagf(v->vis[i]));
}

int weight_stokes_new(const vis_set *v, int chan_avg, int nthreads, mem_pool *pool,
		      weight_stokes **ret, char *err, size_t errlen)
{
	weight_stokes *s = NULL;
	int px, py, nb = 0, *bl = NULL, r = 0;
	size_t ns;

	if (chan_avg < 1)
		chan_avg = 1;
	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	px = vis_pol_index(v, VIS_POL_XX);
	py = vis_pol_index(v, VIS_POL_YY);
	if (px < 0 && py < 0) {
		px = vis_pol_index(v, VIS_POL_RR);
		py = vis_pol_index(v, VIS_POL_LL);
	}
	if (px < 0 && py < 0)
		px = vis_pol_index(v, VIS_POL_I);
	if (px < 0 && py < 0)
		return err_set(err, errlen, -EINVAL,
			       "%s: no XX/YY, RR/LL or I polarisation to make Stokes I", v->name);
	bl = malloc(v->nbls * sizeof *bl);
	s = calloc(1, sizeof *s);
	if (!bl || !s) {
		r = err_set(err, errlen, -ENOMEM, "weight: out of memory");
		goto out;
	}
	for (int b = 0; b < v->nbls; b++)
		if (v->ant1[b] != v->ant2[b])
			bl[nb++] = b;
	if (!nb) {
		r = err_set(err, errlen, -EINVAL, "%s: no cross-correlations to image", v->name);
		goto out;
	}
	s->pool = pool;
	s->ntimes = v->ntimes;
	s->nbl = nb;
	s->nrows = (size_t)v->ntimes * nb;
	s->nchan = (v->nchan + chan_avg - 1) / chan_avg;
	s->chan_width_hz = v->chan_width_hz * chan_avg;
	ns = s->nrows * s->nchan;
	s->uvw_m = pool_get(pool, s->nrows * 3 * sizeof *s->uvw_m);
	s->freq_hz = malloc(s->nchan * sizeof *s->freq_hz);
	s->vis = pool_get(pool, ns * sizeof *s->vis);
	s->data_wgt = pool_get(pool, ns * sizeof *s->data_wgt);
	s->img_wgt = pool_get(pool, ns * sizeof *s->img_wgt);
	s->chan_wsum = calloc(s->nchan, sizeof *s->chan_wsum);
	s->time_wsum = calloc(s->ntimes, sizeof *s->time_wsum);
	if (!s->uvw_m || !s->freq_hz || !s->vis || !s->data_wgt || !s->img_wgt || !s->chan_wsum ||
	    !s->time_wsum) {
		r = err_set(err, errlen, -ENOMEM, "weight: out of memory for %zu samples", ns);
		goto out;
	}
	for (int c = 0; c < s->nchan; c++) {
		int c0 = c * chan_avg, c1 = c0 + chan_avg < v->nchan ? c0 + chan_avg : v->nchan;
		double f = 0;
		for (int k = c0; k < c1; k++)
			f += v->freq_hz[k];
		s->freq_hz[c] = f / (c1 - c0);
	}
	size_t ngood = 0, nsingle = 0;
#pragma omp parallel for num_threads(nthreads) schedule(static) reduction(+ : ngood, nsingle)
	for (size_t row = 0; row < s->nrows; row++) {
		int t = (int)(row / nb), b = bl[row % nb];
		size_t vr = (size_t)t * v->nbls + b;
		memcpy(s->uvw_m + 3 * row, v->uvw_m + 3 * vr, 3 * sizeof(double));
		for (int c = 0; c < s->nchan; c++) {
			int c0 = c * chan_avg, c1 = c0 + chan_avg < v->nchan ? c0 + chan_avg : v->nchan;
			double wsum = 0, re = 0, im = 0;
			for (int k = c0; k < c1; k++) {
				size_t ix = px >= 0 ? vis_idx(v, t, b, k, px) : 0;
				size_t iy = py >= 0 ? vis_idx(v, t, b, k, py) : 0;
				int gx = px >= 0 && good(v, ix), gy = py >= 0 && good(v, iy);
				float complex val;
				double w;
				if (gx && gy) {
					val = 0.5f * (v->vis[ix] + v->vis[iy]);
					w = 4.0 / (1.0 / v->weight[ix] + 1.0 / v->weight[iy]);
				} else if (gx || gy) {
					size_t i = gx ? ix : iy;
					val = v->vis[i];
					w = v->weight[i];
					nsingle++;
				} else {
					continue;
				}
				wsum += w;
				re += w * crealf(val);
				im += w * cimagf(val);
			}
			size_t o = row * s->nchan + c;
			if (wsum > 0) {
				s->vis[o] = (float)(re / wsum) + I * (float)(im / wsum);
				s->data_wgt[o] = (float)wsum;
				ngood++;
			} else {
				s->vis[o] = 0;
				s->data_wgt[o] = 0;
			}
			s->img_wgt[o] = s->data_wgt[o];
		}
	}
	s->ngood = ngood;
	s->nsingle = nsingle;
out:
	free(bl);
	if (r < 0) {
		weight_stokes_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* Density-grid cell of (u, v) in wavelengths, or -1 outside. */
static inline long cell_of(double u, double v, const weight_params *p)
{
	long iu = lround(u * p->nx * p->cell_rad) + p->nx / 2;
	long iv = lround(v * p->ny * p->cell_rad) + p->ny / 2;
	if (iu < 0 || iu >= p->nx || iv < 0 || iv >= p->ny)
		return -1;
	return iv * p->nx + iu;
}

int weight_apply(weight_stokes *s, const weight_params *p, char *err, size_t errlen)
{
	float *dens = NULL;
	double f2 = 0, sigma2 = 0;
	int nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
	int r = 0;

	if (p->mode != WEIGHT_NATURAL && p->mode != WEIGHT_UNIFORM && p->mode != WEIGHT_BRIGGS)
		return err_set(err, errlen, -EINVAL, "weight: unknown weighting mode %d", p->mode);
	if (p->mode == WEIGHT_BRIGGS && !(p->robust >= -2 && p->robust <= 2))
		return err_set(err, errlen, -EINVAL, "weight: Briggs robust %g outside [-2, 2]",
			       p->robust);
	if (p->mode != WEIGHT_NATURAL) {
		if (p->nx <= 0 || p->ny <= 0 || !(p->cell_rad > 0))
			return err_set(err, errlen, -EINVAL, "weight: bad density grid %dx%d",
				       p->nx, p->ny);
		dens = pool_get_zero(s->pool, (size_t)p->nx * p->ny * sizeof *dens);
		if (!dens)
			return err_set(err, errlen, -ENOMEM, "weight: out of memory");
		/* Serial: scattered adds into one grid (a few ns per sample). */
		for (size_t row = 0; row < s->nrows; row++) {
			const double *uvw = s->uvw_m + 3 * row;
			for (int c = 0; c < s->nchan; c++) {
				float w = s->data_wgt[row * s->nchan + c];
				if (!(w > 0))
					continue;
				double k = s->freq_hz[c] / VIS_C_M_S;
				long a = cell_of(uvw[0] * k, uvw[1] * k, p);
				long b = cell_of(-uvw[0] * k, -uvw[1] * k, p);
				if (a >= 0)
					dens[a] += w;
				if (b >= 0)
					dens[b] += w;
			}
		}
		if (p->mode == WEIGHT_BRIGGS) {
			double sw = 0, sw2 = 0;
			for (size_t i = 0; i < (size_t)p->nx * p->ny; i++) {
				sw += dens[i];
				sw2 += (double)dens[i] * dens[i];
			}
			double num = 5 * pow(10, -p->robust);
			f2 = sw2 > 0 ? num * num / (sw2 / sw) : 0;
		}
	}
	if (p->taper_fwhm_rad > 0) {
		double sg = p->taper_fwhm_rad / sqrt(8 * log(2));
		sigma2 = sg * sg;
	}
	double sum_w = 0, sum_w2d = 0, sum_wf = 0, maxuv = 0;
#pragma omp parallel for num_threads(nthreads) schedule(static) \
	reduction(+ : sum_w, sum_w2d, sum_wf) reduction(max : maxuv)
	for (size_t row = 0; row < s->nrows; row++) {
		const double *uvw = s->uvw_m + 3 * row;
		for (int c = 0; c < s->nchan; c++) {
			size_t o = row * s->nchan + c;
			float w = s->data_wgt[o];
			double wi;
			if (!(w > 0)) {
				s->img_wgt[o] = 0;
				continue;
			}
			double k = s->freq_hz[c] / VIS_C_M_S, u = uvw[0] * k, v = uvw[1] * k;
			double uv2 = u * u + v * v;
			wi = w;
			if (dens) {
				long a = cell_of(u, v, p);
				double W = a >= 0 ? dens[a] : w;
				if (p->mode == WEIGHT_UNIFORM)
					wi = w / W;
				else
					wi = w / (1 + W * f2);
			}
			if (sigma2 > 0)
				wi *= exp(-2 * M_PI * M_PI * sigma2 * uv2);
			if ((p->uvmin_lambda > 0 && uv2 < p->uvmin_lambda * p->uvmin_lambda) ||
			    (p->uvmax_lambda > 0 && uv2 > p->uvmax_lambda * p->uvmax_lambda))
				wi = 0;
			s->img_wgt[o] = (float)wi;
			if (wi > 0) {
				sum_w += wi;
				sum_w2d += wi * wi / w;
				sum_wf += wi * s->freq_hz[c];
				if (uv2 > maxuv)
					maxuv = uv2;
			}
		}
	}
	s->sum_w = sum_w;
	s->sum_w2_over_d = sum_w2d;
	s->mean_freq_hz = sum_w > 0 ? sum_wf / sum_w : 0;
	s->max_uv_lambda = sqrt(maxuv);
	memset(s->chan_wsum, 0, s->nchan * sizeof *s->chan_wsum);
	memset(s->time_wsum, 0, s->ntimes * sizeof *s->time_wsum);
	for (size_t row = 0; row < s->nrows; row++)
		for (int c = 0; c < s->nchan; c++) {
			double w = s->img_wgt[row * s->nchan + c];
			s->chan_wsum[c] += w;
			s->time_wsum[row / s->nbl] += w;
		}
	pool_put(s->pool, dens);
	return r;
}
