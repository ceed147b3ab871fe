/*
 * daemon/stage_phot_band.h — the sub-band part of the photometry stage.
 *
 * stage_phot_subbands measures every sub-band image of ctx->image
 * (imaging/subband.h) at the catalog positions with the MFS measurement's
 * method and parameters (photometry/forced.h on each sub-band's pbcor image,
 * its own primary beam, the common restoring beam), stores the fluxes
 * (photometry_subband, with the epoch's normalisation factor) and the
 * in-band spectral index of each source with at least two positive
 * sub-band fluxes (photometry_spindex; photometry/spindex.h), and refits the
 * joint sub-band lens (photometry/ese.h ese_score_subband) of every source
 * that is an ESE candidate (ese_subband), in one transaction.  Nothing to
 * do (0) when the image has no sub-bands.  Called by stage_photometry after
 * the MFS epoch is stored.
 */
#ifndef CONTIMG_STAGE_PHOT_BAND_H
#define CONTIMG_STAGE_PHOT_BAND_H

#include <stddef.h>

#include "daemon/pipe_ctx.h"
#include "daemon/stage_photometry.h"
#include "state/catalog.h"

/* What it did, for the stage's log line. */
typedef struct phot_band_summary {
	int nsub;
	size_t nrows;        /* sub-band measurements stored */
	size_t nspindex;     /* spectral indices stored */
	size_t nlens;        /* candidates whose joint lens fit was updated */
	double median_alpha; /* of the sources with |alpha_err| < 0.2 (NAN: none) */
} phot_band_summary;

int stage_phot_subbands(pipe_ctx *ctx, const phot_settings *s, const catalog_source *src,
			size_t nsrc, phot_band_summary *ret, char *err, size_t errlen);

#endif
