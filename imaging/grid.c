/*
 * imaging/grid.c — exponential-of-semicircle gridding with w-stacking.
 * See grid.h for the operators, conventions and references.
 */
#include "imaging/grid.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fftw3.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/fsx.h"
#include "core/simd.h"
#include "core/vis.h"
#include "imaging/proj.h"

#define TILE 16        /* tile side in grid cells (spreading buffers, sort key) */
#define KERN_OS 1024   /* kernel table samples per cell (linear interpolation) */
#define COLB 8         /* columns transposed and transformed together */
#define LDPAD 16       /* row padding: a power-of-two row stride thrashes the cache */
#define GL_N 128       /* Gauss-Legendre nodes for the kernel's Fourier transform */
#define LAG_MAX 8      /* most planes of the Lagrange w-treatment */
#define CONJ (1u << 31) /* idx[] bit: the sample enters the transforms conjugated (sample_geom) */

/* FFTW's planner is not thread-safe; every plan creation and destruction in
 * the process goes through this mutex (other modules planning FFTW float
 * transforms should use grid_fftw_lock/unlock too). */
static pthread_mutex_t fftw_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fftw_once = PTHREAD_ONCE_INIT;

/* Our plans are single-threaded (OpenMP runs many 1-D transforms at once),
 * but another module may have raised FFTW's global thread count: set it
 * explicitly, which needs the threads library initialised. */
static void fftw_threads_init(void)
{
	fftwf_init_threads();
}

/* A selected sample's place on the grid, computed once per data set:
 * support corner (iu, iv), the fractions fu, fv ∈ [0, 1) that place the
 * kernel (the first tap is fu cells right of the support's left edge), and
 * in w the same for ES (first plane iw, fraction fw) or, for Lagrange, w' in
 * plane units as iw + fw.  Integer + fraction keeps the float fractions
 * accurate to ~1e-7 of a cell or plane. */
struct sgeo {
	uint16_t iu, iv, iw;
	float fu, fv, fw;
};

struct grid_plan {
	grid_params p;
	img_proj proj;         /* the image geometry, for n − 1 of each pixel */
	int nthreads;
	int nu, nv, W;
	int ld;                /* grid row stride (nu + LDPAD) */
	double beta;
	float *ktab;           /* [W*KERN_OS + 2] kernel samples */
	int kwp;               /* W rounded up to 8 or 16: the taps of the SIMD loops */
	float *ktabt;          /* [(KERN_OS+1)*kwp]: the kwp taps (zero beyond W) at each
				  table offset, contiguous */
	double gl_x[GL_N], gl_w[GL_N];
	float *corr_x, *corr_y; /* [nx], [ny] 1/ψ̂ of the uv kernel */
	fftwf_complex *grid;   /* [nv*ld] */
	fftwf_complex *colbuf; /* [nthreads*COLB*nv] transposed column batches */
	fftwf_plan row_b, row_f, col_b, col_f;
	omp_lock_t *locks;
	int nstripes;

	/* per data set */
	int have_data;
	grid_uvdata d;
	double inv_nchan;
	uint32_t *idx;         /* [nsel] sample indices sorted by (iw0, tile), | CONJ */
	struct sgeo *geo;      /* [nsel] their grid geometry, same order */
	float complex *svis;   /* [nsel] weighted samples in sorted order (gridding) or
				  predictions being accumulated (degridding) */
	size_t nsel, ndropped;
	size_t *pstart;        /* [niw0 + 1] first sorted sample with iw0 == i */
	int niw0;
	int wst;               /* w-term corrected for this data */
	int wk;                /* GRID_W_ES or GRID_W_LAGRANGE when wst */
	int nplanes;
	double w0, dw;
	double wmax;           /* largest |w'| (wavelengths) */
	double lag_inv[LAG_MAX]; /* 1 / Π_{q≠p} (p − q) of the Lagrange weights */
	int v_lo, v_hi;        /* occupied grid rows */
	/* Per-pixel tables, COLUMN-major ([ix][iy]), the order of the column
	 * pass that applies the w-screens on the fly (fft_cols_*). */
	double *nm1;           /* [nx*ny] n − 1 of each pixel (wst) */
	float *wcorr;          /* [nx*ny] 1/ψ̂ of the w kernel (GRID_W_ES) */
	float *scratch;        /* [nx*ny] the image being accumulated / predicted, column-major */

	double grid_s, fft_s, screen_s, index_s;
	int ndegrid_dft; /* sparse-model predictions done by the direct sum */
};

void grid_params_default(grid_params *p)
{
	memset(p, 0, sizeof *p);
	p->nx = p->ny = 4096;
	p->cell_rad = 3.0 / 206264.80624709636;
	p->epsilon = 1e-4;
	p->sigma = 2.0;
	p->wstacking = 1;
	p->wkernel = GRID_W_AUTO;
	p->nthreads = 0;
}

int grid_good_size(int n)
{
	if (n < 16)
		n = 16;
	for (int m = (n + 7) / 8 * 8;; m += 8) {
		int r = m;
		while (r % 2 == 0)
			r /= 2;
		while (r % 3 == 0)
			r /= 3;
		while (r % 5 == 0)
			r /= 5;
		while (r % 7 == 0)
			r /= 7;
		if (r == 1)
			return m;
	}
}

/* Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_n). */
static void gauss_legendre(int n, double *x, double *w)
{
	for (int i = 0; i < (n + 1) / 2; i++) {
		double z = cos(M_PI * (i + 0.75) / (n + 0.5)), pp = 1, z1;
		do {
			double p1 = 1, p2 = 0, p3;
			for (int j = 1; j <= n; j++) {
				p3 = p2;
				p2 = p1;
				p1 = ((2.0 * j - 1) * z * p2 - (j - 1.0) * p3) / j;
			}
			pp = n * (z * p1 - p2) / (z * z - 1);
			z1 = z;
			z = z1 - p1 / pp;
		} while (fabs(z - z1) > 1e-15);
		x[i] = -z;
		x[n - 1 - i] = z;
		w[i] = w[n - 1 - i] = 2 / ((1 - z * z) * pp * pp);
	}
}

static double es_kernel(double z, double beta)
{
	double s = 1 - z * z;
	return s <= 0 ? 0 : exp(beta * (sqrt(s) - 1));
}

/* Fourier transform of the kernel in cell units, ψ̂(t) = ∫ φ(2x/W) e^{2πixt} dx
 * (Barnett et al. 2019 §3: no closed form; quadrature of the even integrand). */
static double kernel_ft(const grid_plan *g, double t)
{
	double s = 0;
	for (int i = 0; i < GL_N; i++)
		s += g->gl_w[i] * es_kernel(g->gl_x[i], g->beta) * cos(M_PI * g->W * g->gl_x[i] * t);
	return 0.5 * g->W * s;
}

void grid_plan_free(grid_plan *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&fftw_mutex);
	if (g->row_b)
		fftwf_destroy_plan(g->row_b);
	if (g->row_f)
		fftwf_destroy_plan(g->row_f);
	if (g->col_b)
		fftwf_destroy_plan(g->col_b);
	if (g->col_f)
		fftwf_destroy_plan(g->col_f);
	pthread_mutex_unlock(&fftw_mutex);
	if (g->locks) {
		for (int i = 0; i < g->nstripes; i++)
			omp_destroy_lock(&g->locks[i]);
		free(g->locks);
	}
	mem_pool *pool = g->p.pool;
	pool_put(pool, g->grid);
	pool_put(pool, g->colbuf);
	free(g->ktab);
	free(g->ktabt);
	pool_put(pool, g->geo);
	pool_put(pool, g->svis);
	free(g->corr_x);
	free(g->corr_y);
	pool_put(pool, g->idx);
	free(g->pstart);
	pool_put(pool, g->wcorr);
	pool_put(pool, g->nm1);
	pool_put(pool, g->scratch);
	free(g);
}

int grid_plan_new(const grid_params *p, grid_plan **ret, char *err, size_t errlen)
{
	grid_plan *g = NULL;
	int r = 0;
	size_t npix;

	if (p->nx < 16 || p->ny < 16 || p->nx % 2 || p->ny % 2 || !(p->cell_rad > 0) ||
	    !(p->epsilon > 1e-7 && p->epsilon < 0.1) || !(p->sigma >= 1.2 && p->sigma <= 3.0) ||
	    !isfinite(p->xi) || !isfinite(p->eta) || p->wkernel < GRID_W_AUTO ||
	    p->wkernel > GRID_W_LAGRANGE)
		return err_set(err, errlen, -EINVAL,
			       "grid: bad parameters (size %dx%d must be even >= 16, cell %g rad, "
			       "epsilon %g in (1e-7, 0.1), sigma %g in [1.2, 3], slant (%g, %g), "
			       "wkernel %d)",
			       p->nx, p->ny, p->cell_rad, p->epsilon, p->sigma, p->xi, p->eta,
			       p->wkernel);
	g = calloc(1, sizeof *g);
	if (!g)
		return err_set(err, errlen, -ENOMEM, "grid: out of memory");
	g->p = *p;
	g->proj = (img_proj){ p->nx, p->ny, p->cell_rad, 0, 0, p->xi, p->eta };
	/* Every pixel must have a direction: 1 − n is largest on the border. */
	for (int i = 0; i < 2 * (p->nx + p->ny); i++) {
		int ix = i < 2 * p->nx ? i % p->nx : (i & 1) * (p->nx - 1);
		int iy = i < 2 * p->nx ? (i / p->nx) * (p->ny - 1) : (i - 2 * p->nx) / 2;
		if (proj_one_minus_n(&g->proj, -(ix - p->nx / 2) * p->cell_rad,
				     (iy - p->ny / 2) * p->cell_rad) < 0) {
			free(g);
			return err_set(err, errlen, -EINVAL,
				       "grid: %dx%d pixels of %g rad reach beyond the sky of the "
				       "slant (%g, %g) projection", p->nx, p->ny, p->cell_rad,
				       p->xi, p->eta);
		}
	}
	g->nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
	g->nu = grid_good_size((int)ceil(p->sigma * p->nx));
	g->nv = grid_good_size((int)ceil(p->sigma * p->ny));
	if (g->nu > UINT16_MAX || g->nv > UINT16_MAX) {
		r = err_set(err, errlen, -EINVAL,
			    "grid: a %dx%d grid (image %dx%d, sigma %g) exceeds 65535 cells a side",
			    g->nu, g->nv, p->nx, p->ny, p->sigma);
		goto out;
	}
	/* Support from the ES error estimate ε ≈ exp(−πW√(1 − 1/σ)) (Barnett et
	 * al. 2019, eq. 4.4 and §4.1) plus 0.85 cell, because three kernels (u, v,
	 * w) and the table interpolation add their errors: measured against the
	 * DFT in tests/imaging/test_grid.c (σ = 2: W = 5 gives 9.6e-5 at ε = 1e-4,
	 * W = 7 gives 1.5e-6 at 1e-5, W = 8 gives 8.8e-7 at 1e-6).  β from their eq. 4.2
	 * with the 0.97 safety factor of FINUFFT. */
	g->W = (int)ceil(log(1 / p->epsilon) / (M_PI * sqrt(1 - 1 / p->sigma)) + 0.85);
	if (g->W < 4)
		g->W = 4;
	if (g->W > TILE)
		g->W = TILE;
	g->beta = 0.97 * M_PI * (1 - 1 / (2 * p->sigma)) * g->W;
	gauss_legendre(GL_N, g->gl_x, g->gl_w);

	g->ktab = malloc((size_t)(g->W * KERN_OS + 2) * sizeof *g->ktab);
	g->kwp = g->W <= 8 ? 8 : 16;
	g->ktabt = malloc((size_t)(KERN_OS + 1) * g->kwp * sizeof *g->ktabt);
	g->corr_x = malloc(p->nx * sizeof *g->corr_x);
	g->corr_y = malloc(p->ny * sizeof *g->corr_y);
	g->ld = g->nu + LDPAD;
	/* 64-byte aligned (pool.h), as FFTW's SIMD codelets want. */
	g->grid = pool_get(p->pool, (size_t)g->ld * g->nv * sizeof *g->grid);
	g->colbuf = pool_get(p->pool, (size_t)g->nthreads * COLB * g->nv * sizeof *g->colbuf);
	g->nstripes = g->nv / TILE + 2;
	g->locks = malloc(g->nstripes * sizeof *g->locks);
	npix = (size_t)p->nx * p->ny;
	g->scratch = pool_get(p->pool, npix * sizeof *g->scratch);
	if (!g->ktab || !g->ktabt || !g->corr_x || !g->corr_y || !g->grid || !g->colbuf || !g->locks ||
	    !g->scratch) {
		r = err_set(err, errlen, -ENOMEM, "grid: out of memory for a %dx%d grid", g->nu,
			    g->nv);
		free(g->locks);
		g->locks = NULL;
		goto out;
	}
	for (int i = 0; i < g->nstripes; i++)
		omp_init_lock(&g->locks[i]);
	for (int k = 0; k <= g->W * KERN_OS + 1; k++) {
		double x = (double)k / KERN_OS - 0.5 * g->W;
		g->ktab[k] = (float)es_kernel(2 * x / g->W, g->beta);
	}
	for (int k = 0; k <= KERN_OS; k++)
		for (int j = 0; j < g->kwp; j++)
			g->ktabt[k * g->kwp + j] =
				j < g->W ? g->ktab[j * KERN_OS + k] : 0.0f;
	for (int i = 0; i < p->nx; i++)
		g->corr_x[i] = (float)(1 / kernel_ft(g, (double)(i - p->nx / 2) / g->nu));
	for (int i = 0; i < p->ny; i++)
		g->corr_y[i] = (float)(1 / kernel_ft(g, (double)(i - p->ny / 2) / g->nv));

	/* FFTW_MEASURE: 1.6–2.5× faster 1-D transforms than FFTW_ESTIMATE for
	 * these sizes (docs/imaging.md); planning overwrites the arrays (zeroed
	 * below) and costs < 1 s once per size and process (FFTW keeps the
	 * wisdom).  The planner is not thread-safe: one mutex for the process. */
	pthread_once(&fftw_once, fftw_threads_init);
	pthread_mutex_lock(&fftw_mutex);
	fftwf_plan_with_nthreads(1);
	g->row_b = fftwf_plan_many_dft(1, &g->nu, 1, g->grid, NULL, 1, g->ld, g->grid, NULL, 1,
				       g->ld, FFTW_BACKWARD, FFTW_MEASURE);
	g->row_f = fftwf_plan_many_dft(1, &g->nu, 1, g->grid, NULL, 1, g->ld, g->grid, NULL, 1,
				       g->ld, FFTW_FORWARD, FFTW_MEASURE);
	g->col_b = fftwf_plan_many_dft(1, &g->nv, 1, g->colbuf, NULL, 1, g->nv, g->colbuf, NULL,
				       1, g->nv, FFTW_BACKWARD, FFTW_MEASURE);
	g->col_f = fftwf_plan_many_dft(1, &g->nv, 1, g->colbuf, NULL, 1, g->nv, g->colbuf, NULL,
				       1, g->nv, FFTW_FORWARD, FFTW_MEASURE);
	pthread_mutex_unlock(&fftw_mutex);
	if (!g->row_b || !g->row_f || !g->col_b || !g->col_f) {
		r = err_set(err, errlen, -ENOMEM, "grid: FFTW planning failed for %dx%d", g->nu,
			    g->nv);
		goto out;
	}
	memset(g->grid, 0, (size_t)g->ld * g->nv * sizeof *g->grid);
out:
	if (r < 0) {
		grid_plan_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

/* Geometry of sample k in grid units: U, V (cells, grid centre at nu/2, nv/2),
 * Wt (w-plane units) and whether the sample enters the transforms conjugated.
 *
 * The transforms below (spreading, FFTW's signs, the w-screens, the
 * corrections) compute Re Σ y · e^{+2πi (u l + v m + w' (n − 1))} of the
 * (u, v, w') they are handed, while a vis.h sample (uvw, V) goes as
 * e^{+2πi ...} and so must be imaged with e^{−2πi ...} (grid.h).  The dirty
 * image is real, so (uvw, V) may enter as (−uvw, V) or as (uvw, V*), the same
 * measurement; we take whichever puts the transforms' w' at >= 0, so that only
 * half the w range needs planes.  The degridder undoes the same choice. */
static inline void sample_geom(const grid_plan *g, size_t k, double *U, double *V, double *Wt,
			       int *conj)
{
	/* k / nchan without an integer division (it dominated the per-sample cost). */
	size_t nc = (size_t)g->d.nchan, row = (size_t)((double)k * g->inv_nchan);
	if (row * nc > k)
		row--;
	else if ((row + 1) * nc <= k)
		row++;
	int c = (int)(k - row * nc);
	const double *uvw = g->d.uvw_m + 3 * row;
	double s = -g->d.freq_hz[c] / VIS_C_M_S; /* (−uvw, V) in wavelengths */
	double w = uvw[2] + g->p.xi * uvw[0] + g->p.eta * uvw[1]; /* w' (grid.h) */
	*conj = 0;
	if (g->wst && w > 0) { /* −w' < 0: enter as (uvw, V*) instead */
		s = -s;
		*conj = 1;
	}
	/* The x axis of the image runs towards −l (see grid.h). */
	*U = -uvw[0] * s * g->nu * g->p.cell_rad + 0.5 * g->nu;
	*V = uvw[1] * s * g->nv * g->p.cell_rad + 0.5 * g->nv;
	*Wt = g->wst ? (w * s - g->w0) / g->dw : 0;
}

/* n − 1 of pixel (ix, iy) in the image's projection (checked to exist in
 * grid_plan_new), computed without cancellation. */
static inline double pixel_nm1(const grid_plan *g, int ix, int iy)
{
	return -proj_one_minus_n(&g->proj, -(ix - g->p.nx / 2) * g->p.cell_rad,
				 (iy - g->p.ny / 2) * g->p.cell_rad);
}

/* Largest |n − 1| of the image: on its border (1 − n grows outwards). */
static double max_nm1(const grid_plan *g)
{
	double mx = 0;
	for (int ix = 0; ix < g->p.nx; ix++)
		mx = fmax(mx, fmax(-pixel_nm1(g, ix, 0), -pixel_nm1(g, ix, g->p.ny - 1)));
	for (int iy = 0; iy < g->p.ny; iy++)
		mx = fmax(mx, fmax(-pixel_nm1(g, 0, iy), -pixel_nm1(g, g->p.nx - 1, iy)));
	return mx;
}

/* Bound on |exp(i c w) − Σ_p L_p(w) exp(i c w_p)| over the range for P
 * equally spaced nodes h apart: max |Π_q (s − q)| · (c h)^P / P! (the
 * interpolation remainder), the product sampled finely over [0, P − 1]. */
static double lagrange_bound(int P, double ch)
{
	double pmax = 0, f = 1;
	if (P == 1)
		return 0.5 * ch; /* one plane in the middle: |e^{iφ} − 1| <= φ */
	for (int i = 0; i <= 64 * (P - 1); i++) {
		double s = i / 64.0, pr = 1;
		for (int q = 0; q < P; q++)
			pr *= s - q;
		pmax = fmax(pmax, fabs(pr));
	}
	for (int k = 2; k <= P; k++)
		f *= k;
	return pmax * pow(ch, P) / f;
}

int grid_plan_set_data(grid_plan *g, const grid_uvdata *d, char *err, size_t errlen)
{
	const grid_params *p = &g->p;
	size_t ns = d->nrows * (size_t)d->nchan, npix = (size_t)p->nx * p->ny;
	uint32_t *key = NULL, *cnt = NULL;
	double t0 = clk_mono_s();
	double wmin = INFINITY, wmax = -INFINITY;
	int vmin = INT32_MAX, vmax = INT32_MIN;
	size_t nkeys, nsel = 0, ndrop = 0;
	int ntu = g->nu / TILE + 1, ntv = g->nv / TILE + 1, W = g->W;
	int r = 0;

	if (ns >= CONJ)
		return err_set(err, errlen, -EINVAL, "grid: %zu samples exceed 2^31", ns);
	g->have_data = 0;
	pool_put(p->pool, g->idx);
	free(g->pstart);
	pool_put(p->pool, g->geo);
	pool_put(p->pool, g->svis);
	g->idx = NULL;
	g->pstart = NULL;
	g->geo = NULL;
	g->svis = NULL;
	g->d = *d;
	g->inv_nchan = 1.0 / d->nchan;
	g->wst = 0;

	/* The transforms' w' range over the selected samples (|w'|: sample_geom). */
#pragma omp parallel for num_threads(g->nthreads) reduction(min : wmin) reduction(max : wmax)
	for (size_t row = 0; row < d->nrows; row++) {
		const double *uvw = d->uvw_m + 3 * row;
		double w = fabs(uvw[2] + p->xi * uvw[0] + p->eta * uvw[1]);
		for (int c = 0; c < d->nchan; c++) {
			if (!(d->weight[row * d->nchan + c] > 0))
				continue;
			double wl = w * d->freq_hz[c] / VIS_C_M_S;
			if (wl < wmin)
				wmin = wl;
			if (wl > wmax)
				wmax = wl;
		}
	}
	if (!(wmin <= wmax))
		wmin = wmax = 0;
	g->nplanes = 1;
	g->w0 = 0;
	g->dw = 1;
	g->wk = 0;
	g->wmax = wmax;
	if (p->wstacking) {
		/* ES: Arras et al. 2021 §3.2, plane spacing from the largest |n − 1|
		 * of the image so that the w kernel's transform is used only inside
		 * its accurate band |Δw (n − 1)| <= 1/(2σ).  Lagrange: the fewest
		 * equally spaced planes over [wmin, wmax] whose interpolation error
		 * stays below ε/2.  Cost model (measured, docs/imaging.md): a
		 * plane's FFTs and screens cost about 2 kernel taps per grid cell,
		 * and each sample costs W² taps on each plane it touches. */
		double nm1max = max_nm1(g), c = 2 * M_PI * nm1max, R = wmax - wmin;
		double dw_es = 1 / (2 * p->sigma * nm1max);
		int np_es = (int)ceil(R / dw_es) + W + 1, np_l = 0;
		for (int P = 1; P <= LAG_MAX && !np_l; P++)
			if (lagrange_bound(P, P > 1 ? c * R / (P - 1) : c * R) <= 0.5 * p->epsilon)
				np_l = P;
		double cell_cost = 2.0 * g->nu * g->nv, samp_cost = (double)W * W * ns;
		double cost_es = np_es * cell_cost + W * samp_cost;
		double cost_l = np_l ? np_l * (cell_cost + samp_cost) : INFINITY;
		g->wst = 1;
		g->wk = p->wkernel != GRID_W_AUTO ? p->wkernel
						   : cost_l < cost_es ? GRID_W_LAGRANGE : GRID_W_ES;
		if (g->wk == GRID_W_LAGRANGE && !np_l) {
			r = err_set(err, errlen, -EINVAL,
				    "grid: the w range %.0f wavelengths needs more than %d Lagrange "
				    "planes at epsilon %g", R, LAG_MAX, p->epsilon);
			goto out;
		}
		if (g->wk == GRID_W_ES) {
			g->dw = dw_es;
			g->w0 = wmin - 0.5 * W * g->dw;
			g->nplanes = np_es;
		} else {
			g->nplanes = np_l;
			g->w0 = np_l > 1 ? wmin : 0.5 * (wmin + wmax);
			g->dw = np_l > 1 && R > 0 ? R / (np_l - 1) : 1;
			for (int pl = 0; pl < np_l; pl++) {
				double den = 1;
				for (int q = 0; q < np_l; q++)
					if (q != pl)
						den *= pl - q;
				g->lag_inv[pl] = 1 / den;
			}
		}
	}
	/* Sort buckets: the first w-plane a sample touches (ES); one bucket
	 * otherwise, every sample touching every plane. */
	g->niw0 = g->wk == GRID_W_ES ? g->nplanes - W + 1 : 1;
	nkeys = (size_t)g->niw0 * ntv * ntu;

	key = pool_get(p->pool, ns * sizeof *key);
	cnt = calloc(nkeys + 1, sizeof *cnt);
	g->pstart = malloc((g->niw0 + 1) * sizeof *g->pstart);
	if (!key || !cnt || !g->pstart) {
		r = err_set(err, errlen, -ENOMEM, "grid: out of memory sorting %zu samples", ns);
		goto out;
	}
#pragma omp parallel for num_threads(g->nthreads) reduction(+ : nsel, ndrop) \
	reduction(min : vmin) reduction(max : vmax) schedule(static)
	for (size_t k = 0; k < ns; k++) {
		double U, V, Wt;
		int conj, iu, iv, iw = 0;
		key[k] = UINT32_MAX;
		if (!(d->weight[k] > 0))
			continue;
		sample_geom(g, k, &U, &V, &Wt, &conj);
		iu = (int)ceil(U - 0.5 * W);
		iv = (int)ceil(V - 0.5 * W);
		if (g->wk == GRID_W_ES)
			iw = (int)ceil(Wt - 0.5 * W);
		if (iu < 1 || iv < 1 || iu + W >= g->nu - 1 || iv + W >= g->nv - 1 || iw < 0 ||
		    iw >= g->niw0) {
			ndrop++;
			continue;
		}
		key[k] = (uint32_t)(((size_t)iw * ntv + iv / TILE) * ntu + iu / TILE);
		nsel++;
		if (iv < vmin)
			vmin = iv;
		if (iv + W > vmax)
			vmax = iv + W;
	}
	/* Counting sort by key (serial: two passes over a uint32 array). */
	for (size_t k = 0; k < ns; k++)
		if (key[k] != UINT32_MAX)
			cnt[key[k] + 1]++;
	for (size_t i = 0; i < nkeys; i++)
		cnt[i + 1] += cnt[i];
	for (int i = 0; i <= g->niw0; i++)
		g->pstart[i] = cnt[(size_t)i * ntv * ntu];
	g->idx = pool_get(p->pool, (nsel ? nsel : 1) * sizeof *g->idx);
	g->geo = pool_get(p->pool, (nsel ? nsel : 1) * sizeof *g->geo);
	g->svis = pool_get(p->pool, (nsel ? nsel : 1) * sizeof *g->svis);
	if (!g->idx || !g->geo || !g->svis) {
		r = err_set(err, errlen, -ENOMEM, "grid: out of memory sorting %zu samples", ns);
		goto out;
	}
	for (size_t k = 0; k < ns; k++)
		if (key[k] != UINT32_MAX)
			g->idx[cnt[key[k]]++] = (uint32_t)k;
	/* The geometry of every sorted sample, so that the per-plane loops read
	 * it sequentially instead of recomputing it from uvw and frequency. */
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (size_t i = 0; i < nsel; i++) {
		double U, V, Wt;
		int conj;
		sample_geom(g, g->idx[i], &U, &V, &Wt, &conj);
		int iu = (int)ceil(U - 0.5 * W), iv = (int)ceil(V - 0.5 * W);
		int iw = g->wk == GRID_W_ES ? (int)ceil(Wt - 0.5 * W) : (int)floor(Wt);
		double fw = g->wk == GRID_W_ES ? iw - (Wt - 0.5 * W) : Wt - iw;
		/* Without a w-term, or with one Lagrange plane (weight 1), w is not
		 * used; Lagrange's w' is otherwise in [0, nplanes − 1] up to rounding. */
		if (!g->wst || g->nplanes == 1 || iw < 0)
			iw = 0, fw = 0;
		g->geo[i] = (struct sgeo){ (uint16_t)iu, (uint16_t)iv, (uint16_t)iw,
					   (float)(iu - (U - 0.5 * W)), (float)(iv - (V - 0.5 * W)),
					   (float)fw };
		if (conj)
			g->idx[i] |= CONJ;
	}
	g->nsel = nsel;
	g->ndropped = ndrop;
	g->v_lo = nsel ? (vmin / TILE) * TILE : g->nv / 2;
	g->v_hi = nsel ? vmax / TILE * TILE + 2 * TILE : g->nv / 2;
	if (g->v_hi > g->nv)
		g->v_hi = g->nv;

	if (g->wst) {
		/* n − 1 of every pixel (the w-screens e^{2πi w (n−1)} are computed
		 * from it on the fly) and (ES) the w kernel's correction from a
		 * table of ψ̂ over |Δw (n−1)|; column-major. */
		enum { NT = 4096 };
		double tab[NT + 2], tmax = 1 / (2 * p->sigma) * 1.0001;
		if (!g->nm1)
			g->nm1 = pool_get(p->pool, npix * sizeof *g->nm1);
		if (g->wk == GRID_W_ES && !g->wcorr)
			g->wcorr = pool_get(p->pool, npix * sizeof *g->wcorr);
		if (!g->nm1 || (g->wk == GRID_W_ES && !g->wcorr)) {
			r = err_set(err, errlen, -ENOMEM, "grid: out of memory (w-screens)");
			goto out;
		}
		for (int i = 0; i <= NT + 1 && g->wk == GRID_W_ES; i++)
			tab[i] = kernel_ft(g, tmax * i / NT);
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
		for (int ix = 0; ix < p->nx; ix++) {
			for (int iy = 0; iy < p->ny; iy++) {
				size_t j = (size_t)ix * p->ny + iy;
				double nm1 = pixel_nm1(g, ix, iy);
				g->nm1[j] = nm1;
				if (g->wk == GRID_W_ES) {
					double t = fabs(g->dw * nm1) / tmax * NT;
					int it = (int)t;
					if (it >= NT)
						it = NT - 1;
					double ft = tab[it] + (t - it) * (tab[it + 1] - tab[it]);
					g->wcorr[j] = (float)(1 / ft);
				}
			}
		}
	}
	g->have_data = 1;
out:
	pool_put(p->pool, key);
	free(cnt);
	g->index_s += clk_mono_s() - t0;
	return r;
}

static void fft_rows(grid_plan *g, int dir)
{
	fftwf_plan pl = dir < 0 ? g->row_f : g->row_b;
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int v = g->v_lo; v < g->v_hi; v++) {
		fftwf_complex *row = g->grid + (size_t)v * g->ld;
		fftwf_execute_dft(pl, row, row);
	}
}

/* cos and sin of 2π·x for |x| <= 0.5 turn: fold to a quarter turn, then
 * Taylor polynomials to degree 12/11, whose truncation error (< 6e-8) is
 * below float rounding.  Plain arithmetic with selects, so that the screen
 * loops below vectorise. */
static inline __attribute__((always_inline)) void cossin_turn(float x, float *ret_c,
							      float *ret_s)
{
	float a = fabsf(x);
	int far = a > 0.25f;
	float t = far ? 0.5f - a : a;        /* cos(2π(½ − a)) = −cos 2πa, sin the same */
	float th = (float)(2 * M_PI) * t, h = th * th;
	float sn = th * (1 + h * (-1.f / 6 + h * (1.f / 120 + h * (-1.f / 5040 +
		   h * (1.f / 362880 + h * (-1.f / 39916800))))));
	float cs = 1 + h * (-0.5f + h * (1.f / 24 + h * (-1.f / 720 + h * (1.f / 40320 +
		   h * (-1.f / 3628800 + h * (1.f / 479001600))))));
	*ret_c = far ? -cs : cs;
	*ret_s = x < 0 ? -sn : sn;
}

/* The screen phase of pixel run element i, in turns, reduced to [−½, ½]:
 * w·(n − 1) plus half a turn on odd pixels (the checkerboard that centres the
 * FFT on the phase centre). */
static inline __attribute__((always_inline)) float screen_turns(double wp, const double *nm1,
								int i, int parity)
{
	double x = (nm1 ? wp * nm1[i] : 0) + 0.5 * ((parity + i) & 1);
	return (float)(x - rint(x));
}

/* img[i] += Re(col[i] · e^{2πi φ_i}) over one run of an image column. */
SIMD_CLONES static void
screen_acc(const fftwf_complex *col, const double *nm1, float *img, int n, double wp,
	   int parity)
{
	for (int i = 0; i < n; i++) {
		float c, s;
		cossin_turn(screen_turns(wp, nm1, i, parity), &c, &s);
		img[i] += crealf(col[i]) * c - cimagf(col[i]) * s;
	}
}

/* col[i] = x[i] · e^{−2πi φ_i} over one run of an image column. */
SIMD_CLONES static void
screen_put(fftwf_complex *col, const double *nm1, const float *x, int n, double wp, int parity)
{
	for (int i = 0; i < n; i++) {
		float c, s;
		cossin_turn(screen_turns(wp, nm1, i, parity), &c, &s);
		col[i] = x[i] * c - I * (x[i] * s);
	}
}

/* The nc grid columns of the column batch starting at image column j0
 * (image columns [0, nx/2) are grid columns [nu − nx/2, nu), [nx/2, nx) are
 * [0, nx/2)), and the matching image column of each. */
static int col_batch(const grid_plan *g, int j0, int *cols, int *ixs)
{
	int nx = g->p.nx, nx2 = nx / 2, nc = nx - j0 < COLB ? nx - j0 : COLB;
	for (int j = 0; j < nc; j++) {
		int ix = j0 + j;
		ixs[j] = ix;
		cols[j] = ix < nx2 ? g->nu - nx2 + ix : ix - nx2;
	}
	return nc;
}

/* Gridding direction, w-plane at wp: each image column of the row-
 * transformed grid is transformed along v and its image rows are screened
 * and added straight into the column-major image acc, so the grid's image
 * region is never written back (only the occupied rows are ever non-zero).
 * Image row iy is grid row iy − ny/2 (mod nv): two contiguous runs. */
static void fft_cols_dirty(grid_plan *g, double wp, float *acc)
{
	const int nx = g->p.nx, ny = g->p.ny, ny2 = ny / 2, nv = g->nv;
	const int nb = (nx + COLB - 1) / COLB, off = nx / 2 + ny / 2;
#pragma omp parallel num_threads(g->nthreads)
	{
		fftwf_complex *buf = g->colbuf + (size_t)omp_get_thread_num() * COLB * nv;
#pragma omp for schedule(dynamic, 2)
		for (int bi = 0; bi < nb; bi++) {
			int cols[COLB], ixs[COLB], nc = col_batch(g, bi * COLB, cols, ixs);
			memset(buf, 0, (size_t)nc * nv * sizeof *buf);
			for (int v = g->v_lo; v < g->v_hi; v++) {
				const fftwf_complex *row = g->grid + (size_t)v * g->ld;
				for (int j = 0; j < nc; j++) {
					buf[(size_t)j * nv + v] = row[cols[j]];
				}
			}
			for (int j = 0; j < nc; j++) {
				fftwf_complex *b = buf + (size_t)j * nv;
				size_t c0 = (size_t)ixs[j] * ny;
				const double *nm1 = g->wst ? g->nm1 + c0 : NULL;
				fftwf_execute_dft(g->col_b, b, b);
				/* iy in [0, ny/2): v = nv − ny/2 + iy; iy in [ny/2, ny): v = iy − ny/2. */
				screen_acc(b + nv - ny2, nm1, acc + c0, ny2, wp, (ixs[j] + off) & 1);
				screen_acc(b, nm1 ? nm1 + ny2 : NULL, acc + c0 + ny2, ny - ny2, wp,
					   (ixs[j] + ny2 + off) & 1);
			}
		}
	}
}

/* Degridding direction, the adjoint: each image column of the (corrected,
 * column-major) model is screened with the conjugate phase, transformed
 * along v, and only its occupied rows are written into the grid for the
 * row transforms (whose other columns must be zero: zero_rows). */
static void fft_cols_degrid(grid_plan *g, double wp, const float *x)
{
	const int nx = g->p.nx, ny = g->p.ny, ny2 = ny / 2, nv = g->nv;
	const int nb = (nx + COLB - 1) / COLB, off = nx / 2 + ny / 2;
#pragma omp parallel num_threads(g->nthreads)
	{
		fftwf_complex *buf = g->colbuf + (size_t)omp_get_thread_num() * COLB * nv;
#pragma omp for schedule(dynamic, 2)
		for (int bi = 0; bi < nb; bi++) {
			int cols[COLB], ixs[COLB], nc = col_batch(g, bi * COLB, cols, ixs);
			for (int j = 0; j < nc; j++) {
				fftwf_complex *b = buf + (size_t)j * nv;
				size_t c0 = (size_t)ixs[j] * ny;
				const double *nm1 = g->wst ? g->nm1 + c0 : NULL;
				memset(b + ny - ny2, 0, (size_t)(nv - ny) * sizeof *b);
				screen_put(b + nv - ny2, nm1, x + c0, ny2, wp, (ixs[j] + off) & 1);
				screen_put(b, nm1 ? nm1 + ny2 : NULL, x + c0 + ny2, ny - ny2, wp,
					   (ixs[j] + ny2 + off) & 1);
				fftwf_execute_dft(g->col_f, b, b);
			}
			for (int v = g->v_lo; v < g->v_hi; v++) {
				fftwf_complex *row = g->grid + (size_t)v * g->ld;
				for (int j = 0; j < nc; j++) {
					row[cols[j]] = buf[(size_t)j * nv + v];
				}
			}
		}
	}
}

/* Zero the occupied rows, the only part of the grid a plane writes (the
 * spread, the row transforms, and the degridding column pass). */
static void zero_rows(grid_plan *g)
{
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int v = g->v_lo; v < g->v_hi; v++)
		memset(g->grid + (size_t)v * g->ld, 0, g->nu * sizeof *g->grid);
}

/* GCC vector types for the tap loops: 16 floats = 8 complex taps, lowered
 * to whatever the clone's ISA has (one AVX-512 register, two AVX2 ones, ...).
 * The unaligned variant reads and writes grid and buffer rows. */
typedef float v8sf __attribute__((vector_size(32)));
typedef float v16sf __attribute__((vector_size(64)));
typedef float v16sf_u __attribute__((vector_size(64), aligned(4), may_alias));

/* The taps kb·8 .. kb·8+7 (zero beyond W) of a kernel whose first tap lies f
 * ∈ [0, 1] cells right of the support's left edge, each twice (re, im):
 * linear interpolation between two contiguous rows of the transposed table,
 * kept in registers (building them in memory and reloading them stalled
 * store-to-load forwarding). */
static inline __attribute__((always_inline)) void taps2(const float *tabt, float f, int kb,
							v16sf *out, const int KWP)
{
	float kf = f * KERN_OS;
	int k0 = (int)kf;
	if (k0 >= KERN_OS)
		k0 = KERN_OS - 1;
	float t = kf - k0;
	v8sf a, b;
	memcpy(&a, tabt + k0 * KWP + 8 * kb, sizeof a);
	memcpy(&b, tabt + (k0 + 1) * KWP + 8 * kb, sizeof b);
	v8sf k = a + t * (b - a);
	*out = __builtin_shufflevector(k, k, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
}

/* One tap of the same kernel (scalar). */
static inline __attribute__((always_inline)) float tap1(const float *tabt, float f, int j,
							const int KWP)
{
	float kf = f * KERN_OS;
	int k0 = (int)kf;
	if (k0 >= KERN_OS)
		k0 = KERN_OS - 1;
	float a = tabt[k0 * KWP + j], b = tabt[(k0 + 1) * KWP + j];
	return a + (kf - k0) * (b - a);
}

/* A sample's weight on w-plane `plane` (struct sgeo for iw, fw): the w
 * kernel's tap (ES), the Lagrange basis polynomial of the plane at
 * w' = iw + fw, or 1 without a w-term. */
static inline float w_weight(const grid_plan *g, const struct sgeo *q, int plane)
{
	if (g->wk == GRID_W_ES) {
		float kf = q->fw * KERN_OS;
		int k0 = (int)kf;
		if (k0 >= KERN_OS)
			k0 = KERN_OS - 1;
		const float *e = g->ktab + (plane - q->iw) * KERN_OS + k0;
		return e[0] + (kf - k0) * (e[1] - e[0]);
	}
	if (g->wk == GRID_W_LAGRANGE) {
		double L = g->lag_inv[plane], wt = q->iw + (double)q->fw;
		for (int p = 0; p < g->nplanes; p++)
			if (p != plane)
				L *= wt - p;
		return (float)L;
	}
	return 1;
}

static void flush_tile(grid_plan *g, const float complex *buf, int BS, int tu, int tv)
{
	int span = TILE + g->W;
	int u0 = tu * TILE, v0 = tv * TILE;
	int nu_ = u0 + span <= g->nu ? span : g->nu - u0;
	int nv_ = v0 + span <= g->nv ? span : g->nv - v0;
	int s0 = tv, s1 = tv + 1 < g->nstripes ? tv + 1 : tv;

	omp_set_lock(&g->locks[s0]);
	if (s1 != s0)
		omp_set_lock(&g->locks[s1]);
	for (int j = 0; j < nv_; j++) {
		float complex *dst = (float complex *)(g->grid + (size_t)(v0 + j) * g->ld + u0);
		const float complex *src = buf + (size_t)j * BS;
		for (int i = 0; i < nu_; i++)
			dst[i] += src[i];
	}
	if (s1 != s0)
		omp_unset_lock(&g->locks[s1]);
	omp_unset_lock(&g->locks[s0]);
}

/* Spread sorted samples [s0, s1) of g->svis onto w-plane `plane` through a
 * private tile buffer: W rows of KWP complex taps each (the taps beyond W
 * are zero), one or two 16-float vectors per row; the clones for AVX-512
 * and AVX2 are chosen at run time. */
static inline __attribute__((always_inline)) void spread_range_w(grid_plan *g, size_t s0,
								 size_t s1, int plane,
								 const int W, const int KWP)
{
	const int BS = TILE + KWP, NB = KWP / 8;
	float complex buf[(TILE + 16) * (TILE + 16)];
	int ctu = -1, ctv = -1;

	for (size_t s = s0; s < s1; s++) {
		const struct sgeo *q = &g->geo[s];
		int iu = q->iu, iv = q->iv, tu = iu / TILE, tv = iv / TILE;
		float complex val = g->svis[s] * w_weight(g, q, plane);
		float vr = crealf(val), vi = cimagf(val);
		v16sf vv = { vr, vi, vr, vi, vr, vi, vr, vi, vr, vi, vr, vi, vr, vi, vr, vi };
		v16sf a[2];
		for (int b = 0; b < NB; b++) {
			taps2(g->ktabt, q->fu, b, &a[b], KWP);
			a[b] *= vv;
		}
		if (tu != ctu || tv != ctv) {
			if (ctu >= 0)
				flush_tile(g, buf, BS, ctu, ctv);
			memset(buf, 0, (size_t)BS * (TILE + W) * sizeof *buf);
			ctu = tu;
			ctv = tv;
		}
		float *row = (float *)(buf + (size_t)(iv - tv * TILE) * BS + (iu - tu * TILE));
		for (int j = 0; j < W; j++, row += 2 * BS) {
			float kv = tap1(g->ktabt, q->fv, j, KWP);
			for (int b = 0; b < NB; b++)
				*(v16sf_u *)(row + 16 * b) += a[b] * kv;
		}
	}
	if (ctu >= 0)
		flush_tile(g, buf, BS, ctu, ctv);
}

/* Interpolate sorted samples [s0, s1) from w-plane `plane` into g->svis
 * (accumulating), the adjoint of spread_range_w. */
static inline __attribute__((always_inline)) void interp_range_w(grid_plan *g, size_t s0,
								 size_t s1, int plane,
								 const int W, const int KWP)
{
	const int NB = KWP / 8;
	for (size_t s = s0; s < s1; s++) {
		const struct sgeo *q = &g->geo[s];
		v16sf ku[2], acc = { 0 };
		for (int b = 0; b < NB; b++)
			taps2(g->ktabt, q->fu, b, &ku[b], KWP);
		const float *row = (const float *)(g->grid + (size_t)q->iv * g->ld + q->iu);
		for (int j = 0; j < W; j++, row += 2 * g->ld) {
			float kv = tap1(g->ktabt, q->fv, j, KWP);
			for (int b = 0; b < NB; b++)
				acc += *(const v16sf_u *)(row + 16 * b) * (ku[b] * kv);
		}
		float ar = 0, ai = 0;
		for (int i = 0; i < 8; i++) {
			ar += acc[2 * i];
			ai += acc[2 * i + 1];
		}
		g->svis[s] += (ar + I * ai) * w_weight(g, q, plane);
	}
}

/* One clone set per direction, dispatching on W (constant inside so the row
 * loops unroll). */
#define W_CASES(X) X(4, 8) X(5, 8) X(6, 8) X(7, 8) X(8, 8) X(9, 16) X(10, 16) X(11, 16) \
	X(12, 16) X(13, 16) X(14, 16) X(15, 16) X(16, 16)

/* spread_range / interp_range: the SIMD-cloned entry points, each a switch
 * on W into its _w body with W and KWP constant. */
#define RANGE_CASE(body, n, k)                      \
	case n:                                     \
		body(g, s0, s1, plane, n, k);       \
		return;
#define SPREAD_CASE(n, k) RANGE_CASE(spread_range_w, n, k)
#define INTERP_CASE(n, k) RANGE_CASE(interp_range_w, n, k)
#define RANGE_FN(name, cases)                                                        \
	SIMD_CLONES static void name(grid_plan *g, size_t s0, size_t s1, int plane) \
	{                                                                            \
		switch (g->W) {                                                      \
			W_CASES(cases)                                               \
		}                                                                    \
	}
RANGE_FN(spread_range, SPREAD_CASE)
RANGE_FN(interp_range, INTERP_CASE)
#undef RANGE_FN
#undef INTERP_CASE
#undef SPREAD_CASE
#undef RANGE_CASE

/* Run fn (spread_range or interp_range) over the sorted samples [a, b) of
 * w-plane `plane`, in chunks of 2048 shared dynamically by the threads (a
 * chunk of spreading keeps its tile buffer to itself). */
static void over_chunks(grid_plan *g, size_t a, size_t b, int plane,
			void (*fn)(grid_plan *, size_t, size_t, int))
{
	const size_t CH = 2048;
	size_t nch = (b - a + CH - 1) / CH;
#pragma omp parallel for num_threads(g->nthreads) schedule(dynamic, 1)
	for (size_t ch = 0; ch < nch; ch++)
		fn(g, a + ch * CH, a + (ch + 1) * CH < b ? a + (ch + 1) * CH : b, plane);
}

/* Sorted-sample range of w-plane `plane`: samples whose first plane iw0 lies
 * in [plane − W + 1, plane] (ES); every sample otherwise (niw0 = 1). */
static void plane_range(const grid_plan *g, int plane, size_t *a, size_t *b)
{
	if (g->wk != GRID_W_ES) {
		*a = g->pstart[0];
		*b = g->pstart[1];
		return;
	}
	int lo = plane - g->W + 1, hi = plane;
	if (lo < 0)
		lo = 0;
	if (hi > g->niw0 - 1)
		hi = g->niw0 - 1;
	if (lo > hi) {
		*a = *b = 0;
		return;
	}
	*a = g->pstart[lo];
	*b = g->pstart[hi + 1];
}

int grid_dirty(grid_plan *g, const float complex *vis, float *image)
{
	const int nx = g->p.nx, ny = g->p.ny;
	size_t npix = (size_t)nx * ny;
	float *acc = g->scratch;
	double t;

	if (!g->have_data)
		return -EINVAL;
	t = clk_mono_s();
	/* The weighted samples in sorted order, conjugated where sample_geom says. */
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (size_t i = 0; i < g->nsel; i++) {
		uint32_t k = g->idx[i] & ~CONJ;
		float complex val = vis ? vis[k] : 1.0f;
		if (g->idx[i] & CONJ)
			val = conjf(val);
		g->svis[i] = val * g->d.weight[k];
	}
	g->grid_s += clk_mono_s() - t;
	t = clk_mono_s();
	memset(acc, 0, npix * sizeof *acc);
	g->screen_s += clk_mono_s() - t;
	for (int plane = 0; plane < g->nplanes; plane++) {
		size_t a, b;
		plane_range(g, plane, &a, &b);
		if (a >= b)
			continue;
		t = clk_mono_s();
		over_chunks(g, a, b, plane, spread_range);
		g->grid_s += clk_mono_s() - t;
		t = clk_mono_s();
		fft_rows(g, +1);
		fft_cols_dirty(g, g->w0 + plane * g->dw, acc);
		g->fft_s += clk_mono_s() - t;
		t = clk_mono_s();
		zero_rows(g);
		g->screen_s += clk_mono_s() - t;
	}
	/* Gridding corrections, and back to row-major. */
	t = clk_mono_s();
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int iy = 0; iy < ny; iy++)
		for (int ix = 0; ix < nx; ix++) {
			size_t jt = (size_t)ix * ny + iy;
			float c = g->corr_x[ix] * g->corr_y[iy];
			if (g->wk == GRID_W_ES)
				c *= g->wcorr[jt];
			image[(size_t)iy * nx + ix] = acc[jt] * c;
		}
	g->screen_s += clk_mono_s() - t;
	return 0;
}

/* The direct sum V_k = Σ_j x_j exp(+2πi (u X_j + v Y_j + w' (n_j − 1))) over
 * the npix non-zero pixels (pix[], flux[]), per row with the phase stepped
 * from channel to channel through equally spaced runs.  Samples with
 * weight <= 0 get 0 (the caller checked that none was dropped). */
/* The direction cosines of image pixels pix[npix] (row-major, as the image
 * is indexed) for the direct sums: X[k], Y[k] (l and m, X growing east, so
 * negative with the column) and N1[k] = n − 1 where the w-term is stacked
 * (0 otherwise). */
static void pixel_coords(const grid_plan *g, const int *pix, size_t npix, double *X, double *Y,
			 double *N1)
{
	const int nx = g->p.nx, ny = g->p.ny;
	for (size_t k = 0; k < npix; k++) {
		int ix = pix[k] % nx, iy = pix[k] / nx;
		X[k] = -(ix - nx / 2) * g->p.cell_rad;
		Y[k] = (iy - ny / 2) * g->p.cell_rad;
		N1[k] = g->wst ? pixel_nm1(g, ix, iy) : 0;
	}
}

static int degrid_direct(grid_plan *g, const int *pix, const double *flux, size_t npix,
			 float complex *vis)
{
	const int nc = g->d.nchan;
	const double *f = g->d.freq_hz, two_pi_c = 2 * M_PI / VIS_C_M_S;
	double *X = malloc(3 * npix * sizeof *X), *Y = X ? X + npix : NULL, *N1 = X ? Y + npix : NULL;
	unsigned char *restart = malloc((size_t)nc);
	int r = 0;

	if (!X || !restart) {
		free(X);
		free(restart);
		return -ENOMEM;
	}
	pixel_coords(g, pix, npix, X, Y, N1);
	/* The phase is stepped through each run of equally spaced channels and
	 * computed afresh where the spacing changes (missing subbands). */
	for (int c = 0; c < nc; c++)
		restart[c] = c == 0 || (c < nc - 1 && fabs((f[c + 1] - f[c]) - (f[c] - f[c - 1])) >
						      1e-9 * fabs(f[c] - f[c - 1]));
#pragma omp parallel num_threads(g->nthreads)
	{
		double complex *acc = malloc((size_t)nc * sizeof *acc);
		if (!acc) {
#pragma omp atomic write
			r = -ENOMEM;
		}
#pragma omp for schedule(dynamic, 64)
		for (size_t row = 0; row < g->d.nrows; row++) {
			if (!acc)
				continue;
			const double *uvw = g->d.uvw_m + 3 * row;
			const float *wt = g->d.weight + row * nc;
			double wp = uvw[2] + g->p.xi * uvw[0] + g->p.eta * uvw[1];
			for (int c = 0; c < nc; c++)
				acc[c] = 0;
			for (size_t k = 0; k < npix; k++) {
				/* Phase per Hz of this pixel on this baseline. */
				double ph = two_pi_c * (uvw[0] * X[k] + uvw[1] * Y[k] + wp * N1[k]);
				double complex z = 0, dz = 1;
				for (int c = 0; c < nc; c++) {
					if (restart[c]) {
						z = flux[k] * cexp(I * ph * f[c]);
						dz = c < nc - 1 ? cexp(I * ph * (f[c + 1] - f[c])) : 1;
					}
					acc[c] += z;
					z *= dz;
				}
			}
			float complex *out = vis + row * nc;
			for (int c = 0; c < nc; c++)
				out[c] = wt[c] > 0 ? (float complex)acc[c] : 0;
		}
		free(acc);
	}
	free(X);
	free(restart);
	return r;
}

int grid_dirty_pixels(grid_plan *g, const float complex *vis, const int *pix, size_t npix,
		      double *ret_chan)
{
	const int nc = g->d.nchan;
	const double *f = g->d.freq_hz, two_pi_c = 2 * M_PI / VIS_C_M_S;
	double *X, *Y, *N1;
	int r = 0;

	if (!g->have_data)
		return -EINVAL;
	X = malloc(3 * (npix ? npix : 1) * sizeof *X);
	if (!X)
		return -ENOMEM;
	Y = X + npix;
	N1 = Y + npix;
	pixel_coords(g, pix, npix, X, Y, N1);
	memset(ret_chan, 0, npix * nc * sizeof *ret_chan);
	/* Each pixel's phase per Hz on each row, exp(−iφ) evaluated per channel
	 * (a handful of pixels: no stepping needed), summed per channel over
	 * the rows by each thread, then added up. */
#pragma omp parallel num_threads(g->nthreads)
	{
		double *acc = calloc(npix * nc, sizeof *acc);
		if (!acc) {
#pragma omp atomic write
			r = -ENOMEM;
		}
#pragma omp for schedule(static)
		for (size_t row = 0; row < g->d.nrows; row++) {
			if (!acc)
				continue;
			const double *uvw = g->d.uvw_m + 3 * row;
			const float *wt = g->d.weight + row * nc;
			const float complex *v = vis + row * nc;
			double wp = uvw[2] + g->p.xi * uvw[0] + g->p.eta * uvw[1];
			for (size_t k = 0; k < npix; k++) {
				double ph = two_pi_c * (uvw[0] * X[k] + uvw[1] * Y[k] + wp * N1[k]);
				for (int c = 0; c < nc; c++) {
					if (!(wt[c] > 0))
						continue;
					double a = ph * f[c];
					acc[k * nc + c] += wt[c] * (crealf(v[c]) * cos(a) +
								    cimagf(v[c]) * sin(a));
				}
			}
		}
		if (acc) {
#pragma omp critical
			for (size_t i = 0; i < npix * nc; i++)
				ret_chan[i] += acc[i];
		}
		free(acc);
	}
	free(X);
	return r;
}

int grid_degrid(grid_plan *g, const float *image, float complex *vis)
{
	const int nx = g->p.nx, ny = g->p.ny;
	size_t ns = g->d.nrows * (size_t)g->d.nchan;
	float *xc = g->scratch;
	double t;

	if (!g->have_data)
		return -EINVAL;
	if (g->p.degrid_dft != GRID_DFT_NEVER && g->ndropped == 0) {
		/* A sparse model: the direct sum when it is expected to be cheaper
		 * than the FFT path (~2.5 ns per grid cell and plane against ~2 ns
		 * per sample and component, over the threads).  Up to 256 pixels.
		 * The choice is a cost model of the sizes alone, never a measured
		 * time: the two paths round differently, and a re-run of a group
		 * must give the same image bit for bit whatever the machine's load
		 * (issue 17, item 6; a choice by measured time made re-runs under
		 * load differ in the 7th digit). */
		enum { MAXPIX = 256 };
		int pix[MAXPIX];
		double flux[MAXPIX];
		size_t npix = 0;
		t = clk_mono_s();
		for (size_t j = 0; j < (size_t)nx * ny; j++)
			if (image[j] != 0) {
				if (npix == MAXPIX) {
					npix = MAXPIX + 1;
					break;
				}
				pix[npix] = (int)j;
				flux[npix++] = image[j];
			}
		double fft_est = 2.5e-9 * g->nplanes * g->nu * (double)g->nv / g->nthreads;
		double per = 2e-9 / g->nthreads;
		if (npix <= MAXPIX &&
		    (g->p.degrid_dft == GRID_DFT_ALWAYS || per * npix * ns < 0.8 * fft_est)) {
			if (degrid_direct(g, pix, flux, npix, vis) == 0) {
				g->grid_s += clk_mono_s() - t;
				g->ndegrid_dft++;
				return 0;
			}
		}
		g->screen_s += clk_mono_s() - t;
	}
	t = clk_mono_s();
	memset(g->svis, 0, g->nsel * sizeof *g->svis);
	/* The corrected model, column-major. */
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int ix = 0; ix < nx; ix++)
		for (int iy = 0; iy < ny; iy++) {
			size_t jt = (size_t)ix * ny + iy;
			float c = g->corr_x[ix] * g->corr_y[iy];
			if (g->wk == GRID_W_ES)
				c *= g->wcorr[jt];
			xc[jt] = image[(size_t)iy * nx + ix] * c;
		}
	g->screen_s += clk_mono_s() - t;
	for (int plane = 0; plane < g->nplanes; plane++) {
		size_t a, b;
		plane_range(g, plane, &a, &b);
		if (a >= b)
			continue;
		t = clk_mono_s();
		fft_cols_degrid(g, g->w0 + plane * g->dw, xc);
		fft_rows(g, -1);
		g->fft_s += clk_mono_s() - t;
		t = clk_mono_s();
		over_chunks(g, a, b, plane, interp_range);
		g->grid_s += clk_mono_s() - t;
		t = clk_mono_s();
		zero_rows(g);
		g->screen_s += clk_mono_s() - t;
	}
	/* Back to the caller's order, undoing sample_geom's choice (the
	 * prediction of (uvw, V) is the conjugate of that of (−uvw)). */
	t = clk_mono_s();
	memset(vis, 0, ns * sizeof *vis);
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (size_t i = 0; i < g->nsel; i++) {
		uint32_t k = g->idx[i] & ~CONJ;
		vis[k] = g->idx[i] & CONJ ? conjf(g->svis[i]) : g->svis[i];
	}
	g->grid_s += clk_mono_s() - t;
	return 0;
}

void grid_get_params(const grid_plan *g, grid_params *ret)
{
	*ret = g->p;
}

void grid_get_info(const grid_plan *g, grid_info *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->nx = g->p.nx;
	ret->ny = g->p.ny;
	ret->cell_rad = g->p.cell_rad;
	ret->nu = g->nu;
	ret->nv = g->nv;
	ret->support = g->W;
	ret->beta = g->beta;
	ret->nplanes = g->nplanes;
	ret->wkernel = g->wst ? g->wk : 0;
	ret->w0 = g->w0;
	ret->dw = g->dw;
	ret->wmax = g->wmax;
	ret->nvis = g->nsel;
	ret->ndropped = g->ndropped;
	ret->ndegrid_dft = g->ndegrid_dft;
	ret->grid_s = g->grid_s;
	ret->fft_s = g->fft_s;
	ret->screen_s = g->screen_s;
	ret->index_s = g->index_s;
}

void grid_reset_timing(grid_plan *g)
{
	g->grid_s = g->fft_s = g->screen_s = g->index_s = 0;
}

int grid_fit_wplane(const grid_uvdata *d, int nthreads, double *ret_xi, double *ret_eta)
{
	double suu = 0, suv = 0, svv = 0, suw = 0, svw = 0, wmax = 0, rmax = 0, xi, eta, det;

	*ret_xi = *ret_eta = 0;
	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	/* Normal equations of min Σ (w + ξ u + η v)² over the rows in use. */
#pragma omp parallel for num_threads(nthreads) reduction(+ : suu, suv, svv, suw, svw) \
	reduction(max : wmax) schedule(static)
	for (size_t row = 0; row < d->nrows; row++) {
		int used = 0;
		for (int c = 0; c < d->nchan && !used; c++)
			used = d->weight[row * d->nchan + c] > 0;
		if (!used)
			continue;
		const double *x = d->uvw_m + 3 * row;
		suu += x[0] * x[0];
		suv += x[0] * x[1];
		svv += x[1] * x[1];
		suw += x[0] * x[2];
		svw += x[1] * x[2];
		wmax = fmax(wmax, fabs(x[2]));
	}
	det = suu * svv - suv * suv;
	/* A degenerate (e.g. purely east-west) array leaves the plane undetermined. */
	if (!(det > 1e-9 * suu * svv) || !(wmax > 0))
		return 0;
	xi = -(suw * svv - svw * suv) / det;
	eta = -(svw * suu - suw * suv) / det;
	if (!(fabs(xi) <= 4 && fabs(eta) <= 4))
		return 0;
#pragma omp parallel for num_threads(nthreads) reduction(max : rmax) schedule(static)
	for (size_t row = 0; row < d->nrows; row++) {
		int used = 0;
		for (int c = 0; c < d->nchan && !used; c++)
			used = d->weight[row * d->nchan + c] > 0;
		const double *x = d->uvw_m + 3 * row;
		if (used)
			rmax = fmax(rmax, fabs(x[2] + xi * x[0] + eta * x[1]));
	}
	if (!(rmax <= 0.5 * wmax))
		return 0;
	*ret_xi = xi;
	*ret_eta = eta;
	return 1;
}

/* The wisdom last read from or written to a file, so that an export
 * rewrites the file only when a plan added something (guarded by
 * fftw_mutex). */
static char *wisdom_seen;

static void wisdom_remember(void)
{
	char *w = fftwf_export_wisdom_to_string();
	if (w) {
		free(wisdom_seen);
		wisdom_seen = w; /* FFTW allocates it with malloc */
	}
}

int grid_wisdom_import(const char *path)
{
	static int done;
	int r = 0;

	/* Threads first: fftwf_init_threads registers solvers, and wisdom
	 * carries a hash of the registered solvers in their order.  Wisdom
	 * exported by a planner that had the threads solvers added after it was
	 * created never imports again. */
	pthread_once(&fftw_once, fftw_threads_init);
	pthread_mutex_lock(&fftw_mutex);
	if (!done) {
		FILE *f = fopen(path, "r");
		if (!f) {
			r = -errno;
		} else {
			if (!fftwf_import_wisdom_from_file(f))
				r = -EILSEQ;
			fclose(f);
		}
		wisdom_remember();
		done = 1;
	}
	pthread_mutex_unlock(&fftw_mutex);
	return r;
}

int grid_wisdom_export(const char *path)
{
	char tmp[4200];
	int r = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	pthread_once(&fftw_once, fftw_threads_init);
	pthread_mutex_lock(&fftw_mutex);
	char *w = fftwf_export_wisdom_to_string();
	if (!w) {
		r = -ENOMEM;
	} else if (!wisdom_seen || strcmp(w, wisdom_seen)) {
		FILE *f = fopen(tmp, "w");
		if (!f) {
			r = -errno;
		} else {
			if (fputs(w, f) < 0)
				r = -EIO;
			if (fclose(f) != 0 && !r)
				r = -EIO;
			if (!r)
				r = fsx_replace(tmp, path, NULL, 0); /* removes tmp on failure */
			else
				unlink(tmp);
		}
		if (!r) {
			free(wisdom_seen);
			wisdom_seen = w;
			w = NULL;
		}
	}
	free(w);
	pthread_mutex_unlock(&fftw_mutex);
	return r;
}
