/*
 * core/convert.h — load the subband files of a group into one visibility set,
 * and rephase it to one ICRS phase centre (SPEC §3 Load & convert, issue 4).
 *
 * convert_load_group():
 *  - the subband index of each file comes from its name (`..._sbNN.hdf5`);
 *  - every present subband must agree with the others on times, baselines
 *    (ant1/ant2), antennas (numbers and positions), polarisations, pointing
 *    dec, channel width and channel count — a disagreement fails the group
 *    with a message naming both files and the quantity;
 *  - channels come out ascending in frequency (sb15 lowest … sb00 highest,
 *    each file's descending channels reversed);
 *  - a missing subband (among nsub_expected) becomes channels flagged
 *    VIS_FLAG_MISSING (vis 0, weight 0) at their known frequencies, derived
 *    from the present subbands (consecutive subbands contiguous, sb00 highest);
 *  - autocorrelations stay in the set unflagged (flagging/QA use them; the
 *    solvers and the imager skip ant1 == ant2);
 *  - the result is DRIFT phased exactly like the files (uvw of the first
 *    present subband), unless params.rephase is set (default), in which case
 *    convert_rephase() is applied;
 *  - provenance (core/vis.h): history, vis_units, dut1 and x_orientation
 *    are the lowest-numbered present subband file's, and one history line
 *    says what was combined (N of M subbands, which are missing, the
 *    channels).
 *
 * convert_rephase(): rephases every integration from its meridian centre to
 * the common centre of convert_common_centre() (RA = apparent LST at the
 * group mid time, Dec = pointing dec, converted CIRS → ICRS with ERFA), sets
 * phase_type FIXED with phase_ra/dec_rad in ICRS, and rewrites uvw:
 *     (u, v, w)(t) = B(s0(t)) · C2Tᵀ(t) · (pos[a2] − pos[a1]),  then (u, v) ← Jᵀ (u, v)
 * i.e. the ECEF baseline rotated into GCRS (ICRS-aligned) axes and projected
 * on the east/north/centre basis B of the centre's geocentric apparent
 * direction s0(t); J (astro_frame_fixed_basis, identity to ~1e-4) absorbs
 * the field rotation and scale that aberration causes.  Images made from it
 * have l, m = ICRS tangent-plane offsets from (phase_ra, phase_dec) to
 * ~1e-4·θ² (0.02" at 1.7°): the WCS is ICRS with no further rotation.
 *
 * Reading: the Debian HDF5 build serialises every call, so reading subbands
 * from several threads through HDF5 is slower than one after the other
 * (docs/performance.md).  DSA-110 files are uncompressed, chunked as the
 * correlator's h5py writes them (or contiguous), so their Data/ arrays are
 * located once (uvh5_raw_open: the contiguous offset, or every chunk's
 * address from the file's chunk index) and read with plain pread() by all
 * threads, decoded straight into their ascending-frequency place (the direct
 * path, core/uvh5.h *Raw reads*); anything else (filtered, other types) uses
 * uvh5_read_into().  Both give identical sets: flags → VIS_FLAG_INPUT,
 * nsamples → weight, non-finite samples zeroed and flagged
 * VIS_FLAG_NONFINITE.
 *
 * All functions: 0 or a negative errno with the reason in err.
 */
#ifndef CONTIMG_CONVERT_H
#define CONTIMG_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/vis.h"

#define CONVERT_MAX_SUB 32

typedef struct convert_params {
	int nsub_expected;   /* subbands in a full group (default 16) */
	int nthreads;        /* threads for reading and rephasing (<= 0: OpenMP default) */
	int direct_read;     /* 1 (default): read uncompressed Data/ arrays (contiguous or
			      * chunked) as stored, in parallel, decoding straight into
			      * place (uvh5_raw_*); files that do not qualify go through
			      * uvh5_read_into() */
	int rephase;         /* 1 (default): convert_rephase() after loading */
	double dut1_s;       /* UT1 − UTC (default 0) */
	vis_set *reuse;      /* optional: a set from an earlier call with the same shape
			      * (times, baselines, nsub × channels, pols, antennas); it is
			      * overwritten and returned in *ret instead of allocating a new
			      * one (fresh memory is slow to touch).  Stays the caller's on
			      * failure (contents then undefined).  NULL (default): allocate. */
} convert_params;

void convert_params_default(convert_params *p);

/* What happened while loading (all optional to look at). */
typedef struct convert_info {
	int nsub_present;
	uint32_t missing_mask;   /* bit k set: subband k missing */
	int chan_per_sub;
	int nsub_direct;         /* subbands read by the direct path (uvh5_raw_*) */
	int nsub_chunked;        /* ... of which chunked (H5Dread_chunk) */
	double read_s;           /* wall seconds checking and reading files */
	double rephase_s;        /* wall seconds rephasing */
} convert_info;

/* Subband index NN of a name ending in "_sbNN.hdf5" (directories ignored).
 * -EINVAL when the name does not match. */
int convert_subband_from_name(const char *path, int *ret_sb);

/* Load the group made of `paths[0..npaths-1]` (any order; each must name a
 * distinct subband < nsub_expected).  *ret is a new vis_set (caller frees with
 * vis_free); *ret_info is filled when non-NULL.  v->name is the common
 * timestamp prefix of the first file.  Unreadable files fail the group here
 * (the daemon decides whether to retry without them). */
int convert_load_group(const char *const *paths, int npaths, const convert_params *p,
		       vis_set **ret, convert_info *ret_info, char *err, size_t errlen);

/* The common centre of a DRIFT set: the CIRS position (ERA + lon at the mid
 * time, phase_dec_rad) converted to ICRS with ERFA at the mid time. */
int convert_common_centre(const vis_set *v, double dut1_s, double *ret_ra_rad,
			  double *ret_dec_rad, char *err, size_t errlen);

/* Rephase v (DRIFT or FIXED) to the ICRS centre (ra_rad, dec_rad): multiply
 * each sample by exp(+2πi (w_old − w_new) ν / c) where w_old/w_new are the
 * baseline's projections on the old/new centre's direction at that time,
 * rewrite uvw as above, set FIXED.  Needs antenna positions.  nthreads <= 0:
 * the OpenMP default.  Records v->dut1_s = dut1_s and a history line (the
 * centre and UT1 − UTC); -ENOMEM when that line cannot be added (the data
 * are then rephased already). */
int convert_rephase_to(vis_set *v, double ra_rad, double dec_rad, double dut1_s,
		       int nthreads, char *err, size_t errlen);

/* convert_common_centre + convert_rephase_to (DRIFT sets only). */
int convert_rephase(vis_set *v, double dut1_s, int nthreads, char *err, size_t errlen);

/* Write v with uvh5_write(..., UVH5_LAYOUT_PYUVDATA) to "<path>.tmp" and
 * rename it to path when complete.  The file carries v's provenance
 * (vis_units, history plus a line naming contimg's version, dut1,
 * x_orientation when known; docs/uvh5.md). */
int convert_export(const char *path, const vis_set *v, char *err, size_t errlen);

#endif
