/*
 * calib/apply.h — correct a visibility set with calibration solutions.
 *
 * apply_solutions() divides the data by the delay (K, when given), bandpass
 * (B) and gain (G) tables, in that order (they are diagonal, so the order only
 * matters for which flags appear first):
 *
 *     V_corrected(a1, a2) = V_obs / (g[a1] · conj(g[a2]))      for each table
 *
 * Matching (core/gaintab.h gaintab_divide): antennas by number, channels by
 * nearest frequency (a one-channel G table applies to every channel), times by
 * the nearest solution time.  A sample whose solution is flagged, missing
 * (antenna or channel not in the table) or zero gets VIS_FLAG_CAL and keeps
 * its value.  Weights are not rescaled.
 */
#ifndef CONTIMG_APPLY_H
#define CONTIMG_APPLY_H

#include <stddef.h>

#include "core/gaintab.h"
#include "core/vis.h"

typedef struct apply_stats {
	int ntables;        /* tables applied */
	double cal_flagged_frac; /* fraction of cross samples that gained VIS_FLAG_CAL */
} apply_stats;

/*
 * Apply k, b, g (each may be NULL; a table whose type is set must be "K",
 * "B", "G" respectively) to v in place.  nthreads <= 0: OpenMP default.
 * ret_stats may be NULL.  Returns 0, -EINVAL (wrong table type, polarisation
 * mismatch; message in err), -ENOMEM.  On failure v may be partly corrected.
 */
int apply_solutions(vis_set *v, const gaintab *k, const gaintab *b, const gaintab *g,
		    int nthreads, apply_stats *ret_stats, char *err, size_t errlen);

#endif
