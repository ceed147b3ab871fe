/*
 * core/convert.h — load the subband files of a group into one visibility set,
 * and rephase it to one ICRS phase centre (SPEC §3 Load & convert, issue 4).
 *
 * convert_load_inputs() (convert_load_group() for a list of file names):
 *  - the caller says which subband each file is (convert_load_group: from
 *    its name, `..._sbNN.hdf5`) and may hand over what convert_sub_read()
 *    read of it earlier (the daemon's load stage does), so no header is
 *    read twice;
 *  - the present subbands must agree on times (8.6 ms), baselines
 *    (ant1/ant2 row by row), antenna numbers, baseline vectors
 *    pos[a2] − pos[a1] (1 mm: a constant shift of all positions, as a node
 *    with another software install writes, is accepted), the w of uvw_array
 *    (float32 rounding + 20 µm: the centre each file was fringe-stopped at),
 *    polarisations, pointing dec, channel width and count, and frequencies
 *    that place them contiguously (sb00 highest).  A subband that disagrees
 *    with the majority of the present subbands (a writer restarted mid-window
 *    stamps other times, a node with other positions) is dropped: it counts
 *    as missing (channels flagged VIS_FLAG_MISSING) and convert_info says
 *    which and why.  With no strict majority agreeing the group fails
 *    (-EINVAL, naming the largest agreeing set and what differs);
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
 *    are the lowest-numbered used subband file's, and one history line
 *    says what was combined (N of M subbands, which are missing or dropped,
 *    the channels).
 *
 * The old centre of a DRIFT set (convert_drift_geometry): the correlator
 * fringe-stopped each baseline with the w of its own uvw_array (computed
 * with casacore's OVRO_MMA site, which need not be the header's longitude),
 * so w_old comes from the set's uvw, not from the header: w_old = s·b with
 * s = (cos δ cos λ, cos δ sin λ, sin δ) the header's (λ = Header/longitude,
 * δ = phase_center_dec) when every row's w equals s·b within float32
 * rounding + 20 µm, else the direction fitted to the rows' w (least
 * squares over λ and δ) when that one explains them, else each row's own w.
 * The first two are exact (no float32 noise); docs/conventions.md gives the
 * numbers.  uvw that are all zero, or whose fitted direction is more than
 * 0.5° from the header's (a site error is arcseconds), are not believed:
 * the header's direction is used (CONVERT_W_HEADER_ONLY).
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
 * A file that cannot be used (its header, axes, metadata or Data/ unreadable,
 * or not loadable) either fails the call (default) or, with
 * convert_params.min_usable > 0, is left out like an absent subband while at
 * least min_usable files remain usable; convert_info.file[i] says, for each
 * input i, whether it was used, dropped (disagrees with the majority) or
 * unusable and why: data, not a message to search.  Leaving a file out after
 * the majority was decided (its Data/ turned out unreadable) decides the
 * majority and the template again from the summaries in memory and reads the
 * data again; headers and axes are never read twice.
 *
 * All functions: 0 or a negative errno with the reason in err.
 */
#ifndef CONTIMG_CONVERT_H
#define CONTIMG_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/astro.h"
#include "core/err.h"
#include "core/uvh5.h"
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
	double xp_rad;       /* polar motion (default 0; core/astro.h astro_eop) */
	double yp_rad;
	int min_usable;      /* > 0: a file that cannot be used is left out (as missing) while
			      * at least this many usable files remain; 0 (default): such a
			      * file fails the call (convert_info.failed_file names it) */
	vis_set *reuse;      /* optional: a set from an earlier call with the same shape
			      * (times, baselines, nsub × channels, pols, antennas); it is
			      * overwritten and returned in *ret instead of allocating a new
			      * one (fresh memory is slow to touch).  Stays the caller's on
			      * failure (contents then undefined).  NULL (default): allocate. */
} convert_params;

void convert_params_default(convert_params *p);

/* Where the w of a DRIFT set's old (meridian) centre comes from. */
enum convert_w_source {
	CONVERT_W_HEADER = 0, /* the header's (λ, δ0): the uvw agree with it */
	CONVERT_W_FIT = 1,    /* the direction fitted to the uvw (they disagree with the header) */
	CONVERT_W_ROWS = 2,   /* each row's own w (no single direction explains them) */
	CONVERT_W_HEADER_ONLY = 3, /* the header's (λ, δ0) although the uvw disagree: they are
				    * all zero or point more than 0.5° away, i.e. they do not
				    * describe the data */
};

/* The centre a DRIFT set's uvw_array were computed for (convert_drift_geometry). */
typedef struct convert_drift_fit {
	int source;            /* enum convert_w_source: what the rephasing uses */
	int fitted;            /* 1: lon/dec_rad hold a fit; 0: too few or degenerate baselines */
	double lon_rad, dec_rad; /* the fitted direction: east longitude of its meridian and dec */
	double dlon_arcsec;    /* fitted − header longitude (Header/longitude) */
	double ddec_arcsec;    /* fitted − header declination (phase_center_dec) */
	double sep_arcsec;     /* angle between the two directions (≈ |dlon| cos δ0 on the sky) */
	double rms_m, max_m;   /* residual w − s·b of the fit over the cross-correlation rows */
	double max_header_m;   /* largest |w − s·b| with the header's direction */
	int nrows;             /* cross-correlation rows used */
} convert_drift_fit;

#define CONVERT_REASON_LEN 320

/* What became of one input file (convert_info.file[i]). */
enum convert_file_status {
	CONVERT_FILE_USED = 0,     /* combined (on failure: not found at fault) */
	CONVERT_FILE_DROPPED = 1,  /* disagrees with the majority: counted as missing */
	CONVERT_FILE_UNUSABLE = 2, /* unreadable or not loadable: counted as missing */
};

typedef struct convert_file {
	int status;                /* enum convert_file_status */
	int code;                  /* UNUSABLE: the negative errno of the failure */
	char reason[ERR_LEN];      /* DROPPED, UNUSABLE: why, a sentence naming the file */
} convert_file;

/* What happened while loading (all optional to look at). */
typedef struct convert_info {
	int nsub_present;        /* subband files used */
	uint32_t missing_mask;   /* bit k set: subband k missing (absent or dropped) */
	uint32_t dropped_mask;   /* bit k set: subband k was given but disagrees with the
				  * majority (counted as missing); why in dropped_reason[k] */
	char dropped_reason[CONVERT_MAX_SUB][CONVERT_REASON_LEN];
	int chan_per_sub;
	int nsub_direct;         /* subbands read by the direct path (uvh5_raw_*) */
	int nsub_chunked;        /* ... of which chunked (read chunk by chunk) */
	double read_s;           /* wall seconds checking and reading files */
	double rephase_s;        /* wall seconds rephasing */
	int has_drift_fit;       /* the input was DRIFT: drift_fit is filled */
	convert_drift_fit drift_fit;
	int failed_file;         /* on failure: index into the inputs of the one file at
				  * fault (unreadable, not loadable, read error) that ended
				  * the call; -1 when the group as a whole fails (no
				  * majority, bad names, out of memory) */
	convert_file file[CONVERT_MAX_SUB]; /* [i] for input i (on failure too) */
} convert_info;

/* What one subband file says about everything but its data: its header, its
 * integration times, baselines, antenna numbers, baseline vectors, the w of
 * its uvw_array and its frequencies (what the subbands of a group must agree
 * on), or why it cannot be combined. */
typedef struct convert_sub convert_sub;

/* Read path's header and, when it is imageable, the axes above, from one
 * opening of the file (uvh5_read_header_axes).  On success *ret is a new
 * summary (convert_sub_free); a file whose header reads but that cannot be
 * combined (not imageable, a baseline naming an unknown antenna) gives a
 * summary too, which says why (convert_sub_error).  Negative errno with the
 * reason in err when the header cannot be read (*ret untouched). */
int convert_sub_read(const char *path, convert_sub **ret, char *err, size_t errlen);

/* The header convert_sub_read read (owned by s). */
const uvh5_header *convert_sub_header(const convert_sub *s);

/* 0 when the file can be combined, else the negative errno, with the
 * sentence (naming the file) in *ret_reason when non-NULL (owned by s). */
int convert_sub_error(const convert_sub *s, const char **ret_reason);

void convert_sub_free(convert_sub *s); /* NULL ok */

/* One file of a group, as the caller knows it. */
typedef struct convert_input {
	const char *path;        /* the file whose data to read (a staged copy of the file
				    `sub` was read from is fine) */
	int subband;             /* 0..nsub_expected-1, distinct among the inputs */
	const convert_sub *sub;  /* its summary (convert_sub_read), still the caller's;
				    NULL: read here */
} convert_input;

/* Subband index NN of a name ending in "_sbNN.hdf5" (directories ignored).
 * -EINVAL when the name does not match. */
int convert_subband_from_name(const char *path, int *ret_sb);

/* Load the group made of in[0..n-1] (any order, at most CONVERT_MAX_SUB): as
 * convert_load_group below, with the subbands and summaries the caller gives
 * (see the top of this file for unusable files and p->min_usable).
 * ret_info->file[i] is the fate of in[i]. */
int convert_load_inputs(const convert_input *in, int n, const convert_params *p, vis_set **ret,
			convert_info *ret_info, char *err, size_t errlen);

/* Load the group made of `paths[0..npaths-1]` (any order; each must name a
 * distinct subband < nsub_expected).  *ret is a new vis_set (caller frees with
 * vis_free); *ret_info is filled when non-NULL, on failure too (then
 * failed_file is what to look at).  v->name is the common timestamp prefix of
 * the first used file.  Subbands that disagree with the majority are dropped
 * (info.dropped_mask); an unreadable file fails the group here with
 * info.failed_file naming it (the daemon decides whether to retry without
 * it).  -EINVAL for inconsistent input (no majority, bad names), -EIO for a
 * read error, -ENOMEM. */
int convert_load_group(const char *const *paths, int npaths, const convert_params *p,
		       vis_set **ret, convert_info *ret_info, char *err, size_t errlen);

/* The centre the uvw of a DRIFT set were computed for, and which w the
 * rephasing takes for the old centre (see above).  Uses ant1/ant2, the
 * antenna positions, uvw_m, lon_rad and phase_dec_rad; -EINVAL for a set
 * that is not DRIFT or names an unknown antenna. */
int convert_drift_geometry(const vis_set *v, convert_drift_fit *ret, char *err, size_t errlen);

/* The common centre of a DRIFT set: the drift centre at the mid time, i.e.
 * the CIRS position of terrestrial (H = 0, phase_dec_rad) — (ERA + lon,
 * phase_dec_rad) without polar motion — converted to ICRS with ERFA at the
 * mid time.  eop NULL: zero Earth orientation. */
int convert_common_centre(const vis_set *v, const astro_eop *eop, double *ret_ra_rad,
			  double *ret_dec_rad, char *err, size_t errlen);

/* Rephase v (DRIFT or FIXED) to the ICRS centre (ra_rad, dec_rad): multiply
 * each sample by exp(+2πi (w_old − w_new) ν / c) where w_old/w_new are the
 * baseline's projections on the old/new centre's direction at that time
 * (DRIFT: w_old as convert_drift_geometry says), rewrite uvw as above, set
 * FIXED.  Needs antenna positions.  nthreads <= 0: the OpenMP default.
 * eop: the Earth orientation at the group's time (NULL: zero); it enters
 * through C2T (ERA and polar motion).  Records v->dut1_s = eop->dut1_s and a
 * history line (the centre, UT1 − UTC, any polar motion and where w_old came
 * from); -ENOMEM when that line cannot be added (the data
 * are then rephased already). */
int convert_rephase_to(vis_set *v, double ra_rad, double dec_rad, const astro_eop *eop,
		       int nthreads, char *err, size_t errlen);

/* convert_common_centre + convert_rephase_to (DRIFT sets only). */
int convert_rephase(vis_set *v, const astro_eop *eop, int nthreads, char *err, size_t errlen);

/* Write v with uvh5_write(..., UVH5_LAYOUT_PYUVDATA) to "<path>.tmp" and
 * rename it to path when complete.  The file carries v's provenance
 * (vis_units, history plus a line naming contimg's version, dut1,
 * x_orientation when known; docs/uvh5.md). */
int convert_export(const char *path, const vis_set *v, char *err, size_t errlen);

#endif
