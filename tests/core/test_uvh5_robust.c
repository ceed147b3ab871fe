/*
 * tests/core/test_uvh5_robust.c — bad input never crashes the UVH5 reader and
 * always gives an error that names the file (and, where there is one, the
 * dataset).  Every case is built in the scratch directory from the real
 * shared files: truncations, bit flips in the metadata region, files that are
 * not HDF5, missing datasets, wrong shapes and types, inconsistent counts,
 * corrupt LZF chunks.  Deterministic (fixed seeds), no corpus.
 */
#include <hdf5.h>
#include <stdint.h>

#include "core/err.h"
#include "core/uvh5.h"
#include "tests/test.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"
#pragma GCC diagnostic ignored "-Waddress"

/*
 * HDF5 1.10.8 itself leaks a few bytes when it meets some corrupt object
 * headers (H5O_protect's error path; seen on bit-flipped files).  That is not
 * our leak and we cannot free it, so LeakSanitizer is told to ignore blocks
 * allocated inside libhdf5 in this test only (tests/core/test_uvh5.c keeps the
 * full leak check on valid files).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libhdf5_serial.so\nleak:libhdf5.so\n";
}

#define REF "reference/cal-0834/2026-03-01T05:49:15_sb00.hdf5"
#define HERA "uvh5-real/zen.2458661.23480.HH.uvh5"

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc(n);
		if (buf && fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static int spill(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(buf, 1, len, f) == len;
	if (f)
		ok = !fclose(f) && ok;
	return ok ? 0 : -1;
}

static const char *tmp(const char *name)
{
	static char buf[4][600];
	static int k;
	k = (k + 1) & 3;
	snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir(), name);
	return buf[k];
}

/* Header and full read must both fail (unless allow_ok), never crash, and
 * name the file in the message; want (if any) must appear in the message. */
static void expect_error(const char *path, const char *want, int allow_ok)
{
	char err[ERR_LEN] = "";
	uvh5_header h;
	vis_set *v = NULL;
	int r = uvh5_read_header(path, &h, err, sizeof err);

	if (r == 0 && allow_ok) {
		err[0] = 0;
		r = uvh5_read(path, &v, err, sizeof err);
		if (r == 0) {
			vis_free(v);
			return;
		}
	}
	CHECK(r < 0, "%s: read_header accepted it", path);
	CHECK(v == NULL);
	CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
	if (want)
		CHECK(strstr(err, want) != NULL, "message lacks '%s': %s", want, err);
	if (r < 0 && !allow_ok) {
		err[0] = 0;
		CHECK(uvh5_read(path, &v, err, sizeof err) < 0 && v == NULL);
		CHECK(strstr(err, path) != NULL, "%s", err);
	}
}

static void test_truncations(void)
{
	size_t len = 0;
	unsigned char *buf = slurp(test_data(REF), &len);
	const char *p = tmp("trunc.hdf5");

	CHECK(buf != NULL);
	if (!buf)
		return;
	size_t cuts[] = { 0, 1, 8, 100, 512, 2048, 4096, 16384, 65536, len / 4, len / 2,
			  len - 65536, len - 4096, len - 1 };
	for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
		CHECK(!spill(p, buf, cuts[k]));
		expect_error(p, NULL, 0);
	}
	free(buf);
}

/*
 * Flip one pseudo-random bit in each of many bytes of the metadata region (the
 * superblock, group and object headers h5py writes in the first few KiB; the
 * Header arrays follow) — one flip per file.  A flip may land in bytes HDF5
 * never checks (then the file may still read), so success is allowed; what
 * is not allowed is a crash, a hang, or an error that does not name the file.
 */
static int poke(const char *path, size_t off, unsigned char byte)
{
	FILE *f = fopen(path, "r+b");
	int ok = f && fseek(f, (long)off, SEEK_SET) == 0 && fputc(byte, f) == byte;
	if (f)
		ok = !fclose(f) && ok;
	return ok ? 0 : -1;
}

static void test_bitflips(void)
{
	size_t len = 0;
	unsigned char *buf = slurp(test_data(REF), &len);
	const char *p = tmp("flip.hdf5");
	uint32_t seed = 12345;
	int errors = 0, n = 0;

	if (!buf)
		return;
	CHECK(!spill(p, buf, len));
	for (size_t off = 0; off < 12288 && off < len; off += 29, n++) {
		char err[ERR_LEN] = "";
		uvh5_header h;
		unsigned bit;

		seed = seed * 1103515245u + 12345u;
		bit = (seed >> 16) & 7;
		CHECK(!poke(p, off, buf[off] ^ (unsigned char)(1u << bit)));
		if (uvh5_read_header(p, &h, err, sizeof err) < 0) {
			errors++;
			CHECK(strstr(err, p) != NULL, "flip at %zu: %s", off, err);
		}
		CHECK(!poke(p, off, buf[off]));
	}
	/* Most flips in metadata must be caught (checksums are not used by h5py
	 * files, so not all are). */
	CHECK(errors > n / 10, "only %d of %d flips detected", errors, n);
	free(buf);
}

/* The same on the LZF-compressed HERA file: flips in the whole file, full read. */
static void test_bitflips_lzf_file(void)
{
	size_t len = 0;
	unsigned char *buf = slurp(test_data(HERA), &len);
	const char *p = tmp("flip_hera.uvh5");
	uint32_t seed = 777;

	if (!buf)
		return;
	CHECK(!spill(p, buf, len));
	for (int k = 0; k < 150; k++) {
		char err[ERR_LEN] = "";
		vis_set *v = NULL;
		size_t off;
		unsigned bit;

		seed = seed * 1103515245u + 12345u;
		off = (seed >> 8) % len;
		bit = seed & 7;
		CHECK(!poke(p, off, buf[off] ^ (unsigned char)(1u << bit)));
		if (uvh5_read(p, &v, err, sizeof err) < 0)
			CHECK(strstr(err, p) != NULL, "flip at %zu: %s", off, err);
		vis_free(v);
		CHECK(!poke(p, off, buf[off]));
	}
	free(buf);
}

static void test_not_hdf5(void)
{
	unsigned char junk[4096];
	static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
	uint32_t s = 99;
	const char *p;

	for (size_t i = 0; i < sizeof junk; i++) {
		s = s * 1664525u + 1013904223u;
		junk[i] = (unsigned char)(s >> 24);
	}
	p = tmp("empty.hdf5");
	CHECK(!spill(p, "", 0));
	expect_error(p, "not an HDF5 file", 0);
	p = tmp("text.hdf5");
	CHECK(!spill(p, "Header/Nbls 300\n", 16));
	expect_error(p, "not an HDF5 file", 0);
	p = tmp("random.hdf5");
	CHECK(!spill(p, junk, sizeof junk));
	expect_error(p, NULL, 0);
	/* The HDF5 signature followed by garbage. */
	memcpy(junk, sig, sizeof sig);
	p = tmp("sig_garbage.hdf5");
	CHECK(!spill(p, junk, sizeof junk));
	expect_error(p, NULL, 0);
	/* A FITS-like file. */
	p = tmp("fits.hdf5");
	CHECK(!spill(p, "SIMPLE  =                    T", 30));
	expect_error(p, "not an HDF5 file", 0);
}

/* Copy the reference file, apply fn to it through plain HDF5, return the path. */
static const char *mutate(const char *src, const char *name, void (*fn)(hid_t, const void *),
			  const void *arg)
{
	size_t len = 0;
	unsigned char *buf = slurp(test_data(src), &len);
	const char *p = tmp(name);
	hid_t f;

	CHECK(buf && !spill(p, buf, len));
	free(buf);
	f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
	CHECK(f >= 0);
	if (f >= 0) {
		fn(f, arg);
		H5Fclose(f);
	}
	return p;
}

static void del_link(hid_t f, const void *arg)
{
	CHECK(H5Ldelete(f, arg, H5P_DEFAULT) >= 0, "cannot delete %s", (const char *)arg);
}

static void test_missing(void)
{
	static const char *const names[] = {
		"Header", "Data", "Header/Nbls", "Header/Nblts", "Header/Ntimes", "Header/Nfreqs",
		"Header/Npols", "Header/Nspws", "Header/Nants_data", "Header/Nants_telescope",
		"Header/telescope_name", "Header/latitude", "Header/longitude", "Header/altitude",
		"Header/polarization_array", "Header/freq_array", "Header/channel_width",
		"Header/antenna_numbers", "Header/antenna_positions", "Header/antenna_names",
		"Header/uvw_array", "Header/ant_1_array", "Header/ant_2_array", "Header/time_array",
		"Header/integration_time", "Data/visdata", "Data/flags", "Data/nsamples",
	};
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		const char *p = mutate(REF, "missing.hdf5", del_link, names[k]);
		expect_error(p, names[k], 0);
	}
}

struct repl {
	const char *name;
	hid_t type;
	int rank;
	hsize_t dims[4];
	double value; /* every element */
};

/* Replace a dataset by one of the given type and shape filled with value. */
static void replace(hid_t f, const void *arg)
{
	const struct repl *r = arg;
	hsize_t n = 1;
	double *buf;
	hid_t sp, d;

	for (int i = 0; i < r->rank; i++)
		n *= r->dims[i];
	buf = malloc((n ? n : 1) * sizeof *buf);
	if (!buf)
		return;
	for (hsize_t i = 0; i < n; i++)
		buf[i] = r->value;
	CHECK(H5Ldelete(f, r->name, H5P_DEFAULT) >= 0);
	sp = r->rank ? H5Screate_simple(r->rank, r->dims, NULL) : H5Screate(H5S_SCALAR);
	d = H5Dcreate2(f, r->name, r->type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(d >= 0, "cannot create %s", r->name);
	if (H5Tget_class(r->type) == H5T_INTEGER || H5Tget_class(r->type) == H5T_FLOAT)
		CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
	H5Dclose(d);
	H5Sclose(sp);
	free(buf);
}

static void test_wrong_shapes(void)
{
	/* A 16-byte integer: a corrupt datatype can claim any size, and HDF5
	 * would allocate conversion buffers that size (fuzzing found 4 GiB). */
	hid_t wide = H5Tcopy(H5T_STD_I64LE);
	H5Tset_size(wide, 16);
	const struct {
		struct repl r;
		const char *want;
	} cases[] = {
		{ { "Header/time_array", H5T_IEEE_F64LE, 1, { 7199 }, 2461100.7 }, "time_array" },
		{ { "Header/ant_1_array", H5T_STD_I64LE, 2, { 7200, 2 }, 0 }, "ant_1_array" },
		{ { "Header/uvw_array", H5T_IEEE_F32LE, 2, { 7200, 2 }, 0 }, "uvw_array" },
		{ { "Header/freq_array", H5T_IEEE_F64LE, 2, { 2, 6 }, 1.4e9 }, "freq_array" },
		{ { "Header/freq_array", H5T_IEEE_F64LE, 2, { 1, 5 }, 1.4e9 }, "freq_array" },
		{ { "Header/antenna_positions", H5T_IEEE_F64LE, 2, { 117, 2 }, 0 }, "antenna_positions" },
		{ { "Header/antenna_numbers", H5T_STD_I64LE, 1, { 116 }, 0 }, "antenna_numbers" },
		{ { "Header/polarization_array", H5T_STD_I64LE, 1, { 3 }, -5 }, "polarization_array" },
		{ { "Header/channel_width", H5T_IEEE_F64LE, 1, { 5 }, 1953125 }, "channel_width" },
		{ { "Data/visdata", H5T_IEEE_F32LE, 4, { 7200, 1, 6, 2 }, 0 }, "visdata" },
		{ { "Data/nsamples", H5T_IEEE_F32LE, 4, { 7200, 1, 6, 1 }, 24 }, "nsamples" },
		{ { "Data/flags", H5T_STD_I8LE, 3, { 7200, 6, 2 }, 0 }, "flags" },
		{ { "Data/flags", H5T_IEEE_F64LE, 4, { 7200, 1, 6, 2 }, 0 }, "flags" },
		{ { "Data/visdata", H5T_IEEE_F32LE, 4, { 7200, 2, 6, 2 }, 0 }, "visdata" },
		/* Counts that contradict the arrays or are out of range. */
		{ { "Header/Nblts", H5T_STD_I64LE, 0, { 0 }, 7201 }, "Nblts 7201" },
		{ { "Header/Nfreqs", H5T_STD_I64LE, 0, { 0 }, 7 }, "freq_array" },
		{ { "Header/Npols", H5T_STD_I64LE, 0, { 0 }, 5 }, "Npols" },
		{ { "Header/Nbls", H5T_STD_I64LE, 0, { 0 }, 0 }, "Nbls" },
		{ { "Header/Nbls", H5T_STD_I64LE, 0, { 0 }, -3 }, "Nbls" },
		{ { "Header/Ntimes", H5T_STD_I64LE, 0, { 0 }, 1e9 }, "Ntimes" },
		{ { "Header/Nants_telescope", H5T_STD_I64LE, 0, { 0 }, 3 }, "Nants" },
		{ { "Header/Nbls", H5T_IEEE_F64LE, 0, { 0 }, 300 }, "integer" },
		{ { "Header/Nblts", wide, 0, { 0 }, 7200 }, "Nblts: expected integer" },
		{ { "Header/Nbls", H5T_STD_I64LE, 1, { 2 }, 300 }, "Nbls" },
		/* Bad values. */
		{ { "Header/polarization_array", H5T_STD_I64LE, 1, { 2 }, 0 }, "polarization_array" },
		{ { "Header/time_array", H5T_IEEE_F64LE, 1, { 7200 }, NAN }, "non-finite" },
		{ { "Header/freq_array", H5T_IEEE_F64LE, 2, { 1, 6 }, -1 }, "freq_array" },
		{ { "Header/latitude", H5T_IEEE_F64LE, 0, { 0 }, 1000 }, "latitude" },
		{ { "Header/ant_1_array", H5T_STD_I64LE, 1, { 7200 }, 500 }, "antenna_numbers" },
		{ { "Header/antenna_numbers", H5T_STD_I64LE, 1, { 117 }, 5 }, "twice" },
		{ { "Header/antenna_numbers", H5T_STD_I64LE, 1, { 117 }, -1 }, "out of range" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const char *p = mutate(REF, "shape.hdf5", replace, &cases[k].r);
		expect_error(p, cases[k].want, 0);
	}
	H5Tclose(wide);
}

static void replace_string(hid_t f, const void *arg)
{
	const char *name = arg;
	hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), d;
	H5Tset_size(t, 3);
	CHECK(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
	d = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abc");
	H5Dclose(d);
	H5Sclose(sp);
	H5Tclose(t);
}

/* Valid UVH5 that we cannot image: the header succeeds with the reason. */
static void test_not_imageable(void)
{
	const struct repl r = { "Header/Nbls", H5T_STD_I64LE, 0, { 0 }, 301 };
	const char *p = mutate(REF, "nbls301.hdf5", replace, &r);
	char err[ERR_LEN] = "";
	uvh5_header h;
	vis_set *v = NULL;

	CHECK_OK(uvh5_read_header(p, &h, err, sizeof err), err);
	CHECK(!h.imageable && strstr(h.not_imageable, "not rectangular"), "%s", h.not_imageable);
	CHECK(uvh5_read(p, &v, err, sizeof err) == -EINVAL && !v);
	CHECK(strstr(err, p) && strstr(err, "not rectangular"), "%s", err);

	/* A string where a count belongs. */
	p = mutate(REF, "nbls_str.hdf5", replace_string, "Header/Nbls");
	expect_error(p, "Nbls", 0);
	/* A string where the visibilities belong. */
	p = mutate(REF, "vis_str.hdf5", replace_string, "Data/visdata");
	expect_error(p, "visdata", 0);
}

/* ---- Valid variants: layouts and phase descriptions the reader must handle. */

/* Replace (or create) a dataset; buf is in memtype. */
static void put_ds(hid_t f, const char *name, hid_t ftype, hid_t memtype, int rank,
		   const hsize_t *dims, const void *buf)
{
	hid_t sp, d;
	if (H5Lexists(f, name, H5P_DEFAULT) > 0)
		H5Ldelete(f, name, H5P_DEFAULT);
	sp = rank < 0 ? H5Screate(H5S_NULL) : rank ? H5Screate_simple(rank, dims, NULL)
						   : H5Screate(H5S_SCALAR);
	d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(d >= 0, "cannot create %s", name);
	if (d >= 0 && buf)
		CHECK(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "write %s", name);
	if (d >= 0)
		H5Dclose(d);
	H5Sclose(sp);
}

static void put_str(hid_t f, const char *name, const char *s, int vlen)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, vlen ? H5T_VARIABLE : strlen(s));
	put_ds(f, name, t, t, 0, NULL, vlen ? (const void *)&s : s);
	H5Tclose(t);
}

static void put_f64(hid_t f, const char *name, double x)
{
	put_ds(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &x);
}

static void put_i64(hid_t f, const char *name, int64_t x)
{
	put_ds(f, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, &x);
}

/* Read, change in place with fn, write back an array of doubles or int64. */
static void edit(hid_t f, const char *name, hid_t memtype, void (*fn)(void *buf, size_t n))
{
	hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
	size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
	void *buf = malloc(n * 8);
	if (buf && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
		fn(buf, n);
		CHECK(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
	}
	free(buf);
	H5Sclose(sp);
	H5Dclose(d);
}

static void v_vlen_telescope(hid_t f, const void *a)
{
	(void)a;
	put_str(f, "Header/telescope_name", "OVRO_MMA", 1);
	put_str(f, "Header/instrument", "DSA  ", 0); /* space padding is stripped */
}

static void v_empty_dec(hid_t f, const void *a)
{
	(void)a;
	put_ds(f, "Header/extra_keywords/phase_center_dec", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1,
	       NULL, NULL);
}

static void v_empty_nbls(hid_t f, const void *a)
{
	(void)a;
	put_ds(f, "Header/Nbls", H5T_STD_I64LE, H5T_NATIVE_INT64, -1, NULL, NULL);
}

/* pyuvdata < 2.2 "phased": phase_center_ra/dec in the header. */
static void v_old_phased(hid_t f, const void *a)
{
	(void)a;
	H5Ldelete(f, "Header/extra_keywords", H5P_DEFAULT);
	put_str(f, "Header/phase_type", "phased", 0);
	put_f64(f, "Header/phase_center_ra", 1.25);
	put_f64(f, "Header/phase_center_dec", 0.5);
}

/* A phase_center_catalog: `a` = "N type frame" (N entries). */
static void v_catalog(hid_t f, const void *a)
{
	char type[32], frame[32], opt[32] = "";
	int n = 0;
	hid_t cat;

	sscanf(a, "%d %31s %31s %31s", &n, type, frame, opt);
	H5Ldelete(f, "Header/phase_type", H5P_DEFAULT);
	H5Ldelete(f, "Header/extra_keywords", H5P_DEFAULT);
	cat = H5Gcreate2(f, "Header/phase_center_catalog", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	for (int i = 0; i < n; i++) {
		char g[64];
		hid_t gg;
		snprintf(g, sizeof g, "%d", i);
		gg = H5Gcreate2(cat, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		H5Gclose(gg);
		snprintf(g, sizeof g, "Header/phase_center_catalog/%d/cat_type", i);
		put_str(f, g, type, i % 2);
		snprintf(g, sizeof g, "Header/phase_center_catalog/%d/cat_frame", i);
		put_str(f, g, frame, 0);
		if (strcmp(opt, "nolon")) {
			snprintf(g, sizeof g, "Header/phase_center_catalog/%d/cat_lon", i);
			put_f64(f, g, 2.0);
		}
		snprintf(g, sizeof g, "Header/phase_center_catalog/%d/cat_lat", i);
		put_f64(f, g, 0.75);
		snprintf(g, sizeof g, "Header/phase_center_catalog/%d/cat_epoch", i);
		put_ds(f, g, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, -1, NULL, NULL); /* empty, as HERA */
	}
	H5Gclose(cat);
}

static void v_scalar(hid_t f, const void *a)
{
	char name[64];
	long long x = 0;
	sscanf(a, "%63s %lld", name, &x);
	put_i64(f, name, x);
}

static void swap_freqs(void *buf, size_t n)
{
	double *x = buf, t = x[1];
	(void)n;
	x[1] = x[2];
	x[2] = t;
}

static void v_freq_order(hid_t f, const void *a)
{
	(void)a;
	edit(f, "Header/freq_array", H5T_NATIVE_DOUBLE, swap_freqs);
}

static void v_chan_widths(hid_t f, const void *a)
{
	double w[6] = { 1953125, 1953125, 1953125, 976562.5, 1953125, 1953125 };
	hsize_t n = 6;
	(void)a;
	put_ds(f, "Header/channel_width", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, w);
}

static void same_time(void *buf, size_t n)
{
	double *x = buf;
	for (size_t i = 0; i < n; i++)
		x[i] = x[0];
}

static void v_one_time(hid_t f, const void *a)
{
	(void)a;
	edit(f, "Header/time_array", H5T_NATIVE_DOUBLE, same_time);
}

static void dup_first_bl(void *buf, size_t n)
{
	int64_t *x = buf;
	for (size_t i = 0; i + 1 < n; i += 300)
		x[i + 1] = x[i];
}

static void v_dup_baseline(hid_t f, const void *a)
{
	(void)a;
	edit(f, "Header/ant_1_array", H5T_NATIVE_INT64, dup_first_bl);
	edit(f, "Header/ant_2_array", H5T_NATIVE_INT64, dup_first_bl);
}

static void test_variants(void)
{
	const struct {
		const char *what;
		void (*fn)(hid_t, const void *);
		const void *arg;
		const char *why; /* NULL: imageable; else in not_imageable */
	} ni[] = {
		{ "catalog x2", v_catalog, "2 sidereal icrs", "2 phase centres" },
		{ "fk4 frame", v_catalog, "1 sidereal fk4", "frame 'fk4'" },
		{ "ephem", v_catalog, "1 ephem icrs", "type 'ephem'" },
		{ "Nspws 2", v_scalar, "Header/Nspws 2", "Nspws 2" },
		{ "Nphase 3", v_scalar, "Header/Nphase 3", "Nphase 3" },
		{ "freq order", v_freq_order, NULL, "not monotonic" },
		{ "channel widths", v_chan_widths, NULL, "channel widths differ" },
		{ "one time", v_one_time, NULL, "not time-major" },
		{ "dup baseline", v_dup_baseline, NULL, "appears twice" },
	};
	char err[ERR_LEN] = "";
	uvh5_header h;
	vis_set *v = NULL;
	const char *p;

	/* Variable-length strings, space padding. */
	p = mutate(REF, "vlen.hdf5", v_vlen_telescope, NULL);
	CHECK_OK(uvh5_read_header(p, &h, err, sizeof err), err);
	CHECK(!strcmp(h.telescope, "OVRO_MMA") && !strcmp(h.instrument, "DSA"), "'%s' '%s'",
	      h.telescope, h.instrument);
	/* An empty optional dataset is absent: no dec, drift at the latitude. */
	p = mutate(REF, "nodec.hdf5", v_empty_dec, NULL);
	CHECK_OK(uvh5_read_header(p, &h, err, sizeof err), err);
	CHECK(!h.has_dec && h.imageable);
	CHECK_OK(uvh5_read(p, &v, err, sizeof err), err);
	if (v)
		CHECK(v->phase_dec_rad == v->lat_rad && !v->has_pointing_dec);
	vis_free(v);
	v = NULL;
	/* An empty required one is an error. */
	p = mutate(REF, "emptynbls.hdf5", v_empty_nbls, NULL);
	expect_error(p, "Header/Nbls is empty", 0);
	/* Old pyuvdata "phased" header. */
	p = mutate(REF, "phased.hdf5", v_old_phased, NULL);
	CHECK_OK(uvh5_read(p, &v, err, sizeof err), err);
	if (v)
		CHECK(v->phase_type == VIS_PHASE_FIXED && v->phase_ra_rad == 1.25 &&
		      v->phase_dec_rad == 0.5);
	vis_free(v);
	v = NULL;
	/* pyuvdata 3 catalogue, one sidereal entry with an empty cat_epoch. */
	p = mutate(REF, "cat.hdf5", v_catalog, "1 sidereal icrs");
	CHECK_OK(uvh5_read(p, &v, err, sizeof err), err);
	if (v)
		CHECK(v->phase_type == VIS_PHASE_FIXED && v->phase_ra_rad == 2.0 &&
		      v->phase_dec_rad == 0.75);
	vis_free(v);
	v = NULL;
	CHECK_OK(uvh5_read_header(p, &h, err, sizeof err), err);
	CHECK(!strcmp(h.phase_type, "sidereal"), "%s", h.phase_type);
	p = mutate(REF, "nolon.hdf5", v_catalog, "1 sidereal icrs nolon");
	expect_error(p, "sidereal phase centre without cat_lon", 0);
	p = mutate(REF, "nbls_big.hdf5", v_scalar, "Header/Nbls 7201");
	expect_error(p, "exceeds Nblts", 0);

	for (size_t k = 0; k < sizeof ni / sizeof ni[0]; k++) {
		p = mutate(REF, "variant.hdf5", ni[k].fn, ni[k].arg);
		CHECK_OK(uvh5_read_header(p, &h, err, sizeof err), err);
		CHECK(!h.imageable && strstr(h.not_imageable, ni[k].why), "%s: '%s'", ni[k].what,
		      h.not_imageable);
		CHECK(uvh5_read(p, &v, err, sizeof err) == -EINVAL && !v, "%s", ni[k].what);
		CHECK(strstr(err, p) && strstr(err, ni[k].why), "%s: %s", ni[k].what, err);
	}
}

/* Corrupt the single LZF chunk of Data/nsamples of the HERA file in place. */
static void test_corrupt_lzf_chunk(void)
{
	size_t len = 0;
	unsigned char *buf = slurp(test_data(HERA), &len);
	const char *p = tmp("lzf_bad.uvh5");
	haddr_t addr = 0;
	hsize_t size = 0, off[4];
	unsigned mask;
	hid_t f, d, sp;

	if (!buf)
		return;
	f = H5Fopen(test_data(HERA), H5F_ACC_RDONLY, H5P_DEFAULT);
	d = H5Dopen2(f, "Data/nsamples", H5P_DEFAULT);
	sp = H5Dget_space(d);
	CHECK(H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &size) >= 0);
	H5Sclose(sp);
	H5Dclose(d);
	H5Fclose(f);
	CHECK(size > 4 && addr + size <= len, "chunk at %llu size %llu", (unsigned long long)addr,
	      (unsigned long long)size);
	if (size > 4 && addr + size <= len) {
		static const unsigned char patterns[] = { 0xff, 0x00, 0xe0, 0x1f };
		for (size_t k = 0; k < sizeof patterns; k++) {
			unsigned char *copy = malloc(len);
			if (!copy)
				break;
			memcpy(copy, buf, len);
			memset(copy + addr, patterns[k], size);
			char err[ERR_LEN] = "";
			uvh5_header h;
			vis_set *v = NULL;

			CHECK(!spill(p, copy, len));
			/* The header never touches Data/; the full read must fail. */
			CHECK_OK(uvh5_read_header(p, &h, err, sizeof err), err);
			CHECK(uvh5_read(p, &v, err, sizeof err) < 0 && !v, "pattern %02x accepted",
			      patterns[k]);
			CHECK(strstr(err, p) && strstr(err, "Data/nsamples"), "%s", err);
			vis_free(v);
			free(copy);
		}
	}
	free(buf);
}

int main(void)
{
	RUN_REF(test_truncations);
	RUN(test_not_hdf5);
	RUN_REF(test_missing);
	RUN_REF(test_wrong_shapes);
	RUN_REF(test_not_imageable);
	RUN_REF(test_variants);
	RUN(test_corrupt_lzf_chunk);
	RUN(test_bitflips);
	RUN(test_bitflips_lzf_file);
	return TEST_DONE();
}
