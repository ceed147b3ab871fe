/*
 * imaging/image.h — the imaging stage: a rephased vis_set in, the six images
 * (image, residual, psf, model, pb, pbcor) and their statistics out.
 *
 *   weight (Stokes I, weights) → grid plan → PSF, dirty → beam fit →
 *   CLEAN (Cotton–Schwab) → restore → primary beam → pbcor
 *
 * The input must be FIXED-phased (core/convert.h): the image is the SIN
 * projection about (phase_ra_rad, phase_dec_rad) in ICRS, pixel (nx/2, ny/2)
 * at the centre, east to the left (imaging/proj.h).  By default it is the
 * slant SIN of the array's best-fit plane (grid_fit_wplane; FITS PV2_1/PV2_2
 * = result xi/eta) whenever that halves the w range, which for DSA-110 cuts
 * the w-planes from ~19 to ~4; with wplane_fit = 0 (or a non-coplanar array)
 * it is the orthographic SIN.  Autocorrelations are skipped.  Everything is
 * pure: no files, no database, no logging.
 *
 * Defaults (image_params_default): 4096 × 4096 at 3″, Briggs robust 0,
 * ε = 1e-4 with w-stacking, niter 20000, gain 0.1, major gain 0.8,
 * auto-threshold 3σ, at most 20 major cycles, restoring beam fitted like
 * WSClean (box of 10 theoretical beams), pb cut 0.2, 4.65 m dish.
 * image_params_quicklook(): 2048 × 2048 at 6″, niter 2000, 8 major cycles,
 * auto-threshold 5σ.
 *
 * With image_params.subbands = N >= 2 the result also holds N sub-band
 * images (image, pb, pbcor each) restored from the common
 * deconvolution with the MFS restoring beam (imaging/subband.h); the MFS
 * products are the same as without them.
 *
 * Ownership: image_run allocates *ret, its images from image_params.pool;
 * image_result_free releases it (NULL ok), the images back to that pool,
 * which must still exist.
 */
#ifndef CONTIMG_IMAGE_H
#define CONTIMG_IMAGE_H

#include <stddef.h>

#include "core/vis.h"
#include "imaging/beamfit.h"
#include "imaging/clean.h"
#include "imaging/grid.h"
#include "imaging/noise.h"
#include "imaging/proj.h"
#include "imaging/subband.h"
#include "imaging/weight.h"

typedef struct image_params {
	int nx, ny;             /* pixels (even) */
	double cell_rad;        /* pixel size */
	int weighting;          /* enum weight_mode */
	double robust;          /* Briggs robust (−2 .. 2) */
	double taper_fwhm_rad;  /* Gaussian taper, 0 = none */
	double uvmin_lambda, uvmax_lambda; /* 0 = none */
	int chan_avg;           /* channels averaged before gridding (1 = none) */
	double epsilon;         /* gridding accuracy */
	double sigma;           /* grid oversampling */
	int wstacking;          /* 1 = correct the w-term (w-planes) */
	int wplane_fit;         /* 1 (default): slant projection of the array's plane */
	clean_params clean;     /* niter, gains, thresholds, auto-mask, max_major */
	int beam_box;           /* 1 (default): WSClean-style box fit of the PSF
				   (beamfit_psf_box), kept unless it diverges or
				   lands beyond 3x / below 0.5x the main-lobe beam;
				   0: main-lobe fit only */
	double beam_box_scale;  /* box width in theoretical beams 1/max|uv| (10) */
	double pb_cut;          /* pbcor blanked where pb < pb_cut (default 0.2) */
	double diam_m;          /* dish diameter for the primary beam (4.65) */
	double dut1_s;          /* UT1 − UTC for the beam's pointing (0) */
	double xp_rad, yp_rad;  /* polar motion for the beam's pointing (0; core/astro.h) */
	int subbands;           /* sub-band images from the common deconvolution
				   (imaging/subband.h): 2 .. SUBBAND_MAX; 0 or 1 = none
				   (the default here; the image stage's default is 4) */
	int nthreads;           /* <= 0: OpenMP default */
	mem_pool *pool;         /* big buffers (grids, samples, the result's images) from
				   this pool and back (core/pool.h); a daemon worker keeps
				   one across groups.  Default NULL: plain allocations. */
} image_params;

void image_params_default(image_params *p);
void image_params_quicklook(image_params *p);

typedef struct image_timing {
	double weight_s;        /* Stokes I + weights */
	double plan_s;          /* gridder set-up: FFTW plans, buffers, sorting the samples */
	double index_s;         /* of which sorting samples for the gridder */
	double psf_s, dirty_s;  /* the two first inversions */
	double minor_s, major_s;/* CLEAN */
	double grid_s, fft_s, screen_s; /* gridder internals, summed over every call */
	double restore_s, pb_s;
	double total_s;
	double subband_s;       /* of total_s: the sub-band pass (gridding, CLEAN, restore, pb) */
} image_timing;

typedef struct img_result {
	int nx, ny;
	double cell_rad;
	double ra0_rad, dec0_rad;   /* ICRS centre */
	double xi, eta;             /* SIN slant (imaging/proj.h; 0, 0: orthographic) */
	float *image;               /* restored, Jy/beam */
	float *residual;            /* Jy/beam */
	float *psf;                 /* peak 1 */
	float *model;               /* Jy/pixel */
	float *pb;                  /* time/band-averaged power beam */
	float *pbcor;               /* image / pb, NaN where pb < pb_cut */
	double pb_cut;
	double pointing_dec_rad;    /* apparent declination of the pointing pb was made for */
	beamfit_beam beam;
	double noise_jy;            /* 1.4826·MAD of the residual */
	double peak_jy;             /* max of the restored image */
	double dynamic_range;       /* peak / noise */
	double freq_hz;             /* imaging-weighted mean frequency */
	double bandwidth_hz;        /* highest − lowest channel edge */
	double jd_start, jd_mid;    /* first integration's start, group mid time (UTC JD) */
	double exposure_s;          /* integrations × integration time */
	double sum_w, sum_w2_over_d;/* weight sums (noise expectation: see weight.h) */
	double vis_sigma_unit;      /* σ of Re I at data weight 1, measured from the data
				       (imaging/noise.h); NAN when it could not be */
	int vis_noise_method;       /* how: enum noise_method (NOISE_NONE with NAN) */
	double expected_noise_jy;   /* the radiometer expectation of this image,
				       vis_sigma_unit · sqrt(sum_w2_over_d) / sum_w
				       (noise.h (1)); NAN when vis_sigma_unit is */
	size_t nvis_in;             /* input cross-correlation samples (all pols) */
	size_t nvis_gridded;        /* Stokes I samples gridded */
	double mvis_per_s;          /* nvis_in / total seconds / 1e6 */
	int weighting;
	double robust;
	char weighting_desc[48];    /* e.g. "briggs 0" */
	clean_stats clean;
	grid_info grid;
	image_timing t;
	char group[256];            /* vis_set name */
	char telescope[64];
	mem_pool *pool;             /* the images go back there (image_result_free) */
	int nsub;                   /* sub-band images (0: none) */
	subband_image *sub;         /* [nsub], low to high frequency; freed with the result */
} image_result;

/* Image v.  -EINVAL for a DRIFT set or bad parameters, -ENOMEM; the reason
 * in err. */
int image_run(const vis_set *v, const image_params *p, image_result **ret, char *err,
	      size_t errlen);
void image_result_free(image_result *r);

/* The pixel geometry of a result, and pixel (0-based, fractional) ↔ ICRS
 * through it (imaging/proj.h; -1 outside the projection's domain or on the
 * far hemisphere). */
img_proj image_proj(const image_result *r);
int image_pix_to_radec(const image_result *r, double x, double y, double *ret_ra,
		       double *ret_dec);
int image_radec_to_pix(const image_result *r, double ra, double dec, double *ret_x,
		       double *ret_y);

/* Sub-pixel peak near (x0, y0): the maximum within `radius` pixels, refined by
 * a 3×3 quadratic (paraboloid) fit.  Returns -1 when no finite pixel. */
int image_peak_fit(const float *img, int nx, int ny, int x0, int y0, int radius,
		   double *ret_x, double *ret_y, double *ret_peak);

#endif
