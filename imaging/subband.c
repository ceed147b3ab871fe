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

/* One resolution the sub-bands are imaged at: the image's own (the MFS
 * plan), or the coarser one of the joined cycles. */
typedef struct jgrid {
	grid_plan *g;
	int *cur;                           /* sub-band whose samples are in g (-1:
					       the MFS ones) */
	int nx, ny;
	size_t npix;
} jgrid;

/* The joined state.  The MFS CLEAN's residual visibilities (rvis, the
 * MFS layout) stay as they are; a sub-band's are its slice of them minus the
 * prediction of its joined components (delta), kept in jvis when the joined
 * cycles run on a coarser grid than the image's. */
typedef struct joined {
	int nsub, nx, ny;                   /* the joined cycles' grid */
	size_t npix, nrows;
	int f;                              /* its pixel is f × f of the image's */
	size_t maxcand;                     /* candidates per minor cycle: CLEAN_MAX_CAND
					       over the same sky area, CLEAN_MAX_CAND / f²
					       (the cap that raises clean_run's level
					       in a crowded field, and so decides with
					       it when a cycle is the last) */
	const weight_stokes *s;
	jgrid fine, coarse;                 /* coarse.g == fine.g when f = 1 */
	int cur_f, cur_c;
	int chan0[SUBBAND_MAX], nch[SUBBAND_MAX];
	double sw[SUBBAND_MAX];             /* Σ w of each sub-band */
	float wk[SUBBAND_MAX];              /* Σ w_k / Σ w: the MFS weights */
	float *wgt[SUBBAND_MAX];            /* [nrows × nch[k]] imaging weights */
	const float complex *rvis;          /* [nrows × nchan]: vis − degrid(MFS model) */
	const float complex *final_vis;     /* the residual visibilities of the final
					       models (rvis, jvis, or the resumed MFS
					       CLEAN's) */
	float complex *jvis;                /* rvis − degrid_k(delta_k) (MFS layout) */
	float complex *kvis;                /* [nrows × max nch] one sub-band's */
	float *fres[SUBBAND_MAX];           /* residual of each sub-band at the image's
					       resolution, Jy/beam (out[k].residual) */
	float *res[SUBBAND_MAX];            /* the same on the joined grid (fres when
					       f = 1) */
	float *mfs;                         /* Σ w_k res[k] (the caller's residual when
					       f = 1) */
	float *psf;                         /* [npix × nsub], interleaved: one gather
					       in the minor cycle reads every sub-band */
	float *delta[SUBBAND_MAX];          /* joined components of each sub-band */
	int split;                          /* fres[] hold the residuals of the current
					       model */
	int by_q;                           /* peaks on q (joined_q), else on the MFS
					       residual Σ w_k r_k */
	int nthreads;
	mem_pool *pool;
} joined;

static int select_subband(joined *J, jgrid *G, int k, char *err, size_t errlen)
{
	if (*G->cur == k)
		return 0;
	grid_uvdata ud = { J->nrows, J->nch[k], J->s->uvw_m, J->s->freq_hz + J->chan0[k],
			   J->wgt[k] };
	*G->cur = -1;
	int r = grid_plan_set_data(G->g, &ud, err, errlen);
	if (r == 0)
		*G->cur = k;
	return r;
}

/* The order in which to visit the sub-bands: starting from the one already
 * in the plan when it is the last, so that one sort per pass is saved. */
static int visit(const joined *J, const jgrid *G, int i)
{
	return *G->cur == J->nsub - 1 ? J->nsub - 1 - i : i;
}

/* Sub-band k's PSF on the joined grid G (peak 1 with its own Σw) into
 * J->psf, interleaved, with its samples in the plan; tmp[G->npix] scratch. */
static int psf_one(joined *J, jgrid *G, int k, float *tmp, char *err, size_t errlen)
{
	int r = grid_dirty(G->g, NULL, tmp), nsub = J->nsub;
	if (r < 0)
		return err_set(err, errlen, r, "subbands: gridding failed");
	float sc = (float)(1 / J->sw[k]);
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < G->npix; j++)
		J->psf[j * nsub + k] = tmp[j] * sc;
	return 0;
}

/* Every sub-band's PSF on the joined grid (a sub-band without samples keeps
 * a zero PSF, as its components stay zero). */
static int subband_psfs(joined *J, float *tmp, char *err, size_t errlen)
{
	int r = 0, order[SUBBAND_MAX];
	jgrid *G = &J->coarse;

	/* The order is fixed before the first selection changes G->cur. */
	for (int i = 0; i < J->nsub; i++)
		order[i] = visit(J, G, i);
	for (int i = 0; i < J->nsub; i++) {
		int k = order[i];
		if (!(J->sw[k] > 0))
			continue;
		if ((r = select_subband(J, G, k, err, errlen)) < 0 ||
		    (r = psf_one(J, G, k, tmp, err, errlen)) < 0)
			return r;
	}
	return 0;
}

/* res[k] = dirty_k(v_k − degrid_k(delta[k])) / Σw_k on G for every sub-band,
 * v_k its slice of vis (MFS layout; delta NULL: v_k alone), written back
 * into store (MFS layout) when given; mfs = Σ w_k res[k]; with psf_tmp (scratch
 * of G->npix), also each sub-band's PSF (psf_one) while its samples are in
 * the plan. */
static int subband_residuals(joined *J, jgrid *G, const float complex *vis, float *const *delta,
			     float complex *store, float *const *res, float *mfs, float *psf_tmp,
			     char *err, size_t errlen)
{
	const weight_stokes *s = J->s;
	int r = 0, order[SUBBAND_MAX];

	for (int i = 0; i < J->nsub; i++)
		order[i] = visit(J, G, i);
	for (int i = 0; i < J->nsub; i++) {
		int k = order[i], c0 = J->chan0[k], nc = J->nch[k];
		if (!(J->sw[k] > 0)) {
			memset(res[k], 0, G->npix * sizeof *res[k]);
			continue;
		}
		if ((r = select_subband(J, G, k, err, errlen)) < 0)
			return r;
		if (delta) {
			if ((r = grid_degrid(G->g, delta[k], J->kvis)) < 0)
				return err_set(err, errlen, r, "subbands: degridding failed");
		}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
		for (size_t row = 0; row < J->nrows; row++)
			for (int c = 0; c < nc; c++) {
				size_t i = row * nc + c, m = row * s->nchan + c0 + c;
				float complex v = delta ? vis[m] - J->kvis[i] : vis[m];
				J->kvis[i] = v;
				if (store)
					store[m] = v;
			}
		if ((r = grid_dirty(G->g, J->kvis, res[k])) < 0)
			return err_set(err, errlen, r, "subbands: gridding failed");
		float sc = (float)(1 / J->sw[k]);
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
		for (size_t j = 0; j < G->npix; j++)
			res[k][j] *= sc;
		if (psf_tmp && (r = psf_one(J, G, k, psf_tmp, err, errlen)) < 0)
			return r;
	}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < G->npix; j++) {
		float a = 0;
		for (int k = 0; k < J->nsub; k++)
			a += J->wk[k] * res[k][j];
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
	int r = subband_residuals(J, &J->fine, rvis, NULL, NULL, J->fres, residual, NULL, err, errlen);
	J->split = r == 0;
	return r;
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
 * J->maxcand by raising the level, as clean.c does with CLEAN_MAX_CAND. */
static size_t collect_joined(const joined *J, const float *q, const unsigned char *mask,
			     float *level, int *cx, int *cy, float *cm, float *cv, float *tmp)
{
	size_t n = 0, npix = J->npix;
	for (size_t j = 0; j < npix; j++)
		if (fabsf(q[j]) >= *level && (!mask || mask[j]))
			n++;
	if (n > J->maxcand) {
		size_t m = 0;
		for (size_t j = 0; j < npix; j++)
			if (fabsf(q[j]) >= *level && (!mask || mask[j]))
				tmp[m++] = -fabsf(q[j]);
		*level = -stats_select_f(tmp, m, J->maxcand - 1);
	}
	n = 0;
	for (size_t j = 0; j < npix && n < J->maxcand; j++)
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

/* The statistic the joined minor cycle cleans into q, from the sub-band
 * residuals res[k] and their MFS sum mfs (npix pixels, on either grid), its
 * peak |q| (inside the mask when given), the threshold in it and the noise σ
 * that threshold is a multiple of: by_q, q = joined_q and σ = √(Σ w_k σ_k²)
 * (the rms that noise alone gives q) with σ_k each sub-band's 1.4826·MAD;
 * else mfs and its own σ, as clean_run. */
static void joined_stats(const joined *J, float *const *res, size_t npix, const clean_params *cp,
			 const unsigned char *mask, const float *mfs, float *q, double *ret_peak,
			 double *ret_thr, double *ret_sigma)
{
	double s2 = 0;
	if (J->by_q) {
		for (int k = 0; k < J->nsub; k++)
			if (J->sw[k] > 0) {
				double sk = clean_mad_sigma(res[k], npix);
				s2 += J->wk[k] * sk * sk;
			}
	} else {
		double sm = clean_mad_sigma(mfs, npix);
		s2 = sm * sm;
	}
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < npix; j++) {
		float v[SUBBAND_MAX];
		for (int k = 0; k < J->nsub; k++)
			v[k] = res[k][j];
		q[j] = J->by_q ? joined_q(v, J->wk, J->nsub) : mfs[j];
	}
	*ret_peak = clean_peak_masked(q, npix, mask);
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

/* The index of the largest |img[j]| of img[n] (0 when n == 0). */
static size_t peak_pixel(const float *img, size_t n)
{
	size_t pk = 0;
	float best = -1;
	for (size_t j = 0; j < n; j++)
		if (fabsf(img[j]) > best) {
			best = fabsf(img[j]);
			pk = j;
		}
	return pk;
}

/* √(Σ_k w_k (v_k − v̄)²), v̄ = Σ_k w_k v_k: the spread of one pixel's
 * sub-band values about their MFS value. */
static double spread(const joined *J, const double *v)
{
	double mean = 0, a = 0;
	for (int k = 0; k < J->nsub; k++)
		mean += J->wk[k] * v[k];
	for (int k = 0; k < J->nsub; k++)
		a += J->wk[k] * (v[k] - mean) * (v[k] - mean);
	return sqrt(a);
}

/* The spectral deviation of the brightest source: at the peak pixel of the
 * MFS dirty image, √(Σ w_k (D_k − D)²) of the sub-band dirty values D_k
 * (direct sums, grid_dirty_pixels, on the MFS data in the plan) about their
 * weighted mean D.  0 when it cannot be had. */
static double spectral_deviation(joined *J, const float *dirty)
{
	const weight_stokes *s = J->s;
	double *ch = malloc((size_t)s->nchan * sizeof *ch), dk[SUBBAND_MAX];
	int pix = (int)peak_pixel(dirty, J->fine.npix);

	if (!ch)
		return 0;
	if (grid_dirty_pixels(J->fine.g, s->vis, &pix, 1, ch) < 0) {
		free(ch);
		return 0;
	}
	for (int k = 0; k < J->nsub; k++) {
		double d = 0;
		for (int c = J->chan0[k]; c < J->chan0[k] + J->nch[k]; c++)
			d += ch[c];
		dk[k] = J->sw[k] > 0 ? d / J->sw[k] : 0;
	}
	free(ch);
	return spread(J, dk);
}

/* The coarsening factor f of the joined cycles' grid: the largest f <=
 * SUBBAND_MAX_COARSE such that the image's centre is a pixel of the coarse
 * image (nx/2 and ny/2 multiples of f, nx/f and ny/f even, >= 16), the
 * coarse pixel samples the restoring beam's minor axis at least
 * SUBBAND_PIX_PER_BEAM times, and every sample of s still falls inside the
 * coarse grid with its kernel (the coarse grid's uv cell is the image's, its
 * extent 1/f of it).  1: the image's own grid. */
static int joined_factor(const grid_params *p, int support, const weight_stokes *s,
			 const beamfit_beam *beam)
{
	int best = 1;
	for (int f = 2; f <= SUBBAND_MAX_COARSE; f++) {
		if (p->nx % (2 * f) || p->ny % (2 * f) || p->nx / f < 16 || p->ny / f < 16)
			continue;
		double cell = f * p->cell_rad;
		if (!(cell * SUBBAND_PIX_PER_BEAM <= beam->bmin_rad))
			break;
		int nu = grid_good_size((int)ceil(p->sigma * p->nx / f));
		int nv = grid_good_size((int)ceil(p->sigma * p->ny / f));
		double lim_u = (0.5 * nu - 0.5 * support - 2) / (nu * cell);
		double lim_v = (0.5 * nv - 0.5 * support - 2) / (nv * cell);
		if (!(s->max_uv_lambda < lim_u && s->max_uv_lambda < lim_v))
			break;
		best = f;
	}
	return best;
}

/* The image's pixel of joined-grid pixel j. */
static inline size_t fine_pixel(const joined *J, size_t j)
{
	size_t cx = j % (size_t)J->nx, cy = j / (size_t)J->nx;
	return cy * J->f * (size_t)J->fine.nx + cx * J->f;
}

/* The joined grid when it is coarser than the image's: its plan, residuals
 * and MFS residual.  0, -ENOMEM, -EINVAL (the plan). */
static int coarse_setup(joined *J, char *err, size_t errlen)
{
	grid_params gp;
	grid_get_params(J->fine.g, &gp);
	gp.nx /= J->f;
	gp.ny /= J->f;
	gp.cell_rad *= J->f;
	int r = grid_plan_new(&gp, &J->coarse.g, err, errlen);
	if (r < 0)
		return r;
	J->cur_c = -1;
	J->coarse.cur = &J->cur_c;
	J->mfs = pool_get(J->pool, J->npix * sizeof *J->mfs);
	for (int k = 0; k < J->nsub; k++)
		if (!(J->res[k] = pool_get(J->pool, J->npix * sizeof *J->res[k])))
			break;
	if (!J->mfs || !J->res[J->nsub - 1])
		return err_set(err, errlen, -ENOMEM, "subbands: out of memory");
	return 0;
}

/* The spectral deviation of the joined residuals at the peak of the MFS
 * residual: √(Σ_k w_k (r_k − r)²), r = Σ w_k r_k there. */
static double joined_deviation(const joined *J)
{
	size_t pk = peak_pixel(J->mfs, J->npix);
	double v[SUBBAND_MAX];
	for (int k = 0; k < J->nsub; k++)
		v[k] = J->res[k][pk];
	return spread(J, v);
}

/* 3. The MFS Cotton–Schwab CLEAN again, on the residual visibilities of the
 * joined models (jvis), with what is left of niter and max_major: a new flat
 * model (*ret_model2, added to model at the end), its residual visibilities
 * in rvis (no longer needed as the MFS model's), the sub-band residuals of
 * the image's grid made by its last image step (split_last) or after it. */
static int resume_mfs(joined *J, const float *psf, const clean_params *cp, float *model,
		      float *residual, float complex *rvis, float **ret_model2, clean_stats *st,
		      char *err, size_t errlen)
{
	const weight_stokes *s = J->s;
	jgrid *F = &J->fine;
	double t = clk_mono_s();
	int r;

	if (*F->cur != -1) {
		/* The image's plan held a sub-band (f = 1): the MFS samples back. */
		grid_uvdata ud = { J->nrows, s->nchan, s->uvw_m, s->freq_hz, s->img_wgt };
		*F->cur = -2;
		if ((r = grid_plan_set_data(F->g, &ud, err, errlen)) < 0)
			return r;
		*F->cur = -1;
	}
	float *m2 = *ret_model2 = pool_get_zero(J->pool, F->npix * sizeof *m2);
	if (!m2)
		return err_set(err, errlen, -ENOMEM, "subbands: out of memory");
	if ((r = grid_dirty(F->g, J->jvis, residual)) < 0)
		return err_set(err, errlen, r, "subbands: gridding failed");
	float sc = (float)(1 / s->sum_w);
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < F->npix; j++)
		residual[j] *= sc;
	st->major_s += clk_mono_s() - t;

	weight_stokes s2 = *s;
	s2.vis = J->jvis;
	clean_params mp = *cp;
	mp.niter = cp->niter - st->iterations;
	mp.max_major = cp->max_major - st->major_cycles;
	mp.floor_jy = 0;
	clean_stats st2;
	J->split = 0;
	r = clean_run_vis(F->g, &s2, psf, &mp, m2, residual, rvis, split_last, J, &st2, err,
			  errlen);
	if (r < 0)
		return r;
	J->final_vis = rvis;
	st->iterations += st2.iterations;
	st->major_cycles += st2.major_cycles;
	st->minor_s += st2.minor_s;
	st->major_s += st2.major_s;
	st->peak_jy = st2.peak_jy;
	st->sigma_jy = st2.sigma_jy;
	st->threshold_jy = st2.threshold_jy;
	st->stop = st2.stop;
	for (int i = 0; i < st2.ntrace && st->ntrace < CLEAN_MAX_TRACE; i++)
		st->cycle[st->ntrace++] = st2.cycle[i];
	st->resumed_cycles = st2.major_cycles;
#pragma omp parallel for num_threads(J->nthreads) schedule(static)
	for (size_t j = 0; j < F->npix; j++)
		model[j] += m2[j];
	return 0;
}

int subband_clean(grid_plan *g, const weight_stokes *s, const float *psf,
		  const clean_params *cp, const beamfit_beam *beam, int nsub, float *model,
		  float *residual, clean_stats *ret_stats, subband_image *out, char *err,
		  size_t errlen)
{
	joined J = { 0 };
	grid_info gi;
	grid_params gp;
	int r = 0, maxch = 0, masking = cp->auto_mask > 0;
	int *cx = NULL, *cy = NULL;
	float *cm = NULL, *cv = NULL, *tmp = NULL, *q = NULL;
	float complex *rvis = NULL;
	float *model2 = NULL;
	unsigned char *mask = NULL;
	clean_stats st = { 0 };
	double t;

	if (subband_split(s->nchan, nsub, J.chan0, J.nch) < 0)
		return err_set(err, errlen, -EINVAL,
			       "subbands: cannot split %d channels into %d sub-bands (2..%d, at "
			       "most one per channel)", s->nchan, nsub, SUBBAND_MAX);
	memset(out, 0, nsub * sizeof *out);
	grid_get_info(g, &gi);
	grid_get_params(g, &gp);
	J.nsub = nsub;
	J.fine = (jgrid){ g, &J.cur_f, gi.nx, gi.ny, (size_t)gi.nx * gi.ny };
	J.cur_f = -1;
	J.f = joined_factor(&gp, gi.support, s, beam);
	J.nx = gi.nx / J.f;
	J.ny = gi.ny / J.f;
	J.npix = (size_t)J.nx * J.ny;
	J.maxcand = CLEAN_MAX_CAND / ((size_t)J.f * J.f);
	J.coarse = (jgrid){ J.f == 1 ? g : NULL, &J.cur_f, J.nx, J.ny, J.npix };
	J.nrows = s->nrows;
	J.s = s;
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
		o->residual = J.fres[k] = pool_get(J.pool, J.fine.npix * sizeof *J.fres[k]);
		o->image = pool_get(J.pool, J.fine.npix * sizeof *o->image);
		if (!J.wgt[k] || !J.fres[k] || !o->image) {
			r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
			goto out;
		}
		if (J.f == 1)
			J.res[k] = J.fres[k];
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
		for (size_t row = 0; row < J.nrows; row++)
			for (int c = 0; c < nc; c++)
				J.wgt[k][row * nc + c] = s->img_wgt[row * s->nchan + c0 + c];
	}
	if (J.f == 1)
		J.mfs = residual;
	rvis = pool_get(J.pool, J.nrows * (size_t)s->nchan * sizeof *rvis);
	J.kvis = pool_get(J.pool, J.nrows * (size_t)maxch * sizeof *J.kvis);
	tmp = pool_get(J.pool, J.fine.npix * sizeof *tmp);
	if (!rvis || !J.kvis || !tmp) {
		r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
		goto out;
	}

	/* 1. The MFS Cotton–Schwab CLEAN, handing over to the joined one
	 * (floor_jy) before its level reaches the spectral structure of the
	 * brightest source: its deviation across the sub-bands, times the
	 * sidelobes that carry it into the MFS image (at most 1).  Its last
	 * residual image is made from the sub-bands' (split_last) when the last
	 * cycle is known in advance. */
	double kappa = psf_sidelobe(psf, gi.nx, gi.ny, 2 * beam->bmaj_rad / gi.cell_rad,
				    J.nthreads);
	double spec = spectral_deviation(&J, residual);
	clean_params mp = *cp;
	mp.floor_jy = spec * fmin(1, 2 * kappa);
	r = clean_run_vis(g, s, psf, &mp, model, residual, rvis, split_last, &J, &st, err,
			  errlen);
	if (r < 0)
		goto out;
	int handed_over = st.stop && !strcmp(st.stop, "floor"), resume = 0;
	J.rvis = J.final_vis = rvis;

	/* 2. Joined Cotton–Schwab cycles on the joined grid: peak on the MFS
	 * residual after a handover, on q (joined_q) after a finished MFS CLEAN;
	 * each minor cycle down to max(threshold, (1 − major_gain) · peak),
	 * each followed by a true major cycle of every sub-band (the prediction
	 * of its joined components subtracted from its slice of the MFS
	 * residual visibilities).  After a handover, until clean_run's rules
	 * stop them; after a finished MFS CLEAN, at most SUBBAND_JOINED_CYCLES
	 * and only when the sidelobes of what is left in q would stand above
	 * the threshold (judged on the image's own grid, whose sub-band
	 * residuals a finished MFS CLEAN has made anyway). */
	double peak_q = 0, thr_q = 0, sig_q = 0, prev_q;
	int maxj = 0, have_psf = 0;
	q = pool_get(J.pool, J.fine.npix * sizeof *q);
	if (!q) {
		r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
		goto out;
	}
	J.by_q = !handed_over;
	if (!handed_over) {
		t = clk_mono_s();
		if (!J.split) {
			r = subband_residuals(&J, &J.fine, rvis, NULL, NULL, J.fres, residual,
					      NULL, err, errlen);
			if (r < 0)
				goto out;
			J.split = 1;
			st.major_s += clk_mono_s() - t;
		}
		joined_stats(&J, J.fres, J.fine.npix, cp, NULL, residual, q, &peak_q, &thr_q,
			     &sig_q);
		maxj = peak_q * kappa > thr_q ? SUBBAND_JOINED_CYCLES : 0;
	} else {
		maxj = cp->max_major - st.major_cycles;
	}
	if (maxj > 0 && cp->niter > 0) {
		/* The joined grid's sub-band residuals of the MFS model. */
		t = clk_mono_s();
		if (J.f > 1 && (r = coarse_setup(&J, err, errlen)) < 0)
			goto out;
		size_t ns = J.nrows * (size_t)s->nchan;
		if (!(J.jvis = pool_get(J.pool, ns * sizeof *J.jvis))) {
			r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
			goto out;
		}
		memcpy(J.jvis, rvis, ns * sizeof *J.jvis);
		/* The joined models (zero) and the sub-band PSFs: made with the
		 * residuals after a handover, when the joined cycles are sure to
		 * run; else only when a joined cycle does. */
		J.psf = pool_get_zero(J.pool, J.npix * nsub * sizeof *J.psf);
		cx = malloc(J.maxcand * sizeof *cx);
		cy = malloc(J.maxcand * sizeof *cy);
		cm = malloc(J.maxcand * sizeof *cm);
		cv = malloc((size_t)nsub * J.maxcand * sizeof *cv);
		for (int k = 0; k < nsub; k++)
			if (!(J.delta[k] = pool_get_zero(J.pool, J.npix * sizeof *J.delta[k])))
				break;
		if (!J.psf || !cx || !cy || !cm || !cv || !J.delta[nsub - 1]) {
			r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
			goto out;
		}
		if (J.f > 1 || !J.split) {
			r = subband_residuals(&J, &J.coarse, rvis, NULL, NULL, J.res, J.mfs,
					      handed_over ? tmp : NULL, err, errlen);
			if (r < 0)
				goto out;
			J.split = J.f == 1;
			have_psf = handed_over;
		}
		st.major_s += clk_mono_s() - t;
		joined_stats(&J, J.res, J.npix, cp, NULL, J.mfs, q, &peak_q, &thr_q, &sig_q);
	} else {
		maxj = 0;
	}
	mask = masking && maxj > 0 ? pool_get_zero(J.pool, J.npix) : NULL;
	if (masking && maxj > 0 && !mask) {
		r = err_set(err, errlen, -ENOMEM, "subbands: out of memory");
		goto out;
	}
	masking = 0;
	prev_q = peak_q;
	for (int cyc_j = 0; cyc_j < maxj; cyc_j++) {
		double stage_thr = thr_q;
		if (mask && !masking) {
			/* Auto-mask as clean_run: everywhere down to auto_mask · σ,
			 * then only where there are components (the MFS model's
			 * mapped to the joined grid). */
			stage_thr = fmax(thr_q, cp->auto_mask * sig_q);
			if (!handed_over || peak_q <= stage_thr) {
				masking = 1;
				memset(mask, 0, J.npix);
				for (size_t j = 0; j < J.fine.npix; j++)
					if (model[j] != 0) {
						size_t ix = j % J.fine.nx, iy = j / J.fine.nx;
						size_t mx = (ix + J.f / 2) / J.f, my = (iy + J.f / 2) / J.f;
						if (mx < (size_t)J.nx && my < (size_t)J.ny)
							mask[my * J.nx + mx] = 1;
					}
				for (int k = 0; k < nsub && J.delta[k]; k++)
					for (size_t j = 0; j < J.npix; j++)
						if (J.delta[k][j] != 0)
							mask[j] = 1;
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
		if (!have_psf) {
			if ((r = subband_psfs(&J, tmp, err, errlen)) < 0)
				goto out;
			have_psf = 1;
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
		r = subband_residuals(&J, &J.coarse, rvis, J.delta, J.jvis, J.res, J.mfs, NULL,
				      err, errlen);
		if (r < 0)
			goto out;
		J.split = J.f == 1;
		J.final_vis = J.jvis;
		st.major_cycles++;
		st.joined_cycles++;
		st.major_s += clk_mono_s() - t;
		st.peak_jy = clean_peak_masked(J.mfs, J.npix, NULL);
		st.sigma_jy = clean_mad_sigma(J.mfs, J.npix);
		double before = peak_q;
		joined_stats(&J, J.res, J.npix, cp, NULL, J.mfs, q, &peak_q, &thr_q, &sig_q);
		double now_q = masking ? clean_peak_masked(q, J.npix, mask) : peak_q;
		clean_cycle cyc = { .peak_jy = before, .level_jy = level,
				    .components = st.iterations - iter0, .candidates = (int)nc,
				    .peak_after_jy = now_q, .sigma_after_jy = st.sigma_jy,
				    .minor_s = t - t_minor, .major_s = clk_mono_s() - t };
		if (handed_over) {
			if (clean_end_cycle(&st, &cyc, last, &prev_q))
				break;
			/* Back to the MFS CLEAN once a flat-spectrum model is
			 * right again: the spectral deviation left at the peak of
			 * the MFS residual, times the sidelobes that carry it, is
			 * below the next minor cycle's level.  Not with an
			 * auto-mask, whose mask the MFS CLEAN would build from its
			 * own new components alone: the joined cycles go on. */
			double next = fmax(thr_q, (1 - cp->major_gain) * now_q);
			if (!mask && st.major_cycles < cp->max_major &&
			    st.iterations < cp->niter &&
			    joined_deviation(&J) * fmin(1, 2 * kappa) < next) {
				resume = 1;
				break;
			}
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
	if (resume && (r = resume_mfs(&J, psf, cp, model, residual, rvis, &model2, &st, err,
				      errlen)) < 0)
		goto out;
	st.joined_factor = st.joined_cycles ? J.f : 0;

	/* 4. The sub-band residuals at the image's resolution, when the joined
	 * cycles ran on a coarser grid (or none ran after a handover): each
	 * gridded from its slice of the final residual visibilities, whose
	 * predictions the joined cycles computed. */
	if (!J.split) {
		t = clk_mono_s();
		r = subband_residuals(&J, &J.fine, J.final_vis, NULL, NULL, J.fres, residual,
				      NULL, err, errlen);
		if (r < 0)
			goto out;
		J.split = 1;
		st.major_s += clk_mono_s() - t;
		st.peak_jy = clean_peak_masked(residual, J.fine.npix, NULL);
		st.sigma_jy = clean_mad_sigma(residual, J.fine.npix);
	}

	/* Restore each sub-band, model_k = MFS model + its joined components,
	 * with the common beam: the restored MFS model, made once, plus the
	 * restored joined components of the sub-band (a few hundred); then the
	 * MFS model becomes their weighted sum (the MFS residual already is). */
	float *rm = q; /* q (fine-sized) is free now */
	memset(rm, 0, J.fine.npix * sizeof *rm);
	beamfit_restore(rm, model, gi.nx, gi.ny, gi.cell_rad, beam, J.nthreads);
	double mflux = 0;
#pragma omp parallel for num_threads(J.nthreads) reduction(+ : mflux) schedule(static)
	for (size_t j = 0; j < J.fine.npix; j++)
		mflux += model[j];
	for (int k = 0; k < nsub; k++) {
		subband_image *o = &out[k];
		if (!(J.sw[k] > 0)) {
			for (size_t j = 0; j < J.fine.npix; j++)
				o->image[j] = NAN;
			o->model_flux_jy = o->noise_jy = NAN;
			continue;
		}
		o->noise_jy = clean_mad_sigma(o->residual, J.fine.npix);
#pragma omp parallel for num_threads(J.nthreads) schedule(static)
		for (size_t j = 0; j < J.fine.npix; j++)
			o->image[j] = o->residual[j] + rm[j];
		double f = mflux;
		if (st.joined_cycles) {
			memset(tmp, 0, J.fine.npix * sizeof *tmp);
			for (size_t j = 0; j < J.npix; j++)
				if (J.delta[k][j] != 0) {
					tmp[fine_pixel(&J, j)] = J.delta[k][j];
					f += J.delta[k][j];
				}
			beamfit_restore(o->image, tmp, gi.nx, gi.ny, gi.cell_rad, beam, J.nthreads);
		}
		o->model_flux_jy = f;
	}
	if (st.joined_cycles) {
		for (size_t j = 0; j < J.npix; j++) {
			float a = 0;
			for (int k = 0; k < nsub; k++)
				a += J.wk[k] * J.delta[k][j];
			if (a != 0)
				model[fine_pixel(&J, j)] += a;
		}
	}
	st.model_flux_jy = 0;
	for (size_t j = 0; j < J.fine.npix; j++)
		st.model_flux_jy += model[j];
	for (int k = 0; k < nsub; k++) {
		/* Not kept: N more full-size images for a product nobody reads. */
		pool_put(J.pool, out[k].residual);
		out[k].residual = J.fres[k] = NULL;
	}
	st.residual_stale = 0; /* a hand-over's residual has been made since */
	*ret_stats = st;
	r = 0;
out:
	for (int k = 0; k < nsub; k++) {
		pool_put(J.pool, J.wgt[k]);
		pool_put(J.pool, J.delta[k]);
		if (J.f > 1)
			pool_put(J.pool, J.res[k]);
	}
	if (J.f > 1) {
		pool_put(J.pool, J.mfs);
		grid_plan_free(J.coarse.g);
	}
	pool_put(J.pool, J.jvis);
	pool_put(J.pool, model2);
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
