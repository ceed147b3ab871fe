/*
 * tests/core/test_uvh5.c — the UVH5 reader and writer against the shared real
 * files, the reference DSA-110 subbands, their truth JSON / gains files (an
 * independent source for frequencies, times, antennas and pointing), and raw
 * HDF5 reads done here without core/uvh5_*.c.
 */
#include <complex.h>
#include <hdf5.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/uvh5.h"
#include "tests/h5raw.h"
#include "tests/test.h"

/* CHECK(cond) without a message expands to fprintf(stderr, ""). */
#pragma GCC diagnostic ignored "-Wformat-zero-length"
/* CHECK_OK(expr, err) tests an array's address against NULL. */
#pragma GCC diagnostic ignored "-Waddress"

#define REF_SB00 "reference/cal-0834/2026-03-01T05:49:15_sb00.hdf5"
#define REF_SB01 "reference/cal-0834/2026-03-01T05:49:14_sb01.hdf5"
#define REF_TRUTH "reference/cal-0834/truth_2026-03-01T05:49:14.json"
#define REF_GAINS "reference/cal-0834/gains_2026-03-01T05:49:14.h5"

/* Raw read of a whole dataset with plain HDF5 (independent of core/uvh5_*.c). */
static int raw_read(const char *path, const char *name, hid_t memtype, void *buf)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d;
	herr_t r = -1;

	if (f < 0)
		return -1;
	d = H5Dopen2(f, name, H5P_DEFAULT);
	if (d >= 0) {
		r = H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
		H5Dclose(d);
	}
	H5Fclose(f);
	return r < 0 ? -1 : 0;
}

static hid_t raw_complex_type(hid_t member)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, 2 * H5Tget_size(member));
	H5Tinsert(t, "r", 0, member);
	H5Tinsert(t, "i", H5Tget_size(member), member);
	return t;
}

static json_object *load_truth(void)
{
	return json_object_from_file(test_data(REF_TRUTH));
}

static double jnum(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : NAN;
}

/* ------------------------------------------------------------------------ */

static void test_pol_names(void)
{
	CHECK(!strcmp(uvh5_pol_name(-5), "XX"));
	CHECK(!strcmp(uvh5_pol_name(-6), "YY"));
	CHECK(!strcmp(uvh5_pol_name(-7), "XY"));
	CHECK(!strcmp(uvh5_pol_name(-8), "YX"));
	CHECK(!strcmp(uvh5_pol_name(-1), "RR"));
	CHECK(!strcmp(uvh5_pol_name(1), "I"));
	CHECK(!strcmp(uvh5_pol_name(0), "?"));
	CHECK(!strcmp(uvh5_pol_name(-9), "?"));
}

/* The header of a reference subband against the truth JSON (written by the
 * independent simulator) and the numbers in ../shared/data/README.md. */
static void test_reference_header(void)
{
	char err[ERR_LEN] = "";
	uvh5_header h, h15;
	json_object *truth = load_truth();

	CHECK(truth != NULL, "cannot parse %s", REF_TRUTH);
	CHECK_OK(uvh5_read_header(test_data(REF_SB00), &h, err, sizeof err), err);
	CHECK(!strcmp(h.telescope, "OVRO_MMA"), "%s", h.telescope);
	CHECK(!strcmp(h.instrument, "DSA"), "%s", h.instrument);
	CHECK(h.version[0] == 0, "version '%s' (DSA-110 files have none)", h.version);
	CHECK(!strcmp(h.phase_type, "drift"), "%s", h.phase_type);
	CHECK(h.data_rank == 4 && h.vis_type == UVH5_VIS_C8);
	CHECK(h.nbls == 300 && h.ntimes == 24 && h.nblts == 7200, "%d %d %d", h.nbls, h.ntimes,
	      h.nblts);
	CHECK(h.nfreqs == 6 && h.npols == 2 && h.nspws == 1);
	CHECK(h.pols[0] == -5 && h.pols[1] == -6);
	CHECK(h.nants_data == 24 && h.nants_telescope == 117);
	CHECK(h.freq_descending == 1);
	CHECK(h.has_autos == 1);
	CHECK(h.imageable == 1, "%s", h.not_imageable);
	CHECK_NEAR(h.channel_width_hz, 1953125.0, 1e-6);
	CHECK_NEAR(h.integration_time_s, 12.885, 1e-3);
	CHECK(h.has_dec);
	CHECK_NEAR(h.dec_rad * 180 / M_PI, 54.9, 1e-6);
	if (truth) {
		CHECK_NEAR(h.dec_rad * 180 / M_PI, jnum(truth, "dec"), 1e-9);
		CHECK_NEAR(h.freq_max_hz, jnum(truth, "freq_max"), 1e-3);
		CHECK_NEAR(h.lat_rad * 180 / M_PI, jnum(truth, "lat"), 1e-9);
		CHECK_NEAR(h.lon_rad * 180 / M_PI, jnum(truth, "lon"), 1e-9);
		CHECK_NEAR(h.alt_m, jnum(truth, "alt"), 1e-9);
		CHECK(h.ntimes == (int)jnum(truth, "ntimes") && h.nfreqs == (int)jnum(truth, "nchan"));
	}
	/* Six channels of 1.953125 MHz: max − min = 5 channel widths. */
	CHECK_NEAR(h.freq_max_hz - h.freq_min_hz, 5 * 1953125.0, 1e-3);
	/* 24 integrations of 12.885 s: the span is 23 of them. */
	CHECK_NEAR((h.time_end_jd - h.time_start_jd) * 86400, 23 * h.integration_time_s, 1e-3);

	/* sb15 holds the lowest frequencies of the group. */
	CHECK_OK(uvh5_read_header(test_data("reference/cal-0834/2026-03-01T05:49:14_sb15.hdf5"), &h15,
				  err, sizeof err), err);
	if (truth)
		CHECK_NEAR(h15.freq_min_hz, jnum(truth, "freq_min"), 1e-3);
	CHECK(h15.freq_max_hz < h.freq_min_hz);
	json_object_put(truth);
}

/* uvh5_read of a reference subband against raw HDF5 reads of the same file,
 * and against the gains file (antenna numbers, times). */
/* uvh5_read_header_axes: the same header as uvh5_read_header, and every
 * axis array equal to the dataset read with plain HDF5; nothing for a file
 * that is not imageable; nothing and an error for a broken one. */
static void test_header_axes(void)
{
	static const struct {
		const char *name;
		hid_t type;
		size_t esize;
		int per; /* 0: Nblts, 1: Nants_telescope, 2: Nfreqs */
		int ncol;
	} ds[] = {
		{ "Header/ant_1_array", 0, 8, 0, 1 },        { "Header/ant_2_array", 0, 8, 0, 1 },
		{ "Header/time_array", 1, 8, 0, 1 },         { "Header/uvw_array", 1, 8, 0, 3 },
		{ "Header/antenna_numbers", 0, 8, 1, 1 },    { "Header/antenna_positions", 1, 8, 1, 3 },
		{ "Header/freq_array", 1, 8, 2, 1 },
	};
	const char *files[] = { REF_SB00, "uvh5-real/zen.2458432.34569.uvh5",
				"uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5" };
	char err[ERR_LEN] = "";
	uvh5_header h, h2;
	uvh5_axes ax;

	for (int k = 0; k < 3; k++) {
		const char *path = test_data(files[k]);
		int same = 1;

		CHECK_OK(uvh5_read_header(path, &h, err, sizeof err), err);
		CHECK_OK(uvh5_read_header_axes(path, &h2, &ax, err, sizeof err), err);
		CHECK(!memcmp(&h, &h2, sizeof h), "%s: headers differ", files[k]);
		for (int d = 0; d < 7; d++) {
			const void *got[7] = { ax.ant1, ax.ant2, ax.time_jd, ax.uvw_m, ax.antnum,
					       ax.antpos_m, ax.freq_hz };
			size_t n = (size_t)(ds[d].per == 0 ? h.nblts : ds[d].per == 1 ? h.nants_telescope
										      : h.nfreqs) *
				   ds[d].ncol;
			void *want = malloc(n * ds[d].esize);
			CHECK(raw_read(path, ds[d].name, ds[d].type ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64,
				       want) == 0, "%s %s", files[k], ds[d].name);
			CHECK(got[d] && !memcmp(got[d], want, n * ds[d].esize), "%s: %s differs",
			      files[k], ds[d].name);
			same &= got[d] && !memcmp(got[d], want, n * ds[d].esize);
			free(want);
		}
		printf("# %s: header and 7 axis arrays %s plain HDF5 (%d rows, %d antennas)\n",
		       files[k], same ? "equal to" : "DIFFER FROM", h.nblts, h.nants_telescope);
		uvh5_axes_release(&ax);
		CHECK(!ax.ant1 && !ax.uvw_m);
	}
	/* Not imageable (baseline-time axis not rectangular): header only. */
	CHECK_OK(uvh5_read_header_axes(test_data("uvh5-real/simulated_bda_file.uvh5"), &h, &ax, err,
				       sizeof err), err);
	CHECK(!h.imageable && !ax.ant1 && !ax.ant2 && !ax.time_jd && !ax.uvw_m && !ax.antnum &&
	      !ax.antpos_m && !ax.freq_hz);
	/* Not a file: an error naming it, the header untouched, no arrays. */
	memset(&h2, 0x5a, sizeof h2);
	h = h2;
	CHECK(uvh5_read_header_axes("/nonexistent/x_sb00.hdf5", &h2, &ax, err, sizeof err) < 0);
	CHECK(strstr(err, "/nonexistent/x_sb00.hdf5") != NULL, "%s", err);
	CHECK(!memcmp(&h, &h2, sizeof h) && !ax.ant1 && !ax.freq_hz);
	uvh5_axes_release(NULL);
}

static void test_reference_read(void)
{
	const char *path = test_data(REF_SB00);
	char err[ERR_LEN] = "";
	vis_set *v = NULL;
	hid_t ct = raw_complex_type(H5T_NATIVE_FLOAT);
	float complex *raw = malloc(7200 * 6 * 2 * sizeof *raw);
	float *ns = malloc(7200 * 6 * 2 * sizeof *ns);
	double *t = malloc(7200 * sizeof *t), *uvw = malloc(7200 * 3 * sizeof *uvw);
	double pos[117][3], freq[6], gt[24];
	int64_t a1[7200], a2[7200], gants[24];
	size_t bad = 0;

	CHECK_OK(uvh5_read(path, &v, err, sizeof err), err);
	CHECK(raw && ns && t && uvw);
	if (!v || !raw || !ns || !t || !uvw)
		goto out;
	CHECK(!raw_read(path, "Data/visdata", ct, raw));
	CHECK(!raw_read(path, "Data/nsamples", H5T_NATIVE_FLOAT, ns));
	CHECK(!raw_read(path, "Header/time_array", H5T_NATIVE_DOUBLE, t));
	CHECK(!raw_read(path, "Header/uvw_array", H5T_NATIVE_DOUBLE, uvw));
	CHECK(!raw_read(path, "Header/ant_1_array", H5T_NATIVE_INT64, a1));
	CHECK(!raw_read(path, "Header/ant_2_array", H5T_NATIVE_INT64, a2));
	CHECK(!raw_read(path, "Header/antenna_positions", H5T_NATIVE_DOUBLE, pos));
	CHECK(!raw_read(path, "Header/freq_array", H5T_NATIVE_DOUBLE, freq));
	CHECK(v->ntimes == 24 && v->nbls == 300 && v->nchan == 6 && v->npols == 2 && v->nants == 117);
	for (size_t i = 0; i < vis_nsamples(v); i++)
		bad += v->vis[i] != raw[i] || v->weight[i] != ns[i] || v->flags[i] != 0;
	CHECK(bad == 0, "%zu samples differ from the raw read", bad);
	CHECK(ns[0] == 24.0f, "nsamples %g", ns[0]);
	for (int b = 0; b < 300; b++)
		CHECK(v->ant1[b] == a1[b] && v->ant2[b] == a2[b]);
	for (int tt = 0; tt < 24; tt++)
		CHECK(v->time_jd[tt] == t[tt * 300]);
	for (int c = 0; c < 6; c++)
		CHECK(v->freq_hz[c] == freq[c]);
	for (size_t i = 0; i < 7200 * 3; i++)
		bad += fabs(v->uvw_m[i] - uvw[i]) > 0;
	CHECK(bad == 0, "uvw differs");
	/* A rotation keeps lengths: |uvw| = |pos(ant2) − pos(ant1)| (float32 storage). */
	for (int b = 0; b < 300; b++) {
		int i1 = vis_ant_index(v, v->ant1[b]), i2 = vis_ant_index(v, v->ant2[b]);
		double d2 = 0, u2 = 0;
		CHECK(i1 >= 0 && i2 >= 0);
		if (i1 < 0 || i2 < 0)
			continue;
		for (int k = 0; k < 3; k++) {
			double d = v->ants[i2].pos_m[k] - v->ants[i1].pos_m[k];
			d2 += d * d;
			u2 += v->uvw_m[3 * b + k] * v->uvw_m[3 * b + k];
			CHECK(v->ants[i1].pos_m[k] == pos[i1][k]);
		}
		CHECK_NEAR(sqrt(u2), sqrt(d2), 1e-3 + 1e-6 * sqrt(d2));
	}
	CHECK_NEAR(v->ants[0].diam_m, 4.65, 1e-12);
	CHECK(!strcmp(v->ants[0].name, "1") && v->ants[0].number == 0, "%s %d", v->ants[0].name,
	      v->ants[0].number);
	CHECK(v->phase_type == VIS_PHASE_DRIFT && v->has_pointing_dec);
	CHECK_NEAR(v->phase_dec_rad * 180 / M_PI, 54.9, 1e-9);
	/* The gains file's antennas are exactly those in the baselines; its times the file's. */
	if (!raw_read(test_data(REF_GAINS), "antenna_numbers", H5T_NATIVE_INT64, gants) &&
	    !raw_read(test_data(REF_GAINS), "time_jd", H5T_NATIVE_DOUBLE, gt)) {
		for (int k = 0; k < 24; k++) {
			int found = 0;
			for (int b = 0; b < 300 && !found; b++)
				found = v->ant1[b] == gants[k] || v->ant2[b] == gants[k];
			CHECK(found, "antenna %lld of the gains file not in the baselines",
			      (long long)gants[k]);
			CHECK_NEAR(v->time_jd[k], gt[k], 1e-9);
		}
	} else {
		CHECK(0, "cannot read %s", REF_GAINS);
	}
out:
	H5Tclose(ct);
	vis_free(v);
	free(raw);
	free(ns);
	free(t);
	free(uvw);
}

/* The six real files: the header succeeds on all; read succeeds on the five
 * rectangular, time-major ones and fails with the reason on the BDA file. */
static void test_real_files(void)
{
	static const struct {
		const char *file, *tel, *version;
		int nblts, nfreqs, npols, rank, vtype, imageable;
		int reversed; /* rows with ant_1 > ant_2, counted with h5py */
	} cases[] = {
		{ "zen.2458661.23480.HH.uvh5", "HERA", "", 200, 4, 2, 4, UVH5_VIS_C16, 1, 20 },
		{ "zen.2458432.34569.uvh5", "HERA", "1.2", 80, 64, 4, 3, UVH5_VIS_I32, 1, 24 },
		{ "zen.2458098.45361.HH_downselected.uvh5", "HERA", "0.1", 360, 64, 2, 4, UVH5_VIS_C8, 1, 0 },
		{ "ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5", "ATA", "1.2", 406, 16, 4, 3,
		  UVH5_VIS_C8, 1, 30 },
		{ "1061315448_20130823175130_mini_vv_07_01.uvh5", "MWA", "", 8256, 1, 4, 4, UVH5_VIS_C16, 1, 0 },
		{ "simulated_bda_file.uvh5", "mock-HERA", "", 17, 4, 2, 4, UVH5_VIS_C16, 0, 0 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char rel[256], err[ERR_LEN] = "";
		const char *path;
		uvh5_header h;
		vis_set *v = NULL;
		int r;

		snprintf(rel, sizeof rel, "uvh5-real/%s", cases[k].file);
		path = test_data(rel);
		r = uvh5_read_header(path, &h, err, sizeof err);
		CHECK(r == 0, "%s: %s", cases[k].file, err);
		if (r)
			continue;
		CHECK(!strcmp(h.telescope, cases[k].tel), "%s: %s", cases[k].file, h.telescope);
		CHECK(!strcmp(h.version, cases[k].version), "%s: '%s'", cases[k].file, h.version);
		CHECK(h.nblts == cases[k].nblts && h.nfreqs == cases[k].nfreqs &&
		      h.npols == cases[k].npols, "%s", cases[k].file);
		CHECK(h.data_rank == cases[k].rank && h.vis_type == cases[k].vtype, "%s rank %d type %d",
		      cases[k].file, h.data_rank, h.vis_type);
		CHECK(h.imageable == cases[k].imageable, "%s: %s", cases[k].file, h.not_imageable);
		CHECK(h.reversed_rows == cases[k].reversed, "%s: %d rows with ant_1 > ant_2",
		      cases[k].file, h.reversed_rows);
		r = uvh5_read(path, &v, err, sizeof err);
		if (cases[k].imageable) {
			size_t flagged = 0, nonfinite = 0;
			int nrev = 0;
			CHECK(r == 0 && v, "%s: %s", cases[k].file, err);
			if (!v)
				continue;
			CHECK((int)((size_t)v->ntimes * v->nbls) == h.nblts && v->nchan == h.nfreqs);
			/* Rows with ant_1 > ant_2 are kept as they are (not swapped). */
			for (int b = 0; b < v->nbls; b++)
				nrev += v->ant1[b] > v->ant2[b];
			CHECK(nrev * v->ntimes == cases[k].reversed, "%s: %d reversed baselines read",
			      cases[k].file, nrev);
			for (size_t i = 0; i < vis_nsamples(v); i++) {
				flagged += (v->flags[i] & VIS_FLAG_INPUT) != 0;
				nonfinite += !isfinite(crealf(v->vis[i])) || !isfinite(cimagf(v->vis[i]));
			}
			CHECK(nonfinite == 0, "%s: %zu non-finite samples after reading", cases[k].file,
			      nonfinite);
			(void)flagged;
			vis_free(v);
		} else {
			CHECK(r < 0 && !v);
			CHECK(strstr(err, "simulated_bda_file.uvh5") && strstr(err, "not rectangular") &&
			      strstr(err, "integration times differ"), "message: %s", err);
			CHECK(strstr(h.not_imageable, "Nblts 17"), "%s", h.not_imageable);
		}
	}
}

/* LZF-compressed flags and nsamples, and int32 / float64 visdata, against
 * raw HDF5 reads (HDF5 converts the types itself here). */
static void test_real_values(void)
{
	const char *path = test_data("uvh5-real/zen.2458432.34569.uvh5");
	char err[ERR_LEN] = "";
	vis_set *v = NULL;
	int32_t (*ri)[2] = malloc(80 * 64 * 4 * sizeof *ri);
	float *ns = malloc(80 * 64 * 4 * sizeof *ns);
	uint8_t *fl = malloc(80 * 64 * 4);
	hid_t it = raw_complex_type(H5T_NATIVE_INT32), ft = -1, f, d;
	size_t bad = 0, nflag = 0;

	CHECK_OK(uvh5_read(path, &v, err, sizeof err), err);
	if (!v || !ri || !ns || !fl)
		goto out;
	CHECK(!raw_read(path, "Data/visdata", it, ri));
	CHECK(!raw_read(path, "Data/nsamples", H5T_NATIVE_FLOAT, ns));
	f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	d = H5Dopen2(f, "Data/flags", H5P_DEFAULT);
	ft = H5Dget_type(d);
	CHECK(H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, fl) >= 0);
	H5Dclose(d);
	H5Fclose(f);
	for (size_t i = 0; i < 80 * 64 * 4; i++) {
		bad += crealf(v->vis[i]) != (float)ri[i][0] || cimagf(v->vis[i]) != (float)ri[i][1];
		bad += v->weight[i] != ns[i];
		bad += ((v->flags[i] & VIS_FLAG_INPUT) != 0) != (fl[i] != 0);
		nflag += fl[i] != 0;
	}
	CHECK(bad == 0, "%zu mismatches against the raw read", bad);
	CHECK(v->phase_type == VIS_PHASE_DRIFT);
	CHECK_NEAR(v->phase_dec_rad, v->lat_rad, 1e-12);
	(void)nflag;
out:
	if (ft >= 0)
		H5Tclose(ft);
	H5Tclose(it);
	vis_free(v);
	free(ri);
	free(ns);
	free(fl);

	/* ATA: a sidereal phase centre on 3C286 (ICRS 13h31m08.29s +30°30'33.0"). */
	{
		uvh5_header h;
		vis_set *a = NULL;
		path = test_data("uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5");
		CHECK_OK(uvh5_read_header(path, &h, err, sizeof err), err);
		CHECK(h.has_ra && h.has_dec && !strcmp(h.phase_type, "sidereal"));
		CHECK_NEAR(h.ra_rad * 12 / M_PI, 13 + 31 / 60.0 + 8.29 / 3600, 2e-4);
		CHECK_NEAR(h.dec_rad * 180 / M_PI, 30 + 30 / 60.0 + 33.0 / 3600, 3e-3);
		CHECK_OK(uvh5_read(path, &a, err, sizeof err), err);
		if (a)
			CHECK(a->phase_type == VIS_PHASE_FIXED && a->phase_ra_rad == h.ra_rad);
		vis_free(a);
	}
}

/* A small synthetic set: 5 antennas with autos (15 baselines), 3 times, 4
 * channels, 2 pols, with a few flags and distinct values everywhere. */
static vis_set *make_set(int fixed)
{
	const int na = 7, nb = 15, nt = 3, nc = 4, np = 2;
	vis_set *v = vis_new(nt, nb, nc, np, na);
	int b = 0;

	if (!v)
		return NULL;
	for (int a = 0; a < na; a++) {
		v->ants[a].number = a + 2; /* not 0-based, to catch index/number mix-ups */
		snprintf(v->ants[a].name, sizeof v->ants[a].name, "%d", a + 3);
		v->ants[a].pos_m[0] = 10.5 * a;
		v->ants[a].pos_m[1] = -3.25 * a * a;
		v->ants[a].pos_m[2] = 0.125 * a;
		v->ants[a].diam_m = 4.65;
	}
	for (int i = 0; i < 5; i++)
		for (int j = i; j < 5; j++, b++) {
			v->ant1[b] = v->ants[i].number;
			v->ant2[b] = v->ants[j].number;
		}
	v->nants_data = 5;
	v->lat_rad = 37.2339 * M_PI / 180;
	v->lon_rad = -118.2825 * M_PI / 180;
	v->alt_m = 1222;
	for (int t = 0; t < nt; t++)
		v->time_jd[t] = 2461100.5 + t * 12.884901888 / 86400;
	v->int_time_s = 12.884901888;
	for (int c = 0; c < nc; c++)
		v->freq_hz[c] = 1.4e9 - c * 244140.625;
	v->chan_width_hz = 244140.625;
	v->pols[0] = -5;
	v->pols[1] = -6;
	for (size_t r = 0; r < (size_t)nt * nb; r++)
		for (int k = 0; k < 3; k++)
			v->uvw_m[3 * r + k] = (double)(float)(0.5 * r - 7.25 * k + 0.001 * r * k);
	for (size_t i = 0; i < vis_nsamples(v); i++) {
		v->vis[i] = (float)i * 0.25f - 3.0f + I * (float)(i % 17) * -1.5f;
		v->weight[i] = (float)(1 + i % 24);
		v->flags[i] = i % 11 == 3 ? VIS_FLAG_INPUT : 0;
	}
	v->phase_type = fixed ? VIS_PHASE_FIXED : VIS_PHASE_DRIFT;
	v->phase_ra_rad = fixed ? 128.72876715 * M_PI / 180 : 0;
	v->phase_dec_rad = 54.9 * M_PI / 180;
	v->pointing_dec_rad = 54.9 * M_PI / 180;
	v->has_pointing_dec = !fixed;
	snprintf(v->telescope, sizeof v->telescope, "OVRO_MMA");
	snprintf(v->instrument, sizeof v->instrument, "DSA");
	return v;
}

static int sets_equal(const vis_set *a, const vis_set *b, char *why, size_t len)
{
#define DIFF(cond, ...) do { if (cond) { snprintf(why, len, __VA_ARGS__); return 0; } } while (0)
	DIFF(a->ntimes != b->ntimes || a->nbls != b->nbls || a->nchan != b->nchan ||
	     a->npols != b->npols || a->nants != b->nants, "shape");
	DIFF(a->nants_data != b->nants_data, "nants_data %d %d", a->nants_data, b->nants_data);
	for (int i = 0; i < a->nants; i++)
		DIFF(a->ants[i].number != b->ants[i].number || strcmp(a->ants[i].name, b->ants[i].name) ||
		     memcmp(a->ants[i].pos_m, b->ants[i].pos_m, sizeof a->ants[i].pos_m) ||
		     a->ants[i].diam_m != b->ants[i].diam_m, "antenna %d", i);
	DIFF(fabs(a->lat_rad - b->lat_rad) > 1e-15 || fabs(a->lon_rad - b->lon_rad) > 1e-15 ||
	     a->alt_m != b->alt_m, "site");
	for (int i = 0; i < a->nbls; i++)
		DIFF(a->ant1[i] != b->ant1[i] || a->ant2[i] != b->ant2[i], "baseline %d", i);
	for (int i = 0; i < a->ntimes; i++)
		DIFF(a->time_jd[i] != b->time_jd[i], "time %d", i);
	DIFF(a->int_time_s != b->int_time_s || a->chan_width_hz != b->chan_width_hz, "widths");
	for (int i = 0; i < a->nchan; i++)
		DIFF(a->freq_hz[i] != b->freq_hz[i], "freq %d", i);
	DIFF(memcmp(a->pols, b->pols, a->npols * sizeof a->pols[0]), "pols");
	for (size_t i = 0; i < (size_t)a->ntimes * a->nbls * 3; i++)
		DIFF(a->uvw_m[i] != b->uvw_m[i], "uvw %zu: %.17g %.17g", i, a->uvw_m[i], b->uvw_m[i]);
	for (size_t i = 0; i < vis_nsamples(a); i++)
		DIFF(a->vis[i] != b->vis[i] || a->weight[i] != b->weight[i] || a->flags[i] != b->flags[i],
		     "sample %zu", i);
	DIFF(a->phase_type != b->phase_type || a->phase_dec_rad != b->phase_dec_rad ||
	     (a->phase_type == VIS_PHASE_FIXED && a->phase_ra_rad != b->phase_ra_rad), "phase");
	DIFF(strcmp(a->telescope, b->telescope) || strcmp(a->instrument, b->instrument), "names");
	return 1;
#undef DIFF
}

static void test_roundtrip_dsa110(void)
{
	char path[600], err[ERR_LEN] = "", why[128] = "";
	vis_set *v = make_set(0), *w = NULL;
	uvh5_header h;

	snprintf(path, sizeof path, "%s/rt_dsa.hdf5", test_tmpdir());
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err), err);
	CHECK_OK(uvh5_read_header(path, &h, err, sizeof err), err);
	CHECK(h.data_rank == 4 && h.version[0] == 0 && !strcmp(h.phase_type, "drift") &&
	      h.has_autos && h.freq_descending && h.imageable && h.nants_data == 5);
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w) {
		CHECK(sets_equal(v, w, why, sizeof why), "differs after the round trip: %s", why);
		CHECK(w->has_pointing_dec && w->pointing_dec_rad == v->pointing_dec_rad);
	}
	/* Rows with ant_1 > ant_2 (the correlator's order) are written and read
	 * back as they are: baselines 1 and 6 turned round. */
	for (int k = 0; k < 2; k++) {
		int b = k ? 6 : 1, t = v->ant1[b];
		v->ant1[b] = v->ant2[b];
		v->ant2[b] = t;
	}
	vis_free(w);
	w = NULL;
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err), err);
	CHECK_OK(uvh5_read_header(path, &h, err, sizeof err), err);
	CHECK(h.reversed_rows == 2 * v->ntimes && h.imageable, "%d reversed rows", h.reversed_rows);
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w)
		CHECK(sets_equal(v, w, why, sizeof why), "reversed rows: differs after the round trip: %s", why);
	/* A fixed-phase set cannot be written in the drift-only DSA-110 layout. */
	v->phase_type = VIS_PHASE_FIXED;
	CHECK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err) == -EINVAL);
	vis_free(v);
	vis_free(w);
}

static void test_roundtrip_pyuvdata(void)
{
	char path[600], err[ERR_LEN] = "", why[128] = "", s[16] = "";
	vis_set *v = make_set(1), *w = NULL;
	uvh5_header h;
	double app_ra[45], app_dec[45], lst[45], lon = 0, lat = 0, epoch = 0;
	hid_t st = H5Tcopy(H5T_C_S1);

	snprintf(path, sizeof path, "%s/rt_pyuvdata.uvh5", test_tmpdir());
	if (!v)
		return;
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err), err);
	CHECK_OK(uvh5_read_header(path, &h, err, sizeof err), err);
	CHECK(h.data_rank == 3 && !strcmp(h.version, "1.2") && !strcmp(h.phase_type, "sidereal"),
	      "rank %d version %s phase %s", h.data_rank, h.version, h.phase_type);
	CHECK(h.has_ra && h.ra_rad == v->phase_ra_rad && h.dec_rad == v->phase_dec_rad);
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w)
		CHECK(sets_equal(v, w, why, sizeof why), "differs after the round trip: %s", why);

	/* What pyuvdata needs, read back raw. */
	H5Tset_size(st, sizeof s - 1);
	CHECK(!raw_read(path, "Header/phase_center_catalog/0/cat_lon", H5T_NATIVE_DOUBLE, &lon));
	CHECK(!raw_read(path, "Header/phase_center_catalog/0/cat_lat", H5T_NATIVE_DOUBLE, &lat));
	CHECK(!raw_read(path, "Header/phase_center_catalog/0/cat_epoch", H5T_NATIVE_DOUBLE, &epoch));
	CHECK(!raw_read(path, "Header/phase_center_catalog/0/cat_frame", st, s) && !strcmp(s, "icrs"),
	      "%s", s);
	CHECK(lon == v->phase_ra_rad && lat == v->phase_dec_rad && epoch == 2000.0);
	CHECK(!raw_read(path, "Header/phase_center_app_ra", H5T_NATIVE_DOUBLE, app_ra));
	CHECK(!raw_read(path, "Header/phase_center_app_dec", H5T_NATIVE_DOUBLE, app_dec));
	CHECK(!raw_read(path, "Header/lst_array", H5T_NATIVE_DOUBLE, lst));
	/* Apparent place in 2026 vs J2000: precession moves RA by ~0.3 deg at this
	 * declination (≈ 26 yr × (3.07 + 1.34 sin α tan δ) s/yr); it must be
	 * in that range, not zero and not wild. */
	CHECK(fabs(app_ra[0] - lon) * 180 / M_PI > 0.2 && fabs(app_ra[0] - lon) * 180 / M_PI < 0.6,
	      "app ra offset %g deg", (app_ra[0] - lon) * 180 / M_PI);
	CHECK(fabs(app_dec[0] - lat) * 180 / M_PI < 0.2);
	/* LST advances by one integration's sidereal rotation between times. */
	CHECK_NEAR(lst[15] - lst[0], 12.884901888 * 1.00273781191 * 2 * M_PI / 86400, 1e-7);
	H5Tclose(st);

	/* A drift set cannot be written in the sidereal pyuvdata layout. */
	v->phase_type = VIS_PHASE_DRIFT;
	CHECK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err) == -EINVAL);
	vis_free(v);
	vis_free(w);
}

/* The ATA file was written through pyuvdata, whose lst_array is the apparent
 * sidereal time with the file's dut1 (UT1 from the IERS tables).  The reader
 * keeps dut1 and our writer computes lst_array with it (ERFA): the two must
 * agree to model differences; written with dut1 = 0 instead, they differ by
 * dut1 × Earth's rotation rate. */
static void test_pyuvdata_lst_vs_ata(void)
{
	const char *ata = test_data("uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5");
	char path[600], err[ERR_LEN] = "";
	static double theirs[406], ours[406];
	double dut1 = 0, ours_dut1 = 0;
	vis_set *v = NULL;

	snprintf(path, sizeof path, "%s/ata_export.uvh5", test_tmpdir());
	CHECK_OK(uvh5_read(ata, &v, err, sizeof err), err);
	if (!v)
		return;
	CHECK(!raw_read(ata, "Header/lst_array", H5T_NATIVE_DOUBLE, theirs));
	CHECK(!raw_read(ata, "Header/dut1", H5T_NATIVE_DOUBLE, &dut1));
	CHECK(fabs(dut1) > 0.01, "dut1 %g", dut1);
	CHECK(v->dut1_s == dut1, "read dut1 %.7f, file %.7f", v->dut1_s, dut1);
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err), err);
	CHECK(!raw_read(path, "Header/lst_array", H5T_NATIVE_DOUBLE, ours));
	CHECK(!raw_read(path, "Header/dut1", H5T_NATIVE_DOUBLE, &ours_dut1) && ours_dut1 == dut1,
	      "written dut1 %.7f", ours_dut1);
	/* 1e-7 rad (20 mas) for model differences (pyuvdata via astropy: 7 mas),
	 * far below the equation of the equinoxes (~1e-5 rad) and dut1's 3.6e-6. */
	CHECK_NEAR(theirs[0] - ours[0], 0, 1e-7);
	CHECK_NEAR(theirs[405] - ours[405], 0, 1e-7);
	v->dut1_s = 0;
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err), err);
	CHECK(!raw_read(path, "Header/lst_array", H5T_NATIVE_DOUBLE, ours));
	/* 7.2921159e-5 rad/s */
	CHECK_NEAR(theirs[0] - ours[0], dut1 * 7.2921159e-5, 1e-7);
	CHECK_NEAR(theirs[405] - ours[405], dut1 * 7.2921159e-5, 1e-7);
	vis_free(v);
}

/*
 * The provenance a pyuvdata user needs, written from the set and read back:
 * a calibrated set says "Jy", its history, its dut1 (also in lst_array) and
 * its X feed orientation; an uncalibrated one says "uncalib" and writes no
 * x_orientation; values pyuvdata would refuse are refused here.
 */
static void test_provenance_pyuvdata(void)
{
	char path[600], err[ERR_LEN] = "", s[4096], want[512];
	vis_set *v = make_set(1), *w = NULL;
	double dut1 = 99, lst0[45], lst1[45];

	snprintf(path, sizeof path, "%s/provenance.uvh5", test_tmpdir());
	if (!v)
		return;
	CHECK(uvh5_writer_version()[0] != 0);
	printf("# writer version: %s\n", uvh5_writer_version());

	/* Uncalibrated, nothing known: the defaults. */
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err), err);
	raw_str(path, "Header/vis_units", s, sizeof s);
	CHECK(!strcmp(s, "uncalib"), "vis_units '%s'", s);
	CHECK(!raw_exists(path, "Header/x_orientation"), "%s", "x_orientation written though unknown");
	CHECK(!raw_read(path, "Header/dut1", H5T_NATIVE_DOUBLE, &dut1) && dut1 == 0, "dut1 %g", dut1);
	CHECK(!raw_read(path, "Header/lst_array", H5T_NATIVE_DOUBLE, lst0));
	raw_str(path, "Header/history", s, sizeof s);
	snprintf(want, sizeof want, "Written by contimg %s (UVH5, pyuvdata layout).",
		 uvh5_writer_version());
	CHECK(!strcmp(s, want), "history '%s'", s);

	/* Calibrated, with a history, a dut1 and a feed orientation. */
	snprintf(v->vis_units, sizeof v->vis_units, "Jy");
	snprintf(v->x_orientation, sizeof v->x_orientation, "north");
	v->dut1_s = -0.2345;
	CHECK_OK(vis_history_set(v, "first line"), "");
	CHECK_OK(vis_history_add(v, "contimg calibrate: applied the B table %s.", "/cal/b.h5"), "");
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err), err);
	raw_str(path, "Header/vis_units", s, sizeof s);
	CHECK(!strcmp(s, "Jy"), "vis_units '%s'", s);
	raw_str(path, "Header/x_orientation", s, sizeof s);
	CHECK(!strcmp(s, "north"), "x_orientation '%s'", s);
	CHECK(!raw_read(path, "Header/dut1", H5T_NATIVE_DOUBLE, &dut1) && dut1 == -0.2345,
	      "dut1 %g", dut1);
	raw_str(path, "Header/history", s, sizeof s);
	snprintf(want, sizeof want, "first line\ncontimg calibrate: applied the B table /cal/b.h5.\n"
		 "Written by contimg %s (UVH5, pyuvdata layout).", uvh5_writer_version());
	CHECK(!strcmp(s, want), "history '%s'", s);
	/* LST = GAST(UT1 = UTC + dut1): earlier by dut1 × 7.2921159e-5 rad/s. */
	CHECK(!raw_read(path, "Header/lst_array", H5T_NATIVE_DOUBLE, lst1));
	CHECK_NEAR(lst1[0] - lst0[0], -0.2345 * 7.2921159e-5, 1e-11);
	CHECK_NEAR(lst1[44] - lst0[44], -0.2345 * 7.2921159e-5, 1e-11);

	/* Read back: the set says the same (and the writer's line joins the history). */
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w) {
		CHECK(!strcmp(w->vis_units, "Jy") && !strcmp(w->x_orientation, "north") &&
		      w->dut1_s == -0.2345, "read back '%s' '%s' %g", w->vis_units, w->x_orientation,
		      w->dut1_s);
		CHECK(w->history && !strcmp(w->history, want), "history '%s'",
		      w->history ? w->history : "(none)");
		/* vis_dup keeps it all, with its own copy of the history. */
		vis_set *d = vis_dup(w);
		CHECK(d && d->history && d->history != w->history && !strcmp(d->history, w->history) &&
		      !strcmp(d->vis_units, "Jy") && d->dut1_s == w->dut1_s);
		vis_free(d);
	}

	/* What pyuvdata would not accept is refused, and no file is left. */
	unlink(path);
	snprintf(v->vis_units, sizeof v->vis_units, "Jansky");
	CHECK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err) == -EINVAL &&
	      strstr(err, "vis_units"), "%s", err);
	snprintf(v->vis_units, sizeof v->vis_units, "Jy");
	snprintf(v->x_orientation, sizeof v->x_orientation, "up");
	CHECK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err) == -EINVAL &&
	      strstr(err, "x_orientation"), "%s", err);
	v->x_orientation[0] = 0;
	v->dut1_s = 1.5;
	CHECK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err) == -EINVAL &&
	      strstr(err, "dut1"), "%s", err);
	CHECK(access(path, F_OK) != 0, "%s", "a refused write left a file");
	vis_free(w);
	vis_free(v);
}

/* The provenance of the real pyuvdata files, as they store it (HERA's
 * "NORTH" and "UNCALIB" in capitals, pyuvdata lowercases them). */
static void test_provenance_real(void)
{
	static const struct {
		const char *file, *units, *xorient, *history_start;
		double dut1;
	} cases[] = {
		{ "zen.2458661.23480.HH.uvh5", "uncalib", "north", "Wed Jun 26 16:07:13 2019: Template", 0 },
		{ "zen.2458098.45361.HH_downselected.uvh5", "uncalib", "east", "CORR-DACQ: created file.", 0 },
		{ "zen.2458432.34569.uvh5", "uncalib", "", "Fri Nov  9 20:14:18 2018: Template", 0 },
		{ "ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5", "uncalib", "",
		  "hpguppi_daq: plug_here", 0.0499653 },
		{ "1061315448_20130823175130_mini_vv_07_01.uvh5", "uncalib", "", "Created by user apache", 0 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char rel[256], err[ERR_LEN] = "";
		vis_set *v = NULL;

		snprintf(rel, sizeof rel, "uvh5-real/%s", cases[k].file);
		CHECK_OK(uvh5_read(test_data(rel), &v, err, sizeof err), err);
		if (!v)
			continue;
		CHECK(!strcmp(v->vis_units, cases[k].units), "%s: vis_units '%s'", cases[k].file,
		      v->vis_units);
		CHECK(!strcmp(v->x_orientation, cases[k].xorient), "%s: x_orientation '%s'",
		      cases[k].file, v->x_orientation);
		CHECK(v->history && !strncmp(v->history, cases[k].history_start,
					     strlen(cases[k].history_start)),
		      "%s: history '%.60s'", cases[k].file, v->history ? v->history : "(none)");
		CHECK_NEAR(v->dut1_s, cases[k].dut1, 1e-9);
		vis_free(v);
	}
	CHECK(vis_x_orientation_name("E") && !strcmp(vis_x_orientation_name("E"), "east"));
	CHECK(vis_x_orientation_name("NORTH") && !strcmp(vis_x_orientation_name("NORTH"), "north"));
	CHECK(!vis_x_orientation_name("up") && !vis_x_orientation_name(""));
}

/* Collect every dataset under a group: name, type, shape. */
struct dsrec {
	char name[128];
	hid_t type;
	int rank;
	hsize_t dims[4];
};
struct dslist {
	struct dsrec r[80];
	int n;
};

static herr_t visit_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
	struct dslist *l = data;
	if (info->type == H5O_TYPE_DATASET && l->n < 80) {
		hid_t d = H5Dopen2(obj, name, H5P_DEFAULT), sp = H5Dget_space(d);
		struct dsrec *r = &l->r[l->n++];
		snprintf(r->name, sizeof r->name, "%s", name);
		r->type = H5Dget_type(d);
		r->rank = H5Sget_simple_extent_ndims(sp);
		H5Sget_simple_extent_dims(sp, r->dims, NULL);
		H5Sclose(sp);
		H5Dclose(d);
	}
	return 0;
}

static void list_datasets(const char *path, struct dslist *l)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	l->n = 0;
	if (f >= 0) {
		H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, visit_cb, l);
		H5Fclose(f);
	}
}

/* Read a reference subband, write it in the DSA-110 layout, and compare the
 * two files dataset by dataset: names, HDF5 types and shapes must be the
 * reference's exactly (the only difference allowed: the history text). */
static void test_dsa110_layout_matches_reference(void)
{
	char path[600], err[ERR_LEN] = "", why[128] = "";
	vis_set *v = NULL, *w = NULL;
	static struct dslist ref, out;

	snprintf(path, sizeof path, "%s/rewrite_sb00.hdf5", test_tmpdir());
	CHECK_OK(uvh5_read(test_data(REF_SB00), &v, err, sizeof err), err);
	if (!v)
		return;
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err), err);
	list_datasets(test_data(REF_SB00), &ref);
	list_datasets(path, &out);
	CHECK(ref.n == 36 && out.n == ref.n, "%d datasets in the reference, %d written", ref.n, out.n);
	for (int i = 0; i < ref.n && i < out.n; i++) {
		const struct dsrec *a = &ref.r[i], *b = &out.r[i];
		int same_type = H5Tequal(a->type, b->type) > 0;
		CHECK(!strcmp(a->name, b->name), "dataset %d: %s vs %s", i, a->name, b->name);
		if (!strcmp(a->name, "Header/history"))
			same_type = H5Tget_class(a->type) == H5T_STRING &&
				    H5Tget_class(b->type) == H5T_STRING;
		CHECK(same_type, "%s: type differs from the reference", a->name);
		CHECK(a->rank == b->rank && !memcmp(a->dims, b->dims, a->rank * sizeof a->dims[0]),
		      "%s: shape differs from the reference", a->name);
	}
	for (int i = 0; i < ref.n; i++)
		H5Tclose(ref.r[i].type);
	for (int i = 0; i < out.n; i++)
		H5Tclose(out.r[i].type);
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w)
		CHECK(sets_equal(v, w, why, sizeof why), "rewritten reference differs: %s", why);
	vis_free(v);
	vis_free(w);
}

/* ---- chunked files (issue 19) ------------------------------------------- */

/* How a dataset is stored, as HDF5 itself reports it. */
struct storage {
	int chunked, rank, nfilters, unlimited;
	hsize_t dims[8], chunk[8];
	size_t typesize;
};

static int ds_storage(const char *path, const char *name, struct storage *s)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1, sp = -1, dcpl = -1, t = -1;
	hsize_t maxd[8];
	int r = -1;

	memset(s, 0, sizeof *s);
	if (f < 0)
		return -1;
	d = H5Dopen2(f, name, H5P_DEFAULT);
	if (d < 0)
		goto out;
	sp = H5Dget_space(d);
	dcpl = H5Dget_create_plist(d);
	t = H5Dget_type(d);
	s->rank = H5Sget_simple_extent_ndims(sp);
	if (s->rank < 1 || s->rank > 8)
		goto out;
	H5Sget_simple_extent_dims(sp, s->dims, maxd);
	s->unlimited = maxd[0] == H5S_UNLIMITED;
	s->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
	if (s->chunked)
		H5Pget_chunk(dcpl, s->rank, s->chunk);
	s->nfilters = H5Pget_nfilters(dcpl);
	s->typesize = H5Tget_size(t);
	r = 0;
out:
	if (t >= 0)
		H5Tclose(t);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (sp >= 0)
		H5Sclose(sp);
	if (d >= 0)
		H5Dclose(d);
	H5Fclose(f);
	return r;
}

/* uvh5_guess_chunk(shape) against the chunk shapes h5py chose for the real
 * files' Data/ arrays (pyuvdata writes them with chunks=True) and the
 * reference subbands (h5py, chunks=True): the same rule, or the simulator
 * could not claim to write the correlator's chunks. */
static void test_guess_chunk_matches_h5py(void)
{
	static const char *const files[] = {
		"uvh5-real/zen.2458661.23480.HH.uvh5",
		"uvh5-real/zen.2458432.34569.uvh5",
		"uvh5-real/zen.2458098.45361.HH_downselected.uvh5",
		"uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5",
		"uvh5-real/1061315448_20130823175130_mini_vv_07_01.uvh5",
		"uvh5-real/simulated_bda_file.uvh5",
		REF_SB00,
		REF_SB01,
	};
	static const char *const names[] = { "Data/visdata", "Data/flags", "Data/nsamples" };
	int n = 0;

	for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
		for (int j = 0; j < 3; j++) {
			struct storage s;
			unsigned long long shape[8], g[8];
			int same = 1;

			CHECK(ds_storage(test_data(files[k]), names[j], &s) == 0, "%s %s", files[k],
			      names[j]);
			if (!s.chunked)
				continue;
			for (int i = 0; i < s.rank; i++)
				shape[i] = s.dims[i];
			uvh5_guess_chunk(s.rank, shape, s.typesize, g);
			for (int i = 0; i < s.rank; i++)
				same &= g[i] == s.chunk[i];
			CHECK(same, "%s %s: h5py chose (%llu, %llu, %llu), we guess (%llu, %llu, %llu)",
			      files[k], names[j], (unsigned long long)s.chunk[0],
			      (unsigned long long)s.chunk[1], (unsigned long long)s.chunk[2], g[0], g[1],
			      g[2]);
			n++;
		}
	CHECK(n == 24, "%d chunked Data/ arrays in the real and reference files", n);
	printf("# uvh5_guess_chunk equals h5py's chunks on %d real/reference Data/ arrays\n", n);
	{
		/* What it gives for the correlator's datasets (created empty). */
		unsigned long long z4[4] = { 0, 1, 48, 2 }, z2[2] = { 0, 3 }, z1[1] = { 0 }, c[4];
		uvh5_guess_chunk(4, z4, 8, c);
		printf("# correlator: visdata (%llu, %llu, %llu, %llu)", c[0], c[1], c[2], c[3]);
		uvh5_guess_chunk(4, z4, 1, c);
		printf(", flags (%llu, %llu, %llu, %llu)", c[0], c[1], c[2], c[3]);
		uvh5_guess_chunk(4, z4, 4, c);
		printf(", nsamples (%llu, %llu, %llu, %llu)", c[0], c[1], c[2], c[3]);
		uvh5_guess_chunk(2, z2, 4, c);
		printf(", uvw_array (%llu, %llu)", c[0], c[1]);
		uvh5_guess_chunk(1, z1, 8, c);
		printf(", time_array (%llu)\n", c[0]);
	}
}

/* The DSA-110 layout by default is the correlator's storage: Data/ and the
 * per-row Header/ arrays resizable and chunked with h5py's shapes for empty
 * datasets, unfiltered; the contiguous variant is contiguous; both read
 * back identically; the pyuvdata layout stays contiguous unless asked. */
static void test_dsa110_chunked_layout(void)
{
	static const struct {
		const char *name;
		int rank;
		unsigned long long shape[4];
	} rows[] = {
		{ "Data/visdata", 4, { 0, 1, 4, 2 } },
		{ "Data/flags", 4, { 0, 1, 4, 2 } },
		{ "Data/nsamples", 4, { 0, 1, 4, 2 } },
		{ "Header/ant_1_array", 1, { 0 } },
		{ "Header/ant_2_array", 1, { 0 } },
		{ "Header/time_array", 1, { 0 } },
		{ "Header/integration_time", 1, { 0 } },
		{ "Header/uvw_array", 2, { 0, 3 } },
	};
	char path[600], path2[600], path3[600], err[ERR_LEN] = "", why[128] = "";
	vis_set *v = make_set(0), *w = NULL, *x = NULL;
	uvh5_write_opts o;
	struct storage s;

	if (!v)
		return;
	snprintf(path, sizeof path, "%s/chunked.hdf5", test_tmpdir());
	snprintf(path2, sizeof path2, "%s/contig.hdf5", test_tmpdir());
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err), err);
	memset(&o, 0, sizeof o);
	o.layout = UVH5_LAYOUT_DSA110;
	o.storage = UVH5_STORAGE_CONTIGUOUS;
	CHECK_OK(uvh5_write_with(path2, v, &o, err, sizeof err), err);
	for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
		unsigned long long g[4];
		int same = 1;

		CHECK(ds_storage(path, rows[k].name, &s) == 0, "%s", rows[k].name);
		uvh5_guess_chunk(rows[k].rank, rows[k].shape, s.typesize, g);
		for (int i = 0; i < rows[k].rank; i++)
			same &= s.chunk[i] == g[i];
		CHECK(s.chunked && s.unlimited && s.nfilters == 0 && same && s.dims[0] == 45,
		      "%s: chunked %d unlimited %d filters %d chunk %llu", rows[k].name, s.chunked,
		      s.unlimited, s.nfilters, (unsigned long long)s.chunk[0]);
		CHECK(ds_storage(path2, rows[k].name, &s) == 0 && !s.chunked && !s.unlimited &&
		      s.dims[0] == 45, "%s: contiguous variant", rows[k].name);
	}
	CHECK(ds_storage(path, "Header/antenna_positions", &s) == 0 && !s.chunked,
	      "antenna_positions chunked");
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	CHECK_OK(uvh5_read(path2, &x, err, sizeof err), err);
	if (w)
		CHECK(sets_equal(v, w, why, sizeof why), "chunked file differs: %s", why);
	if (x)
		CHECK(sets_equal(v, x, why, sizeof why), "contiguous file differs: %s", why);
	vis_free(w);
	vis_free(x);
	w = x = NULL;

	/* The pyuvdata layout: contiguous by default; chunked on request with
	 * h5py's shape for the full, fixed shape (pyuvdata's chunks=True). */
	vis_free(v);
	v = make_set(1);
	snprintf(path3, sizeof path3, "%s/pyuv_chunked.uvh5", test_tmpdir());
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_PYUVDATA, err, sizeof err), err);
	CHECK(ds_storage(path, "Data/visdata", &s) == 0 && !s.chunked, "pyuvdata default chunked");
	o.layout = UVH5_LAYOUT_PYUVDATA;
	o.storage = UVH5_STORAGE_CHUNKED;
	CHECK_OK(uvh5_write_with(path3, v, &o, err, sizeof err), err);
	{
		unsigned long long shape[3] = { 45, 4, 2 }, g[3];
		uvh5_guess_chunk(3, shape, 8, g);
		CHECK(ds_storage(path3, "Data/visdata", &s) == 0 && s.chunked && !s.unlimited &&
		      s.chunk[0] == g[0] && s.chunk[1] == g[1] && s.chunk[2] == g[2],
		      "pyuvdata chunked: %d %llu", s.chunked, (unsigned long long)s.chunk[0]);
		CHECK(ds_storage(path3, "Header/time_array", &s) == 0 && !s.chunked);
	}
	CHECK_OK(uvh5_read(path3, &w, err, sizeof err), err);
	if (w)
		CHECK(sets_equal(v, w, why, sizeof why), "chunked pyuvdata file differs: %s", why);

	/* Refused: an unknown storage, a chunk with a zero axis or wider than
	 * the channel axis; no file is left behind. */
	o.layout = UVH5_LAYOUT_PYUVDATA;
	o.storage = 7;
	unlink(path3);
	CHECK(uvh5_write_with(path3, v, &o, err, sizeof err) == -EINVAL && strstr(err, "storage"),
	      "%s", err);
	o.storage = UVH5_STORAGE_CHUNKED;
	o.data_chunk[0][0] = 5, o.data_chunk[0][1] = 0, o.data_chunk[0][2] = 1;
	CHECK(uvh5_write_with(path3, v, &o, err, sizeof err) == -EINVAL && strstr(err, "chunk"),
	      "%s", err);
	o.data_chunk[0][1] = 5; /* 5 channels of 4 */
	CHECK(uvh5_write_with(path3, v, &o, err, sizeof err) == -EINVAL, "%s", err);
	CHECK(access(path3, F_OK) != 0, "refused write left a file");
	vis_free(v);
	vis_free(w);
}

/* A set whose shape no chunk divides: 5 integrations x 13 baselines = 65
 * rows, 5 channels, 2 pols; values all distinct, with NaN/Inf visibilities,
 * non-finite weights and input flags sprinkled in. */
static vis_set *make_odd_set(void)
{
	vis_set *v = make_set(0), *o;
	uint64_t x = 12345;

	if (!v)
		return NULL;
	o = vis_new(5, 13, 5, 2, v->nants);
	if (!o) {
		vis_free(v);
		return NULL;
	}
	memcpy(o->ants, v->ants, v->nants * sizeof *o->ants);
	memcpy(o->ant1, v->ant1, 13 * sizeof *o->ant1);
	memcpy(o->ant2, v->ant2, 13 * sizeof *o->ant2);
	o->nants_data = 5;
	o->lat_rad = v->lat_rad, o->lon_rad = v->lon_rad, o->alt_m = v->alt_m;
	for (int t = 0; t < 5; t++)
		o->time_jd[t] = 2461100.5 + t * 12.884901888 / 86400;
	o->int_time_s = v->int_time_s;
	for (int c = 0; c < 5; c++)
		o->freq_hz[c] = 1.4e9 - c * 244140.625;
	o->chan_width_hz = 244140.625;
	o->pols[0] = -5, o->pols[1] = -6;
	for (size_t r = 0; r < 65 * 3; r++)
		o->uvw_m[r] = (double)(float)(0.37 * r - 3);
	o->phase_type = VIS_PHASE_DRIFT;
	o->phase_dec_rad = o->pointing_dec_rad = v->phase_dec_rad;
	o->has_pointing_dec = 1;
	snprintf(o->telescope, sizeof o->telescope, "OVRO_MMA");
	snprintf(o->instrument, sizeof o->instrument, "DSA");
	for (size_t i = 0; i < vis_nsamples(o); i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		o->vis[i] = (float)(x >> 40) / 1024.0f - 8000.0f + I * ((float)(i % 97) - 48.5f);
		o->weight[i] = (float)(1 + (x >> 60));
		o->flags[i] = (x >> 20) % 13 == 0 ? VIS_FLAG_INPUT : 0;
	}
	o->vis[7] = NAN;
	o->vis[300] = 2.0f + I * -INFINITY;
	o->weight[301] = INFINITY;
	o->weight[640] = NAN;
	o->vis[649] = INFINITY; /* the very last sample */
	vis_free(v);
	return o;
}

/* uvh5_raw_read_rows on every storage the reader can meet gives exactly what
 * the HDF5 path (uvh5_read) gives on the contiguous file: contiguous, the
 * h5py chunks (one partial chunk row, channels split 3 + 2, pols split),
 * chunk shapes that divide nothing (rows 7, 4 and 100 > 65 rows; channels
 * 2 + 2 + 1) read through the chunk map, the same in HDF5's newest format
 * (no map: H5Dread_chunk), and one-sample chunks; any block of rows, at
 * any start, into any channels of a bigger set. */
static void test_raw_read_rows(void)
{
	static const struct {
		const char *name;
		int storage, latest, kind;
		unsigned long long chunk[3][4];
	} cases[] = {
		{ "contiguous", UVH5_STORAGE_CONTIGUOUS, 0, UVH5_RAW_CONTIGUOUS, { { 0 } } },
		{ "h5py", UVH5_STORAGE_CHUNKED, 0, UVH5_RAW_CHUNKS_MAPPED, { { 0 } } },
		{ "odd", UVH5_STORAGE_CHUNKED, 0, UVH5_RAW_CHUNKS_MAPPED,
		  { { 7, 1, 2, 1 }, { 4, 1, 5, 2 }, { 100, 1, 3, 1 } } },
		{ "odd-latest", UVH5_STORAGE_CHUNKED, 1, UVH5_RAW_CHUNKS_HDF5,
		  { { 7, 1, 2, 1 }, { 4, 1, 5, 2 }, { 100, 1, 3, 1 } } },
		{ "tiny", UVH5_STORAGE_CHUNKED, 0, UVH5_RAW_CHUNKS_MAPPED,
		  { { 65, 1, 5, 2 }, { 1, 1, 1, 1 }, { 13, 1, 5, 1 } } },
	};
	static const size_t windows[][2] = { { 0, 65 }, { 3, 14 }, { 20, 1 }, { 60, 5 }, { 6, 52 } };
	char err[ERR_LEN] = "", why[128] = "";
	vis_set *v = make_odd_set(), *ref = NULL;
	int map[5];

	if (!v)
		return;
	for (int j = 0; j < 5; j++)
		map[j] = 6 - j; /* into channels 6..2 of a 7-channel set, reversed */
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char path[600];
		uvh5_write_opts o;
		uvh5_raw *r = NULL;
		vis_set *w = NULL, *g = vis_new(5, 13, 7, 2, 0);
		void *scratch = NULL;
		size_t bad = 0, untouched = 0;

		snprintf(path, sizeof path, "%s/raw_%s.hdf5", test_tmpdir(), cases[k].name);
		memset(&o, 0, sizeof o);
		o.layout = UVH5_LAYOUT_DSA110;
		o.storage = cases[k].storage;
		o.latest_format = cases[k].latest;
		memcpy(o.data_chunk, cases[k].chunk, sizeof o.data_chunk);
		CHECK_OK(uvh5_write_with(path, v, &o, err, sizeof err), err);
		CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
		if (!ref && w) {
			ref = w; /* the HDF5 path on the contiguous file */
			w = NULL;
		} else if (w && ref) {
			CHECK(!memcmp(w->vis, ref->vis, vis_nsamples(ref) * sizeof *ref->vis) &&
			      !memcmp(w->flags, ref->flags, vis_nsamples(ref)) &&
			      !memcmp(w->weight, ref->weight, vis_nsamples(ref) * sizeof *ref->weight),
			      "%s: the HDF5 path differs", cases[k].name);
		}
		CHECK_OK(uvh5_raw_open(path, 65, 5, 2, &r, why, sizeof why, err, sizeof err), err);
		CHECK(r != NULL, "%s: no raw path: %s", cases[k].name, why);
		if (!r || !g || !ref)
			goto next;
		CHECK(uvh5_raw_kind(r) == cases[k].kind, "%s: kind %d", cases[k].name,
		      uvh5_raw_kind(r));
		scratch = malloc(uvh5_raw_scratch_bytes(r, 65));
		if (!scratch)
			goto next;
		for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
			const size_t r0 = windows[wi][0], nr = windows[wi][1];
			for (size_t i = 0; i < vis_nsamples(g); i++) {
				g->vis[i] = 99;
				g->flags[i] = 0x80;
				g->weight[i] = -1;
			}
			CHECK_OK(uvh5_raw_read_rows(r, r0, nr, g, map, scratch, err, sizeof err), err);
			for (size_t row = 0; row < 65; row++)
				for (int c = 0; c < 7; c++)
					for (int p = 0; p < 2; p++) {
						size_t gi = (row * 7 + c) * 2 + p;
						int in = row >= r0 && row < r0 + nr && c >= 2;
						if (!in) {
							untouched += g->vis[gi] == 99 && g->flags[gi] == 0x80 &&
								     g->weight[gi] == -1;
							continue;
						}
						size_t ri = (row * 5 + (size_t)(6 - c)) * 2 + p;
						bad += memcmp(&g->vis[gi], &ref->vis[ri], sizeof g->vis[gi]) ||
						       g->flags[gi] != ref->flags[ri] ||
						       memcmp(&g->weight[gi], &ref->weight[ri], sizeof g->weight[gi]);
					}
			CHECK(untouched == 65 * 7 * 2 - nr * 5 * 2, "%s: window %zu+%zu wrote %zu "
			      "samples outside it", cases[k].name, r0, nr,
			      65 * 7 * 2 - nr * 5 * 2 - untouched);
			untouched = 0;
		}
		/* Blocks of 6 rows (never a multiple of a chunk) cover the file. */
		for (size_t r0 = 0; r0 < 65; r0 += 6)
			CHECK_OK(uvh5_raw_read_rows(r, r0, r0 + 6 <= 65 ? 6 : 65 - r0, g, map, scratch,
						    err, sizeof err), err);
		for (size_t row = 0; row < 65; row++)
			for (int j = 0; j < 5; j++)
				for (int p = 0; p < 2; p++) {
					size_t gi = (row * 7 + (size_t)map[j]) * 2 + p, ri = (row * 5 + j) * 2 + p;
					bad += memcmp(&g->vis[gi], &ref->vis[ri], sizeof g->vis[gi]) ||
					       g->flags[gi] != ref->flags[ri] || g->weight[gi] != ref->weight[ri];
				}
		CHECK(bad == 0, "%s: %zu samples differ from the HDF5 path", cases[k].name, bad);
		/* The NaN rule on this path too. */
		CHECK((g->flags[(0 * 7 + 3) * 2 + 1] & VIS_FLAG_NONFINITE) && g->vis[(0 * 7 + 3) * 2 + 1] == 0,
		      "%s: NaN sample (row 0, channel 3, pol 1) not zeroed and flagged", cases[k].name);
		CHECK(uvh5_raw_read_rows(r, 60, 6, g, map, scratch, err, sizeof err) == -EINVAL,
		      "%s: rows past the end accepted", cases[k].name);
		printf("# %s: kind %d, block rows %zu, scratch %zu bytes for 65 rows: identical\n",
		       cases[k].name, uvh5_raw_kind(r), uvh5_raw_block_rows(r, 6),
		       uvh5_raw_scratch_bytes(r, 65));
	next:
		free(scratch);
		uvh5_raw_close(r);
		vis_free(w);
		vis_free(g);
	}
	{
		/* Block rows: whole chunks of every array (lcm of 7, 4 and 100). */
		char path[600];
		uvh5_raw *r = NULL;
		snprintf(path, sizeof path, "%s/raw_odd.hdf5", test_tmpdir());
		CHECK_OK(uvh5_raw_open(path, 65, 5, 2, &r, why, sizeof why, err, sizeof err), err);
		CHECK(r && uvh5_raw_block_rows(r, 10) == 700 && uvh5_raw_block_rows(r, 701) == 1400,
		      "block rows %zu", r ? uvh5_raw_block_rows(r, 10) : 0);
		uvh5_raw_close(r);
	}
	vis_free(ref);
	vis_free(v);
}

/* Files the raw path must leave to HDF5, and damage it must report. */
static void test_raw_refusals(void)
{
	static const struct {
		const char *file, *why;
		size_t nrows;
		int nf, np;
	} cases[] = {
		{ "uvh5-real/zen.2458098.45361.HH_downselected.uvh5", "compressed", 360, 64, 2 },
		{ "uvh5-real/zen.2458432.34569.uvh5", "conversion", 80, 64, 4 },
		{ "uvh5-real/1061315448_20130823175130_mini_vv_07_01.uvh5", "conversion", 8256, 1, 4 },
		{ REF_SB00, "shape", 7201, 6, 2 },
	};
	char err[ERR_LEN] = "", why[128];

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uvh5_raw *r = (uvh5_raw *)1;
		CHECK_OK(uvh5_raw_open(test_data(cases[k].file), cases[k].nrows, cases[k].nf,
				       cases[k].np, &r, why, sizeof why, err, sizeof err), err);
		CHECK(r == NULL && strstr(why, cases[k].why), "%s: '%s'", cases[k].file, why);
		printf("# %s: %s\n", cases[k].file, why);
	}
	/* The reference subbands (h5py, chunked, unfiltered) qualify. */
	{
		uvh5_raw *r = NULL;
		CHECK_OK(uvh5_raw_open(test_data(REF_SB00), 7200, 6, 2, &r, why, sizeof why, err,
				       sizeof err), err);
		CHECK(r && uvh5_raw_kind(r) == UVH5_RAW_CHUNKS_MAPPED, "reference: %s", why);
		uvh5_raw_close(r);
	}
	/* A file cut short: HDF5 refuses to open it (so neither path takes it);
	 * cut after opening, the chunk map's reads fail with the file and the
	 * dataset named.  (HDF5's own reads, the generic path and H5Dread_chunk,
	 * return zeros past the end of a file cut after opening.) */
	for (int latest = 0; latest < 2; latest++) {
		char path[600];
		uvh5_write_opts o;
		vis_set *v = make_odd_set(), *g = vis_new(5, 13, 5, 2, 0);
		uvh5_raw *r = NULL;
		void *scratch = NULL;
		int map[5] = { 0, 1, 2, 3, 4 }, rc;
		struct stat st;

		snprintf(path, sizeof path, "%s/cut%d.hdf5", test_tmpdir(), latest);
		memset(&o, 0, sizeof o);
		o.layout = UVH5_LAYOUT_DSA110;
		o.storage = UVH5_STORAGE_CHUNKED;
		o.latest_format = latest;
		o.data_chunk[0][0] = 7, o.data_chunk[0][1] = 1, o.data_chunk[0][2] = 2;
		o.data_chunk[0][3] = 1;
		if (!v || !g || uvh5_write_with(path, v, &o, err, sizeof err)) {
			CHECK(0, "cannot write %s: %s", path, err);
			goto next;
		}
		CHECK_OK(uvh5_raw_open(path, 65, 5, 2, &r, why, sizeof why, err, sizeof err), err);
		scratch = r ? malloc(uvh5_raw_scratch_bytes(r, 65)) : NULL;
		if (!r || !scratch || stat(path, &st) || truncate(path, st.st_size / 3)) {
			CHECK(0, "setting up the cut file: %s", why);
			goto next;
		}
		err[0] = 0;
		rc = uvh5_raw_read_rows(r, 0, 65, g, map, scratch, err, sizeof err);
		if (!latest) {
			CHECK(rc == -EIO && strstr(err, path) && strstr(err, "Data/"),
			      "cut file: %d '%s'", rc, err);
			printf("# file cut after opening, chunk map: %s\n", err);
		}
		uvh5_raw_close(r);
		r = (uvh5_raw *)1;
		CHECK_OK(uvh5_raw_open(path, 65, 5, 2, &r, why, sizeof why, err, sizeof err), err);
		CHECK(r == NULL && strstr(why, "cannot open"), "cut file opened: '%s'", why);
		r = NULL;
	next:
		free(scratch);
		uvh5_raw_close(r);
		vis_free(v);
		vis_free(g);
	}
}

/* NaN and Inf in visdata: flagged VIS_FLAG_NONFINITE, zeroed; the rest intact. */
static void test_nonfinite(void)
{
	char path[600], err[ERR_LEN] = "";
	vis_set *v = make_set(0), *w = NULL;

	snprintf(path, sizeof path, "%s/nan.hdf5", test_tmpdir());
	if (!v)
		return;
	v->vis[5] = NAN;
	v->vis[6] = 1.0f + I * INFINITY;
	v->vis[3] = -INFINITY; /* also input-flagged (3 % 11 == 3) */
	CHECK_OK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err), err);
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w) {
		CHECK(w->flags[5] == VIS_FLAG_NONFINITE && w->vis[5] == 0);
		CHECK(w->flags[6] == VIS_FLAG_NONFINITE && w->vis[6] == 0);
		CHECK(w->flags[3] == (VIS_FLAG_NONFINITE | VIS_FLAG_INPUT) && w->vis[3] == 0);
		CHECK(w->flags[4] == 0 && w->vis[4] == v->vis[4] && w->weight[5] == v->weight[5]);
	}
	vis_free(v);
	vis_free(w);
}

/* uvh5_read_into: two reference subbands side by side in one combined set
 * equal the two files read separately; bad targets are refused. */
static void test_read_into(void)
{
	char err[ERR_LEN] = "";
	vis_set *a = NULL, *b = NULL, *m = NULL, *g = NULL;
	size_t bad = 0;

	CHECK_OK(uvh5_read(test_data(REF_SB00), &a, err, sizeof err), err);
	CHECK_OK(uvh5_read(test_data(REF_SB01), &b, err, sizeof err), err);
	CHECK_OK(uvh5_read_meta(test_data(REF_SB00), &m, err, sizeof err), err);
	if (!a || !b || !m)
		goto out;
	CHECK(m->vis[0] == 0 && m->weight[0] == 1 && m->ntimes == 24 && m->nchan == 6);
	g = vis_new(24, 300, 12, 2, 0);
	if (!g)
		goto out;
	memcpy(g->ant1, m->ant1, 300 * sizeof *g->ant1);
	memcpy(g->ant2, m->ant2, 300 * sizeof *g->ant2);
	memcpy(g->pols, m->pols, sizeof g->pols);
	CHECK_OK(uvh5_read_into(test_data(REF_SB00), g, 0, err, sizeof err), err);
	CHECK_OK(uvh5_read_into(test_data(REF_SB01), g, 6, err, sizeof err), err);
	for (int r = 0; r < 7200; r++)
		for (int c = 0; c < 12; c++)
			for (int p = 0; p < 2; p++) {
				const vis_set *s = c < 6 ? a : b;
				size_t i = ((size_t)r * 12 + c) * 2 + p;
				size_t j = ((size_t)r * 6 + c % 6) * 2 + p;
				bad += g->vis[i] != s->vis[j] || g->weight[i] != s->weight[j] ||
				       g->flags[i] != s->flags[j];
			}
	CHECK(bad == 0, "%zu samples differ", bad);
	/* Out of range channel offset; wrong baseline order; wrong shape. */
	CHECK(uvh5_read_into(test_data(REF_SB00), g, 7, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "sb00.hdf5") != NULL, "%s", err);
	g->ant1[3] = 99;
	CHECK(uvh5_read_into(test_data(REF_SB00), g, 0, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "baseline 3") != NULL, "%s", err);
	g->ant1[3] = m->ant1[3];
	g->pols[0] = -6;
	CHECK(uvh5_read_into(test_data(REF_SB00), g, 0, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "polarisation 0 is XX") != NULL, "%s", err);
	vis_free(g);
	g = vis_new(23, 300, 12, 2, 0);
	if (g)
		CHECK(uvh5_read_into(test_data(REF_SB00), g, 0, err, sizeof err) == -EINVAL);
out:
	vis_free(a);
	vis_free(b);
	vis_free(m);
	vis_free(g);
}

struct thr {
	const char *path;
	vis_set *g;
	int chan0, r;
	char err[ERR_LEN];
};

static void *thr_read(void *arg)
{
	struct thr *t = arg;
	uvh5_header h;
	/* Mix header reads in, as the daemon's watcher and workers would. */
	t->r = uvh5_read_header(t->path, &h, t->err, sizeof t->err);
	if (!t->r)
		t->r = uvh5_read_into(t->path, t->g, t->chan0, t->err, sizeof t->err);
	return NULL;
}

/* Four subbands read into one group by four threads at once equal the
 * same subbands read one by one (HDF5 is thread-safe; uvh5 keeps no state). */
static void test_threads(void)
{
	static const char *const rel[4] = {
		"reference/cal-0834/2026-03-01T05:49:15_sb00.hdf5",
		"reference/cal-0834/2026-03-01T05:49:14_sb01.hdf5",
		"reference/cal-0834/2026-03-01T05:49:15_sb02.hdf5",
		"reference/cal-0834/2026-03-01T05:49:15_sb03.hdf5",
	};
	vis_set *g = vis_new(24, 300, 24, 2, 0), *s = vis_new(24, 300, 24, 2, 0);
	struct thr t[4];
	pthread_t id[4];
	char err[ERR_LEN] = "";

	if (!g || !s)
		goto out;
	for (int k = 0; k < 4; k++) {
		t[k].path = strdup(test_data(rel[k]));
		t[k].g = g;
		t[k].chan0 = 6 * k;
		t[k].err[0] = 0;
		CHECK(pthread_create(&id[k], NULL, thr_read, &t[k]) == 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(id[k], NULL);
		CHECK(t[k].r == 0, "%s", t[k].err);
		CHECK_OK(uvh5_read_into(t[k].path, s, 6 * k, err, sizeof err), err);
		free((void *)t[k].path);
	}
	CHECK(!memcmp(g->vis, s->vis, vis_nsamples(g) * sizeof *g->vis) &&
	      !memcmp(g->weight, s->weight, vis_nsamples(g) * sizeof *g->weight) &&
	      !memcmp(g->flags, s->flags, vis_nsamples(g)), "threaded read differs");
out:
	vis_free(g);
	vis_free(s);
}

static void test_basic_errors(void)
{
	char err[ERR_LEN] = "", path[600];
	uvh5_header h;
	vis_set *v = NULL;
	FILE *f;

	CHECK(uvh5_read_header("/nonexistent/x.hdf5", &h, err, sizeof err) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/x.hdf5") != NULL, "%s", err);
	CHECK(uvh5_read_header(test_tmpdir(), &h, err, sizeof err) < 0);
	CHECK(strstr(err, "directory") != NULL, "%s", err);
	snprintf(path, sizeof path, "%s/text.hdf5", test_tmpdir());
	f = fopen(path, "w");
	if (f) {
		fputs("this is not HDF5\n", f);
		fclose(f);
	}
	CHECK(uvh5_read(path, &v, err, sizeof err) == -EIO && v == NULL);
	CHECK(strstr(err, path) && strstr(err, "not an HDF5 file"), "%s", err);
	/* The gains file is HDF5 but not UVH5. */
	CHECK(uvh5_read_header(test_data(REF_GAINS), &h, err, sizeof err) < 0);
	CHECK(strstr(err, "Header") != NULL, "%s", err);
	/* Writing into a missing directory fails cleanly. */
	v = make_set(0);
	if (v)
		CHECK(uvh5_write("/nonexistent/dir/x.hdf5", v, UVH5_LAYOUT_DSA110, err, sizeof err) < 0);
	CHECK(strstr(err, "/nonexistent/dir/x.hdf5") != NULL, "%s", err);
	vis_free(v);
}

/* uvh5_read_header_image on a file held in memory equals the path read. */
static void test_header_image(void)
{
	const char *path = test_data(REF_SB00);
	char err[ERR_LEN] = "";
	uvh5_header a, b;
	unsigned char *buf = NULL;
	long n = 0;
	FILE *f = fopen(path, "rb");

	if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		buf = malloc(n);
		if (buf && fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	if (f)
		fclose(f);
	CHECK(buf != NULL);
	if (!buf)
		return;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	CHECK_OK(uvh5_read_header(path, &a, err, sizeof err), err);
	CHECK_OK(uvh5_read_header_image(buf, n, "sb00-in-memory", &b, err, sizeof err), err);
	CHECK(!memcmp(&a, &b, sizeof a), "headers differ");
	CHECK(uvh5_read_header_image(buf + 8, n - 8, "shifted", &b, err, sizeof err) < 0);
	CHECK(strstr(err, "shifted") && strstr(err, "not an HDF5 file"), "%s", err);
	CHECK(uvh5_read_header_image(buf, 4096, "cut", &b, err, sizeof err) < 0);
	CHECK(strstr(err, "cut: ") != NULL, "%s", err);
	free(buf);
}

/* uvh5_write refuses sets it cannot describe, without leaving a file. */
static void test_write_refusals(void)
{
	char path[600], err[ERR_LEN] = "";
	vis_set *v = make_set(0);

	snprintf(path, sizeof path, "%s/refused.hdf5", test_tmpdir());
	if (!v)
		return;
	CHECK(uvh5_write(path, v, 7, err, sizeof err) == -EINVAL && strstr(err, "layout"));
	v->ant2[4] = 99; /* not in the antenna table */
	CHECK(uvh5_write(path, v, UVH5_LAYOUT_DSA110, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "antenna 99") != NULL, "%s", err);
	CHECK(access(path, F_OK) != 0, "a refused write left %s behind", path);
	CHECK(uvh5_write(NULL, v, UVH5_LAYOUT_DSA110, err, sizeof err) == -EINVAL);
	vis_free(v);
}

int main(void)
{
	RUN(test_pol_names);
	RUN_REF(test_reference_header);
	RUN_REF(test_reference_read);
	RUN_REF(test_header_axes);
	RUN(test_real_files);
	RUN(test_real_values);
	RUN(test_roundtrip_dsa110);
	RUN(test_roundtrip_pyuvdata);
	RUN(test_pyuvdata_lst_vs_ata);
	RUN(test_provenance_pyuvdata);
	RUN(test_provenance_real);
	RUN_REF(test_dsa110_layout_matches_reference);
	RUN_REF(test_guess_chunk_matches_h5py);
	RUN(test_dsa110_chunked_layout);
	RUN(test_raw_read_rows);
	RUN_REF(test_raw_refusals);
	RUN(test_nonfinite);
	RUN_REF(test_read_into);
	RUN_REF(test_header_image);
	RUN(test_write_refusals);
	RUN_REF(test_threads);
	RUN_REF(test_basic_errors);
	return TEST_DONE();
}
