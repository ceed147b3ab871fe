/*
 * tests/core/test_gaintab.c — gain tables: the on-disk layout (checked with
 * the HDF5 API, independently of our reader), write/read round trips, the
 * reference truth gains, and the V_obs = g1 V conj(g2) convention when
 * applying them.
 */
#include <complex.h>
#include <hdf5.h>
#include <math.h>

#include "core/err.h"
#include "core/gaintab.h"
#include "core/vis.h"
#include "tests/test.h"

static gaintab *sample_table(int ntime)
{
	gaintab *g = gaintab_new(ntime, 3, 4, 2);
	if (!g)
		return NULL;
	for (size_t i = 0; i < (size_t)ntime * 3 * 4 * 2; i++) {
		g->gain[i] = (float)(1 + 0.01 * i) * cexpf(I * (float)(0.1 * i));
		g->snr[i] = 10.0f + i;
		g->flag[i] = (i % 7) == 3;
	}
	for (int a = 0; a < 3; a++)
		g->antenna_numbers[a] = 5 + 2 * a;
	for (int c = 0; c < 4; c++)
		g->freq_hz[c] = 1.3e9 + c * 1e6;
	for (int t = 0; t < ntime; t++)
		g->time_mjd[t] = 61100.25 + t * 0.001;
	snprintf(g->type, sizeof g->type, "%s", ntime == 1 ? "B" : "G");
	g->refant = 7;
	g->valid_start_mjd = 61100.2;
	g->valid_end_mjd = 61101.2;
	snprintf(g->source_group, sizeof g->source_group, "2026-03-01T05:49:14");
	snprintf(g->calibrator, sizeof g->calibrator, "0834+555");
	return g;
}

/* A variable-length string attribute of obj into buf ("" when absent). */
static void read_str_attr(hid_t obj, const char *name, char *buf, size_t len)
{
	hid_t a, t;
	char *s = NULL;

	buf[0] = 0;
	if (H5Aexists(obj, name) <= 0)
		return;
	a = H5Aopen(obj, name, H5P_DEFAULT);
	t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	if (H5Aread(a, t, &s) >= 0 && s) {
		snprintf(buf, len, "%s", s);
		H5free_memory(s);
	}
	H5Tclose(t);
	H5Aclose(a);
}

/* Check the file's gains dataset with plain HDF5 calls. */
static void check_layout(const char *path, int want_rank, const hsize_t *want_dims)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, s, t;
	hsize_t dims[4];

	CHECK(f >= 0, "%s", path);
	if (f < 0)
		return;
	d = H5Dopen2(f, "gains", H5P_DEFAULT);
	s = H5Dget_space(d);
	t = H5Dget_type(d);
	CHECK(H5Sget_simple_extent_ndims(s) == want_rank, "rank %d", H5Sget_simple_extent_ndims(s));
	H5Sget_simple_extent_dims(s, dims, NULL);
	for (int i = 0; i < want_rank; i++)
		CHECK(dims[i] == want_dims[i], "dim %d = %llu", i, (unsigned long long)dims[i]);
	CHECK(H5Tget_class(t) == H5T_COMPOUND && H5Tget_nmembers(t) == 2, "%s", "gains not compound");
	{
		char *m0 = H5Tget_member_name(t, 0), *m1 = H5Tget_member_name(t, 1);
		CHECK(!strcmp(m0, "r") && !strcmp(m1, "i"), "members %s %s", m0, m1);
		H5free_memory(m0);
		H5free_memory(m1);
	}
	CHECK(H5Aexists(f, "type") > 0 && H5Aexists(f, "refant") > 0 && H5Aexists(f, "valid_start_mjd") > 0 &&
	      H5Aexists(f, "valid_end_mjd") > 0 && H5Aexists(f, "source_group") > 0 &&
	      H5Aexists(f, "calibrator") > 0, "%s", "attributes missing");
	{
		/* The gain convention, in pyuvdata UVCal's terms, for readers of the file. */
		char conv[512] = "", gconv[32] = "";
		read_str_attr(f, "convention", conv, sizeof conv);
		read_str_attr(f, "gain_convention", gconv, sizeof gconv);
		CHECK(!strcmp(gconv, "divide"), "gain_convention '%s'", gconv);
		CHECK(strstr(conv, "V_true = V_obs / (g[a1] g[a2]^*)") && strstr(conv, "exp(+2 pi i"),
		      "convention '%s'", conv);
	}
	CHECK(H5Lexists(f, "flags", H5P_DEFAULT) > 0 && H5Lexists(f, "snr", H5P_DEFAULT) > 0 &&
	      H5Lexists(f, "antenna_numbers", H5P_DEFAULT) > 0 && H5Lexists(f, "freq_hz", H5P_DEFAULT) > 0 &&
	      H5Lexists(f, "time_mjd", H5P_DEFAULT) > 0, "%s", "datasets missing");
	H5Tclose(t);
	H5Sclose(s);
	H5Dclose(d);
	H5Fclose(f);
}

static void roundtrip(int ntime)
{
	char path[1024], err[ERR_LEN] = "";
	gaintab *g = sample_table(ntime), *h = NULL;
	hsize_t d3[3] = {3, 4, 2}, d4[4] = {(hsize_t)ntime, 3, 4, 2};

	CHECK(g != NULL, "%s", "alloc");
	if (!g)
		return;
	snprintf(path, sizeof path, "%s/g%d.h5", test_tmpdir(), ntime);
	CHECK_OK(gaintab_write(path, g, err, sizeof err), err);
	check_layout(path, ntime == 1 ? 3 : 4, ntime == 1 ? d3 : d4);
	CHECK_OK(gaintab_read(path, &h, err, sizeof err), err);
	if (h) {
		size_t n = (size_t)ntime * 3 * 4 * 2;
		CHECK(h->ntime == ntime && h->nant == 3 && h->nchan == 4 && h->npol == 2, "%s", "shape");
		CHECK(!memcmp(h->gain, g->gain, n * sizeof *g->gain), "%s", "gains differ");
		CHECK(!memcmp(h->flag, g->flag, n), "%s", "flags differ");
		CHECK(!memcmp(h->snr, g->snr, n * sizeof *g->snr), "%s", "snr differ");
		CHECK(!memcmp(h->antenna_numbers, g->antenna_numbers, 3 * sizeof(int)), "%s", "ants");
		CHECK(!memcmp(h->freq_hz, g->freq_hz, 4 * sizeof(double)), "%s", "freqs");
		CHECK(!memcmp(h->time_mjd, g->time_mjd, ntime * sizeof(double)), "%s", "times");
		CHECK(!strcmp(h->type, g->type), "type %s", h->type);
		CHECK(h->refant == 7, "refant %d", h->refant);
		CHECK(h->valid_start_mjd == g->valid_start_mjd && h->valid_end_mjd == g->valid_end_mjd, "%s", "validity");
		CHECK(!strcmp(h->source_group, g->source_group), "%s", h->source_group);
		CHECK(!strcmp(h->calibrator, g->calibrator), "%s", h->calibrator);
		CHECK(h->pols[0] == VIS_POL_XX && h->pols[1] == VIS_POL_YY, "%s", "pols");
	}
	gaintab_free(g);
	gaintab_free(h);
}

static void test_roundtrip_bandpass(void) { roundtrip(1); }
static void test_roundtrip_timeseries(void) { roundtrip(3); }

static void test_read_errors(void)
{
	char path[1024], err[ERR_LEN] = "";
	gaintab *g = NULL;
	FILE *fp;

	snprintf(path, sizeof path, "%s/not.h5", test_tmpdir());
	fp = fopen(path, "w");
	if (fp) {
		fputs("not hdf5\n", fp);
		fclose(fp);
	}
	CHECK(gaintab_read(path, &g, err, sizeof err) < 0 && strstr(err, "not.h5"), "err: %s", err);
	CHECK(g == NULL, "%s", "ret set on failure");
	CHECK(gaintab_read("/nonexistent/x.h5", &g, err, sizeof err) < 0, "%s", "missing file");
	CHECK(gaintab_new(0, 1, 1, 1) == NULL && gaintab_new(1, 1, 1, 3) == NULL, "%s", "bad sizes");
	gaintab_free(NULL);
}

/* The reference truth gains: [time][antenna][channel][pol], time_jd, freq ascending. */
static void test_read_reference_truth(void)
{
	char err[ERR_LEN] = "";
	gaintab *g = NULL;
	double amin = 1e9, amax = 0;

	CHECK_OK(gaintab_read(test_data("reference/cal-0834/gains_2026-03-01T05:49:14.h5"), &g, err, sizeof err), err);
	if (!g)
		return;
	CHECK(g->ntime == 24 && g->nant == 24 && g->nchan == 96 && g->npol == 2, "shape %d %d %d %d",
	      g->ntime, g->nant, g->nchan, g->npol);
	/* 2026-03-01 05:49 UTC is MJD 61100.24... */
	CHECK(g->time_mjd[0] > 61100.24 && g->time_mjd[0] < 61100.25, "t0 %f", g->time_mjd[0]);
	for (int c = 1; c < g->nchan; c++)
		CHECK(g->freq_hz[c] > g->freq_hz[c - 1], "%s", "freq not ascending");
	CHECK(g->freq_hz[0] > 1.31e9 && g->freq_hz[95] < 1.50e9, "%s", "band");
	for (size_t i = 0; i < (size_t)24 * 24 * 96 * 2; i++) {
		double a = cabsf(g->gain[i]);
		amin = fmin(amin, a);
		amax = fmax(amax, a);
		CHECK(!g->flag[i], "%s", "truth gains flagged");
	}
	CHECK(amin > 0.1 && amax < 10, "|g| in [%g, %g]", amin, amax);
	gaintab_free(g);
}

static vis_set *small_vis(void)
{
	vis_set *v = vis_new(2, 6, 5, 4, 3);
	int b = 0;
	if (!v)
		return NULL;
	for (int a = 0; a < 3; a++)
		v->ants[a].number = 5 + 2 * a;
	for (int a1 = 0; a1 < 3; a1++)
		for (int a2 = a1; a2 < 3; a2++, b++) {
			v->ant1[b] = 5 + 2 * a1;
			v->ant2[b] = 5 + 2 * a2;
		}
	/* Channels 0..3 on the table's grid (in reverse order), channel 4 more
	 * than half a channel beyond the table's last one (no solution). */
	v->freq_hz[0] = 1.303e9;
	v->freq_hz[1] = 1.302e9;
	v->freq_hz[2] = 1.301e9;
	v->freq_hz[3] = 1.300e9;
	v->freq_hz[4] = 1.3045e9;
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	v->pols[2] = VIS_POL_XY;
	v->pols[3] = VIS_POL_YX;
	v->time_jd[0] = 61100.25 + 2400000.5;
	v->time_jd[1] = 61100.2521 + 2400000.5; /* nearest table time: index 2 */
	for (size_t i = 0; i < vis_nsamples(v); i++)
		v->vis[i] = 1.0f + 0.5f * I;
	snprintf(v->name, sizeof v->name, "small");
	return v;
}

/* V_obs(a1,a2) = g[a1] V conj(g[a2]), hands by polarisation, nearest time,
 * channels by frequency; and divide inverts multiply. */
static void test_apply_convention(void)
{
	gaintab *g = sample_table(3);
	vis_set *v = small_vis(), *orig;
	char err[ERR_LEN] = "";

	CHECK(g && v, "%s", "alloc");
	if (!g || !v)
		goto out;
	memset(g->flag, 0, (size_t)3 * 3 * 4 * 2);
	orig = vis_dup(v);
	CHECK_OK(gaintab_multiply(v, g, 2, err, sizeof err), err);
	for (int t = 0; t < 2; t++)
		for (int b = 0; b < 6; b++)
			for (int c = 0; c < 5; c++)
				for (int p = 0; p < 4; p++) {
					size_t i = vis_idx(v, t, b, c, p);
					int gt = t == 0 ? 0 : 2, gc = 3 - c;
					int a1 = (v->ant1[b] - 5) / 2, a2 = (v->ant2[b] - 5) / 2;
					int h1 = (p == 0 || p == 2) ? 0 : 1, h2 = (p == 0 || p == 3) ? 0 : 1;
					float complex want;
					if (c == 4) {
						CHECK(v->flags[i] & VIS_FLAG_CAL, "%s", "off-grid channel not flagged");
						CHECK(v->vis[i] == orig->vis[i], "%s", "off-grid channel changed");
						continue;
					}
					want = g->gain[gaintab_idx(g, gt, a1, gc, h1)] * orig->vis[i] *
					       conjf(g->gain[gaintab_idx(g, gt, a2, gc, h2)]);
					CHECK(cabsf(v->vis[i] - want) < 1e-5f, "t%d b%d c%d p%d", t, b, c, p);
					CHECK(v->flags[i] == 0, "%s", "flagged");
				}
	CHECK_OK(gaintab_divide(v, g, 1, err, sizeof err), err);
	for (size_t i = 0; i < vis_nsamples(v); i++)
		CHECK(cabsf(v->vis[i] - orig->vis[i]) < 1e-5f, "sample %zu", i);
	vis_free(orig);
out:
	gaintab_free(g);
	vis_free(v);
}

/* Flagged, zero and missing solutions flag the data and leave it alone. */
static void test_apply_flags(void)
{
	gaintab *g = sample_table(1);
	vis_set *v = small_vis();
	char err[ERR_LEN] = "";

	CHECK(g && v, "%s", "alloc");
	if (!g || !v)
		goto out;
	memset(g->flag, 0, (size_t)3 * 4 * 2);
	g->flag[gaintab_idx(g, 0, 1, 0, 0)] = 1;  /* antenna 7, 1.300 GHz, X */
	g->gain[gaintab_idx(g, 0, 2, 1, 1)] = 0;  /* antenna 9, 1.301 GHz, Y */
	g->antenna_numbers[0] = 99;               /* antenna 5 has no solution */
	CHECK_OK(gaintab_divide(v, g, 0, err, sizeof err), err);
	for (int t = 0; t < 2; t++)
		for (int b = 0; b < 6; b++)
			for (int c = 0; c < 4; c++)
				for (int p = 0; p < 4; p++) {
					size_t i = vis_idx(v, t, b, c, p);
					int h1 = (p == 0 || p == 2) ? 0 : 1, h2 = (p == 0 || p == 3) ? 0 : 1;
					int bad = v->ant1[b] == 5 || v->ant2[b] == 5 ||
						  (c == 3 && ((v->ant1[b] == 7 && h1 == 0) || (v->ant2[b] == 7 && h2 == 0))) ||
						  (c == 2 && ((v->ant1[b] == 9 && h1 == 1) || (v->ant2[b] == 9 && h2 == 1)));
					CHECK(!!(v->flags[i] & VIS_FLAG_CAL) == bad, "t%d b%d c%d p%d flag %d", t, b, c, p,
					      v->flags[i]);
					if (bad)
						CHECK(v->vis[i] == 1.0f + 0.5f * I, "%s", "flagged sample changed");
				}
	/* A one-channel table applies to every channel; a one-pol table to every pol. */
	{
		gaintab *one = gaintab_new(1, 3, 1, 1);
		vis_set *w = small_vis();
		CHECK(one && w, "%s", "alloc");
		if (one && w) {
			for (int a = 0; a < 3; a++) {
				one->antenna_numbers[a] = 5 + 2 * a;
				one->gain[a] = 2.0f;
			}
			CHECK_OK(gaintab_divide(w, one, 0, err, sizeof err), err);
			for (size_t i = 0; i < vis_nsamples(w); i++)
				CHECK(cabsf(w->vis[i] - (1.0f + 0.5f * I) / 4) < 1e-6f && !w->flags[i], "%zu", i);
		}
		gaintab_free(one);
		vis_free(w);
	}
out:
	gaintab_free(g);
	vis_free(v);
}

/* gaintab_match: nearest table channel within half the smallest spacing,
 * nearest time; the expected indices are worked out by hand below. */
static void test_match(void)
{
	gaintab *g = gaintab_new(2, 1, 4, 1), *g1 = gaintab_new(1, 1, 1, 1);
	vis_set *v = vis_new(3, 1, 6, 1, 1);
	/* table channels 1.30, 1.31, 1.32, 1.34 GHz: smallest spacing 10 MHz */
	static const double tf[4] = { 1.30e9, 1.31e9, 1.32e9, 1.34e9 };
	/* 4 MHz from 1.30; 5.1 MHz from 1.30 (outside half a spacing); half way
	 * between 1.32 and 1.34 (10 MHz from either); 4 MHz from 1.34; exactly
	 * half a spacing from 1.34; 1.31 itself */
	static const double vf[6] = { 1.296e9, 1.2949e9, 1.33e9, 1.336e9, 1.345e9, 1.31e9 };
	static const int want_chan[6] = { 0, -1, -1, 3, 3, 1 };
	/* table times MJD 61100.25, 61100.26; integrations 0.004, 0.0051 and
	 * 0.02 d after the first */
	static const double vt[3] = { 61100.254, 61100.2551, 61100.27 };
	static const int want_time[3] = { 0, 1, 1 };
	int chan[6], tim[3];

	CHECK(g && g1 && v);
	if (!g || !g1 || !v)
		goto out;
	memcpy(g->freq_hz, tf, sizeof tf);
	g->time_mjd[0] = 61100.25;
	g->time_mjd[1] = 61100.26;
	memcpy(v->freq_hz, vf, sizeof vf);
	for (int t = 0; t < 3; t++)
		v->time_jd[t] = vt[t] + 2400000.5;
	gaintab_match(g, v, chan, tim);
	for (int c = 0; c < 6; c++)
		CHECK(chan[c] == want_chan[c], "channel %d: %d, expected %d", c, chan[c], want_chan[c]);
	for (int t = 0; t < 3; t++)
		CHECK(tim[t] == want_time[t], "time %d: %d, expected %d", t, tim[t], want_time[t]);
	/* A one-channel table (one solution for the band) applies everywhere. */
	g1->freq_hz[0] = 1.4e9;
	gaintab_match(g1, v, chan, tim);
	for (int c = 0; c < 6; c++)
		CHECK(chan[c] == 0);
	CHECK(tim[0] == 0 && tim[2] == 0);
out:
	gaintab_free(g);
	gaintab_free(g1);
	vis_free(v);
}

int main(void)
{
	RUN(test_roundtrip_bandpass);
	RUN(test_roundtrip_timeseries);
	RUN(test_read_errors);
	RUN_REF(test_read_reference_truth);
	RUN(test_apply_convention);
	RUN(test_apply_flags);
	RUN(test_match);
	return TEST_DONE();
}
