/*
 * tests/core/test_h5.c — core/h5.h: simple typed files (what they write,
 * checked with the HDF5 API directly; what they read back; their errors),
 * the one cleanup helper for every kind of HDF5 identifier, and the error
 * capture.
 */
#include <complex.h>
#include <dirent.h>
#include <hdf5.h>

#include "core/err.h"
#include "core/h5.h"
#include "tests/test.h"

static const char *tmp_path(const char *name)
{
	static char buf[1024];
	snprintf(buf, sizeof buf, "%s/%s", test_tmpdir(), name);
	return buf;
}

/* Write one dataset of every type (ranks 0, 1, 3), then check the file with
 * plain HDF5 calls: little-endian standard types, the shapes asked for, the
 * values. */
static void test_write_layout(void)
{
	char err[ERR_LEN] = "", path[1024];
	const size_t d1 = 5, d3[3] = { 2, 3, 4 };
	uint8_t u8[5] = { 0, 1, 2, 254, 255 };
	int32_t i32[5] = { -5, 0, 5, INT32_MAX, INT32_MIN };
	int64_t i64[5] = { -1, 0, 1, INT64_MAX, INT64_MIN }, sc = 117;
	float f32[24];
	double f64[5] = { -1.5, 0, 1e-300, 1e300, 3.25 };
	float complex c8[24];
	h5_file *f = NULL;

	for (int i = 0; i < 24; i++) {
		f32[i] = 0.5f * i;
		c8[i] = CMPLXF(i, -i);
	}
	snprintf(path, sizeof path, "%s", tmp_path("types.h5"));
	CHECK_OK(h5_file_open(path, H5_MODE_CREATE, &f, err, sizeof err), err);
	if (!f)
		return;
	CHECK_OK(h5_write(f, "u8", H5_TYPE_U8, 1, &d1, u8, err, sizeof err), err);
	CHECK_OK(h5_write(f, "i32", H5_TYPE_I32, 1, &d1, i32, err, sizeof err), err);
	CHECK_OK(h5_write(f, "i64", H5_TYPE_I64, 1, &d1, i64, err, sizeof err), err);
	CHECK_OK(h5_write(f, "f32", H5_TYPE_F32, 3, d3, f32, err, sizeof err), err);
	CHECK_OK(h5_write(f, "f64", H5_TYPE_F64, 1, &d1, f64, err, sizeof err), err);
	CHECK_OK(h5_write(f, "c8", H5_TYPE_C8, 3, d3, c8, err, sizeof err), err);
	CHECK_OK(h5_write(f, "scalar", H5_TYPE_I64, 0, NULL, &sc, err, sizeof err), err);
	CHECK_OK(h5_file_close(f, err, sizeof err), err);

	{
		static const struct {
			const char *name;
			int rank;
			hsize_t n0;
		} want[] = { { "u8", 1, 5 }, { "i32", 1, 5 }, { "i64", 1, 5 }, { "f32", 3, 2 },
			     { "f64", 1, 5 }, { "c8", 3, 2 }, { "scalar", 0, 0 } };
		hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		hid_t le[6] = { H5T_STD_U8LE, H5T_STD_I32LE, H5T_STD_I64LE, H5T_IEEE_F32LE,
				H5T_IEEE_F64LE, -1 };
		double back[5];
		int64_t bi[5];
		float cb[48];

		CHECK(fid >= 0);
		for (int k = 0; k < 7 && fid >= 0; k++) {
			hid_t ds = H5Dopen2(fid, want[k].name, H5P_DEFAULT), t = H5Dget_type(ds);
			hid_t sp = H5Dget_space(ds);
			hsize_t dims[3];
			int rank = H5Sget_simple_extent_ndims(sp);

			H5Sget_simple_extent_dims(sp, dims, NULL);
			CHECK(rank == want[k].rank && (rank == 0 || dims[0] == want[k].n0), "%s",
			      want[k].name);
			if (k < 5)
				CHECK(H5Tequal(t, le[k]) > 0, "%s: not the little-endian type", want[k].name);
			if (k == 5) {
				/* h5py's complex64: compound {r, i} of little-endian float32. */
				hid_t m0 = H5Tget_member_type(t, 0), m1 = H5Tget_member_type(t, 1);
				char *n0 = H5Tget_member_name(t, 0), *n1 = H5Tget_member_name(t, 1);
				CHECK(H5Tget_class(t) == H5T_COMPOUND && H5Tget_size(t) == 8);
				CHECK(!strcmp(n0, "r") && !strcmp(n1, "i") &&
				      H5Tget_member_offset(t, 1) == 4);
				CHECK(H5Tequal(m0, H5T_IEEE_F32LE) > 0 && H5Tequal(m1, H5T_IEEE_F32LE) > 0);
				H5free_memory(n0);
				H5free_memory(n1);
				H5Tclose(m0);
				H5Tclose(m1);
			}
			H5Sclose(sp);
			H5Tclose(t);
			H5Dclose(ds);
		}
		if (fid >= 0) {
			hid_t ds = H5Dopen2(fid, "f64", H5P_DEFAULT);
			H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back);
			H5Dclose(ds);
			ds = H5Dopen2(fid, "i64", H5P_DEFAULT);
			H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, bi);
			H5Dclose(ds);
			ds = H5Dopen2(fid, "c8", H5P_DEFAULT);
			{
				hid_t ft = H5Dget_type(ds);
				H5Dread(ds, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, cb);
				H5Tclose(ft);
			}
			H5Dclose(ds);
			H5Fclose(fid);
			CHECK(!memcmp(back, f64, sizeof back) && !memcmp(bi, i64, sizeof bi));
			CHECK(cb[2 * 7] == 7 && cb[2 * 7 + 1] == -7 && cb[2 * 23 + 1] == -23);
		}
	}
}

/* Read back through h5_read, with conversions and the error cases. */
static void test_read(void)
{
	char err[ERR_LEN] = "";
	const size_t d3[3] = { 2, 3, 4 }, d1 = 24;
	float f32[24], back32[24];
	double asf64[24];
	float complex c8[24], backc[24];
	int64_t asi64[24];
	size_t dims[H5_MAX_RANK];
	int rank = -1;
	h5_file *f = NULL;

	for (int i = 0; i < 24; i++) {
		f32[i] = (float)(3 * i);
		c8[i] = CMPLXF(0.25f * i, 1);
	}
	CHECK_OK(h5_file_open(tmp_path("read.h5"), H5_MODE_CREATE, &f, err, sizeof err), err);
	if (!f)
		return;
	h5_write(f, "f32", H5_TYPE_F32, 3, d3, f32, NULL, 0);
	h5_write(f, "c8", H5_TYPE_C8, 1, &d1, c8, NULL, 0);
	h5_file_close(f, NULL, 0);

	f = NULL;
	CHECK_OK(h5_file_open(tmp_path("read.h5"), H5_MODE_READ, &f, err, sizeof err), err);
	if (!f)
		return;
	CHECK(h5_exists(f, "f32") == 1 && h5_exists(f, "nope") == 0);
	CHECK_OK(h5_shape(f, "f32", &rank, dims, err, sizeof err), err);
	CHECK(rank == 3 && dims[0] == 2 && dims[1] == 3 && dims[2] == 4);
	CHECK_OK(h5_read(f, "f32", H5_TYPE_F32, 24, back32, err, sizeof err), err);
	CHECK(!memcmp(back32, f32, sizeof f32));
	/* HDF5 converts: float32 to float64 and to int64. */
	CHECK_OK(h5_read(f, "f32", H5_TYPE_F64, 24, asf64, err, sizeof err), err);
	CHECK_OK(h5_read(f, "f32", H5_TYPE_I64, 24, asi64, err, sizeof err), err);
	CHECK(asf64[23] == 69 && asi64[23] == 69);
	CHECK_OK(h5_read(f, "c8", H5_TYPE_C8, 24, backc, err, sizeof err), err);
	CHECK(!memcmp(backc, c8, sizeof c8));
	CHECK(h5_read(f, "nope", H5_TYPE_F32, 24, back32, err, sizeof err) == -ENOENT);
	CHECK(h5_shape(f, "nope", &rank, dims, NULL, 0) == -ENOENT);
	CHECK(h5_read(f, "f32", H5_TYPE_F32, 23, back32, err, sizeof err) == -EINVAL);
	printf("# wrong count: %s\n", err);
	CHECK(strstr(err, "read.h5") && strstr(err, "f32") && strstr(err, "24"), "%s", err);
	/* A compound cannot become a plain float. */
	CHECK(h5_read(f, "c8", H5_TYPE_F32, 24, back32, err, sizeof err) == -EIO);
	CHECK(h5_write(f, "x", H5_TYPE_F32, 1, &d1, f32, err, sizeof err) == -EIO,
	      "a read-only file took a write");
	h5_file_close(f, NULL, 0);

	/* UPDATE adds to an existing file; writing an existing name fails. */
	f = NULL;
	CHECK_OK(h5_file_open(tmp_path("read.h5"), H5_MODE_UPDATE, &f, err, sizeof err), err);
	if (!f)
		return;
	CHECK_OK(h5_write(f, "more", H5_TYPE_F32, 1, &d1, f32, err, sizeof err), err);
	CHECK(h5_write(f, "f32", H5_TYPE_F32, 1, &d1, f32, err, sizeof err) == -EIO);
	printf("# existing name: %s\n", err);
	CHECK(h5_write(f, "bad", 99, 1, &d1, f32, NULL, 0) == -EINVAL);
	CHECK_OK(h5_file_close(f, err, sizeof err), err);
	CHECK(h5_file_close(NULL, NULL, 0) == 0);
}

static void test_attrs(void)
{
	char err[ERR_LEN] = "", s[64] = "untouched", path[1024];
	int64_t i = 42, bi = 0;
	double d = 61100.25, bd = 0;
	h5_file *f = NULL;

	snprintf(path, sizeof path, "%s", tmp_path("attrs.h5"));
	CHECK_OK(h5_file_open(path, H5_MODE_CREATE, &f, err, sizeof err), err);
	if (!f)
		return;
	CHECK_OK(h5_write_attr(f, "i", H5_TYPE_I64, &i, err, sizeof err), err);
	CHECK_OK(h5_write_attr(f, "d", H5_TYPE_F64, &d, err, sizeof err), err);
	CHECK_OK(h5_write_attr_str(f, "s", "3C286 — ünïcode", err, sizeof err), err);
	CHECK(h5_write_attr(f, "c", H5_TYPE_C8, &i, NULL, 0) == -EINVAL);
	CHECK_OK(h5_file_close(f, err, sizeof err), err);

	/* A fixed-length string attribute, as other writers make them. */
	{
		hid_t fid = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), t = H5Tcopy(H5T_C_S1);
		hid_t sp = H5Screate(H5S_SCALAR), a, vt;
		char *vs = NULL;

		H5Tset_size(t, 8);
		a = H5Acreate2(fid, "fixed", t, sp, H5P_DEFAULT, H5P_DEFAULT);
		H5Awrite(a, t, "0834+555");
		H5Aclose(a);
		/* and the string written above is variable-length UTF-8, as h5py writes */
		a = H5Aopen(fid, "s", H5P_DEFAULT);
		vt = H5Aget_type(a);
		CHECK(H5Tis_variable_str(vt) > 0 && H5Tget_cset(vt) == H5T_CSET_UTF8);
		H5Tclose(vt);
		vt = H5Tcopy(H5T_C_S1);
		H5Tset_size(vt, H5T_VARIABLE);
		H5Tset_cset(vt, H5T_CSET_UTF8);
		H5Aread(a, vt, &vs);
		CHECK(vs && !strcmp(vs, "3C286 — ünïcode"));
		H5free_memory(vs);
		H5Tclose(vt);
		H5Aclose(a);
		H5Sclose(sp);
		H5Tclose(t);
		H5Fclose(fid);
	}

	f = NULL;
	CHECK_OK(h5_file_open(path, H5_MODE_READ, &f, err, sizeof err), err);
	if (!f)
		return;
	CHECK(h5_read_attr(f, "i", H5_TYPE_I64, &bi) == 0 && bi == 42);
	CHECK(h5_read_attr(f, "d", H5_TYPE_F64, &bd) == 0 && bd == d);
	CHECK(h5_read_attr_str(f, "s", s, sizeof s) == 0 && !strcmp(s, "3C286 — ünïcode"), "%s", s);
	CHECK(h5_read_attr_str(f, "fixed", s, sizeof s) == 0 && !strcmp(s, "0834+555"), "%s", s);
	/* truncated to the buffer, NUL-terminated */
	CHECK(h5_read_attr_str(f, "fixed", s, 5) == 0 && !strcmp(s, "0834"), "%s", s);
	strcpy(s, "untouched");
	bi = 7;
	CHECK(h5_read_attr_str(f, "absent", s, sizeof s) == -ENOENT && !strcmp(s, "untouched"));
	CHECK(h5_read_attr(f, "absent", H5_TYPE_I64, &bi) == -ENOENT && bi == 7);
	CHECK(h5_read_attr_str(f, "i", s, sizeof s) == -EINVAL && !strcmp(s, "untouched"));
	h5_file_close(f, NULL, 0);
}

/* h5_close_id closes every kind of identifier, and ignores negative ones. */
static void test_close_id(void)
{
	hid_t f, g, ds, sp, ss, t, a, p, ids[8];
	const char *kind[8] = { "attribute", "dataset", "datatype", "dataspace", "dataspace",
				"plist", "group", "file" };
	hsize_t n = 3;
	int v[3] = { 1, 2, 3 };

	h5_enter();
	f = H5Fcreate(tmp_path("close.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	sp = H5Screate_simple(1, &n, NULL);
	ds = H5Dcreate2(g, "d", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
	t = H5Tcopy(H5T_NATIVE_INT);
	ss = H5Screate(H5S_SCALAR);
	a = H5Acreate2(ds, "a", H5T_STD_I32LE, ss, H5P_DEFAULT, H5P_DEFAULT);
	p = H5Pcreate(H5P_DATASET_XFER);
	ids[0] = a, ids[1] = ds, ids[2] = t, ids[3] = sp, ids[4] = ss, ids[5] = p, ids[6] = g;
	ids[7] = f;
	for (int k = 0; k < 8; k++) {
		CHECK(H5Iis_valid(ids[k]) > 0, "%s", kind[k]);
		h5_close_id(ids[k]);
		CHECK(H5Iis_valid(ids[k]) <= 0, "%s left open", kind[k]);
	}
	h5_close_id(-1); /* never opened: nothing happens */
	CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0,
	      "%zd objects still open", H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
}

/* Opening what is not HDF5 gives HDF5's own reason, naming the file. */
static void test_errors(void)
{
	char err[ERR_LEN] = "", why[256];
	h5_file *f = NULL;
	FILE *fp = fopen(tmp_path("text.h5"), "w");

	fputs("not an HDF5 file\n", fp);
	fclose(fp);
	CHECK(h5_file_open(tmp_path("text.h5"), H5_MODE_READ, &f, err, sizeof err) == -EIO && !f);
	printf("# not HDF5: %s\n", err);
	CHECK(strstr(err, "text.h5") && strstr(err, "cannot open"), "%s", err);
	CHECK(h5_file_open(tmp_path("absent/x.h5"), H5_MODE_CREATE, &f, err, sizeof err) == -EIO);
	printf("# no directory: %s\n", err);
	CHECK(h5_file_open(tmp_path("x.h5"), 7, &f, err, sizeof err) == -EINVAL);
	/* With nothing on the error stack, the reason says so plainly. */
	H5Eclear2(H5E_DEFAULT);
	CHECK(!strcmp(h5_reason(why, sizeof why), "HDF5 error"), "%s", why);
}

/* Only the UVH5 reader and writer and core/h5.c touch HDF5: no other file
 * of the library floors or the daemon names an HDF5 identifier (H5 and a
 * capital: H5Fopen, H5T_NATIVE_INT ...) or includes <hdf5.h>.  Run from the
 * repository's root (tests/run.sh does); skipped elsewhere. */
static void test_only_here(void)
{
	static const char *const dirs[] = { "core", "state", "calib", "imaging", "photometry",
					    "daemon" };
	static const char *const allowed[] = { "core/uvh5_read.c", "core/uvh5_raw.c",
					       "core/uvh5_write.c", "core/h5.c" };
	size_t nfiles = 0, nbad = 0;

	if (access("core/h5.c", R_OK)) {
		printf("# skip: not run from the repository's root\n");
		return;
	}
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		DIR *dp = opendir(dirs[d]);
		struct dirent *e;

		while (dp && (e = readdir(dp))) {
			size_t l = strlen(e->d_name);
			char path[512], *text = NULL;
			int ok = 0;
			long n;
			FILE *f;

			if (l < 3 || (strcmp(e->d_name + l - 2, ".c") && strcmp(e->d_name + l - 2, ".h")))
				continue;
			snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
			for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
				ok |= !strcmp(path, allowed[k]);
			if (ok || !(f = fopen(path, "r")))
				continue;
			fseek(f, 0, SEEK_END);
			n = ftell(f);
			rewind(f);
			text = calloc(1, (size_t)n + 1);
			if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
				for (char *p = strstr(text, "H5"); p; p = strstr(p + 1, "H5"))
					if (p[2] >= 'A' && p[2] <= 'Z') {
						CHECK(0, "%s names %.12s", path, p);
						nbad++;
						break;
					}
				CHECK(!strstr(text, "#include <hdf5.h>"), "%s includes <hdf5.h>", path);
			}
			nfiles++;
			free(text);
			fclose(f);
		}
		if (dp)
			closedir(dp);
	}
	printf("# %zu source files outside core/uvh5_{read,raw,write}.c and core/h5.c: %zu name "
	       "HDF5\n", nfiles, nbad);
	CHECK(nfiles > 100);
}

int main(void)
{
	RUN(test_write_layout);
	RUN(test_read);
	RUN(test_attrs);
	RUN(test_close_id);
	RUN(test_errors);
	RUN(test_only_here);
	return TEST_DONE();
}
