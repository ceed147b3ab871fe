/*
 * imaging/subband.h — sub-band images restored from the common deconvolution.
 *
 * The band is split into nsub contiguous ranges of the imager's (averaged)
 * channels, as equal as the channel count allows (WSClean -channels-out N).
 * Each sub-band k gets its own dirty image and PSF, normalised by its own
 * Σ w (the MFS imaging weights, as WSClean's -mf-weighting: the weighted sum
 * of the sub-band dirty images is the MFS dirty image).
 *
 * The deconvolution is WSClean's -join-channels without spectral fitting
 * (Offringa & Smirnov 2017, MNRAS 471, 301), but a joined major cycle pays
 * the FFTs N times (docs/performance.md), so the MFS CLEAN does what it can
 * do right and the joined cycles the rest, on a coarser grid:
 *  1. the MFS Cotton–Schwab CLEAN of clean_run_vis with the MFS PSF, until
 *     its minor cycle would clean below the level where a flat-spectrum
 *     model starts to model spectral structure with spurious components
 *     (which then bias every sub-band's flux towards the MFS one): floor_jy
 *     = A · min(1, 2κ), A the spectral deviation √(Σ_k w_k (D_k − D)²) of
 *     the brightest source (the sub-band dirty values at the MFS dirty peak,
 *     by direct sums), κ the MFS PSF's largest sidelobe beyond twice the
 *     major axis (what carries that deviation elsewhere).  A floor at most
 *     CLEAN_FLOOR_MIN (2) × the threshold is not used: the deviation's
 *     sidelobes (A·κ, half the floor) then stay below the threshold, under
 *     which the MFS CLEAN places no component, and step 4 judges what is
 *     left.  Its residual visibilities rvis are those of the MFS model;
 *  2. if it stopped at the floor, joined Cotton–Schwab cycles with
 *     clean_run's rules on the joined grid (joined_factor: f × f image
 *     pixels per pixel, the same sky; f = 1 when no coarser grid holds every
 *     sample with its kernel and samples the restoring beam's minor axis 4
 *     times): the peak is found in the MFS residual (the weighted sum of the
 *     sub-bands'); at that pixel each sub-band gets a component of gain × its
 *     own residual there and subtracts it times its own PSF; each major cycle
 *     subtracts the prediction of each sub-band's joined components from its
 *     slice of rvis (jvis) and grids it;
 *  3. once the spectral deviation left at the MFS residual's peak times κ is
 *     below the next minor cycle's level, the MFS CLEAN resumes on the
 *     image's grid from jvis, with what is left of niter and max_major (its
 *     flat components go to every sub-band; not with an auto-mask, which
 *     that CLEAN would build from its new components alone);
 *  4. if the MFS CLEAN of 1 finished, at most SUBBAND_JOINED_CYCLES joined
 *     cycles with the peak found in q, and only when κ × the peak of q =
 *     √(Σ_k w_k r_k²) is above the threshold in q (auto_threshold ×
 *     √(Σ w_k σ_k²)): q finds what the MFS sum cancels (a spectral residual,
 *     +r in the low sub-bands and −r in the high ones) and is |r| for a flat
 *     one; below that the spectral residual's sidelobes are under the noise
 *     and it stays in the residual, which still carries its flux;
 *  5. the sub-band residuals on the image's grid, each gridded from its
 *     slice of the final residual visibilities: by the last MFS major cycle
 *     when it is known to be the last (clean_run_vis's last_image), else
 *     after the CLEAN.
 * Sub-band model k = MFS model + its joined components (on the image's
 * grid: the joined grid's pixel (x, y) is the image's (f·x, f·y)); the MFS
 * model is their weighted sum and the MFS residual the weighted sum of
 * theirs.  One grid plan per resolution serves all (grid_plan_set_data per
 * sub-band per pass).
 *
 * Restoring: every sub-band model is restored with the MFS restoring beam (a
 * common resolution: forced photometry then fits one beam shape in every
 * sub-band, and fluxes compare directly); WSClean restores each channel with
 * its own fitted beam.  The primary beam is the same drift average as the
 * MFS one (imaging/pbeam.h) over the sub-band's channels only.
 *
 * Ownership: the arrays of a subband_image come from the pool given to
 * subband_clean (clean_params.pool; NULL: plain allocations); subband_images_free
 * gives them back.
 */
#ifndef CONTIMG_SUBBAND_H
#define CONTIMG_SUBBAND_H

#include <stddef.h>

#include "core/pool.h"
#include "imaging/beamfit.h"
#include "imaging/clean.h"
#include "imaging/grid.h"
#include "imaging/weight.h"

#define SUBBAND_MAX 16
#define SUBBAND_JOINED_CYCLES 2
/* The joined cycles' grid: at most this many image pixels a side per pixel,
 * and at least this many pixels across the restoring beam's minor axis. */
#define SUBBAND_MAX_COARSE 4
#define SUBBAND_PIX_PER_BEAM 4

typedef struct subband_image {
	int chan0, nchan;       /* the imager's channels [chan0, chan0 + nchan) */
	double freq_hz;         /* imaging-weighted mean frequency of the sub-band */
	double bandwidth_hz;    /* nchan × channel width */
	double sum_w;           /* Σ imaging weight of its samples */
	float *image;           /* restored with the common beam, Jy/beam */
	float *residual;        /* Jy/beam while deconvolving; NULL in a finished result
				   (its noise is noise_jy) */
	float *pb;              /* primary beam over the sub-band's channels */
	float *pbcor;           /* image / pb, NaN where pb < pb_cut */
	double noise_jy;        /* 1.4826·MAD of the residual */
	double model_flux_jy;   /* Σ model_k */
} subband_image;

/* Split nchan channels into nsub contiguous ranges whose sizes differ by at
 * most one (the first ones get the extra channels): chan0[k], nch[k].
 * -EINVAL when nsub < 2, nsub > SUBBAND_MAX or nsub > nchan. */
int subband_split(int nchan, int nsub, int *chan0, int *nch);

/* The deconvolution described above.  g is the MFS plan with s's data set
 * (they are replaced: grid_plan_set_data per sub-band; take grid_get_info
 * of the MFS data before); s the MFS samples with their imaging weights; psf
 * and, on entry, residual[ny*nx] (the MFS dirty image) and model[ny*nx]
 * (zeros) as for clean_run; cp the CLEAN parameters (nthreads, pool used
 * too); beam the restoring beam.  Fills model (MFS, Jy/pixel), residual
 * (MFS, Jy/beam), *ret_stats (clean_run's, the joined cycles added to
 * major_cycles and counted in joined_cycles; peak and σ of the final MFS
 * residual) and out[nsub] (image, noise, frequency, channels; the residual
 * freed; pb and pbcor left NULL for the caller, which knows the pointing).
 * -EINVAL, -ENOMEM, with the reason in err; on failure out[] holds nothing
 * to free. */
int subband_clean(grid_plan *g, const weight_stokes *s, const float *psf,
		  const clean_params *cp, const beamfit_beam *beam, int nsub, float *model,
		  float *residual, clean_stats *ret_stats, subband_image *out, char *err,
		  size_t errlen);

/* Give back the arrays of out[n] and zero them (NULL pool ok). */
void subband_images_free(subband_image *out, int n, mem_pool *pool);

#endif
