/*
 * imaging/grid.h — convolutional gridding and degridding with w-stacking.
 *
 * The two operators of the imager (Arras et al. 2021, A&A 646, A58, "Efficient
 * wide-field radio interferometry response", §3; kernel of Barnett, Magland &
 * af Klinteberg 2019, SIAM J. Sci. Comput. 41, C479):
 *
 *   dirty   D[j] = Re Σ_k  y_k · exp(−2πi (u_k l_j + v_k m_j + w_k (n_j − 1)))
 *   degrid  V_k  =      Σ_j  x[j] · exp(+2πi (u_k l_j + v_k m_j + w_k (n_j − 1)))
 *
 * with (u, v, w) in wavelengths (uvw_m · ν / c of each row and channel), the
 * phase sign of core/vis.h, and no 1/n factor (a pixel value is a flux: a
 * point source of S Jy in a pixel predicts S·exp(...)).  (l_j, m_j, n_j) are
 * the direction cosines of pixel j in the image's projection (imaging/proj.h):
 * orthographic SIN, or slant SIN with (ξ, η) = grid_params.xi/eta, in which
 * case the gridder works with u·X + v·Y + w'·(n − 1), w' = w + ξu + ηv (the
 * same phase), and only the residual w' needs w-planes.  The degridder is the
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
 * with support W cells on a grid σ times the image (default σ = 2) reaches
 * the relative L2 error `epsilon` (tests/imaging/test_grid.c checks it
 * against a direct Fourier transform); gridding correction divides by the
 * kernel's Fourier transform.  Two w-treatments, chosen per data set by
 * their cost (or forced with grid_params.wkernel):
 *   - GRID_W_ES: w-stacking with the same kernel across w-planes spaced so
 *     that |Δw (n − 1)| ≤ 1/(2σ) (Arras et al. 2021 §3.2), corrected in w
 *     too; ceil(Δw_range/Δw) + W + 1 planes.  Right for large w ranges.
 *   - GRID_W_LAGRANGE: P equally spaced planes spanning the w range, each
 *     sample spread onto all of them with the Lagrange weights of its w, P
 *     the smallest whose interpolation error bound for exp(2πi w (n − 1))
 *     is below ε/2.  Exact at the planes, no w correction; a handful of
 *     planes when the range is small, as in a slant projection of a nearly
 *     coplanar array.
 *
 * Speed: samples are sorted once per data set (grid_plan_set_data) by
 * w-plane and 16×16-cell tile, and their grid geometry is stored in that
 * order; each thread spreads into a private tile buffer and adds it to the
 * grid under a per-stripe lock (tap loops with AVX-512/AVX2 clones).  FFTs
 * are batches of 1-D FFTW float transforms over only the rows the data
 * occupy and only the columns the image needs (the rest of the oversampled
 * grid is zero or discarded), planned once per plan under a global planner
 * mutex.  The column pass applies the w-screen e^{2πi w (n−1)} on the fly
 * (n − 1 tabulated per pixel) and moves data straight between the column
 * buffers and a column-major image, so the image part of the grid is never
 * written, read back or cleared.
 *
 * Ownership: grid_plan_new allocates the plan (grid, FFT plans, scratch),
 * the big buffers from grid_params.pool, and grid_plan_free releases it
 * (NULL ok), giving them back.  grid_plan_set_data keeps POINTERS to
 * the caller's uvw/freq/weight arrays: they must stay alive and unchanged
 * until the next grid_plan_set_data or grid_plan_free.  A plan is used by one
 * thread at a time (it runs its own OpenMP team of nthreads).
 */
#ifndef CONTIMG_GRID_H
#define CONTIMG_GRID_H

#include <complex.h>
#include <stddef.h>

#include "core/pool.h"

enum grid_wkernel { GRID_W_AUTO = 0, GRID_W_ES, GRID_W_LAGRANGE };

/* grid_degrid of a model with few non-zero pixels (the first major cycles on
 * a bright calibrator: a handful of pixels) as a direct sum instead of FFTs
 * and interpolation: exact, and cheaper while (pixels × samples) is small
 * against the measured cost of the FFT path. */
enum grid_dft { GRID_DFT_AUTO = 0, GRID_DFT_NEVER, GRID_DFT_ALWAYS };

typedef struct grid_params {
	int nx, ny;          /* image size in pixels, even, >= 16 */
	double cell_rad;     /* pixel size (both axes), radians */
	double xi, eta;      /* slant of the SIN projection (imaging/proj.h; default 0, 0) */
	double epsilon;      /* target relative accuracy (default 1e-4) */
	double sigma;        /* grid oversampling factor, 1.2 .. 3 (default 2.0) */
	int wstacking;       /* 1 (default): correct the w-term; 0: ignore w (2-D gridding) */
	int wkernel;         /* enum grid_wkernel (default GRID_W_AUTO: the cheaper one) */
	int degrid_dft;      /* enum grid_dft (default GRID_DFT_AUTO: by cost) */
	int nthreads;        /* OpenMP threads; <= 0: the OpenMP default */
	mem_pool *pool;      /* big buffers from and back to this pool (core/pool.h;
				default NULL: plain allocations); must outlive the plan */
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
	int wkernel;          /* GRID_W_ES or GRID_W_LAGRANGE (0 without w-stacking) */
	double w0, dw;        /* first plane's w and spacing, wavelengths */
	double wmax;          /* largest |w'| of the selected samples, wavelengths */
	size_t nvis;          /* samples selected (weight > 0, inside the grid) */
	size_t ndropped;      /* selected samples outside the grid (image cell too coarse) */
	double grid_s;        /* accumulated seconds spreading / interpolating */
	double fft_s;         /* accumulated seconds in FFTs */
	double screen_s;      /* accumulated seconds in w-screens, corrections, copies */
	double index_s;       /* seconds sorting in grid_plan_set_data */
	int ndegrid_dft;      /* grid_degrid calls done as a direct sum (GRID_DFT_*) */
} grid_info;

typedef struct grid_plan grid_plan;

/* Make a plan for an image size and cell: kernel, FFT plans, grid memory.
 * -EINVAL for bad parameters (including a slant under which part of the
 * image has no direction), -ENOMEM. */
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
 * pixel); entries of unselected samples are set to 0.  A sparse image may be
 * predicted by the direct sum of the operator above (grid_params.degrid_dft):
 * the same result to the gridder's accuracy, since that is the operator the
 * gridder approximates.  0, -EINVAL, -ENOMEM (direct sum only: the FFT path
 * is taken instead). */
int grid_degrid(grid_plan *g, const float *image, float complex *vis);

/* The dirty image at a few pixels by the direct sum of the operator above,
 * per channel: ret_chan[k*nchan + c] = Re Σ_rows weight·vis·exp(−2πi(...)) of
 * channel c at pixel pix[k] (row-major index), not normalised, over the
 * samples with weight > 0 (dropped ones included: the sum needs no grid).
 * Cost O(npix × samples), for a handful of pixels.  0, -EINVAL (no data),
 * -ENOMEM. */
int grid_dirty_pixels(grid_plan *g, const float complex *vis, const int *pix, size_t npix,
		      double *ret_chan);

/* The parameters the plan was made with (grid_params.pool included). */
void grid_get_params(const grid_plan *g, grid_params *ret);

/* Copy of the plan's choices and accumulated timings. */
void grid_get_info(const grid_plan *g, grid_info *ret);

/* Reset the accumulated timings. */
void grid_reset_timing(grid_plan *g);

/* The slant (ξ, η) of the least-squares plane w = −ξ u − η v through the
 * baselines of d (uvw_m of the rows with a sample of weight > 0), so that
 * w' = w + ξ u + η v is as small as it can be made: for a nearly coplanar
 * array (DSA-110: max |w| 640 m → |w'| < 16 m) imaging in the slant
 * projection needs a few w-planes instead of tens.  Returns 1 with the
 * slant when it removes at least half of max |w| and |ξ|, |η| <= 4;
 * otherwise 0 with ξ = η = 0 (the orthographic projection). */
int grid_fit_wplane(const grid_uvdata *d, int nthreads, double *ret_xi, double *ret_eta);

/* Optional FFTW wisdom file ([image] fftw_wisdom): the measurements behind
 * the FFTW_MEASURE plans, so that a new process (a `contimgctl process` run,
 * a daemon restart) does not measure them again (~0.3 s per plan at 8192
 * points, four plans per image size).
 *   grid_wisdom_import  reads path into FFTW, once per process (later calls
 *                       return 0 at once): 0, -ENOENT when there is no file
 *                       yet (a first run), -EILSEQ when FFTW rejects it
 *                       (another FFTW version or build wrote it; the next
 *                       export replaces it).  FFTW only accepts wisdom from
 *                       a planner with the same solvers registered in the
 *                       same order, so both functions initialise FFTW's
 *                       threads first, as grid_plan_new does.
 *   grid_wisdom_export  writes FFTW's wisdom to path (through path.tmp<pid>
 *                       and a rename) when plans made since the import or
 *                       the last export added something; 0 or -errno.
 * Both take the planner mutex, so they are safe beside plans being made. */
int grid_wisdom_import(const char *path);
int grid_wisdom_export(const char *path);

/* A size >= n that FFTW transforms fast (2^a 3^b 5^c 7^d, even). */
int grid_good_size(int n);

#endif
