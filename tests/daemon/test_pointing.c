/*
 * tests/daemon/test_pointing.c — the pipeline's pointing adapter
 * (daemon/pointing.h): [pointing] settings; pipe_pointing_resolve applies an
 * override by the group's mid time to the beam's declination only, and
 * records the choice; pipe_pointing_check uses only bright, isolated,
 * trustworthy sources (wild ratios planted on every kind it must skip would
 * pull the fit), recovers the offset and records the warning.
 */
#include "tests/test.h"

#include <errno.h>
#include <math.h>

#include "core/astro.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/pipeline.h"
#include "daemon/pointing.h"
#include "daemon/settings.h"
#include "imaging/image.h"
#include "imaging/pbeam.h"
#include "state/db.h"
#include "state/pointingdb.h"

#define DEG (M_PI / 180.0)
#define NT 6
#define NCH 8

static char err[ERR_LEN];

static void test_settings(void)
{
	cfg *c = cfg_new_empty();
	pointing_settings s;
	static const char *bad[][2] = { { "qa_threshold_deg", "-1" }, { "qa_threshold_deg", "x" },
					{ "qa_min_significance", "-2" }, { "qa_min_sources", "3" },
					{ "qa_scatter", "1.5" }, { "qa_min_snr", "-1" },
					{ "qa_min_pb", "1" }, { "qa", "maybe" } };

	CHECK_OK(pointing_settings_read(c, &s, err, sizeof err), err);
	CHECK(s.qa == 1 && fabs(s.cp.threshold_rad - 0.05 * DEG) < 1e-15 &&
	      s.cp.min_significance == 3 && s.cp.min_sources == 6 && s.cp.scatter == 0.03 &&
	      s.qa_min_snr == 30 && s.qa_min_pb == 0.25);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cfg *b = cfg_new_empty();
		cfg_set(b, "pointing", bad[i][0], bad[i][1]);
		err[0] = 0;
		CHECK(pointing_settings_read(b, NULL, err, sizeof err) == -EINVAL, "%s = %s",
		      bad[i][0], bad[i][1]);
		CHECK(strstr(err, bad[i][0]) != NULL, "%s", err);
		/* ... and so does the start-up check of contimgd and contimgctl. */
		pipe_settings ps;
		CHECK(pipe_settings_read(b, &ps, err, sizeof err) == -EINVAL, "%s", bad[i][0]);
		cfg_free(b);
	}
	cfg_set(c, "pointing", "qa_threshold_deg", "0.1");
	cfg_set(c, "pointing", "qa", "false");
	CHECK_OK(pointing_settings_read(c, &s, err, sizeof err), err);
	CHECK(!s.qa && fabs(s.cp.threshold_rad - 0.1 * DEG) < 1e-15);
	cfg_free(c);
}

/* A drift set of NT integrations around mid_mjd at the DSA-110 site,
 * pointing (and phased) at dec_deg. */
static vis_set *small_set(double mid_mjd, double dec_deg)
{
	vis_set *v = vis_new(NT, 1, NCH, 2, 0);
	if (!v)
		return NULL;
	for (int t = 0; t < NT; t++)
		v->time_jd[t] = mid_mjd + ASTRO_MJD0 + (t - 0.5 * (NT - 1)) * 12.884901888 / 86400;
	for (int c = 0; c < NCH; c++)
		v->freq_hz[c] = 1.32e9 + c * 25e6;
	v->int_time_s = 12.884901888;
	v->lat_rad = 37.2339 * DEG;
	v->lon_rad = -118.2825 * DEG;
	v->phase_type = VIS_PHASE_FIXED;
	v->phase_dec_rad = v->pointing_dec_rad = dec_deg * DEG;
	v->has_pointing_dec = 1;
	snprintf(v->name, sizeof v->name, "test");
	return v;
}

static sqlite3 *fresh_db(const char *name, int64_t *ret_gid)
{
	char path[1024];
	sqlite3 *db = NULL;
	snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
	unlink(path);
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), err);
	if (!db)
		return NULL;
	CHECK(db_exec(db, err, sizeof err,
		      "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at)"
		      " VALUES ('2026-03-01T05:59:00', 0, 'in_progress', 16, 0, 0)", NULL) == 1,
	      "%s", err);
	CHECK(db_query_int(db, ret_gid, err, sizeof err, "SELECT id FROM groups", NULL) == 1);
	return db;
}

/* The configuration's reference goes with the context, as pipe_ctx_init_config
 * arranges it (without this the ASan build reports it leaked). */
static void release_conf(pipe_ctx *ctx)
{
	contimg_config_free(ctx->conf);
	ctx->conf = NULL;
}

static void ctx_setup(pipe_ctx *ctx, sqlite3 *db, int64_t gid, vis_set *v)
{
	char err[ERR_LEN];
	contimg_config *conf = NULL;

	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = cfg_new_empty();
	/* The stages read their settings from the built configuration (the
	 * defaults here); pipe_ctx_release drops it. */
	CHECK_OK(contimg_config_new(ctx->cfg, &conf, err, sizeof err), err);
	ctx->conf = conf;
	CHECK(pipe_ctx_on_release(ctx, release_conf) == 0);
	ctx->db = db;
	ctx->group_id = gid;
	ctx->threads = 2;
	snprintf(ctx->group_name, sizeof ctx->group_name, "2026-03-01T05:59:00");
	ctx->vis = v;
}

static void test_resolve(void)
{
	const double mid = 61100.25;
	int64_t gid = 0, ov = 0;
	sqlite3 *db = fresh_db("resolve.sqlite", &gid);
	pointingdb_group g;
	pipe_ctx ctx;

	if (!db)
		return;
	/* No override: the files' declination, recorded as such. */
	ctx_setup(&ctx, db, gid, small_set(mid, 40.0));
	CHECK_OK(pipe_pointing_resolve(&ctx, err, sizeof err), err);
	CHECK(ctx.has_pointing && !ctx.pointing.from_override && ctx.pointing.dec_deg == 40.0);
	CHECK_NEAR(ctx.vis->pointing_dec_rad, 40.0 * DEG, 0);
	CHECK(pointingdb_group_get(db, gid, &g, err, sizeof err) == 1 && !g.from_override &&
	      g.file_dec_deg == 40.0 && fabs(g.mid_mjd - mid) < 1e-9);
	pipe_ctx_release(&ctx);

	/* An override holding the mid time: the beam moves, the phase centre not. */
	CHECK_OK(pointingdb_add(db, mid - 0.01, mid + 0.01, 40.2, "moved", 1, &ov, err,
				sizeof err), err);
	ctx_setup(&ctx, db, gid, small_set(mid, 40.0));
	CHECK_OK(pipe_pointing_resolve(&ctx, err, sizeof err), err);
	CHECK_NEAR(ctx.vis->pointing_dec_rad, 40.2 * DEG, 1e-15);
	CHECK_NEAR(ctx.vis->phase_dec_rad, 40.0 * DEG, 0);
	CHECK(ctx.pointing.from_override && ctx.pointing.override_id == ov);
	CHECK(pointingdb_group_get(db, gid, &g, err, sizeof err) == 1 && g.from_override &&
	      g.override_id == ov && g.dec_deg == 40.2 && g.file_dec_deg == 40.0);
	pipe_ctx_release(&ctx);

	/* A group whose mid time is past the end: the files' value again. */
	ctx_setup(&ctx, db, gid, small_set(mid + 0.0105, 40.0));
	CHECK_OK(pipe_pointing_resolve(&ctx, err, sizeof err), err);
	CHECK(!ctx.pointing.from_override && ctx.pointing.dec_deg == 40.0);
	pipe_ctx_release(&ctx);

	/* Without a database (tests, benchmarks): the files' value, nothing recorded. */
	ctx_setup(&ctx, NULL, gid, small_set(mid, 40.0));
	CHECK_OK(pipe_pointing_resolve(&ctx, err, sizeof err), err);
	CHECK(ctx.has_pointing && ctx.pointing.dec_deg == 40.0);
	pipe_ctx_release(&ctx);
	db_close(db);
}

/* The check on 40 catalog sources whose "measured" fluxes follow the beam of
 * a pointing 0.15° north of the one used; every source the check must skip
 * carries a ratio of 3, which would pull the fit far off if used. */
static void test_check_selection(void)
{
	enum { N = 40 };
	const double mid = 61100.25, truth = 0.15 * DEG;
	int64_t gid = 0;
	sqlite3 *db = fresh_db("check.sqlite", &gid);
	catalog_source src[N];
	forced_result fr[N];
	double ra[N], dec[N], pbu[N], pbt[N], ra0, dec0;
	image_result im;
	pointing_settings s;
	pipe_ctx ctx;
	pointingdb_group g;
	astro_frame f;
	int nskip = 0;

	if (!db)
		return;
	log_init("test_pointing", LOG_FORMAT_AUTO, LOG_ERR);
	ctx_setup(&ctx, db, gid, small_set(mid, 40.0));
	CHECK_OK(pipe_pointing_resolve(&ctx, err, sizeof err), err);
	astro_frame_init(&f, mid + ASTRO_MJD0, ctx.vis->lon_rad, 0);
	astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), 40.0 * DEG, &ra0, &dec0);
	for (int i = 0; i < N; i++) {
		double r = (0.4 + 1.1 * (i % 8) / 7.0) * DEG, a = 2 * M_PI * i / N + 0.3;
		dec[i] = dec0 + r * cos(a);
		ra[i] = ra0 + r * sin(a) / cos(dec[i]);
	}
	pbeam_params bp = { .diam_m = 4.65, .ntimes = NT, .time_jd = ctx.vis->time_jd,
			    .nchan = NCH, .freq_hz = ctx.vis->freq_hz, .lon_rad = ctx.vis->lon_rad,
			    .pointing_dec_rad = 40.0 * DEG, .nthreads = 2 };
	CHECK_OK(pbeam_at(&bp, ra, dec, N, pbu, NULL, err, sizeof err), err);
	bp.pointing_dec_rad = 40.0 * DEG + truth;
	CHECK_OK(pbeam_at(&bp, ra, dec, N, pbt, NULL, err, sizeof err), err);
	memset(&im, 0, sizeof im);
	im.freq_hz = 1.4e9;
	ctx.image = &im;
	for (int i = 0; i < N; i++) {
		memset(&src[i], 0, sizeof src[i]);
		snprintf(src[i].name, sizeof src[i].name, "S%02d", i);
		src[i].ra_deg = ra[i] / DEG;
		src[i].dec_deg = dec[i] / DEG;
		src[i].flux_mjy = 500;
		src[i].spectral_index = 0;
		src[i].e_flux_mjy = NAN;
		memset(&fr[i], 0, sizeof fr[i]);
		fr[i].pb = pbu[i];
		fr[i].rms_jy = 0.002 / pbu[i];
		fr[i].flux_jy = 0.5 * pbt[i] / pbu[i];
		fr[i].flux_err_jy = fr[i].rms_jy;
		/* Every fifth source is one the check must not use. */
		switch (i % 5 == 4 ? (i / 5) % 6 : -1) {
		case 0: fr[i].flags = FORCED_BLENDED; break;
		case 1: src[i].resolved = 1; break;
		case 2: src[i].confused = 1; break;
		case 3: src[i].flux_mjy = 1; break;           /* below qa_min_snr by the catalog */
		case 4: fr[i].flags = FORCED_EDGE; break;
		case 5: fr[i].pb = 0.21; break;               /* below qa_min_pb */
		default: continue;
		}
		fr[i].flux_jy = 3 * src[i].flux_mjy * 1e-3;
		nskip++;
	}
	CHECK_OK(pointing_settings_read(ctx.cfg, &s, err, sizeof err), err);
	CHECK_OK(pipe_pointing_check(&ctx, &s, src, fr, N, err, sizeof err), err);
	printf("# check: %+.4f +- %.4f deg (true +0.15), %d sources used of %d (%d planted "
	       "outliers to skip), status %s\n", ctx.pointing.qa_offset_deg,
	       ctx.pointing.qa_offset_err_deg, ctx.pointing.qa_nsources, N, nskip,
	       ctx.pointing.qa_status);
	CHECK(!strcmp(ctx.pointing.qa_status, "warn"), "%s", ctx.pointing.qa_status);
	CHECK(ctx.pointing.qa_nsources == N - nskip && ctx.pointing.qa_nclipped == 0,
	      "%d used, %d clipped", ctx.pointing.qa_nsources, ctx.pointing.qa_nclipped);
	CHECK_NEAR(ctx.pointing.qa_offset_deg, 0.15, 0.005);
	CHECK(pointingdb_group_get(db, gid, &g, err, sizeof err) == 1 &&
	      !strcmp(g.qa_status, "warn") && fabs(g.qa_offset_deg - 0.15) < 0.005);
	int64_t nev = 0;
	CHECK(db_query_int(db, &nev, err, sizeof err,
			   "SELECT count(*) FROM group_events WHERE kind = 'pointing'", NULL) == 1 &&
	      nev == 1, "%lld events", (long long)nev);

	/* qa = false: nothing is checked. */
	s.qa = 0;
	memset(ctx.pointing.qa_status, 0, sizeof ctx.pointing.qa_status);
	CHECK_OK(pipe_pointing_check(&ctx, &s, src, fr, N, err, sizeof err), err);
	CHECK(!ctx.pointing.qa_status[0]);
	ctx.image = NULL;
	pipe_ctx_release(&ctx);
	db_close(db);
}

int main(void)
{
	RUN(test_settings);
	RUN(test_resolve);
	RUN(test_check_selection);
	return TEST_DONE();
}
