/*
 * tests/fuzz/fuzz_uvh5_header.c — libFuzzer harness for UVH5 header validation
 * (uvh5_read_header_image), corpus-free.  Run by tests/fuzz/run.sh (`make fuzz`).
 *
 * Two modes, chosen by $UVH5_FUZZ_MODE:
 *
 *  "struct" (default) — the input is a recipe: each byte decides a header count
 *    (valid, zero, negative, off by one, huge), whether each dataset exists,
 *    its type class (integer, float, string, compound) and shape (expected,
 *    off by one, other rank, empty), and special values (NaN, duplicate
 *    baselines, unknown antennas, odd strings).  The harness builds that file
 *    in memory with plain HDF5 (core driver) and hands its image to the
 *    reader.  This reaches every validation branch of core/uvh5_read.c without
 *    depending on HDF5's own binary parser.
 *
 *  "bytes" — the input is a list of (offset, xor) edits applied to the image
 *    of a small valid file written by uvh5_write at start-up: the reader
 *    (and HDF5's parser under it) on corrupt binary metadata.
 *
 * Invariant checked in both: the call returns, 0 or a negative errno; on
 * error the message names the file; on success the header is self-consistent.
 */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/uvh5.h"

#define NAME "fuzz.uvh5"

typedef struct rd {
	const uint8_t *p;
	size_t n, i;
} rd;

static unsigned u8(rd *r)
{
	return r->i < r->n ? r->p[r->i++] : 0;
}

/* A count: mostly the valid value, sometimes a boundary or odd value. */
static int64_t count(rd *r, int64_t good)
{
	switch (u8(r) % 16) {
	case 0: return 0;
	case 1: return -1;
	case 2: return good + 1;
	case 3: return good - 1;
	case 4: return (int64_t)1 << 40;
	case 5: return INT32_MAX;
	case 6: return u8(r);
	default: return good;
	}
}

static hid_t str_type(size_t n)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, n ? n : 1);
	return t;
}

/*
 * Write dataset name with an "expected" shape (rank, dims) and numeric values
 * from vals (n = product of dims), possibly perturbed by the recipe.
 */
static void put(rd *r, hid_t g, const char *name, int rank, const hsize_t *dims, const double *vals,
		int is_int)
{
	unsigned how = u8(r), shape = how & 7, type = (how >> 3) & 7;
	hsize_t d[4] = { 1, 1, 1, 1 }, n = 1, nv = 1;
	int rk = rank;
	hid_t sp, ds, ft, mt = H5T_NATIVE_DOUBLE;
	double *buf;

	if (shape == 7 && (how >> 6) == 3)
		return; /* absent */
	memcpy(d, dims, rank * sizeof *d);
	for (int i = 0; i < rank; i++)
		nv *= dims[i]; /* values available in vals */
	if (shape == 1 && rk > 0)
		d[0] += 1;
	else if (shape == 2 && rk > 0 && d[0] > 0)
		d[0] -= 1;
	else if (shape == 3 && rk < 3)
		d[rk++] = 1 + (how >> 6);
	else if (shape == 4 && rk > 0)
		rk--;
	for (int i = 0; i < rk; i++)
		n *= d[i];
	if (n > 1 << 20)
		return;
	buf = calloc(n ? n : 1, sizeof *buf);
	if (!buf)
		return;
	for (hsize_t i = 0; i < n; i++)
		buf[i] = vals && nv ? vals[i % nv] : 0;
	if (type == 1)
		ft = H5Tcopy(is_int ? H5T_IEEE_F64LE : H5T_STD_I32LE);
	else if (type == 2)
		ft = str_type(4);
	else if (type == 3)
		ft = H5Tcopy(H5T_STD_U8LE);
	else
		ft = H5Tcopy(is_int ? H5T_STD_I64LE : H5T_IEEE_F64LE);
	if (shape == 5)
		sp = H5Screate(H5S_NULL);
	else
		sp = rk ? H5Screate_simple(rk, d, NULL) : H5Screate(H5S_SCALAR);
	ds = H5Dcreate2(g, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (ds >= 0 && shape != 5 && H5Tget_class(ft) != H5T_STRING)
		H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
	if (ds >= 0)
		H5Dclose(ds);
	H5Sclose(sp);
	H5Tclose(ft);
	free(buf);
}

static void put_str(rd *r, hid_t g, const char *name, const char *s)
{
	unsigned how = u8(r) % 8;
	hid_t t, sp, ds;
	char buf[300];

	if (how == 7)
		return;
	if (how == 6) { /* very long */
		memset(buf, 'x', sizeof buf - 1);
		buf[sizeof buf - 1] = 0;
		s = buf;
	}
	t = str_type(strlen(s));
	if (how == 5) {
		H5Tclose(t);
		t = H5Tcopy(H5T_C_S1);
		H5Tset_size(t, H5T_VARIABLE);
	}
	sp = H5Screate(H5S_SCALAR);
	ds = H5Dcreate2(g, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (ds >= 0)
		H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, how == 5 ? (const void *)&s : s);
	if (ds >= 0)
		H5Dclose(ds);
	H5Sclose(sp);
	H5Tclose(t);
}

/* Build the recipe's file in memory; returns a malloc'd image or NULL. */
static void *build(rd *r, size_t *len)
{
	const int na = 1 + u8(r) % 6, nt = 1 + u8(r) % 4, nf = 1 + u8(r) % 5, np = 1 + u8(r) % 4;
	int nb = na * (na + 1) / 2;
	int64_t nblts = (int64_t)nt * nb;
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f, hdr, dat, ct;
	hsize_t dims[4];
	double *v = NULL;
	void *img = NULL;
	ssize_t sz;

	H5Pset_fapl_core(fapl, 1 << 16, 0);
	f = H5Fcreate(NAME, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
	H5Pclose(fapl);
	if (f < 0)
		return NULL;
	hdr = H5Gcreate2(f, "Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	dat = H5Gcreate2(f, "Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	v = calloc(nblts * 3 + 200, sizeof *v);
	if (!v)
		goto out;

#define SCALAR(name, good) do { double x_ = (double)count(r, good); put(r, hdr, name, 0, dims, &x_, 1); } while (0)
	SCALAR("Nblts", nblts);
	SCALAR("Nbls", nb);
	SCALAR("Ntimes", nt);
	SCALAR("Nfreqs", nf);
	SCALAR("Npols", np);
	SCALAR("Nspws", 1);
	SCALAR("Nants_data", na);
	SCALAR("Nants_telescope", na);
	{
		double x = u8(r) % 5 == 0 ? NAN : 37.23;
		put(r, hdr, "latitude", 0, dims, &x, 0);
		x = -118.28;
		put(r, hdr, "longitude", 0, dims, &x, 0);
		x = 1222;
		put(r, hdr, "altitude", 0, dims, &x, 0);
		x = u8(r) % 4 == 0 ? -5 : 244140.625;
		put(r, hdr, "channel_width", 0, dims, &x, 0);
	}
	put_str(r, hdr, "telescope_name", "OVRO_MMA");
	put_str(r, hdr, "instrument", "DSA");
	put_str(r, hdr, "phase_type", u8(r) % 3 ? "drift" : "phased");
	if (u8(r) % 2)
		put_str(r, hdr, "version", "1.2");

	/* Antennas, with an unknown number now and then. */
	for (int a = 0; a < na; a++)
		v[a] = a + (u8(r) % 17 == 0 ? 1000 : 0);
	dims[0] = na;
	put(r, hdr, "antenna_numbers", 1, dims, v, 1);
	dims[1] = 3;
	put(r, hdr, "antenna_positions", 2, dims, v, 0);
	{
		hid_t t = str_type(4), sp = H5Screate_simple(1, dims, NULL), ds;
		char *names = calloc(na, 4);
		if (u8(r) % 8 && names) {
			ds = H5Dcreate2(hdr, "antenna_names", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
			if (ds >= 0) {
				H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names);
				H5Dclose(ds);
			}
		}
		free(names);
		H5Sclose(sp);
		H5Tclose(t);
	}

	/* Baseline-time axis: time-major unless the recipe scrambles it. */
	{
		unsigned scramble = u8(r);
		int b = 0;
		double *a1 = v, *a2 = v + nblts;
		for (int i = 0; i < na; i++)
			for (int j = i; j < na; j++, b++)
				for (int t = 0; t < nt; t++) {
					a1[(int64_t)t * nb + b] = i;
					a2[(int64_t)t * nb + b] = j;
				}
		if (scramble % 5 == 0 && nblts > 1)
			a1[nblts - 1] = a1[0], a2[nblts - 1] = a2[0];
		dims[0] = nblts;
		put(r, hdr, "ant_1_array", 1, dims, a1, 1);
		put(r, hdr, "ant_2_array", 1, dims, a2, 1);
		for (int64_t i = 0; i < nblts; i++)
			v[i] = 2461100.5 + (scramble % 7 == 0 ? i : i / nb) * 1.5e-4;
		if (scramble % 11 == 0)
			v[0] = NAN;
		put(r, hdr, "time_array", 1, dims, v, 0);
		for (int64_t i = 0; i < nblts; i++)
			v[i] = scramble % 13 == 0 ? 1 + i % 3 : 12.885;
		put(r, hdr, "integration_time", 1, dims, v, 0);
		dims[1] = 3;
		put(r, hdr, "uvw_array", 2, dims, v, 0);
	}
	for (int c = 0; c < nf; c++)
		v[c] = 1.4e9 - c * (u8(r) % 9 == 0 ? -1e6 : 1e6);
	dims[0] = 1;
	dims[1] = nf;
	put(r, hdr, "freq_array", 2, dims, v, 0);
	for (int p = 0; p < np; p++)
		v[p] = u8(r) % 9 == 0 ? 0 : -5 - p;
	dims[0] = np;
	put(r, hdr, "polarization_array", 1, dims, v, 1);
	if (u8(r) % 3 == 0) {
		hid_t ek = H5Gcreate2(hdr, "extra_keywords", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		double x = 0.958;
		put(r, ek, "phase_center_dec", 0, dims, &x, 0);
		H5Gclose(ek);
	}
	if (u8(r) % 3 == 0) {
		hid_t cat = H5Gcreate2(hdr, "phase_center_catalog", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		unsigned k = u8(r) % 3;
		for (unsigned i = 0; i < k; i++) {
			char gname[8];
			hid_t g;
			double x = 1.0;
			snprintf(gname, sizeof gname, "%u", i);
			g = H5Gcreate2(cat, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
			put_str(r, g, "cat_type", u8(r) % 2 ? "sidereal" : "unprojected");
			put_str(r, g, "cat_frame", "icrs");
			put(r, g, "cat_lon", 0, dims, &x, 0);
			put(r, g, "cat_lat", 0, dims, &x, 0);
			H5Gclose(g);
		}
		H5Gclose(cat);
	}

	/* Data: rank 3 or 4, compound or not, shapes from the recipe. */
	{
		unsigned how = u8(r);
		int rank = how & 1 ? 3 : 4;
		hsize_t dd[4] = { (hsize_t)nblts, 1, (hsize_t)nf, (hsize_t)np };
		hid_t sp;
		if (rank == 3) {
			dd[1] = nf;
			dd[2] = np;
		}
		if ((how >> 1) % 7 == 0)
			dd[rank - 1] += 1;
		if ((how >> 4) % 5 == 0)
			dd[0] = 0;
		sp = H5Screate_simple(rank, dd, NULL);
		ct = H5Tcreate(H5T_COMPOUND, 8);
		H5Tinsert(ct, (how >> 3) % 9 ? "r" : "x", 0, H5T_IEEE_F32LE);
		H5Tinsert(ct, "i", 4, (how >> 2) % 6 ? H5T_IEEE_F32LE : H5T_STD_I32LE);
		if ((how >> 5) % 8)
			H5Dclose(H5Dcreate2(dat, "visdata", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
		if ((how >> 6) % 4)
			H5Dclose(H5Dcreate2(dat, "flags", how & 128 ? H5T_STD_I8LE : H5T_IEEE_F32LE, sp,
					    H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
		if (u8(r) % 8)
			H5Dclose(H5Dcreate2(dat, "nsamples", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
					    H5P_DEFAULT));
		H5Tclose(ct);
		H5Sclose(sp);
	}
	H5Fflush(f, H5F_SCOPE_GLOBAL);
	sz = H5Fget_file_image(f, NULL, 0);
	if (sz > 0 && (img = malloc(sz)) && H5Fget_file_image(f, img, sz) != sz) {
		free(img);
		img = NULL;
	}
	*len = sz > 0 ? (size_t)sz : 0;
out:
	free(v);
	H5Gclose(hdr);
	H5Gclose(dat);
	H5Fclose(f);
	return img;
}

/* A small valid file's image, the starting point of the "bytes" mode. */
static void *base_img;
static size_t base_len;

static void make_base(void)
{
	char path[64], err[ERR_LEN];
	vis_set *v = vis_new(2, 6, 3, 2, 3);
	FILE *fp;
	int b = 0;

	snprintf(path, sizeof path, "/tmp/fuzz-uvh5-base-%d.hdf5", (int)getpid());
	if (!v)
		abort();
	for (int a = 0; a < 3; a++) {
		v->ants[a].number = a;
		snprintf(v->ants[a].name, sizeof v->ants[a].name, "%d", a + 1);
	}
	for (int i = 0; i < 3; i++)
		for (int j = i; j < 3; j++, b++)
			v->ant1[b] = i, v->ant2[b] = j;
	v->time_jd[0] = 2461100.5;
	v->time_jd[1] = 2461100.6;
	v->int_time_s = 12.885;
	for (int c = 0; c < 3; c++)
		v->freq_hz[c] = 1.4e9 - c * 1e6;
	v->chan_width_hz = 1e6;
	v->pols[0] = -5;
	v->pols[1] = -6;
	if (uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err))
		abort();
	vis_free(v);
	fp = fopen(path, "rb");
	if (!fp)
		abort();
	fseek(fp, 0, SEEK_END);
	base_len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	base_img = malloc(base_len);
	if (!base_img || fread(base_img, 1, base_len, fp) != base_len)
		abort();
	fclose(fp);
	unlink(path);
}

static void check(int r, const uvh5_header *h, const char *err)
{
	if (r > 0)
		abort(); /* only 0 or negative errno */
	if (r < 0 && !strstr(err, NAME))
		abort(); /* every error names the file */
	if (r == 0 && (h->nblts < 1 || h->nfreqs < 1 || h->npols < 1 || h->npols > 4 ||
		       !(h->freq_min_hz <= h->freq_max_hz) ||
		       (h->imageable && (int64_t)h->ntimes * h->nbls != h->nblts)))
		abort(); /* an accepted header is consistent */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int mode = -1;
	char err[ERR_LEN] = "";
	uvh5_header h;
	int r;

	if (mode < 0) {
		const char *m = getenv("UVH5_FUZZ_MODE");
		mode = m && !strcmp(m, "bytes");
		H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
		if (mode)
			make_base();
	}
	if (mode == 0) {
		rd rr = { data, size, 0 };
		size_t len = 0;
		void *img = build(&rr, &len);
		if (!img)
			return 0;
		r = uvh5_read_header_image(img, len, NAME, &h, err, sizeof err);
		check(r, &h, err);
		free(img);
	} else {
		unsigned char *img = malloc(base_len);
		if (!img)
			return 0;
		memcpy(img, base_img, base_len);
		for (size_t i = 0; i + 3 <= size; i += 3) {
			size_t off = ((size_t)data[i] << 8 | data[i + 1]) % base_len;
			img[off] ^= data[i + 2];
		}
		r = uvh5_read_header_image(img, base_len, NAME, &h, err, sizeof err);
		check(r, &h, err);
		free(img);
	}
	return 0;
}
