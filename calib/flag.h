/*
 * calib/flag.h — flagging of a visibility set: bad samples, configured
 * antennas/channels, dead antennas and RFI.
 *
 * flag_run() works in place on a vis_set and only ever ADDS flag bits:
 *  1. NaN/Inf/exact-zero samples → VIS_FLAG_NONFINITE; autocorrelations →
 *     VIS_FLAG_AUTO (when flag_autos; they are never imaged).
 *  2. Configured antennas (antenna numbers), channels (indices) and frequency
 *     ranges (MHz; a channel is hit when its extent overlaps the range)
 *     → VIS_FLAG_CONFIG.
 *  3. Dead antennas: all cross samples bad, or mean autocorrelation power
 *     below dead_auto_frac × the median antenna's, or mean cross amplitude
 *     below dead_cross_frac × the median antenna's → the whole antenna is
 *     flagged VIS_FLAG_NONFINITE ("no valid signal"; vis.h has no separate
 *     bit) and listed in the stats.
 *  4. RFI on every cross baseline and polarisation, on the time × frequency
 *     amplitude plane: `passes` rounds of [smooth background (masked box
 *     means over channels then time) → residual → robust σ (MAD) →
 *     SumThreshold (Offringa et al. 2010, MNRAS 405, 155) with windows
 *     M = 1, 2, 4, … in frequency then time, χ_M = χ₁ · ρ^(−log2 M)], with χ₁
 *     starting at chi1 · pass_factor^(passes−1) and ending at chi1; then the
 *     scale-invariant rank (SIR) dilation (Offringa et al. 2012, A&A 539,
 *     A95) in time and in frequency; then polarisations are OR-ed; then a
 *     (time, channel) cell flagged on more than combine_frac of the
 *     baselines is flagged on all of them.
 *  5. Per channel and polarisation, a MAD clip ACROSS baselines of each
 *     baseline's time-mean amplitude (catches RFI steady over the whole
 *     24-integration window, which a time-direction smooth absorbs), and a
 *     clip of whole channels whose median-over-baselines amplitude stands
 *     above a running median over frequency.
 * Steps 4–5 set VIS_FLAG_RFI only on samples that were still unflagged.
 *
 * Fractions in flag_stats count cross-correlation samples only (autos are
 * excluded from every statistic).
 */
#ifndef CONTIMG_FLAG_H
#define CONTIMG_FLAG_H

#include <stddef.h>

#include "core/vis.h"

#define FLAG_MAX_LIST 256

typedef struct flag_params {
	int nthreads;          /* OpenMP threads; 0 = OpenMP default (default 0) */
	int flag_autos;        /* mark autocorrelations VIS_FLAG_AUTO (default 1) */

	/* Configured flags (antenna numbers as in vis_ant.number; channel indices
	 * into the set; frequency ranges [lo, hi] in MHz, lo == hi for a line). */
	int nbad_ants, bad_ants[FLAG_MAX_LIST];
	int nbad_chans, bad_chans[FLAG_MAX_LIST];
	int nbad_freq;
	double bad_freq_mhz[FLAG_MAX_LIST][2];

	/* Dead antennas. */
	double dead_auto_frac;  /* mean auto power below this × median antenna (default 0.1) */
	double dead_cross_frac; /* mean cross amplitude below this × median antenna (default 0.1) */

	/* SumThreshold (step 4). */
	int rfi;               /* run steps 4 and 5 (default 1) */
	double chi1;           /* final single-sample threshold in robust σ (default 5.0) */
	double rho;            /* χ_M = χ₁ ρ^(−log2 M) (default 1.5, Offringa 2010) */
	int max_window_freq;   /* largest window along frequency (default 32) */
	int max_window_time;   /* largest window along time (default 16) */
	int passes;            /* rounds with decreasing threshold (default 2) */
	double pass_factor;    /* threshold ratio between rounds (default 1.5) */
	int smooth_chan;       /* background box width in channels (default 15) */
	int smooth_time;       /* background box width in integrations (default 5) */
	double sir_eta;        /* SIR aggressiveness η; 0 disables (default 0.2) */
	int pol_or;            /* flag all polarisations when one is hit (default 1) */
	double combine_frac;   /* a (time, channel) cell flagged on more than this fraction
				  of the baselines is flagged on all; 0 disables (default 0.5) */

	/* Across-baseline clips (step 5); 0 disables. */
	double bl_clip;        /* baseline-channel clip in robust σ (default 5.0) */
	double chan_clip;      /* whole-channel clip in robust σ (default 5.0) */
	int chan_clip_window;  /* running-median width over channels (default 15) */
} flag_params;

/* Fill every field with its documented default (empty configured lists). */
void flag_params_init(flag_params *p);

/* Reason slots in flag_stats.reason_frac, one per VIS_FLAG_* bit. */
enum { FLAG_R_INPUT = 0, FLAG_R_NONFINITE, FLAG_R_CONFIG, FLAG_R_RFI, FLAG_R_MISSING,
       FLAG_R_CAL, FLAG_R_AUTO, FLAG_NREASONS };

typedef struct flag_stats {
	size_t ncross;          /* cross-correlation samples counted */
	double total_frac;      /* fraction with any flag */
	double reason_frac[FLAG_NREASONS]; /* fraction carrying each bit (may overlap) */
	int nants;              /* = vis->nants; entries below follow vis->ants[] */
	int *ant_number;        /* [nants] antenna numbers */
	double *ant_frac;       /* [nants] flagged fraction of the antenna's cross
				 * samples; -1 for antennas on no baseline */
	int nchan;
	double *chan_frac;      /* [nchan] flagged fraction per channel */
	int ndead;
	int *dead_ants;         /* [ndead] antenna numbers found dead in step 3 */
} flag_stats;

/* Free the arrays of a flag_stats filled by flag_run/flag_stats_compute
 * (the struct itself is the caller's; NULL or zeroed structs are fine). */
void flag_stats_release(flag_stats *s);

/* Name of a reason slot ("input", "nonfinite", "config", "rfi", ...). */
const char *flag_reason_name(int reason);

/* Compute statistics of v's current flags into *ret (caller releases).
 * Returns 0 or -ENOMEM. */
int flag_stats_compute(const vis_set *v, flag_stats *ret);

/*
 * Run steps 1–5 on v (in place) with parameters p (NULL = defaults).
 * ret_stats (may be NULL) receives the statistics after flagging; release it
 * with flag_stats_release.  Returns 0, -EINVAL (inconsistent set or params,
 * message in err), -ENOMEM.
 */
int flag_run(vis_set *v, const flag_params *p, flag_stats *ret_stats, char *err, size_t errlen);

#endif
