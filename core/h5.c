/*
 * core/h5.c — the HDF5 library set-up, error capture, cleanup and simple
 * typed files shared by every HDF5 user (see h5.h).
 */
#include "core/h5.h"

#include <errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/lzf.h"

_Static_assert(_Generic((hid_t)0, int64_t: 1, default: 0), "h5_id must be HDF5's hid_t");
_Static_assert(H5_MAX_RANK == H5S_MAX_RANK, "H5_MAX_RANK must be HDF5's largest rank");

/* Where Debian's hdf5-plugin-lzf installs the LZF filter (HDF5 filter 32000). */
static const char *const plugin_dirs[] = {
	"/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins",
	"/usr/lib/aarch64-linux-gnu/hdf5/serial/plugins",
	"/usr/lib/hdf5/serial/plugins",
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/*
 * HDF5 filter 32000 (LZF, as h5py/pyuvdata write flags and nsamples), decode
 * direction only, with core/lzf.h's bounds-checked decoder.
 *
 * Debian 12's hdf5-plugin-lzf 3.7.0-8 ships a plugin that leaves lzf_compress
 * and lzf_decompress undefined and does not depend on liblzf1, so dlopen()
 * fails with "undefined symbol: lzf_decompress"; with liblzf1 installed it
 * loads, but takes a corrupt chunk for data.  lib_init() therefore always
 * registers this filter.
 */
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

/* HDF5's automatic error printing is per thread in the thread-safe build,
 * so it is switched off on every call. */
void h5_enter(void)
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

const char *h5_reason(char *buf, size_t len)
{
	struct walk_buf w = { buf, len };
	buf[0] = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
	if (!buf[0])
		snprintf(buf, len, "HDF5 error");
	return buf;
}

void h5_close_id(h5_id id)
{
	if (id < 0)
		return;
	switch (H5Iget_type(id)) {
	case H5I_FILE: H5Fclose(id); break;
	case H5I_GROUP: H5Gclose(id); break;
	case H5I_DATASET: H5Dclose(id); break;
	case H5I_DATASPACE: H5Sclose(id); break;
	case H5I_DATATYPE: H5Tclose(id); break;
	case H5I_ATTR: H5Aclose(id); break;
	case H5I_GENPROP_LST: H5Pclose(id); break;
	default: break; /* not an identifier we hand out */
	}
}

h5_id h5_complex_type(h5_id f32)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, 2 * sizeof(float));
	if (t < 0)
		return t;
	if (H5Tinsert(t, "r", 0, f32) < 0 || H5Tinsert(t, "i", sizeof(float), f32) < 0) {
		H5Tclose(t);
		return -1;
	}
	return t;
}

/* ---- simple files ----------------------------------------------------------- */

struct h5_file {
	hid_t id;
	char *path;
};

/* The memory (native) or file (little-endian) type of an element type; the
 * caller closes it.  Negative for an unknown type. */
static hid_t type_of(int type, int file)
{
	switch (type) {
	case H5_TYPE_U8: return H5Tcopy(file ? H5T_STD_U8LE : H5T_NATIVE_UINT8);
	case H5_TYPE_I32: return H5Tcopy(file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
	case H5_TYPE_I64: return H5Tcopy(file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
	case H5_TYPE_F32: return H5Tcopy(file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
	case H5_TYPE_F64: return H5Tcopy(file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
	case H5_TYPE_C8: return h5_complex_type(file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
	case H5_TYPE_BOOL: {
		/* h5py's bool: an 8-bit enum FALSE = 0, TRUE = 1 (numpy reads it as
		 * bool). */
		hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
		int8_t v0 = 0, v1 = 1;
		if (t >= 0 && (H5Tenum_insert(t, "FALSE", &v0) < 0 || H5Tenum_insert(t, "TRUE", &v1) < 0)) {
			H5Tclose(t);
			return -1;
		}
		return t;
	}
	default: return -1;
	}
}

int h5_file_open(const char *path, int mode, h5_file **ret, char *err, size_t errlen)
{
	char why[256];
	h5_file *f;

	if (mode != H5_MODE_READ && mode != H5_MODE_UPDATE && mode != H5_MODE_CREATE)
		return err_set(err, errlen, -EINVAL, "%s: unknown open mode %d", path, mode);
	h5_enter();
	f = calloc(1, sizeof *f);
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	if (mode == H5_MODE_CREATE)
		f->id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	else
		f->id = H5Fopen(path, mode == H5_MODE_READ ? H5F_ACC_RDONLY : H5F_ACC_RDWR,
				H5P_DEFAULT);
	if (f->id < 0) {
		int r = err_set(err, errlen, -EIO, "%s: cannot %s as HDF5: %s", path,
				mode == H5_MODE_CREATE ? "create" : "open",
				h5_reason(why, sizeof why));
		free(f->path);
		free(f);
		return r;
	}
	*ret = f;
	return 0;
}

int h5_file_close(h5_file *f, char *err, size_t errlen)
{
	char why[256];
	int r = 0;

	if (!f)
		return 0;
	h5_enter();
	if (H5Fclose(f->id) < 0)
		r = err_set(err, errlen, -EIO, "%s: cannot finish the file: %s", f->path,
			    h5_reason(why, sizeof why));
	free(f->path);
	free(f);
	return r;
}

int h5_write(h5_file *f, const char *name, int type, int rank, const size_t *dims,
	     const void *data, char *err, size_t errlen)
{
	hsize_t d[H5_MAX_RANK];
	hid_t ft = -1, mt = -1, sp = -1, ds = -1, lcpl = -1;
	char why[256];
	int r = 0;

	if (rank < 0 || rank > H5_MAX_RANK || (rank > 0 && !dims))
		return err_set(err, errlen, -EINVAL, "%s: %s: rank %d", f->path, name, rank);
	h5_enter();
	for (int i = 0; i < rank; i++)
		d[i] = dims[i];
	ft = type_of(type, 1);
	mt = type_of(type, 0);
	if (ft < 0 || mt < 0) {
		r = err_set(err, errlen, -EINVAL, "%s: %s: unknown element type %d", f->path, name,
			    type);
		goto out;
	}
	sp = rank ? H5Screate_simple(rank, d, NULL) : H5Screate(H5S_SCALAR);
	lcpl = H5Pcreate(H5P_LINK_CREATE);
	if (lcpl >= 0)
		H5Pset_create_intermediate_group(lcpl, 1);
	ds = sp < 0 || lcpl < 0 ? -1 : H5Dcreate2(f->id, name, ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
	if (ds < 0 || H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
		r = err_set(err, errlen, -EIO, "%s: cannot write %s: %s", f->path, name,
			    h5_reason(why, sizeof why));
out:
	h5_close_id(ds);
	h5_close_id(lcpl);
	h5_close_id(sp);
	h5_close_id(mt);
	h5_close_id(ft);
	return r;
}

int h5_write_strs(h5_file *f, const char *name, int rank, size_t n, const char *const *strs,
		  char *err, size_t errlen)
{
	hsize_t d[1] = { n };
	hid_t t = -1, sp = -1, ds = -1, lcpl = -1;
	size_t len = 1, count = rank ? n : 1;
	char *buf = NULL, why[256];
	int r = 0;

	if ((rank != 0 && rank != 1) || (rank == 0 && n != 1))
		return err_set(err, errlen, -EINVAL, "%s: %s: strings of rank %d", f->path, name,
			       rank);
	for (size_t i = 0; i < count; i++)
		if (strlen(strs[i]) > len)
			len = strlen(strs[i]);
	buf = calloc(count ? count : 1, len);
	if (!buf)
		return err_set(err, errlen, -ENOMEM, "%s: %s: out of memory", f->path, name);
	for (size_t i = 0; i < count; i++)
		memcpy(buf + i * len, strs[i], strlen(strs[i]));
	h5_enter();
	t = H5Tcopy(H5T_C_S1);
	if (t >= 0 && (H5Tset_size(t, len) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
		       H5Tset_cset(t, H5T_CSET_ASCII) < 0)) {
		H5Tclose(t);
		t = -1;
	}
	sp = rank ? H5Screate_simple(1, d, NULL) : H5Screate(H5S_SCALAR);
	lcpl = H5Pcreate(H5P_LINK_CREATE);
	if (lcpl >= 0)
		H5Pset_create_intermediate_group(lcpl, 1);
	ds = t < 0 || sp < 0 || lcpl < 0 ? -1
					   : H5Dcreate2(f->id, name, t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
	if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		r = err_set(err, errlen, -EIO, "%s: cannot write %s: %s", f->path, name,
			    h5_reason(why, sizeof why));
	h5_close_id(ds);
	h5_close_id(lcpl);
	h5_close_id(sp);
	h5_close_id(t);
	free(buf);
	return r;
}

int h5_exists(h5_file *f, const char *name)
{
	htri_t ex;

	h5_enter();
	ex = H5Lexists(f->id, name, H5P_DEFAULT);
	return ex < 0 ? -EIO : ex > 0;
}

/* Open dataset `name`: 0 with *ret, -ENOENT when absent, -EIO. */
static int open_ds(h5_file *f, const char *name, hid_t *ret, char *err, size_t errlen)
{
	char why[256];
	int ex = h5_exists(f, name);

	if (ex == 0)
		return err_set(err, errlen, -ENOENT, "%s: no dataset %s", f->path, name);
	*ret = ex > 0 ? H5Dopen2(f->id, name, H5P_DEFAULT) : -1;
	if (*ret < 0)
		return err_set(err, errlen, -EIO, "%s: cannot open dataset %s: %s", f->path, name,
			       h5_reason(why, sizeof why));
	return 0;
}

int h5_shape(h5_file *f, const char *name, int *ret_rank, size_t *ret_dims, char *err,
	     size_t errlen)
{
	hsize_t d[H5S_MAX_RANK];
	hid_t ds = -1, sp = -1;
	int r, rank;

	if ((r = open_ds(f, name, &ds, err, errlen)))
		return r;
	sp = H5Dget_space(ds);
	rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (rank < 0 || H5Sget_simple_extent_dims(sp, d, NULL) < 0)
		r = err_set(err, errlen, -EIO, "%s: %s: unreadable shape", f->path, name);
	else {
		*ret_rank = rank;
		for (int i = 0; i < rank; i++)
			ret_dims[i] = (size_t)d[i];
	}
	h5_close_id(sp);
	h5_close_id(ds);
	return r;
}

int h5_read(h5_file *f, const char *name, int type, size_t n, void *buf, char *err,
	    size_t errlen)
{
	hid_t ds = -1, sp = -1, mt = -1;
	hssize_t have;
	char why[256];
	int r;

	if ((r = open_ds(f, name, &ds, err, errlen)))
		return r;
	sp = H5Dget_space(ds);
	have = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	mt = type_of(type, 0);
	if (mt < 0)
		r = err_set(err, errlen, -EINVAL, "%s: %s: unknown element type %d", f->path, name,
			    type);
	else if (have < 0)
		r = err_set(err, errlen, -EIO, "%s: %s: unreadable shape", f->path, name);
	else if ((size_t)have != n)
		r = err_set(err, errlen, -EINVAL, "%s: %s holds %lld values, expected %zu", f->path,
			    name, (long long)have, n);
	else if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		r = err_set(err, errlen, -EIO, "%s: cannot read %s: %s", f->path, name,
			    h5_reason(why, sizeof why));
	h5_close_id(mt);
	h5_close_id(sp);
	h5_close_id(ds);
	return r;
}

/* Create and write the root's scalar attribute `name` of file type ft from
 * value in memory type mt. */
static int write_attr(h5_file *f, const char *name, hid_t ft, hid_t mt, const void *value,
		      char *err, size_t errlen)
{
	hid_t sp = H5Screate(H5S_SCALAR), a = -1;
	char why[256];
	int r = 0;

	if (sp >= 0 && ft >= 0 && mt >= 0)
		a = H5Acreate2(f->id, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0 || H5Awrite(a, mt, value) < 0)
		r = err_set(err, errlen, -EIO, "%s: cannot write attribute %s: %s", f->path, name,
			    h5_reason(why, sizeof why));
	h5_close_id(a);
	h5_close_id(sp);
	return r;
}

int h5_write_attr(h5_file *f, const char *name, int type, const void *value, char *err,
		  size_t errlen)
{
	hid_t ft, mt;
	int r;

	if (type == H5_TYPE_C8)
		return err_set(err, errlen, -EINVAL, "%s: attribute %s: complex attributes are not "
			       "written", f->path, name);
	h5_enter();
	ft = type_of(type, 1);
	mt = type_of(type, 0);
	r = ft < 0 || mt < 0 ? err_set(err, errlen, -EINVAL, "%s: attribute %s: unknown element "
				       "type %d", f->path, name, type)
			     : write_attr(f, name, ft, mt, value, err, errlen);
	h5_close_id(mt);
	h5_close_id(ft);
	return r;
}

int h5_write_attr_str(h5_file *f, const char *name, const char *s, char *err, size_t errlen)
{
	hid_t t;
	int r;

	h5_enter();
	t = H5Tcopy(H5T_C_S1);
	if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
		H5Tclose(t);
		t = -1;
	}
	r = write_attr(f, name, t, t, &s, err, errlen);
	h5_close_id(t);
	return r;
}

/* Open the root's attribute `name`: the id, or -ENOENT / -EIO. */
static hid_t open_attr(h5_file *f, const char *name)
{
	htri_t ex;
	hid_t a;

	h5_enter();
	ex = H5Aexists(f->id, name);
	if (ex == 0)
		return -ENOENT;
	a = ex > 0 ? H5Aopen(f->id, name, H5P_DEFAULT) : -1;
	return a < 0 ? -EIO : a;
}

int h5_read_attr(h5_file *f, const char *name, int type, void *ret)
{
	hid_t a = open_attr(f, name), mt;
	int r = 0;

	if (a < 0)
		return (int)a;
	mt = type_of(type, 0);
	if (mt < 0 || H5Aread(a, mt, ret) < 0)
		r = -EIO;
	h5_close_id(mt);
	H5Aclose(a);
	return r;
}

int h5_read_attr_str(h5_file *f, const char *name, char *buf, size_t len)
{
	hid_t a = open_attr(f, name), t = -1, mt = -1;
	int r = -EIO;

	if (a < 0)
		return (int)a;
	t = H5Aget_type(a);
	if (t < 0)
		goto out;
	if (H5Tget_class(t) != H5T_STRING) {
		r = -EINVAL;
		goto out;
	}
	if (H5Tis_variable_str(t) > 0) {
		char *s = NULL;
		mt = H5Tcopy(H5T_C_S1);
		if (mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 &&
		    H5Tset_cset(mt, H5Tget_cset(t)) >= 0 && H5Aread(a, mt, &s) >= 0 && s) {
			snprintf(buf, len, "%s", s);
			H5free_memory(s);
			r = 0;
		}
	} else {
		/* Read as a NUL-terminated C string one byte longer than stored. */
		size_t sz = H5Tget_size(t);
		char *s = sz ? calloc(1, sz + 1) : NULL;
		mt = H5Tcopy(H5T_C_S1);
		if (s && mt >= 0 && H5Tset_size(mt, sz + 1) >= 0 && H5Aread(a, mt, s) >= 0) {
			snprintf(buf, len, "%s", s);
			r = 0;
		}
		free(s);
	}
out:
	h5_close_id(mt);
	h5_close_id(t);
	H5Aclose(a);
	return r;
}
