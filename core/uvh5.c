/*
 * core/uvh5.c — read and write UVH5 visibility files (see core/uvh5.h and docs/uvh5.md).
 *
 * The reader works in two steps: ctx_open() opens the file (or an in-memory
 * image) and read_header() reads and validates everything under Header/ plus
 * the shapes and types of Data/ (never the Data/ arrays themselves); the
 * public functions then fill a uvh5_header, a metadata-only vis_set, or read
 * the Data/ arrays in blocks of rows.
 */
#include "core/uvh5.h"

#include <erfa.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

/* The version named in the history of every file we write.  The Makefile sets
 * it from `git describe --always --dirty` (for this file only); a build
 * outside the repository gets "unknown". */
#ifndef CONTIMG_VERSION
#define CONTIMG_VERSION "unknown"
#endif

/* Sanity limits: far above any real file (DSA-110: Nblts 111744, Nfreqs 48),
 * low enough that a corrupt header cannot make us allocate gigabytes. */
#define MAX_NBLTS (1 << 24)
#define MAX_NFREQS (1 << 20)
#define MAX_NANTS (1 << 16)
#define MAX_STRING (1 << 20)

/* Rows of the baseline-time axis read per block: big enough that HDF5 issues
 * few large reads, small enough that the staging buffers stay in cache-sized
 * territory and are cheap to allocate per call. */
#define STAGE_BYTES (8u << 20)

/* Where Debian's hdf5-plugin-lzf installs the LZF filter (HDF5 filter 32000). */
static const char *const plugin_dirs[] = {
	"/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins",
	"/usr/lib/aarch64-linux-gnu/hdf5/serial/plugins",
	"/usr/lib/hdf5/serial/plugins",
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/*
 * LZF decoder (HDF5 filter 32000, as h5py/pyuvdata write flags and nsamples).
 *
 * Debian 12's hdf5-plugin-lzf 3.7.0-8 ships a plugin that leaves lzf_compress
 * and lzf_decompress undefined and does not depend on liblzf1, so dlopen()
 * fails with "undefined symbol: lzf_decompress"; with liblzf1 installed it
 * loads, but takes a corrupt chunk for data.  lib_init() therefore always
 * registers this decoder for filter 32000.  Format (liblzf's
 * lzf_d.c): a control byte c < 32 starts a literal run of c + 1 bytes; else
 * the back-reference length is (c >> 5) + 2 (7 means: add the next byte) and
 * the distance ((c & 31) << 8) + next byte + 1.  Every access is bounds-checked:
 * a corrupt chunk fails the read, never overruns a buffer.
 */
static size_t lzf_decode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
			 int *out_full)
{
	const uint8_t *ip = in, *const ie = in + in_len;
	uint8_t *op = out, *const oe = out + out_len;

	*out_full = 0;
	while (ip < ie) {
		unsigned ctrl = *ip++;
		if (ctrl < 32) {
			size_t n = ctrl + 1;
			if ((size_t)(ie - ip) < n)
				return 0;
			if ((size_t)(oe - op) < n) {
				*out_full = 1;
				return 0;
			}
			memcpy(op, ip, n);
			op += n;
			ip += n;
		} else {
			size_t len = ctrl >> 5, off;
			if (len == 7) {
				if (ip >= ie)
					return 0;
				len += *ip++;
			}
			if (ip >= ie)
				return 0;
			off = ((size_t)(ctrl & 31) << 8) + *ip++ + 1;
			len += 2;
			if ((size_t)(op - out) < off)
				return 0;
			if ((size_t)(oe - op) < len) {
				*out_full = 1;
				return 0;
			}
			for (size_t i = 0; i < len; i++) /* may overlap: byte by byte */
				op[i] = op[i - off];
			op += len;
		}
	}
	return (size_t)(op - out);
}

static size_t lzf_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
			 size_t nbytes, size_t *buf_size, void **buf)
{
	/* h5py stores the uncompressed chunk size in cd_values[2]. */
	size_t cap = cd_nelmts >= 3 && cd_values[2] ? cd_values[2] : 4 * nbytes + 64;

	if (!(flags & H5Z_FLAG_REVERSE))
		return 0; /* decoder only: we never write LZF */
	for (;;) {
		int full;
		uint8_t *out = H5allocate_memory(cap, 0);
		size_t n;

		if (!out)
			return 0;
		n = lzf_decode(*buf, nbytes, out, cap, &full);
		if (n && cd_nelmts >= 3 && cd_values[2] && n != cd_values[2])
			n = 0, full = 0; /* corrupt: not the chunk size h5py recorded */
		if (n) {
			H5free_memory(*buf);
			*buf = out;
			*buf_size = cap;
			return n;
		}
		H5free_memory(out);
		if (!full || cap >= (1u << 30))
			return 0;
		cap *= 2;
	}
}

static const H5Z_class2_t lzf_class = {
	H5Z_CLASS_T_VERS, (H5Z_filter_t)32000, 0, 1, "lzf (contimg decoder)", NULL, NULL, lzf_filter,
};

static void lib_init(void)
{
	unsigned n = 0;

	H5open();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	if (H5PLsize(&n) < 0)
		n = 0;
	for (size_t k = 0; k < sizeof plugin_dirs / sizeof plugin_dirs[0]; k++) {
		struct stat st;
		int have = 0;

		if (stat(plugin_dirs[k], &st) || !S_ISDIR(st.st_mode))
			continue;
		for (unsigned i = 0; i < n && !have; i++) {
			char buf[4096];
			ssize_t len = H5PLget(i, buf, sizeof buf);
			if (len > 0 && !strcmp(buf, plugin_dirs[k]))
				have = 1;
		}
		if (!have)
			H5PLappend(plugin_dirs[k]);
	}
	/* Always our decoder for LZF, even where Debian's plugin would load
	 * (with liblzf1 installed): the plugin accepted a chunk overwritten with
	 * zeros as valid data (tests/core/test_uvh5_robust.c), ours checks the
	 * decoded size against the chunk's. */
	H5Zregister(&lzf_class);
}

/* Every public entry point calls this: the plugin path is set once per
 * process, and HDF5's automatic error printing is per thread in the
 * thread-safe build, so it is switched off on every call. */
static void h5_enter(void)
{
	pthread_once(&lib_once, lib_init);
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

struct walk_buf {
	char *buf;
	size_t len;
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
	struct walk_buf *w = data;
	if (n == 0 && e->desc)
		snprintf(w->buf, w->len, "%s", e->desc);
	return 0;
}

/* The most specific message on HDF5's error stack (e.g. "truncated file: eof = ..."). */
static const char *h5_reason(char *buf, size_t len)
{
	struct walk_buf w = { buf, len };
	buf[0] = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
	if (!buf[0])
		snprintf(buf, len, "HDF5 error");
	return buf;
}

/* Close an HDF5 handle with its own close function, if it was ever opened. */
static void close_if(hid_t id, herr_t (*close_fn)(hid_t))
{
	if (id >= 0)
		close_fn(id);
}

const char *uvh5_pol_name(int code)
{
	switch (code) {
	case 1: return "I";
	case 2: return "Q";
	case 3: return "U";
	case 4: return "V";
	case -1: return "RR";
	case -2: return "LL";
	case -3: return "RL";
	case -4: return "LR";
	case -5: return "XX";
	case -6: return "YY";
	case -7: return "XY";
	case -8: return "YX";
	default: return "?";
	}
}

/* ------------------------------------------------------------------------ */
/* Reader context                                                            */

typedef struct ctx {
	const char *path;
	hid_t file, hdr, data;
	hid_t vis, flags, nsamples; /* Data/ datasets (opened, never read in the header) */
	int data_rank;
	uvh5_header h;
	int64_t *ant1, *ant2;      /* [nblts] */
	double *time, *inttime;    /* [nblts] */
	double *freq;              /* [nfreqs] */
	int64_t *antnum;           /* [nants_telescope] */
	int fixed;                 /* phase centre is a fixed (sidereal) ICRS position */
	int has_pointing_dec;
	double pointing_dec_rad;
} ctx;

static int fail(const ctx *c, char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(const ctx *c, char *err, size_t errlen, int code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(err, errlen, code, "%s: %s", c->path, msg);
}

static void not_imageable(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void not_imageable(ctx *c, const char *fmt, ...)
{
	char msg[256];
	size_t n = strlen(c->h.not_imageable), k;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->h.imageable = 0;
	if (n + 3 >= sizeof c->h.not_imageable)
		return; /* full: the first reasons are the informative ones */
	if (n) {
		memcpy(c->h.not_imageable + n, "; ", 3);
		n += 2;
	}
	k = strlen(msg);
	if (k > sizeof c->h.not_imageable - 1 - n)
		k = sizeof c->h.not_imageable - 1 - n;
	memcpy(c->h.not_imageable + n, msg, k);
	c->h.not_imageable[n + k] = 0;
}

static void ctx_close(ctx *c)
{
	if (c->vis > 0)
		H5Dclose(c->vis);
	if (c->flags > 0)
		H5Dclose(c->flags);
	if (c->nsamples > 0)
		H5Dclose(c->nsamples);
	if (c->hdr > 0)
		H5Gclose(c->hdr);
	if (c->data > 0)
		H5Gclose(c->data);
	if (c->file > 0)
		H5Fclose(c->file);
	free(c->ant1);
	free(c->ant2);
	free(c->time);
	free(c->inttime);
	free(c->freq);
	free(c->antnum);
	memset(c, 0, sizeof *c);
}

/* True when the 8-byte HDF5 signature is at offset 0, 512, 1024, ... of buf. */
static int image_is_hdf5(const unsigned char *buf, size_t len)
{
	static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
	for (size_t off = 0; off + 8 <= len; off = off ? off * 2 : 512)
		if (!memcmp(buf + off, sig, 8))
			return 1;
	return 0;
}

/* Open a file by path, or an in-memory image (image != NULL; path is then only
 * the name used in messages). */
static int ctx_open(ctx *c, const char *path, const void *image, size_t imagelen, char *err,
		    size_t errlen)
{
	char why[256];
	hid_t fapl = -1;
	int r = 0;

	memset(c, 0, sizeof *c);
	c->file = c->hdr = c->data = c->vis = c->flags = c->nsamples = -1;
	c->path = path ? path : "(null)";
	if (!path)
		return fail(c, err, errlen, -EINVAL, "no file name given");
	if (!image) {
		struct stat st;
		htri_t is;

		if (stat(path, &st))
			return fail(c, err, errlen, -errno, "cannot open: %s", strerror(errno));
		if (S_ISDIR(st.st_mode))
			return fail(c, err, errlen, -EISDIR, "is a directory, not a UVH5 file");
		if (access(path, R_OK))
			return fail(c, err, errlen, -errno, "cannot read: %s", strerror(errno));
		is = H5Fis_hdf5(path);
		if (is <= 0)
			return fail(c, err, errlen, -EIO, "not an HDF5 file%s%s",
				    is < 0 ? ": " : "", is < 0 ? h5_reason(why, sizeof why) : "");
		c->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	} else {
		if (!image_is_hdf5(image, imagelen))
			return fail(c, err, errlen, -EIO, "not an HDF5 file");
		fapl = H5Pcreate(H5P_FILE_ACCESS);
		if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
		    H5Pset_file_image(fapl, (void *)image, imagelen) < 0) {
			r = fail(c, err, errlen, -ENOMEM, "cannot set up an in-memory HDF5 file");
			goto out;
		}
		c->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	}
	if (c->file < 0) {
		r = fail(c, err, errlen, -EIO, "cannot open as HDF5 (truncated or corrupt?): %s",
			 h5_reason(why, sizeof why));
		goto out;
	}
out:
	close_if(fapl, H5Pclose);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Dataset helpers.  Each returns 0 when read, 1 when absent and optional,    */
/* a negative errno with a message otherwise.                                 */

typedef struct dsinfo {
	hid_t ds;
	H5T_class_t cls;
	size_t tsize;
	int rank;
	int null;          /* NULL dataspace (h5py.Empty): no value */
	hsize_t dims[H5S_MAX_RANK];
	hssize_t npoints;
} dsinfo;

static int ds_open(ctx *c, hid_t g, const char *gname, const char *name, int required,
		   dsinfo *d, char *err, size_t errlen)
{
	char why[256];
	hid_t ty = -1, sp = -1;
	htri_t ex;
	int r = 0;

	memset(d, 0, sizeof *d);
	d->ds = -1;
	ex = H5Lexists(g, name, H5P_DEFAULT);
	if (ex < 0)
		return fail(c, err, errlen, -EIO, "%s/%s: cannot look up: %s", gname, name,
			    h5_reason(why, sizeof why));
	if (ex == 0)
		return required ? fail(c, err, errlen, -ENOENT, "missing dataset %s/%s", gname, name)
				: 1;
	d->ds = H5Dopen2(g, name, H5P_DEFAULT);
	if (d->ds < 0)
		return fail(c, err, errlen, -EIO, "%s/%s: cannot open as a dataset: %s", gname, name,
			    h5_reason(why, sizeof why));
	ty = H5Dget_type(d->ds);
	sp = H5Dget_space(d->ds);
	if (ty < 0 || sp < 0) {
		r = fail(c, err, errlen, -EIO, "%s/%s: unreadable type or shape: %s", gname, name,
			 h5_reason(why, sizeof why));
		goto out;
	}
	d->cls = H5Tget_class(ty);
	d->tsize = H5Tget_size(ty);
	switch (H5Sget_simple_extent_type(sp)) {
	case H5S_NULL:
		d->null = 1;
		break;
	case H5S_SCALAR:
		d->npoints = 1;
		break;
	case H5S_SIMPLE:
		d->rank = H5Sget_simple_extent_ndims(sp);
		if (d->rank < 0 || d->rank > 8 || H5Sget_simple_extent_dims(sp, d->dims, NULL) < 0) {
			r = fail(c, err, errlen, -EIO, "%s/%s: unreadable shape", gname, name);
			goto out;
		}
		d->npoints = H5Sget_simple_extent_npoints(sp);
		break;
	default:
		r = fail(c, err, errlen, -EIO, "%s/%s: unreadable dataspace", gname, name);
		goto out;
	}
	if (d->cls < 0 || d->tsize == 0 || d->npoints < 0)
		r = fail(c, err, errlen, -EIO, "%s/%s: unreadable type", gname, name);
out:
	close_if(ty, H5Tclose);
	close_if(sp, H5Sclose);
	if (r && d->ds >= 0) {
		H5Dclose(d->ds);
		d->ds = -1;
	}
	return r;
}

static void shape_str(const dsinfo *d, char *buf, size_t len)
{
	size_t n = 0;

	if (d->null) {
		snprintf(buf, len, "empty");
		return;
	}
	if (d->rank == 0) {
		snprintf(buf, len, "scalar");
		return;
	}
	buf[0] = 0;
	for (int i = 0; i < d->rank && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%llu", i ? "," : "(", (unsigned long long)d->dims[i]);
	if (n < len)
		snprintf(buf + n, len - n, ")");
}

/*
 * Read numbers from gname/name into buf as memtype (H5T_NATIVE_DOUBLE or
 * H5T_NATIVE_INT64).  The dataset must hold n values: when ncols > 0 as a
 * rank-2 (n / ncols, ncols) array, otherwise as a scalar (n == 1) or a vector
 * whose other axes have length 1 (freq_array (1, Nfreqs)).  want_int refuses
 * floating-point storage (counts and antenna numbers).  An empty (NULL
 * dataspace) dataset counts as absent.
 */
static int read_nums(ctx *c, hid_t g, const char *gname, const char *name, int required,
		     hid_t memtype, int want_int, hsize_t n, int ncols, void *buf, char *err,
		     size_t errlen)
{
	char why[256], shp[96];
	dsinfo d;
	int r = ds_open(c, g, gname, name, required, &d, err, errlen);
	int ok;

	if (r)
		return r;
	if (d.null) {
		r = required ? fail(c, err, errlen, -EIO, "%s/%s is empty", gname, name) : 1;
		goto out;
	}
	/* A corrupt datatype message can claim gigabyte-sized numbers, and HDF5
	 * would allocate a conversion buffer that size: refuse anything wider
	 * than 8 bytes. */
	if (!(d.cls == H5T_INTEGER || (!want_int && d.cls == H5T_FLOAT)) || d.tsize > 8) {
		r = fail(c, err, errlen, -EIO, "%s/%s: expected %s numbers", gname, name,
			 want_int ? "integer" : "integer or floating-point");
		goto out;
	}
	if (ncols > 0) {
		ok = d.rank == 2 && d.dims[1] == (hsize_t)ncols && d.dims[0] * ncols == n;
	} else {
		int big = 0;
		ok = (hsize_t)d.npoints == n;
		for (int i = 0; i < d.rank; i++)
			big += d.dims[i] != 1;
		ok = ok && big <= 1;
	}
	if (!ok) {
		shape_str(&d, shp, sizeof shp);
		if (ncols > 0)
			r = fail(c, err, errlen, -EIO, "%s/%s has shape %s, expected (%llu,%d)", gname,
				 name, shp, (unsigned long long)(n / ncols), ncols);
		else
			r = fail(c, err, errlen, -EIO, "%s/%s has shape %s, expected %llu value%s",
				 gname, name, shp, (unsigned long long)n, n == 1 ? "" : "s");
		goto out;
	}
	if (H5Dread(d.ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		r = fail(c, err, errlen, -EIO, "%s/%s: read failed: %s", gname, name,
			 h5_reason(why, sizeof why));
out:
	H5Dclose(d.ds);
	return r;
}

static int read_i64(ctx *c, hid_t g, const char *gname, const char *name, int required,
		    int64_t *ret, char *err, size_t errlen)
{
	return read_nums(c, g, gname, name, required, H5T_NATIVE_INT64, 1, 1, 0, ret, err, errlen);
}

static int read_f64(ctx *c, hid_t g, const char *gname, const char *name, int required,
		    double *ret, char *err, size_t errlen)
{
	return read_nums(c, g, gname, name, required, H5T_NATIVE_DOUBLE, 0, 1, 0, ret, err, errlen);
}

/* Strip the NUL or space padding of a fixed-length string in place. */
static void rstrip(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		s[--n] = 0;
}

/*
 * Read n strings (fixed-length or variable-length, as h5py writes np.bytes_ or
 * str) into out, each truncated to width bytes including the NUL.
 */
static int read_strs(ctx *c, hid_t g, const char *gname, const char *name, int required,
		     hsize_t n, char *out, size_t width, char *err, size_t errlen)
{
	char why[256], shp[96];
	hid_t ft = -1, mt = -1, sp = -1;
	char **vp = NULL, *fix = NULL;
	dsinfo d;
	int r = ds_open(c, g, gname, name, required, &d, err, errlen);

	if (r)
		return r;
	if (d.cls != H5T_STRING) {
		r = fail(c, err, errlen, -EIO, "%s/%s: expected a string", gname, name);
		goto out;
	}
	if (d.null || (hsize_t)d.npoints != n) {
		shape_str(&d, shp, sizeof shp);
		r = fail(c, err, errlen, -EIO, "%s/%s has shape %s, expected %llu string%s", gname,
			 name, shp, (unsigned long long)n, n == 1 ? "" : "s");
		goto out;
	}
	ft = H5Dget_type(d.ds);
	if (ft < 0) {
		r = fail(c, err, errlen, -EIO, "%s/%s: unreadable type", gname, name);
		goto out;
	}
	if (H5Tis_variable_str(ft) > 0) {
		mt = H5Tcopy(H5T_C_S1);
		vp = calloc(n, sizeof *vp);
		sp = H5Dget_space(d.ds);
		if (mt < 0 || !vp || sp < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
		    H5Tset_cset(mt, H5Tget_cset(ft)) < 0) {
			r = fail(c, err, errlen, -ENOMEM, "%s/%s: out of memory", gname, name);
			goto out;
		}
		if (H5Dread(d.ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vp) < 0) {
			r = fail(c, err, errlen, -EIO, "%s/%s: read failed: %s", gname, name,
				 h5_reason(why, sizeof why));
			free(vp);
			vp = NULL;
			goto out;
		}
		for (hsize_t i = 0; i < n; i++) {
			snprintf(out + i * width, width, "%s", vp[i] ? vp[i] : "");
			rstrip(out + i * width);
		}
		H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, vp);
	} else {
		size_t sz = d.tsize;
		if (sz > MAX_STRING || n * sz > 64 * (size_t)MAX_STRING) {
			r = fail(c, err, errlen, -EIO, "%s/%s: strings of %zu bytes are too long", gname,
				 name, sz);
			goto out;
		}
		mt = H5Tcopy(ft);
		fix = malloc(n * sz + 1);
		if (mt < 0 || !fix) {
			r = fail(c, err, errlen, -ENOMEM, "%s/%s: out of memory", gname, name);
			goto out;
		}
		if (H5Dread(d.ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, fix) < 0) {
			r = fail(c, err, errlen, -EIO, "%s/%s: read failed: %s", gname, name,
				 h5_reason(why, sizeof why));
			goto out;
		}
		for (hsize_t i = 0; i < n; i++) {
			size_t k = width - 1 < sz ? width - 1 : sz;
			memcpy(out + i * width, fix + i * sz, k);
			out[i * width + k] = 0;
			rstrip(out + i * width);
		}
	}
out:
	free(vp);
	free(fix);
	close_if(sp, H5Sclose);
	close_if(mt, H5Tclose);
	close_if(ft, H5Tclose);
	H5Dclose(d.ds);
	return r;
}

static int read_str(ctx *c, hid_t g, const char *gname, const char *name, int required, char *buf,
		    size_t len, char *err, size_t errlen)
{
	int r = read_strs(c, g, gname, name, required, 1, buf, len, err, errlen);
	if (r == 1)
		buf[0] = 0;
	return r;
}

/* ------------------------------------------------------------------------ */
/* Header                                                                     */

static int read_count(ctx *c, const char *name, int64_t max, int *ret, char *err, size_t errlen)
{
	int64_t v = 0;
	int r = read_i64(c, c->hdr, "Header", name, 1, &v, err, errlen);
	if (r)
		return r;
	if (v < 1 || v > max)
		return fail(c, err, errlen, -EIO, "Header/%s = %lld is out of range (1..%lld)", name,
			    (long long)v, (long long)max);
	*ret = (int)v;
	return 0;
}

/* Check a Data/ dataset's shape against the header counts. */
static int check_data_shape(ctx *c, const dsinfo *d, const char *name, char *err, size_t errlen)
{
	const uvh5_header *h = &c->h;
	char shp[96];
	int ok;

	if (d->rank == 4)
		ok = d->dims[0] == (hsize_t)h->nblts && d->dims[1] == 1 &&
		     d->dims[2] == (hsize_t)h->nfreqs && d->dims[3] == (hsize_t)h->npols;
	else if (d->rank == 3)
		ok = d->dims[0] == (hsize_t)h->nblts && d->dims[1] == (hsize_t)h->nfreqs &&
		     d->dims[2] == (hsize_t)h->npols;
	else
		ok = 0;
	if (!ok) {
		shape_str(d, shp, sizeof shp);
		return fail(c, err, errlen, -EIO,
			    "Data/%s has shape %s, expected (Nblts %d, Nfreqs %d, Npols %d) or "
			    "(Nblts, 1, Nfreqs, Npols)",
			    name, shp, h->nblts, h->nfreqs, h->npols);
	}
	if (c->data_rank && d->rank != c->data_rank)
		return fail(c, err, errlen, -EIO, "Data/%s has rank %d but Data/visdata rank %d", name,
			    d->rank, c->data_rank);
	return 0;
}

/* Note datasets whose filters (e.g. LZF) cannot be loaded: inspect still works
 * (it never reads Data/), reading the data would not. */
static void check_filters(ctx *c, hid_t ds, const char *name)
{
	hid_t dcpl = H5Dget_create_plist(ds);
	int nf;

	if (dcpl < 0)
		return;
	nf = H5Pget_nfilters(dcpl);
	for (int i = 0; i < nf; i++) {
		unsigned flags = 0, cd[8];
		size_t ncd = 8;
		char fname[64] = "";
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname,
						 fname, NULL);
		if (id >= 0 && H5Zfilter_avail(id) <= 0) {
			not_imageable(c, "Data/%s needs HDF5 filter %d (%s), which is not available%s",
				      name, (int)id, fname[0] ? fname : "unknown",
				      id == 32000 ? " (install hdf5-plugin-lzf)" : "");
			break;
		}
	}
	H5Pclose(dcpl);
}

/* Open Data/<name> into *ret (closed by ctx_close) and check its shape. */
static int open_data_ds(ctx *c, const char *name, dsinfo *d, hid_t *ret, char *err,
			size_t errlen)
{
	int r = ds_open(c, c->data, "Data", name, 1, d, err, errlen);

	if (r)
		return r;
	*ret = d->ds;
	return check_data_shape(c, d, name, err, errlen);
}

static int open_data(ctx *c, char *err, size_t errlen)
{
	char why[256];
	dsinfo d;
	int r;

	if (H5Lexists(c->file, "Data", H5P_DEFAULT) <= 0)
		return fail(c, err, errlen, -ENOENT, "missing group Data (not a UVH5 file)");
	c->data = H5Gopen2(c->file, "Data", H5P_DEFAULT);
	if (c->data < 0)
		return fail(c, err, errlen, -EIO, "cannot open group Data: %s",
			    h5_reason(why, sizeof why));

	/* visdata: compound {r, i} of float32, float64 or int32 (pyuvdata's _check_uvh5_dtype). */
	if ((r = open_data_ds(c, "visdata", &d, &c->vis, err, errlen)))
		return r;
	c->data_rank = d.rank;
	{
		hid_t ft = H5Dget_type(c->vis), t0 = -1, t1 = -1;
		int ok = 0, ir = -1, ii = -1;

		if (ft >= 0 && d.cls == H5T_COMPOUND && d.tsize <= 16 && H5Tget_nmembers(ft) == 2) {
			ir = H5Tget_member_index(ft, "r");
			ii = H5Tget_member_index(ft, "i");
		}
		if (ir >= 0 && ii >= 0) {
			t0 = H5Tget_member_type(ft, (unsigned)ir);
			t1 = H5Tget_member_type(ft, (unsigned)ii);
		}
		if (t0 >= 0 && t1 >= 0 && H5Tget_class(t0) == H5Tget_class(t1) &&
		    H5Tget_size(t0) == H5Tget_size(t1)) {
			size_t s = H5Tget_size(t0);
			if (H5Tget_class(t0) == H5T_FLOAT && (s == 4 || s == 8)) {
				c->h.vis_type = s == 4 ? UVH5_VIS_C8 : UVH5_VIS_C16;
				ok = 1;
			} else if (H5Tget_class(t0) == H5T_INTEGER && s == 4) {
				c->h.vis_type = UVH5_VIS_I32;
				ok = 1;
			}
		}
		close_if(t0, H5Tclose);
		close_if(t1, H5Tclose);
		close_if(ft, H5Tclose);
		if (!ok)
			return fail(c, err, errlen, -EIO,
				    "Data/visdata: unsupported type (UVH5 needs a compound of 'r' and "
				    "'i' as float32, float64 or int32)");
	}

	if ((r = open_data_ds(c, "flags", &d, &c->flags, err, errlen)))
		return r;
	if (!((d.cls == H5T_ENUM || d.cls == H5T_INTEGER || d.cls == H5T_BITFIELD) && d.tsize == 1))
		return fail(c, err, errlen, -EIO,
			    "Data/flags: unsupported type (expected a boolean: an 8-bit enum or integer)");

	if ((r = open_data_ds(c, "nsamples", &d, &c->nsamples, err, errlen)))
		return r;
	if ((d.cls != H5T_FLOAT && d.cls != H5T_INTEGER) || d.tsize > 8)
		return fail(c, err, errlen, -EIO, "Data/nsamples: expected numbers");
	c->h.data_rank = c->data_rank;
	check_filters(c, c->vis, "visdata");
	check_filters(c, c->flags, "flags");
	check_filters(c, c->nsamples, "nsamples");
	return 0;
}

/* The phase centre: DSA-110 extra_keywords, a pyuvdata 3 phase_center_catalog,
 * or the pyuvdata 1/2 phase_type / phase_center_ra/dec datasets. */
static int read_phase(ctx *c, char *err, size_t errlen)
{
	uvh5_header *h = &c->h;
	char why[256], ptype[32] = "";
	double v;
	int r;

	if ((r = read_str(c, c->hdr, "Header", "phase_type", 0, ptype, sizeof ptype, err, errlen)) < 0)
		return r;

	if (H5Lexists(c->hdr, "extra_keywords", H5P_DEFAULT) > 0) {
		hid_t ek = H5Gopen2(c->hdr, "extra_keywords", H5P_DEFAULT);
		if (ek < 0)
			return fail(c, err, errlen, -EIO, "cannot open group Header/extra_keywords: %s",
				    h5_reason(why, sizeof why));
		r = read_f64(c, ek, "Header/extra_keywords", "phase_center_dec", 0, &v, err, errlen);
		H5Gclose(ek);
		if (r < 0)
			return r;
		if (r == 0) {
			c->has_pointing_dec = 1;
			c->pointing_dec_rad = v;
			h->has_dec = 1;
			h->dec_rad = v;
		}
	}

	if (H5Lexists(c->hdr, "phase_center_catalog", H5P_DEFAULT) > 0) {
		hid_t cat = H5Gopen2(c->hdr, "phase_center_catalog", H5P_DEFAULT), g = -1;
		H5G_info_t gi;
		char gname[64], full[96], ctype[32] = "", frame[32] = "";
		double lon = 0, lat = 0;
		int has_lon, has_lat;

		if (cat < 0 || H5Gget_info(cat, &gi) < 0) {
			close_if(cat, H5Gclose);
			return fail(c, err, errlen, -EIO, "cannot read Header/phase_center_catalog: %s",
				    h5_reason(why, sizeof why));
		}
		if (gi.nlinks == 0) {
			H5Gclose(cat);
			return fail(c, err, errlen, -EIO, "Header/phase_center_catalog is empty");
		}
		if (gi.nlinks > 1)
			not_imageable(c, "%llu phase centres in phase_center_catalog (one needed)",
				      (unsigned long long)gi.nlinks);
		if (H5Lget_name_by_idx(cat, ".", H5_INDEX_NAME, H5_ITER_INC, 0, gname, sizeof gname,
				       H5P_DEFAULT) < 0 ||
		    (g = H5Gopen2(cat, gname, H5P_DEFAULT)) < 0) {
			H5Gclose(cat);
			return fail(c, err, errlen, -EIO,
				    "Header/phase_center_catalog: cannot open its first entry: %s",
				    h5_reason(why, sizeof why));
		}
		snprintf(full, sizeof full, "Header/phase_center_catalog/%s", gname);
		r = read_str(c, g, full, "cat_type", 1, ctype, sizeof ctype, err, errlen);
		if (r >= 0)
			r = read_str(c, g, full, "cat_frame", 0, frame, sizeof frame, err, errlen);
		has_lon = r >= 0 ? read_f64(c, g, full, "cat_lon", 0, &lon, err, errlen) : r;
		has_lat = has_lon >= 0 ? read_f64(c, g, full, "cat_lat", 0, &lat, err, errlen) : has_lon;
		H5Gclose(g);
		H5Gclose(cat);
		if (r < 0)
			return r;
		if (has_lon < 0)
			return has_lon;
		if (has_lat < 0)
			return has_lat;
		if (!ptype[0])
			snprintf(ptype, sizeof ptype, "%s", ctype);
		if (!strcmp(ctype, "sidereal") && has_lon == 0 && has_lat == 0) {
			if (frame[0] && strcmp(frame, "icrs") && strcmp(frame, "fk5"))
				not_imageable(c, "phase centre frame '%s' (icrs or fk5 needed)", frame);
			c->fixed = 1;
			h->has_ra = 1;
			h->ra_rad = lon;
			if (!h->has_dec) {
				h->has_dec = 1;
				h->dec_rad = lat;
			}
		} else if (!strcmp(ctype, "sidereal")) {
			return fail(c, err, errlen, -EIO, "%s: sidereal phase centre without cat_lon/cat_lat",
				    full);
		} else if (strcmp(ctype, "unprojected")) {
			not_imageable(c, "phase centre type '%s' (sidereal or unprojected needed)", ctype);
		}
	} else if (!strcmp(ptype, "phased")) {
		/* pyuvdata < 2.2: phase_center_ra/dec in radians (epoch J2000 when given). */
		double ra = 0, dec = 0;
		int a = read_f64(c, c->hdr, "Header", "phase_center_ra", 1, &ra, err, errlen);
		if (a < 0)
			return a;
		if ((a = read_f64(c, c->hdr, "Header", "phase_center_dec", 1, &dec, err, errlen)) < 0)
			return a;
		c->fixed = 1;
		h->has_ra = 1;
		h->ra_rad = ra;
		if (!h->has_dec) {
			h->has_dec = 1;
			h->dec_rad = dec;
		}
	} else if (strcmp(ptype, "drift")) {
		not_imageable(c, "phase_type '%s' (drift or phased needed)", ptype[0] ? ptype : "missing");
	}
	snprintf(h->phase_type, sizeof h->phase_type, "%s", ptype[0] ? ptype : "unknown");
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Decide whether the blt axis is the rectangular, time-major layout a vis_set
 * needs (all baselines of time 0, then time 1 ..., same baseline order each time). */
static int check_layout(ctx *c, char *err, size_t errlen)
{
	uvh5_header *h = &c->h;
	const int nb = h->nbls, nt = h->ntimes;
	double imin = INFINITY, imax = -INFINITY;
	uint64_t *keys = NULL;
	int r = 0;

	h->time_start_jd = INFINITY;
	h->time_end_jd = -INFINITY;
	for (int i = 0; i < h->nblts; i++) {
		if (!isfinite(c->time[i]) || !isfinite(c->inttime[i]))
			return fail(c, err, errlen, -EIO, "Header/time_array or integration_time has a "
				    "non-finite value at row %d", i);
		if (c->time[i] < h->time_start_jd)
			h->time_start_jd = c->time[i];
		if (c->time[i] > h->time_end_jd)
			h->time_end_jd = c->time[i];
		if (c->inttime[i] < imin)
			imin = c->inttime[i];
		if (c->inttime[i] > imax)
			imax = c->inttime[i];
		if (c->ant1[i] == c->ant2[i])
			h->has_autos = 1;
		else if (c->ant1[i] > c->ant2[i])
			h->reversed_rows++;
	}
	h->integration_time_s = c->inttime[0];
	if (imax - imin > 1e-6 * fabs(imax))
		not_imageable(c, "integration times differ (%.6g to %.6g s)", imin, imax);

	/* Antenna numbers: distinct, non-negative ints; every antenna in
	 * ant_1/2_array must be one of them. */
	{
		int64_t *sorted = malloc((size_t)h->nants_telescope * sizeof *sorted);
		if (!sorted)
			return fail(c, err, errlen, -ENOMEM, "out of memory");
		memcpy(sorted, c->antnum, (size_t)h->nants_telescope * sizeof *sorted);
		qsort(sorted, h->nants_telescope, sizeof *sorted, cmp_i64);
		for (int j = 0; j < h->nants_telescope && !r; j++) {
			if (sorted[j] < 0 || sorted[j] > INT32_MAX)
				r = fail(c, err, errlen, -EIO, "Header/antenna_numbers: %lld is out of "
					 "range", (long long)sorted[j]);
			else if (j && sorted[j] == sorted[j - 1])
				r = fail(c, err, errlen, -EIO, "Header/antenna_numbers lists %lld twice",
					 (long long)sorted[j]);
		}
		for (int i = 0; i < h->nblts && !r; i++)
			for (int k = 0; k < 2 && !r; k++) {
				int64_t a = k ? c->ant2[i] : c->ant1[i];
				if (!bsearch(&a, sorted, h->nants_telescope, sizeof *sorted, cmp_i64))
					r = fail(c, err, errlen, -EIO, "Header/ant_%d_array[%d] = %lld is not "
						 "in Header/antenna_numbers", k + 1, i, (long long)a);
			}
		free(sorted);
		if (r)
			return r;
	}

	if ((int64_t)nt * nb != h->nblts) {
		not_imageable(c, "Nblts %d is not Ntimes %d x Nbls %d: the baseline-time axis is not "
			      "rectangular", h->nblts, nt, nb);
		return 0;
	}
	for (int t = 0; t < nt && h->imageable; t++) {
		const double t0 = c->time[(size_t)t * nb];
		if (t > 0 && !(t0 > c->time[(size_t)(t - 1) * nb])) {
			not_imageable(c, "times do not increase from one block of Nbls %d rows to the "
				      "next (row %d): not time-major", nb, t * nb);
			break;
		}
		for (int b = 0; b < nb; b++) {
			size_t i = (size_t)t * nb + b;
			if (fabs(c->time[i] - t0) > 1e-7) {
				not_imageable(c, "time changes inside the block of Nbls %d rows starting at "
					      "row %d: the baseline-time axis is not time-major",
					      nb, t * nb);
				break;
			}
			if (c->ant1[i] != c->ant1[b] || c->ant2[i] != c->ant2[b]) {
				not_imageable(c, "baseline order of integration %d differs from "
					      "integration 0 (row %zu)", t, i);
				break;
			}
		}
	}
	if (!h->imageable)
		return 0;

	keys = malloc((size_t)nb * sizeof *keys);
	if (!keys)
		return fail(c, err, errlen, -ENOMEM, "out of memory");
	/* Antenna numbers are known to be in 0..INT32_MAX (checked above). */
	for (int b = 0; b < nb; b++)
		keys[b] = (uint64_t)c->ant1[b] << 32 | (uint64_t)c->ant2[b];
	qsort(keys, nb, sizeof *keys, cmp_u64);
	for (int b = 1; b < nb; b++)
		if (keys[b] == keys[b - 1]) {
			not_imageable(c, "baseline (%llu, %llu) appears twice in one integration",
				      (unsigned long long)(keys[b] >> 32),
				      (unsigned long long)(keys[b] & 0xffffffffu));
			break;
		}
	free(keys);
	return r;
}

static int read_header(ctx *c, char *err, size_t errlen)
{
	uvh5_header *h = &c->h;
	char why[256];
	double *cw = NULL;
	int64_t pols[4], v;
	int r;

	h->imageable = 1;
	if (H5Lexists(c->file, "Header", H5P_DEFAULT) <= 0)
		return fail(c, err, errlen, -ENOENT, "missing group Header (not a UVH5 file)");
	c->hdr = H5Gopen2(c->file, "Header", H5P_DEFAULT);
	if (c->hdr < 0)
		return fail(c, err, errlen, -EIO, "cannot open group Header: %s",
			    h5_reason(why, sizeof why));

	if ((r = read_count(c, "Nblts", MAX_NBLTS, &h->nblts, err, errlen)) ||
	    (r = read_count(c, "Nbls", MAX_NBLTS, &h->nbls, err, errlen)) ||
	    (r = read_count(c, "Ntimes", MAX_NBLTS, &h->ntimes, err, errlen)) ||
	    (r = read_count(c, "Nfreqs", MAX_NFREQS, &h->nfreqs, err, errlen)) ||
	    (r = read_count(c, "Npols", 4, &h->npols, err, errlen)) ||
	    (r = read_count(c, "Nspws", MAX_NFREQS, &h->nspws, err, errlen)) ||
	    (r = read_count(c, "Nants_data", MAX_NANTS, &h->nants_data, err, errlen)) ||
	    (r = read_count(c, "Nants_telescope", MAX_NANTS, &h->nants_telescope, err, errlen)))
		return r;
	if (h->nbls > h->nblts || h->ntimes > h->nblts)
		return fail(c, err, errlen, -EIO, "Header: Nbls %d or Ntimes %d exceeds Nblts %d",
			    h->nbls, h->ntimes, h->nblts);
	if (h->nants_data > h->nants_telescope)
		return fail(c, err, errlen, -EIO, "Header: Nants_data %d exceeds Nants_telescope %d",
			    h->nants_data, h->nants_telescope);

	if ((r = read_str(c, c->hdr, "Header", "telescope_name", 1, h->telescope,
			  sizeof h->telescope, err, errlen)) < 0 ||
	    (r = read_str(c, c->hdr, "Header", "instrument", 0, h->instrument, sizeof h->instrument,
			  err, errlen)) < 0 ||
	    (r = read_str(c, c->hdr, "Header", "version", 0, h->version, sizeof h->version, err,
			  errlen)) < 0)
		return r;

	if ((r = read_f64(c, c->hdr, "Header", "latitude", 1, &h->lat_rad, err, errlen)) ||
	    (r = read_f64(c, c->hdr, "Header", "longitude", 1, &h->lon_rad, err, errlen)) ||
	    (r = read_f64(c, c->hdr, "Header", "altitude", 1, &h->alt_m, err, errlen)))
		return r;
	if (!(fabs(h->lat_rad) <= 90) || !(fabs(h->lon_rad) <= 360) || !isfinite(h->alt_m))
		return fail(c, err, errlen, -EIO, "Header: latitude %g / longitude %g (degrees) out of "
			    "range", h->lat_rad, h->lon_rad);
	h->lat_rad *= M_PI / 180;
	h->lon_rad *= M_PI / 180;

	if ((r = read_nums(c, c->hdr, "Header", "polarization_array", 1, H5T_NATIVE_INT64, 1,
			   h->npols, 0, pols, err, errlen)))
		return r;
	for (int p = 0; p < h->npols; p++) {
		if (pols[p] < -8 || pols[p] > 4 || pols[p] == 0)
			return fail(c, err, errlen, -EIO, "Header/polarization_array[%d] = %lld is not a "
				    "polarisation code", p, (long long)pols[p]);
		h->pols[p] = (int)pols[p];
	}

	/* Frequencies: (1, Nfreqs) in the old layout, (Nfreqs) in pyuvdata >= 2.x. */
	c->freq = malloc((size_t)h->nfreqs * sizeof *c->freq);
	cw = malloc((size_t)h->nfreqs * sizeof *cw);
	if (!c->freq || !cw) {
		r = fail(c, err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((r = read_nums(c, c->hdr, "Header", "freq_array", 1, H5T_NATIVE_DOUBLE, 0, h->nfreqs, 0,
			   c->freq, err, errlen)))
		goto out;
	h->freq_min_hz = INFINITY;
	h->freq_max_hz = -INFINITY;
	for (int f = 0; f < h->nfreqs; f++) {
		if (!isfinite(c->freq[f]) || c->freq[f] <= 0) {
			r = fail(c, err, errlen, -EIO, "Header/freq_array[%d] = %g is not a frequency", f,
				 c->freq[f]);
			goto out;
		}
		h->freq_min_hz = fmin(h->freq_min_hz, c->freq[f]);
		h->freq_max_hz = fmax(h->freq_max_hz, c->freq[f]);
	}
	h->freq_descending = h->nfreqs > 1;
	for (int f = 1; f < h->nfreqs; f++)
		if (!(c->freq[f] < c->freq[f - 1]))
			h->freq_descending = 0;
	if (h->nfreqs > 1 && !h->freq_descending) {
		for (int f = 1; f < h->nfreqs; f++)
			if (!(c->freq[f] > c->freq[f - 1])) {
				not_imageable(c, "freq_array is not monotonic");
				break;
			}
	}
	/* channel_width: a scalar (old layout) or one value per channel (flex spw). */
	r = read_nums(c, c->hdr, "Header", "channel_width", 1, H5T_NATIVE_DOUBLE, 0, 1, 0, cw, err,
		      errlen);
	if (r < 0 && r != -ENOENT && h->nfreqs > 1) {
		r = read_nums(c, c->hdr, "Header", "channel_width", 1, H5T_NATIVE_DOUBLE, 0, h->nfreqs,
			      0, cw, err, errlen);
		if (r < 0) {
			r = fail(c, err, errlen, -EIO, "Header/channel_width must be a scalar or have "
				 "Nfreqs %d values", h->nfreqs);
			goto out;
		}
		for (int f = 1; f < h->nfreqs; f++)
			if (fabs(fabs(cw[f]) - fabs(cw[0])) > 1e-6 * fabs(cw[0])) {
				not_imageable(c, "channel widths differ (%g and %g Hz)", cw[0], cw[f]);
				break;
			}
	} else if (r) {
		goto out;
	}
	h->channel_width_hz = fabs(cw[0]);
	if (!isfinite(h->channel_width_hz)) {
		r = fail(c, err, errlen, -EIO, "Header/channel_width is not finite");
		goto out;
	}
	if (h->nspws != 1)
		not_imageable(c, "Nspws %d: several spectral windows", h->nspws);

	/* Antennas: numbers here (to check ant_1/2_array); names and positions in
	 * read_meta.  Their shapes are checked now so a bad file fails early. */
	c->antnum = malloc((size_t)h->nants_telescope * sizeof *c->antnum);
	if (!c->antnum) {
		r = fail(c, err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((r = read_nums(c, c->hdr, "Header", "antenna_numbers", 1, H5T_NATIVE_INT64, 1,
			   h->nants_telescope, 0, c->antnum, err, errlen)))
		goto out;
	{
		dsinfo d;
		char shp[96];
		static const char *const names[] = { "antenna_positions", "antenna_names", "uvw_array" };
		for (int k = 0; k < 3; k++) {
			hsize_t n0 = k == 2 ? (hsize_t)h->nblts : (hsize_t)h->nants_telescope;
			int ok;
			if ((r = ds_open(c, c->hdr, "Header", names[k], 1, &d, err, errlen)))
				goto out;
			ok = k == 1 ? d.rank == 1 && d.dims[0] == n0 && d.cls == H5T_STRING
				    : d.rank == 2 && d.dims[0] == n0 && d.dims[1] == 3 &&
					      (d.cls == H5T_FLOAT || d.cls == H5T_INTEGER);
			shape_str(&d, shp, sizeof shp);
			H5Dclose(d.ds);
			if (!ok) {
				r = fail(c, err, errlen, -EIO, "Header/%s has shape %s or an unusable "
					 "type, expected %s (%s %llu%s)", names[k], shp,
					 k == 1 ? "strings" : "numbers",
					 k == 2 ? "Nblts" : "Nants_telescope", (unsigned long long)n0,
					 k == 1 ? "" : ", 3");
				goto out;
			}
		}
	}

	/* Per-row arrays of the baseline-time axis. */
	c->ant1 = malloc((size_t)h->nblts * sizeof *c->ant1);
	c->ant2 = malloc((size_t)h->nblts * sizeof *c->ant2);
	c->time = malloc((size_t)h->nblts * sizeof *c->time);
	c->inttime = malloc((size_t)h->nblts * sizeof *c->inttime);
	if (!c->ant1 || !c->ant2 || !c->time || !c->inttime) {
		r = fail(c, err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((r = read_nums(c, c->hdr, "Header", "ant_1_array", 1, H5T_NATIVE_INT64, 1, h->nblts, 0,
			   c->ant1, err, errlen)) ||
	    (r = read_nums(c, c->hdr, "Header", "ant_2_array", 1, H5T_NATIVE_INT64, 1, h->nblts, 0,
			   c->ant2, err, errlen)) ||
	    (r = read_nums(c, c->hdr, "Header", "time_array", 1, H5T_NATIVE_DOUBLE, 0, h->nblts, 0,
			   c->time, err, errlen)) ||
	    (r = read_nums(c, c->hdr, "Header", "integration_time", 1, H5T_NATIVE_DOUBLE, 0,
			   h->nblts, 0, c->inttime, err, errlen)))
		goto out;

	if ((r = read_phase(c, err, errlen)))
		goto out;
	r = read_i64(c, c->hdr, "Header", "Nphase", 0, &v, err, errlen);
	if (r < 0)
		goto out;
	if (r == 0 && v != 1)
		not_imageable(c, "Nphase %lld: several phase centres", (long long)v);
	if ((r = check_layout(c, err, errlen)))
		goto out;
	r = open_data(c, err, errlen);
out:
	free(cw);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------------------ */
/* Public reader                                                              */

/* The start of every public reader: open the file (or image) and read its
 * header.  The caller calls ctx_close(c) whatever this returns. */
static int open_header(ctx *c, const char *path, const void *image, size_t len, char *err,
		       size_t errlen)
{
	int r;

	h5_enter();
	r = ctx_open(c, path, image, len, err, errlen);
	if (!r)
		r = read_header(c, err, errlen);
	return r;
}

static int header_of(const char *path, const void *image, size_t len, uvh5_header *ret,
		     char *err, size_t errlen)
{
	ctx c;
	int r = open_header(&c, path, image, len, err, errlen);

	if (!r)
		*ret = c.h;
	ctx_close(&c);
	return r;
}

int uvh5_read_header(const char *path, uvh5_header *ret, char *err, size_t errlen)
{
	return header_of(path, NULL, 0, ret, err, errlen);
}

int uvh5_read_header_image(const void *image, size_t len, const char *name, uvh5_header *ret,
			   char *err, size_t errlen)
{
	return header_of(name, image, len, ret, err, errlen);
}

/* pyuvdata's vis_units values, in any case: "uncalib", "Jy", "K str"
 * (others: NULL). */
static const char *units_name(const char *s)
{
	if (!strcasecmp(s, "uncalib"))
		return "uncalib";
	if (!strcasecmp(s, "jy"))
		return "Jy";
	if (!strcasecmp(s, "k str"))
		return "K str";
	return NULL;
}

/*
 * The optional provenance of the file into v: history, vis_units, dut1 and
 * x_orientation (docs/uvh5.md).  Nothing here makes a file unreadable: a
 * value of the wrong type or an unknown word counts as absent (the data are
 * still good; only what they are called is lost).  -ENOMEM is the only error.
 */
static int read_provenance(ctx *c, vis_set *v, char *err, size_t errlen)
{
	char scratch[ERR_LEN], word[32], *text = NULL;
	const char *name;
	double dut1 = 0;
	size_t n;
	int r = 0;

	/* history: any length up to the reader's string limit. */
	text = malloc(MAX_STRING + 1);
	if (!text)
		return fail(c, err, errlen, -ENOMEM, "out of memory for Header/history");
	if (read_str(c, c->hdr, "Header", "history", 0, text, MAX_STRING + 1, scratch,
		     sizeof scratch) == 0) {
		n = strlen(text);
		while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
			text[--n] = 0;
		if (vis_history_set(v, text) < 0)
			r = fail(c, err, errlen, -ENOMEM, "out of memory for Header/history");
	}
	free(text);
	if (r)
		return r;
	if (read_str(c, c->hdr, "Header", "vis_units", 0, word, sizeof word, scratch,
		     sizeof scratch) == 0 && (name = units_name(word)))
		snprintf(v->vis_units, sizeof v->vis_units, "%s", name);
	if (read_str(c, c->hdr, "Header", "x_orientation", 0, word, sizeof word, scratch,
		     sizeof scratch) == 0 && (name = vis_x_orientation_name(word)))
		snprintf(v->x_orientation, sizeof v->x_orientation, "%s", name);
	if (read_f64(c, c->hdr, "Header", "dut1", 0, &dut1, scratch, sizeof scratch) == 0 &&
	    isfinite(dut1) && fabs(dut1) < 1)
		v->dut1_s = dut1;
	return 0;
}

/* Build the metadata-only vis_set from an opened, imageable file. */
static int read_meta(ctx *c, vis_set **ret, char *err, size_t errlen)
{
	const uvh5_header *h = &c->h;
	const int nt = h->ntimes, nb = h->nbls, na = h->nants_telescope;
	char (*names)[16] = NULL;
	double *pos = NULL, *diam = NULL;
	vis_set *v = NULL;
	int r;

	if (!h->imageable)
		return fail(c, err, errlen, -EINVAL, "cannot be loaded as a visibility set: %s",
			    h->not_imageable);
	v = vis_new(nt, nb, h->nfreqs, h->npols, na);
	names = calloc(na, sizeof *names);
	pos = malloc((size_t)na * 3 * sizeof *pos);
	diam = malloc((size_t)na * sizeof *diam);
	if (!v || !names || !pos || !diam) {
		r = fail(c, err, errlen, -ENOMEM, "out of memory for %d x %d x %d x %d visibilities", nt,
			 nb, h->nfreqs, h->npols);
		goto out;
	}
	if ((r = read_strs(c, c->hdr, "Header", "antenna_names", 1, na, names[0], sizeof names[0],
			   err, errlen)) ||
	    (r = read_nums(c, c->hdr, "Header", "antenna_positions", 1, H5T_NATIVE_DOUBLE, 0,
			   (hsize_t)na * 3, 3, pos, err, errlen)))
		goto out;
	r = read_nums(c, c->hdr, "Header", "antenna_diameters", 0, H5T_NATIVE_DOUBLE, 0, na, 0, diam,
		      err, errlen);
	if (r < 0)
		goto out;
	for (int a = 0; a < na; a++) {
		v->ants[a].number = (int)c->antnum[a];
		memcpy(v->ants[a].name, names[a], sizeof v->ants[a].name);
		memcpy(v->ants[a].pos_m, pos + 3 * a, sizeof v->ants[a].pos_m);
		v->ants[a].diam_m = r == 0 ? diam[a] : 0;
	}
	r = read_nums(c, c->hdr, "Header", "uvw_array", 1, H5T_NATIVE_DOUBLE, 0,
		      (hsize_t)h->nblts * 3, 3, v->uvw_m, err, errlen);
	if (r)
		goto out;
	v->nants_data = h->nants_data;
	v->lat_rad = h->lat_rad;
	v->lon_rad = h->lon_rad;
	v->alt_m = h->alt_m;
	for (int b = 0; b < nb; b++) {
		v->ant1[b] = (int)c->ant1[b];
		v->ant2[b] = (int)c->ant2[b];
	}
	for (int t = 0; t < nt; t++)
		v->time_jd[t] = c->time[(size_t)t * nb];
	v->int_time_s = h->integration_time_s;
	memcpy(v->freq_hz, c->freq, (size_t)h->nfreqs * sizeof *v->freq_hz);
	v->chan_width_hz = h->channel_width_hz;
	memcpy(v->pols, h->pols, sizeof v->pols);
	if (c->fixed) {
		v->phase_type = VIS_PHASE_FIXED;
		v->phase_ra_rad = h->ra_rad;
		v->phase_dec_rad = h->dec_rad;
	} else {
		/* Drift: phased to the meridian at the pointing dec; a zenith-phased
		 * (HERA-style) drift file without one is phased at dec = latitude. */
		v->phase_type = VIS_PHASE_DRIFT;
		v->phase_dec_rad = h->has_dec ? h->dec_rad : h->lat_rad;
	}
	v->has_pointing_dec = c->has_pointing_dec;
	v->pointing_dec_rad = c->pointing_dec_rad;
	snprintf(v->telescope, sizeof v->telescope, "%s", h->telescope);
	snprintf(v->instrument, sizeof v->instrument, "%s", h->instrument);
	snprintf(v->name, sizeof v->name, "%s", c->path);
	r = read_provenance(c, v, err, errlen);
	if (r)
		goto out;
	*ret = v;
	v = NULL;
out:
	vis_free(v);
	free(names);
	free(pos);
	free(diam);
	return r;
}

/* One complex float sample {r, i} with float32 members of type f32:
 * H5T_NATIVE_FLOAT in memory (HDF5 converts float64 or int32 r/i members to
 * it; for float32 files it is identical and the read is a copy), or
 * H5T_IEEE_F32LE in a written file. */
static hid_t complex_type(hid_t f32)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(float complex));
	if (t < 0)
		return t;
	if (H5Tinsert(t, "r", 0, f32) < 0 || H5Tinsert(t, "i", sizeof(float), f32) < 0) {
		H5Tclose(t);
		return -1;
	}
	return t;
}

/* Memory type for Data/flags: the file's own 8-bit enum (HDF5 converts enums
 * only to enums), or an unsigned 8-bit integer. */
static hid_t flags_memtype(hid_t ds)
{
	hid_t ft = H5Dget_type(ds), mt;
	if (ft < 0)
		return ft;
	if (H5Tget_class(ft) == H5T_ENUM)
		mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
	else if (H5Tget_class(ft) == H5T_BITFIELD)
		mt = H5Tcopy(H5T_NATIVE_B8);
	else
		mt = H5Tcopy(H5T_NATIVE_UINT8);
	H5Tclose(ft);
	return mt;
}

/* One stored sample into the vis_set's terms (both read paths): a non-zero
 * flag byte is VIS_FLAG_INPUT, nsamples the weight; a non-finite visibility
 * or weight is zeroed (a finite weight is kept) and flagged
 * VIS_FLAG_NONFINITE, so no NaN ever reaches arithmetic. */
static inline void decode_sample(float complex *z, float *w, uint8_t flag, uint8_t *ret_flag)
{
	/* A float is NaN or ±Inf when its exponent bits are all set. */
	const uint32_t inf = 0x7f800000u;
	uint32_t b[3];
	uint8_t f = flag ? VIS_FLAG_INPUT : 0;

	memcpy(b, z, 8);
	memcpy(b + 2, w, 4);
	if ((b[0] & inf) == inf || (b[1] & inf) == inf || (b[2] & inf) == inf) {
		*z = 0;
		*w = (b[2] & inf) == inf ? 0 : *w;
		f |= VIS_FLAG_NONFINITE;
	}
	*ret_flag = f;
}

/*
 * Read Data/ into dst at channel offset chan0, in blocks of rows staged in
 * small reused buffers (see docs/uvh5.md for the measured alternatives).
 * Flags become VIS_FLAG_INPUT, nsamples the weights, non-finite samples are
 * zeroed and flagged VIS_FLAG_NONFINITE.
 */
static int read_data(ctx *c, vis_set *dst, int chan0, char *err, size_t errlen)
{
	const uvh5_header *h = &c->h;
	const size_t rowlen = (size_t)h->nfreqs * h->npols, nblts = (size_t)h->nblts;
	size_t rows_blk = STAGE_BYTES / (rowlen * (sizeof(float complex) + 1 + sizeof(float)));
	float complex *sv = NULL;
	uint8_t *sf = NULL;
	float *sw = NULL;
	hid_t fsp = -1, msp = -1, vt = -1, ft = -1, dxpl = -1;
	char why[256];
	int r = 0;

	if (rows_blk < 1)
		rows_blk = 1;
	if (rows_blk > nblts)
		rows_blk = nblts;
	sv = malloc(rows_blk * rowlen * sizeof *sv);
	sf = malloc(rows_blk * rowlen);
	sw = malloc(rows_blk * rowlen * sizeof *sw);
	vt = complex_type(H5T_NATIVE_FLOAT);
	ft = flags_memtype(c->flags);
	fsp = H5Dget_space(c->vis);
	dxpl = H5Pcreate(H5P_DATASET_XFER);
	if (!sv || !sf || !sw || vt < 0 || ft < 0 || fsp < 0 || dxpl < 0) {
		r = fail(c, err, errlen, -ENOMEM, "out of memory for the read buffers");
		goto out;
	}
	/* int32/float64 files are converted by HDF5 through its type-conversion
	 * (and, for compounds, background) buffer: big enough for one block of
	 * float64 samples, up to 4 MiB.  HDF5 clears it on every read, so a
	 * bigger one than needed costs page faults on small files. */
	{
		size_t need = rows_blk * rowlen * 16;
		H5Pset_buffer(dxpl, need < (64u << 10) ? 64u << 10 : need > (4u << 20) ? 4u << 20 : need,
			      NULL, NULL);
	}

	for (size_t r0 = 0; r0 < nblts; r0 += rows_blk) {
		const size_t nr = r0 + rows_blk <= nblts ? rows_blk : nblts - r0;
		hsize_t start[4] = { r0, 0, 0, 0 }, count[4], nmem = nr * rowlen;
		static const char *const dsname[3] = { "visdata", "flags", "nsamples" };
		hid_t ds[3] = { c->vis, c->flags, c->nsamples }, mt[3] = { vt, ft, H5T_NATIVE_FLOAT };
		void *buf[3] = { sv, sf, sw };

		if (c->data_rank == 4) {
			count[0] = nr, count[1] = 1, count[2] = h->nfreqs, count[3] = h->npols;
		} else {
			count[0] = nr, count[1] = h->nfreqs, count[2] = h->npols;
		}
		/* The memory space has the file selection's exact shape: HDF5 then
		 * maps chunks to memory with whole hyperslabs; a flat 1-D memory
		 * space sends it through a per-element path 30x slower on the
		 * chunked reference files. */
		(void)nmem;
		if (msp >= 0 && nr != rows_blk) {
			H5Sclose(msp);
			msp = -1;
		}
		if (msp < 0)
			msp = H5Screate_simple(c->data_rank, count, NULL);
		if (msp < 0 || H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
			r = fail(c, err, errlen, -EIO, "Data: cannot select rows %zu..%zu: %s", r0,
				 r0 + nr, h5_reason(why, sizeof why));
			goto out;
		}
		for (int k = 0; k < 3; k++)
			if (H5Dread(ds[k], mt[k], msp, fsp, dxpl, buf[k]) < 0) {
				r = fail(c, err, errlen, -EIO, "Data/%s: read of rows %zu..%zu failed: %s",
					 dsname[k], r0, r0 + nr, h5_reason(why, sizeof why));
				goto out;
			}
		for (size_t i = 0; i < nr; i++) {
			const size_t s0 = i * rowlen;
			const size_t d0 = ((r0 + i) * dst->nchan + chan0) * (size_t)h->npols;
			float complex *dv = dst->vis + d0;
			uint8_t *df = dst->flags + d0;
			float *dw = dst->weight + d0;
			for (size_t k = 0; k < rowlen; k++) {
				float complex z = sv[s0 + k];
				float w = sw[s0 + k];
				decode_sample(&z, &w, sf[s0 + k], &df[k]);
				dv[k] = z;
				dw[k] = w;
			}
		}
	}
out:
	close_if(msp, H5Sclose);
	close_if(fsp, H5Sclose);
	close_if(vt, H5Tclose);
	close_if(ft, H5Tclose);
	close_if(dxpl, H5Pclose);
	free(sv);
	free(sf);
	free(sw);
	return r;
}

int uvh5_read_meta(const char *path, vis_set **ret, char *err, size_t errlen)
{
	ctx c;
	int r;

	r = open_header(&c, path, NULL, 0, err, errlen);
	if (!r)
		r = read_meta(&c, ret, err, errlen);
	ctx_close(&c);
	return r;
}

int uvh5_read(const char *path, vis_set **ret, char *err, size_t errlen)
{
	vis_set *v = NULL;
	ctx c;
	int r;

	r = open_header(&c, path, NULL, 0, err, errlen);
	if (!r)
		r = read_meta(&c, &v, err, errlen);
	if (!r)
		r = read_data(&c, v, 0, err, errlen);
	if (!r) {
		*ret = v;
		v = NULL;
	}
	vis_free(v);
	ctx_close(&c);
	return r;
}

int uvh5_read_into(const char *path, vis_set *dst, int chan0, char *err, size_t errlen)
{
	const uvh5_header *h;
	ctx c;
	int r;

	r = open_header(&c, path, NULL, 0, err, errlen);
	if (r)
		goto out;
	h = &c.h;
	if (!h->imageable) {
		r = fail(&c, err, errlen, -EINVAL, "cannot be loaded as a visibility set: %s",
			 h->not_imageable);
		goto out;
	}
	if (!dst || dst->ntimes != h->ntimes || dst->nbls != h->nbls || dst->npols != h->npols ||
	    chan0 < 0 || chan0 > dst->nchan - h->nfreqs) {
		r = fail(&c, err, errlen, -EINVAL,
			 "shape (Ntimes %d, Nbls %d, Nfreqs %d, Npols %d) does not fit the target "
			 "(%d, %d, %d channels from %d, %d)", h->ntimes, h->nbls, h->nfreqs, h->npols,
			 dst ? dst->ntimes : 0, dst ? dst->nbls : 0, h->nfreqs, chan0,
			 dst ? dst->npols : 0);
		goto out;
	}
	for (int p = 0; p < h->npols; p++)
		if (dst->pols[p] && dst->pols[p] != h->pols[p]) {
			r = fail(&c, err, errlen, -EINVAL, "polarisation %d is %s, the target has %s", p,
				 uvh5_pol_name(h->pols[p]), uvh5_pol_name(dst->pols[p]));
			goto out;
		}
	/* A target whose baselines are already filled in (not all zero) must list
	 * them in the file's order, or data would land on the wrong baselines. */
	{
		int set = 0;
		for (int b = 0; b < dst->nbls && !set; b++)
			set = dst->ant1[b] || dst->ant2[b];
		for (int b = 0; set && b < dst->nbls; b++)
			if (dst->ant1[b] != c.ant1[b] || dst->ant2[b] != c.ant2[b]) {
				r = fail(&c, err, errlen, -EINVAL, "baseline %d is (%lld, %lld), the target "
					 "has (%d, %d)", b, (long long)c.ant1[b], (long long)c.ant2[b],
					 dst->ant1[b], dst->ant2[b]);
				goto out;
			}
	}
	r = read_data(&c, dst, chan0, err, errlen);
out:
	ctx_close(&c);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Raw reads (the fast path; see uvh5.h)                                      */

/* One of the three Data/ arrays as it lies in the file. */
typedef struct raw_array {
	const char *name;      /* "visdata", "flags", "nsamples" */
	size_t es;             /* bytes per sample: 8, 1, 4 */
	int chunked;
	off_t off;             /* contiguous: file offset of the first byte */
	hid_t ds;              /* chunked: the open dataset */
	int rank;              /* chunked: 3 or 4 */
	size_t cr, cc, cp;     /* chunk rows, channels, pols (contiguous: 1, nf, np) */
	size_t cb;             /* bytes per chunk (contiguous: one row) */
	size_t per_row;        /* chunks per chunk row (channel chunks x pol chunks) */
	size_t *off_in_row;    /* [nf * np]: where sample (channel, pol) of a row lies,
				* from the start of its chunk row at its row's offset */
	uint64_t *addr;        /* chunked: the chunk map (file address of chunk (row
				* chunk, channel chunk, pol chunk), that order), or
				* NULL: read with H5Dread_chunk */
} raw_array;

struct uvh5_raw {
	char *path;
	size_t nrows;
	int nf, np;
	int fd;                /* for the contiguous arrays */
	hid_t file;            /* open while any array is chunked */
	raw_array a[3];
};

/* compound {r: f32 LE at 0, i: f32 LE at 4}: exactly a little-endian float complex. */
static int type_is_c8(hid_t t)
{
	int ok = H5Tget_class(t) == H5T_COMPOUND && H5Tget_nmembers(t) == 2 && H5Tget_size(t) == 8;

	for (unsigned k = 0; k < 2 && ok; k++) {
		char *name = H5Tget_member_name(t, k);
		hid_t mt = H5Tget_member_type(t, k);
		ok = name && !strcmp(name, k ? "i" : "r") && H5Tget_member_offset(t, k) == 4 * k &&
		     mt >= 0 && H5Tequal(mt, H5T_IEEE_F32LE) > 0;
		if (mt >= 0)
			H5Tclose(mt);
		if (name)
			H5free_memory(name);
	}
	return ok;
}

/* One byte per flag, non-zero = flagged: bool enum (h5py), int8/uint8, bitfield. */
static int type_is_flag8(hid_t t)
{
	H5T_class_t c = H5Tget_class(t);
	return H5Tget_size(t) == 1 && (c == H5T_ENUM || c == H5T_INTEGER || c == H5T_BITFIELD);
}

static int type_is_f32le(hid_t t)
{
	return H5Tequal(t, H5T_IEEE_F32LE) > 0;
}

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;

	while (n > 0) {
		ssize_t k = pread(fd, p, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/*
 * The chunk map: every chunk's file address, read from the dataset's chunk
 * index in one pass.  HDF5 1.10 has no call that lists the chunks
 * (H5Dchunk_iter arrived in 1.14); H5Dget_chunk_info and
 * H5Dget_chunk_info_by_coord walk the index from its start on every call, so
 * the map through them costs O(n²): 0.64 s for one subband's visdata.  The
 * index of a chunked dataset in the format HDF5 writes by default (and h5py,
 * hence the correlator: "earliest" library version bounds) is a version 1
 * B-tree found through the layout message (version 3) of a version 1 object
 * header; those three structures are read here, as the HDF5 File Format
 * Specification (version 2.0, sections III.A.1, IV.A.1.a, IV.A.2.i) lays them
 * out.  Anything else (newer headers or indexes, other sizes of offsets) is
 * left to H5Dread_chunk.  The map is checked before use: every chunk of the
 * grid exactly once, unfiltered, of the chunk's size, inside the file, and
 * the first and last chunk where HDF5 itself says they are.
 */

#define MAP_MAX_DEPTH 32

/* An unsigned little-endian integer of n = 2, 4 or 8 bytes (this path runs
 * on little-endian hosts only: uvh5_raw_open). */
static inline uint64_t le_u(const uint8_t *p, int n)
{
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	switch (n) {
	case 8:
		memcpy(&v8, p, 8);
		return v8;
	case 4:
		memcpy(&v4, p, 4);
		return v4;
	default:
		memcpy(&v2, p, 2);
		return v2;
	}
}

/* n bytes at off into buf, all inside the file (fsize). */
static int map_read(int fd, uint64_t fsize, uint64_t off, void *buf, size_t n)
{
	if (off > fsize || n > fsize - off)
		return -1;
	return pread_all(fd, buf, n, (off_t)off);
}

/* A data layout message (d, size bytes): 1 when it is version 3, chunked,
 * of the chunk shape HDF5 reported (cd, rank) and element size es, with the
 * B-tree's address in *ret.  Version 3, class 2: dimensionality (rank + 1),
 * the B-tree address, then rank + 1 sizes of 4 bytes, the last the element
 * size. */
static int map_layout(const uint8_t *d, size_t size, int rank, const hsize_t *cd, size_t es,
		      uint64_t *ret)
{
	if (size < 11 + 4 * (size_t)(rank + 1) || d[0] != 3 || d[1] != 2 || d[2] != rank + 1 ||
	    le_u(d + 11 + 4 * rank, 4) != es)
		return 0;
	for (int i = 0; i < rank; i++)
		if (le_u(d + 11 + 4 * i, 4) != cd[i])
			return 0;
	*ret = le_u(d + 3, 8);
	return 1;
}

/* The v1 B-tree address from the dataset's version 1 object header at ohdr
 * (its layout message, map_layout).  0, or -1 when the header is of another
 * version or holds no such message. */
static int map_btree_addr(int fd, uint64_t fsize, uint64_t ohdr, int rank, const hsize_t *cd,
			  size_t es, uint64_t *ret)
{
	uint64_t blk_off[16], blk_len[16];
	uint8_t pre[16], *b = NULL;
	int nblk = 1, found = 0;

	/* Prefix: version 1, reserved, messages (2), references (4), size of
	 * the first block (4), padding to 16. */
	if (map_read(fd, fsize, ohdr, pre, sizeof pre) || pre[0] != 1)
		return -1; /* version 2 headers ("OHDR") come with newer indexes */
	blk_off[0] = ohdr + 16;
	blk_len[0] = le_u(pre + 8, 4);
	for (int k = 0; k < nblk && !found; k++) {
		size_t p = 0;

		free(b);
		b = blk_len[k] <= (1u << 20) ? malloc(blk_len[k] ? blk_len[k] : 1) : NULL;
		if (!b || map_read(fd, fsize, blk_off[k], b, blk_len[k]))
			break;
		/* Messages: type (2), size (2), flags (1), reserved (3), data; a
		 * continuation (type 0x10) names another block. */
		while (p + 8 <= blk_len[k] && !found) {
			const unsigned type = (unsigned)le_u(b + p, 2);
			const size_t size = (size_t)le_u(b + p + 2, 2);

			if (p + 8 + size > blk_len[k])
				break;
			if (type == 0x10 && size >= 16 && nblk < 16) {
				blk_off[nblk] = le_u(b + p + 8, 8);
				blk_len[nblk++] = le_u(b + p + 16, 8);
			} else if (type == 0x8) {
				found = map_layout(b + p + 8, size, rank, cd, es, ret);
				if (!found)
					break;
			}
			p += 8 + size;
		}
		if (!found && p + 8 <= blk_len[k])
			break; /* a malformed or unexpected message */
	}
	free(b);
	return found ? 0 : -1;
}

/* Walk the v1 B-tree node at addr (expected level `level`, -1 at the root)
 * and put every leaf's chunk address into a->addr.  0 or -1. */
static int map_walk(const uvh5_raw *r, raw_array *a, int fd, uint64_t fsize, uint64_t addr,
		    int level, int depth, size_t *count)
{
	const int dimy = a->rank + 1;
	const size_t ks = 8 + 8 * (size_t)dimy; /* chunk size, filter mask, offsets */
	const size_t nj = (r->nf + a->cc - 1) / a->cc, nq = (r->np + a->cp - 1) / a->cp;
	uint8_t hdr[24], *b = NULL;
	size_t n, len;
	int rc = -1, lev;

	if (depth > MAP_MAX_DEPTH || map_read(fd, fsize, addr, hdr, sizeof hdr) ||
	    memcmp(hdr, "TREE", 4) || hdr[4] != 1)
		return -1;
	lev = hdr[5];
	n = (size_t)le_u(hdr + 6, 2);
	if ((level >= 0 && lev != level) || n == 0)
		return -1;
	len = n * (ks + 8) + ks;
	b = malloc(len);
	if (!b || map_read(fd, fsize, addr + sizeof hdr, b, len))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *key = b + i * (ks + 8);
		const uint64_t child = le_u(key + ks, 8);

		if (lev > 0) {
			if (map_walk(r, a, fd, fsize, child, lev - 1, depth + 1, count))
				goto out;
			continue;
		}
		{
			/* A chunk: its size, no filter skipped, its offset in
			 * elements (rank + 1 values, the last 0). */
			const uint64_t o0 = le_u(key + 8, 8);
			const uint64_t oc = le_u(key + 8 + 8 * (size_t)(a->rank - 2), 8);
			const uint64_t op = le_u(key + 8 + 8 * (size_t)(a->rank - 1), 8);
			size_t idx;

			if (le_u(key, 4) != a->cb || le_u(key + 4, 4) != 0 ||
			    le_u(key + 8 + 8 * (size_t)a->rank, 8) != 0 ||
			    (a->rank == 4 && le_u(key + 16, 8) != 0) || o0 % a->cr || oc % a->cc ||
			    op % a->cp || o0 >= r->nrows || oc >= (uint64_t)r->nf ||
			    op >= (uint64_t)r->np || child == 0 || child > fsize ||
			    a->cb > fsize - child)
				goto out;
			idx = ((size_t)(o0 / a->cr) * nj + (size_t)(oc / a->cc)) * nq +
			      (size_t)(op / a->cp);
			if (a->addr[idx])
				goto out; /* twice */
			a->addr[idx] = child;
			(*count)++;
		}
	}
	rc = 0;
out:
	free(b);
	return rc;
}

/* Build a->addr for the chunked dataset ds (a->cr.. set).  0 when the map is
 * complete and checked; -1 when the dataset is not in the format read here or
 * any check fails (the chunks are then read with H5Dread_chunk); -ENOMEM. */
static int map_chunks(const uvh5_raw *r, raw_array *a, hid_t ds, hid_t dcpl, size_t nchunks)
{
	hsize_t cd[H5S_MAX_RANK], first[4] = { 0, 0, 0, 0 }, last[4] = { 0, 0, 0, 0 }, size, ub = 1;
	size_t sa = 0, ss = 0, count = 0;
	const size_t nj = (r->nf + a->cc - 1) / a->cc, nq = (r->np + a->cp - 1) / a->cp;
	uint64_t btree, fsize;
	H5O_info_t oi;
	hid_t fcpl = -1;
	haddr_t ha;
	unsigned fm;
	struct stat st;
	int ok = 0;

	if (r->fd < 0 || fstat(r->fd, &st) || H5Pget_chunk(dcpl, a->rank, cd) != a->rank)
		return -1;
	fsize = (uint64_t)st.st_size;
	/* Addresses in the file are relative to its superblock: no user block
	 * (the DSA-110 files have none) keeps them file offsets. */
	fcpl = H5Fget_create_plist(r->file);
	if (fcpl < 0 || H5Pget_sizes(fcpl, &sa, &ss) < 0 || sa != 8 || ss != 8 ||
	    H5Pget_userblock(fcpl, &ub) < 0 || ub != 0 ||
	    H5Oget_info2(ds, &oi, H5O_INFO_BASIC) < 0 ||
	    map_btree_addr(r->fd, fsize, oi.addr, a->rank, cd, a->es, &btree))
		goto out;
	a->addr = calloc(nchunks, sizeof *a->addr);
	if (!a->addr) {
		close_if(fcpl, H5Pclose);
		return -ENOMEM;
	}
	if (map_walk(r, a, r->fd, fsize, btree, -1, 0, &count) || count != nchunks)
		goto out;
	/* HDF5's own word on the first and the last chunk (both cheap: the
	 * lookup walks the index from the start and the last is found at its
	 * end). */
	last[0] = (r->nrows - 1) / a->cr * a->cr;
	last[a->rank - 2] = (r->nf - 1) / a->cc * a->cc;
	last[a->rank - 1] = (r->np - 1) / a->cp * a->cp;
	if (H5Dget_chunk_info_by_coord(ds, first, &fm, &ha, &size) < 0 || ha != a->addr[0] ||
	    H5Dget_chunk_info_by_coord(ds, last, &fm, &ha, &size) < 0 ||
	    ha != a->addr[((last[0] / a->cr) * nj + last[a->rank - 2] / a->cc) * nq +
			  last[a->rank - 1] / a->cp])
		goto out;
	ok = 1;
out:
	close_if(fcpl, H5Pclose);
	if (!ok) {
		free(a->addr);
		a->addr = NULL;
	}
	return ok ? 0 : -1;
}

/* Whether Data/<a->name> can be read raw; fills a (keeps the dataset open
 * when chunked).  *why says what disqualifies it; -ENOMEM is the only
 * error. */
static int raw_probe(uvh5_raw *r, raw_array *a, int (*type_ok)(hid_t), const char **why)
{
	hid_t ds = -1, sp = -1, dcpl = -1, t = -1;
	hsize_t dims[H5S_MAX_RANK], cd[H5S_MAX_RANK], n = 0;
	const size_t nf = r->nf, np = r->np;
	size_t want;
	char full[32];
	int rank, ok = 0;

	snprintf(full, sizeof full, "Data/%s", a->name);
	ds = H5Dopen2(r->file, full, H5P_DEFAULT);
	if (ds < 0) {
		*why = "cannot open a Data/ array";
		return 0;
	}
	sp = H5Dget_space(ds);
	dcpl = H5Dget_create_plist(ds);
	t = H5Dget_type(ds);
	rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (sp < 0 || dcpl < 0 || t < 0 || (rank != 3 && rank != 4) ||
	    H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
		*why = "unreadable Data/ array";
		goto out;
	}
	if (dims[0] != r->nrows || (rank == 4 && dims[1] != 1) || dims[rank - 2] != nf ||
	    dims[rank - 1] != np) {
		*why = "Data/ shape differs from the header's";
		goto out;
	}
	if (!type_ok(t)) {
		*why = "Data/ types need conversion";
		goto out;
	}
	if (H5Pget_nfilters(dcpl) != 0) {
		*why = "Data/ is compressed";
		goto out;
	}
	switch (H5Pget_layout(dcpl)) {
	case H5D_CONTIGUOUS: {
		haddr_t off = H5Dget_offset(ds);
		if (off == HADDR_UNDEF ||
		    H5Dget_storage_size(ds) != (hsize_t)(r->nrows * nf * np * a->es)) {
			*why = "Data/ not written";
			goto out;
		}
		a->off = (off_t)off;
		a->cr = 1, a->cc = nf, a->cp = np;
		break;
	}
	case H5D_CHUNKED:
		if (H5Pget_chunk(dcpl, rank, cd) != rank || cd[0] < 1 || cd[rank - 2] < 1 ||
		    cd[rank - 1] < 1) {
			*why = "unreadable chunk shape";
			goto out;
		}
		a->rank = rank;
		a->cr = cd[0], a->cc = cd[rank - 2], a->cp = cd[rank - 1];
		if (a->cr > r->nrows + 0x100000 || a->cr * a->cc * a->cp * a->es > (64u << 20)) {
			*why = "chunks above 64 MiB";
			goto out;
		}
		a->chunked = 1;
		a->cb = a->cr * a->cc * a->cp * a->es;
		/* Every chunk must be written: an unwritten one reads as the fill
		 * value through HDF5, and H5Dread_chunk refuses it.  A complete
		 * chunk map says so; otherwise HDF5 counts them. */
		want = ((r->nrows + a->cr - 1) / a->cr) * ((nf + a->cc - 1) / a->cc) *
		       ((np + a->cp - 1) / a->cp);
		switch (map_chunks(r, a, ds, dcpl, want)) {
		case 0:
			break; /* read with pread() from the map */
		case -1:
			if (H5Dget_num_chunks(ds, sp, &n) < 0 || n != want) {
				*why = "Data/ has unwritten chunks";
				goto out;
			}
			a->ds = ds; /* read with H5Dread_chunk */
			ds = -1;
			break;
		default:
			*why = NULL;
			goto out;
		}
		break;
	default:
		*why = "Data/ is neither contiguous nor chunked";
		goto out;
	}
	/* Chunk geometry (a contiguous array is one chunk per row), and where
	 * each (channel, pol) of a row lies from its chunk row's start. */
	a->cb = a->cr * a->cc * a->cp * a->es;
	a->per_row = ((nf + a->cc - 1) / a->cc) * ((np + a->cp - 1) / a->cp);
	a->off_in_row = malloc(nf * np * sizeof *a->off_in_row);
	if (!a->off_in_row) {
		*why = NULL;
		goto out;
	}
	for (size_t j = 0; j < nf; j++)
		for (size_t p = 0; p < np; p++) {
			size_t chunk = (j / a->cc) * ((np + a->cp - 1) / a->cp) + p / a->cp;
			a->off_in_row[j * np + p] =
				chunk * a->cb + ((j % a->cc) * a->cp + p % a->cp) * a->es;
		}
	ok = 1;
out:
	close_if(t, H5Tclose);
	close_if(dcpl, H5Pclose);
	close_if(sp, H5Sclose);
	close_if(ds, H5Dclose);
	return ok ? 1 : *why ? 0 : -ENOMEM;
}

void uvh5_raw_close(uvh5_raw *r)
{
	if (!r)
		return;
	for (int k = 0; k < 3; k++) {
		close_if(r->a[k].ds, H5Dclose);
		free(r->a[k].off_in_row);
		free(r->a[k].addr);
	}
	close_if(r->file, H5Fclose);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r);
}

static size_t gcd_size(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

int uvh5_raw_open(const char *path, size_t nrows, int nfreqs, int npols, uvh5_raw **ret,
		  char *why, size_t whylen, char *err, size_t errlen)
{
	static int (*const type_ok[3])(hid_t) = { type_is_c8, type_is_flag8, type_is_f32le };
	static const char *const names[3] = { "visdata", "flags", "nsamples" };
	static const size_t es[3] = { 8, 1, 4 };
	const char *no = NULL;
	uvh5_raw *r = NULL;
	int nhdf5 = 0, rc = 0;

	*ret = NULL;
	if (why && whylen)
		why[0] = 0;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	/* The stored bytes are little-endian. */
	if (why)
		snprintf(why, whylen, "big-endian host");
	return 0;
#endif
	h5_enter();
	r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path ? path : ""))) {
		free(r);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	r->fd = -1;
	r->nrows = nrows;
	r->nf = nfreqs;
	r->np = npols;
	for (int k = 0; k < 3; k++) {
		r->a[k].name = names[k];
		r->a[k].es = es[k];
		r->a[k].ds = -1;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	r->file = r->fd >= 0 && nrows && nfreqs > 0 && npols > 0
			  ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
	if (r->file < 0)
		no = "cannot open";
	for (int k = 0; k < 3 && !no && !rc; k++)
		rc = raw_probe(r, &r->a[k], type_ok[k], &no) < 0 ? -ENOMEM : 0;
	for (int k = 0; k < 3; k++)
		nhdf5 += r->a[k].ds >= 0;
	if (!no && !rc && nhdf5 == 0) {
		H5Fclose(r->file); /* pread() only */
		r->file = -1;
	}
	if (no || rc) {
		if (why && no)
			snprintf(why, whylen, "%s", no);
		uvh5_raw_close(r);
		return rc ? err_set(err, errlen, rc, "%s: out of memory", path) : 0;
	}
	*ret = r;
	return 0;
}

int uvh5_raw_kind(const uvh5_raw *r)
{
	int kind = UVH5_RAW_CONTIGUOUS;

	for (int k = 0; r && k < 3; k++)
		if (r->a[k].ds >= 0)
			kind = UVH5_RAW_CHUNKS_HDF5;
		else if (r->a[k].chunked && kind == UVH5_RAW_CONTIGUOUS)
			kind = UVH5_RAW_CHUNKS_MAPPED;
	return kind;
}

size_t uvh5_raw_block_rows(const uvh5_raw *r, size_t min_rows)
{
	size_t l = 1;

	if (min_rows < 1)
		min_rows = 1;
	for (int k = 0; r && k < 3; k++)
		if (r->a[k].chunked) {
			l = l / gcd_size(l, r->a[k].cr) * r->a[k].cr;
			if (l > ((size_t)1 << 24))
				return min_rows; /* unrelated chunk lengths: give up aligning */
		}
	return (min_rows + l - 1) / l * l;
}

size_t uvh5_raw_scratch_bytes(const uvh5_raw *r, size_t nrows)
{
	/* After the data: the decoding table (5 x nf x np + 1 offsets, aligned)
	 * and two pointers per row. */
	size_t m = r ? 8 + (5 * (size_t)r->nf * r->np + 1 + 2 * nrows) * sizeof(size_t) : 0;

	/* An unaligned block touches one chunk row more. */
	for (int k = 0; r && k < 3; k++) {
		const raw_array *a = &r->a[k];
		m += a->chunked ? ((nrows + a->cr - 1) / a->cr + 1) * a->per_row * a->cb
				: nrows * a->cb;
	}
	return m;
}

/* Every chunk of array a that rows [row0, row0 + nrows) touch, as stored,
 * one after the other into buf: chunk rows, then channel chunks, then pol
 * chunks (the order of the chunk index and of the file).  Returns the bytes
 * used, or -EIO. */
static ssize_t raw_fetch(uvh5_raw *r, raw_array *a, size_t row0, size_t nrows, uint8_t *buf,
			 char *err, size_t errlen)
{
	const size_t i0 = row0 / a->cr, i1 = (row0 + nrows - 1) / a->cr;
	size_t used = 0;
	char why[256];

	for (size_t i = i0; i <= i1; i++)
		for (size_t j = 0; j < (size_t)r->nf; j += a->cc)
			for (size_t q = 0; q < (size_t)r->np; q += a->cp) {
				hsize_t off[4] = { i * a->cr, 0, 0, 0 };
				uint32_t filters = 0;

				off[a->rank - 2] = j;
				off[a->rank - 1] = q;
				if (H5Dread_chunk(a->ds, H5P_DEFAULT, off, &filters, buf + used) < 0) {
					err_set(err, errlen, -EIO, "%s: Data/%s: cannot read the chunk "
						"at row %zu, channel %zu, pol %zu: %s", r->path, a->name,
						i * a->cr, j, q, h5_reason(why, sizeof why));
					return -EIO;
				}
				used += a->cb;
			}
	return (ssize_t)used;
}

/* HDF5 serialises every call anyway.  Taking this lock around all the chunk
 * reads of one block makes them one uncontended stretch per block, instead
 * of a hundred hand-overs of HDF5's own lock between threads that decode in
 * between (docs/performance.md, *Chunked files*). */
static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;

int uvh5_raw_read_rows(uvh5_raw *r, size_t row0, size_t nrows, vis_set *dst, const int *chan_map,
		       void *scratch, char *err, size_t errlen)
{
	const size_t drl = (size_t)dst->nchan * dst->npols;
	uint8_t *buf = scratch, *base[3];
	size_t used = 0;
	int rc = 0;

	if (row0 > r->nrows || nrows > r->nrows - row0)
		return err_set(err, errlen, -EINVAL, "%s: rows %zu + %zu outside the file's %zu",
			       r->path, row0, nrows, r->nrows);
	if ((size_t)dst->ntimes * dst->nbls != r->nrows || dst->npols != r->np)
		return err_set(err, errlen, -EINVAL, "%s: the target set's shape differs", r->path);
	if (nrows == 0)
		return 0;
	/* 1. The bytes as stored into scratch: contiguous rows and mapped chunks
	 * with pread() (chunks in their index order, consecutive ones in one
	 * read), other chunks with H5Dread_chunk under raw_lock. */
	for (int k = 0; k < 3; k++) {
		raw_array *a = &r->a[k];
		base[k] = buf + used;
		if (!a->chunked) {
			if (pread_all(r->fd, base[k], nrows * a->cb, a->off + (off_t)(row0 * a->cb)))
				return err_set(err, errlen, -EIO, "%s: Data/%s: read error or file "
					       "truncated (rows %zu..%zu)", r->path, a->name, row0,
					       row0 + nrows);
			used += nrows * a->cb;
		} else if (a->addr) {
			const size_t c0 = row0 / a->cr * a->per_row;
			const size_t c1 = ((row0 + nrows - 1) / a->cr + 1) * a->per_row;
			for (size_t c = c0; c < c1;) {
				size_t e = c + 1;
				while (e < c1 && a->addr[e] == a->addr[e - 1] + a->cb)
					e++;
				if (pread_all(r->fd, buf + used, (e - c) * a->cb, (off_t)a->addr[c]))
					return err_set(err, errlen, -EIO, "%s: Data/%s: read error or "
						       "file truncated (chunks %zu..%zu)", r->path, a->name,
						       c, e);
				used += (e - c) * a->cb;
				c = e;
			}
		}
	}
	if (uvh5_raw_kind(r) == UVH5_RAW_CHUNKS_HDF5) {
		h5_enter();
		pthread_mutex_lock(&raw_lock);
		for (int k = 0; k < 3 && !rc; k++) {
			ssize_t n;
			if (r->a[k].ds < 0)
				continue;
			base[k] = buf + used;
			n = raw_fetch(r, &r->a[k], row0, nrows, base[k], err, errlen);
			rc = n < 0 ? (int)n : 0;
			used += n < 0 ? 0 : (size_t)n;
		}
		pthread_mutex_unlock(&raw_lock);
		if (rc)
			return rc;
	}
	/* 2. Decode every sample straight into place: file channel j of row rr
	 * to dst channel chan_map[j], with the rule of uvh5_read_into.  In the
	 * order of visdata's chunks, each read from start to end (for a
	 * contiguous file that is row order), through a table made here of where
	 * each of a chunk row's samples lies: in its visdata chunk, in the row's
	 * flags and nsamples (offsets from open), and in dst.  The writes stay
	 * within the block's rows of dst, which the cache holds until the chunks
	 * of the other channels and pols fill in the rest; reading each chunk in
	 * turn keeps the reads to a few streams, not one per chunk of a row
	 * (measured: docs/performance.md, *Chunked files*). */
	{
		const raw_array *av = &r->a[0], *af = &r->a[1], *aw = &r->a[2];
		const size_t np = r->np, nf = r->nf, ns = nf * np;
		const size_t i0 = row0 / av->cr, i1 = (row0 + nrows - 1) / av->cr;
		size_t *const tab = (size_t *)(buf + ((used + 7) & ~(size_t)7));
		size_t *const tv = tab, *const tw = tab + ns, *const tf = tab + 2 * ns;
		size_t *const td = tab + 3 * ns, *const tn = tab + 4 * ns;
		const uint8_t **const rowf = (const uint8_t **)(tn + ns + 1);
		const uint8_t **const roww = rowf + nrows;
		size_t t = 0, k = 0;
		const uint8_t *vchunk = base[0];

		for (size_t jc = 0; jc < nf; jc += av->cc)
			for (size_t qc = 0; qc < np; qc += av->cp, k++) {
				const size_t j1 = jc + av->cc < nf ? jc + av->cc : nf;
				const size_t q1 = qc + av->cp < np ? qc + av->cp : np;
				tn[k] = t;
				for (size_t j = jc; j < j1; j++)
					for (size_t p = qc; p < q1; p++, t++) {
						tv[t] = ((j - jc) * av->cp + (p - qc)) * 8;
						tw[t] = aw->off_in_row[j * np + p];
						tf[t] = af->off_in_row[j * np + p];
						td[t] = (size_t)chan_map[j] * np + p;
					}
			}
		tn[k] = t;
		/* Each row's start in the flags and nsamples read above. */
		for (size_t rr = row0; rr < row0 + nrows; rr++) {
			rowf[rr - row0] = base[1] + (rr / af->cr - row0 / af->cr) * af->per_row * af->cb +
					  (rr % af->cr) * af->cc * af->cp;
			roww[rr - row0] = base[2] + (rr / aw->cr - row0 / aw->cr) * aw->per_row * aw->cb +
					  (rr % aw->cr) * aw->cc * aw->cp * 4;
		}
		for (size_t i = i0; i <= i1; i++) {
			const size_t c0 = i * av->cr;
			const size_t rlo = row0 > c0 ? row0 : c0;
			const size_t rhi = row0 + nrows < c0 + av->cr ? row0 + nrows : c0 + av->cr;
			for (size_t kk = 0; kk < av->per_row; kk++, vchunk += av->cb) {
				const size_t u0 = tn[kk], u1 = tn[kk + 1];
				for (size_t rr = rlo; rr < rhi; rr++) {
					const uint8_t *restrict sv = vchunk + (rr - c0) * av->cc * av->cp * 8;
					const uint8_t *restrict sf = rowf[rr - row0];
					const uint8_t *restrict sw = roww[rr - row0];
					float complex *restrict dv = dst->vis + rr * drl;
					uint8_t *restrict df = dst->flags + rr * drl;
					float *restrict dw = dst->weight + rr * drl;

					for (size_t u = u0; u < u1; u++) {
						float complex z;
						float w;

						memcpy(&z, sv + tv[u], sizeof z);
						memcpy(&w, sw + tw[u], sizeof w);
						decode_sample(&z, &w, sf[tf[u]], &df[td[u]]);
						dv[td[u]] = z;
						dw[td[u]] = w;
					}
				}
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                     */

typedef struct wctx {
	const char *path;
	const char *bad; /* first dataset that failed */
} wctx;

static int w_ds(wctx *w, hid_t g, const char *name, hid_t ftype, hid_t mtype, int rank,
		const hsize_t *dims, const void *buf)
{
	hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR), ds = -1;
	int r = -1;

	if (sp < 0)
		goto out;
	ds = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (ds < 0)
		goto out;
	if (H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		goto out;
	r = 0;
out:
	close_if(ds, H5Dclose);
	close_if(sp, H5Sclose);
	if (r && !w->bad)
		w->bad = name;
	return r;
}

static int w_i64(wctx *w, hid_t g, const char *name, int64_t v)
{
	return w_ds(w, g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, &v);
}

static int w_f64(wctx *w, hid_t g, const char *name, double v)
{
	return w_ds(w, g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &v);
}

/* Write a scalar of type t (file and memory type alike), then close t; a type
 * that could not be built (t < 0 or !ok) marks the dataset as the failed one. */
static int w_typed(wctx *w, hid_t g, const char *name, hid_t t, int ok, const void *buf)
{
	int r = -1;

	if (t >= 0 && ok)
		r = w_ds(w, g, name, t, t, 0, NULL, buf);
	else if (!w->bad)
		w->bad = name;
	close_if(t, H5Tclose);
	return r;
}

/* A fixed-length, NUL-padded ASCII string exactly as long as s, as h5py
 * writes np.bytes_ (DSA-110 correlator, pyuvdata). */
static int w_str(wctx *w, hid_t g, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	size_t n = strlen(s);
	int ok = t >= 0 && H5Tset_size(t, n ? n : 1) >= 0 &&
		 H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0 && H5Tset_cset(t, H5T_CSET_ASCII) >= 0;

	return w_typed(w, g, name, t, ok, n ? s : "");
}

/* A variable-length UTF-8 string, as h5py writes a Python str. */
static int w_vstr(wctx *w, hid_t g, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	int ok = t >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0;

	return w_typed(w, g, name, t, ok, &s);
}

/* h5py's boolean: an enum on int8 with FALSE = 0, TRUE = 1. */
static hid_t bool_type(void)
{
	hid_t t = H5Tenum_create(H5T_STD_I8LE);
	signed char f = 0, tr = 1;
	if (t >= 0 && (H5Tenum_insert(t, "FALSE", &f) < 0 || H5Tenum_insert(t, "TRUE", &tr) < 0)) {
		H5Tclose(t);
		return -1;
	}
	return t;
}

static int w_bool(wctx *w, hid_t g, const char *name, int v)
{
	hid_t t = bool_type();
	signed char b = v ? 1 : 0;

	return w_typed(w, g, name, t, 1, &b);
}

/* Apparent (equinox-based, of date) RA/Dec of an ICRS position, the position
 * angle of ICRS north in that frame, and the apparent LST, as pyuvdata's
 * calc_app_coords / calc_frame_pos_angle / get_lst_for_time compute them with
 * ERFA (no polar motion).  Only the LST depends on UT1 = UTC + dut1_s: the
 * set's own dut1, so lst_array agrees with the rephasing and with the file's
 * dut1 (pyuvdata takes UT1 from the IERS tables, the same value when the
 * configured dut1 is right). */
static void app_coords(double ra, double dec, double jd_utc, double dut1_s, double lon_rad,
		       double *app_ra, double *app_dec, double *pa, double *lst)
{
	const double off = M_PI / (180.0 * 3600.0 * 10); /* 0.1 arcsec north */
	double tai1, tai2, tt1, tt2, ri, di, eo, ur, ud, dra;

	eraUtctai(jd_utc, 0.0, &tai1, &tai2);
	eraTaitt(tai1, tai2, &tt1, &tt2);
	eraAtci13(ra, dec, 0, 0, 0, 0, tt1, tt2, &ri, &di, &eo);
	*app_ra = eraAnp(ri - eo);
	*app_dec = di;
	eraAtci13(ra, dec + off, 0, 0, 0, 0, tt1, tt2, &ur, &ud, &eo);
	ur = eraAnp(ur - eo);
	dra = ur - *app_ra;
	*pa = atan2(sin(dra) * cos(ud), cos(*app_dec) * sin(ud) - sin(*app_dec) * cos(ud) * cos(dra));
	*lst = eraAnp(eraGst06a(jd_utc, dut1_s / 86400.0, tt1, tt2) + lon_rad);
}

void uvh5_guess_chunk(int rank, const unsigned long long *shape, size_t typesize,
		      unsigned long long *ret_chunk)
{
	const double base = 16 * 1024, lo = 8 * 1024, hi = 1024 * 1024;
	double c[H5S_MAX_RANK], n = 1, target;

	/* h5py/_hl/filters.py guess_chunk (PyTables' rule), step for step, in
	 * doubles as numpy does it. */
	for (int i = 0; i < rank; i++) {
		c[i] = shape[i] ? (double)shape[i] : 1024;
		n *= c[i];
	}
	target = base * pow(2, log10(n * typesize / (1024.0 * 1024.0)));
	target = target > hi ? hi : target < lo ? lo : target;
	for (int idx = 0; rank > 0; idx++) {
		double bytes = typesize;
		n = 1;
		for (int i = 0; i < rank; i++)
			n *= c[i];
		bytes *= n;
		if ((bytes < target || fabs(bytes - target) / target < 0.5) && bytes < hi)
			break;
		if (n == 1)
			break;
		c[idx % rank] = ceil(c[idx % rank] / 2);
	}
	for (int i = 0; i < rank; i++)
		ret_chunk[i] = (unsigned long long)c[i];
}

/*
 * One array of the baseline-time axis: `rows` rows of `rowbytes` bytes (in
 * memory) starting at buf, stored as `rank` axes of dims (dims[0] = rows).
 * chunk[0] == 0: h5py's automatic shape.
 */
typedef struct rowds {
	hid_t g;
	const char *name;
	hid_t ftype, mtype;
	int rank;
	hsize_t dims[4];
	unsigned long long chunk[4];
	const void *buf;
	size_t rowbytes;
	hid_t ds;
} rowds;

/* Create rd's dataset: contiguous (storage CONTIGUOUS), chunked at its full
 * fixed shape, or (resizable) empty with an unlimited first axis and h5py's
 * chunks for an empty dataset, as the correlator's writer creates it. */
static int rowds_create(wctx *w, rowds *rd, int chunked, int resizable)
{
	hsize_t cur[4], max[4], ch[4];
	unsigned long long shp[4], g[4];
	hid_t sp = -1, dcpl = -1;
	int r = -1;

	for (int i = 0; i < rd->rank; i++) {
		cur[i] = max[i] = rd->dims[i];
		shp[i] = rd->dims[i];
	}
	if (resizable) {
		cur[0] = 0;
		max[0] = H5S_UNLIMITED;
		shp[0] = 0;
	}
	sp = H5Screate_simple(rd->rank, cur, max);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (sp < 0 || dcpl < 0)
		goto out;
	if (chunked) {
		uvh5_guess_chunk(rd->rank, shp, H5Tget_size(rd->ftype), g);
		for (int i = 0; i < rd->rank; i++)
			ch[i] = rd->chunk[0] ? rd->chunk[i] : g[i];
		if (H5Pset_chunk(dcpl, rd->rank, ch) < 0)
			goto out;
	}
	rd->ds = H5Dcreate2(rd->g, rd->name, rd->ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (rd->ds >= 0)
		r = 0;
out:
	close_if(dcpl, H5Pclose);
	close_if(sp, H5Sclose);
	if (r && !w->bad)
		w->bad = rd->name;
	return r;
}

/* Write rows [row0, row0 + nrows) of rd, extending it first when it is
 * resizable (as h5py's resize + slice assignment does). */
static int rowds_write(wctx *w, rowds *rd, size_t row0, size_t nrows, int resizable)
{
	hsize_t start[4] = { row0, 0, 0, 0 }, count[4], ext[4];
	hid_t fsp = -1, msp = -1;
	int r = -1;

	for (int i = 0; i < rd->rank; i++)
		count[i] = ext[i] = rd->dims[i];
	count[0] = nrows;
	ext[0] = row0 + nrows;
	if (resizable && H5Dset_extent(rd->ds, ext) < 0)
		goto out;
	fsp = H5Dget_space(rd->ds);
	msp = H5Screate_simple(rd->rank, count, NULL);
	if (fsp < 0 || msp < 0 ||
	    H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
		goto out;
	if (H5Dwrite(rd->ds, rd->mtype, msp, fsp, H5P_DEFAULT,
		     (const char *)rd->buf + row0 * rd->rowbytes) >= 0)
		r = 0;
out:
	close_if(msp, H5Sclose);
	close_if(fsp, H5Sclose);
	if (r && !w->bad)
		w->bad = rd->name;
	return r;
}

const char *uvh5_writer_version(void)
{
	return CONTIMG_VERSION;
}

int uvh5_write(const char *path, const vis_set *v, int layout, char *err, size_t errlen)
{
	uvh5_write_opts o;

	memset(&o, 0, sizeof o);
	o.layout = layout;
	return uvh5_write_with(path, v, &o, err, errlen);
}

int uvh5_write_with(const char *path, const vis_set *v, const uvh5_write_opts *o, char *err,
		    size_t errlen)
{
	const int layout = o ? o->layout : -1, dsa = layout == UVH5_LAYOUT_DSA110;
	const int storage = o ? o->storage : -1;
	/* Chunked: Data/ always; resizable (and the per-row Header/ arrays
	 * chunked too): the DSA-110 correlator's layout. */
	const int chunked = storage == UVH5_STORAGE_CHUNKED || (dsa && storage == UVH5_STORAGE_DEFAULT);
	const int resizable = chunked && dsa;
	wctx w = { path, NULL };
	hid_t f = -1, hdr = -1, dat = -1, ek = -1, cat = -1, c0 = -1, t = -1;
	hid_t ct = -1, mt = -1, bt = -1, fapl = -1;
	size_t nblts, n, big;
	int64_t *i64 = NULL, *a1 = NULL, *a2 = NULL, nants_data = 0;
	double *f64 = NULL, *f64b = NULL, *f64c = NULL, *f64d = NULL, *tm = NULL, *it = NULL;
	float *f32 = NULL;
	signed char *fl = NULL;
	char *names = NULL, *history = NULL, why[256];
	size_t namelen = 1;
	hsize_t dims[4];
	rowds rd[8];
	int nrd = 0, r = 0, created = 0;

	h5_enter();
	memset(rd, 0, sizeof rd);
	for (int k = 0; k < 8; k++)
		rd[k].ds = -1;
	if (!path || !v || !o)
		return err_set(err, errlen, -EINVAL, "uvh5_write: no file name, data or options");
	if (layout != UVH5_LAYOUT_DSA110 && layout != UVH5_LAYOUT_PYUVDATA)
		return err_set(err, errlen, -EINVAL, "%s: unknown layout %d", path, layout);
	if (storage != UVH5_STORAGE_DEFAULT && storage != UVH5_STORAGE_CHUNKED &&
	    storage != UVH5_STORAGE_CONTIGUOUS)
		return err_set(err, errlen, -EINVAL, "%s: unknown storage %d", path, storage);
	if (v->ntimes < 1 || v->nbls < 1 || v->nchan < 1 || v->npols < 1 || v->npols > 4 ||
	    v->nants < 1 || !v->ants)
		return err_set(err, errlen, -EINVAL, "%s: empty visibility set (%d times, %d baselines, "
			       "%d channels, %d pols, %d antennas)", path, v->ntimes, v->nbls,
			       v->nchan, v->npols, v->nants);
	for (int k = 0; k < 3 && chunked; k++) {
		/* Data/ shapes: (rows, 1, channels, pols) or (rows, channels, pols). */
		const unsigned long long *c = o->data_chunk[k];
		unsigned long long fixed[4] = { 0, 1, (unsigned long long)v->nchan,
						(unsigned long long)v->npols };
		const int rank = dsa ? 4 : 3;

		if (!dsa)
			fixed[1] = v->nchan, fixed[2] = v->npols;
		if (!c[0])
			continue;
		for (int i = 0; i < rank; i++)
			if (c[i] < 1 || (i > 0 && c[i] > fixed[i]) ||
			    (i == 0 && !resizable && c[0] > (unsigned long long)v->ntimes * v->nbls))
				return err_set(err, errlen, -EINVAL, "%s: chunk axis %d of Data array %d "
					       "is %llu: outside 1..the dataset's length", path, i, k,
					       c[i]);
	}
	if (dsa && v->phase_type != VIS_PHASE_DRIFT)
		return err_set(err, errlen, -EINVAL, "%s: the DSA-110 layout is drift-phased; this set "
			       "has a fixed phase centre (write the pyuvdata layout)", path);
	if (!dsa && v->phase_type != VIS_PHASE_FIXED)
		return err_set(err, errlen, -EINVAL, "%s: the pyuvdata layout needs a fixed (sidereal) "
			       "phase centre; this set is drift-phased (rephase it first)", path);
	if (!dsa) {
		/* The provenance the pyuvdata layout writes must be in pyuvdata's words. */
		const char *u = units_name(v->vis_units);
		const char *x = vis_x_orientation_name(v->x_orientation);

		if (v->vis_units[0] && (!u || strcmp(u, v->vis_units)))
			return err_set(err, errlen, -EINVAL, "%s: vis_units '%s' is not one of "
				       "pyuvdata's (uncalib, Jy, K str)", path, v->vis_units);
		if (v->x_orientation[0] && (!x || strcmp(x, v->x_orientation)))
			return err_set(err, errlen, -EINVAL, "%s: x_orientation '%s' is not east or "
				       "north", path, v->x_orientation);
		if (!(fabs(v->dut1_s) < 1))
			return err_set(err, errlen, -EINVAL, "%s: dut1 %g s is not a UT1 - UTC "
				       "(|dut1| < 1 s)", path, v->dut1_s);
	}
	nblts = (size_t)v->ntimes * v->nbls;
	n = nblts * v->nchan * v->npols;
	{
		/* Nants_data: the distinct antennas that appear in the baselines. */
		unsigned char *seen = calloc(v->nants, 1);
		if (!seen)
			return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		for (int b = 0; b < v->nbls; b++) {
			int i1 = vis_ant_index(v, v->ant1[b]), i2 = vis_ant_index(v, v->ant2[b]);
			if (i1 < 0 || i2 < 0) {
				free(seen);
				return err_set(err, errlen, -EINVAL, "%s: baseline %d uses antenna %d, "
					       "which is not in the antenna table", path, b,
					       i1 < 0 ? v->ant1[b] : v->ant2[b]);
			}
			seen[i1] = seen[i2] = 1;
		}
		for (int a = 0; a < v->nants; a++) {
			size_t l = strlen(v->ants[a].name);
			nants_data += seen[a];
			namelen = l > namelen ? l : namelen;
		}
		free(seen);
		/* The reference DSA-110 files store names one byte longer than the
		 * longest ('117' as S4); pyuvdata stores them exactly. */
		if (dsa)
			namelen++;
	}

	/* Scratch arrays, each long enough for any axis it is used for. */
	big = nblts > (size_t)v->nants ? nblts : (size_t)v->nants;
	big = big > (size_t)v->nchan ? big : (size_t)v->nchan;
	big = big > 4 ? big : 4;
	i64 = malloc(big * sizeof *i64);
	a1 = malloc(nblts * sizeof *a1);
	a2 = malloc(nblts * sizeof *a2);
	tm = malloc(nblts * sizeof *tm);
	it = malloc(nblts * sizeof *it);
	f64 = malloc(big * 3 * sizeof *f64);
	f64b = malloc(big * sizeof *f64b);
	f64c = malloc(nblts * sizeof *f64c);
	f64d = malloc(nblts * sizeof *f64d);
	f32 = malloc(nblts * 3 * sizeof *f32);
	fl = malloc(n);
	names = calloc(v->nants, namelen);
	/* The DSA-110 layout is the correlator's, history included; the pyuvdata
	 * layout carries the set's history and, as pyuvdata's own writer does,
	 * a last line naming the software and version that wrote the file. */
	if (!dsa) {
		const char *h = v->history ? v->history : "";
		size_t hl = strlen(h), len = hl + strlen(uvh5_writer_version()) + 64;
		history = malloc(len);
		if (history)
			snprintf(history, len, "%s%sWritten by contimg %s (UVH5, pyuvdata layout).",
				 h, hl ? "\n" : "", uvh5_writer_version());
	}
	if (!i64 || !a1 || !a2 || !tm || !it || !f64 || !f64b || !f64c || !f64d || !f32 || !fl || !names ||
	    (!dsa && !history)) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}

	if (o->latest_format) {
		fapl = H5Pcreate(H5P_FILE_ACCESS);
		if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) {
			r = err_set(err, errlen, -ENOMEM, "%s: cannot set the file format", path);
			goto out;
		}
	}
	f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, o->latest_format ? fapl : H5P_DEFAULT);
	if (f < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot create: %s", path, h5_reason(why, sizeof why));
		goto out;
	}
	created = 1;
	hdr = H5Gcreate2(f, "Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	dat = H5Gcreate2(f, "Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (hdr < 0 || dat < 0) {
		w.bad = "Header";
		goto fail;
	}

	/* Counts and telescope. */
	w_i64(&w, hdr, "Nants_data", nants_data);
	w_i64(&w, hdr, "Nants_telescope", v->nants);
	w_i64(&w, hdr, "Nbls", v->nbls);
	w_i64(&w, hdr, "Nblts", (int64_t)nblts);
	w_i64(&w, hdr, "Nfreqs", v->nchan);
	w_i64(&w, hdr, "Npols", v->npols);
	w_i64(&w, hdr, "Nspws", 1);
	w_i64(&w, hdr, "Ntimes", v->ntimes);
	w_f64(&w, hdr, "altitude", v->alt_m);
	w_f64(&w, hdr, "latitude", v->lat_rad * 180 / M_PI);
	w_f64(&w, hdr, "longitude", v->lon_rad * 180 / M_PI);
	w_str(&w, hdr, "telescope_name", v->telescope[0] ? v->telescope : "OVRO_MMA");
	w_str(&w, hdr, "instrument", v->instrument[0] ? v->instrument : "DSA");
	w_str(&w, hdr, "history", dsa ? "written by contimg" : history);

	/* Antennas. */
	for (int a = 0; a < v->nants; a++) {
		i64[a] = v->ants[a].number;
		memcpy(f64 + 3 * a, v->ants[a].pos_m, 3 * sizeof *f64);
		f64b[a] = v->ants[a].diam_m;
		memcpy(names + (size_t)a * namelen, v->ants[a].name, strnlen(v->ants[a].name, namelen));
	}
	dims[0] = v->nants;
	dims[1] = 3;
	w_ds(&w, hdr, "antenna_numbers", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
	w_ds(&w, hdr, "antenna_positions", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, f64);
	w_ds(&w, hdr, "antenna_diameters", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64b);
	t = H5Tcopy(H5T_C_S1);
	if (t < 0 || H5Tset_size(t, namelen) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0)
		w.bad = "antenna_names";
	else
		w_ds(&w, hdr, "antenna_names", t, t, 1, dims, names);

	/* Baseline-time axis: time-major, the same baseline order every
	 * integration.  Written below with Data/ (rd[]), in the correlator's
	 * creation order. */
	for (size_t i = 0; i < nblts; i++) {
		a1[i] = v->ant1[i % v->nbls];
		a2[i] = v->ant2[i % v->nbls];
		tm[i] = v->time_jd[i / v->nbls];
		it[i] = v->int_time_s;
	}
	/* The correlator writes uvw as float32. */
	for (size_t i = 0; dsa && i < nblts * 3; i++)
		f32[i] = (float)v->uvw_m[i];
	rd[nrd++] = (rowds){ hdr, "ant_1_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, { nblts },
			     { 0 }, a1, 8, -1 };
	rd[nrd++] = (rowds){ hdr, "ant_2_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, { nblts },
			     { 0 }, a2, 8, -1 };
	rd[nrd++] = dsa ? (rowds){ hdr, "uvw_array", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2,
				   { nblts, 3 }, { 0 }, f32, 12, -1 }
			: (rowds){ hdr, "uvw_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2,
				   { nblts, 3 }, { 0 }, v->uvw_m, 24, -1 };
	rd[nrd++] = (rowds){ hdr, "time_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, { nblts },
			     { 0 }, tm, 8, -1 };
	rd[nrd++] = (rowds){ hdr, "integration_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
			     { nblts }, { 0 }, it, 8, -1 };

	/* Spectral and polarisation axes. */
	for (int p = 0; p < v->npols; p++)
		i64[p] = v->pols[p];
	dims[0] = v->npols;
	w_ds(&w, hdr, "polarization_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
	if (dsa) {
		dims[0] = 1;
		dims[1] = v->nchan;
		w_ds(&w, hdr, "freq_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, v->freq_hz);
		w_f64(&w, hdr, "channel_width", v->chan_width_hz);
		i64[0] = 1;
		w_ds(&w, hdr, "spw_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		w_str(&w, hdr, "phase_type", "drift");
		w_str(&w, hdr, "object_name", "search");
		w_f64(&w, hdr, "phase_center_app_dec", v->phase_dec_rad);
		ek = H5Gcreate2(hdr, "extra_keywords", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		if (ek < 0) {
			w.bad = "extra_keywords";
			goto fail;
		}
		w_f64(&w, ek, "ha_phase_center", 0.0);
		/* The correlator's keyword is the declination it fringe-stopped at
		 * (what a reader takes as the phase centre); where the dishes
		 * really point is not in its files (docs/operations.md). */
		w_f64(&w, ek, "phase_center_dec", v->phase_dec_rad);
		w_vstr(&w, ek, "phase_center_epoch", "HADEC");
	} else {
		char cname[32];
		double ra_h = v->phase_ra_rad * 12 / M_PI, dec_d = v->phase_dec_rad * 180 / M_PI;
		int rh = (int)ra_h, rm = (int)((ra_h - rh) * 60), dd = (int)fabs(dec_d);
		int dm = (int)((fabs(dec_d) - dd) * 60);

		dims[0] = v->nchan;
		w_ds(&w, hdr, "freq_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, v->freq_hz);
		for (int ch = 0; ch < v->nchan; ch++) {
			f64[ch] = v->chan_width_hz;
			i64[ch] = 0;
		}
		w_ds(&w, hdr, "channel_width", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64);
		w_ds(&w, hdr, "flex_spw_id_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		dims[0] = 1;
		w_ds(&w, hdr, "spw_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		w_str(&w, hdr, "version", "1.2");
		w_str(&w, hdr, "telescope_frame", "itrs");
		w_str(&w, hdr, "vis_units", v->vis_units[0] ? v->vis_units : "uncalib");
		if (v->x_orientation[0])
			w_str(&w, hdr, "x_orientation", v->x_orientation);
		w_bool(&w, hdr, "flex_spw", 0);
		w_bool(&w, hdr, "blts_are_rectangular", 1);
		w_bool(&w, hdr, "time_axis_faster_than_bls", v->ntimes > 1 && v->nbls == 1);
		w_str(&w, hdr, "blt_order", "time, baseline");
		w_f64(&w, hdr, "dut1", v->dut1_s);

		/* One sidereal ICRS phase centre, id 0, for every row. */
		w_i64(&w, hdr, "Nphase", 1);
		for (size_t i = 0; i < nblts; i++)
			i64[i] = 0;
		dims[0] = nblts;
		w_ds(&w, hdr, "phase_center_id_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		for (int ti = 0; ti < v->ntimes; ti++) {
			double ara, adec, pa, lst;
			app_coords(v->phase_ra_rad, v->phase_dec_rad, v->time_jd[ti], v->dut1_s,
				   v->lon_rad, &ara, &adec, &pa, &lst);
			for (int b = 0; b < v->nbls; b++) {
				size_t i = (size_t)ti * v->nbls + b;
				f64[i] = ara;
				f64b[i] = adec;
				f64c[i] = pa;
				f64d[i] = lst;
			}
		}
		w_ds(&w, hdr, "phase_center_app_ra", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64);
		w_ds(&w, hdr, "phase_center_app_dec", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64b);
		w_ds(&w, hdr, "phase_center_frame_pa", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64c);
		w_ds(&w, hdr, "lst_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64d);

		cat = H5Gcreate2(hdr, "phase_center_catalog", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		c0 = cat >= 0 ? H5Gcreate2(cat, "0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
		if (c0 < 0) {
			w.bad = "phase_center_catalog";
			goto fail;
		}
		snprintf(cname, sizeof cname, "J%02d%02d%c%02d%02d", rh % 24, rm, dec_d < 0 ? '-' : '+',
			 dd, dm);
		w_str(&w, c0, "cat_name", cname);
		w_str(&w, c0, "cat_type", "sidereal");
		w_f64(&w, c0, "cat_lon", v->phase_ra_rad);
		w_f64(&w, c0, "cat_lat", v->phase_dec_rad);
		w_str(&w, c0, "cat_frame", "icrs");
		w_f64(&w, c0, "cat_epoch", 2000.0);
		w_str(&w, c0, "info_source", "user");
	}
	if (w.bad)
		goto fail;

	/* Data: rank 4 (Nblts, 1, Nfreqs, Npols) for DSA-110, rank 3 for pyuvdata. */
	{
		const int rank = dsa ? 4 : 3;
		const size_t rl = (size_t)v->nchan * v->npols;

		ct = complex_type(H5T_IEEE_F32LE);
		mt = complex_type(H5T_NATIVE_FLOAT);
		bt = bool_type();
		if (ct < 0 || mt < 0 || bt < 0) {
			w.bad = "visdata";
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			fl[i] = v->flags[i] ? 1 : 0;
		rd[nrd++] = (rowds){ dat, "visdata", ct, mt, rank, { 0 }, { 0 }, v->vis, rl * 8, -1 };
		rd[nrd++] = (rowds){ dat, "flags", bt, bt, rank, { 0 }, { 0 }, fl, rl, -1 };
		rd[nrd++] = (rowds){ dat, "nsamples", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, { 0 },
				     { 0 }, v->weight, rl * 4, -1 };
		for (int k = 0; k < 3; k++) {
			rowds *d = &rd[nrd - 3 + k];
			d->dims[0] = nblts;
			if (dsa)
				d->dims[1] = 1, d->dims[2] = v->nchan, d->dims[3] = v->npols;
			else
				d->dims[1] = v->nchan, d->dims[2] = v->npols;
			memcpy(d->chunk, o->data_chunk[k], sizeof d->chunk);
		}
	}

	/* The arrays of the baseline-time axis.  Resizable (the correlator's
	 * layout): all created empty, then extended and written one integration
	 * at a time in dsamfs/io.py update_uvh5_file's order (time_array,
	 * integration_time, uvw_array, ant_1_array, ant_2_array, visdata, flags,
	 * nsamples), so HDF5 allocates their chunks interleaved as in the
	 * correlator's files.  Otherwise each is written whole; the per-row
	 * Header/ arrays are then contiguous and Data/ chunked or not. */
	if (resizable) {
		static const int order[8] = { 3, 4, 2, 0, 1, 5, 6, 7 };
		for (int k = 0; k < nrd; k++)
			if (rowds_create(&w, &rd[k], 1, 1) < 0)
				goto fail;
		for (int ti = 0; ti < v->ntimes; ti++)
			for (int k = 0; k < nrd; k++)
				if (rowds_write(&w, &rd[order[k]], (size_t)ti * v->nbls, v->nbls, 1) < 0)
					goto fail;
	} else {
		for (int k = 0; k < nrd; k++)
			if (rowds_create(&w, &rd[k], chunked && rd[k].g == dat, 0) < 0 ||
			    rowds_write(&w, &rd[k], 0, nblts, 0) < 0)
				goto fail;
	}
	if (w.bad)
		goto fail;
	goto out;
fail:
	r = err_set(err, errlen, -EIO, "%s: cannot write %s: %s", path, w.bad ? w.bad : "?",
		    h5_reason(why, sizeof why));
out:
	for (int k = 0; k < nrd; k++)
		close_if(rd[k].ds, H5Dclose);
	close_if(ct, H5Tclose);
	close_if(mt, H5Tclose);
	close_if(bt, H5Tclose);
	close_if(fapl, H5Pclose);
	close_if(t, H5Tclose);
	close_if(c0, H5Gclose);
	close_if(cat, H5Gclose);
	close_if(ek, H5Gclose);
	close_if(hdr, H5Gclose);
	close_if(dat, H5Gclose);
	if (f >= 0 && H5Fclose(f) < 0 && !r)
		r = err_set(err, errlen, -EIO, "%s: cannot finish writing: %s", path,
			    h5_reason(why, sizeof why));
	if (r && created)
		unlink(path);
	free(i64);
	free(a1);
	free(a2);
	free(tm);
	free(it);
	free(f64);
	free(f64b);
	free(f64c);
	free(f64d);
	free(f32);
	free(fl);
	free(names);
	free(history);
	return r;
}
