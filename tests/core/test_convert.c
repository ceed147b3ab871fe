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
#include "tests/simorder.h"
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
	/* The geometry the "correlator" used, set after the data are made: */
	double shift_m;        /* every antenna position + (1, -0.5, 0.3) x this (baselines kept) */
	double lon_hdr_arcsec; /* Header/longitude written this far east of the site the data
				* and uvw were made for */
	double lon_uvw_arcsec; /* uvw_array computed for a meridian this far east (data kept) */
	double w_kick_m;       /* baseline 1-3: w of uvw_array + this, and the data fringe-stopped
				* with it (V x exp(-2 pi i kick nu / c)) */
	int zero_uvw;          /* uvw_array all zero (a writer that does not fill it) */
} variant;

#define KICK_BL 7 /* baseline index of 1-3 in subband_set's order */

static vis_set *subband_set(int sb, const variant *var)
{
	vis_set *v = vis_new(3, 15, NF, 2, 6);
	double pos[6][3] = {{0, 0, 0}, {120.5, -30.2, 80.1}, {-210.3, 400.7, 15.2},
			    {900.2, 35.1, -640.4}, {-50, -600, 300}, {0, 0, 0}};
	double r[3][3];
	sky_model m;
	int b = 0;
	variant none = {.cw_scale = 1};

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
	if (v && var->lon_uvw_arcsec != 0) {
		astro_uvw_matrix(-(v->lon_rad + var->lon_uvw_arcsec * D2R / 3600), v->phase_dec_rad, r);
		for (int t = 0; t < 3; t++)
			for (b = 0; b < 15; b++) {
				const double *p1 = pos[v->ant1[b]], *p2 = pos[v->ant2[b]];
				for (int k = 0; k < 3; k++)
					v->uvw_m[((size_t)t * 15 + b) * 3 + k] =
						r[k][0] * (p2[0] - p1[0]) + r[k][1] * (p2[1] - p1[1]) +
						r[k][2] * (p2[2] - p1[2]);
			}
	}
	if (v && var->w_kick_m != 0)
		for (int t = 0; t < 3; t++) {
			v->uvw_m[((size_t)t * 15 + KICK_BL) * 3 + 2] += var->w_kick_m;
			for (int j = 0; j < NF; j++)
				for (int p = 0; p < 2; p++)
					v->vis[vis_idx(v, t, KICK_BL, j, p)] *=
						cexp(-2 * M_PI * I * var->w_kick_m * v->freq_hz[j] / VIS_C_M_S);
		}
	if (v && var->zero_uvw)
		memset(v->uvw_m, 0, (size_t)3 * 15 * 3 * sizeof *v->uvw_m);
	if (v) {
		v->lon_rad += var->lon_hdr_arcsec * D2R / 3600;
		for (int a = 0; a < 6; a++) {
			v->ants[a].pos_m[0] += var->shift_m;
			v->ants[a].pos_m[1] -= 0.5 * var->shift_m;
			v->ants[a].pos_m[2] += 0.3 * var->shift_m;
		}
	}
	return v;
}

/* How write_group stores the files: uvh5_write's DSA-110 default (chunked as
 * the correlator writes them) unless a test says otherwise. */
static uvh5_write_opts wopts = { .layout = UVH5_LAYOUT_DSA110 };

/* Write subbands present in `mask` to dir, subband sb with variant var[sb]
 * (NULL: none); names get a jittered timestamp. */
static int write_group_v(const char *dir, unsigned mask, const variant *const *var,
			 char paths[NSUB][1024])
{
	char err[ERR_LEN];
	int n = 0;

	for (int sb = 0; sb < NSUB; sb++) {
		vis_set *v;
		if (!(mask & (1u << sb)))
			continue;
		v = subband_set(sb, var[sb]);
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

/* Write subbands present in `mask`, subband odd_sb with variant odd. */
static int write_group(const char *dir, unsigned mask, int odd_sb, const variant *odd,
		       char paths[NSUB][1024])
{
	const variant *var[NSUB] = { NULL };

	if (odd_sb >= 0 && odd_sb < NSUB)
		var[odd_sb] = odd;
	return write_group_v(dir, mask, var, paths);
}

/* The same variant for every subband. */
static int write_group_all(const char *dir, const variant *all, char paths[NSUB][1024])
{
	const variant *var[NSUB] = { all, all, all, all };
	return write_group_v(dir, 0xF, var, paths);
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

/* Load `paths` (n of them, in ptrs' shuffled order) with rephasing off; NULL
 * on failure with the message in err. */
static vis_set *load(char paths[NSUB][1024], int n, int rephase, convert_info *info, char *err,
		     size_t errlen)
{
	convert_params p;
	vis_set *v = NULL;

	convert_params_default(&p);
	p.nsub_expected = NSUB;
	p.rephase = rephase;
	if (convert_load_group(ptrs(paths, n), n, &p, &v, info, err, errlen) != 0)
		return NULL;
	return v;
}

/* One subband that disagrees with the other three (each quantity in turn) is
 * left out as missing, with the reason: its channels are flagged and the
 * rest is exactly the group without it. */
static void test_odd_subband_dropped(void)
{
	struct {
		const char *name, *expect;
		variant var;
	} cases[] = {
		{"times", "integration times", {.time_shift_d = 1e-4, .cw_scale = 1}},
		{"times 0.3 s", "integration times", {.time_shift_d = 0.3 / 86400, .cw_scale = 1}},
		{"dec", "declination", {.dec_shift_rad = 1e-3, .cw_scale = 1}},
		{"width", "channel width", {.cw_scale = 1.5}},
		{"pols", "polarisations", {.cw_scale = 1, .swap_pols = 1}},
		{"bls", "baselines", {.cw_scale = 1, .swap_baselines = 1}},
		{"freq", "contiguous", {.cw_scale = 1, .freq_shift_hz = 0.4 * CW}},
		{"numbers", "antenna numbers", {.cw_scale = 1, .renumber = 1}},
		{"one antenna moved", "baseline vectors", {.cw_scale = 1, .move_m = 0.5}},
		{"other centre", "w of uvw_array", {.cw_scale = 1, .lon_uvw_arcsec = 5}},
	};
	char paths3[NSUB][1024], err[ERR_LEN] = "";
	int n3 = write_group(subdir("odd-ref"), 0xB, -1, NULL, paths3);
	convert_info i3;
	vis_set *ref = load(paths3, n3, 1, &i3, err, sizeof err);

	CHECK(ref != NULL, "three subbands: %s", err);
	if (!ref)
		return;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char paths[NSUB][1024], dir[16];
		convert_info info;
		vis_set *v;
		int n, same = 1, flagged = 1;

		/* Directory names must not contain the expected words. */
		snprintf(dir, sizeof dir, "d%zu", k);
		n = write_group(subdir(dir), 0xF, 2, &cases[k].var, paths);
		CHECK(n == NSUB, "%s: wrote %d", cases[k].name, n);
		err[0] = 0;
		v = load(paths, n, 1, &info, err, sizeof err);
		CHECK(v != NULL, "%s: refused: %s", cases[k].name, err);
		if (!v)
			continue;
		CHECK(info.dropped_mask == 1u << 2 && info.missing_mask == 1u << 2 &&
		      info.nsub_present == 3, "%s: dropped %x missing %x present %d", cases[k].name,
		      info.dropped_mask, info.missing_mask, info.nsub_present);
		CHECK(strstr(info.dropped_reason[2], cases[k].expect) &&
		      strstr(info.dropped_reason[2], "3 of 4 subbands agree with "
			     "2026-03-01T05:49:14_sb00.hdf5"), "%s: reason '%s'", cases[k].name,
		      info.dropped_reason[2]);
		printf("# %s: sb02 %s\n", cases[k].name, info.dropped_reason[2]);
		/* Combined channels 3..5 are subband 2. */
		for (size_t i = 0; i < vis_nsamples(v); i++) {
			int c = (int)(i / v->npols % v->nchan);
			if (c >= 3 && c < 6)
				flagged &= v->flags[i] == VIS_FLAG_MISSING && v->weight[i] == 0;
			same &= v->vis[i] == ref->vis[i] && v->flags[i] == ref->flags[i] &&
				v->weight[i] == ref->weight[i];
		}
		CHECK(flagged, "%s: sb02 not flagged missing", cases[k].name);
		CHECK(same && v->phase_ra_rad == ref->phase_ra_rad, "%s: not the group without sb02",
		      cases[k].name);
		vis_free(v);
	}
	vis_free(ref);
}

/* A node whose software shifts every antenna position by the same vector
 * writes the same baselines: its subband is used, and the result is that of
 * the unshifted group (also when the shifted file is the template). */
static void test_position_shift_accepted(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	variant shift = {.cw_scale = 1, .shift_m = 250};
	int n = write_group(subdir("shift-none"), 0xF, -1, NULL, paths);
	convert_info info;
	vis_set *ref = load(paths, n, 1, &info, err, sizeof err), *v;

	CHECK(ref != NULL, "%s", err);
	if (!ref)
		return;
	for (int odd = 2; odd >= 0; odd -= 2) {
		double maxd = 0;
		char dir[32];

		snprintf(dir, sizeof dir, "shift%d", odd);
		n = write_group(subdir(dir), 0xF, odd, &shift, paths);
		v = load(paths, n, 1, &info, err, sizeof err);
		CHECK(v != NULL, "sb%02d shifted: refused: %s", odd, err);
		if (!v)
			continue;
		CHECK(info.dropped_mask == 0 && info.missing_mask == 0 && info.nsub_present == NSUB,
		      "sb%02d shifted: dropped %x", odd, info.dropped_mask);
		for (size_t i = 0; i < vis_nsamples(v); i++)
			maxd = fmax(maxd, cabsf(v->vis[i] - ref->vis[i]));
		printf("# all positions of sb%02d moved by %.0f m: used; max |diff| %.2g Jy\n", odd,
		       shift.shift_m * sqrt(1 + 0.25 + 0.09), maxd);
		/* The template's positions are shifted when odd == 0: the baseline
		 * differences round differently (1e-13 m). */
		CHECK(maxd <= (odd == 0 ? 1e-5 : 0), "sb%02d shifted: max |diff| %g", odd, maxd);
		vis_free(v);
	}
	vis_free(ref);
}

/* Which subband is odd is decided by the majority, not by the lowest
 * number; without a strict majority the group fails with a reason and no
 * single file is blamed. */
static void test_majority_rule(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	variant late = {.cw_scale = 1, .time_shift_d = 2e-4}, later = {.cw_scale = 1, .time_shift_d = 4e-4};
	convert_info info;
	vis_set *v;
	int n;

	/* sb00 (the lowest-numbered, the old template) is the odd one. */
	n = write_group(subdir("maj-sb00"), 0xF, 0, &late, paths);
	v = load(paths, n, 0, &info, err, sizeof err);
	CHECK(v && info.dropped_mask == 1u, "sb00 odd: %s dropped %x", err, v ? info.dropped_mask : 0);
	if (v) {
		CHECK(strstr(info.dropped_reason[0], "3 of 4 subbands agree with "
			     "2026-03-01T05:49:15_sb01.hdf5"), "reason '%s'", info.dropped_reason[0]);
		/* The set is the others' (their times), named after the first used file. */
		CHECK_NEAR(v->time_jd[0], 2461100.744, 1e-9);
		CHECK(!strcmp(v->name, "2026-03-01T05:49:15"), "name %s", v->name);
		printf("# sb00 odd: %s\n", info.dropped_reason[0]);
	}
	vis_free(v);

	/* Three present (sb02 absent), one odd: 2 of 3 is a majority. */
	n = write_group(subdir("maj-three"), 0xB, 3, &late, paths);
	v = load(paths, n, 0, &info, err, sizeof err);
	CHECK(v && info.dropped_mask == 1u << 3 && info.missing_mask == (1u << 2 | 1u << 3) &&
	      info.nsub_present == 2, "3 present: %s", err);
	vis_free(v);

	/* Two against two: no majority. */
	{
		const variant *var[NSUB] = { &late, &late, NULL, NULL };
		n = write_group_v(subdir("maj-split"), 0xF, var, paths);
		v = load(paths, n, 0, &info, err, sizeof err);
		CHECK(!v && info.failed_file == -1 && strstr(err, "no majority of the 4") &&
		      strstr(err, "largest agreeing set is 2") && strstr(err, "integration times"),
		      "2-2: '%s' failed_file %d", err, info.failed_file);
		printf("# 2 against 2: %s\n", err);
	}
	/* Three groups of times (2, 1, 1): 2 of 4 is no strict majority either. */
	{
		const variant *var[NSUB] = { NULL, &late, &later, NULL };
		n = write_group_v(subdir("maj-three-ways"), 0xF, var, paths);
		v = load(paths, n, 0, &info, err, sizeof err);
		CHECK(!v && strstr(err, "largest agreeing set is 2 (sb00, sb03)"), "2-1-1: '%s'", err);
	}
	/* Two present that disagree: 1 of 2 is no majority. */
	n = write_group(subdir("maj-two"), 0x3, 1, &late, paths);
	v = load(paths, n, 0, &info, err, sizeof err);
	CHECK(!v && strstr(err, "no majority of the 2"), "1-1: '%s'", err);
}

/* Names, duplicates and ranges are checked before anything is read. */
static void test_bad_names(void)
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

/* Max |rephased − FIXED prediction| (Jy) of a set from the files of
 * subband_set.  The prediction's beam is pointed from the site the data
 * were made for (lon_true_rad), not from a header that may be off. */
static double rephase_error(const vis_set *v, double lon_true_rad)
{
	vis_set *m = vis_dup(v);
	sky_model sky;
	char err[ERR_LEN] = "";
	double maxerr = 0;

	if (!m)
		return INFINITY;
	m->lon_rad = lon_true_rad;
	sky_two(&sky);
	CHECK_OK(predict_vis(m, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	for (size_t i = 0; i < vis_nsamples(v); i++)
		maxerr = fmax(maxerr, cabsf(v->vis[i] - m->vis[i]));
	sky_release(&sky);
	vis_free(m);
	return maxerr;
}

/*
 * Issue 19 item 2: the header's longitude is 5" east of the site the
 * correlator fringe-stopped for (and computed uvw_array with).  The old
 * centre's w comes from uvw_array, so the rephased group matches the sky;
 * the centre the uvw imply is reported.  The same data with uvw_array made
 * for the header's site (what rephasing with the header's w did) are off.
 */
static void test_header_longitude_off(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	const double lon = -118.2825 * D2R;
	variant hdr = {.cw_scale = 1, .lon_hdr_arcsec = 5};
	variant hdr_uvw = {.cw_scale = 1, .lon_hdr_arcsec = 5, .lon_uvw_arcsec = 5};
	convert_info info;
	vis_set *v;
	double e_new = INFINITY, e_old = 0, e_ok = INFINITY;
	int n;

	n = write_group_all(subdir("lon-ok"), NULL, paths);
	v = load(paths, n, 1, &info, err, sizeof err);
	CHECK(v && info.has_drift_fit && info.drift_fit.source == CONVERT_W_HEADER, "consistent: %s", err);
	if (v) {
		e_ok = rephase_error(v, lon);
		CHECK(fabs(info.drift_fit.dlon_arcsec) < 0.01 && fabs(info.drift_fit.ddec_arcsec) < 0.01,
		      "consistent: fit %g %g", info.drift_fit.dlon_arcsec, info.drift_fit.ddec_arcsec);
	}
	vis_free(v);

	n = write_group_all(subdir("lon-hdr"), &hdr, paths);
	v = load(paths, n, 1, &info, err, sizeof err);
	CHECK(v && info.has_drift_fit, "header off: %s", err);
	if (v) {
		const convert_drift_fit *g = &info.drift_fit;
		e_new = rephase_error(v, lon);
		CHECK(g->source == CONVERT_W_FIT && g->fitted, "source %d", g->source);
		/* The fit finds the site the uvw were made for: 5" west of the header. */
		CHECK_NEAR(g->dlon_arcsec, -5, 0.01);
		CHECK_NEAR(g->ddec_arcsec, 0, 0.01);
		CHECK_NEAR(g->sep_arcsec, 5 * cos(54.9 * D2R), 0.01);
		CHECK_NEAR(g->lon_rad, lon, 0.01 / 3600 * D2R);
		CHECK(g->max_header_m > 1e-3 && g->max_m < 2e-4, "residuals: header %g, fit %g m",
		      g->max_header_m, g->max_m);
		CHECK(v->history && strstr(v->history, "w from uvw_array: longitude -5.0"), "%s",
		      v->history ? v->history : "");
		printf("# header 5\" east: fitted longitude %+.4f\", dec %+.4f\" from the header's "
		       "(%.3f\" on the sky), residual rms %.2g m max %.2g m (header's: %.3g m)\n",
		       g->dlon_arcsec, g->ddec_arcsec, g->sep_arcsec, g->rms_m, g->max_m, g->max_header_m);
	}
	vis_free(v);

	n = write_group_all(subdir("lon-old"), &hdr_uvw, paths);
	v = load(paths, n, 1, &info, err, sizeof err);
	CHECK(v && info.drift_fit.source == CONVERT_W_HEADER, "uvw for the header's site: %s", err);
	if (v)
		e_old = rephase_error(v, lon);
	vis_free(v);
	printf("# max |rephased - prediction| (8.8 Jy source): consistent files %.2g Jy; header 5\" "
	       "off, w from uvw_array %.2g Jy; w from the header's site (the old way) %.3g Jy\n",
	       e_ok, e_new, e_old);
	CHECK(e_ok < 2e-5, "consistent: %g", e_ok);
	/* The fit's own precision from 10 float32 baselines: ~1e-8 rad. */
	CHECK(e_new < 5e-3, "w from uvw_array: %g", e_new);
	CHECK(e_old > 0.3, "w from the header: %g", e_old);
}

/* uvw whose w is not one direction's projection (one baseline's w moved by
 * 1 cm, and its data fringe-stopped with it): the rows' own w are used.
 * uvw that say nothing (all zero): the header's. */
static void test_uvw_rows(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	variant kick = {.cw_scale = 1, .w_kick_m = 0.01};
	convert_info info;
	vis_set *v;
	int n = write_group_all(subdir("rows"), &kick, paths);

	v = load(paths, n, 1, &info, err, sizeof err);
	CHECK(v && info.drift_fit.source == CONVERT_W_ROWS, "%s source %d", err,
	      v ? info.drift_fit.source : -1);
	if (v) {
		double e = rephase_error(v, -118.2825 * D2R);
		printf("# one baseline's w 1 cm off: rows' own w used, max |rephased - prediction| "
		       "%.2g Jy (fit residual %.3g m)\n", e, info.drift_fit.max_m);
		/* float32 w of baselines up to 1.1 km: <= 6e-5 m, 2e-3 rad at 1.5 GHz. */
		CHECK(e < 0.03, "rows: %g", e);
	}
	vis_free(v);

	/* uvw_array all zero: not believed, the header's geometry is used. */
	kick = (variant){.cw_scale = 1, .zero_uvw = 1};
	n = write_group_all(subdir("zero-uvw"), &kick, paths);
	v = load(paths, n, 1, &info, err, sizeof err);
	CHECK(v && info.drift_fit.source == CONVERT_W_HEADER_ONLY, "%s source %d", err,
	      v ? info.drift_fit.source : -1);
	if (v) {
		double e = rephase_error(v, -118.2825 * D2R);
		printf("# uvw_array all zero: the header's site used, max |rephased - prediction| %.2g Jy\n", e);
		CHECK(e < 2e-5, "zero uvw: %g", e);
	}
	vis_free(v);
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
	variant inj = {.cw_scale = 1, .inject = 1};
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
	variant inj = {.cw_scale = 1, .inject = 1};
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

/* A truncated file fails the group with its name, on both paths, and
 * convert_info says which of the given files it was (the daemon drops it). */
static void test_truncated_file(void)
{
	char paths[NSUB][1024], err[ERR_LEN] = "";
	int n = write_group(subdir("trunc"), 0xF, -1, NULL, paths);
	convert_params p;
	convert_info info;
	vis_set *v = NULL;
	const char *victim = NULL, **given = ptrs(paths, n);

	for (int i = 0; i < n; i++)
		if (strstr(paths[i], "_sb01"))
			victim = paths[i];
	CHECK(victim && truncate(victim, 20000) == 0, "%s", "truncate");
	convert_params_default(&p);
	p.nsub_expected = NSUB;
	for (int d = 0; d < 2; d++) {
		p.direct_read = d;
		err[0] = 0;
		CHECK(convert_load_group(given, n, &p, &v, &info, err, sizeof err) < 0, "%s", "accepted");
		CHECK(strstr(err, "_sb01.hdf5") != NULL, "message '%s'", err);
		CHECK(info.failed_file >= 0 && info.failed_file < n && given[info.failed_file] == victim,
		      "failed_file %d", info.failed_file);
		CHECK(v == NULL, "%s", "ret set");
	}
}

static int copy_to(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	char buf[1 << 16];
	size_t n;
	int r = in && out ? 0 : -1;

	while (r == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			r = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		r = -1;
	return r;
}

/* convert_load_inputs, as the daemon calls it: the subbands come from the
 * caller (files named without _sbNN), the summaries convert_sub_read gave
 * are used as they are (the data are read from copies), and with min_usable
 * a file whose data turn out unreadable is left out within the same call,
 * its fate in info.file[] as data. */
static void test_inputs(void)
{
	char paths[NSUB][1024], copy[NSUB][1100], err[ERR_LEN] = "";
	const char *dir = subdir("inputs");
	int n = write_group(dir, 0xF, -1, NULL, paths), victim = -1;
	convert_params p;
	convert_info info;
	convert_input in[NSUB];
	convert_sub *sub[NSUB] = { NULL };
	vis_set *ref = NULL, *v = NULL;

	convert_params_default(&p);
	p.nsub_expected = NSUB;
	p.rephase = 0;
	CHECK_OK(convert_load_group(ptrs(paths, n), n, &p, &ref, NULL, err, sizeof err), err);
	if (!ref)
		return;
	for (int i = 0; i < n; i++) {
		const char *reason = NULL;
		int sb = -1;
		CHECK_OK(convert_subband_from_name(paths[i], &sb), NULL);
		CHECK_OK(convert_sub_read(paths[i], &sub[i], err, sizeof err), err);
		CHECK(sub[i] && convert_sub_error(sub[i], &reason) == 0 && !reason[0] &&
		      convert_sub_header(sub[i])->nfreqs == ref->nchan / NSUB, "%s", paths[i]);
		/* In reverse order, under names that do not say the subband. */
		snprintf(copy[i], sizeof copy[i], "%s/file%d.hdf5", dir, n - 1 - i);
		CHECK(copy_to(paths[i], copy[i]) == 0, "copy %s", copy[i]);
		in[i].path = copy[i];
		in[i].subband = sb;
		in[i].sub = sub[i];
		if (sb == 1)
			victim = i;
	}
	CHECK(convert_load_group((const char *[]){ copy[0] }, 1, &p, &v, NULL, err, sizeof err) < 0 &&
	      strstr(err, "_sbNN"), "%s", "the names say nothing");
	CHECK_OK(convert_load_inputs(in, n, &p, &v, &info, err, sizeof err), err);
	if (v) {
		int used = 0;
		for (int i = 0; i < n; i++)
			used += info.file[i].status == CONVERT_FILE_USED;
		CHECK(used == n && info.missing_mask == 0, "used %d", used);
		CHECK(vis_nsamples(v) == vis_nsamples(ref) &&
		      !memcmp(v->vis, ref->vis, vis_nsamples(v) * sizeof *v->vis) &&
		      !memcmp(v->flags, ref->flags, vis_nsamples(v)) &&
		      !memcmp(v->freq_hz, ref->freq_hz, v->nchan * sizeof *v->freq_hz),
		      "%s", "the same set as from the named files");
	}
	vis_free(v);
	v = NULL;

	/* sb01's copy loses its data after its summary was read. */
	CHECK(victim >= 0 && truncate(copy[victim], 20000) == 0, "%s", "truncate");
	for (int d = 0; d < 2; d++) {
		size_t miss = 0, diff = 0;
		p.direct_read = d;
		p.min_usable = NSUB - 1;
		CHECK_OK(convert_load_inputs(in, n, &p, &v, &info, err, sizeof err), err);
		CHECK(v && info.file[victim].status == CONVERT_FILE_UNUSABLE &&
		      info.file[victim].code < 0 && strstr(info.file[victim].reason, copy[victim]) &&
		      info.missing_mask == 1u << 1 && info.nsub_present == NSUB - 1,
		      "%s path: status %d missing %x reason '%s'", d ? "direct" : "HDF5",
		      info.file[victim].status, info.missing_mask, info.file[victim].reason);
		for (size_t k = 0; v && k < vis_nsamples(v); k++) {
			if (v->flags[k] & VIS_FLAG_MISSING)
				miss++;
			else
				diff += v->vis[k] != ref->vis[k] || v->flags[k] != ref->flags[k];
		}
		printf("# %s path, sb01 unreadable after its summary: left out in one call (%zu of %zu "
		       "samples missing, %zu others differ from the whole group's): %s\n",
		       d ? "direct" : "HDF5", miss, v ? vis_nsamples(v) : 0, diff,
		       info.file[victim].reason);
		CHECK(v && miss == vis_nsamples(v) / NSUB && diff == 0, "missing %zu, differ %zu", miss,
		      diff);
		vis_free(v);
		v = NULL;
		/* With no file to spare it fails, naming the file. */
		p.min_usable = NSUB;
		CHECK(convert_load_inputs(in, n, &p, &v, &info, err, sizeof err) < 0 && !v &&
		      info.failed_file == victim && info.file[victim].status == CONVERT_FILE_UNUSABLE &&
		      strstr(err, copy[victim]), "failed_file %d: %s", info.failed_file, err);
	}
	/* The template (the lowest-numbered file, sb00) unreadable: the next
	 * one's metadata are used, the rest of the set is the same. */
	for (int i = 0; i < n; i++)
		if (in[i].subband == 0) {
			CHECK(copy_to(paths[victim], copy[victim]) == 0 && truncate(copy[i], 20000) == 0,
			      "%s", "restore sb01, truncate sb00");
			victim = i;
		}
	p.direct_read = 1;
	p.min_usable = NSUB - 1;
	CHECK_OK(convert_load_inputs(in, n, &p, &v, &info, err, sizeof err), err);
	CHECK(v && info.missing_mask == 1u && info.file[victim].status == CONVERT_FILE_UNUSABLE &&
	      v->ntimes == ref->ntimes && v->time_jd[0] == ref->time_jd[0] && v->history &&
	      strstr(v->history, "combined 3 of 4"), "template unreadable: missing %x", info.missing_mask);
	for (size_t k = 0; v && k < vis_nsamples(v); k++)
		if (!(v->flags[k] & VIS_FLAG_MISSING) && v->vis[k] != ref->vis[k]) {
			CHECK(0, "sample %zu differs", k);
			break;
		}
	vis_free(v);
	for (int i = 0; i < n; i++)
		convert_sub_free(sub[i]);
	vis_free(ref);
}

/* Real files have rows with ant_1 > ant_2 (the correlator's input order).
 * The same group simulated in ascending and in correlator order, combined and
 * rephased: every row of the correlator-order set must be its ascending
 * twin's data conjugated, with −uvw (the rephasing takes w_old and w_new from
 * pos[ant_2] − pos[ant_1] of the row as written), and the same flags and
 * weights; subband agreement holds for the correlator order.  The prediction
 * for the rephased set (the calibration model) obeys the same relation. */
static void test_correlator_order(void)
{
	simorder s;
	simorder_opts o;
	int *twin = NULL;
	uint8_t *rev = NULL;

	simorder_opts_init(&o);
	o.nchan = 2;
	o.ntimes = 4;
	o.rfi = 1;
	if (simorder_make(&s, "order", &o) == 0 &&
	    simorder_twins(s.v[0], s.v[1], &twin, &rev) == 0) {
		const vis_set *A = s.v[0], *B = s.v[1];
		size_t per = (size_t)B->nchan * B->npols;
		double dv = 0, dm = 0, du = 0, peak = 0, mpeak = 0;
		long nrev = 0, miss = 0, flag_diff = 0, wt_diff = 0;

		CHECK(A->phase_type == VIS_PHASE_FIXED && B->phase_type == VIS_PHASE_FIXED);
		CHECK(A->phase_ra_rad == B->phase_ra_rad && A->phase_dec_rad == B->phase_dec_rad);
		for (int b = 0; b < B->nbls; b++) {
			if (twin[b] < 0) {
				miss++;
				continue;
			}
			nrev += rev[b];
			for (int t = 0; t < B->ntimes; t++) {
				size_t rb = (size_t)t * B->nbls + b, ra = (size_t)t * A->nbls + twin[b];
				for (int k = 0; k < 3; k++)
					du = fmax(du, fabs(B->uvw_m[3 * rb + k] -
							   (rev[b] ? -1 : 1) * A->uvw_m[3 * ra + k]));
				for (size_t i = 0; i < per; i++) {
					float complex x = B->vis[rb * per + i], y = A->vis[ra * per + i];
					float complex mx = s.model[1][rb * per + i], my = s.model[0][ra * per + i];
					if (rev[b]) {
						y = conjf(y);
						my = conjf(my);
					}
					dv = fmax(dv, cabsf(x - y));
					dm = fmax(dm, cabsf(mx - my));
					peak = fmax(peak, cabsf(y));
					mpeak = fmax(mpeak, cabsf(my));
					flag_diff += B->flags[rb * per + i] != A->flags[ra * per + i];
					wt_diff += B->weight[rb * per + i] != A->weight[ra * per + i];
				}
			}
		}
		printf("# correlator order, rephased: %d of %d baselines with ant_1 > ant_2; "
		       "max |V - V_twin| %.3g Jy (peak %.3g), model %.3g Jy (peak %.3g), |uvw + uvw_twin| %.3g m\n",
		       (int)nrev, B->nbls, dv, peak, dm, mpeak, du);
		CHECK(miss == 0 && nrev == simorder_reversed(B) && nrev == 21, "missing %ld, reversed %ld",
		      miss, nrev);
		/* Rephasing multiplies each row by its own phase factor in float:
		 * a reversed row gets the conjugate factor, so agreement is to float
		 * rounding of the samples (~6e-8 relative). */
		CHECK(dv <= 1e-6 * peak, "rephased data differ by %g of %g", dv, peak);
		CHECK(dm <= 1e-6 * mpeak, "model differs by %g of %g", dm, mpeak);
		CHECK(du <= 1e-9, "uvw differ by %g m", du);
		CHECK(flag_diff == 0 && wt_diff == 0, "flags %ld, weights %ld", flag_diff, wt_diff);
	}
	free(twin);
	free(rev);
	simorder_free(&s);
}

int main(void)
{
	RUN(test_direct_equals_hdf5);
	RUN(test_chunked_equals_contiguous);
	RUN(test_truncated_file);
	RUN(test_inputs);
	RUN(test_subband_from_name);
	RUN(test_combine_order);
	RUN(test_missing_subband);
	RUN(test_bad_names);
	RUN(test_odd_subband_dropped);
	RUN(test_position_shift_accepted);
	RUN(test_majority_rule);
	RUN(test_header_longitude_off);
	RUN(test_uvw_rows);
	RUN(test_rephase_through_files);
	RUN(test_export_roundtrip);
	RUN(test_export_provenance);
	RUN(test_correlator_order);
	return TEST_DONE();
}
