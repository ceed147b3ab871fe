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
#include "core/stats.h"

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

/* The joined state.  The MFS CLEAN's residual visibilities (rvis, the
 * MFS layout) stay as they are; a sub-band's are its slice of them minus the
 * prediction of its joined components (delta). */
typedef struct joined {
	int nsub, nx, ny;
	size_t npix, nrows;
	const weight_stokes *s;
	grid_plan *g;
	int cur;                            /* sub-band whose samples are in the plan
					       (-1: the MFS ones) */
	int chan0[SUBBAND_MAX], nch[SUBBAND_MAX];
	double sw[SUBBAND_MAX];             /* Σ w of each sub-band */
	float wk[SUBBAND_MAX];              /* Σ w_k / Σ w: the MFS weights */
	float *wgt[SUBBAND_MAX];            /* [nrows × nch[k]] imaging weights */
	const float complex *rvis;          /* [nrows × nchan]: vis − degrid(MFS model) */
	float complex *kvis;                /* [nrows × max nch] one sub-band's */
	float *res[SUBBAND_MAX];            /* residual of each sub-band, Jy/beam */
	float *psf;                         /* [npix × nsub], interleaved: one gather
					       in the minor cycle reads every sub-band */
	float *delta[SUBBAND_MAX];          /* joined components of each sub-band */
	int split;                          /* res[] hold the split residuals */
	int by_q;                           /* peaks on q (joined_q), else on the MFS
					       residual Σ w_k r_k */
	int nthreads;
	mem_pool *pool;
} joined;

static int select_subband(joined *J, int k, char *err, size_t errlen)
{
	if (J->cur == k)
		return 0;
	grid_uvdata ud = { J->nrows, J->nch[k], J->s->uvw_m, J->s->freq_hz + J->chan0[k],
			   J->wgt[k] };
	J->cur = -1;
	int r = grid_plan_set_data(J->g, &ud, err, errlen);
	if (r == 0)
		J->cur = k;
	return r;
}

/* The order in which to visit the sub-bands: starting from the one already
 * in the plan when it is the last, so that one sort per pass is saved. */
static int visit(const joined *J, int i)
{
	return J->cur == J->nsub - 1 ? J->nsub - 1 - i : i;
}

/* res[k] = dirty_k(rvis_k − degrid_k(delta_k)) / Σw_k for every sub-band
 * (delta NULL: of the MFS residual visibilities alone), and the MFS residual
 * as their weighted sum. */
static int subband_residuals(joined *J, int with_delta, float *mfs, char *err, size_t errlen)
{
	const weight_stokes *s = J->s;
	int r = 0, order[SUBBAND_MAX];

	for (int i = 0; i < J->nsub; i++)
		order[i] = visit(J, i);
	for (int i = 0; i < J->nsub; i++) {
		int k = order[i], c0 = J->chan0[k], nc = J->nch[k];
		if (!(J->sw[k] > 0)) {
			memset(J->res[k], 0, J->npix * sizeof *J->res[k]);
			continue;
		}
		if ((r = select_subband(J, k, err, errlen)) < 0)
			return r;
		if (with_delta) {
			if ((r = grid_degrid(J->g, J->delta[k], J->kvis)) < 0)
				return err_set(err, errlen, r, "subbands: degridding failed");
		}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
		for (size_t row = 0; row < J->nrows; row++)
			for (int c = 0; c < nc; c++) {
				size_t i = row * nc + c;
				float complex v = J->rvis[row * s->nchan + c0 + c];
				J->kvis[i] = with_delta ? v - J->kvis[i] : v;
			}
		if ((r = grid_dirty(J->g, J->kvis, J->res[k])) < 0)
			return err_set(err, errlen, r, "subbands: gridding failed");
		float sc = (float)(1 / J->sw[k]);
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
		for (size_t j = 0; j < J->npix; j++)
			J->res[k][j] *= sc;
	}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < J->npix; j++) {
		float a = 0;
		for (int k = 0; k < J->nsub; k++)
			a += J->wk[k] * J->res[k][j];
		mfs[j] = a;
	}
	return 0;
}

/* clean_last_image_fn of the MFS CLEAN: its last residual image is made as
 * the weighted sum of the sub-bands' (the same image, and the sub-band
 * residuals come at the price of the FFTs alone). */
static int split_last(void *ctx, const float complex *rvis, float *residual, char *err,
		      size_t errlen)
{
	joined *J = ctx;
	J->rvis = rvis;
	int r = subband_residuals(J, 0, residual, err, errlen);
	J->split = r == 0;
	return r;
}

/* Each sub-band's PSF (peak 1 with its own Σw), interleaved. */
static int subband_psfs(joined *J, float *tmp, char *err, size_t errlen)
{
	int r = 0, order[SUBBAND_MAX];

	for (int i = 0; i < J->nsub; i++)
		order[i] = visit(J, i);
	for (int i = 0; i < J->nsub; i++) {
		int k = order[i], nsub = J->nsub;
		if (!(J->sw[k] > 0))
			continue; /* its PSF stays zero, as its components do */
		if ((r = select_subband(J, k, err, errlen)) < 0)
			return r;
		if ((r = grid_dirty(J->g, NULL, tmp)) < 0)
			return err_set(err, errlen, r, "subbands: gridding failed");
		float sc = (float)(1 / J->sw[k]);
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
		for (size_t j = 0; j < J->npix; j++)
			J->psf[j * nsub + k] = tmp[j] * sc;
	}
	return 0;
}

/* The joined peak statistic: the root of the MFS-weighted mean square of the
 * sub-band residuals, q = √(Σ w_k r_k²).  For a flat residual r it is |r| (the
 * MFS residual); a spectral residual, which the MFS sum cancels (+r in the
 * lower sub-bands, −r in the upper ones), shows in it at full size. */
static inline float joined_q(const float *v, const float *wk, int nsub)
{
	float q = 0;
	for (int k = 0; k < nsub; k++)
		q += wk[k] * v[k] * v[k];
	return sqrtf(q);
}

/* Candidates: |statistic q| >= level (inside the mask when given), capped at
 * CLEAN_MAX_CAND by raising the level, as clean.c does. */
static size_t collect_joined(const joined *J, const float *q, const unsigned char *mask,
			     float *level, int *cx, int *cy, float *cm, float *cv, float *tmp)
{
	size_t n = 0, npix = J->npix;
	for (size_t j = 0; j < npix; j++)
		if (fabsf(q[j]) >= *level && (!mask || mask[j]))
			n++;
	if (n > CLEAN_MAX_CAND) {
		size_t m = 0;
		for (size_t j = 0; j < npix; j++)
			if (fabsf(q[j]) >= *level && (!mask || mask[j]))
				tmp[m++] = -fabsf(q[j]);
		*level = -stats_select_f(tmp, m, CLEAN_MAX_CAND - 1);
	}
	n = 0;
	for (size_t j = 0; j < npix && n < CLEAN_MAX_CAND; j++)
		if (fabsf(q[j]) >= *level && (!mask || mask[j])) {
			cx[n] = (int)(j % J->nx);
			cy[n] = (int)(j / J->nx);
			cm[n] = q[j];
			for (int k = 0; k < J->nsub; k++)
				cv[n * J->nsub + k] = J->res[k][j];
			n++;
		}
	return n;
}

#define JOINED_PAR_MIN 4096
#define JOINED_MAX_THREADS 64

/* The joined Högbom minor cycle (WSClean -join-channels without spectral
 * fitting; Offringa & Smirnov 2017, MNRAS 471, 301, §2): the peak is found
 * in the MFS residual or in q (joined_q; J->by_q); at that pixel each sub-band gets a
 * component of gain × its own residual there and subtracts it times its own
 * PSF.  Returns 1 when it stopped at the level, 0 at niter. */
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
						J->delta[k][pix] += comp[k];
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
				if (qx >= 0 && qy >= 0 && qx < nx && qy < ny) {
					const float *pq = J->psf + ((size_t)qy * nx + qx) * nsub;
					float *v = cv + c * nsub;
					float m = 0;
					for (int k = 0; k < nsub; k++) {
						v[k] -= comp[k] * pq[k];
						m += J->wk[k] * v[k];
					}
					cm[c] = J->by_q ? joined_q(v, J->wk, nsub) : m;
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

/* The statistic the joined minor cycle cleans into q, its peak |q| (inside
 * the mask when given), the threshold in it and the noise σ that threshold
 * is a multiple of: by_q, q = joined_q and σ = √(Σ w_k σ_k²) (the rms that
 * noise alone gives q) with σ_k each sub-band's 1.4826·MAD; else the MFS
 * residual mfs and its own σ, as clean_run. */
static void joined_stats(const joined *J, const clean_params *cp, const unsigned char *mask,
			 const float *mfs, float *q, double *ret_peak, double *ret_thr,
			 double *ret_sigma)
{
	double s2 = 0;
	if (J->by_q) {
		for (int k = 0; k < J->nsub; k++)
			if (J->sw[k] > 0) {
				double sk = clean_mad_sigma(J->res[k], J->npix);
				s2 += J->wk[k] * sk * sk;
			}
	} else {
		double sm = clean_mad_sigma(mfs, J->npix);
		s2 = sm * sm;
	}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < J->npix; j++) {
		float v[SUBBAND_MAX];
		for (int k = 0; k < J->nsub; k++)
			v[k] = J->res[k][j];
		q[j] = J->by_q ? joined_q(v, J->wk, J->nsub) : mfs[j];
	}
	*ret_peak = clean_peak_masked(q, J->npix, mask);
	*ret_thr = fmax(cp->threshold_jy, cp->auto_threshold * sqrt(s2));
	*ret_sigma = sqrt(s2);
}

/* The largest |PSF| beyond twice the major axis from the centre: how much of
 * a residual's peak its sidelobes carry elsewhere. */
static double psf_sidelobe(const float *psf, int nx, int ny, double r_pix, int nthreads)
{
	float mx = 0;
	double r2 = r_pix * r_pix;
#pragma omp parallel for num_threads(nthreads) reduction(max : mx) schedule(static)
	for (int iy = 0; iy < ny; iy++)
		for (int ix = 0; ix < nx; ix++) {
			double dx = ix - nx / 2, dy = iy - ny / 2;
			float a = fabsf(psf[(size_t)iy * nx + ix]);
			if (dx * dx + dy * dy > r2 && a > mx)
				mx = a;
		}
	return mx;
}

/* The spectral deviation of the brightest source: at the peak pixel of the
 * MFS dirty image, √(Σ w_k (D_k − D)²) of the sub-band dirty values D_k
 * (direct sums, grid_dirty_pixels, on the MFS data in the plan) about their
 * weighted mean D.  0 when it cannot be had. */
static double spectral_deviation(joined *J, const float *dirty, char *err, size_t errlen)
{
	const weight_stokes *s = J->s;
	double *ch = malloc((size_t)s->nchan * sizeof *ch), a = 0, mean = 0, dk[SUBBAND_MAX];
	float pk = 0;
	int pix = 0;

	if (!ch)
		return 0;
	for (size_t j = 0; j < J->npix; j++)
		if (fabsf(dirty[j]) > pk) {
			pk = fabsf(dirty[j]);
			pix = (int)j;
		}
	if (grid_dirty_pixels(J->g, s->vis, &pix, 1, ch) < 0) {
		(void)err;
		(void)errlen;
		free(ch);
		return 0;
	}
	for (int k = 0; k < J->nsub; k++) {
		double d = 0;
		for (int c = J->chan0[k]; c < J->chan0[k] + J->nch[k]; c++)
			d += ch[c];
		dk[k] = J->sw[k] > 0 ? d / J->sw[k] : 0;
		mean += J->wk[k] * dk[k];
	}
	for (int k = 0; k < J->nsub; k++)
		a += J->wk[k] * (dk[k] - mean) * (dk[k] - mean);
	free(ch);
	return sqrt(a);
}

int subband_clean(grid_plan *g, const weight_stokes *s, const float *psf,
		  const clean_params *cp, const beamfit_beam *beam, int nsub, float *model,
		  float *residual, clean_stats *ret_stats, subband_image *out, char *err,
		  size_t errlen)
{
	joined J = { 0 };
	grid_info gi;
	int r = 0, maxch = 0, masking = cp->auto_mask > 0;
	int *cx = NULL, *cy = NULL;
	float *cm = NULL, *cv = NULL, *tmp = NULL, *q = NULL;
	float complex *rvis = NULL;
	unsigned char *mask = NULL;
	clean_stats st = { 0 };
	double t;

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
	J.cur = -1;
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
		J.wgt[k] = pool_get(J.pool, ns * sizeof *J.wgt[k]);
		o->residual = J.res[k] = pool_get(J.pool, J.npix * sizeof *J.res[k]);
		o->image = pool_get(J.pool, J.npix * sizeof *o->image);
		if (!J.wgt[k] || !J.res[k] || !o->image) {
			r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
			goto out;
		}
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
		for (size_t row = 0; row < J.nrows; row++)
			for (int c = 0; c < nc; c++)
				J.wgt[k][row * nc + c] = s->img_wgt[row * s->nchan + c0 + c];
	}
	rvis = pool_get(J.pool, J.nrows * (size_t)s->nchan * sizeof *rvis);
	J.kvis = pool_get(J.pool, J.nrows * (size_t)maxch * sizeof *J.kvis);
	tmp = pool_get(J.pool, J.npix * sizeof *tmp);
	if (!rvis || !J.kvis || !tmp) {
		r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
		goto out;
	}

	/* 1. The MFS Cotton–Schwab CLEAN, handing over to the joined one
	 * (floor_jy) before its level reaches the spectral structure of the
	 * brightest source: its deviation across the sub-bands, times the
	 * sidelobes that carry it into the MFS image (at most 1).  Its last
	 * residual image is made from the sub-bands' (split_last) when the last
	 * cycle is known in advance, else they are split off after it. */
	double kappa = psf_sidelobe(psf, J.nx, J.ny, 2 * beam->bmaj_rad / gi.cell_rad, J.nthreads);
	double spec = spectral_deviation(&J, residual, err, errlen);
	clean_params mp = *cp;
	mp.floor_jy = spec * fmin(1, 2 * kappa);
	r = clean_run_vis(g, s, psf, &mp, model, residual, rvis, split_last, &J, &st, err,
			  errlen);
	if (r < 0)
		goto out;
	int handed_over = st.stop && !strcmp(st.stop, "floor");
	t = clk_mono_s();
	J.rvis = rvis;
	if (!J.split) {
		if ((r = subband_residuals(&J, 0, residual, err, errlen)) < 0)
			goto out;
		J.split = 1;
		st.major_s += clk_mono_s() - t;
	}

	/* 2. Joined Cotton–Schwab cycles: peak on the MFS residual after a
	 * handover, on q (joined_q) after a finished MFS CLEAN; each minor
	 * cycle down to max(threshold, (1 − major_gain) · peak), each
	 * followed by a true major cycle of every sub-band (the prediction of
	 * its joined components subtracted from its slice of the MFS residual
	 * visibilities).  After a handover, until clean_run's rules stop them;
	 * after a finished MFS CLEAN, at most SUBBAND_JOINED_CYCLES and only
	 * when the sidelobes of what is left in q would stand above the
	 * threshold. */
	double peak_q, thr_q, sig_q, prev_q;
	q = pool_get(J.pool, J.npix * sizeof *q);
	mask = masking ? pool_get_zero(J.pool, J.npix) : NULL;
	if (!q || (masking && !mask)) {
		r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
		goto out;
	}
	masking = 0;
	J.by_q = !handed_over;
	joined_stats(&J, cp, NULL, residual, q, &peak_q, &thr_q, &sig_q);
	prev_q = peak_q;
	int maxj = handed_over ? cp->max_major - st.major_cycles
			       : peak_q * kappa > thr_q ? SUBBAND_JOINED_CYCLES : 0;
	for (int cyc_j = 0; cyc_j < maxj && cp->niter > 0; cyc_j++) {
		double stage_thr = thr_q;
		if (mask && !masking) {
			/* Auto-mask as clean_run: everywhere down to auto_mask · σ,
			 * then only where there are components. */
			stage_thr = fmax(thr_q, cp->auto_mask * sig_q);
			if (!handed_over || peak_q <= stage_thr) {
				masking = 1;
				for (size_t j = 0; j < J.npix; j++) {
					int any = model[j] != 0;
					for (int k = 0; k < nsub && J.delta[k] && !any; k++)
						any = J.delta[k][j] != 0;
					mask[j] = any;
				}
				stage_thr = thr_q;
				peak_q = prev_q = clean_peak_masked(q, J.npix, mask);
			}
		}
		if (peak_q <= stage_thr) {
			st.stop = "threshold";
			break;
		}
		if (st.iterations >= cp->niter) {
			st.stop = "niter";
			break;
		}
		double t_minor = clk_mono_s();
		if (!J.psf) {
			/* First joined cycle: the sub-band PSFs and the joined
			 * models (zero), made only now. */
			J.psf = pool_get(J.pool, J.npix * nsub * sizeof *J.psf);
			cx = malloc(CLEAN_MAX_CAND * sizeof *cx);
			cy = malloc(CLEAN_MAX_CAND * sizeof *cy);
			cm = malloc(CLEAN_MAX_CAND * sizeof *cm);
			cv = malloc((size_t)nsub * CLEAN_MAX_CAND * sizeof *cv);
			for (int k = 0; k < nsub; k++)
				if (!(J.delta[k] = pool_get_zero(J.pool, J.npix * sizeof *J.delta[k])))
					break;
			if (!J.psf || !cx || !cy || !cm || !cv || !J.delta[nsub - 1]) {
				r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
				goto out;
			}
			memset(J.psf, 0, J.npix * nsub * sizeof *J.psf);
			if ((r = subband_psfs(&J, tmp, err, errlen)) < 0)
				goto out;
		}
		int iter0 = st.iterations;
		float level = (float)fmax(stage_thr, (1 - cp->major_gain) * peak_q);
		size_t nc = collect_joined(&J, q, masking ? mask : NULL, &level, cx, cy, cm, cv,
					   tmp);
		int last = level <= (float)stage_thr && (!mask || masking);
		if (!hogbom_joined(&J, cx, cy, cm, cv, nc, level, (float)cp->gain, cp->niter,
				   &st.iterations))
			last = 0;
		t = clk_mono_s();
		st.minor_s += t - t_minor;
		if ((r = subband_residuals(&J, 1, residual, err, errlen)) < 0)
			goto out;
		st.major_cycles++;
		st.joined_cycles++;
		st.major_s += clk_mono_s() - t;
		st.peak_jy = clean_peak_masked(residual, J.npix, NULL);
		st.sigma_jy = clean_mad_sigma(residual, J.npix);
		double before = peak_q;
		joined_stats(&J, cp, NULL, residual, q, &peak_q, &thr_q, &sig_q);
		double now_q = masking ? clean_peak_masked(q, J.npix, mask) : peak_q;
		clean_cycle cyc = { .peak_jy = before, .level_jy = level,
				    .components = st.iterations - iter0, .candidates = (int)nc,
				    .peak_after_jy = now_q, .sigma_after_jy = st.sigma_jy,
				    .minor_s = t - t_minor, .major_s = clk_mono_s() - t };
		if (handed_over) {
			if (clean_end_cycle(&st, &cyc, last, &prev_q))
				break;
		} else {
			/* After a finished MFS CLEAN its stop reason stands. */
			if (st.ntrace < CLEAN_MAX_TRACE)
				st.cycle[st.ntrace++] = cyc;
			if (last || !(now_q < prev_q))
				break;
			prev_q = now_q;
		}
		peak_q = now_q;
		if (handed_over && st.major_cycles >= cp->max_major) {
			st.stop = "max_major";
			break;
		}
	}
	if (handed_over && !strcmp(st.stop, "floor"))
		st.stop = "threshold"; /* the joined cycles found nothing above it */

	/* Restore each sub-band, model_k = MFS model + its joined
	 * components, with the common beam; then the MFS model becomes their
	 * weighted sum (the MFS residual already is). */
	for (int k = 0; k < nsub; k++) {
		subband_image *o = &out[k];
		if (!(J.sw[k] > 0)) {
			for (size_t j = 0; j < J.npix; j++)
				o->image[j] = NAN;
			o->model_flux_jy = o->noise_jy = NAN;
			continue;
		}
		const float *mk = model;
		if (J.delta[k]) {
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
			for (size_t j = 0; j < J.npix; j++)
				tmp[j] = model[j] + J.delta[k][j];
			mk = tmp;
		}
		double f = 0;
		for (size_t j = 0; j < J.npix; j++)
			f += mk[j];
		o->model_flux_jy = f;
		o->noise_jy = clean_mad_sigma(o->residual, J.npix);
		memcpy(o->image, o->residual, J.npix * sizeof *o->image);
		beamfit_restore(o->image, mk, J.nx, J.ny, gi.cell_rad, beam, J.nthreads);
	}
	if (J.delta[0]) {
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
		for (size_t j = 0; j < J.npix; j++) {
			float a = 0;
			for (int k = 0; k < nsub; k++)
				a += J.wk[k] * J.delta[k][j];
			model[j] += a;
		}
	}
	st.model_flux_jy = 0;
	for (size_t j = 0; j < J.npix; j++)
		st.model_flux_jy += model[j];
	for (int k = 0; k < nsub; k++) {
		/* Not kept: N more full-size images for a product nobody reads. */
		pool_put(J.pool, out[k].residual);
		out[k].residual = J.res[k] = NULL;
	}
	*ret_stats = st;
	r = 0;
out:
	for (int k = 0; k < nsub; k++) {
		pool_put(J.pool, J.wgt[k]);
		pool_put(J.pool, J.delta[k]);
	}
	pool_put(J.pool, rvis);
	pool_put(J.pool, J.kvis);
	pool_put(J.pool, J.psf);
	free(cx);
	free(cy);
	free(cm);
	free(cv);
	pool_put(J.pool, tmp);
	pool_put(J.pool, q);
	pool_put(J.pool, mask);
	if (r < 0)
		subband_images_free(out, nsub, J.pool);
	return r;
}
