/*
 * daemon/stage_photometry.h — the photometry stage: the pipeline's adapter
 * between the pure photometry/ modules and the state database.
 *
 * Per image (one group): forced photometry of every catalog source inside
 * the pbcor cut (photometry/forced.h), then the epoch's science
 * (photometry/epoch.h: references, correction, normalised fluxes, variability
 * updates, retirements, ESE scores) between loading what it needs from
 * state/photdb.h and storing what it returns — photometry rows,
 * variability_stats, ese_candidates, reference_sources — in one BEGIN
 * IMMEDIATE transaction.  This file holds no science and no SQL.
 *
 * Uncalibrated groups are measured and stored (flag PHOT_FLAG_UNCALIBRATED in
 * the CLI's point flags) but kept out of the reference baselines, the
 * retirement checks and the variability statistics.  Epochs normalised while
 * reference baselines are still being built (NORM_PROVISIONAL) or not
 * normalised at all (NORM_TOO_FEW_REFS) are also kept out of variability.
 * A re-run of a group replaces its epoch everywhere: rows, baselines (the
 * first baseline_epochs rows by time), statistics (rebuilt from the rows in
 * time order) and candidates (issue 17).
 *
 * Configuration: section [photometry] (docs/config.md), parsed once with the
 * configuration (daemon/settings.h) and read from ctx->conf.
 */
#ifndef CONTIMG_STAGE_PHOTOMETRY_H
#define CONTIMG_STAGE_PHOTOMETRY_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"
#include "daemon/pipe_ctx.h"
#include "photometry/ese.h"
#include "photometry/forced.h"
#include "photometry/normalize.h"
#include "state/catalog.h"
#include "state/photdb.h"

/* Bit 16 of the CLI's per-point flags: the group was not calibrated. */
#define PHOT_FLAG_UNCALIBRATED (1u << 16)
/* Bit 17: calibrated with a bandpass only (no gain solution in its validity
 * window): flux_jy is not on the flux scale (docs/photometry.md). */
#define PHOT_FLAG_BANDPASS_ONLY (1u << 17)
/* Bit 18: the image failed its quality checks (epoch_quality.flags != 0 with a
 * PHOT_QUAL_BAD bit): shown, but not in the statistics or the ESE fit. */
#define PHOT_FLAG_BAD_QUALITY (1u << 18)

/* photometry.calibrated / groups.calibrated: how a group was calibrated. */
enum phot_cal {
	PHOT_CAL_NONE = 0,        /* nothing applied */
	PHOT_CAL_FULL = 1,        /* a gain solution (with or without bandpass) applied */
	PHOT_CAL_BANDPASS = 2,    /* bandpass only: no gain solution valid at the group */
};

/* epoch_quality.flags: which checks an image failed. */
enum phot_qual {
	PHOT_QUAL_NOISE = 1u << 0,      /* noise > max_noise_ratio × recent median */
	PHOT_QUAL_DR = 1u << 1,         /* dynamic range < min_dynamic_range */
	PHOT_QUAL_FLAGGED = 1u << 2,    /* flagged fraction > max_flagged_frac */
	PHOT_QUAL_CORRECTION = 1u << 3, /* |robust z| of the correction > max_correction_z */
	PHOT_QUAL_CLIPPED = 1u << 4,    /* references clipped > max_clipped_frac */
	PHOT_QUAL_RADIOMETER = 1u << 5, /* noise > max_radiometer_ratio × the radiometer
					   expectation from the image's own visibilities */
	PHOT_QUAL_BAD = 0x3fu,          /* any of the above: a failed epoch */
	PHOT_QUAL_PROVISIONAL = 1u << 7,/* not final (provisional, uncalibrated, too few
					   references): not a failure, but kept out of
					   the running distributions */
};

/* Thresholds of the epoch quality checks ([photometry] quality_*). */
typedef struct phot_quality_settings {
	double max_noise_ratio;   /* 2.0 */
	double min_dynamic_range; /* 0 (off) */
	double max_flagged_frac;  /* 0.5 */
	double max_correction_z;  /* 5 */
	double max_clipped_frac;  /* 0.5 */
	double max_radiometer_ratio; /* 6.0 (0: off; docs/photometry.md says why) */
	int window;               /* recent good epochs the distributions use (30, <= 64) */
} phot_quality_settings;

/* The PHOT_QUAL_BAD checks that q's values fail under qs (a NAN value
 * passes; min_dynamic_range and max_radiometer_ratio 0 turn theirs off): the
 * one judgement the stage stores in epoch_quality.flags and that
 * `contimgctl quality GROUP` applies again with today's settings. */
unsigned phot_quality_failed(const photdb_quality *q, const phot_quality_settings *qs);

/* Image-level inputs of the quality checks (NAN: unknown, the check passes).
 * expected_noise_jy is the image's radiometer expectation from its own
 * visibilities (image_result.expected_noise_jy; <= 0 counts as unknown). */
typedef struct phot_image_qa {
	double noise_jy, dynamic_range, flagged_frac;
	double expected_noise_jy;
} phot_image_qa;

typedef struct phot_settings {
	forced_params fp;
	norm_params np;
	ese_params ep;
	double ese_window_days;   /* ESE fits use the last this-many days (365) */
	double min_flux_mjy;      /* catalog sources fainter than this are not measured (0) */
	phot_quality_settings qual; /* epoch quality checks */
	char catalog_path[4200];  /* [catalog] path, else state_dir/catalog.sqlite (set by
				     daemon/settings.c, the one reader of [catalog]) */
} phot_settings;

/* Defaults for everything (catalog_path empty). */
void phot_settings_default(phot_settings *s);

/* Read [photometry] from c (catalog_path is left empty: daemon/settings.c
 * fills it).  -EINVAL with "[photometry] key ..." in err for a malformed or
 * out-of-range value. */
int phot_settings_read(const cfg *c, phot_settings *s, char *err, size_t errlen);

/* A source whose score reached the candidate threshold this epoch: its
 * ese_candidates row as written, and this epoch's normalised flux. */
typedef struct phot_cand_out {
	photdb_cand c;
	double flux_jy, flux_err_jy;
} phot_cand_out;

/* What one epoch produced (pipe_ctx.phot). */
typedef struct phot_result {
	size_t ncatalog;          /* catalog sources considered */
	size_t nmeasured;         /* inside the image and the pb cut */
	size_t nvalid;            /* with a flux (no FORCED_BAD flag) */
	size_t nrefs;             /* references used for the correction */
	size_t nretired;          /* references retired by this epoch ... */
	char retired[8][64];      /* ... the first 8 of them by name ... */
	double retired_chi2_nu[8];/* ... and their χ²_ν */
	double correction, correction_err; /* NAN when not normalised */
	unsigned norm_flags;      /* enum norm_flag */
	unsigned quality_flags;   /* enum phot_qual */
	size_t ncaught_up;        /* provisional epochs re-run and made final now */
	size_t nvariability;      /* sources whose running statistics got this epoch */
	size_t nscored;           /* sources ESE-scored (passed the gate) */
	size_t ncandidates;       /* of which score >= candidate_score */
	double mjd;
	size_t ncand;             /* sources at or above candidate_score this epoch ... */
	struct phot_cand_out *cand; /* ... [ncand], as stored (owned; the alerts read it) */
	forced_result *forced;    /* [ncatalog] the forced photometry of each catalog
				     source, in the order given (owned; the pointing
				     check reads it) */
} phot_result;

void phot_result_free(struct phot_result *r); /* NULL ok */

/* The photometry stage (a pipeline stage, daemon/pipe_ctx.h): forced
 * photometry of ctx->image, leaves ctx->phot. */
int stage_photometry(pipe_ctx *ctx, char *err, size_t errlen);

/* Frees ctx->phot (the table's release for this stage). */
void stage_photometry_release(pipe_ctx *ctx);

/* One epoch, without the pipeline: measure img (pbcor, with its pb) at the
 * catalog positions src[nsrc] (image centre ra0/dec0 for the reference
 * offsets), then in one transaction load the sources' stored state, run
 * photometry/epoch.h on it and store its results (rows, statistics,
 * candidates, references).  calibrated = 0 keeps the epoch out of baselines
 * and variability.  *ret (may be NULL) gets a new phot_result (caller frees
 * with phot_result_free()).  Returns 0 or a negative errno with the reason in
 * err; on failure nothing is stored. */
int phot_process_epoch(sqlite3 *db, int64_t group_id, double mjd, int calibrated,
		       const forced_image *img, double ra0_rad, double dec0_rad,
		       const catalog_source *src, size_t nsrc, const phot_settings *s,
		       struct phot_result **ret, char *err, size_t errlen);

/* The same with the image-level quality inputs (qa NULL: unknown).
 * calibrated is an enum phot_cal.  Re-running a group replaces its epoch
 * everywhere (rows, baselines, statistics, candidates, quality), and when the
 * epoch is final the stored provisional epochs of its references are re-run
 * from their stored raw fluxes (docs/photometry.md, "Every good epoch"). */
int phot_process_epoch_qa(sqlite3 *db, int64_t group_id, double mjd, int calibrated,
			  const forced_image *img, double ra0_rad, double dec0_rad,
			  const catalog_source *src, size_t nsrc, const phot_settings *s,
			  const phot_image_qa *qa, struct phot_result **ret, char *err,
			  size_t errlen);

#endif
