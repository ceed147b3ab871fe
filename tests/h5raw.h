/*
 * tests/h5raw.h — read what a file really holds with plain HDF5 calls, not
 * through core/uvh5_*.c, for the tests that check what a writer wrote.
 * Static inline: a test uses what it needs.
 */
#ifndef CONTIMG_TEST_H5RAW_H
#define CONTIMG_TEST_H5RAW_H

#include <hdf5.h>
#include <math.h>
#include <stddef.h>

/* A scalar string dataset of any storage (fixed or variable length) into buf
 * (len bytes, NUL-terminated), or "" when absent or unreadable. */
static inline void raw_str(const char *path, const char *name, char *buf, size_t len)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1, t = -1;

	buf[0] = 0;
	if (f < 0)
		return;
	if (H5Lexists(f, name, H5P_DEFAULT) > 0 && (d = H5Dopen2(f, name, H5P_DEFAULT)) >= 0) {
		t = H5Tcopy(H5T_C_S1);
		H5Tset_size(t, len);
		H5Tset_strpad(t, H5T_STR_NULLTERM);
		if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
			buf[0] = 0;
		H5Tclose(t);
		H5Dclose(d);
	}
	H5Fclose(f);
}

/* A scalar numeric dataset as a double, or NaN when absent or unreadable. */
static inline double raw_f64(const char *path, const char *name)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1;
	double x = NAN;

	if (f < 0)
		return x;
	if (H5Lexists(f, name, H5P_DEFAULT) > 0 && (d = H5Dopen2(f, name, H5P_DEFAULT)) >= 0) {
		if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &x) < 0)
			x = NAN;
		H5Dclose(d);
	}
	H5Fclose(f);
	return x;
}

/* 1 when the object name exists in the file. */
static inline int raw_exists(const char *path, const char *name)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	int e = f >= 0 && H5Lexists(f, name, H5P_DEFAULT) > 0;

	if (f >= 0)
		H5Fclose(f);
	return e;
}

#endif
