/*
 * daemon/pipeline.c — the one stage table and the runner.  See pipeline.h.
 */
#include "daemon/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/pointing.h"
#include "daemon/settings.h"
#include "daemon/stage_calibrate.h"
#include "daemon/stage_flag.h"
#include "daemon/stage_image.h"
#include "daemon/stage_ingest.h"
#include "daemon/stage_photometry.h"
#include "daemon/util.h"
#include "state/db.h"

/*
 * THE stage table.  Order matters: each stage reads what the ones before it
 * left in pipe_ctx.
 */
const pipe_stage pipe_stages[] = {
	/* name         settings            run               release */
	{ "load",       NULL,               stage_load,       NULL },
	{ "convert",    NULL,               stage_convert,    NULL }, /* ctx->vis: pipe_ctx_release */
	{ "flag",       settings_flag,      stage_flag,       stage_flag_release },
	{ "calibrate",  settings_calibrate, stage_calibrate,  stage_calibrate_release },
	{ "export",     NULL,               stage_export,     NULL },
	{ "image",      settings_image,     stage_image,      stage_image_release },
	/* needs ctx->image: keep after the "image" row */
	{ "photometry", settings_photometry, stage_photometry, stage_photometry_release },
};
const int pipe_nstages = (int)(sizeof pipe_stages / sizeof pipe_stages[0]);

/* [pipeline] stages: a comma-separated subset of the table to run (default
 * all).  Lets an operator switch stages off and tests run only what they
 * exercise.  Returns 1 when `name` is listed (or no list is set). */
static int stage_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (!list || !*list)
		return 1;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *q = p;
		while (*q && *q != ',' && *q != ' ' && *q != '\t')
			q++;
		if ((size_t)(q - p) == n && !strncmp(p, name, n))
			return 1;
		p = q;
	}
	return 0;
}

/* Every name in list is a stage of the table: -EINVAL naming the first that is not. */
static int check_stage_list(const char *list, char *err, size_t errlen)
{
	char buf[1024], *rest = buf, *tok;

	if (!list)
		return 0;
	snprintf(buf, sizeof buf, "%s", list);
	while ((tok = strsep(&rest, ", \t"))) {
		int found = 0;
		if (!*tok)
			continue;
		for (int i = 0; i < pipe_nstages; i++)
			found |= !strcmp(tok, pipe_stages[i].name);
		if (!found)
			return err_set(err, errlen, -EINVAL, "[pipeline] stages: no stage named '%s'",
				       tok);
	}
	return 0;
}

/* ---- settings ---- */

static int get_path(const cfg *c, const char *key, const char *def, char *buf, size_t len,
		    char *err, size_t errlen)
{
	const char *v = cfg_get_str(c, "paths", key, def);
	if (strlen(v) >= len)
		return err_set(err, errlen, -EINVAL, "[paths] %s: path too long", key);
	if (*v && v[0] != '/')
		return err_set(err, errlen, -EINVAL, "[paths] %s = '%s': must be an absolute path",
			       key, v);
	snprintf(buf, len, "%s", v);
	return 0;
}

static int range(int r, double v, double lo, double hi, const char *sec, const char *key,
		 char *err, size_t errlen)
{
	if (r < 0)
		return r;
	if (!(v >= lo && v <= hi))
		return err_set(err, errlen, -EINVAL, "[%s] %s = %g: must be in %g..%g", sec, key, v,
			       lo, hi);
	return 0;
}

int pipe_settings_read(const cfg *c, pipe_settings *s, char *err, size_t errlen)
{
	pipe_settings o;
	int r;

	memset(&o, 0, sizeof o);
	queue_params_default(&o.q);
	if ((r = get_path(c, "ingest_dir", "/data/incoming", o.ingest_dir, sizeof o.ingest_dir,
			  err, errlen)) < 0 ||
	    (r = get_path(c, "state_dir", "/var/lib/contimg", o.state_dir, sizeof o.state_dir,
			  err, errlen)) < 0 ||
	    (r = get_path(c, "products_dir", "/data/products", o.products_dir,
			  sizeof o.products_dir, err, errlen)) < 0 ||
	    (r = get_path(c, "scratch_dir", "", o.scratch_dir, sizeof o.scratch_dir, err,
			  errlen)) < 0)
		return r;
	if (db_path(o.state_dir, o.db_path, sizeof o.db_path) < 0)
		return err_set(err, errlen, -EINVAL, "[paths] state_dir: path too long");

	r = cfg_int(c, "ingest", "subbands", 16, &o.q.nsubbands, err, errlen);
	if ((r = range(r, o.q.nsubbands, 1, 32, "ingest", "subbands", err, errlen)) < 0)
		return r;
	r = cfg_double(c, "ingest", "group_tolerance_s", 60, &o.q.tolerance_s, err, errlen);
	if ((r = range(r, o.q.tolerance_s, 0, 3600, "ingest", "group_tolerance_s", err, errlen)) < 0)
		return r;
	r = cfg_int(c, "ingest", "min_subbands", 12, &o.q.min_subbands, err, errlen);
	if ((r = range(r, o.q.min_subbands, 1, o.q.nsubbands, "ingest", "min_subbands", err,
		       errlen)) < 0)
		return r;
	r = cfg_int(c, "ingest", "max_retries", 2, &o.q.max_retries, err, errlen);
	if ((r = range(r, o.q.max_retries, 0, 100, "ingest", "max_retries", err, errlen)) < 0)
		return r;
	r = cfg_double(c, "ingest", "retry_delay_s", 60, &o.q.retry_delay_s, err, errlen);
	if ((r = range(r, o.q.retry_delay_s, 0, 86400, "ingest", "retry_delay_s", err, errlen)) < 0)
		return r;
	r = cfg_double(c, "ingest", "collect_timeout_s", 600, &o.collect_timeout_s, err, errlen);
	if ((r = range(r, o.collect_timeout_s, 0, 86400, "ingest", "collect_timeout_s", err,
		       errlen)) < 0)
		return r;
	r = cfg_double(c, "ingest", "rescan_interval_s", 60, &o.rescan_interval_s, err, errlen);
	if ((r = range(r, o.rescan_interval_s, 0, 86400, "ingest", "rescan_interval_s", err,
		       errlen)) < 0)
		return r;
	r = cfg_double(c, "ingest", "settle_s", 10, &o.settle_s, err, errlen);
	if ((r = range(r, o.settle_s, 0, 3600, "ingest", "settle_s", err, errlen)) < 0)
		return r;
	r = cfg_double(c, "ingest", "poll_interval_s", 5, &o.poll_interval_s, err, errlen);
	if ((r = range(r, o.poll_interval_s, 0.05, 3600, "ingest", "poll_interval_s", err,
		       errlen)) < 0)
		return r;
	r = cfg_int(c, "ingest", "workers", 1, &o.workers, err, errlen);
	if ((r = range(r, o.workers, 1, 64, "ingest", "workers", err, errlen)) < 0)
		return r;
	r = cfg_int(c, "pipeline", "threads", 0, &o.threads, err, errlen);
	if ((r = range(r, o.threads, 0, 1024, "pipeline", "threads", err, errlen)) < 0)
		return r;
	if (o.threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = n > 0 ? (int)n : 1;
	}
	r = cfg_bool(c, "pipeline", "export_vis", 0, &o.export_vis, err, errlen);
	if (r < 0)
		return r;
	/* UT1 - UTC is kept within 0.9 s by leap seconds; anything else is a typo
	 * that would only surface when an exported file is refused.  Given, it
	 * overrides the IERS table (daemon/earth.h). */
	r = cfg_double(c, "pipeline", "dut1_s", 0, &o.earth.dut1_s, err, errlen);
	if ((r = range(r, o.earth.dut1_s, -0.999, 0.999, "pipeline", "dut1_s", err, errlen)) < 0)
		return r;
	o.earth.dut1_set = cfg_lookup(c, "pipeline", "dut1_s") != NULL;
	{
		const char *f = cfg_get_str(c, "earth", "eop_file", "");
		if (strlen(f) >= sizeof o.earth.eop_file)
			return err_set(err, errlen, -EINVAL, "[earth] eop_file: path too long");
		if (*f && f[0] != '/')
			return err_set(err, errlen, -EINVAL,
				       "[earth] eop_file = '%s': must be an absolute path", f);
		snprintf(o.earth.eop_file, sizeof o.earth.eop_file, "%s", f);
	}
	r = cfg_double(c, "earth", "eop_max_age_days", 30, &o.earth.max_age_days, err, errlen);
	if ((r = range(r, o.earth.max_age_days, 0, 3650, "earth", "eop_max_age_days", err,
		       errlen)) < 0)
		return r;
	r = cfg_double(c, "earth", "xp_arcsec", 0, &o.earth.xp_arcsec, err, errlen);
	if ((r = range(r, o.earth.xp_arcsec, -2, 2, "earth", "xp_arcsec", err, errlen)) < 0)
		return r;
	r = cfg_double(c, "earth", "yp_arcsec", 0, &o.earth.yp_arcsec, err, errlen);
	if ((r = range(r, o.earth.yp_arcsec, -2, 2, "earth", "yp_arcsec", err, errlen)) < 0)
		return r;
	o.earth.pm_set = cfg_lookup(c, "earth", "xp_arcsec") || cfg_lookup(c, "earth", "yp_arcsec");
	r = cfg_double(c, "pipeline", "uvw_tolerance_arcsec", 1.0, &o.uvw_tolerance_arcsec, err,
		       errlen);
	if ((r = range(r, o.uvw_tolerance_arcsec, 0, 3600, "pipeline", "uvw_tolerance_arcsec", err,
		       errlen)) < 0)
		return r;
	{
		const char *x = cfg_lookup(c, "pipeline", "x_orientation");
		const char *name = x && *x ? vis_x_orientation_name(x) : "";

		if (!name)
			return err_set(err, errlen, -EINVAL, "[pipeline] x_orientation = '%s': must "
				       "be east or north (or unset when unknown)", x);
		snprintf(o.x_orientation, sizeof o.x_orientation, "%s", name);
	}
	{
		const char *list = cfg_lookup(c, "pipeline", "stages");

		r = check_stage_list(list, err, errlen);
		if (r < 0)
			return r;
		if (list && (size_t)snprintf(o.stages, sizeof o.stages, "%s", list) >= sizeof o.stages)
			return err_set(err, errlen, -EINVAL, "[pipeline] stages: list too long");
	}
	r = pointing_settings_read(c, NULL, err, errlen); /* [pointing]: refused at start-up */
	if (r < 0)
		return r;
	r = cfg_double(c, "pipeline", "stop_grace_s", 120, &o.stop_grace_s, err, errlen);
	if ((r = range(r, o.stop_grace_s, 0, 86400, "pipeline", "stop_grace_s", err, errlen)) < 0)
		return r;
	r = cfg_double(c, "pipeline", "stall_timeout_s", 900, &o.stall_timeout_s, err, errlen);
	if ((r = range(r, o.stall_timeout_s, 0.1, 86400, "pipeline", "stall_timeout_s", err,
		       errlen)) < 0)
		return r;
	*s = o;
	return 0;
}

/* ---- context ---- */

/* The configuration's reference, dropped with the context (registered
 * first, so released after every stage's result). */
static void release_conf(pipe_ctx *ctx)
{
	contimg_config_free(ctx->conf);
	ctx->conf = NULL;
}

int pipe_ctx_init(pipe_ctx *ctx, const cfg *c, sqlite3 *db, int64_t group_id, char *err,
		  size_t errlen)
{
	contimg_config *conf = NULL;
	int r;

	memset(ctx, 0, sizeof *ctx);
	r = contimg_config_new(c, &conf, err, errlen);
	if (r < 0)
		return r;
	r = pipe_ctx_init_config(ctx, conf, db, group_id, err, errlen);
	contimg_config_free(conf);
	return r;
}

int pipe_ctx_init_config(pipe_ctx *ctx, const contimg_config *conf, sqlite3 *db,
			 int64_t group_id, char *err, size_t errlen)
{
	const pipe_settings *s = &conf->pipe;
	pipe_ctx_params p;
	int r;

	memset(&p, 0, sizeof p);
	p.threads = s->threads;
	p.nsubbands = s->q.nsubbands;
	p.min_subbands = s->q.min_subbands;
	p.export_vis = s->export_vis;
	p.x_orientation = s->x_orientation;
	p.products_dir = s->products_dir;
	p.state_dir = s->state_dir;
	p.scratch_dir = s->scratch_dir;
	p.earth = s->earth;
	r = pipe_ctx_setup(ctx, conf->cfg, &p, db, group_id, err, errlen);
	if (r < 0)
		return r;
	ctx->conf = contimg_config_ref(conf);
	r = pipe_ctx_on_release(ctx, release_conf);
	if (r < 0) {
		contimg_config_free(ctx->conf);
		ctx->conf = NULL;
		pipe_ctx_release(ctx);
		return err_set(err, errlen, r, "cannot register the configuration's release");
	}
	return 0;
}

/* ---- runner ---- */

/* [debug] stage_delay_s: wait this long (without progress reports) after a
 * stage is recorded as running and before it starts.  Fault injection for
 * the crash, shutdown and watchdog tests, which must catch a group in the
 * middle of a stage however fast the stages are; 0 (the default) in
 * production.  Not counted in the stage's time. */
static void fault_delay(pipe_ctx *ctx)
{
	double d = ctx->conf->stage_delay_s;
	for (double t = 0; t < d && !pipe_cancelled(ctx); t += 0.05) {
		struct timespec ts = { 0, 50000000L };
		nanosleep(&ts, NULL);
	}
}

int pipe_run(pipe_ctx *ctx, char *err, size_t errlen)
{
	char e[ERR_LEN];
	int r;

	if (!ctx->out_dir)
		return err_set(err, errlen, -EINVAL, "the context has no output directory "
			       "(pipe_ctx_init sets it)");
	r = util_mkdir_p(ctx->out_dir);
	if (r < 0)
		return err_set(err, errlen, r, "cannot create %s: %s", ctx->out_dir, strerror(-r));
	/* A run killed part-way left temporaries and scratch copies (issue 16). */
	r = pipe_ctx_clean_leftovers(ctx);
	if (r > 0)
		log_msg(LOG_NOTICE, ctx->group_name, NULL, -1,
			"removed %d temporary or scratch file(s) of an interrupted run", r);
	ctx->ntimes = 0;
	/* Timings describe the latest run only. */
	queue_clear_stage_timings(ctx->db, ctx->group_id, NULL, 0);
	for (int i = 0; i < pipe_nstages; i++) {
		const pipe_stage *s = &pipe_stages[i];
		double t0, dt;

		if (pipe_cancelled(ctx))
			return err_set(err, errlen, -ECANCELED, "stopped before stage %s", s->name);
		if (!stage_listed(ctx->conf->pipe.stages, s->name))
			continue;
		if (ctx->claim) {
			char ce[ERR_LEN];
			if (queue_claim_held(ctx->db, ctx->group_id, ctx->claim, ce, sizeof ce) == 0)
				return err_set(err, errlen, -ECANCELED,
					       "stopped before stage %s: the group was taken from this"
					       " run (requeue --force)", s->name);
		}
		if (s->release && pipe_ctx_on_release(ctx, s->release) < 0)
			return err_set(err, errlen, -ENOSPC, "stage %s: too many stage results",
				       s->name);
		snprintf(ctx->stage, sizeof ctx->stage, "%s", s->name);
		queue_set_stage(ctx->db, ctx->group_id, s->name, NULL, 0);
		pipe_progress(ctx);
		log_msg(LOG_DEBUG, ctx->group_name, s->name, -1, "stage start");
		fault_delay(ctx);
		e[0] = 0;
		t0 = clk_mono_s();
		double c0 = clk_cpu_s();
		r = s->run(ctx, e, sizeof e);
		dt = clk_mono_s() - t0;
		double dc = clk_cpu_s() - c0;
		if (r == PIPE_SKIPPED) {
			log_msg(LOG_DEBUG, ctx->group_name, s->name, -1, "skipped");
			continue;
		}
		if (ctx->ntimes < PIPE_MAX_STAGES) {
			snprintf(ctx->times[ctx->ntimes].name, PIPE_NAME_LEN, "%s", s->name);
			ctx->times[ctx->ntimes].seconds = dt;
			ctx->times[ctx->ntimes].cpu_s = dc;
			ctx->ntimes++;
		}
		if (r < 0 && !e[0])
			snprintf(e, sizeof e, "%s", strerror(-r));
		queue_record_stage(ctx->db, ctx->group_id, s->name, dt, r >= 0, r < 0 ? e : NULL,
				   NULL, 0);
		pipe_progress(ctx);
		if (r < 0) {
			log_msg(LOG_ERR, ctx->group_name, s->name, -1, "failed after %.2f s: %s", dt, e);
			ctx->stage[0] = 0;
			return err_set(err, errlen, r, "stage %s: %s", s->name, e);
		}
		log_msg(LOG_INFO, ctx->group_name, s->name, -1, "done in %.2f s", dt);
	}
	ctx->stage[0] = 0;
	return 0;
}

static int record_end(pipe_ctx *ctx, const queue_params *q, int run_result, const char *run_err,
		      char *state, char *err, size_t errlen);

int pipe_record(pipe_ctx *ctx, const queue_params *q, int run_result, const char *run_err,
		char *ret_state, char *err, size_t errlen)
{
	char state[16] = "";
	int w, held = 1;

	/* The claim is checked in the transaction that records the end: a run
	 * whose group was taken away (requeue --force, recovery) while it ran
	 * records nothing — neither products nor a state — over the state the
	 * group has now (perhaps a later run's). */
	w = db_begin(ctx->db, err, errlen);
	if (w < 0)
		return w;
	if (ctx->claim) {
		held = queue_claim_held(ctx->db, ctx->group_id, ctx->claim, err, errlen);
		if (held < 0) {
			db_end(ctx->db, 0, NULL, 0);
			return held;
		}
	}
	w = held ? record_end(ctx, q, run_result, run_err, state, err, errlen) : 0;
	if (w < 0) {
		db_end(ctx->db, 0, NULL, 0);
		return w;
	}
	w = db_end(ctx->db, 1, err, errlen);
	if (w < 0)
		return w;
	if (!held) {
		snprintf(state, sizeof state, "superseded");
		log_msg(LOG_WARNING, ctx->group_name, NULL, -1,
			"this run's end (%s) is not recorded: the group was taken from it while it"
			" ran (requeue --force)",
			run_result == 0 ? "completed" : run_result == -ECANCELED ? "stopped" : "failed");
	}
	if (ret_state)
		snprintf(ret_state, 16, "%s", state);
	return 0;
}

static int record_end(pipe_ctx *ctx, const queue_params *q, int run_result, const char *run_err,
		      char *state, char *err, size_t errlen)
{
	int w, outcome;

	if (run_result == 0) {
		/* Products and the completed state in one transaction: a crash
		 * leaves either the old set or the new one, never both. */
		w = db_begin(ctx->db, err, errlen);
		if (w < 0)
			return w;
		w = queue_clear_products(ctx->db, ctx->group_id, err, errlen);
		for (int i = 0; w == 0 && i < ctx->nproducts; i++)
			w = queue_add_product(ctx->db, ctx->group_id, ctx->products[i].name,
					      ctx->products[i].path, err, errlen);
		if (w == 0)
			w = queue_finish(ctx->db, ctx->group_id, QUEUE_DONE, NULL, ctx->calibrated, q,
					 clk_wall_s(), state, err, errlen);
		if (w < 0) {
			db_end(ctx->db, 0, NULL, 0);
			return w;
		}
		w = db_end(ctx->db, 1, err, errlen);
		if (w < 0)
			return w;
	} else {
		outcome = run_result == -ECANCELED ? QUEUE_CANCEL
			  : ctx->permanent	   ? QUEUE_FAIL_HARD
						   : QUEUE_FAIL;
		w = queue_finish(ctx->db, ctx->group_id, outcome, run_err, 0, q, clk_wall_s(), state,
				 err, errlen);
		if (w < 0)
			return w;
	}
	return 0;
}

int pipe_execute(pipe_ctx *ctx, const queue_params *q, char *ret_state, char *err,
		 size_t errlen)
{
	char e[ERR_LEN] = "";
	int r, w;

	r = pipe_run(ctx, e, sizeof e);
	w = pipe_record(ctx, q, r, e, ret_state, err, errlen);
	if (w < 0)
		return w;
	if (r < 0)
		err_set(err, errlen, r, "%s", e);
	queue_set_stage(ctx->db, ctx->group_id, NULL, NULL, 0);
	return r;
}
