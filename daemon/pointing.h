/*
 * daemon/pointing.h — where the dishes point, for one group: the pipeline's
 * adapter between the state database's pointing overrides
 * (state/pointingdb.h), the primary beam (imaging/pbeam.h) and the pointing
 * check (photometry/pointcheck.h).
 *
 * The pointing source is the files' extra_keywords/phase_center_dec by
 * default; an operator's override (contimgctl pointing add) whose UTC range
 * holds the group's mid time replaces it.  pipe_pointing_resolve, run by the
 * convert stage, sets ctx->vis->pointing_dec_rad, which everything that
 * needs the beam reads (calibrator selection and models, the imager's pb and
 * pbcor, the photometry's pb, the pointing check); the phase centre
 * (phase_dec_rad, the fringe-stopping declination) stays the files'.  The
 * choice is recorded in the group's group_pointing row and in ctx->pointing.
 *
 * pipe_pointing_check, run by the photometry stage after forced photometry,
 * fits the declination offset of the beam from the flux ratios of bright,
 * isolated catalog sources north and south of the pointing, stores it in the
 * group's record, and logs a warning (and a group event) when it exceeds
 * [pointing] qa_threshold_deg at qa_min_significance.
 *
 * Configuration: section [pointing] (docs/config.md); contimgd and
 * contimgctl refuse bad values at start-up (pipe_settings_read).
 */
#ifndef CONTIMG_DAEMON_POINTING_H
#define CONTIMG_DAEMON_POINTING_H

#include <stddef.h>

#include "core/config.h"
#include "daemon/pipe_ctx.h"
#include "photometry/forced.h"
#include "photometry/pointcheck.h"
#include "state/catalog.h"

typedef struct pointing_settings {
	int qa;                   /* [pointing] qa (true): run the check */
	pointcheck_params cp;     /* qa_threshold_deg (0.05), qa_min_significance (3),
				     qa_min_sources (6), qa_scatter (0.03) */
	double qa_min_snr;        /* catalog flux / local pbcor rms at least this (30) */
	double qa_min_pb;         /* primary beam at the source at least this (0.25) */
} pointing_settings;

/* Read [pointing] (defaults above); -EINVAL with "[pointing] key ..." in err
 * for a malformed or out-of-range value.  s may be NULL (validation only). */
int pointing_settings_read(const cfg *c, pointing_settings *s, char *err, size_t errlen);

/* After convert (ctx->vis set): choose the pointing, set
 * ctx->vis->pointing_dec_rad, fill ctx->pointing, record it (when ctx->db)
 * and log the choice.  -EIO when the database cannot be read or written. */
int pipe_pointing_resolve(pipe_ctx *ctx, char *err, size_t errlen);

/* After forced photometry on ctx->image: the pointing check on the catalog
 * sources src[n] and their results fr[n] (same order).  Fills ctx->pointing's
 * qa_* fields, records them (when ctx->db), logs.  Returns 0 when the check
 * ran or had too few sources, a negative errno on a database or memory
 * error (the caller may treat it as non-fatal). */
int pipe_pointing_check(pipe_ctx *ctx, const pointing_settings *s, const catalog_source *src,
			const forced_result *fr, size_t n, char *err, size_t errlen);

#endif
