/*
 * imaging/clean.c — Cotton–Schwab major cycles, Högbom minor cycle.
 */
#include "imaging/clean.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/stats.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void clean_params_default(clean_params *p)
{
	memset(p, 0, sizeof *p);
	p->niter = 20000;
	p->gain = 0.1;
	p->major_gain = 0.8;
	p->threshold_jy = 0;
	p->auto_threshold = 3;
	p->auto_mask = 0;
	p->max_major = 20;
}

double clean_mad_sigma(const float *img, size_t n)
{
	size_t stride = n > 2000000 ? n / 2000000 + 1 : 1, m = 0;
	float *a;
	double mad;

	if (!n)
		return 0;
	a = malloc((n / stride + 1) * sizeof *a);
	if (!a)
		return 0;
	for (size_t i = 0; i < n; i += stride)
		if (isfinite(img[i]))
			a[m++] = img[i];
	if (!m) {
		free(a);
		return 0;
	}
	mad = stats_mad_hi_f(a, m, NULL);
	free(a);
	return 1.4826 * mad;
}

static float peak_abs(const float *r, size_t n, int nthreads)
{
	float pk = 0;
#pragma omp parallel for num_threads(nthreads) reduction(max : pk) schedule(static)
	for (size_t i = 0; i < n; i++) {
		float a = fabsf(r[i]);
		if (a > pk)
			pk = a;
	}
	return pk;
}

/* Pixels of the candidate set: |residual| >= level (inside the mask when
 * masking), at most CLEAN_MAX_CAND of them (the level is raised to the
 * CLEAN_MAX_CAND-th largest value when more qualify).  Returns the count. */
static size_t collect(const float *res, size_t npix, const unsigned char *mask, float *level,
		      int *cand, float *cval, float *tmp)
{
	size_t n = 0;
	for (size_t j = 0; j < npix; j++)
		if (fabsf(res[j]) >= *level && (!mask || mask[j]))
			n++;
	if (n > CLEAN_MAX_CAND) {
		size_t m = 0;
		for (size_t j = 0; j < npix; j++)
			if (fabsf(res[j]) >= *level && (!mask || mask[j]))
				tmp[m++] = -fabsf(res[j]);
		*level = -stats_select_f(tmp, m, CLEAN_MAX_CAND - 1);
	}
	n = 0;
	for (size_t j = 0; j < npix && n < CLEAN_MAX_CAND; j++)
		if (fabsf(res[j]) >= *level && (!mask || mask[j])) {
			cand[n] = (int)j;
			cval[n] = res[j];
			n++;
		}
	return n;
}

static float peak_masked(const float *r, size_t n, const unsigned char *mask)
{
	float pk = 0;
	for (size_t i = 0; i < n; i++)
		if (mask[i] && fabsf(r[i]) > pk)
			pk = fabsf(r[i]);
	return pk;
}

int clean_run(grid_plan *g, const weight_stokes *s, const float *psf, const clean_params *p,
	      float *model, float *residual, clean_stats *ret, char *err, size_t errlen)
{
	grid_info gi;
	int nx, ny, nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
	size_t npix, ns = s->nrows * (size_t)s->nchan;
	float complex *rvis = NULL;
	int *cand = NULL;
	float *cval = NULL, *tmp = NULL;
	unsigned char *mask = NULL;
	int r = 0, masking = 0;
	double t, prev_peak;
	clean_stats st = { 0 };

	grid_get_info(g, &gi);
	nx = gi.nx;
	ny = gi.ny;
	npix = (size_t)nx * ny;
	st.stop = "threshold";
	st.sigma_jy = clean_mad_sigma(residual, npix);
	st.peak_jy = peak_abs(residual, npix, nthreads);
	st.threshold_jy = fmax(p->threshold_jy, p->auto_threshold * st.sigma_jy);
	if (p->niter <= 0 || !(s->sum_w > 0))
		goto done;
	rvis = malloc(ns * sizeof *rvis);
	cand = malloc(CLEAN_MAX_CAND * sizeof *cand);
	cval = malloc(CLEAN_MAX_CAND * sizeof *cval);
	tmp = malloc(npix * sizeof *tmp);
	if (p->auto_mask > 0)
		mask = calloc(npix, 1);
	if (!rvis || !cand || !cval || !tmp || (p->auto_mask > 0 && !mask)) {
		r = err_set(err, errlen, -ENOMEM, "clean: out of memory");
		goto out;
	}
	prev_peak = st.peak_jy;
	for (;;) {
		double sigma = st.sigma_jy;
		double peak = masking ? peak_masked(residual, npix, mask) : st.peak_jy;
		double thr = fmax(p->threshold_jy, p->auto_threshold * sigma);
		double stage_thr = thr;
		if (mask && !masking) {
			stage_thr = fmax(thr, p->auto_mask * sigma);
			if (peak <= stage_thr) {
				/* Auto-mask: from now on only where components are. */
				masking = 1;
				for (size_t j = 0; j < npix; j++)
					mask[j] = model[j] != 0;
				stage_thr = thr;
				peak = prev_peak = peak_masked(residual, npix, mask);
			}
		}
		st.threshold_jy = thr;
		if (peak <= stage_thr) {
			st.stop = "threshold";
			break;
		}
		if (st.iterations >= p->niter) {
			st.stop = "niter";
			break;
		}
		if (st.major_cycles >= p->max_major) {
			st.stop = "max_major";
			break;
		}

		/* Minor cycle (Högbom on the candidate pixels). */
		t = now_s();
		float level = (float)fmax(stage_thr, (1 - p->major_gain) * peak);
		size_t nc = collect(residual, npix, masking ? mask : NULL, &level, cand, cval, tmp);
		while (st.iterations < p->niter) {
			size_t best = 0;
			float bv = 0;
			for (size_t c = 0; c < nc; c++)
				if (fabsf(cval[c]) > bv) {
					bv = fabsf(cval[c]);
					best = c;
				}
			if (!nc || bv < level)
				break;
			float comp = (float)p->gain * cval[best];
			int pj = cand[best], px = pj % nx, py = pj / nx;
			model[pj] += comp;
			st.iterations++;
			for (size_t c = 0; c < nc; c++) {
				int qx = cand[c] % nx - px + nx / 2, qy = cand[c] / nx - py + ny / 2;
				if (qx >= 0 && qy >= 0 && qx < nx && qy < ny)
					cval[c] -= comp * psf[(size_t)qy * nx + qx];
			}
		}
		st.minor_s += now_s() - t;

		/* Major cycle: the exact residual from the visibilities. */
		t = now_s();
		r = grid_degrid(g, model, rvis);
		if (r < 0) {
			err_set(err, errlen, r, "clean: degridding failed");
			goto out;
		}
#pragma omp parallel for num_threads(nthreads) schedule(static)
		for (size_t k = 0; k < ns; k++)
			rvis[k] = s->vis[k] - rvis[k];
		r = grid_dirty(g, rvis, residual);
		if (r < 0) {
			err_set(err, errlen, r, "clean: gridding failed");
			goto out;
		}
		float scale = (float)(1 / s->sum_w);
#pragma omp parallel for num_threads(nthreads) schedule(static)
		for (size_t j = 0; j < npix; j++)
			residual[j] *= scale;
		st.major_cycles++;
		st.major_s += now_s() - t;
		st.peak_jy = peak_abs(residual, npix, nthreads);
		st.sigma_jy = clean_mad_sigma(residual, npix);
		double now_peak = masking ? peak_masked(residual, npix, mask) : st.peak_jy;
		if (!(now_peak < prev_peak)) {
			st.stop = "no improvement";
			break;
		}
		prev_peak = now_peak;
	}
done:
	st.model_flux_jy = 0;
	for (size_t j = 0; j < npix; j++)
		st.model_flux_jy += model[j];
out:
	free(rvis);
	free(cand);
	free(cval);
	free(tmp);
	free(mask);
	if (r == 0)
		*ret = st;
	return r;
}
