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
 * (Offringa & Smirnov 2017, MNRAS 471, 301): Cotton–Schwab major cycles
 * predict each sub-band's model into its own channels and grid each
 * sub-band's residual; the Högbom minor cycle finds the peak in the MFS
 * residual (the weighted sum of the sub-band residuals) and at that pixel
 * subtracts from each sub-band gain × its own residual value × its own PSF.
 * The MFS model is the weighted sum of the sub-band models, so a source
 * with a spectral index leaves no spectral residual in the MFS image.  The
 * stopping rules are those of clean_run (imaging/clean.h) on the MFS
 * residual.  One grid plan serves all sub-bands (grid_plan_set_data per
 * sub-band, per major cycle): the gridding work per cycle is that of the
 * MFS, the FFTs are paid nsub times (docs/performance.md).
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

/* The joined deconvolution described above.  g is the MFS plan (its data
 * are replaced: grid_plan_set_data per sub-band; take grid_get_info of the
 * MFS data before); s the MFS samples with their imaging weights; cp the
 * CLEAN parameters (nthreads, pool used too); beam the restoring beam.
 * Fills model[ny*nx] (MFS, Jy/pixel), residual[ny*nx] (MFS, Jy/beam),
 * *ret_stats (as clean_run's, for the joined CLEAN) and out[nsub] (image,
 * noise, frequency, channels; the residual freed; pb and pbcor left NULL
 * for the caller, which knows the pointing).  -EINVAL, -ENOMEM, with the
 * reason in err; on failure out[] holds nothing to free. */
int subband_clean(grid_plan *g, const weight_stokes *s, const clean_params *cp,
		  const beamfit_beam *beam, int nsub, float *model, float *residual,
		  clean_stats *ret_stats, subband_image *out, char *err, size_t errlen);

/* Give back the arrays of out[n] and zero them (NULL pool ok). */
void subband_images_free(subband_image *out, int n, mem_pool *pool);

#endif
