/*
 * core/uvh5_read.c — read UVH5 visibility files (see core/uvh5.h and docs/uvh5.md).
 *
 * The reader works in two steps: ctx_open() opens the file (or an in-memory
 * image) and read_header() reads and validates everything under Header/ plus
 * the shapes and types of Data/ (never the Data/ arrays themselves); the
 * public functions then fill a uvh5_header, a metadata-only vis_set, or read
 * the Data/ arrays in blocks of rows.  The raw read path is uvh5_raw.c, the
 * writer uvh5_write.c.
 */
#include "core/uvh5.h"

#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/h5.h"
#include "core/uvh5_internal.h"

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
	/* A closed context is all zeros: close only what ctx_open opened. */
	if (c->file > 0) {
		h5_close_id(c->vis);
		h5_close_id(c->flags);
		h5_close_id(c->nsamples);
		h5_close_id(c->hdr);
		h5_close_id(c->data);
		H5Fclose(c->file);
	}
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
	h5_close_id(fapl);
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
	h5_close_id(ty);
	h5_close_id(sp);
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
	h5_close_id(sp);
	h5_close_id(mt);
	h5_close_id(ft);
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
		h5_close_id(t0);
		h5_close_id(t1);
		h5_close_id(ft);
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
			h5_close_id(cat);
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

void uvh5_axes_release(uvh5_axes *a)
{
	if (!a)
		return;
	free(a->ant1);
	free(a->ant2);
	free(a->time_jd);
	free(a->uvw_m);
	free(a->antnum);
	free(a->antpos_m);
	free(a->freq_hz);
	memset(a, 0, sizeof *a);
}

int uvh5_read_header_axes(const char *path, uvh5_header *ret, uvh5_axes *ret_axes, char *err,
			  size_t errlen)
{
	const uvh5_header *h;
	uvh5_axes a;
	ctx c;
	int r;

	memset(&a, 0, sizeof a);
	memset(ret_axes, 0, sizeof *ret_axes);
	r = open_header(&c, path, NULL, 0, err, errlen);
	if (r)
		goto out;
	h = &c.h;
	if (h->imageable) {
		/* The header read and checked these already: take them over. */
		a.ant1 = c.ant1, c.ant1 = NULL;
		a.ant2 = c.ant2, c.ant2 = NULL;
		a.time_jd = c.time, c.time = NULL;
		a.freq_hz = c.freq, c.freq = NULL;
		a.antnum = c.antnum, c.antnum = NULL;
		a.uvw_m = malloc((size_t)h->nblts * 3 * sizeof *a.uvw_m);
		a.antpos_m = malloc((size_t)h->nants_telescope * 3 * sizeof *a.antpos_m);
		if (!a.uvw_m || !a.antpos_m) {
			r = fail(&c, err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		if ((r = read_nums(&c, c.hdr, "Header", "uvw_array", 1, H5T_NATIVE_DOUBLE, 0,
				   (hsize_t)h->nblts * 3, 3, a.uvw_m, err, errlen)) ||
		    (r = read_nums(&c, c.hdr, "Header", "antenna_positions", 1, H5T_NATIVE_DOUBLE, 0,
				   (hsize_t)h->nants_telescope * 3, 3, a.antpos_m, err, errlen)))
			goto out;
		*ret_axes = a;
		memset(&a, 0, sizeof a);
	}
	*ret = *h;
out:
	uvh5_axes_release(&a);
	ctx_close(&c);
	return r;
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
		     sizeof scratch) == 0 && (name = uvh5_units_name(word)))
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
	vt = h5_complex_type(H5T_NATIVE_FLOAT);
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
				uvh5_decode_sample(&z, &w, sf[s0 + k], &df[k]);
				dv[k] = z;
				dw[k] = w;
			}
		}
	}
out:
	h5_close_id(msp);
	h5_close_id(fsp);
	h5_close_id(vt);
	h5_close_id(ft);
	h5_close_id(dxpl);
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
