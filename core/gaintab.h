/*
 * core/gaintab.h — per-antenna complex gain tables (calibration solutions and
 * the reference truth gains) and applying them to visibilities.
 *
 * Convention (docs/conventions.md; reference README): pyuvdata UVCal's
 * gain_convention "divide", for the files' own baseline order,
 *     V_obs(a1, a2) = g[a1] · V_true · conj(g[a2]),   a1 = ant1[b], a2 = ant2[b]
 *     V_corrected   = V_obs / (g[a1] · conj(g[a2]))
 * with the visibilities in the sign of core/vis.h (exp(+2πi …), uvw = pos[a2] −
 * pos[a1]): a table solved from a DSA-110 file applies to that file unchanged.
 * Polarisation index 0 is X (or R), 1 is Y (or L): XX uses (g_X(a1), g_X(a2)),
 * YY (Y, Y), XY (X, Y), YX (Y, X); a one-pol table applies to every pol.
 *
 * Storage: gain[((t * nant + a) * nchan + c) * npol + p] (gaintab_idx), the
 * same shape for flag (nonzero = solution flagged) and snr.
 *
 * On disk (HDF5, issue 5 caltable format):
 *   datasets  gains   compound {r: f32, i: f32}, [antenna][channel][pol] when
 *                     ntime == 1, else [time][antenna][channel][pol]
 *             flags   uint8, same shape;  snr  float32, same shape
 *             antenna_numbers int64 [nant], freq_hz f64 [nchan] (ascending),
 *             time_mjd f64 [ntime], polarization_array int32 [npol] (AIPS codes)
 *   attributes (on /) type ("B", "G", "K"), refant (int64), valid_start_mjd,
 *             valid_end_mjd (f64), source_group, calibrator (strings),
 *             convention (the relation in words), gain_convention ("divide",
 *             pyuvdata UVCal's attribute of that name).
 * gaintab_read also reads the reference truth files (gains_*.h5: `time_jd`,
 * always [time][antenna][channel][pol], no flags/snr/attributes).
 *
 * Ownership: gaintab_new/gaintab_read allocate; gaintab_free releases (NULL ok).
 */
#ifndef CONTIMG_GAINTAB_H
#define CONTIMG_GAINTAB_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "core/vis.h"

typedef struct gaintab {
	int ntime, nant, nchan, npol;
	float complex *gain;  /* [ntime*nant*nchan*npol] */
	uint8_t *flag;        /* same shape, 0 = good */
	float *snr;           /* same shape (0 when unknown) */
	int *antenna_numbers; /* [nant] (match vis_ant.number) */
	double *freq_hz;      /* [nchan], ascending */
	double *time_mjd;     /* [ntime], UTC MJD */
	int pols[2];          /* AIPS codes of pol index 0/1 (default XX, YY) */

	char type[8];         /* "B", "G", "K" or "" */
	int refant;           /* antenna number, -1 unknown */
	double valid_start_mjd, valid_end_mjd;
	char source_group[64];
	char calibrator[64];
} gaintab;

/* Allocate a table: gains 1+0i, flags 0, snr 0, antenna numbers 0..nant-1,
 * freqs/times 0, refant -1, validity 0.  NULL on bad sizes or no memory. */
gaintab *gaintab_new(int ntime, int nant, int nchan, int npol);
void gaintab_free(gaintab *g);

static inline size_t gaintab_idx(const gaintab *g, int t, int a, int c, int p)
{
	return (((size_t)t * g->nant + a) * g->nchan + c) * g->npol + p;
}

/* Index of antenna number `number` in antenna_numbers, or -1. */
int gaintab_ant_index(const gaintab *g, int number);

/* Write g to path (replaced; not atomic).  -EIO with the reason in err. */
int gaintab_write(const char *path, const gaintab *g, char *err, size_t errlen);

/* Read a caltable or a reference truth gains file into a new table. */
int gaintab_read(const char *path, gaintab **ret, char *err, size_t errlen);

/* How g's solutions are matched to v's samples (gaintab_divide, gaintab_multiply
 * and the solvers' model corruption all use this): ret_chan[c] (v->nchan
 * entries) is the table channel nearest v's channel c, or -1 when that is
 * farther than half the table's smallest channel spacing (a channel between
 * solutions has none; a one-channel table gives 0 for every channel);
 * ret_time[t] (v->ntimes entries) is the table time nearest v's integration t
 * (v's time_jd against the table's UTC MJD). */
void gaintab_match(const gaintab *g, const vis_set *v, int *ret_chan, int *ret_time);

/* Correct v in place: V /= g[a1]·conj(g[a2]).  Antennas are matched by number,
 * channels by nearest frequency (a table with one channel applies to all; a
 * channel farther than half the table's channel spacing — or than v's channel
 * width for a one-channel-per-band table — from any table channel counts as
 * missing), times by nearest time (weights and data of samples whose solution
 * is flagged, missing, zero or non-finite get VIS_FLAG_CAL and are left
 * unchanged).  nthreads <= 0: the OpenMP default.  -EINVAL on pol mismatch. */
int gaintab_divide(vis_set *v, const gaintab *g, int nthreads, char *err, size_t errlen);

/* The inverse: V *= g[a1]·conj(g[a2]) (simulator corruption).  Same matching;
 * samples without a solution get VIS_FLAG_CAL and are left unchanged. */
int gaintab_multiply(vis_set *v, const gaintab *g, int nthreads, char *err, size_t errlen);

#endif
