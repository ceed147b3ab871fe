/*
 * photometry/epoch.h — one epoch of a field's photometry: which catalog
 * sources are references, the epoch's flux-scale correction, every source's
 * normalised flux, the update of its running variability statistics, the
 * retirement of references that stopped being constant, and the ESE scores of
 * the sources that look variable.  Pure functions: plain structs in (the
 * forced photometry of one image, and what the state database holds about its
 * sources), plain structs out (what to store); no I/O, no logging.  The
 * photometry stage (daemon/stage_photometry.c) loads, calls and stores in one
 * transaction.
 *
 * Definitions (SPEC §3 "Normalise" and "Variability & ESE"; docs/photometry.md):
 *
 *   reference SNR   the catalog's SNR; when the catalog has none (a plain CSV
 *                   import), catalog flux / catalog flux error; when that is
 *                   unknown too, the SNR measured in this image (flux / error).
 *                   A source measured without a flux (FORCED_BAD) or fitted
 *                   jointly with a neighbour (FORCED_BLENDED) has none.
 *   candidates      the sources with reference SNR >= ref_min_snr (50), not
 *                   resolved, not confused, within ref_max_offset_rad (1.5°)
 *                   of the image centre, by SNR descending (norm_select_refs).
 *   references      the first ref_max (20) candidates that are not retired.
 *   baseline        the median of a reference's first baseline_epochs (10)
 *                   calibrated raw fluxes, usable once baseline_min_epochs (3)
 *                   exist (norm_ref_add_baseline).  A calibrated epoch adds its
 *                   flux while fewer than baseline_epochs are held.
 *   correction c    the median of raw/baseline over the references with a
 *                   baseline after clip_sigma (3) × 1.4826·MAD clipping about
 *                   the median, needing min_refs (3) survivors, else the epoch
 *                   is not normalised (NORM_TOO_FEW_REFS);
 *                   σ_c = sqrt(π/2) · max(scatter of the kept ratios, their
 *                   mean error) / sqrt(kept)   (norm_epoch_correction).
 *   provisional     some reference used has a baseline with fewer than
 *                   baseline_epochs epochs (NORM_PROVISIONAL): normalised, but
 *                   the flux scale still moves from epoch to epoch.  When at
 *                   least min_refs references have complete baselines, only
 *                   those are used (one new reference does not make the epoch
 *                   provisional).  A provisional epoch's rows are stored and,
 *                   once the baselines are complete, the stage re-runs it from
 *                   its stored raw fluxes (a catch-up) and it enters the
 *                   statistics (docs/photometry.md).
 *   final           calibrated, normalised, not provisional and not of bad
 *                   quality (epoch_input.bad_quality).  Only final
 *                   epochs enter the variability statistics and the
 *                   retirement checks.
 *   normalised flux raw / c, error sqrt(σ² + (raw σ_c / c)²) / c (norm_apply).
 *   variability     a measured source enters its running statistics
 *                   (photometry/variability.h, var_add with VAR_VS_MIN) when
 *                   the epoch is final, it has a normalised flux with a
 *                   positive error, and this group's epoch is not already
 *                   counted (a re-run never counts an epoch twice).  With
 *                   epoch_input.rebuild the caller asks instead for the
 *                   statistics of the stored points plus this one in time
 *                   order: how the stage replaces a re-run epoch and folds in
 *                   a caught-up or late one.
 *   retirement      after a final epoch, a reference whose normalised light
 *                   curve (the points in the statistics) over
 *                   (mjd − retire_window_days, mjd], this epoch included, has
 *                   χ²_ν about its weighted mean > retire_chi2_nu (2) with at
 *                   least retire_min_epochs (20) points is retired for good
 *                   (norm_should_retire).
 *   ESE gate        a source whose statistics after this epoch have n >
 *                   ese.min_epochs (12) and χ²_ν > ese.gate_chi2_nu (3) or
 *                   V > ese.gate_v (0.05) is ESE-scored on its light curve of
 *                   the last ese_window_days (365), this epoch included
 *                   (photometry/ese.h); a score >= ese.candidate_score (0.6)
 *                   makes or updates a candidate, a lower one only refreshes
 *                   an existing candidate's numbers.
 *
 * The calls, in order (a stage adapter does exactly this):
 *
 *   1. epoch_ref_candidates()   which sources may be references (pure);
 *   2. the caller loads, for each candidate, its stored reference state and
 *      its light curve over the retirement window, and for each measured
 *      source whether this group's epoch is already counted and its running
 *      statistics;
 *   3. epoch_run()              references, correction, normalised fluxes,
 *                               variability updates, retirements, ESE gate;
 *   4. the caller loads the light curve over the ESE window of each gated
 *      source (only those: reading every source's year of history would cost
 *      more than the epoch);
 *   5. epoch_score_ese()        the ESE fits (in parallel) and the
 *                               candidate decisions;
 *   6. the caller stores the rows, statistics, candidates and references.
 *
 * Light curves handed in (epoch_lc) are the points that entered the
 * statistics, from other groups than this one, in time order; the functions
 * add this epoch's point themselves (after the points of the same mjd).
 */
#ifndef CONTIMG_EPOCH_H
#define CONTIMG_EPOCH_H

#include <stddef.h>

#include "photometry/ese.h"
#include "photometry/forced.h"
#include "photometry/normalize.h"
#include "photometry/variability.h"

typedef struct epoch_params {
	norm_params norm;        /* references, baselines, correction, retirement */
	ese_params ese;          /* the variability gate, the ESE fit and the candidate score */
	double ese_window_days;  /* ESE fits use the last this-many days (365) */
	int threads;             /* ESE fits in parallel on this many threads (1) */
} epoch_params;

/* The defaults of docs/config.md [photometry]. */
void epoch_params_default(epoch_params *p);

/* A catalog source as the epoch sees it. */
typedef struct epoch_source {
	double ra_rad, dec_rad;       /* catalog position (ICRS) */
	double snr;                   /* catalog SNR; NAN when the catalog has none */
	double flux_mjy, e_flux_mjy;  /* catalog flux and its error (NAN or <= 0: unknown) */
	int resolved, confused;       /* the catalog says extended / blended */
} epoch_source;

/* A time series of normalised fluxes (borrowed: nothing is freed). */
typedef struct epoch_lc {
	const double *mjd, *flux, *err;
	size_t n;
} epoch_lc;

/* The stored state of a reference source (one per source, so it serves every
 * image the source falls in). */
typedef struct epoch_ref {
	norm_ref norm;           /* baseline epochs (raw fluxes), baseline, retired */
	double snr;              /* the reference SNR it was last chosen with */
	double retired_mjd;      /* when it was retired (NAN: not retired) */
	double retire_chi2_nu;   /* the χ²_ν that retired it (NAN) */
} epoch_ref;

/* A source never chosen before: no baseline epochs, not retired, NANs. */
void epoch_ref_init(epoch_ref *r);

/* What the caller hands in.  The arrays are borrowed; entries that a comment
 * says are not read may hold anything. */
typedef struct epoch_input {
	double mjd;                  /* the image's mid time (UTC MJD) */
	int calibrated;              /* 0: measured and stored, but kept out of the
					baselines, the statistics and retirement */
	double ra0_rad, dec0_rad;    /* image centre (the references' offsets) */
	size_t n;                    /* catalog sources */
	const epoch_source *src;     /* [n] */
	const forced_result *fr;     /* [n] their forced photometry on this image */
	/* loaded from the state database (step 2): */
	const epoch_ref *ref;        /* [n] stored reference state (epoch_ref_init when
					none); read for the candidates only */
	const epoch_lc *ref_lc;      /* [n] light curve with at least the points in
					(mjd − retire_window_days, mjd]; read for the
					chosen references only (not for retired ones) */
	const int *counted;          /* [n] 1: this group's epoch is already in the
					source's statistics (a re-run); read for
					measured sources only */
	const var_state *var;        /* [n] the running statistics before this epoch
					(var_init when none); read for measured
					sources only */
	/* Issue 17 (all zero/NULL: the behaviour above). */
	int base_ready;              /* 1: ref[i].norm already holds this epoch's raw
					flux where it belongs (the caller derived the
					baseline epochs from the stored rows: the first
					baseline_epochs calibrated ones by time, this
					group's included), so it is not appended again */
	int bad_quality;             /* 1: the image failed its quality checks: rows are
					normalised and flagged NORM_BAD_QUALITY, but the
					epoch is not final and shapes no baseline */
	const int *rebuild;          /* [n] or NULL.  1: the source's statistics are
					recomputed from rebuild_lc[i] with this epoch's
					point (when usable) inserted in time order, not
					updated by one var_add — for a re-run, a
					catch-up of a provisional epoch, or an epoch
					older than the last one counted; counted[i] and
					var[i] are then not read */
	const epoch_lc *rebuild_lc;  /* [n] every point in the statistics from other
					groups, in (mjd, group) order; read where
					rebuild[i] */
} epoch_input;

/* Does source i get a photometry row?  (Inside the image and the pb cut.) */
int epoch_measured(const forced_result *fr);

/* The reference SNR of a source (definition above; NAN when none). */
double epoch_ref_snr(const epoch_source *src, const forced_result *fr);

/* Step 1: the candidates of in->src/in->fr (the fields up to fr are read),
 * best first, as indices into in->src.  *ret_idx is malloc'd (caller frees;
 * NULL when *ret_n == 0).  Returns 0 or -ENOMEM. */
int epoch_ref_candidates(const epoch_input *in, const norm_params *p, size_t **ret_idx,
			 size_t *ret_n);

/* A reference used this epoch. */
typedef struct epoch_ref_out {
	size_t src;              /* index into in->src */
	epoch_ref state;         /* its state after this epoch: snr, baseline epochs
				    (this one added when calibrated), retirement */
	int store;               /* 1: write the state back (calibrated epochs) */
	int retired_now;         /* retired by this epoch (χ²_ν in state.retire_chi2_nu) */
} epoch_ref_out;

/* What a measured source's photometry row gets. */
typedef struct epoch_row {
	int measured;            /* epoch_measured(): 0 means no row */
	double norm_flux_jy;     /* normalised flux (NAN when the epoch is not normalised) */
	double norm_flux_err_jy; /* its error */
	int in_variability;      /* the row is (now or from before) in the statistics */
	long var;                /* index into epoch_result.var, or -1 */
} epoch_row;

enum epoch_cand_action {
	EPOCH_CAND_NONE = 0,     /* not scored: nothing to do */
	EPOCH_CAND_UPSERT,       /* score >= candidate_score: insert or update the candidate */
	EPOCH_CAND_REFRESH,      /* scored below: update an existing candidate's numbers only */
};

/* An update of one source's running statistics. */
typedef struct epoch_var {
	size_t src;              /* index into in->src */
	var_state st;            /* the statistics with this epoch added (store these) */
	var_stats vs;            /* their derived values */
	int gated;               /* passes the ESE gate: epoch_score_ese() fits it */
	double ese_score;        /* for the statistics row: NAN while n <= ese.min_epochs,
				    else 0, or the ESE score of a gated source
				    (set by epoch_score_ese) */
	ese_result ese;          /* the fit of a gated source (epoch_score_ese; zero
				    for the others) */
	int cand;                /* enum epoch_cand_action (epoch_score_ese) */
} epoch_var;

typedef struct epoch_result {
	norm_epoch norm;         /* correction, its error, references used after
				    clipping (nref_used), flags (enum norm_flag) */
	int final;               /* calibrated, normalised, not provisional */
	size_t nref;             /* references chosen, best first ... */
	epoch_ref_out *ref;      /* ... [nref] */
	size_t nretired;         /* of which retired by this epoch */
	size_t n;                /* = in->n */
	epoch_row *row;          /* [n] */
	size_t nmeasured;        /* sources with a row */
	size_t nvalid;           /* of which with a flux (no FORCED_BAD flag) */
	size_t nvar;             /* sources whose statistics take this epoch ... */
	epoch_var *var;          /* ... [nvar], in source order */
	size_t nscored;          /* ESE-scored (epoch_score_ese) */
	size_t ncandidates;      /* of which score >= candidate_score */
} epoch_result;

/* Step 3.  Fills *ret (release with epoch_result_release(), also after an
 * error).  Returns 0, -EINVAL when an input array is NULL while in->n > 0,
 * or -ENOMEM. */
int epoch_run(const epoch_input *in, const epoch_params *p, epoch_result *ret);

/* Step 5.  lc[k] (k < r->nvar) is the light curve of r->var[k].src: its
 * points with mjd >= in->mjd − ese_window_days (earlier ones are dropped here;
 * later ones, which exist when an old group is re-run, are fitted too); read
 * for gated entries only.  Fills ese, ese_score and cand of the gated
 * r->var[k], r->nscored and r->ncandidates.  May be called again on the same
 * result (it recomputes).  Returns 0 or -ENOMEM. */
int epoch_score_ese(const epoch_input *in, const epoch_lc *lc, const epoch_params *p,
		    epoch_result *r);

/* Free what *r owns and zero it (NULL ok). */
void epoch_result_release(epoch_result *r);

/* The running statistics of a stored light curve (every point in time order,
 * var_add with VAR_VS_MIN; points without a finite flux and a positive error
 * are skipped) — for a stored state written by a build with another
 * var_state layout. */
void epoch_var_rebuild(const epoch_lc *lc, var_state *ret);

#endif
