/*
 * imaging/grid.h — convolutional gridding and degridding with w-stacking.
 *
 * The two operators of the imager (Arras et al. 2021, A&A 646, A58, "Efficient
 * wide-field radio interferometry response", §3; kernel of Barnett, Magland &
 * af Klinteberg 2019, SIAM J. Sci. Comput. 41, C479):
 *
 *   dirty   D[j] = Re Σ_k  y_k · exp(+2πi (u_k l_j + v_k m_j + w_k (n_j − 1)))
 *   degrid  V_k  =      Σ_j  x[j] · exp(−2πi (u_k l_j + v_k m_j + w_k (n_j − 1)))
 *
 * with (u, v, w) in wavelengths (uvw_m · ν / c of each row and channel), the
 * phase sign of core/vis.h, and no 1/n factor (a pixel value is a flux: a
 * point source of S Jy in a pixel predicts S·exp(...)).  The degridder is the
 * exact adjoint of the dirty operator: Re⟨degrid x, y⟩ = ⟨x, dirty y⟩ up to
 * float rounding, which the conjugate-gradient-free Cotton–Schwab loop relies
 * on to converge.
 *
 * Image layout: float [ny][nx] row-major, x fastest (FITS order).  Pixel
 * (ix, iy) sits at l = −(ix − nx/2)·cell (east to the left, as FITS images with
 * CDELT1 < 0 show it) and m = (iy − ny/2)·cell; the phase centre is pixel
 * (nx/2, ny/2).
 *
 * Accuracy: the exponential-of-semicircle kernel φ(z) = exp(β(√(1−z²) − 1))
 * with support W cells on a grid σ times the image (default σ = 2) and
 * w-planes spaced so that |Δw (n − 1)| ≤ 1/(2σ) reaches the relative L2
 * error `epsilon` (tests/imaging/test_grid.c checks it against a direct
 * Fourier transform).  Gridding correction divides by the kernel's Fourier
 * transform in x, y and w.
 *
 * Speed: samples are sorted once per data set (grid_plan_set_data) by
 * w-plane and 16×16-cell tile; each thread spreads into a private tile buffer
 * and adds it to the grid under a per-stripe lock.  FFTs are batches of 1-D
 * FFTW float transforms over only the rows the data occupy and only the
 * columns the image needs (the rest of the oversampled grid is zero or
 * discarded), planned once per plan under a global planner mutex.
 *
 * Ownership: grid_plan_new allocates the plan (grid, FFT plans, scratch) and
 * grid_plan_free releases it (NULL ok).  grid_plan_set_data keeps POINTERS to
 * the caller's uvw/freq/weight arrays: they must stay alive and unchanged
 * until the next grid_plan_set_data or grid_plan_free.  A plan is used by one
 * thread at a time (it runs its own OpenMP team of nthreads).
 */
#ifndef CONTIMG_GRID_H
#define CONTIMG_GRID_H

#include <complex.h>
#include <stddef.h>

typedef struct grid_params {
	int nx, ny;          /* image size in pixels, even, >= 16 */
	double cell_rad;     /* pixel size (both axes), radians */
	double epsilon;      /* target relative accuracy (default 1e-4) */
	double sigma;        /* grid oversampling factor, 1.5 .. 2.5 (default 2.0) */
	int wstacking;       /* 1 (default): w-stacking; 0: ignore w (2-D gridding) */
	int nthreads;        /* OpenMP threads; <= 0: the OpenMP default */
} grid_params;

void grid_params_default(grid_params *p);

/* Row × channel sample layout (MFS): sample k = row * nchan + chan. */
typedef struct grid_uvdata {
	size_t nrows;
	int nchan;
	const double *uvw_m;   /* [nrows*3], metres */
	const double *freq_hz; /* [nchan] */
	const float *weight;   /* [nrows*nchan]; samples with weight > 0 are used */
} grid_uvdata;

/* What the plan chose and what the last calls cost. */
typedef struct grid_info {
	int nx, ny;           /* image size */
	double cell_rad;
	int nu, nv;           /* oversampled grid size */
	int support;          /* kernel support W (cells) */
	double beta;          /* kernel shape parameter */
	int nplanes;          /* w-planes for the current data (1 without w-stacking) */
	double w0, dw;        /* first plane's w and spacing, wavelengths */
	size_t nvis;          /* samples selected (weight > 0, inside the grid) */
	size_t ndropped;      /* selected samples outside the grid (image cell too coarse) */
	double grid_s;        /* accumulated seconds spreading / interpolating */
	double fft_s;         /* accumulated seconds in FFTs */
	double screen_s;      /* accumulated seconds in w-screens, corrections, copies */
	double index_s;       /* seconds sorting in grid_plan_set_data */
} grid_info;

typedef struct grid_plan grid_plan;

/* Make a plan for an image size and cell: kernel, FFT plans, grid memory.
 * -EINVAL for bad parameters, -ENOMEM. */
int grid_plan_new(const grid_params *p, grid_plan **ret, char *err, size_t errlen);
void grid_plan_free(grid_plan *g);

/* Select and sort the samples of d (weight > 0), choose the w-planes.  Keeps
 * pointers into d's arrays (see the header comment).  Samples whose uv falls
 * outside the grid are dropped and counted in grid_info.ndropped.  -ENOMEM,
 * -EINVAL (more than 2^32 samples). */
int grid_plan_set_data(grid_plan *g, const grid_uvdata *d, char *err, size_t errlen);

/* Dirty image of y_k = weight_k · vis_k (vis NULL: vis_k = 1, the PSF) into
 * image[ny*nx] (overwritten, not normalised: divide by Σ weight for Jy/beam).
 * Returns 0 or -EINVAL when no data was set. */
int grid_dirty(grid_plan *g, const float complex *vis, float *image);

/* Predict vis[k] for every selected sample from image[ny*nx] (model flux per
 * pixel); entries of unselected samples are set to 0.  0 or -EINVAL. */
int grid_degrid(grid_plan *g, const float *image, float complex *vis);

/* Copy of the plan's choices and accumulated timings. */
void grid_get_info(const grid_plan *g, grid_info *ret);

/* Reset the accumulated timings. */
void grid_reset_timing(grid_plan *g);

/* A size >= n that FFTW transforms fast (2^a 3^b 5^c 7^d, even). */
int grid_good_size(int n);

#endif
