/*
 * tests/core/test_lzf.c — the LZF decoder (core/lzf.h) and its registration
 * as HDF5 filter 32000 (core/h5.c).
 *
 *   - streams built by hand from the format's definition (liblzf lzf_d.c):
 *     literal runs, short and extended back-references, overlapping copies;
 *   - corrupt streams and short outputs: refused, never an access outside the
 *     buffers (the ASan build runs this test; a random-input sweep decodes
 *     into buffers of the exact size);
 *   - what an independent encoder wrote: h5py's LZF filter (liblzf's
 *     lzf_compress) on flag-like, nsamples-like and incompressible data,
 *     every chunk read raw (H5Dread_chunk) and decoded here, against the
 *     same data stored without a filter; then the same datasets read through
 *     HDF5 after h5_enter(), i.e. through the registered filter;
 *   - every LZF chunk of the six real pyuvdata files in shared/data/uvh5-real
 *     decodes to exactly the size h5py recorded for it.
 */
#include <dirent.h>
#include <hdf5.h>

#include "core/h5.h"
#include "core/lzf.h"
#include "tests/test.h"

static void check_stream(const char *what, const uint8_t *in, size_t n, const char *want,
			 size_t want_n)
{
	uint8_t out[512];
	int full = -1;
	size_t got = lzf_decode(in, n, out, sizeof out, &full);

	CHECK(got == want_n, "%s: %zu bytes, expected %zu", what, got, want_n);
	CHECK(full == 0, "%s", what);
	CHECK(got == want_n && !memcmp(out, want, want_n), "%s: wrong bytes", what);
}

/* Streams written from the format: control byte c < 32 is a literal run of
 * c + 1 bytes; otherwise length (c >> 5) + 2 (field 7: plus the next byte) at
 * distance ((c & 31) << 8) + next byte + 1. */
static void test_format(void)
{
	static const uint8_t lit[] = { 0x02, 'a', 'b', 'c' };
	/* "abc", then 6 bytes from 3 back (length field 4 = 6 - 2, distance 3 =
	 * byte 2 + 1): the copy overlaps what it writes. */
	static const uint8_t rep[] = { 0x02, 'a', 'b', 'c', 0x80, 0x02 };
	/* 'x', then 99 bytes from 1 back: length field 7 + extension 90 = 97. */
	static const uint8_t ext[] = { 0x00, 'x', 0xe0, 90, 0x00 };
	/* A distance above 256: 300 literal bytes (10 runs of 30), then 5 bytes
	 * from 300 back: c = (3 << 5) | (299 >> 8) = 0x61, next byte 299 & 255. */
	uint8_t far[10 * 31 + 2];
	char want_far[305], want_ext[100];
	size_t k = 0;

	for (int r = 0; r < 10; r++) {
		far[k++] = 29;
		for (int i = 0; i < 30; i++)
			far[k++] = (uint8_t)(want_far[r * 30 + i] = (char)('A' + (r * 7 + i) % 26));
	}
	far[k++] = 0x61;
	far[k++] = 299 & 255;
	memcpy(want_far + 300, want_far, 5);
	memset(want_ext, 'x', sizeof want_ext);

	check_stream("literal", lit, sizeof lit, "abc", 3);
	check_stream("overlapping back-reference", rep, sizeof rep, "abcabcabc", 9);
	check_stream("extended length", ext, sizeof ext, want_ext, 100);
	check_stream("distance 300", far, k, want_far, 305);
	check_stream("empty", lit, 0, "", 0);
}

static void test_corrupt(void)
{
	static const struct {
		const char *what;
		uint8_t in[8];
		size_t n;
	} bad[] = {
		{ "literal past the input's end", { 0x05, 'a', 'b' }, 3 },
		{ "back-reference before the output's start", { 0x00, 'a', 0x20, 0x01 }, 4 },
		{ "back-reference as the first run", { 0x20, 0x00 }, 2 },
		{ "missing distance byte", { 0x00, 'a', 0x20 }, 3 },
		{ "missing length extension", { 0x00, 'a', 0xe0 }, 3 },
	};
	static const uint8_t rep[] = { 0x02, 'a', 'b', 'c', 0x80, 0x02 };
	uint8_t out[64];
	int full;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		full = -1;
		CHECK(lzf_decode(bad[i].in, bad[i].n, out, sizeof out, &full) == 0, "%s", bad[i].what);
		CHECK(full == 0, "%s: taken for a short output", bad[i].what);
	}
	/* 9 bytes into 8 (the back-reference does not fit) and into 2 (the
	 * literal does not): refused as too small, then decoded with room. */
	full = 0;
	CHECK(lzf_decode(rep, sizeof rep, out, 8, &full) == 0 && full == 1);
	full = 0;
	CHECK(lzf_decode(rep, sizeof rep, out, 2, &full) == 0 && full == 1);
	CHECK(lzf_decode(rep, sizeof rep, out, 9, &full) == 9 && full == 0);
}

/* Random streams into an output buffer of exactly its size on the heap:
 * under ASan any write or read outside the buffers stops the test.  Half
 * the streams are random bytes; half are made of runs of the right shape
 * with random lengths and distances (some before the output's start), half
 * of them cut at a random point, so the back-reference paths run too. */
static void test_random_bounds(void)
{
	uint64_t s = 0x243f6a8885a308d3ull;
	size_t decoded = 0, refused = 0, full_n = 0;

	for (int it = 0; it < 20000; it++) {
		size_t n = 0, made = 0, cap;
		uint8_t in[256], *buf, *out;
		int full;

		if (it & 1) {
			n = (size_t)(test_urand(&s) * 64);
			for (size_t i = 0; i < n; i++)
				in[i] = (uint8_t)(test_urand(&s) * 256);
		} else {
			while (n + 40 < sizeof in) {
				if (!made || test_urand(&s) < 0.5) {
					size_t l = 1 + (size_t)(test_urand(&s) * 32);
					in[n++] = (uint8_t)(l - 1);
					for (size_t i = 0; i < l; i++)
						in[n++] = (uint8_t)(test_urand(&s) * 256);
					made += l;
				} else {
					/* length len + 3: field len + 1, or 7 and an extension */
					size_t len = (size_t)(test_urand(&s) * 20);
					/* distance 1 .. 1.02 x what was made, as its field (distance - 1) */
					size_t off = (size_t)(test_urand(&s) * 1.02 * (double)made);
					made += len + 3;
					in[n++] = (uint8_t)((len < 6 ? len + 1 : 7) << 5 | (off >> 8 & 31));
					if (len >= 6)
						in[n++] = (uint8_t)(len - 6);
					in[n++] = (uint8_t)(off & 255);
				}
			}
			if (it & 2)
				n = (size_t)(test_urand(&s) * (double)n);
		}
		cap = (size_t)((0.8 + 0.4 * test_urand(&s)) * (double)(made ? made : 64));
		out = malloc(cap ? cap : 1);
		buf = malloc(n ? n : 1);
		memcpy(buf, in, n);
		if (lzf_decode(buf, n, out, cap, &full) > 0)
			decoded++;
		else
			refused++, full_n += full;
		free(buf);
		free(out);
	}
	printf("# random streams: %zu decoded, %zu refused (%zu of them for a short output), "
	       "no access out of bounds\n", decoded, refused, full_n);
	CHECK(decoded > 1000 && refused > 1000 && full_n > 100);
}

/* Decode every chunk of the 1-D uint8 dataset `name` of f raw and compare it
 * with the unfiltered copy `plain`.  Counts compressed and stored chunks. */
static void compare_chunks(hid_t f, const char *name, const uint8_t *plain, size_t n,
			   size_t *ret_lzf, size_t *ret_stored)
{
	hid_t ds = H5Dopen2(f, name, H5P_DEFAULT), dcpl = H5Dget_create_plist(ds);
	hsize_t cd;
	unsigned flags, cdv[8];
	size_t ncd = 8;
	char fname[32];

	CHECK(H5Pget_chunk(dcpl, 1, &cd) == 1);
	CHECK(H5Pget_filter2(dcpl, 0, &flags, &ncd, cdv, sizeof fname, fname, NULL) == 32000,
	      "%s: not LZF", name);
	CHECK(ncd >= 3 && cdv[2] == cd, "%s: h5py recorded %u bytes per chunk, chunk is %llu", name,
	      ncd >= 3 ? cdv[2] : 0, (unsigned long long)cd);
	for (hsize_t off = 0; off < n; off += cd) {
		hsize_t sz = 0;
		uint32_t mask = 0;
		uint8_t *raw, *out = malloc(cd);
		size_t m = n - off < cd ? n - off : cd, got;
		int full;

		H5Dget_chunk_storage_size(ds, &off, &sz);
		raw = malloc(sz ? sz : 1);
		CHECK(H5Dread_chunk(ds, H5P_DEFAULT, &off, &mask, raw) >= 0);
		if (mask & 1) {
			/* h5py's encoder gave up (output not smaller): stored as is. */
			(*ret_stored)++;
			CHECK(sz == cd && !memcmp(raw, plain + off, m), "%s: stored chunk %llu", name,
			      (unsigned long long)off);
		} else {
			(*ret_lzf)++;
			got = lzf_decode(raw, sz, out, cd, &full);
			CHECK(got == cd, "%s: chunk at %llu decoded to %zu bytes", name,
			      (unsigned long long)off, got);
			CHECK(got == cd && !memcmp(out, plain + off, m), "%s: chunk at %llu differs",
			      name, (unsigned long long)off);
		}
		free(raw);
		free(out);
	}
	H5Pclose(dcpl);
	H5Dclose(ds);
}

static void test_h5py_encoder(void)
{
	static const char *const py =
		"import sys, numpy as np, h5py\n"
		"rng = np.random.default_rng(11)\n"
		"n = 100000\n"
		"flags = np.zeros(n, np.uint8)\n"
		"for s in rng.integers(0, n - 300, 40): flags[s:s + rng.integers(1, 300)] = 1\n"
		"ns = np.full(n // 4, 24.0, np.float32); ns[rng.integers(0, n // 4, 500)] = 0\n"
		"noise = rng.integers(0, 256, n, dtype=np.uint8)\n"
		"with h5py.File(sys.argv[1], 'w') as f:\n"
		"    for k, a in (('flags', flags), ('nsamples', ns.view(np.uint8)), ('noise', noise)):\n"
		"        f['plain_' + k] = a\n"
		"        f.create_dataset('lzf_' + k, data=a, chunks=(8192,), compression='lzf')\n";
	const char *names[] = { "flags", "nsamples", "noise" };
	char path[512], pypath[512], cmd[1200];
	size_t nlzf = 0, nstored = 0;
	FILE *fp;
	hid_t f;

	snprintf(path, sizeof path, "%s/lzf.h5", test_tmpdir());
	snprintf(pypath, sizeof pypath, "%s/lzf.py", test_tmpdir());
	fp = fopen(pypath, "w");
	CHECK(fp != NULL);
	if (!fp)
		return;
	fputs(py, fp);
	fclose(fp);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 2>&1", pypath, path);
	if (system(cmd) != 0) {
		printf("# skip: /usr/bin/python3 with h5py could not write %s\n", path);
		return;
	}
	/* Raw chunks, without any filter in the way. */
	f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	CHECK(f >= 0);
	for (int k = 0; k < 3 && f >= 0; k++) {
		char pn[32], ln[32];
		hid_t ds;
		hssize_t n;
		uint8_t *plain, *via;

		snprintf(pn, sizeof pn, "plain_%s", names[k]);
		snprintf(ln, sizeof ln, "lzf_%s", names[k]);
		ds = H5Dopen2(f, pn, H5P_DEFAULT);
		{
			hid_t sp = H5Dget_space(ds);
			n = H5Sget_simple_extent_npoints(sp);
			H5Sclose(sp);
		}
		plain = malloc(n);
		via = calloc(n, 1);
		CHECK(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, plain) >= 0);
		H5Dclose(ds);
		compare_chunks(f, ln, plain, (size_t)n, &nlzf, &nstored);
		/* Through HDF5 with contimg's filter registered. */
		h5_enter();
		ds = H5Dopen2(f, ln, H5P_DEFAULT);
		CHECK(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, via) >= 0, "%s", ln);
		CHECK(!memcmp(via, plain, n), "%s read through the filter differs", ln);
		H5Dclose(ds);
		free(plain);
		free(via);
	}
	if (f >= 0)
		H5Fclose(f);
	printf("# h5py (liblzf) chunks: %zu compressed decoded exactly, %zu stored uncompressed\n",
	       nlzf, nstored);
	CHECK(nlzf >= 20 && nstored >= 1, "the data should exercise both kinds of chunk");
}

/* Every LZF-filtered dataset of one real file: each chunk decodes to exactly
 * the chunk size h5py recorded. */
static herr_t real_cb(hid_t g, const char *name, const H5O_info_t *info, void *data)
{
	size_t *count = data;
	hid_t ds, dcpl;
	int nf;

	if (info->type != H5O_TYPE_DATASET)
		return 0;
	ds = H5Dopen2(g, name, H5P_DEFAULT);
	dcpl = H5Dget_create_plist(ds);
	nf = H5Pget_nfilters(dcpl);
	if (nf == 1 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
		unsigned flags, cdv[8];
		size_t ncd = 8;
		if (H5Pget_filter2(dcpl, 0, &flags, &ncd, cdv, 0, NULL, NULL) == 32000 && ncd >= 3) {
			hid_t sp = H5Dget_space(ds);
			hsize_t nchunks = 0;
			H5Dget_num_chunks(ds, sp, &nchunks);
			for (hsize_t i = 0; i < nchunks; i++) {
				hsize_t off[H5S_MAX_RANK], sz = 0;
				uint32_t mask = 0;
				uint8_t *raw, *out = malloc(cdv[2]);
				int full;
				size_t got;

				H5Dget_chunk_info(ds, sp, i, off, &mask, NULL, &sz);
				raw = malloc(sz ? sz : 1);
				H5Dread_chunk(ds, H5P_DEFAULT, off, &mask, raw);
				got = (mask & 1) ? cdv[2] : lzf_decode(raw, sz, out, cdv[2], &full);
				CHECK(got == cdv[2], "%s: chunk %llu decoded to %zu of %u bytes", name,
				      (unsigned long long)i, got, cdv[2]);
				(*count)++;
				free(raw);
				free(out);
			}
			H5Sclose(sp);
		}
	}
	H5Pclose(dcpl);
	H5Dclose(ds);
	return 0;
}

static void test_real_files(void)
{
	char dir[512];
	DIR *d;
	struct dirent *e;
	size_t nfiles = 0, nchunks = 0;

	snprintf(dir, sizeof dir, "%s", test_data("uvh5-real"));
	d = opendir(dir);
	if (!d) {
		printf("# skip: %s not found\n", dir);
		return;
	}
	while ((e = readdir(d))) {
		char path[1024];
		hid_t f;
		if (!strstr(e->d_name, ".uvh5"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		CHECK(f >= 0, "%s", path);
		if (f < 0)
			continue;
		H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, real_cb, &nchunks);
		H5Fclose(f);
		nfiles++;
	}
	closedir(d);
	printf("# real pyuvdata files: %zu files, %zu LZF chunks decoded to h5py's sizes\n", nfiles,
	       nchunks);
	CHECK(nfiles == 6 && nchunks >= 12);
}

int main(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	RUN(test_format);
	RUN(test_corrupt);
	RUN(test_random_bounds);
	RUN(test_h5py_encoder);
	RUN(test_real_files);
	return TEST_DONE();
}
