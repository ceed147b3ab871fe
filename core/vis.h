/*
 * core/vis.h — the visibility set: the one in-memory data model every stage uses.
 *
 * A vis_set holds a rectangular block of visibilities: ntimes integrations ×
 * nbls baselines × nchan channels × npols polarisations, stored time-major
 * exactly like a DSA-110 UVH5 file (all baselines of time 0, then time 1 ...):
 *
 *     sample index  i = ((t * nbls + b) * nchan + c) * npols + p      (vis_idx)
 *     row index     r = t * nbls + b                                  (uvw, per row)
 *
 * Conventions (see docs/conventions.md for the full statement):
 *  - Baseline b joins antenna numbers ant1[b] and ant2[b]; uvw = pos(ant2) − pos(ant1)
 *    in metres, in the frame of the phase centre.  V(a1,a2) = <conj(E(a1)) E(a2)>.
 *    Baselines come in any order and either orientation: the correlator's
 *    files have rows with ant1 > ant2, which mean exactly that (nothing
 *    conjugates or swaps them; code must not assume ant1 <= ant2).
 *  - Phase sign: a source at direction cosines (l, m, n) relative to the phase
 *    centre contributes S · exp(+2πi (u l + v m + w (n − 1)) ν / c) — the
 *    convention of the DSA-110 correlator's files, pyuvdata and the Measurement
 *    Set (WSClean, CASA); docs/conventions.md gives the evidence.  Every reader
 *    and writer keeps it: data and uvw cross the file boundary unchanged.
 *  - Autocorrelations (ant1 == ant2) stay in the set (flagging and QA use them)
 *    but calibration solvers and imaging skip them.
 *  - flags: 0 = good; otherwise a bit mask of VIS_FLAG_* reasons.
 *  - weight: relative weight from nsamples (the correlator writes e.g. 24).
 *  - phase_type DRIFT: integration t is phased to hour angle 0 at its own centre
 *    time and declination phase_dec_rad (apparent), as the correlator writes it.
 *    phase_type FIXED: every integration is phased to (phase_ra_rad,
 *    phase_dec_rad) in ICRS (after core/convert.c rephasing).
 *
 * Provenance: the set says what its data are, so a writer (core/uvh5_write.c)
 * writes what the data say rather than what the caller remembers.  The
 * readers fill these fields from the file; the stages that change the data
 * update them: vis_units (calib/apply.c: "Jy" once a bandpass or gain table
 * is applied), dut1_s (core/convert.c rephasing), history (one line per
 * stage that changed the data: combine, rephase, apply).
 *
 * Ownership: vis_new() allocates everything; vis_free() releases it (NULL ok),
 * including history.  A struct copy (*a = *b) shares history: give one of the
 * two a NULL or a vis_history_set() copy before freeing both.
 */
#ifndef CONTIMG_VIS_H
#define CONTIMG_VIS_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define VIS_C_M_S 299792458.0

/* Flag reason bits (a sample may carry several). */
enum {
	VIS_FLAG_INPUT = 1 << 0,    /* flagged in the input file */
	VIS_FLAG_NONFINITE = 1 << 1, /* NaN/Inf/exact-zero sample */
	VIS_FLAG_CONFIG = 1 << 2,   /* antenna/channel listed in the config */
	VIS_FLAG_RFI = 1 << 3,      /* SumThreshold / MAD clip / dilation */
	VIS_FLAG_MISSING = 1 << 4,  /* subband missing or unreadable */
	VIS_FLAG_CAL = 1 << 5,      /* calibration solution flagged */
	VIS_FLAG_AUTO = 1 << 6,     /* autocorrelation (never imaged) */
};

enum vis_phase_type {
	VIS_PHASE_DRIFT = 0, /* meridian (HA = 0) at each integration's centre */
	VIS_PHASE_FIXED = 1, /* one ICRS centre for all integrations */
};

/* AIPS polarisation codes as in UVH5 polarization_array. */
enum { VIS_POL_I = 1, VIS_POL_XX = -5, VIS_POL_YY = -6, VIS_POL_XY = -7, VIS_POL_YX = -8,
       VIS_POL_RR = -1, VIS_POL_LL = -2, VIS_POL_RL = -3, VIS_POL_LR = -4 };

typedef struct vis_ant {
	int number;       /* antenna_numbers entry (DSA-110: station number − 1) */
	char name[16];    /* antenna_names entry */
	double pos_m[3];  /* ECEF offset from the site position, metres */
	double diam_m;    /* dish diameter, metres (DSA-110: 4.65) */
} vis_ant;

typedef struct vis_set {
	int ntimes, nbls, nchan, npols;
	int nants;          /* entries in ants[] (Nants_telescope) */
	int nants_data;     /* antennas that appear in ant1/ant2 */
	vis_ant *ants;      /* [nants] */

	double lat_rad, lon_rad, alt_m; /* site, geodetic (WGS84), east longitude */

	int *ant1, *ant2;   /* [nbls] antenna numbers (match vis_ant.number) */
	double *time_jd;    /* [ntimes] UTC Julian date of each integration centre */
	double int_time_s;  /* integration time, seconds */
	double *freq_hz;    /* [nchan] channel centres, Hz */
	double chan_width_hz;
	int pols[4];        /* [npols] AIPS codes */

	double *uvw_m;      /* [ntimes*nbls*3] ant2 − ant1, metres */
	float complex *vis; /* [ntimes*nbls*nchan*npols] */
	uint8_t *flags;     /* same shape; VIS_FLAG_* bits, 0 = good */
	float *weight;      /* same shape; relative weights (nsamples) */

	int phase_type;         /* enum vis_phase_type */
	double phase_ra_rad;    /* FIXED: ICRS RA of the phase centre */
	double phase_dec_rad;   /* FIXED: ICRS Dec; DRIFT: apparent Dec of the meridian centre */
	double pointing_dec_rad; /* apparent declination of the pointing (extra_keywords) */
	int has_pointing_dec;

	char telescope[64];
	char instrument[64];
	char name[256];     /* file or group name, for messages */

	/* Provenance (see the header comment). */
	char vis_units[16];     /* pyuvdata vis_units: "uncalib", "Jy" or "K str"; "" = "uncalib" */
	double dut1_s;          /* UT1 − UTC (s) the phasing used: the file's dut1, or the
				 * value core/convert.c rephased with; 0 when unknown */
	char x_orientation[8];  /* pyuvdata x_orientation of the X feed: "east", "north",
				 * or "" when unknown (then not written) */
	char *history;          /* owned, NUL-terminated, lines separated by '\n'; NULL = none */
} vis_set;

/* Allocate a zeroed set with all arrays sized (vis = 0, flags = 0, weight = 1).
 * Returns NULL on allocation failure.  nants may be 0 (ants == NULL). */
vis_set *vis_new(int ntimes, int nbls, int nchan, int npols, int nants);

/* Release everything; vis_free(NULL) is a no-op. */
void vis_free(vis_set *v);

static inline size_t vis_idx(const vis_set *v, int t, int b, int c, int p)
{
	return (((size_t)t * v->nbls + b) * v->nchan + c) * v->npols + p;
}

static inline size_t vis_nsamples(const vis_set *v)
{
	return (size_t)v->ntimes * v->nbls * v->nchan * v->npols;
}

/* Index into ants[] of antenna number `number`, or -1. */
int vis_ant_index(const vis_set *v, int number);

/* Polarisation index p with pols[p] == code, or -1. */
int vis_pol_index(const vis_set *v, int code);

/* Mean of time_jd (the group's mid time). */
double vis_mid_jd(const vis_set *v);

/* Deep copy, history included (NULL on allocation failure). */
vis_set *vis_dup(const vis_set *v);

/* Replace v->history with a copy of text (NULL or "": no history).
 * 0, or -ENOMEM (history unchanged). */
int vis_history_set(vis_set *v, const char *text);

/* Append one line (printf-style, no trailing newline needed) to v->history.
 * 0, or -ENOMEM (history unchanged). */
int vis_history_add(vis_set *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Normalise a pyuvdata x_orientation value: "east"/"e" -> "east",
 * "north"/"n" -> "north" (any case: older pyuvdata files say "E"/"N", a HERA
 * file "NORTH"), anything else -> NULL. */
const char *vis_x_orientation_name(const char *s);

#endif
