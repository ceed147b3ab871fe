/*
 * core/uvh5.h — read and write UVH5 (HDF5) visibility files.
 *
 * Reads the DSA-110 correlator layout (SPEC §2: rank-4 "version 0", compound
 * r/i complex64, drift phasing, extra_keywords/phase_center_dec) and the
 * pyuvdata 1.x/2.x/3.x layouts (rank-3 and rank-4 data, visdata as complex
 * f4/f8 or int32 r/i, LZF-compressed flags/nsamples, phase_center_catalog).
 * Anything else is refused with an error naming the file and what is wrong.
 * The optional history, vis_units, dut1 and x_orientation become the set's
 * provenance (core/vis.h); a malformed one is ignored, never fatal.
 *
 * Writes the DSA-110 layout exactly (simulator), chunked as the correlator's
 * h5py writer stores it unless asked for contiguous arrays, and a pyuvdata
 * 1.x rank-3 layout with a sidereal phase_center_catalog (exported, rephased
 * groups).
 *
 * All functions are safe to call from several threads (the Debian HDF5 build is
 * thread-safe; calls are serialised inside the library).
 */
#ifndef CONTIMG_UVH5_H
#define CONTIMG_UVH5_H

#include <stddef.h>
#include <stdint.h>

#include "core/vis.h"

enum uvh5_vis_type { UVH5_VIS_C8 = 0, UVH5_VIS_C16 = 1, UVH5_VIS_I32 = 2 };

/* Everything `contimgctl inspect` reports, read without touching Data/. */
typedef struct uvh5_header {
	char telescope[64];
	char instrument[64];
	char version[32];        /* Header/version, "" when absent */
	char phase_type[32];     /* "drift", "phased", "unknown", or the catalog's cat_type */
	int data_rank;           /* 3 or 4 */
	int vis_type;            /* enum uvh5_vis_type */
	int nants_data, nants_telescope, nbls, nblts, ntimes, nfreqs, npols, nspws;
	int pols[4];
	double freq_min_hz, freq_max_hz, channel_width_hz;
	double time_start_jd, time_end_jd, integration_time_s;
	int has_dec;             /* dec_rad valid */
	double dec_rad;          /* pointing / phase-centre declination */
	int has_ra;              /* ra_rad valid (sidereal phase centre) */
	double ra_rad;
	int has_autos;
	int reversed_rows;       /* rows with ant_1 > ant_2 (correlator order; valid
				  * data, core/vis.h: nothing conjugates them) */
	int freq_descending;     /* freq_array decreases along the channel axis */
	double lat_rad, lon_rad, alt_m;
	int imageable;           /* 1 when uvh5_read() can load it into a vis_set */
	char not_imageable[256]; /* the precise reason when imageable == 0 */
} uvh5_header;

/* Read the header only.  Fails (negative errno, message in err) when the file
 * is not HDF5, lacks a required dataset, or has inconsistent shapes.  A valid
 * file that we cannot image (e.g. non-rectangular baseline-time layout) still
 * succeeds with imageable = 0 and the reason in not_imageable. */
int uvh5_read_header(const char *path, uvh5_header *ret, char *err, size_t errlen);

/* As uvh5_read_header, for an HDF5 file image held in memory (len bytes; name
 * is used in messages only; the image is copied, not modified).  Lets the fuzz
 * harness and tests validate headers without touching the disk. */
int uvh5_read_header_image(const void *image, size_t len, const char *name, uvh5_header *ret,
			   char *err, size_t errlen);

/* The arrays of a file's Header/ that describe its rows, antennas and
 * channels, as stored (every row, file channel order), without building a
 * vis_set or touching Data/: what core/convert.c compares between the
 * subbands of a group. */
typedef struct uvh5_axes {
	int64_t *ant1, *ant2; /* [Nblts] ant_1_array, ant_2_array */
	double *time_jd;      /* [Nblts] time_array */
	double *uvw_m;        /* [Nblts * 3] uvw_array */
	int64_t *antnum;      /* [Nants_telescope] antenna_numbers */
	double *antpos_m;     /* [Nants_telescope * 3] antenna_positions */
	double *freq_hz;      /* [Nfreqs] freq_array */
} uvh5_axes;

/* uvh5_read_header, and for an imageable file also its axes into *ret_axes
 * (arrays allocated here; free them with uvh5_axes_release), from one
 * opening of the file.  For a file that is not imageable *ret_axes is all
 * NULL (the header says why).  On failure *ret_axes is all NULL and *ret
 * untouched. */
int uvh5_read_header_axes(const char *path, uvh5_header *ret, uvh5_axes *ret_axes, char *err,
			  size_t errlen);

/* Free the arrays of a (NULL and an all-NULL a are fine) and zero it. */
void uvh5_axes_release(uvh5_axes *a);

/* Read a whole file into a new vis_set (*ret, caller frees with vis_free).
 * Channels keep the file's order (freq_hz as stored).  Requires an imageable
 * file: time-major, rectangular blt layout, one spectral window.  Flags from the
 * file become VIS_FLAG_INPUT; nsamples become weights; non-finite samples are
 * flagged VIS_FLAG_NONFINITE (never propagated as NaN into arithmetic). */
int uvh5_read(const char *path, vis_set **ret, char *err, size_t errlen);

/* Read one subband file's data into an existing, already-shaped vis_set `dst`
 * (the combined group) at channel offset chan0: dst must have the same ntimes,
 * nbls and npols as the file, and chan0 + Nfreqs <= dst->nchan.  Channels are
 * stored in the file's order (the caller reorders).  Metadata (ants, times,
 * uvw, freqs) is NOT copied; use uvh5_read_header/uvh5_read_meta for that.
 * When dst->pols or dst->ant1/ant2 are already filled in (non-zero), they must
 * match the file's, else -EINVAL (data never lands on the wrong baseline).
 * Only the [chan0, chan0 + Nfreqs) channels of dst are written. */
int uvh5_read_into(const char *path, vis_set *dst, int chan0, char *err, size_t errlen);

/* Read everything except the Data/ arrays into a new vis_set shaped
 * (Ntimes, Nbls, Nfreqs, Npols): ants, site, ant1/ant2, times, uvw, freqs,
 * pols, phase info.  vis/flags/weight are allocated but left zero / 1. */
int uvh5_read_meta(const char *path, vis_set **ret, char *err, size_t errlen);

/*
 * Raw reads of Data/: the fast path of core/convert.c (docs/uvh5.md, *Raw
 * reads*).  A file qualifies when Data/visdata is a little-endian complex64
 * {r, i}, Data/flags 8-bit (any non-zero = flagged) and Data/nsamples a
 * little-endian float32, all three unfiltered and either contiguous or chunked
 * with every chunk written (what the DSA-110 correlator writes, chunked; and
 * contimg-sim --layout contiguous), in a file without a user block.  Then the
 * bytes are read as they are stored, without HDF5's selection and conversion
 * machinery: contiguous arrays and chunks whose addresses the file's chunk
 * index gives (read once at open: the chunk map) with pread() from any
 * thread, other chunks with HDF5's direct chunk read; and decoded here.  Anything else
 * (LZF flags, float64 or int32 visdata, unwritten chunks) is for
 * uvh5_read_into(); both give the same bits (tests/core/test_uvh5.c,
 * tests/core/test_convert.c).
 */
typedef struct uvh5_raw uvh5_raw;

/* Probe path, whose Data/ arrays must hold nrows x nfreqs x npols samples
 * (rank 3 or rank 4 with the spw axis of 1).  *ret is a new handle (free with
 * uvh5_raw_close) when the file qualifies, NULL when it does not (then 0 is
 * returned and `why`, when not NULL, says why in a few words).  Errors:
 * -ENOMEM only; a file HDF5 cannot open simply does not qualify. */
int uvh5_raw_open(const char *path, size_t nrows, int nfreqs, int npols, uvh5_raw **ret,
		  char *why, size_t whylen, char *err, size_t errlen);

/* How uvh5_raw_read_rows gets the bytes (for a file whose arrays differ, the
 * slowest of them). */
enum uvh5_raw_kind {
	UVH5_RAW_CONTIGUOUS = 0,    /* pread() of contiguous arrays */
	UVH5_RAW_CHUNKS_MAPPED = 1, /* pread() of chunks located by the chunk map,
				     * read from the file's index (v1 B-tree) at open */
	UVH5_RAW_CHUNKS_HDF5 = 2,   /* HDF5's direct chunk read, one chunk at a time (other
				     * chunk indexes, e.g. HDF5's newest format) */
};
int uvh5_raw_kind(const uvh5_raw *r);

/* Rows per read that never split a chunk of any of the three arrays, at least
 * min_rows (a multiple of every row-chunk length; min_rows itself when
 * contiguous).  Reading in multiples of it reads every chunk once. */
size_t uvh5_raw_block_rows(const uvh5_raw *r, size_t min_rows);

/* Bytes of scratch uvh5_raw_read_rows needs for blocks of up to nrows rows
 * (the rows of the contiguous arrays and every chunk such a block touches). */
size_t uvh5_raw_scratch_bytes(const uvh5_raw *r, size_t nrows);

/* Read rows [row0, row0 + nrows) of the file into the same rows of dst (a
 * set of the file's Ntimes x Nbls rows and Npols): file channel j goes to
 * dst channel chan_map[j], decoded as uvh5_read_into does (non-zero flag ->
 * VIS_FLAG_INPUT, nsamples -> weight, non-finite samples zeroed and flagged
 * VIS_FLAG_NONFINITE).  Other channels of dst are not touched.  scratch: at
 * least uvh5_raw_scratch_bytes(r, nrows) bytes, one per concurrent caller.
 * Safe to call from several threads at once on the same handle and set
 * (different rows or channels): pread() needs no lock; HDF5's chunk reads
 * take all of one call's chunks in one stretch under a lock (HDF5 serialises
 * them anyway); the decoding runs in parallel.  -EIO with a message naming
 * the file and dataset when a read fails or comes up short (a truncated
 * file), -EINVAL for rows out of range or a target of another shape. */
int uvh5_raw_read_rows(uvh5_raw *r, size_t row0, size_t nrows, vis_set *dst, const int *chan_map,
		       void *scratch, char *err, size_t errlen);

/* Close the handle (NULL is a no-op). */
void uvh5_raw_close(uvh5_raw *r);

enum uvh5_layout {
	UVH5_LAYOUT_DSA110 = 0,   /* rank-4, no version, drift, extra_keywords (SPEC §2) */
	UVH5_LAYOUT_PYUVDATA = 1, /* rank-3, version 1.x, phase_center_catalog (sidereal) */
};

/* How uvh5_write_with() stores the arrays of the baseline-time axis. */
enum uvh5_storage {
	/* The layout's own: DSA110 chunked as the correlator writes it,
	 * PYUVDATA contiguous. */
	UVH5_STORAGE_DEFAULT = 0,
	/* DSA110: what the correlator's writer (dsa110-meridian-fs dsamfs/io.py)
	 * gets from h5py: Data/visdata, flags, nsamples and Header/ant_1_array,
	 * ant_2_array, time_array, integration_time, uvw_array created empty and
	 * resizable (unlimited first axis), chunked with h5py's automatic shape
	 * for such a dataset (uvh5_guess_chunk with 0 rows: visdata
	 * (128, 1, 12, 1) for 48 channels and 2 pols), no filters, extended and
	 * written one integration at a time in the writer's order, so the
	 * chunks of the arrays interleave in the file as in real files.
	 * PYUVDATA: Data/ chunked with h5py's shape for the full, fixed shape
	 * (pyuvdata's chunks=True), not resizable. */
	UVH5_STORAGE_CHUNKED = 1,
	/* Every array contiguous (what contimg wrote before issue 19; the fast
	 * path's comparison case). */
	UVH5_STORAGE_CONTIGUOUS = 2,
};

typedef struct uvh5_write_opts {
	int layout;   /* enum uvh5_layout */
	int storage;  /* enum uvh5_storage */
	/* When chunked: the chunk shapes of Data/visdata, flags and nsamples in
	 * the dataset's rank (4 for DSA110: rows, 1, channels, pols; 3 for
	 * PYUVDATA: rows, channels, pols).  A row of zeros: h5py's automatic
	 * shape.  Lets tests write shapes that split channels and pols
	 * unevenly and leave a partial last chunk. */
	unsigned long long data_chunk[3][4];
	/* 1: HDF5's newest file format (h5py's libver='latest': version 2
	 * object headers, extensible-array chunk indexes) instead of the
	 * default, oldest one the correlator's h5py writes. */
	int latest_format;
} uvh5_write_opts;

/* Write v to path in the given layout, replacing any existing file.  Writing is
 * not atomic: callers that need atomicity write a temporary name and rename.
 * DSA110 needs a drift-phased set, PYUVDATA a fixed one (-EINVAL otherwise);
 * Nants_data is counted from ant1/ant2; flags are written as boolean (any bit
 * set = flagged), weights as nsamples.  On failure the partial file is removed.
 * PYUVDATA also writes v's provenance (core/vis.h): vis_units ("uncalib" when
 * empty), history followed by a line naming contimg's version, dut1 (also
 * used for lst_array), and x_orientation when known; values pyuvdata would
 * not accept (vis_units other than uncalib/Jy/K str, x_orientation other
 * than east/north, |dut1| >= 1 s) are refused with -EINVAL.  The DSA110
 * layout writes the correlator's fields only.  docs/uvh5.md lists every
 * dataset written. */
int uvh5_write(const char *path, const vis_set *v, int layout, char *err, size_t errlen);

/* uvh5_write with a choice of storage (UVH5_STORAGE_DEFAULT: the same as
 * uvh5_write(path, v, o->layout, ...)).  -EINVAL for an unknown storage or a
 * chunk shape with a zero axis or one longer than a fixed axis. */
int uvh5_write_with(const char *path, const vis_set *v, const uvh5_write_opts *o, char *err,
		    size_t errlen);

/* h5py's automatic chunk shape (h5py/_hl/filters.py guess_chunk, what
 * `chunks=True` and a resizable dataset without chunks get) for a dataset of
 * `rank` axes shaped `shape` with elements of typesize bytes; an axis of
 * length 0 (an empty resizable dataset, as the correlator creates them)
 * counts as 1024.  Target chunk: 16 KiB · 2^log10(dataset MiB), clamped to
 * 8 KiB .. 1 MiB; the axes are halved in turn, first to last, until the chunk
 * is below the target or within 50 % of it, and below 1 MiB.  Exposed for
 * tests (real pyuvdata/h5py files carry exactly these shapes). */
void uvh5_guess_chunk(int rank, const unsigned long long *shape, size_t typesize,
		      unsigned long long *ret_chunk);

/* The contimg version the writer names in a file's history ("unknown" when
 * built outside a git checkout).  Static storage. */
const char *uvh5_writer_version(void);

/* "XX", "YY", ... for an AIPS polarisation code ("?" for unknown codes). */
const char *uvh5_pol_name(int code);

#endif
