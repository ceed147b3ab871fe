/* tests/daemon/test_stage_ingest.c — the load and convert stages
 * (daemon/stage_ingest.c) on the reference group through the state DB:
 * convert takes the subband numbers and the summaries load read, and a file
 * whose data become unreadable after load is left out by convert in one
 * pass, recorded as missing with convert's reason (per-file status, not a
 * message to search), or fails the group, naming it, when no subband is to
 * spare. */
#include "tests/test.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/pipeline.h"
#include "daemon/stage_ingest.h"
#include "state/db.h"
#include "state/queue.h"

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

/* Copies of the reference group into dir/<tag>/, registered as one group;
 * *ret_victim gets the path of the copy of sb05. */
static int64_t register_group(sqlite3 *db, const pipe_settings *s, const char *tag,
			      char *ret_victim, size_t len)
{
	char src[PATH_MAX], dir[2048], err[ERR_LEN] = "";
	DIR *d;
	struct dirent *de;
	queue_add_result res;
	int64_t gid = 0;

	if (!realpath(test_data("reference/cal-0834"), src) || !(d = opendir(src)))
		return 0;
	snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), tag);
	mkdir(dir, 0755);
	while ((de = readdir(d))) {
		char from[PATH_MAX + 300], to[2400];
		int sb;
		if (queue_parse_file_name(de->d_name, NULL, &sb) < 0)
			continue;
		snprintf(from, sizeof from, "%s/%s", src, de->d_name);
		snprintf(to, sizeof to, "%s/%s", dir, de->d_name);
		if (copy_to(from, to) < 0)
			continue;
		if (sb == 5)
			snprintf(ret_victim, len, "%s", to);
		if (queue_add_file(db, to, 1, 1, &s->q, 100, &res, err, sizeof err) == 0)
			gid = res.group_id;
	}
	closedir(d);
	if (gid && queue_claim_group(db, gid, (int)getpid(), 200, err, sizeof err) < 0)
		gid = 0;
	return gid;
}

static void test_unreadable_after_load(void)
{
	char err[ERR_LEN] = "", *e = err, ini[4096], victim[2400] = "";
	const char *tmp = test_tmpdir();
	sqlite3 *db = NULL;
	cfg *c = NULL;
	pipe_settings s;
	pipe_ctx ctx;
	int64_t gid, n = -1;
	int r, nsub = 0;

	memset(&ctx, 0, sizeof ctx);
	log_init("test", LOG_FORMAT_TEXT, LOG_ERR - 1); /* quiet: failures are expected */
	snprintf(ini, sizeof ini,
		 "[paths]\nstate_dir = %s/state\nproducts_dir = %s/prod\ningest_dir = %s/in\n"
		 "[ingest]\nmin_subbands = 14\n[pipeline]\nthreads = 2\n", tmp, tmp, tmp);
	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	mkdir(s.state_dir, 0755);
	CHECK_OK(db_open(s.db_path, 1, &db, err, sizeof err), e);
	if (!db)
		goto out;

	/* 1. sb05 loses its data between load and convert: left out, 15 used. */
	gid = register_group(db, &s, "late-trunc", victim, sizeof victim);
	CHECK(gid > 0 && victim[0], "%s", "group registered");
	CHECK_OK(pipe_ctx_init(&ctx, c, db, gid, err, sizeof err), e);
	CHECK_OK(stage_load(&ctx, err, sizeof err), e);
	for (int i = 0; i < ctx.nfiles; i++)
		nsub += ctx.sub[i] != NULL;
	CHECK(ctx.ngood == 16 && nsub == 16 && ctx.hdr_read, "ngood %d, %d summaries", ctx.ngood,
	      nsub);
	CHECK(truncate(victim, 20000) == 0, "%s", victim);
	r = stage_convert(&ctx, err, sizeof err);
	CHECK(r == 0, "convert: %s", err);
	CHECK(ctx.ngood == 15 && !ctx.permanent, "ngood %d", ctx.ngood);
	if (ctx.vis) {
		size_t miss = 0;
		for (size_t k = 0; k < vis_nsamples(ctx.vis); k++)
			miss += (ctx.vis->flags[k] & VIS_FLAG_MISSING) != 0;
		printf("# sb05 truncated after load: convert left it out in one pass, %zu of %zu "
		       "samples flagged missing\n", miss, vis_nsamples(ctx.vis));
		CHECK(miss == vis_nsamples(ctx.vis) / 16, "missing %zu", miss);
	}
	db_query_int(db, &n, NULL, 0, "SELECT count(*) FROM subband_files WHERE status = 'bad'"
		     " AND subband = 5 AND reason LIKE '%cannot open%'", NULL);
	CHECK(n == 1, "%s", "sb05 recorded bad with convert's reason");
	db_query_int(db, &n, NULL, 0, "SELECT count(*) FROM group_events WHERE kind = 'missing'"
		     " AND stage = 'convert' AND message LIKE '%_sb05.hdf5 counts as missing%'", NULL);
	CHECK(n == 1, "events %lld", (long long)n);
	pipe_ctx_release(&ctx);

	/* 2. The same with no subband to spare: the group fails (a retry may
	 * find the file whole), naming the file. */
	cfg_set(c, "ingest", "min_subbands", "16");
	db_close(db);
	db = NULL;
	snprintf(ini, sizeof ini, "%s/state-16", tmp);
	cfg_set(c, "paths", "state_dir", ini);
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), e);
	mkdir(s.state_dir, 0755);
	CHECK_OK(db_open(s.db_path, 1, &db, err, sizeof err), e);
	if (!db)
		goto out;
	gid = register_group(db, &s, "late-trunc-16", victim, sizeof victim);
	CHECK_OK(pipe_ctx_init(&ctx, c, db, gid, err, sizeof err), e);
	CHECK_OK(stage_load(&ctx, err, sizeof err), e);
	CHECK(ctx.nfiles == 16 && ctx.ngood == 16, "%d files, %d good", ctx.nfiles, ctx.ngood);
	CHECK(truncate(victim, 20000) == 0, "%s", victim);
	r = stage_convert(&ctx, err, sizeof err);
	printf("# min_subbands 16: %s\n", err);
	CHECK(r < 0 && !ctx.permanent && strstr(err, victim), "r %d permanent %d: %s", r,
	      ctx.permanent, err);
	pipe_ctx_release(&ctx);
out:
	pipe_ctx_release(&ctx);
	db_close(db);
	cfg_free(c);
}

int main(void)
{
	RUN_REF(test_unreadable_after_load);
	return TEST_DONE();
}
