/*
 * core/h5.h — what every HDF5 user in contimg shares.
 *
 * HDF5 is touched in two places only: the UVH5 reader and writer
 * (core/uvh5_read.c, uvh5_raw.c, uvh5_write.c), which need the whole library,
 * and core/h5.c, which gives everyone else (gain tables, the simulator's
 * truth files) typed whole-dataset reads and writes without HDF5 types in
 * their code.  This header does not include <hdf5.h>.
 *
 * Two parts:
 *
 *   1. The library: h5_enter() before any HDF5 call (once per process it adds
 *      Debian's plugin directory and registers contimg's LZF decoder,
 *      core/lzf.h, as filter 32000; on every call it switches HDF5's
 *      automatic error printing off for the calling thread, because library
 *      code does not print); h5_reason() for the message HDF5 left on the
 *      error stack; h5_close_id() to close any HDF5 identifier, so a cleanup
 *      path is one call per handle whatever its kind.
 *
 *   2. Simple files: an opaque h5_file holding datasets at the root, each
 *      written or read whole as one of a few element types, and scalar
 *      attributes of the root.  Files are written little-endian, as h5py and
 *      pyuvdata write them.
 *
 * Errors follow core/err.h: 0 or a negative errno, one sentence naming the
 * file and dataset in err.  Safe to call from several threads (the Debian
 * HDF5 build is thread-safe and serialises calls); an h5_file is used by one
 * thread at a time.
 */
#ifndef CONTIMG_H5_H
#define CONTIMG_H5_H

#include <stddef.h>
#include <stdint.h>

/* An HDF5 identifier.  HDF5's hid_t is int64_t since release 1.10 (h5.c
 * checks that at compile time), so the UVH5 code passes its hid_t here
 * unchanged and other users need not include <hdf5.h>. */
typedef int64_t h5_id;

/* ---- the library ---------------------------------------------------------- */

/* Call before using HDF5 in a thread (every public entry point of an HDF5
 * user does): sets up the plugin path and the LZF filter once per process,
 * and turns HDF5's automatic error printing off for this thread. */
void h5_enter(void);

/* The most specific message on this thread's HDF5 error stack (e.g.
 * "truncated file: eof = ..."), written into buf (len bytes); "HDF5 error"
 * when the stack is empty.  Returns buf. */
const char *h5_reason(char *buf, size_t len);

/* Close an HDF5 identifier of any kind (file, group, dataset, dataspace,
 * datatype, attribute, property list).  A negative id (never opened) is a
 * no-op, so cleanup paths call it on every handle they may have opened.
 * Errors are ignored: use the kind's own close where it matters (finishing
 * a written file). */
void h5_close_id(h5_id id);

/* A compound datatype {r, i} of two 4-byte floats of type f32 (an HDF5 float
 * type: native in memory, little-endian in a file) at offsets 0 and 4: a
 * float complex.  The caller closes it (h5_close_id); negative on failure. */
h5_id h5_complex_type(h5_id f32);

/* ---- simple files --------------------------------------------------------- */

typedef struct h5_file h5_file;

/* How h5_file_open opens a file. */
enum h5_mode {
	H5_MODE_READ = 0,   /* existing file, read only */
	H5_MODE_UPDATE = 1, /* existing file, read and write */
	H5_MODE_CREATE = 2, /* new file, replacing any file of that name */
};

/* Element types of datasets and attributes: in memory the C type named, in
 * the file its little-endian form.  A read converts whatever the file holds
 * to the type asked for (HDF5's conversions: integers and floats of any
 * width, compounds by member name). */
enum h5_type {
	H5_TYPE_U8 = 0,  /* uint8_t */
	H5_TYPE_I32 = 1, /* int32_t */
	H5_TYPE_I64 = 2, /* int64_t */
	H5_TYPE_F32 = 3, /* float */
	H5_TYPE_F64 = 4, /* double */
	H5_TYPE_C8 = 5,  /* float complex, stored as compound {r, i} of float32 */
	H5_TYPE_BOOL = 6, /* uint8_t 0/1 in memory; in a file h5py's bool (int8 enum
			     FALSE = 0, TRUE = 1), which numpy reads as bool */
};

#define H5_MAX_RANK 32 /* the largest rank HDF5 allows */

/* Open (or create) path.  *ret is a new handle, closed by h5_file_close.
 * -EIO with the reason when HDF5 cannot open or create it (not HDF5, no
 * permission, truncated), -EINVAL for an unknown mode, -ENOMEM. */
int h5_file_open(const char *path, int mode, h5_file **ret, char *err, size_t errlen);

/* Close the file and free the handle (NULL: a no-op returning 0).  For a
 * written file this is when HDF5 writes what it still holds: -EIO when that
 * fails. */
int h5_file_close(h5_file *f, char *err, size_t errlen);

/* Write the dataset `name` (a new one; "Group/name" creates the missing
 * groups on the way) of rank axes dims[0 .. rank) (rank 0: a
 * scalar; dims may then be NULL) from data, which holds the product of dims
 * elements of type.  -EIO when HDF5 fails (e.g. the name exists), -EINVAL for
 * a bad type or rank. */
int h5_write(h5_file *f, const char *name, int type, int rank, const size_t *dims,
	     const void *data, char *err, size_t errlen);

/* Write fixed-length ASCII string dataset `name` (NUL-padded to the longest,
 * as h5py writes numpy bytes: np.bytes_ for a scalar, an array of them for
 * rank 1): rank 0 with n == 1 writes strs[0] as a scalar, rank 1 writes n
 * strings.  Groups on the way are created.  -EINVAL, -ENOMEM, -EIO. */
int h5_write_strs(h5_file *f, const char *name, int rank, size_t n, const char *const *strs,
		  char *err, size_t errlen);

/* 1 when the dataset (or any link) `name` exists, 0 when not, -EIO when the
 * lookup fails. */
int h5_exists(h5_file *f, const char *name);

/* The rank and axis lengths of dataset `name` (*ret_rank 0 for a scalar;
 * ret_dims has room for H5_MAX_RANK).  -ENOENT when absent, -EIO when it is
 * not a readable dataset. */
int h5_shape(h5_file *f, const char *name, int *ret_rank, size_t *ret_dims, char *err,
	     size_t errlen);

/* Read all of dataset `name`, which must hold exactly n elements (of any
 * shape), into buf as type.  -ENOENT when absent, -EINVAL when it holds
 * another number of elements, -EIO when it cannot be opened, read or
 * converted to type.  buf is untouched unless the read started. */
int h5_read(h5_file *f, const char *name, int type, size_t n, void *buf, char *err,
	    size_t errlen);

/* Attach a scalar attribute `name` of type (not H5_TYPE_C8) with *value to
 * the file's root group.  -EIO when HDF5 fails. */
int h5_write_attr(h5_file *f, const char *name, int type, const void *value, char *err,
		  size_t errlen);

/* Attach a string attribute to the root group: variable-length UTF-8, as h5py
 * writes a Python str.  -EIO when HDF5 fails. */
int h5_write_attr_str(h5_file *f, const char *name, const char *s, char *err, size_t errlen);

/* Read the root's scalar attribute `name` as type into *ret.  -ENOENT when
 * absent, -EIO when unreadable or not convertible; *ret untouched then. */
int h5_read_attr(h5_file *f, const char *name, int type, void *ret);

/* Read the root's string attribute `name` (fixed-length or variable-length)
 * into buf (len bytes, truncated, NUL-terminated).  -ENOENT when absent,
 * -EINVAL when not a string, -EIO when unreadable; buf untouched then. */
int h5_read_attr_str(h5_file *f, const char *name, char *buf, size_t len);

#endif
