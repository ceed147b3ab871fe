/*
 * imaging/grid.c — exponential-of-semicircle gridding with w-stacking.
 * See grid.h for the operators, conventions and references.
 */
#include "imaging/grid.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fftw3.h>

#include "core/err.h"
#include "core/vis.h"

#define TILE 16        /* tile side in grid cells (spreading buffers, sort key) */
#define KERN_OS 1024   /* kernel table samples per cell (linear interpolation) */
#define COLB 8         /* columns transposed and transformed together */
#define LDPAD 16       /* row padding: a power-of-two row stride thrashes the cache */
#define GL_N 128       /* Gauss-Legendre nodes for the kernel's Fourier transform */

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

struct grid_plan {
	grid_params p;
	int nthreads;
	int nu, nv, W;
	int ld;                /* grid row stride (nu + LDPAD) */
	double beta;
	float *ktab;           /* [W*KERN_OS + 2] kernel samples */
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
	uint32_t *idx;         /* [nsel] sample indices sorted by (iw0, tile) */
	size_t nsel, ndropped;
	size_t *pstart;        /* [niw0 + 1] first sorted sample with iw0 == i */
	int niw0;
	int wst;               /* w-stacking active for this data */
	int nplanes;
	double w0, dw;
	int v_lo, v_hi;        /* occupied grid rows */
	float *wcorr;          /* [nx*ny] 1/ψ̂ of the w kernel (wst) */
	float complex *ph0, *phstep, *ph; /* [nx*ny] w-screens (wst) */
	float *scratch;        /* [nx*ny] */

	double grid_s, fft_s, screen_s, index_s;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void grid_params_default(grid_params *p)
{
	memset(p, 0, sizeof *p);
	p->nx = p->ny = 4096;
	p->cell_rad = 3.0 / 206264.80624709636;
	p->epsilon = 1e-4;
	p->sigma = 2.0;
	p->wstacking = 1;
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

/* Values of the W taps for a kernel whose first tap lies f ∈ [0, 1) cells
 * right of the support's left edge. */
static inline void kern_taps(const float *tab, int W, double f, float *out)
{
	double kf = f * KERN_OS;
	int k0 = (int)kf;
	float t = (float)(kf - k0);
	for (int j = 0; j < W; j++) {
		const float *e = tab + j * KERN_OS + k0;
		out[j] = e[0] + t * (e[1] - e[0]);
	}
}

static inline float kern_tap(const float *tab, double f, int j)
{
	double kf = f * KERN_OS;
	int k0 = (int)kf;
	float t = (float)(kf - k0);
	const float *e = tab + j * KERN_OS + k0;
	return e[0] + t * (e[1] - e[0]);
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
	fftwf_free(g->grid);
	fftwf_free(g->colbuf);
	free(g->ktab);
	free(g->corr_x);
	free(g->corr_y);
	free(g->idx);
	free(g->pstart);
	free(g->wcorr);
	free(g->ph0);
	free(g->phstep);
	free(g->ph);
	free(g->scratch);
	free(g);
}

int grid_plan_new(const grid_params *p, grid_plan **ret, char *err, size_t errlen)
{
	grid_plan *g = NULL;
	int r = 0;
	size_t npix;

	if (p->nx < 16 || p->ny < 16 || p->nx % 2 || p->ny % 2 || !(p->cell_rad > 0) ||
	    !(p->epsilon > 1e-7 && p->epsilon < 0.1) || !(p->sigma >= 1.2 && p->sigma <= 3.0))
		return err_set(err, errlen, -EINVAL,
			       "grid: bad parameters (size %dx%d must be even >= 16, cell %g rad, "
			       "epsilon %g in (1e-7, 0.1), sigma %g in [1.2, 3])",
			       p->nx, p->ny, p->cell_rad, p->epsilon, p->sigma);
	g = calloc(1, sizeof *g);
	if (!g)
		return err_set(err, errlen, -ENOMEM, "grid: out of memory");
	g->p = *p;
	g->nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
	g->nu = grid_good_size((int)ceil(p->sigma * p->nx));
	g->nv = grid_good_size((int)ceil(p->sigma * p->ny));
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
	g->corr_x = malloc(p->nx * sizeof *g->corr_x);
	g->corr_y = malloc(p->ny * sizeof *g->corr_y);
	g->ld = g->nu + LDPAD;
	g->grid = fftwf_malloc((size_t)g->ld * g->nv * sizeof *g->grid);
	g->colbuf = fftwf_malloc((size_t)g->nthreads * COLB * g->nv * sizeof *g->colbuf);
	g->nstripes = g->nv / TILE + 2;
	g->locks = malloc(g->nstripes * sizeof *g->locks);
	npix = (size_t)p->nx * p->ny;
	g->scratch = malloc(npix * sizeof *g->scratch);
	if (!g->ktab || !g->corr_x || !g->corr_y || !g->grid || !g->colbuf || !g->locks ||
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
 * Wt (w-plane units) and whether it was conjugated to make w >= 0 (the
 * dirty image is real, so (uvw, V) and (−uvw, V*) are the same measurement). */
static inline void sample_geom(const grid_plan *g, size_t k, double *U, double *V, double *Wt,
			       int *flip)
{
	/* k / nchan without an integer division (it dominated the per-sample cost). */
	size_t nc = (size_t)g->d.nchan, row = (size_t)((double)k * g->inv_nchan);
	if (row * nc > k)
		row--;
	else if ((row + 1) * nc <= k)
		row++;
	int c = (int)(k - row * nc);
	const double *uvw = g->d.uvw_m + 3 * row;
	double s = g->d.freq_hz[c] / VIS_C_M_S;
	*flip = 0;
	if (g->wst && uvw[2] < 0) {
		s = -s;
		*flip = 1;
	}
	/* l = −ξ: the x axis of the image runs towards −l (see grid.h). */
	*U = -uvw[0] * s * g->nu * g->p.cell_rad + 0.5 * g->nu;
	*V = uvw[1] * s * g->nv * g->p.cell_rad + 0.5 * g->nv;
	*Wt = g->wst ? (uvw[2] * s - g->w0) / g->dw : 0;
}

/* n − 1 of pixel (ix, iy), computed without cancellation. */
static inline double pixel_nm1(const grid_params *p, int ix, int iy)
{
	double l = (ix - p->nx / 2) * p->cell_rad, m = (iy - p->ny / 2) * p->cell_rad;
	double r2 = l * l + m * m;
	if (r2 >= 1)
		return -1;
	return -r2 / (1 + sqrt(1 - r2));
}

int grid_plan_set_data(grid_plan *g, const grid_uvdata *d, char *err, size_t errlen)
{
	const grid_params *p = &g->p;
	size_t ns = d->nrows * (size_t)d->nchan, npix = (size_t)p->nx * p->ny;
	uint32_t *key = NULL, *cnt = NULL;
	double t0 = now_s();
	double wmin = INFINITY, wmax = -INFINITY;
	int vmin = INT32_MAX, vmax = INT32_MIN;
	size_t nkeys, nsel = 0, ndrop = 0;
	int ntu = g->nu / TILE + 1, ntv = g->nv / TILE + 1, W = g->W, Ww;
	int r = 0;

	if (ns >= UINT32_MAX)
		return err_set(err, errlen, -EINVAL, "grid: %zu samples exceed 2^32", ns);
	g->have_data = 0;
	free(g->idx);
	free(g->pstart);
	g->idx = NULL;
	g->pstart = NULL;
	g->d = *d;
	g->inv_nchan = 1.0 / d->nchan;
	g->wst = 0;

	/* w range over the selected samples (after the w >= 0 flip). */
#pragma omp parallel for num_threads(g->nthreads) reduction(min : wmin) reduction(max : wmax)
	for (size_t row = 0; row < d->nrows; row++) {
		double w = fabs(d->uvw_m[3 * row + 2]);
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
	if (p->wstacking) {
		/* Arras et al. 2021 §3.2: plane spacing from the largest |n − 1| of the
		 * image so that the w kernel's transform is used only inside its
		 * accurate band |Δw (n − 1)| <= 1/(2σ). */
		double nm1max = fabs(pixel_nm1(p, 0, 0));
		g->dw = 1 / (2 * p->sigma * nm1max);
		g->wst = 1;
		g->w0 = wmin - 0.5 * W * g->dw;
		g->nplanes = (int)ceil((wmax - wmin) / g->dw) + W + 1;
	}
	Ww = g->wst ? W : 1;
	g->niw0 = g->nplanes - Ww + 1;
	nkeys = (size_t)g->niw0 * ntv * ntu;

	key = malloc(ns * sizeof *key);
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
		int flip, iu, iv, iw = 0;
		key[k] = UINT32_MAX;
		if (!(d->weight[k] > 0))
			continue;
		sample_geom(g, k, &U, &V, &Wt, &flip);
		iu = (int)ceil(U - 0.5 * W);
		iv = (int)ceil(V - 0.5 * W);
		if (g->wst)
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
	g->idx = malloc((nsel ? nsel : 1) * sizeof *g->idx);
	if (!g->idx) {
		r = err_set(err, errlen, -ENOMEM, "grid: out of memory sorting %zu samples", ns);
		goto out;
	}
	for (size_t k = 0; k < ns; k++)
		if (key[k] != UINT32_MAX)
			g->idx[cnt[key[k]]++] = (uint32_t)k;
	g->nsel = nsel;
	g->ndropped = ndrop;
	g->v_lo = nsel ? (vmin / TILE) * TILE : g->nv / 2;
	g->v_hi = nsel ? vmax / TILE * TILE + 2 * TILE : g->nv / 2;
	if (g->v_hi > g->nv)
		g->v_hi = g->nv;

	if (g->wst) {
		/* w-screens e^{2πi w0 (n−1)} and the per-plane step e^{2πi Δw (n−1)},
		 * and the w kernel's correction from a table of ψ̂ over |Δw (n−1)|. */
		enum { NT = 4096 };
		double tab[NT + 2], tmax = 1 / (2 * p->sigma) * 1.0001;
		if (!g->wcorr) {
			g->wcorr = malloc(npix * sizeof *g->wcorr);
			g->ph0 = malloc(npix * sizeof *g->ph0);
			g->phstep = malloc(npix * sizeof *g->phstep);
			g->ph = malloc(npix * sizeof *g->ph);
			if (!g->wcorr || !g->ph0 || !g->phstep || !g->ph) {
				r = err_set(err, errlen, -ENOMEM, "grid: out of memory (w-screens)");
				goto out;
			}
		}
		for (int i = 0; i <= NT + 1; i++)
			tab[i] = kernel_ft(g, tmax * i / NT);
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
		for (int iy = 0; iy < p->ny; iy++) {
			for (int ix = 0; ix < p->nx; ix++) {
				size_t j = (size_t)iy * p->nx + ix;
				double nm1 = pixel_nm1(p, ix, iy);
				double t = fabs(g->dw * nm1) / tmax * NT;
				int it = (int)t;
				double ft;
				if (it >= NT)
					it = NT - 1;
				ft = tab[it] + (t - it) * (tab[it + 1] - tab[it]);
				g->wcorr[j] = (float)(1 / ft);
				double a0 = 2 * M_PI * g->w0 * nm1, a1 = 2 * M_PI * g->dw * nm1;
				g->ph0[j] = (float)cos(a0) + I * (float)sin(a0);
				g->phstep[j] = (float)cos(a1) + I * (float)sin(a1);
			}
		}
	}
	g->have_data = 1;
out:
	free(key);
	free(cnt);
	g->index_s += now_s() - t0;
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

/* Rows of the image inside the grid: [0, ny/2) and [nv − ny/2, nv). */
static inline int image_row(const grid_plan *g, int v)
{
	return v < g->p.ny / 2 || v >= g->nv - g->p.ny / 2;
}

/* Column FFTs over the image columns [0, nx/2) ∪ [nu − nx/2, nu): each thread
 * copies COLB columns into a contiguous buffer (reading only the rows that
 * can be non-zero), transforms them and writes back only the rows the next
 * step needs.  Gridding (dir > 0): in = occupied rows, out = image rows;
 * degridding (dir < 0): in = image rows, out = occupied rows. */
static void fft_cols(grid_plan *g, int dir)
{
	fftwf_plan pl = dir < 0 ? g->col_f : g->col_b;
	int nx2 = g->p.nx / 2, nb = (2 * nx2 + COLB - 1) / COLB, nv = g->nv;
#pragma omp parallel num_threads(g->nthreads)
	{
		fftwf_complex *buf = g->colbuf + (size_t)omp_get_thread_num() * COLB * nv;
#pragma omp for schedule(dynamic, 2)
		for (int bi = 0; bi < nb; bi++) {
			int j0 = bi * COLB, nc = 2 * nx2 - j0 < COLB ? 2 * nx2 - j0 : COLB;
			int cols[COLB];
			for (int j = 0; j < nc; j++)
				cols[j] = j0 + j < nx2 ? j0 + j : g->nu - 2 * nx2 + j0 + j;
			memset(buf, 0, (size_t)nc * nv * sizeof *buf);
			for (int v = 0; v < nv; v++) {
				int in = dir > 0 ? (v >= g->v_lo && v < g->v_hi) : image_row(g, v);
				if (!in)
					continue;
				const fftwf_complex *row = g->grid + (size_t)v * g->ld;
				for (int j = 0; j < nc; j++) {
					buf[(size_t)j * nv + v] = row[cols[j]];
				}
			}
			for (int j = 0; j < nc; j++)
				fftwf_execute_dft(pl, buf + (size_t)j * nv, buf + (size_t)j * nv);
			for (int v = 0; v < nv; v++) {
				int out = dir > 0 ? image_row(g, v) : (v >= g->v_lo && v < g->v_hi);
				if (!out)
					continue;
				fftwf_complex *row = g->grid + (size_t)v * g->ld;
				for (int j = 0; j < nc; j++) {
					row[cols[j]] = buf[(size_t)j * nv + v];
				}
			}
		}
	}
}

/* Zero what one plane wrote: the occupied rows and the image columns. */
static void zero_touched(grid_plan *g)
{
	int nx2 = g->p.nx / 2;
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int v = 0; v < g->nv; v++) {
		fftwf_complex *row = g->grid + (size_t)v * g->ld;
		if (v >= g->v_lo && v < g->v_hi) {
			memset(row, 0, g->nu * sizeof *row);
		} else {
			memset(row, 0, nx2 * sizeof *row);
			memset(row + g->nu - nx2, 0, nx2 * sizeof *row);
		}
	}
}

/* The W×W tap loops, inlined with a constant W (switch below) so the
 * compiler unrolls them and keeps the accumulators in registers. */
static inline __attribute__((always_inline)) void spread_taps(float complex *buf, int BS, int ou,
							      int ov, float complex val,
							      const float *ku, const float *kv,
							      const int W)
{
	float ku2[2 * TILE];
	for (int i = 0; i < W; i++)
		ku2[2 * i] = ku2[2 * i + 1] = ku[i];
	for (int j = 0; j < W; j++) {
		float cr = crealf(val) * kv[j], ci = cimagf(val) * kv[j];
		float *row = (float *)(buf + (size_t)(ov + j) * BS + ou);
		for (int i = 0; i < W; i++) {
			row[2 * i] += cr * ku2[2 * i];
			row[2 * i + 1] += ci * ku2[2 * i + 1];
		}
	}
}

static inline __attribute__((always_inline)) float complex
interp_taps(const fftwf_complex *grid, size_t ld, int iu, int iv, const float *ku,
	    const float *kv, const int W)
{
	float ar = 0, ai = 0;
	for (int j = 0; j < W; j++) {
		const float *row = (const float *)(grid + (size_t)(iv + j) * ld + iu);
		float rr = 0, ri = 0;
		for (int i = 0; i < W; i++) {
			rr += row[2 * i] * ku[i];
			ri += row[2 * i + 1] * ku[i];
		}
		ar += rr * kv[j];
		ai += ri * kv[j];
	}
	return ar + I * ai;
}

#define W_CASES(X) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)

static void spread_dispatch(float complex *buf, int BS, int ou, int ov, float complex val,
			    const float *ku, const float *kv, int W)
{
	switch (W) {
#define SPREAD_CASE(n)                                                   \
	case n:                                                          \
		spread_taps(buf, BS, ou, ov, val, ku, kv, n);            \
		return;
		W_CASES(SPREAD_CASE)
#undef SPREAD_CASE
	default:
		spread_taps(buf, BS, ou, ov, val, ku, kv, W);
	}
}

static float complex interp_dispatch(const fftwf_complex *grid, size_t ld, int iu, int iv,
				     const float *ku, const float *kv, int W)
{
	switch (W) {
#define INTERP_CASE(n)                                                   \
	case n:                                                          \
		return interp_taps(grid, ld, iu, iv, ku, kv, n);
		W_CASES(INTERP_CASE)
#undef INTERP_CASE
	default:
		return interp_taps(grid, ld, iu, iv, ku, kv, W);
	}
}

static void flush_tile(grid_plan *g, const float complex *buf, int tu, int tv)
{
	int BS = TILE + g->W;
	int u0 = tu * TILE, v0 = tv * TILE;
	int nu_ = u0 + BS <= g->nu ? BS : g->nu - u0;
	int nv_ = v0 + BS <= g->nv ? BS : g->nv - v0;
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

/* Spread samples sorted[a..b) into the grid for w-plane `plane`. */
static void spread(grid_plan *g, size_t a, size_t b, int plane, const float complex *vis)
{
	const int W = g->W, BS = TILE + W;
	const size_t CH = 2048;
	size_t nch = (b - a + CH - 1) / CH;

#pragma omp parallel num_threads(g->nthreads)
	{
		float complex buf[(TILE + TILE) * (TILE + TILE)];
		float ku[TILE], kv[TILE];
		int ctu = -1, ctv = -1;

#pragma omp for schedule(dynamic, 1)
		for (size_t ch = 0; ch < nch; ch++) {
			size_t e = a + (ch + 1) * CH < b ? a + (ch + 1) * CH : b;
			for (size_t s = a + ch * CH; s < e; s++) {
				size_t k = g->idx[s];
				double U, V, Wt;
				int flip;
				sample_geom(g, k, &U, &V, &Wt, &flip);
				int iu = (int)ceil(U - 0.5 * W), iv = (int)ceil(V - 0.5 * W);
				float kw = 1;
				if (g->wst) {
					int iw = (int)ceil(Wt - 0.5 * W);
					kw = kern_tap(g->ktab, iw - (Wt - 0.5 * W), plane - iw);
				}
				kern_taps(g->ktab, W, iu - (U - 0.5 * W), ku);
				kern_taps(g->ktab, W, iv - (V - 0.5 * W), kv);
				float complex val = vis ? vis[k] : 1.0f;
				if (flip)
					val = conjf(val);
				val *= g->d.weight[k] * kw;
				int tu = iu / TILE, tv = iv / TILE;
				if (tu != ctu || tv != ctv) {
					if (ctu >= 0)
						flush_tile(g, buf, ctu, ctv);
					memset(buf, 0, sizeof buf);
					ctu = tu;
					ctv = tv;
				}
				int ou = iu - tu * TILE, ov = iv - tv * TILE;
				spread_dispatch(buf, BS, ou, ov, val, ku, kv, W);
			}
			if (ctu >= 0)
				flush_tile(g, buf, ctu, ctv);
			ctu = ctv = -1;
		}
	}
}

/* Interpolate sorted[a..b) from the grid of w-plane `plane`, accumulating. */
static void interp(grid_plan *g, size_t a, size_t b, int plane, float complex *vis)
{
	const int W = g->W;
#pragma omp parallel for num_threads(g->nthreads) schedule(dynamic, 2048)
	for (size_t s = a; s < b; s++) {
		size_t k = g->idx[s];
		double U, V, Wt;
		int flip;
		float ku[TILE], kv[TILE];
		sample_geom(g, k, &U, &V, &Wt, &flip);
		int iu = (int)ceil(U - 0.5 * W), iv = (int)ceil(V - 0.5 * W);
		float kw = 1;
		if (g->wst) {
			int iw = (int)ceil(Wt - 0.5 * W);
			kw = kern_tap(g->ktab, iw - (Wt - 0.5 * W), plane - iw);
		}
		kern_taps(g->ktab, W, iu - (U - 0.5 * W), ku);
		kern_taps(g->ktab, W, iv - (V - 0.5 * W), kv);
		float complex acc = interp_dispatch(g->grid, g->ld, iu, iv, ku, kv, W);
		vis[k] += acc * kw;
	}
}

/* Sorted-sample range of w-plane `plane`: samples whose first plane iw0 lies
 * in [plane − W + 1, plane]. */
static void plane_range(const grid_plan *g, int plane, size_t *a, size_t *b)
{
	int Ww = g->wst ? g->W : 1;
	int lo = plane - Ww + 1, hi = plane;
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

static inline size_t qindex(const grid_plan *g, int ix, int iy)
{
	int qx = ix - g->p.nx / 2, qy = iy - g->p.ny / 2;
	if (qx < 0)
		qx += g->nu;
	if (qy < 0)
		qy += g->nv;
	return (size_t)qy * g->ld + qx;
}

int grid_dirty(grid_plan *g, const float complex *vis, float *image)
{
	const int nx = g->p.nx, ny = g->p.ny;
	size_t npix = (size_t)nx * ny;
	double t;

	if (!g->have_data)
		return -EINVAL;
	t = now_s();
	memset(image, 0, npix * sizeof *image);
	if (g->wst)
		memcpy(g->ph, g->ph0, npix * sizeof *g->ph);
	g->screen_s += now_s() - t;
	for (int plane = 0; plane < g->nplanes; plane++) {
		size_t a, b;
		plane_range(g, plane, &a, &b);
		t = now_s();
		if (a < b)
			spread(g, a, b, plane, vis);
		g->grid_s += now_s() - t;
		t = now_s();
		if (a < b) {
			fft_rows(g, +1);
			fft_cols(g, +1);
		}
		g->fft_s += now_s() - t;
		t = now_s();
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
		for (int iy = 0; iy < ny; iy++) {
			for (int ix = 0; ix < nx; ix++) {
				size_t j = (size_t)iy * nx + ix;
				if (a < b) {
					float complex val = *(float complex *)(g->grid + qindex(g, ix, iy));
					if ((ix + iy - nx / 2 - ny / 2) & 1)
						val = -val;
					image[j] += g->wst ? crealf(val * g->ph[j]) : crealf(val);
				}
				if (g->wst)
					g->ph[j] *= g->phstep[j];
			}
		}
		if (a < b)
			zero_touched(g);
		g->screen_s += now_s() - t;
	}
	t = now_s();
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int iy = 0; iy < ny; iy++)
		for (int ix = 0; ix < nx; ix++) {
			size_t j = (size_t)iy * nx + ix;
			float c = g->corr_x[ix] * g->corr_y[iy];
			if (g->wst)
				c *= g->wcorr[j];
			image[j] *= c;
		}
	g->screen_s += now_s() - t;
	return 0;
}

int grid_degrid(grid_plan *g, const float *image, float complex *vis)
{
	const int nx = g->p.nx, ny = g->p.ny;
	size_t npix = (size_t)nx * ny, ns = g->d.nrows * (size_t)g->d.nchan;
	float *xc = g->scratch;
	double t;

	if (!g->have_data)
		return -EINVAL;
	t = now_s();
	memset(vis, 0, ns * sizeof *vis);
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
	for (int iy = 0; iy < ny; iy++)
		for (int ix = 0; ix < nx; ix++) {
			size_t j = (size_t)iy * nx + ix;
			float c = g->corr_x[ix] * g->corr_y[iy];
			if (g->wst)
				c *= g->wcorr[j];
			if ((ix + iy - nx / 2 - ny / 2) & 1)
				c = -c;
			xc[j] = image[j] * c;
		}
	if (g->wst)
		memcpy(g->ph, g->ph0, npix * sizeof *g->ph);
	g->screen_s += now_s() - t;
	for (int plane = 0; plane < g->nplanes; plane++) {
		size_t a, b;
		plane_range(g, plane, &a, &b);
		t = now_s();
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
		for (int iy = 0; iy < ny; iy++) {
			for (int ix = 0; ix < nx; ix++) {
				size_t j = (size_t)iy * nx + ix;
				if (a < b) {
					float complex val = xc[j];
					if (g->wst)
						val *= conjf(g->ph[j]);
					*(float complex *)(g->grid + qindex(g, ix, iy)) = val;
				}
				if (g->wst)
					g->ph[j] *= g->phstep[j];
			}
		}
		g->screen_s += now_s() - t;
		if (a >= b)
			continue;
		t = now_s();
		fft_cols(g, -1);
		fft_rows(g, -1);
		g->fft_s += now_s() - t;
		t = now_s();
		interp(g, a, b, plane, vis);
		g->grid_s += now_s() - t;
		t = now_s();
		zero_touched(g);
		g->screen_s += now_s() - t;
	}
	if (g->wst) {
		/* Undo the w >= 0 flip: the prediction of (uvw, V) is conj of (−uvw). */
#pragma omp parallel for num_threads(g->nthreads) schedule(static)
		for (size_t row = 0; row < g->d.nrows; row++) {
			if (!(g->d.uvw_m[3 * row + 2] < 0))
				continue;
			for (int c = 0; c < g->d.nchan; c++) {
				size_t k = row * g->d.nchan + c;
				vis[k] = conjf(vis[k]);
			}
		}
	}
	return 0;
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
	ret->w0 = g->w0;
	ret->dw = g->dw;
	ret->nvis = g->nsel;
	ret->ndropped = g->ndropped;
	ret->grid_s = g->grid_s;
	ret->fft_s = g->fft_s;
	ret->screen_s = g->screen_s;
	ret->index_s = g->index_s;
}

void grid_reset_timing(grid_plan *g)
{
	g->grid_s = g->fft_s = g->screen_s = g->index_s = 0;
}
