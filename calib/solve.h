/*
 * calib/solve.h — bandpass (B), gain (G) and delay (K) solutions from a
 * calibrator group and its model visibilities, with StEFCal (calib/stefcal.h).
 *
 * Inputs: the observed vis_set `v` (flags honoured, autocorrelations and
 * cross-hand pols skipped, weights used) and `model` — model visibilities in
 * exactly v's layout (vis_idx order, e.g. from core/predict.h into a buffer).
 * Outputs: new core/gaintab.h tables (caller frees with gaintab_free), with
 * the convention V_corrected = V_obs / (g[a1] · conj(g[a2])).  Pol index 0 of
 * a table is the X (or R) hand, 1 the Y (or L) hand; a set with only one
 * parallel hand gives one-pol tables.  Antennas are those on cross baselines,
 * numbered as in the set, in ascending antenna number (not in the order the
 * baselines happen to be written: a correlator's input order gives the same
 * tables as an ascending one, rows with ant_1 > ant_2 included).
 *
 * Solve order and what each table holds:
 *  - K (optional, off by default): per antenna/pol delay τ.  Stored as
 *    per-channel phasors exp(2πi (ν − ν_mid) τ) at v's channel frequencies so
 *    gaintab_divide() applies it like any table; *ret_delay_ns gives τ.
 *    Found by per-channel StEFCal over the whole group, an FFT over channels
 *    (zero-padded ×8) for the peak, then a golden-section refinement.
 *  - B: one complex gain per antenna, pol and channel, all integrations of the
 *    group combined (K applied to the model first when given).  Phases are
 *    referred to the reference antenna (first of the ranked list that has at
 *    least refant_min_frac of the best-connected antenna's data, else the
 *    best-connected antenna, the lowest antenna number among equally
 *    connected ones; per channel, the next candidate when the refant
 *    has no solution there).  Solutions with SNR < min_snr are flagged.  The
 *    amplitude is normalised to mean 1 over each antenna's unflagged channels.
 *  - G: per solution interval (solint_s; 0 = the whole group, < 0 = every
 *    integration) with K and B applied to the model.  PHASE mode (default):
 *    the amplitude is one group-wide amplitude-and-phase solve per antenna (it
 *    carries the flux scale B's normalisation took away) and each interval
 *    solves only the phase; AP mode: amplitude and phase per interval.
 *
 * Quality (solve_quality): flagged fraction of the table's solutions, median
 * SNR of the unflagged ones, and the phase scatter in degrees (phases wrapped
 * to [−180, 180)): B — RMS of channel-to-channel phase differences / √2;
 * G with several intervals — RMS of interval-to-interval differences / √2;
 * G with one interval — RMS of the antennas' phases about the refant.
 *
 * Errors: -EINVAL (shape mismatch, no cross baselines, bad params) with a
 * message; -ENOMEM.  A solve where no antenna could be solved still returns a
 * table (all flagged) — the caller decides from the quality.
 */
#ifndef CONTIMG_SOLVE_H
#define CONTIMG_SOLVE_H

#include <complex.h>
#include <stddef.h>

#include "calib/stefcal.h"
#include "core/gaintab.h"
#include "core/vis.h"

#define SOLVE_MAX_REFANTS 32

enum solve_gain_mode { SOLVE_GAIN_PHASE = 0, SOLVE_GAIN_AP = 1 };

typedef struct solve_params {
	int nthreads;          /* OpenMP threads; <= 0 = OpenMP default */
	stefcal_params sc;     /* max_iter 100, tol 1e-6, min_bl 4 (phase_only is set per solve) */
	double min_snr;        /* solutions below are flagged (default 3) */
	double uvmin_lambda;   /* baselines shorter than this are ignored (default 0 = no cut) */
	double uvmax_lambda;   /* and longer (default 0 = no cut) */
	int nrefants;          /* ranked reference antenna numbers (default none) */
	int refants[SOLVE_MAX_REFANTS];
	double refant_min_frac; /* a listed refant needs this fraction of the best
				   antenna's unflagged data (default 0.5) */
	int gain_mode;         /* enum solve_gain_mode (default SOLVE_GAIN_PHASE) */
	double solint_s;       /* gain interval: 0 = group (default), < 0 = per integration */
	char calibrator[64];   /* copied into the tables */
	char source_group[64]; /* copied into the tables */
} solve_params;

void solve_params_init(solve_params *p);

typedef struct solve_quality {
	int refant;               /* antenna number used as reference (-1 none) */
	double flagged_frac;      /* of all solutions in the table */
	double median_snr;        /* over unflagged solutions (0 when none) */
	double phase_scatter_deg; /* see above (NAN when undefined) */
	int max_iter_hit;         /* number of StEFCal solves that did not converge */
} solve_quality;

/* Delay solve.  *ret_k: type "K" table (ntime 1, v->nchan channels).
 * ret_delay_ns (may be NULL): new array [nant*npol] of delays in ns (caller
 * frees), 0 where flagged. */
int solve_delay(const vis_set *v, const float complex *model, const solve_params *p,
		gaintab **ret_k, double **ret_delay_ns, solve_quality *ret_q, char *err,
		size_t errlen);

/* Bandpass solve; k (may be NULL) is applied to the model first.  *ret_b: type
 * "B" table, ntime 1, v->nchan channels (v's frequencies, ascending as in v),
 * time_mjd = the group's mid time. */
int solve_bandpass(const vis_set *v, const float complex *model, const gaintab *k,
		   const solve_params *p, gaintab **ret_b, solve_quality *ret_q, char *err,
		   size_t errlen);

/* Gain solve; k and b (may be NULL) are applied to the model first.  *ret_g:
 * type "G" table with one channel (the band centre) and one time per interval
 * (time_mjd = the interval's mean integration time). */
int solve_gains(const vis_set *v, const float complex *model, const gaintab *k,
		const gaintab *b, const solve_params *p, gaintab **ret_g, solve_quality *ret_q,
		char *err, size_t errlen);

/* Reference antenna that solve_* would choose for v (antenna number, -1 when
 * no antenna has unflagged cross data). */
int solve_choose_refant(const vis_set *v, const solve_params *p);

/* Quality metrics of any table (as described above; refant from the table). */
void solve_table_quality(const gaintab *g, solve_quality *ret_q);

#endif
