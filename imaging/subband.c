/*
 * imaging/subband.c — sub-band images from the common deconvolution (see
 * subband.h).
 */
#include "imaging/subband.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"

int subband_split(int nchan, int nsub, int *chan0, int *nch)
{
	if (nsub < 2 || nsub > SUBBAND_MAX || nsub > nchan)
		return -EINVAL;
	int base = nchan / nsub, extra = nchan % nsub, c = 0;
	for (int k = 0; k < nsub; k++) {
		chan0[k] = c;
		nch[k] = base + (k < extra);
		c += nch[k];
	}
	return 0;
}

void subband_images_free(subband_image *out, int n, mem_pool *pool)
{
	for (int k = 0; out && k < n; k++) {
		pool_put(pool, out[k].image);
		pool_put(pool, out[k].residual);
		pool_put(pool, out[k].pb);
		pool_put(pool, out[k].pbcor);
		memset(&out[k], 0, sizeof out[k]);
	}
}

/* The joined state: the sub-bands' samples, PSFs, residuals and models. */
typedef struct joined {
	int nsub, nx, ny;
	size_t npix, nrows;
	const weight_stokes *s;
	grid_plan *g;
	int chan0[SUBBAND_MAX], nch[SUBBAND_MAX];
	double sw[SUBBAND_MAX];             /* Σ w of each sub-band */
	float wk[SUBBAND_MAX];              /* Σ w_k / Σ w: the MFS weights */
	float complex *vis[SUBBAND_MAX];    /* [nrows × nch[k]] */
	float *wgt[SUBBAND_MAX];
	float *psf;                         /* [npix × nsub], interleaved: one gather
					       in the minor cycle reads every sub-band */
	float *model[SUBBAND_MAX];
	float complex *rvis;                /* [nrows × max nch] */
	int nthreads;
	mem_pool *pool;
} joined;

static int select_subband(joined *J, int k, char *err, size_t errlen)
{
	grid_uvdata ud = { J->nrows, J->nch[k], J->s->uvw_m, J->s->freq_hz + J->chan0[k],
			   J->wgt[k] };
	return grid_plan_set_data(J->g, &ud, err, errlen);
}

/* residual[k] = dirty_k(vis_k − degrid_k(model_k)) / Σw_k for every
 * sub-band (model NULL: the dirty images), and the MFS residual as their
 * weighted sum.  One set of samples in the plan at a time. */
static int major(joined *J, int with_model, float **residual, float *mfs, char *err,
		 size_t errlen)
{
	int r = 0;
	for (int k = 0; k < J->nsub; k++) {
		size_t ns = J->nrows * (size_t)J->nch[k];
		if (!(J->sw[k] > 0))
			continue;
		if ((r = select_subband(J, k, err, errlen)) < 0)
			return r;
		if (with_model) {
			if ((r = grid_degrid(J->g, J->model[k], J->rvis)) < 0)
				return err_set(err, errlen, r, "subbands: degridding failed");
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
			for (size_t i = 0; i < ns; i++)
				J->rvis[i] = J->vis[k][i] - J->rvis[i];
		} else {
			memcpy(J->rvis, J->vis[k], ns * sizeof *J->rvis);
		}
		if ((r = grid_dirty(J->g, J->rvis, residual[k])) < 0)
			return err_set(err, errlen, r, "subbands: gridding failed");
		float sc = (float)(1 / J->sw[k]);
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
		for (size_t j = 0; j < J->npix; j++)
			residual[k][j] *= sc;
	}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < J->npix; j++) {
		float a = 0;
		for (int k = 0; k < J->nsub; k++)
			if (J->sw[k] > 0)
				a += J->wk[k] * residual[k][j];
		mfs[j] = a;
	}
	return 0;
}

static float peak_abs_masked(const float *r, size_t n, const unsigned char *mask)
{
	float pk = 0;
	for (size_t i = 0; i < n; i++)
		if ((!mask || mask[i]) && fabsf(r[i]) > pk)
			pk = fabsf(r[i]);
	return pk;
}

/* Candidates: |MFS residual| >= level (inside the mask when given), capped
 * at CLEAN_MAX_CAND by raising the level, as clean.c does. */
static size_t collect_joined(const joined *J, const float *mfs, float *const *residual,
			     const unsigned char *mask, float *level, int *cx, int *cy, float *cm,
			     float *cv, float *tmp)
{
	size_t n = 0, npix = J->npix;
	for (size_t j = 0; j < npix; j++)
		if (fabsf(mfs[j]) >= *level && (!mask || mask[j]))
			n++;
	if (n > CLEAN_MAX_CAND) {
		/* The CLEAN_MAX_CAND-th largest by a partial sort of a copy. */
		size_t m = 0;
		for (size_t j = 0; j < npix; j++)
			if (fabsf(mfs[j]) >= *level && (!mask || mask[j]))
				tmp[m++] = fabsf(mfs[j]);
		/* nth_element by repeated halving would do; a histogram is enough
		 * here: find the level that leaves at most CLEAN_MAX_CAND. */
		float lo = *level, hi = 0;
		for (size_t i = 0; i < m; i++)
			hi = tmp[i] > hi ? tmp[i] : hi;
		for (int it = 0; it < 40; it++) {
			float mid = 0.5f * (lo + hi);
			size_t c = 0;
			for (size_t i = 0; i < m; i++)
				c += tmp[i] >= mid;
			if (c > CLEAN_MAX_CAND)
				lo = mid;
			else
				hi = mid;
		}
		*level = hi;
	}
	n = 0;
	for (size_t j = 0; j < npix && n < CLEAN_MAX_CAND; j++)
		if (fabsf(mfs[j]) >= *level && (!mask || mask[j])) {
			cx[n] = (int)(j % J->nx);
			cy[n] = (int)(j / J->nx);
			cm[n] = mfs[j];
			for (int k = 0; k < J->nsub; k++)
				cv[n * J->nsub + k] = residual[k][j];
			n++;
		}
	return n;
}

#define JOINED_PAR_MIN 4096
#define JOINED_MAX_THREADS 64

/* The joined Högbom minor cycle (WSClean -join-channels without spectral
 * fitting; Offringa & Smirnov 2017, MNRAS 471, 301, §2): the peak is found
 * in the MFS residual (the weighted sum over sub-bands); at that pixel each
 * sub-band gets a component of gain × its own residual there and subtracts
 * it times its own PSF.  Returns 1 when it stopped at the level. */
static int hogbom_joined(joined *J, const int *cx, const int *cy, float *cm, float *cv,
			 size_t nc, float level, float gain, int niter, int *iters)
{
	float tbv[JOINED_MAX_THREADS];
	size_t tbest[JOINED_MAX_THREADS];
	float comp[SUBBAND_MAX];
	int stop = 0, ox = 0, oy = 0, nsub = J->nsub, nx = J->nx, ny = J->ny;
	int nthreads = J->nthreads > JOINED_MAX_THREADS ? JOINED_MAX_THREADS : J->nthreads;

	if (nc < JOINED_PAR_MIN)
		nthreads = 1;
#pragma omp parallel num_threads(nthreads)
	{
		int tid = omp_get_thread_num(), nth = omp_get_num_threads();
		size_t c0 = nc * tid / nth, c1 = nc * (tid + 1) / nth;
		float bv = 0;
		size_t best = c0;
		for (size_t c = c0; c < c1; c++)
			if (fabsf(cm[c]) > bv) {
				bv = fabsf(cm[c]);
				best = c;
			}
		tbv[tid] = bv;
		tbest[tid] = best;
		for (;;) {
#pragma omp barrier
#pragma omp single
			{
				float b = 0;
				size_t bi = 0;
				for (int t = 0; t < nth; t++)
					if (tbv[t] > b) {
						b = tbv[t];
						bi = tbest[t];
					}
				if (!nc || b < level) {
					stop = 1;
				} else if (*iters >= niter) {
					stop = 2;
				} else {
					size_t pix = (size_t)cy[bi] * nx + cx[bi];
					for (int k = 0; k < nsub; k++) {
						comp[k] = J->sw[k] > 0 ? gain * cv[bi * nsub + k]
								       : 0;
						J->model[k][pix] += comp[k];
					}
					ox = nx / 2 - cx[bi];
					oy = ny / 2 - cy[bi];
					(*iters)++;
				}
			}
			if (stop)
				break;
			bv = 0;
			best = c0;
			for (size_t c = c0; c < c1; c++) {
				/* Prefetch ahead, as clean.c's subtract: the PSF
				 * reads are gathers from an array far larger than
				 * the caches. */
				if (c + 32 < c1) {
					int px = cx[c + 32] + ox, py = cy[c + 32] + oy;
					if (px >= 0 && py >= 0 && px < nx && py < ny)
						__builtin_prefetch(J->psf + ((size_t)py * nx + px) *
										    nsub);
				}
				int qx = cx[c] + ox, qy = cy[c] + oy;
				float m = 0;
				if (qx >= 0 && qy >= 0 && qx < nx && qy < ny) {
					const float *pq = J->psf + ((size_t)qy * nx + qx) * nsub;
					float *v = cv + c * nsub;
					for (int k = 0; k < nsub; k++) {
						v[k] -= comp[k] * pq[k];
						m += J->wk[k] * v[k];
					}
					cm[c] = m;
				}
				if (fabsf(cm[c]) > bv) {
					bv = fabsf(cm[c]);
					best = c;
				}
			}
			tbv[tid] = bv;
			tbest[tid] = best;
		}
	}
	return stop == 1;
}

int subband_clean(grid_plan *g, const weight_stokes *s, const clean_params *cp,
		  const beamfit_beam *beam, int nsub, float *model, float *residual,
		  clean_stats *ret_stats, subband_image *out, char *err, size_t errlen)
{
	joined J = { 0 };
	grid_info gi;
	int r = 0, masking = 0, maxch = 0;
	int *cx = NULL, *cy = NULL;
	float *cm = NULL, *cv = NULL, *tmp = NULL;
	float *res[SUBBAND_MAX] = { 0 };
	unsigned char *mask = NULL;
	clean_stats st = { 0 };
	double t, prev_peak;

	if (subband_split(s->nchan, nsub, J.chan0, J.nch) < 0)
		return err_set(err, errlen, -EINVAL,
			       "subbands: cannot split %d channels into %d sub-bands (2..%d, at "
			       "most one per channel)", s->nchan, nsub, SUBBAND_MAX);
	memset(out, 0, nsub * sizeof *out);
	grid_get_info(g, &gi);
	J.nsub = nsub;
	J.nx = gi.nx;
	J.ny = gi.ny;
	J.npix = (size_t)gi.nx * gi.ny;
	J.nrows = s->nrows;
	J.s = s;
	J.g = g;
	J.pool = cp->pool;
	J.nthreads = cp->nthreads > 0 ? cp->nthreads : omp_get_max_threads();
	for (int k = 0; k < nsub; k++) {
		subband_image *o = &out[k];
		double sw = 0, swf = 0;
		int c0 = J.chan0[k], nc = J.nch[k];
		size_t ns = J.nrows * (size_t)nc;
		maxch = nc > maxch ? nc : maxch;
		o->chan0 = c0;
		o->nchan = nc;
		o->bandwidth_hz = nc * fabs(s->chan_width_hz);
		for (int c = c0; c < c0 + nc; c++) {
			sw += s->chan_wsum[c];
			swf += s->chan_wsum[c] * s->freq_hz[c];
		}
		o->sum_w = J.sw[k] = sw;
		J.wk[k] = (float)(sw / s->sum_w);
		o->freq_hz = sw > 0 ? swf / sw : 0.5 * (s->freq_hz[c0] + s->freq_hz[c0 + nc - 1]);
		J.vis[k] = pool_get(J.pool, ns * sizeof *J.vis[k]);
		J.wgt[k] = pool_get(J.pool, ns * sizeof *J.wgt[k]);
		J.model[k] = pool_get_zero(J.pool, J.npix * sizeof *J.model[k]);
		o->residual = res[k] = pool_get(J.pool, J.npix * sizeof *res[k]);
		o->image = pool_get(J.pool, J.npix * sizeof *o->image);
		if (!J.vis[k] || !J.wgt[k] || !J.model[k] || !res[k] || !o->image) {
			r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
			goto out;
		}
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
		for (size_t row = 0; row < J.nrows; row++)
			for (int c = 0; c < nc; c++) {
				size_t src = row * s->nchan + c0 + c, dst = row * nc + c;
				J.vis[k][dst] = s->vis[src];
				J.wgt[k][dst] = s->img_wgt[src];
			}
	}
	J.rvis = pool_get(J.pool, J.nrows * maxch * sizeof *J.rvis);
	J.psf = pool_get(J.pool, J.npix * nsub * sizeof *J.psf);
	cx = malloc(CLEAN_MAX_CAND * sizeof *cx);
	cy = malloc(CLEAN_MAX_CAND * sizeof *cy);
	cm = malloc(CLEAN_MAX_CAND * sizeof *cm);
	cv = malloc((size_t)nsub * CLEAN_MAX_CAND * sizeof *cv);
	tmp = pool_get(J.pool, J.npix * sizeof *tmp);
	if (J.psf && tmp)
		memset(J.psf, 0, J.npix * nsub * sizeof *J.psf);
	if (cp->auto_mask > 0)
		mask = pool_get_zero(J.pool, J.npix);
	if (!J.rvis || !J.psf || !cx || !cy || !cm || !cv || !tmp ||
	    (cp->auto_mask > 0 && !mask)) {
		r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
		goto out;
	}
	/* Each sub-band's PSF (peak 1 with its own Σw), interleaved. */
	for (int k = 0; k < nsub; k++) {
		if (!(J.sw[k] > 0)) {
			for (size_t j = 0; j < J.npix; j++)
				res[k][j] = 0;
			continue;
		}
		if ((r = select_subband(&J, k, err, errlen)) < 0)
			goto out;
		if ((r = grid_dirty(g, NULL, tmp)) < 0) {
			err_set(err, errlen, r, "subbands: gridding failed");
			goto out;
		}
		float sc = (float)(1 / J.sw[k]);
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
		for (size_t j = 0; j < J.npix; j++)
			J.psf[j * nsub + k] = tmp[j] * sc;
	}
	if ((r = major(&J, 0, res, residual, err, errlen)) < 0)
		goto out;
	/* Cotton–Schwab with the joined minor cycle; the stopping rules are
	 * those of clean_run (imaging/clean.h), on the MFS residual. */
	st.stop = "threshold";
	st.sigma_jy = clean_mad_sigma(residual, J.npix);
	st.peak_jy = peak_abs_masked(residual, J.npix, NULL);
	st.threshold_jy = fmax(cp->threshold_jy, cp->auto_threshold * st.sigma_jy);
	prev_peak = st.peak_jy;
	while (cp->niter > 0) {
		double sigma = st.sigma_jy;
		double peak = masking ? peak_abs_masked(residual, J.npix, mask) : st.peak_jy;
		double thr = fmax(cp->threshold_jy, cp->auto_threshold * sigma), stage_thr = thr;
		if (mask && !masking) {
			stage_thr = fmax(thr, cp->auto_mask * sigma);
			if (peak <= stage_thr) {
				masking = 1;
				for (size_t j = 0; j < J.npix; j++) {
					int any = 0;
					for (int k = 0; k < nsub; k++)
						any |= J.model[k][j] != 0;
					mask[j] = any;
				}
				stage_thr = thr;
				peak = prev_peak = peak_abs_masked(residual, J.npix, mask);
			}
		}
		st.threshold_jy = thr;
		if (peak <= stage_thr) {
			st.stop = "threshold";
			break;
		}
		if (st.iterations >= cp->niter) {
			st.stop = "niter";
			break;
		}
		if (st.major_cycles >= cp->max_major) {
			st.stop = "max_major";
			break;
		}
		t = clk_mono_s();
		double t_minor = t;
		int iter0 = st.iterations;
		float level = (float)fmax(stage_thr, (1 - cp->major_gain) * peak);
		size_t nc = collect_joined(&J, residual, res, masking ? mask : NULL, &level, cx, cy,
					   cm, cv, tmp);
		int last = level <= (float)stage_thr && (!mask || masking);
		if (!hogbom_joined(&J, cx, cy, cm, cv, nc, level, (float)cp->gain, cp->niter,
				   &st.iterations))
			last = 0;
		st.minor_s += clk_mono_s() - t;
		t = clk_mono_s();
		if ((r = major(&J, 1, res, residual, err, errlen)) < 0)
			goto out;
		st.major_cycles++;
		st.major_s += clk_mono_s() - t;
		st.peak_jy = peak_abs_masked(residual, J.npix, NULL);
		st.sigma_jy = clean_mad_sigma(residual, J.npix);
		double now_peak = masking ? peak_abs_masked(residual, J.npix, mask) : st.peak_jy;
		clean_cycle cyc = { .peak_jy = peak, .level_jy = level,
				    .components = st.iterations - iter0, .candidates = (int)nc,
				    .peak_after_jy = now_peak, .sigma_after_jy = st.sigma_jy,
				    .minor_s = t - t_minor, .major_s = clk_mono_s() - t };
		if (clean_end_cycle(&st, &cyc, last, &prev_peak))
			break;
	}
	/* The MFS model is the weighted sum of the sub-band models; each
	 * sub-band is restored with the common beam. */
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
	for (size_t j = 0; j < J.npix; j++) {
		float a = 0;
		for (int k = 0; k < nsub; k++)
			a += J.wk[k] * J.model[k][j];
		model[j] = a;
	}
	st.model_flux_jy = 0;
	for (size_t j = 0; j < J.npix; j++)
		st.model_flux_jy += model[j];
	for (int k = 0; k < nsub; k++) {
		subband_image *o = &out[k];
		double f = 0;
		for (size_t j = 0; j < J.npix; j++)
			f += J.model[k][j];
		o->model_flux_jy = J.sw[k] > 0 ? f : NAN;
		if (!(J.sw[k] > 0)) {
			for (size_t j = 0; j < J.npix; j++)
				o->image[j] = o->residual[j] = NAN;
			o->noise_jy = NAN;
			continue;
		}
		o->noise_jy = clean_mad_sigma(o->residual, J.npix);
		memcpy(o->image, o->residual, J.npix * sizeof *o->image);
		beamfit_restore(o->image, J.model[k], J.nx, J.ny, gi.cell_rad, beam, J.nthreads);
		/* Not kept: N more full-size images for a product nobody reads. */
		pool_put(J.pool, o->residual);
		o->residual = res[k] = NULL;
	}
	*ret_stats = st;
	r = 0;
out:
	for (int k = 0; k < nsub; k++) {
		pool_put(J.pool, J.vis[k]);
		pool_put(J.pool, J.wgt[k]);
		pool_put(J.pool, J.model[k]);
	}
	pool_put(J.pool, J.rvis);
	pool_put(J.pool, J.psf);
	free(cx);
	free(cy);
	free(cm);
	free(cv);
	pool_put(J.pool, tmp);
	pool_put(J.pool, mask);
	if (r < 0)
		subband_images_free(out, nsub, J.pool);
	return r;
}
