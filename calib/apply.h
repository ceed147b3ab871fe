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
 *
 * Provenance (core/vis.h): once a bandpass or gain table is applied the data
 * are on the flux scale of the calibrator's model, so v->vis_units becomes
 * "Jy" (a delay table alone leaves them as they were); each table applied
 * adds one line to v->history naming its type, its name when the caller gives
 * one (apply_solutions_named: the file it was read from), and what the table
 * says of itself (calibrator, source group, refant, validity).
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

/*
 * apply_solutions, naming the tables in v's history: names[0], [1], [2] for
 * k, b, g (e.g. the caltable paths; names, or any entry, may be NULL: the
 * table is then described by its own metadata only).  Not kept after return.
 */
int apply_solutions_named(vis_set *v, const gaintab *k, const gaintab *b, const gaintab *g,
			  const char *const names[3], int nthreads, apply_stats *ret_stats,
			  char *err, size_t errlen);

#endif
