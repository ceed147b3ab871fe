/* tests/calib/test_apply.c — applying K/B/G tables: values, matching, flags. */
#include "tests/h5raw.h"
#include "tests/test.h"

#include <complex.h>
#include <errno.h>
#include <stdint.h>

#include <dirent.h>
#include <hdf5.h>
#include <sys/stat.h>

#include "calib/apply.h"
#include "core/config.h"
#include "core/convert.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "core/predict.h"
#include "core/sky.h"
#include "core/uvh5.h"
#include "core/vis.h"
#include "daemon/pipeline.h"
#include "daemon/settings.h"
#include "daemon/stage_calibrate.h"
#include "daemon/stage_flag.h"
#include "state/calreg.h"
#include "state/catalog.h"
#include "state/db.h"

#define NA 5
#define NC 6
#define NT 4

static vis_set *make_set(void)
{
	int nbl = NA * (NA + 1) / 2, b = 0;
	vis_set *v = vis_new(NT, nbl, NC, 2, NA);

	if (!v)
		return NULL;
	for (int a = 0; a < NA; a++)
		v->ants[a].number = 20 + a;
	for (int i = 0; i < NA; i++)
		for (int j = i; j < NA; j++, b++) {
			v->ant1[b] = 20 + i;
			v->ant2[b] = 20 + j;
		}
	for (int c = 0; c < NC; c++)
		v->freq_hz[c] = 1.4e9 + c * 2e6;
	v->chan_width_hz = 2e6;
	for (int t = 0; t < NT; t++)
		v->time_jd[t] = 2461000.5 + t * 60.0 / 86400;
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	for (size_t i = 0; i < vis_nsamples(v); i++)
		v->vis[i] = 3.0f - 1.0f * I;
	snprintf(v->name, sizeof v->name, "apply-test");
	return v;
}

static float complex bgain(int a, int c, int h)
{
	return (1.0f + 0.1f * a + 0.01f * c) * cexpf(I * (0.3f * a - 0.05f * c + 0.2f * h));
}

static float complex ggain(int t, int a, int h)
{
	return (0.8f + 0.05f * a) * cexpf(I * (0.1f * t * a + 0.4f * h));
}

static void test_apply_b_then_g(void)
{
	vis_set *v = make_set();
	gaintab *b = gaintab_new(1, NA, NC, 2), *g = gaintab_new(NT, NA, 1, 2);
	apply_stats st;
	char err[ERR_LEN] = "";
	double worst = 0;

	CHECK(v && b && g);
	if (!v || !b || !g)
		goto out;
	snprintf(b->type, sizeof b->type, "B");
	snprintf(g->type, sizeof g->type, "G");
	/* Antennas listed in a different order than in the set. */
	for (int a = 0; a < NA; a++) {
		b->antenna_numbers[a] = 20 + (NA - 1 - a);
		g->antenna_numbers[a] = 20 + a;
	}
	for (int c = 0; c < NC; c++)
		b->freq_hz[c] = v->freq_hz[c];
	g->freq_hz[0] = 1.405e9;
	for (int t = 0; t < NT; t++)
		g->time_mjd[t] = v->time_jd[t] - 2400000.5 + 1e-6; /* nearest = same index */
	for (int a = 0; a < NA; a++)
		for (int h = 0; h < 2; h++) {
			for (int c = 0; c < NC; c++)
				b->gain[gaintab_idx(b, 0, NA - 1 - a, c, h)] = bgain(a, c, h);
			for (int t = 0; t < NT; t++)
				g->gain[gaintab_idx(g, t, a, 0, h)] = ggain(t, a, h);
		}
	/* Corrupt the data as V_obs = g1 V conj(g2) with the product B·G. */
	for (int t = 0; t < NT; t++)
		for (int bl = 0; bl < v->nbls; bl++)
			for (int c = 0; c < NC; c++)
				for (int h = 0; h < 2; h++) {
					int i = v->ant1[bl] - 20, j = v->ant2[bl] - 20;
					float complex gi = bgain(i, c, h) * ggain(t, i, h);
					float complex gj = bgain(j, c, h) * ggain(t, j, h);
					v->vis[vis_idx(v, t, bl, c, h)] *= gi * conjf(gj);
				}
	/* One flagged B solution: antenna 22, channel 3, pol Y. */
	b->flag[gaintab_idx(b, 0, NA - 1 - 2, 3, 1)] = 1;

	CHECK_OK(apply_solutions(v, NULL, b, g, 2, &st, err, sizeof err), err);
	CHECK(st.ntables == 2);
	/* The data are now in Jy, and their history says which tables did it. */
	CHECK(!strcmp(v->vis_units, "Jy"), "vis_units '%s'", v->vis_units);
	CHECK(v->history && !strcmp(v->history, "contimg calibrate: applied a B table.\n"
				    "contimg calibrate: applied a G table."), "history '%s'",
	      v->history ? v->history : "(none)");
	for (int t = 0; t < NT; t++)
		for (int bl = 0; bl < v->nbls; bl++)
			for (int c = 0; c < NC; c++)
				for (int h = 0; h < 2; h++) {
					size_t x = vis_idx(v, t, bl, c, h);
					int hit = (v->ant1[bl] == 22 || v->ant2[bl] == 22) && c == 3 && h == 1;
					CHECK(!!(v->flags[x] & VIS_FLAG_CAL) == hit);
					if (!hit)
						worst = fmax(worst, cabsf(v->vis[x] - (3.0f - 1.0f * I)));
				}
	CHECK(worst < 1e-5, "worst %.3g", worst);
	/* 5 flagged-per-time baselines touching antenna 22 (4 cross + 1 auto):
	 * cross ones are 4 × NT samples out of 10 × NT × NC × 2. */
	CHECK_NEAR(st.cal_flagged_frac, 4.0 / (10 * NC * 2), 1e-12);
	printf("# B then G restored the sky to %.2g; %.3f %% of cross samples flagged by a flagged solution\n",
	       worst, 100 * st.cal_flagged_frac);
out:
	gaintab_free(b);
	gaintab_free(g);
	vis_free(v);
}

static void test_missing_and_types(void)
{
	vis_set *v = make_set();
	gaintab *g = gaintab_new(1, NA - 1, 1, 2);
	char err[ERR_LEN] = "";

	CHECK(v && g);
	if (!v || !g)
		goto out;
	snprintf(g->type, sizeof g->type, "G");
	for (int a = 0; a < NA - 1; a++)
		g->antenna_numbers[a] = 20 + a; /* antenna 24 missing */
	CHECK(apply_solutions(v, NULL, g, NULL, 0, NULL, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "B table") != NULL, "%s", err);
	CHECK_OK(apply_solutions(v, NULL, NULL, g, 0, NULL, err, sizeof err), err);
	for (int bl = 0; bl < v->nbls; bl++) {
		int miss = v->ant1[bl] == 24 || v->ant2[bl] == 24;
		CHECK(!!(v->flags[vis_idx(v, 2, bl, 4, 0)] & VIS_FLAG_CAL) == miss);
		if (!miss)
			CHECK(cabsf(v->vis[vis_idx(v, 2, bl, 4, 0)] - (3.0f - 1.0f * I)) < 1e-6);
	}
out:
	gaintab_free(g);
	vis_free(v);
}

/*
 * Provenance of applying: a delay table alone leaves the units alone; a
 * bandpass or gain table makes them Jy; each table applied is named in the
 * history with its path (apply_solutions_named) and what it says of itself;
 * the exported file carries both.
 */
static void test_apply_provenance(void)
{
	vis_set *v = make_set();
	gaintab *k = gaintab_new(1, NA, 1, 2), *b = gaintab_new(1, NA, NC, 2);
	gaintab *g = gaintab_new(1, NA, 1, 2);
	const char *names[3] = {NULL, "/cal/2026-03-01T05:49:14_0834+555_B.h5",
				"/cal/2026-03-01T05:49:14_0834+555_G.h5"};
	char err[ERR_LEN] = "", out[1024], s[4096];

	CHECK(v && k && b && g);
	if (!v || !k || !b || !g)
		goto out;
	snprintf(k->type, sizeof k->type, "K");
	snprintf(b->type, sizeof b->type, "B");
	snprintf(g->type, sizeof g->type, "G");
	for (int a = 0; a < NA; a++)
		k->antenna_numbers[a] = b->antenna_numbers[a] = g->antenna_numbers[a] = 20 + a;
	for (int c = 0; c < NC; c++)
		b->freq_hz[c] = v->freq_hz[c];
	k->freq_hz[0] = g->freq_hz[0] = v->freq_hz[0];
	snprintf(b->calibrator, sizeof b->calibrator, "0834+555");
	snprintf(b->source_group, sizeof b->source_group, "2026-03-01T05:49:14");
	b->refant = 23;
	b->valid_start_mjd = 61100.25;
	b->valid_end_mjd = 61100.75;

	CHECK_OK(apply_solutions(v, k, NULL, NULL, 0, NULL, err, sizeof err), err);
	CHECK(v->vis_units[0] == 0, "a delay alone made the units '%s'", v->vis_units);
	CHECK(v->history && !strcmp(v->history, "contimg calibrate: applied a K table."), "'%s'",
	      v->history ? v->history : "(none)");

	CHECK_OK(apply_solutions_named(v, NULL, b, g, names, 0, NULL, err, sizeof err), err);
	CHECK(!strcmp(v->vis_units, "Jy"), "vis_units '%s'", v->vis_units);
	CHECK(v->history && strstr(v->history, "\ncontimg calibrate: applied the B table "
				   "/cal/2026-03-01T05:49:14_0834+555_B.h5 (calibrator 0834+555, "
				   "solved on group 2026-03-01T05:49:14, refant 23, valid MJD "
				   "61100.25000 to 61100.75000).\n"), "'%s'", v->history);
	CHECK(v->history && strstr(v->history, "\ncontimg calibrate: applied the G table "
				   "/cal/2026-03-01T05:49:14_0834+555_G.h5."), "'%s'", v->history);

	/* Export (needs a fixed phase centre and a site) and read back raw. */
	v->phase_type = VIS_PHASE_FIXED;
	v->phase_ra_rad = 2.2;
	v->phase_dec_rad = 0.95;
	v->lat_rad = 0.65;
	v->lon_rad = -2.06;
	snprintf(out, sizeof out, "%s/apply_provenance.uvh5", test_tmpdir());
	CHECK_OK(convert_export(out, v, err, sizeof err), err);
	raw_str(out, "Header/vis_units", s, sizeof s);
	CHECK(!strcmp(s, "Jy"), "vis_units '%s'", s);
	raw_str(out, "Header/history", s, sizeof s);
	CHECK(strstr(s, "applied the B table /cal/2026-03-01T05:49:14_0834+555_B.h5") &&
	      strstr(s, "applied the G table /cal/2026-03-01T05:49:14_0834+555_G.h5") &&
	      strstr(s, uvh5_writer_version()), "history '%s'", s);
out:
	gaintab_free(k);
	gaintab_free(b);
	gaintab_free(g);
	vis_free(v);
}

/* ---- the flag and calibrate stages on the reference groups ---------------- */

static int load_group(const char *rel, vis_set **ret, char *truth)
{
	char dir[1024], paths[16][1024], err[ERR_LEN] = "";
	const char *pp[16];
	DIR *d;
	struct dirent *e;
	int n = 0, r;
	convert_params cp;

	snprintf(dir, sizeof dir, "%.700s", test_data(rel));
	d = opendir(dir);
	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 10 && strstr(e->d_name, "_sb") && !strcmp(e->d_name + l - 5, ".hdf5") && n < 16)
			snprintf(paths[n++], 1024, "%.700s/%.300s", dir, e->d_name);
		else if (!strncmp(e->d_name, "truth_", 6))
			snprintf(truth, 1024, "%.700s/%.300s", dir, e->d_name);
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		pp[i] = paths[i];
	convert_params_default(&cp);
	r = convert_load_group(pp, n, &cp, ret, NULL, err, sizeof err);
	CHECK_OK(r, err);
	return r;
}

/* Corrected-data / truth-model flux ratio (complex, over unflagged crosses). */
static double complex flux_ratio(const vis_set *v, const char *truth)
{
	sky_model sky;
	vis_set *m = vis_dup(v);
	char err[ERR_LEN] = "";
	double complex num = 0;
	double den = 0;

	sky_init(&sky);
	if (!m || sky_load_truth_json(&sky, truth, NULL, err, sizeof err) ||
	    predict_vis(m, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err)) {
		CHECK(0, "model: %s", err);
		vis_free(m);
		sky_release(&sky);
		return NAN;
	}
	for (size_t i = 0; i < vis_nsamples(v); i++) {
		size_t row = i / ((size_t)v->nchan * v->npols);
		int bl = (int)(row % v->nbls);
		if (v->flags[i] || v->ant1[bl] == v->ant2[bl])
			continue;
		num += v->vis[i] * conjf(m->vis[i]);
		den += cabsf(m->vis[i]) * cabsf(m->vis[i]);
	}
	vis_free(m);
	sky_release(&sky);
	return num / den;
}

static int64_t add_group_row(sqlite3 *db, const char *name)
{
	char err[ERR_LEN] = "";
	int64_t id = -1;

	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at) "
		      "VALUES (?, 0, 'in_progress', 16, 0, 0)", "s", name) == 1, "%s", err);
	CHECK(db_query_int(db, &id, err, sizeof err, "SELECT id FROM groups WHERE name = ?", "s",
			   name) == 1, "%s", err);
	return id;
}

/*
 * The calibrate stage end to end: a field group before any solutions exist is
 * left uncalibrated (not failed); the calibrator group cal-0834 is recognised
 * (catalog: VLA list + reference catalog), solved, written and registered,
 * and its corrected data match the truth model; the field group an hour later
 * then gets those solutions (its mid time is 58 min after the calibrator
 * group's end: inside the default 1 h gain validity) and its corrected
 * visibilities carry the right flux.
 */
static void test_stages_reference(void)
{
	char dir[600], path[1024], cfgtext[4096], err[ERR_LEN] = "", truth_cal[1024] = "",
		truth_field[1024] = "";
	sqlite3 *db = NULL;
	vis_set *field = NULL;
	catalog *cat = NULL;
	cfg *c = NULL;
	pipe_ctx ctx;
	size_t n;
	calreg_entry *rows = NULL;
	double complex ratio;
	int64_t nflagrows = 0;

	contimg_config *conf = NULL;

	memset(&ctx, 0, sizeof ctx);
	snprintf(dir, sizeof dir, "%s/stages", test_tmpdir());
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/%s", dir, DB_FILE_NAME);
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), err);
	snprintf(path, sizeof path, "%s/%s", dir, CATALOG_FILE);
	CHECK_OK(catalog_open(path, 0, &cat, err, sizeof err), err);
	if (!db || !cat)
		goto out;
	CHECK_OK(catalog_import_vla(cat, test_data("catalogs/vlacalibrators.txt"), &n, err, sizeof err),
		 err);
	CHECK_OK(catalog_import_csv(cat, test_data("reference/catalog.csv"), &n, err, sizeof err), err);
	catalog_close(cat);
	cat = NULL;
	snprintf(cfgtext, sizeof cfgtext,
		 "[paths]\nstate_dir = %s\nproducts_dir = %s/products\n", dir, dir);
	CHECK_OK(cfg_load_string(cfgtext, &c, err, sizeof err), err);
	if (!c)
		goto out;

	/* 1. The field group with an empty registry: uncalibrated, not failed. */
	ctx.cfg = c;
	CHECK_OK(contimg_config_new(c, &conf, err, sizeof err), err); /* what the stages read */
	if (!conf)
		goto out;
	ctx.conf = conf;
	ctx.db = db;
	ctx.threads = 2;
	/* The directories the runner's pipe_ctx_init would set from [paths]. */
	snprintf(path, sizeof path, "%s/products", dir);
	ctx.products_dir = strdup(path);
	ctx.state_dir = strdup(dir);
	snprintf(ctx.group_name, sizeof ctx.group_name, "2026-03-01T06:50:09");
	ctx.group_id = add_group_row(db, ctx.group_name);
	if (load_group("reference/field-0834-plus1h", &field, truth_field))
		goto out;
	ctx.vis = vis_dup(field); /* the field is calibrated again in step 3 */
	CHECK(ctx.vis != NULL);
	if (!ctx.vis)
		goto out;
	CHECK_OK(stage_flag(&ctx, err, sizeof err), err);
	CHECK(flag_report_fraction(ctx.flags) < 0.02, "field flagged %.3f", flag_report_fraction(ctx.flags));
	CHECK_OK(stage_calibrate(&ctx, err, sizeof err), err);
	CHECK(ctx.calibrated == 0 && !cal_result_calibrator(ctx.cal));
	CHECK(ctx.vis->vis_units[0] == 0 && !strstr(ctx.vis->history, "calibrate"),
	      "uncalibrated group says '%s': %s", ctx.vis->vis_units, ctx.vis->history);
	CHECK(db_query_int(db, &nflagrows, err, sizeof err,
			   "SELECT COUNT(*) FROM flag_stats WHERE group_id = ?", "I", ctx.group_id) == 1);
	/* total + 7 reasons + 24 antennas + 96 channels */
	CHECK(nflagrows == 1 + 7 + 24 + 96, "%lld flag_stats rows", (long long)nflagrows);
	vis_free(ctx.vis);
	ctx.vis = NULL;
	flag_report_free(ctx.flags);
	cal_result_free(ctx.cal);
	ctx.flags = NULL;
	ctx.cal = NULL;

	/* 2. The calibrator group. */
	snprintf(ctx.group_name, sizeof ctx.group_name, "2026-03-01T05:49:14");
	ctx.group_id = add_group_row(db, ctx.group_name);
	if (load_group("reference/cal-0834", &ctx.vis, truth_cal))
		goto out;
	CHECK_OK(stage_flag(&ctx, err, sizeof err), err);
	CHECK_OK(stage_calibrate(&ctx, err, sizeof err), err);
	CHECK(ctx.calibrated == 1);
	CHECK(cal_result_calibrator(ctx.cal) && !strcmp(cal_result_calibrator(ctx.cal), "0834+555"));
	CHECK_OK(calreg_list(db, &rows, &n, err, sizeof err), err);
	CHECK(n == 2, "%zu caltables", n);
	for (size_t i = 0; i < n; i++) {
		struct stat stt;
		CHECK(rows[i].status == CALREG_ACTIVE && strcmp(rows[i].calibrator, "0834+555") == 0 &&
		      strcmp(rows[i].source_group, "2026-03-01T05:49:14") == 0 &&
		      (rows[i].type == 'B' || rows[i].type == 'G'));
		CHECK(stat(rows[i].path, &stt) == 0 && strstr(rows[i].path, "/products/caltables/"),
		      "%s", rows[i].path);
		printf("# registered %c %s: flagged %.3f, median SNR %.1f, phase scatter %.2f deg\n",
		       rows[i].type, rows[i].path, rows[i].flagged_fraction, rows[i].median_snr,
		       rows[i].phase_scatter_deg);
	}
	free(rows);
	rows = NULL;
	ratio = flux_ratio(ctx.vis, truth_cal);
	printf("# calibrator group corrected/truth flux %.4f, phase %.3f deg\n", cabs(ratio),
	       carg(ratio) * 180 / M_PI);
	CHECK_NEAR(creal(ratio), 1.0, 0.01);
	vis_free(ctx.vis);
	ctx.vis = NULL;
	flag_report_free(ctx.flags);
	cal_result_free(ctx.cal);
	ctx.flags = NULL;
	ctx.cal = NULL;

	/* 3. The field group again: now it gets B and G from the calibrator. */
	snprintf(ctx.group_name, sizeof ctx.group_name, "2026-03-01T06:50:09");
	ctx.vis = field;
	field = NULL;
	CHECK_OK(stage_flag(&ctx, err, sizeof err), err);
	CHECK_OK(stage_calibrate(&ctx, err, sizeof err), err);
	CHECK(ctx.calibrated == 1);
	CHECK(ctx.cal && cal_result_applied(ctx.cal, 'B') && cal_result_applied(ctx.cal, 'G'));
	/* What the exported visibilities will say: Jy, and which tables (the
	 * calibrator's, solved on the calibrator group) made them so. */
	CHECK(!strcmp(ctx.vis->vis_units, "Jy"), "vis_units '%s'", ctx.vis->vis_units);
	CHECK(ctx.vis->history &&
	      strstr(ctx.vis->history, "B table") && strstr(ctx.vis->history, "G table") &&
	      strstr(ctx.vis->history, "calibrator 0834+555, solved on group 2026-03-01T05:49:14"),
	      "history: %s", ctx.vis->history ? ctx.vis->history : "(none)");
	/* ... named by the registered files' paths (stage_calibrate). */
	CHECK(ctx.vis->history &&
	      strstr(ctx.vis->history, "applied the B table /") &&
	      strstr(ctx.vis->history, "/caltables/2026-03-01T05:49:14_0834+555_B.h5 (") &&
	      strstr(ctx.vis->history, "/caltables/2026-03-01T05:49:14_0834+555_G.h5 ("),
	      "history: %s", ctx.vis->history ? ctx.vis->history : "(none)");
	printf("# field group history:\n");
	for (const char *l = ctx.vis->history; l && *l;) {
		const char *e = strchr(l, '\n');
		int n = e ? (int)(e - l) : (int)strlen(l);
		printf("#   %.*s\n", n, l);
		l += n + (e != NULL);
	}
	ratio = flux_ratio(ctx.vis, truth_field);
	printf("# field group (+61 min) corrected with the calibrator's B+G: flux ratio %.4f, "
	       "phase %.2f deg\n", cabs(ratio), carg(ratio) * 180 / M_PI);
	/* Noise alone allows ~0.5 %; the gains drift slowly between the groups. */
	CHECK(fabs(creal(ratio) - 1.0) < 0.05, "ratio %.4f", creal(ratio));
out:
	vis_free(field);
	vis_free(ctx.vis);
	flag_report_free(ctx.flags);
	cal_result_free(ctx.cal);
	free(ctx.products_dir);
	free(ctx.state_dir);
	free(rows);
	catalog_close(cat);
	contimg_config_free(conf);
	cfg_free(c);
	db_close(db);
}

/* [pipeline] x_orientation (the X feed's orientation for exported files)
 * and dut1_s are checked when the settings are read, not at export. */
static void test_pipeline_provenance_settings(void)
{
	static const struct {
		const char *text, *want; /* want: x_orientation, or NULL for -EINVAL */
		const char *msg;
	} cases[] = {
		{ "", "", NULL },
		{ "[pipeline]\nx_orientation = North\n", "north", NULL },
		{ "[pipeline]\nx_orientation = e\n", "east", NULL },
		{ "[pipeline]\nx_orientation = up\n", NULL, "x_orientation" },
		{ "[pipeline]\ndut1_s = 1.2\n", NULL, "dut1_s" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char err[ERR_LEN] = "";
		pipe_settings ps;
		cfg *c = NULL;
		int r;

		CHECK_OK(cfg_load_string(cases[k].text, &c, err, sizeof err), err);
		if (!c)
			continue;
		r = pipe_settings_read(c, &ps, err, sizeof err);
		if (cases[k].want)
			CHECK(r == 0 && !strcmp(ps.x_orientation, cases[k].want), "case %zu: %d %s '%s'",
			      k, r, err, r == 0 ? ps.x_orientation : "");
		else
			CHECK(r == -EINVAL && strstr(err, cases[k].msg), "case %zu: %d %s", k, r, err);
		cfg_free(c);
	}
}

int main(void)
{
	RUN(test_apply_b_then_g);
	RUN(test_missing_and_types);
	RUN(test_apply_provenance);
	RUN(test_pipeline_provenance_settings);
	RUN_REF(test_stages_reference);
	return TEST_DONE();
}
