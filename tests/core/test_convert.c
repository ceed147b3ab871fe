/*
 * tests/core/test_convert.c — combining subband files: channel order, missing
 * subbands, disagreeing subbands, rephasing through files, export.
 *
 * A tiny group (5 antennas incl. autos, 3 integrations, 4 subbands × 3
 * channels, XX/YY) is written with uvh5_write in the DSA-110 layout.  The
 * weights encode (subband, channel) so the combined order can be checked
 * exactly; the visibilities are a drift-phased point-source model so the
 * rephased set can be checked against an independent FIXED prediction.
 */
#include <complex.h>
#include <hdf5.h>
#include <math.h>
#include <sys/stat.h>

#include "core/astro.h"
#include "core/convert.h"
#include "core/err.h"
#include "core/predict.h"
#include "core/sky.h"
#include "core/uvh5.h"
#include "core/vis.h"
#include "tests/h5raw.h"
#include "tests/test.h"

#define D2R (M_PI / 180)
#define NSUB 4
#define NF 3
#define CW 1.953125e6
#define TOP_HZ 1.4978e9 /* sb00, channel 0 (highest) */

static void sky_two(sky_model *m)
{
	sky_init(m);
	sky_add_deg(m, "cal", 128.7, 55.6, 8.8, 0);
	sky_add_deg(m, "other", 127.5, 54.2, 1.2, -0.8);
}

/* What can be varied per file to provoke disagreements. */
typedef struct variant {
	double time_shift_d, dec_shift_rad, cw_scale, freq_shift_hz;
	int swap_pols, swap_baselines;
	int inject; /* a NaN sample, an Inf weight and an input flag */
	int renumber; /* antenna numbers shifted (positions and baselines kept) */
	double move_m; /* antenna 2 moved east by this many metres */
} variant;

static vis_set *subband_set(int sb, const variant *var)
{
	vis_set *v = vis_new(3, 15, NF, 2, 6);
	double pos[6][3] = {{0, 0, 0}, {120.5, -30.2, 80.1}, {-210.3, 400.7, 15.2},
			    {900.2, 35.1, -640.4}, {-50, -600, 300}, {0, 0, 0}};
	double r[3][3];
	sky_model m;
	int b = 0;
	variant none = {0, 0, 1, 0, 0, 0, 0, 0, 0};

	if (!var)
		var = &none;
	if (!v)
		return NULL;
	v->lat_rad = 37.2339 * D2R;
	v->lon_rad = -118.2825 * D2R;
	v->alt_m = 1222;
	for (int a = 0; a < 6; a++) {
		v->ants[a].number = a + (var->renumber && a == 5 ? 10 : 0);
		snprintf(v->ants[a].name, sizeof v->ants[a].name, "%d", a + 1);
		v->ants[a].diam_m = 4.65;
		memcpy(v->ants[a].pos_m, pos[a], sizeof pos[a]);
	}
	v->ants[2].pos_m[1] += var->move_m;
	/* Antenna 5 is in the table but not in the data (like inactive stations). */
	for (int a2 = 0; a2 < 5; a2++)
		for (int a1 = 0; a1 <= a2; a1++, b++) {
			v->ant1[b] = a1;
			v->ant2[b] = a2;
		}
	if (var->swap_baselines) {
		int t = v->ant1[3];
		v->ant1[3] = v->ant1[4];
		v->ant1[4] = t;
		t = v->ant2[3];
		v->ant2[3] = v->ant2[4];
		v->ant2[4] = t;
	}
	for (int t = 0; t < 3; t++)
		v->time_jd[t] = 2461100.744 + t * 12.884901888 / 86400 + var->time_shift_d;
	v->int_time_s = 12.884901888;
	for (int j = 0; j < NF; j++)
		v->freq_hz[j] = TOP_HZ - (sb * NF + j) * CW * var->cw_scale + var->freq_shift_hz;
	v->chan_width_hz = CW * var->cw_scale;
	v->pols[0] = var->swap_pols ? VIS_POL_YY : VIS_POL_XX;
	v->pols[1] = var->swap_pols ? VIS_POL_XX : VIS_POL_YY;
	v->phase_type = VIS_PHASE_DRIFT;
	v->phase_dec_rad = 54.9 * D2R + var->dec_shift_rad;
	v->pointing_dec_rad = v->phase_dec_rad;
	v->has_pointing_dec = 1;
	snprintf(v->telescope, sizeof v->telescope, "OVRO_MMA");
	snprintf(v->instrument, sizeof v->instrument, "DSA");
	astro_uvw_matrix(-v->lon_rad, v->phase_dec_rad, r);
	for (int t = 0; t < 3; t++)
		for (b = 0; b < 15; b++) {
			const double *p1 = pos[v->ant1[b]], *p2 = pos[v->ant2[b]];
			for (int k = 0; k < 3; k++)
				v->uvw_m[((size_t)t * 15 + b) * 3 + k] = r[k][0] * (p2[0] - p1[0]) +
									  r[k][1] * (p2[1] - p1[1]) +
									  r[k][2] * (p2[2] - p1[2]);
		}
	sky_two(&m);
	if (predict_vis(v, &m, NULL, PREDICT_OVERWRITE, NULL, 0) != 0) {
		vis_free(v);
		v = NULL;
	}
	sky_release(&m);
	if (v)
		for (int t = 0; t < 3; t++)
			for (b = 0; b < 15; b++)
				for (int j = 0; j < NF; j++)
					for (int p = 0; p < 2; p++)
						v->weight[vis_idx(v, t, b, j, p)] = (float)(100 * sb + 10 * j + p + 1);
	if (v && var->inject) {
		v->vis[vis_idx(v, 1, 4, 2, 0)] = NAN;
		v->weight[vis_idx(v, 2, 7, 0, 1)] = INFINITY;
		v->flags[vis_idx(v, 0, 9, 1, 1)] = VIS_FLAG_INPUT;
	}
	return v;
}

/* How write_group stores the files: uvh5_write's DSA-110 default (chunked as
 * the correlator writes them) unless a test says otherwise. */
static uvh5_write_opts wopts = { .layout = UVH5_LAYOUT_DSA110 };

/* Write subbands present in `mask` to dir; names get a jittered timestamp. */
static int write_group(const char *dir, unsigned mask, int odd_sb, const variant *odd,
		       char paths[NSUB][1024])
{
	char err[ERR_LEN];
	int n = 0;

	for (int sb = 0; sb < NSUB; sb++) {
		vis_set *v;
		if (!(mask & (1u << sb)))
			continue;
		v = subband_set(sb, sb == odd_sb ? odd : NULL);
		if (!v)
			return -1;
		snprintf(paths[n], 1024, "%s/2026-03-01T05:49:%02d_sb%02d.hdf5", dir, 14 + (sb % 3), sb);
		if (uvh5_write_with(paths[n], v, &wopts, err, sizeof err) != 0) {
			fprintf(stderr, "uvh5_write: %s\n", err);
			vis_free(v);
			return -1;
		}
		vis_free(v);
		n++;
	}
	return n;
}

static const char **ptrs(char paths[NSUB][1024], int n)
{
	static const char *p[NSUB];
	for (int i = 0; i < n; i++)
		p[i] = paths[n - 1 - i]; /* any order must do */
	return p;
}

static const char *subdir(const char *name)
{
	static char d[1024];
	snprintf(d, sizeof d, "%s/%s", test_tmpdir(), name);
	mkdir(d, 0700);
	return d;
}

static void test_subband_from_name(void)
{
	int sb = -1;
	CHECK_OK(convert_subband_from_name("/x/y/2026-03-01T05:49:14_sb07.hdf5", &sb), NULL);
	CHECK(sb == 7, "sb %d", sb);
	CHECK_OK(convert_subband_from_name("2026-03-01T05:49:14_sb15.hdf5", &sb), NULL);
	CHECK(sb == 15, "sb %d", sb);
	CHECK(convert_subband_from_name("2026-03-01T05:49:14_sb7.hdf5", &sb) < 0, "%s", "one digit");
	CHECK(convert_subband_from_name("2026-03-01T05:49:14_sb07_incomplete.hdf5", &sb) < 0, "%s", "incomplete");
	CHECK(convert_subband_from_name("2026-03-01T05:49:14_sb07.h5", &sb) < 0, "%s", "extension");
}

/* All subbands: ascending channels, data where the weights say, drift kept. */
static void test_combine_order(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	int n = write_group(subdir("all"), 0xF, -1, NULL, paths);
	convert_params p;
	convert_info info;
	vis_set *v = NULL, *sb1 = subband_set(1, NULL);

	CHECK(n == NSUB, "wrote %d", n);
	convert_params_default(&p);
	p.nsub_expected = NSUB;
	p.rephase = 0;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &v, &info, err, sizeof err), err);
	if (!v || !sb1)
		goto out;
	CHECK(v->nchan == NSUB * NF && info.missing_mask == 0 && info.nsub_present == NSUB &&
	      info.chan_per_sub == NF, "nchan %d mask %x", v->nchan, info.missing_mask);
	CHECK(v->phase_type == VIS_PHASE_DRIFT, "%s", "phase type");
	CHECK(!strcmp(v->name, "2026-03-01T05:49:14"), "name %s", v->name);
	for (int c = 0; c < v->nchan; c++) {
		/* Ascending: combined channel c is subband 3 − c/3, file channel 2 − c%3. */
		int sb = NSUB - 1 - c / NF, j = NF - 1 - c % NF;
		CHECK_NEAR(v->freq_hz[c], TOP_HZ - (sb * NF + j) * CW, 1e-3);
		for (int t = 0; t < 3; t++)
			for (int b = 0; b < 15; b++)
				for (int q = 0; q < 2; q++) {
					size_t i = vis_idx(v, t, b, c, q);
					CHECK(v->weight[i] == (float)(100 * sb + 10 * j + q + 1), "c%d w %g", c, v->weight[i]);
					CHECK(v->flags[i] == 0, "%s", "flagged");
					if (sb == 1)
						CHECK(v->vis[i] == sb1->vis[vis_idx(sb1, t, b, j, q)], "%s", "vis moved");
				}
	}
out:
	vis_free(sb1);
	vis_free(v);
}

/* A missing subband (inner, and the highest one) becomes flagged channels at
 * the right frequencies. */
static void test_missing_subband(void)
{
	unsigned masks[2] = {0xF & ~(1u << 2), 0xF & ~1u};
	for (int k = 0; k < 2; k++) {
		char paths[NSUB][1024], err[ERR_LEN] = "", name[32];
		int n, miss = k == 0 ? 2 : 0;
		convert_params p;
		convert_info info;
		vis_set *v = NULL;

		snprintf(name, sizeof name, "miss%d", k);
		n = write_group(subdir(name), masks[k], -1, NULL, paths);
		CHECK(n == NSUB - 1, "wrote %d", n);
		convert_params_default(&p);
		p.nsub_expected = NSUB;
		CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &v, &info, err, sizeof err), err);
		if (!v)
			continue;
		CHECK(info.missing_mask == (1u << miss), "mask %x", info.missing_mask);
		CHECK(v->nchan == NSUB * NF, "nchan %d", v->nchan);
		CHECK(v->phase_type == VIS_PHASE_FIXED, "%s", "rephase by default");
		for (int c = 0; c < v->nchan; c++) {
			int sb = NSUB - 1 - c / NF, j = NF - 1 - c % NF;
			CHECK_NEAR(v->freq_hz[c], TOP_HZ - (sb * NF + j) * CW, 1e-3);
			for (int t = 0; t < 3; t++)
				for (int b = 0; b < 15; b++)
					for (int q = 0; q < 2; q++) {
						size_t i = vis_idx(v, t, b, c, q);
						if (sb == miss)
							CHECK(v->flags[i] == VIS_FLAG_MISSING && v->weight[i] == 0 &&
							      v->vis[i] == 0, "c%d not flagged missing", c);
						else
							CHECK(v->flags[i] == 0 && v->weight[i] > 0, "c%d flagged", c);
					}
		}
		vis_free(v);
	}
}

/* Each disagreement fails with a message naming what differs. */
static void test_disagreeing_subbands(void)
{
	struct {
		const char *name, *expect;
		variant var;
	} cases[] = {
		{"times", "integration times", {1e-4, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"dec", "declination", {0, 1e-3, 1, 0, 0, 0, 0, 0, 0}},
		{"width", "channel width", {0, 0, 1.5, 0, 0, 0, 0, 0, 0}},
		{"pols", "polarisations", {0, 0, 1, 0, 1, 0, 0, 0, 0}},
		{"bls", "baselines", {0, 0, 1, 0, 0, 1, 0, 0, 0}},
		{"freq", "contiguous", {0, 0, 1, 0.4 * CW, 0, 0, 0, 0, 0}},
		{"numbers", "antenna numbers", {0, 0, 1, 0, 0, 0, 0, 1, 0}},
		{"positions", "antenna positions", {0, 0, 1, 0, 0, 0, 0, 0, 0.5}},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char paths[NSUB][1024], err[ERR_LEN] = "", dir[16];
		int n;

		/* Directory names must not contain the expected words. */
		snprintf(dir, sizeof dir, "d%zu", k);
		n = write_group(subdir(dir), 0xF, 2, &cases[k].var, paths);
		convert_params p;
		vis_set *v = NULL;
		int r;

		CHECK(n == NSUB, "%s: wrote %d", cases[k].name, n);
		convert_params_default(&p);
		p.nsub_expected = NSUB;
		r = convert_load_group(ptrs(paths, n), n, &p, &v, NULL, err, sizeof err);
		CHECK(r < 0 && v == NULL, "%s: accepted", cases[k].name);
		CHECK(strstr(err, cases[k].expect) && strstr(err, "_sb02.hdf5"), "%s: message '%s'",
		      cases[k].name, err);
		printf("# %s: %s\n", cases[k].name, err);
		vis_free(v);
	}
	/* Duplicates, out-of-range subbands, names without _sbNN. */
	{
		char paths[NSUB][1024], err[ERR_LEN] = "";
		const char *two[2], *bad[1] = {"/tmp/whatever.hdf5"};
		convert_params p;
		vis_set *v = NULL;
		int n = write_group(subdir("dup"), 0x3, -1, NULL, paths);

		CHECK(n == 2, "wrote %d", n);
		convert_params_default(&p);
		p.nsub_expected = NSUB;
		two[0] = paths[0];
		two[1] = paths[0];
		CHECK(convert_load_group(two, 2, &p, &v, NULL, err, sizeof err) < 0 && strstr(err, "twice"), "%s", err);
		p.nsub_expected = 1;
		two[1] = paths[1];
		CHECK(convert_load_group(two, 2, &p, &v, NULL, err, sizeof err) < 0 && strstr(err, "outside"), "%s", err);
		CHECK(convert_load_group(bad, 1, &p, &v, NULL, err, sizeof err) < 0 && strstr(err, "_sbNN"), "%s", err);
		CHECK(v == NULL, "%s", "ret set on failure");
	}
}

/* Through files: the rephased group equals an independent FIXED prediction
 * at the common centre, which is the ICRS position of the meridian at the
 * mid time. */
static void test_rephase_through_files(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	int n = write_group(subdir("rephase"), 0xF, -1, NULL, paths);
	convert_params p;
	vis_set *v = NULL, *m = NULL;
	sky_model sky;
	double maxerr = 0, h, dapp;

	convert_params_default(&p);
	p.nsub_expected = NSUB;
	p.nthreads = 2;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &v, NULL, err, sizeof err), err);
	if (!v)
		return;
	CHECK(v->phase_type == VIS_PHASE_FIXED && v->has_pointing_dec, "%s", "fixed");
	CHECK_NEAR(v->pointing_dec_rad, 54.9 * D2R, 1e-12);
	/* The centre is on the meridian at the mid time, at the pointing dec (CIRS). */
	CHECK_OK(astro_hour_angle(vis_mid_jd(v), v->lon_rad, 0, v->phase_ra_rad, v->phase_dec_rad, &h, &dapp), NULL);
	CHECK_NEAR(h, 0, 1e-9);
	CHECK_NEAR(dapp, 54.9 * D2R, 1e-9);
	m = vis_dup(v);
	sky_two(&sky);
	CHECK_OK(predict_vis(m, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	for (size_t i = 0; i < vis_nsamples(v); i++)
		maxerr = fmax(maxerr, cabsf(v->vis[i] - m->vis[i]));
	printf("# rephased files vs FIXED prediction: max |diff| %.2e Jy\n", maxerr);
	CHECK(maxerr < 2e-5, "max diff %g", maxerr);
	/* uvw rows: undoing the Jacobian on (u, v) leaves a rotation of
	 * pos[a2] − pos[a1] (same length) whose w is along the centre. */
	for (int t = 0; t < v->ntimes; t++) {
		astro_frame fr;
		double q[3][3], j[2][2], det;
		CHECK_OK(astro_frame_init(&fr, v->time_jd[t], v->lon_rad, 0), NULL);
		astro_frame_fixed_basis(&fr, v->phase_ra_rad, v->phase_dec_rad, q, j);
		det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
		CHECK(fabs(det - 1) < 3e-4 && fabs(j[0][1]) < 3e-4, "J far from identity: det %g", det);
		for (int b = 0; b < v->nbls; b++) {
			const double *p1 = v->ants[v->ant1[b]].pos_m, *p2 = v->ants[v->ant2[b]].pos_m;
			const double *u = v->uvw_m + 3 * ((size_t)t * v->nbls + b);
			double bl[3] = {p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]}, bg[3];
			double l0 = sqrt(bl[0] * bl[0] + bl[1] * bl[1] + bl[2] * bl[2]);
			/* (u, v) = Jᵀ (u0, v0) → (u0, v0) = J⁻ᵀ (u, v). */
			double u0 = (j[1][1] * u[0] - j[1][0] * u[1]) / det;
			double v0 = (-j[0][1] * u[0] + j[0][0] * u[1]) / det;
			CHECK_NEAR(sqrt(u0 * u0 + v0 * v0 + u[2] * u[2]), l0, 1e-9 * (1 + l0));
			astro_frame_itrs_to_gcrs(&fr, bl, bg);
			CHECK_NEAR(u[2], q[2][0] * bg[0] + q[2][1] * bg[1] + q[2][2] * bg[2], 1e-9 * (1 + l0));
		}
	}
	sky_release(&sky);
	vis_free(m);
	vis_free(v);
}

/* Export: written through a temporary name, read back identically. */
static void test_export_roundtrip(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "", out[1024], tmp[1100];
	int n = write_group(subdir("export"), 0xB, -1, NULL, paths);
	convert_params p;
	vis_set *v = NULL, *w = NULL;

	convert_params_default(&p);
	p.nsub_expected = NSUB;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &v, NULL, err, sizeof err), err);
	if (!v)
		return;
	snprintf(out, sizeof out, "%s/export/group.uvh5", test_tmpdir());
	CHECK_OK(convert_export(out, v, err, sizeof err), err);
	snprintf(tmp, sizeof tmp, "%s.tmp", out);
	CHECK(access(tmp, F_OK) != 0, "%s", "temporary file left behind");
	CHECK_OK(uvh5_read(out, &w, err, sizeof err), err);
	if (w) {
		CHECK(w->phase_type == VIS_PHASE_FIXED, "%s", "phase type");
		CHECK_NEAR(w->phase_ra_rad, v->phase_ra_rad, 1e-12);
		CHECK_NEAR(w->phase_dec_rad, v->phase_dec_rad, 1e-12);
		CHECK(w->nchan == v->nchan && w->nbls == v->nbls && w->ntimes == v->ntimes, "%s", "shape");
		if (w->nchan == v->nchan && w->nbls == v->nbls && w->ntimes == v->ntimes) {
			for (int c = 0; c < v->nchan; c++)
				CHECK_NEAR(w->freq_hz[c], v->freq_hz[c], 1e-3);
			for (size_t i = 0; i < vis_nsamples(v); i++) {
				CHECK(w->vis[i] == v->vis[i], "vis %zu", i);
				CHECK(!!w->flags[i] == !!v->flags[i], "flag %zu", i);
			}
			for (size_t i = 0; i < (size_t)v->ntimes * v->nbls * 3; i++)
				CHECK_NEAR(w->uvw_m[i], v->uvw_m[i], 1e-6);
		}
	}
	/* A failed export leaves neither the file nor the temporary. */
	CHECK(convert_export("/nonexistent-dir/x.uvh5", v, err, sizeof err) < 0, "%s", "export to nowhere");
	vis_free(w);
	vis_free(v);
}

/*
 * The exported file says what was done to the data: the UT1 - UTC the
 * rephasing used (a non-zero one comes back), "uncalib" until calibration
 * tables are applied and "Jy" after, the history of the combine and rephase
 * steps and contimg's version; and the provenance does not leak from one
 * group to the next through a reused buffer.
 */
static void test_export_provenance(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "", out[1024], s[8192], ver[160];
	int n = write_group(subdir("prov"), 0xB, -1, NULL, paths);
	convert_params p;
	vis_set *v = NULL, *w = NULL, *again = NULL;

	convert_params_default(&p);
	p.nsub_expected = NSUB;
	p.dut1_s = 0.3141;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &v, NULL, err, sizeof err), err);
	if (!v)
		return;
	CHECK(v->dut1_s == 0.3141, "dut1 %g", v->dut1_s);
	CHECK(v->vis_units[0] == 0, "vis_units '%s' before calibration", v->vis_units);
	/* The subband files' own history (written by uvh5_write's DSA-110 layout)
	 * comes first, then one line per step. */
	CHECK(v->history && !strncmp(v->history, "written by contimg\ncontimg convert: combined 3 of 4 "
				      "subband files into 12 channels, ", 78), "history '%s'",
	      v->history ? v->history : "(none)");
	CHECK(v->history && strstr(v->history, "(the history above is that of "
				   "2026-03-01T05:49:14_sb00.hdf5, the lowest-numbered); missing sb02."),
	      "%s", v->history);
	CHECK(v->history && strstr(v->history, "contimg rephase: from the meridian") &&
	      strstr(v->history, "UT1 - UTC = 0.3141 s."), "%s", v->history);
	{
		char centre[128];
		snprintf(centre, sizeof centre, "RA %.6f deg, Dec %+.6f deg", v->phase_ra_rad / D2R,
			 v->phase_dec_rad / D2R);
		CHECK(v->history && strstr(v->history, centre), "'%s' not in the history", centre);
	}
	snprintf(ver, sizeof ver, "\nWritten by contimg %s (UVH5, pyuvdata layout).",
		 uvh5_writer_version());

	/* Uncalibrated export. */
	snprintf(out, sizeof out, "%s/prov/uncal.uvh5", test_tmpdir());
	CHECK_OK(convert_export(out, v, err, sizeof err), err);
	raw_str(out, "Header/vis_units", s, sizeof s);
	CHECK(!strcmp(s, "uncalib"), "vis_units '%s'", s);
	CHECK_NEAR(raw_f64(out, "Header/dut1"), 0.3141, 0);
	raw_str(out, "Header/x_orientation", s, sizeof s);
	CHECK(s[0] == 0, "x_orientation '%s' though unknown", s);
	raw_str(out, "Header/history", s, sizeof s);
	CHECK(strlen(s) > strlen(ver) && !strncmp(s, v->history, strlen(v->history)) &&
	      !strcmp(s + strlen(v->history), ver), "history '%s'", s);

	/* As after calib/apply.c and the pipeline's [pipeline] x_orientation. */
	snprintf(v->vis_units, sizeof v->vis_units, "Jy");
	snprintf(v->x_orientation, sizeof v->x_orientation, "east");
	snprintf(out, sizeof out, "%s/prov/cal.uvh5", test_tmpdir());
	CHECK_OK(convert_export(out, v, err, sizeof err), err);
	raw_str(out, "Header/vis_units", s, sizeof s);
	CHECK(!strcmp(s, "Jy"), "vis_units '%s'", s);
	raw_str(out, "Header/x_orientation", s, sizeof s);
	CHECK(!strcmp(s, "east"), "x_orientation '%s'", s);
	CHECK_OK(uvh5_read(out, &w, err, sizeof err), err);
	if (w)
		CHECK(!strcmp(w->vis_units, "Jy") && !strcmp(w->x_orientation, "east") &&
		      w->dut1_s == 0.3141 && w->history && strstr(w->history, "contimg rephase"),
		      "read back '%s' '%s' %g", w->vis_units, w->x_orientation, w->dut1_s);

	/* The next group in the same buffer starts from its files, not from this
	 * group's calibration and history. */
	p.reuse = v;
	p.dut1_s = -0.05;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &again, NULL, err, sizeof err), err);
	CHECK(again == v, "%s", "buffer not reused");
	if (again == v) {
		v = NULL;
		CHECK(again->vis_units[0] == 0 && again->x_orientation[0] == 0 && again->dut1_s == -0.05,
		      "reused set says '%s' '%s' %g", again->vis_units, again->x_orientation,
		      again->dut1_s);
		CHECK(again->history && !strstr(again->history, "0.3141") &&
		      strstr(again->history, "UT1 - UTC = -0.0500 s."), "%s", again->history);
	}
	vis_free(again);
	vis_free(w);
	vis_free(v);
}

/* The direct (pread) path and the HDF5 path give identical sets, including
 * flags, non-finite samples and a missing subband; reusing a buffer too. */
static void test_direct_equals_hdf5(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	variant inj = {0, 0, 1, 0, 0, 0, 1, 0, 0};
	int n = write_group(subdir("direct"), 0xD, 2, &inj, paths);
	convert_params p;
	convert_info i1, i2, i3;
	vis_set *a = NULL, *b = NULL, *c = NULL;

	CHECK(n == 3, "wrote %d", n);
	convert_params_default(&p);
	p.nsub_expected = NSUB;
	p.nthreads = 2;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &a, &i1, err, sizeof err), err);
	p.direct_read = 0;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &b, &i2, err, sizeof err), err);
	if (!a || !b)
		goto out;
	CHECK(i1.nsub_direct == 3 && i2.nsub_direct == 0 && i1.nsub_chunked == 3 && i2.nsub_chunked == 0,
	      "direct %d / %d, chunked %d / %d", i1.nsub_direct, i2.nsub_direct, i1.nsub_chunked,
	      i2.nsub_chunked);
	CHECK(!memcmp(a->vis, b->vis, vis_nsamples(a) * sizeof *a->vis), "%s", "vis differ");
	CHECK(!memcmp(a->flags, b->flags, vis_nsamples(a)), "%s", "flags differ");
	CHECK(!memcmp(a->weight, b->weight, vis_nsamples(a) * sizeof *a->weight), "%s", "weights differ");
	CHECK(!memcmp(a->freq_hz, b->freq_hz, a->nchan * sizeof *a->freq_hz), "%s", "freqs differ");
	CHECK(!memcmp(a->uvw_m, b->uvw_m, (size_t)a->ntimes * a->nbls * 3 * sizeof *a->uvw_m), "%s", "uvw differ");
	/* The injected samples (subband 2 is combined channels 3..5, file channel j at 5 − j). */
	CHECK(a->flags[vis_idx(a, 1, 4, 3, 0)] & VIS_FLAG_NONFINITE, "%s", "NaN not flagged");
	CHECK(a->vis[vis_idx(a, 1, 4, 3, 0)] == 0, "%s", "NaN kept");
	CHECK(a->flags[vis_idx(a, 2, 7, 5, 1)] & VIS_FLAG_NONFINITE, "%s", "Inf weight not flagged");
	CHECK(a->weight[vis_idx(a, 2, 7, 5, 1)] == 0, "%s", "Inf weight kept");
	CHECK(a->flags[vis_idx(a, 0, 9, 4, 1)] == VIS_FLAG_INPUT, "flag %d", a->flags[vis_idx(a, 0, 9, 4, 1)]);
	/* Reuse: same result in the same buffer. */
	p.direct_read = 1;
	p.reuse = b;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &c, &i3, err, sizeof err), err);
	CHECK(c == b, "%s", "buffer not reused");
	if (c == b) {
		b = NULL;
		CHECK(!memcmp(a->vis, c->vis, vis_nsamples(a) * sizeof *a->vis), "%s", "reused vis differ");
		CHECK(!memcmp(a->flags, c->flags, vis_nsamples(a)), "%s", "reused flags differ");
		CHECK(a->phase_ra_rad == c->phase_ra_rad, "%s", "reused centre");
	}
out:
	vis_free(a);
	vis_free(b);
	vis_free(c);
}

/* The same group stored every way the reader meets, each loaded on the
 * direct path and through HDF5: all eight sets are bit-identical to the
 * contiguous file read through HDF5 (data, flags incl. NaN/Inf handling,
 * weights, a missing subband).  Rows per file: 45, a multiple of no chunk
 * length below; 3 channels per file, split 2 + 1; 2 pols, split. */
static void test_chunked_equals_contiguous(void)
{
	static const struct {
		const char *name;
		int storage, latest, chunked;
		unsigned long long chunk[3][4];
	} cases[] = {
		{ "contiguous", UVH5_STORAGE_CONTIGUOUS, 0, 0, { { 0 } } },
		{ "h5py", UVH5_STORAGE_CHUNKED, 0, 1, { { 0 } } },
		{ "odd", UVH5_STORAGE_CHUNKED, 0, 1,
		  { { 7, 1, 2, 1 }, { 4, 1, 3, 2 }, { 100, 1, 1, 1 } } },
		{ "latest", UVH5_STORAGE_CHUNKED, 1, 1,
		  { { 7, 1, 2, 1 }, { 4, 1, 3, 2 }, { 100, 1, 1, 1 } } },
	};
	variant inj = {0, 0, 1, 0, 0, 0, 1, 0, 0};
	vis_set *ref = NULL;

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char paths[NSUB][1024], err[ERR_LEN] = "", dir[32];
		convert_params p;
		convert_info info;
		int n;

		memset(&wopts, 0, sizeof wopts);
		wopts.layout = UVH5_LAYOUT_DSA110;
		wopts.storage = cases[k].storage;
		wopts.latest_format = cases[k].latest;
		memcpy(wopts.data_chunk, cases[k].chunk, sizeof wopts.data_chunk);
		snprintf(dir, sizeof dir, "layout-%s", cases[k].name);
		n = write_group(subdir(dir), 0xD, 2, &inj, paths);
		CHECK(n == 3, "%s: wrote %d", cases[k].name, n);
		convert_params_default(&p);
		p.nsub_expected = NSUB;
		p.nthreads = 2;
		for (int d = 0; d < 2; d++) {
			vis_set *v = NULL;
			p.direct_read = !d;
			CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &v, &info, err, sizeof err), err);
			if (!v)
				continue;
			CHECK(info.nsub_direct == (d ? 0 : 3) &&
			      info.nsub_chunked == (d ? 0 : 3 * cases[k].chunked),
			      "%s, %s: direct %d chunked %d", cases[k].name, d ? "HDF5" : "direct",
			      info.nsub_direct, info.nsub_chunked);
			if (!ref) {
				ref = v; /* contiguous, direct: checked against HDF5 just below */
				continue;
			}
			CHECK(!memcmp(v->vis, ref->vis, vis_nsamples(v) * sizeof *v->vis) &&
			      !memcmp(v->flags, ref->flags, vis_nsamples(v)) &&
			      !memcmp(v->weight, ref->weight, vis_nsamples(v) * sizeof *v->weight) &&
			      !memcmp(v->uvw_m, ref->uvw_m, (size_t)v->ntimes * v->nbls * 3 * sizeof *v->uvw_m),
			      "%s, %s path: differs from the contiguous file", cases[k].name,
			      d ? "HDF5" : "direct");
			vis_free(v);
		}
	}
	if (ref) {
		CHECK(ref->flags[vis_idx(ref, 1, 4, 3, 0)] & VIS_FLAG_NONFINITE, "%s", "NaN not flagged");
		CHECK(ref->flags[vis_idx(ref, 2, 7, 5, 1)] & VIS_FLAG_NONFINITE, "%s", "Inf weight not flagged");
		CHECK(ref->flags[vis_idx(ref, 0, 9, 4, 1)] == VIS_FLAG_INPUT, "%s", "input flag lost");
		CHECK(ref->flags[vis_idx(ref, 0, 0, 7, 0)] == VIS_FLAG_MISSING, "%s", "missing subband (sb01: channels 6..8)");
	}
	memset(&wopts, 0, sizeof wopts);
	wopts.layout = UVH5_LAYOUT_DSA110;
	vis_free(ref);
}

/* A truncated file fails the group with its name, on both paths. */
static void test_truncated_file(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	int n = write_group(subdir("trunc"), 0xF, -1, NULL, paths);
	convert_params p;
	vis_set *v = NULL;
	const char *victim = NULL;

	for (int i = 0; i < n; i++)
		if (strstr(paths[i], "_sb01"))
			victim = paths[i];
	CHECK(victim && truncate(victim, 20000) == 0, "%s", "truncate");
	convert_params_default(&p);
	p.nsub_expected = NSUB;
	for (int d = 0; d < 2; d++) {
		p.direct_read = d;
		err[0] = 0;
		CHECK(convert_load_group(ptrs(paths, n), n, &p, &v, NULL, err, sizeof err) < 0, "%s", "accepted");
		CHECK(strstr(err, "_sb01.hdf5") != NULL, "message '%s'", err);
		CHECK(v == NULL, "%s", "ret set");
	}
}

int main(void)
{
	RUN(test_direct_equals_hdf5);
	RUN(test_chunked_equals_contiguous);
	RUN(test_truncated_file);
	RUN(test_subband_from_name);
	RUN(test_combine_order);
	RUN(test_missing_subband);
	RUN(test_disagreeing_subbands);
	RUN(test_rephase_through_files);
	RUN(test_export_roundtrip);
	RUN(test_export_provenance);
	return TEST_DONE();
}
