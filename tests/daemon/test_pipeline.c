/* tests/daemon/test_pipeline.c — settings, the stage table, and a real run of
 * load + convert on the reference group through the state DB. */
#include "tests/test.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/pipeline.h"
#include "daemon/stage_flag.h"
#include "state/db.h"
#include "state/queue.h"

static void test_settings(void)
{
	char err[ERR_LEN] = "", *e = err;
	cfg *c = cfg_new_empty();
	pipe_settings s;

	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	CHECK(s.q.nsubbands == 16 && s.q.tolerance_s == 60 && s.q.min_subbands == 12, "%s", "");
	CHECK(s.workers == 1 && s.threads >= 1 && !s.export_vis, "%s", "");
	CHECK(!strcmp(s.db_path, "/var/lib/contimg/contimg.sqlite"), "%s", s.db_path);
	cfg_set(c, "ingest", "min_subbands", "17");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL, "%s", "min > subbands");
	CHECK(strstr(err, "min_subbands") != NULL, "%s", err);
	cfg_set(c, "ingest", "min_subbands", "15");
	cfg_set(c, "paths", "state_dir", "relative/dir");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL, "%s", "relative path");
	cfg_set(c, "paths", "state_dir", "/s");
	cfg_set(c, "pipeline", "stages", "load, convert,nosuch");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL, "%s", "unknown stage");
	CHECK(strstr(err, "nosuch") != NULL, "%s", err);
	cfg_set(c, "pipeline", "stages", "load,convert");
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	CHECK(s.q.min_subbands == 15, "%s", "");
	CHECK(s.uvw_tolerance_arcsec == 1.0, "uvw_tolerance_arcsec %g", s.uvw_tolerance_arcsec);
	cfg_set(c, "pipeline", "uvw_tolerance_arcsec", "-1");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL &&
	      strstr(err, "uvw_tolerance_arcsec") != NULL, "negative tolerance: %s", err);
	cfg_set(c, "pipeline", "uvw_tolerance_arcsec", "0.25");
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	CHECK(s.uvw_tolerance_arcsec == 0.25, "uvw_tolerance_arcsec %g", s.uvw_tolerance_arcsec);
	cfg_free(c);

	/* The table starts with load and convert and has unique names. */
	CHECK(pipe_nstages >= 3 && !strcmp(pipe_stages[0].name, "load") &&
	      !strcmp(pipe_stages[1].name, "convert"), "%s", "");
	for (int i = 0; i < pipe_nstages; i++)
		for (int j = i + 1; j < pipe_nstages; j++)
			CHECK(strcmp(pipe_stages[i].name, pipe_stages[j].name), "duplicate %s",
			      pipe_stages[i].name);
}

/* Register the reference group (one subband left out, one replaced by a
 * corrupt file), run load + convert through pipe_execute, and check what the
 * stages left in the context and the DB. */
static void test_run_reference(void)
{
	char err[ERR_LEN] = "", *e = err, ini[4096], state[16] = "", bad[1200], dir[4096];
	const char *tmp = test_tmpdir();
	sqlite3 *db = NULL;
	cfg *c = NULL;
	pipe_settings s;
	pipe_ctx ctx;
	DIR *d;
	struct dirent *de;
	int64_t gid = 0;
	queue_add_result res;

	memset(&ctx, 0, sizeof ctx);
	log_init("test", LOG_FORMAT_TEXT, LOG_ERR - 1); /* quiet: failures are expected */
	/* The queue stores absolute paths only. */
	if (!realpath(test_data("reference/cal-0834"), dir)) {
		CHECK(0, "no reference data at %s", test_data("reference/cal-0834"));
		return;
	}
	snprintf(ini, sizeof ini,
		 "[paths]\nstate_dir = %s/state\nproducts_dir = %s/prod\ningest_dir = %s/in\n"
		 "scratch_dir = %s/scratch\n"
		 "[ingest]\nmin_subbands = 14\n[pipeline]\nstages = load, convert\nthreads = 2\n",
		 tmp, tmp, tmp, tmp);
	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	mkdir(s.state_dir, 0755);
	CHECK_OK(db_open(s.db_path, 1, &db, err, sizeof err), e);
	if (!db || !(d = opendir(dir))) {
		CHECK(0, "cannot open %s", dir);
		goto out;
	}
	while ((de = readdir(d))) {
		char path[4400];
		int sb;
		if (queue_parse_file_name(de->d_name, NULL, &sb) < 0 || sb == 9)
			continue; /* sb09 never arrives */
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (sb == 3) { /* sb03 arrives corrupt */
			FILE *f;
			snprintf(bad, sizeof bad, "%s/%s", tmp, de->d_name);
			f = fopen(bad, "w");
			fputs("not an HDF5 file\n", f);
			fclose(f);
			snprintf(path, sizeof path, "%s", bad);
		}
		CHECK_OK(queue_add_file(db, path, 1, 1, &s.q, 100, &res, err, sizeof err), e);
		gid = res.group_id;
	}
	closedir(d);
	CHECK(!strcmp(res.state, "collecting"), "15 of 16: %s", res.state);
	CHECK_OK(queue_claim_group(db, gid, (int)getpid(), 200, err, sizeof err), e);
	CHECK_OK(pipe_ctx_init(&ctx, c, db, gid, err, sizeof err), e);
	CHECK(ctx.nfiles == 15, "nfiles %d", ctx.nfiles);
	CHECK_OK(pipe_execute(&ctx, &s.q, state, err, sizeof err), e);
	CHECK(!strcmp(state, "completed"), "%s", state);
	CHECK(ctx.ngood == 14, "ngood %d", ctx.ngood);
	CHECK(ctx.ntimes == 2 && !strcmp(ctx.times[0].name, "load") &&
	      !strcmp(ctx.times[1].name, "convert"), "%s", "load and convert timed, nothing else");
	if (ctx.vis) {
		/* 16 subbands × 6 channels, missing ones flagged, ascending. */
		CHECK(ctx.vis->nchan == 96, "nchan %d", ctx.vis->nchan);
		CHECK(ctx.vis->freq_hz[0] < ctx.vis->freq_hz[95], "%s", "ascending");
		CHECK(ctx.vis->phase_type == VIS_PHASE_FIXED, "%s", "rephased");
	} else {
		CHECK(0, "%s", "no vis after convert");
	}
	/* Read through scratch_dir, which is left empty. */
	char sdir[1200];
	struct stat sst;
	snprintf(sdir, sizeof sdir, "%s/scratch/%s", tmp, ctx.group_name);
	CHECK(stat(sdir, &sst) < 0 && errno == ENOENT, "%s left behind", sdir);
	int64_t n = -1;
	db_query_int(db, &n, NULL, 0, "SELECT count(*) FROM subband_files WHERE status = 'bad'"
		     " AND subband = 3 AND reason LIKE 'unreadable%'", NULL);
	CHECK(n == 1, "%s", "corrupt sb03 recorded as bad with its reason");
	db_query_int(db, &n, NULL, 0, "SELECT count(*) FROM stage_timings WHERE ok = 1", NULL);
	CHECK(n == 2, "timings %lld", (long long)n);
	pipe_ctx_release(&ctx);

	/* With min_subbands 15 the same group fails at once, naming the file. */
	cfg_set(c, "ingest", "min_subbands", "15");
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	CHECK_OK(queue_claim_group(db, gid, (int)getpid(), 300, err, sizeof err), e);
	CHECK_OK(pipe_ctx_init(&ctx, c, db, gid, err, sizeof err), e);
	CHECK(pipe_execute(&ctx, &s.q, state, err, sizeof err) < 0, "%s", "must fail");
	CHECK(!strcmp(state, "failed") && ctx.permanent, "%s", state);
	CHECK(strstr(err, "_sb03.hdf5") != NULL, "names the file: %s", err);
	CHECK(strstr(err, "absent: sb09") != NULL, "names the absent subband: %s", err);
	pipe_ctx_release(&ctx);

	/* A stage that leaves a result (flag: ctx->flags) has its table row's
	 * release registered by the runner, and pipe_ctx_release frees it. */
	cfg_set(c, "ingest", "min_subbands", "14");
	cfg_set(c, "pipeline", "stages", "load, convert, flag");
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	CHECK_OK(queue_claim_group(db, gid, (int)getpid(), 400, err, sizeof err), e);
	CHECK_OK(pipe_ctx_init(&ctx, c, db, gid, err, sizeof err), e);
	CHECK_OK(pipe_execute(&ctx, &s.q, state, err, sizeof err), e);
	CHECK(!strcmp(state, "completed") && ctx.ntimes == 3, "%s, %d stages", state, ctx.ntimes);
	/* the configuration's reference first (pipe_ctx_init), then the stage's */
	CHECK(ctx.flags && ctx.nrelease == 2 && ctx.release[1] == stage_flag_release,
	      "flags %p, %d releases", (void *)ctx.flags, ctx.nrelease);
	printf("# load, convert, flag: %d release registered; flagged fraction %.4f\n",
	       ctx.nrelease, flag_report_fraction(ctx.flags));
	pipe_ctx_release(&ctx);
	CHECK(!ctx.flags && ctx.nrelease == 0, "%s", "released");
out:
	pipe_ctx_release(&ctx);
	db_close(db);
	cfg_free(c);
}

int main(void)
{
	RUN(test_settings);
	RUN_REF(test_run_reference);
	return TEST_DONE();
}
