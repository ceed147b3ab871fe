/*
 * daemon/pipeline.c — the one stage table, the runner, and the first stages
 * (load, convert, export).  See pipeline.h.
 */
#define _GNU_SOURCE /* copy_file_range */
#include "daemon/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/pointing.h"
#include "daemon/settings.h"
#include "daemon/util.h"
#include "state/db.h"

/*
 * THE stage table.  Order matters: each stage reads what the ones before it
 * left in pipe_ctx.
 */
const pipe_stage pipe_stages[] = {
	{ "load", stage_load },
	{ "convert", stage_convert },
	/* >>> HELPERS: flag and calibrate rows go here, e.g. { "flag", stage_flag }, <<< */
	{ "flag", stage_flag },
	{ "calibrate", stage_calibrate },
	{ "export", stage_export },
	/* >>> HELPERS: image, photometry (and later) rows go here <<< */
	{ "image", stage_image },
	{ "photometry", stage_photometry }, /* needs ctx->image: keep after the "image" row */
};
const int pipe_nstages = (int)(sizeof pipe_stages / sizeof pipe_stages[0]);

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

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
	r = check_stage_list(cfg_lookup(c, "pipeline", "stages"), err, errlen);
	if (r < 0)
		return r;
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

void pipe_ctx_release(pipe_ctx *ctx)
{
	if (!ctx)
		return;
	for (int i = 0; ctx->files && i < ctx->nfiles; i++)
		free(ctx->files[i]);
	free(ctx->files);
	free(ctx->subband);
	free(ctx->file_ids);
	free(ctx->file_ok);
	free(ctx->hdr);
	if (ctx->vis_pool && ctx->vis) {
		/* Keep the newest buffer for the next group; the pool holds one. */
		if (*ctx->vis_pool != ctx->vis)
			vis_free(*ctx->vis_pool);
		*ctx->vis_pool = ctx->vis;
	} else {
		vis_free(ctx->vis);
	}
	/* >>> HELPERS: free the stage results you own here (flags, cal, image,
	 * phot, your own fields), one line each, e.g. flag_report_free(ctx->flags); <<< */
	eop_table_free(ctx->eop_table);
	phot_result_free(ctx->phot);
	image_result_free(ctx->image);
	flag_report_free(ctx->flags);
	cal_result_free(ctx->cal);
	contimg_config_free(ctx->conf);
	cfg_free(ctx->cfg);
	memset(ctx, 0, sizeof *ctx);
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
	const pipe_settings s = conf->pipe;
	queue_file *f = NULL;
	int n = 0, r;

	memset(ctx, 0, sizeof *ctx);
	ctx->conf = contimg_config_ref(conf);
	ctx->cfg = cfg_ref(conf->cfg);
	ctx->db = db;
	ctx->group_id = group_id;
	ctx->threads = s.threads;
	ctx->nsubbands = s.q.nsubbands;
	ctx->min_subbands = s.q.min_subbands;
	ctx->export_vis = s.export_vis;
	snprintf(ctx->x_orientation, sizeof ctx->x_orientation, "%s", s.x_orientation);
	snprintf(ctx->products_dir, sizeof ctx->products_dir, "%s", s.products_dir);
	snprintf(ctx->state_dir, sizeof ctx->state_dir, "%s", s.state_dir);
	snprintf(ctx->scratch_dir, sizeof ctx->scratch_dir, "%s", s.scratch_dir);
	ctx->earth = s.earth;
	ctx->eop_table = earth_table_get();
	r = queue_group_name(db, group_id, ctx->group_name, sizeof ctx->group_name, err, errlen);
	if (r < 0)
		goto fail;
	if (queue_parse_group_name(ctx->group_name, NULL) < 0) {
		r = err_set(err, errlen, -EINVAL, "group name '%s' is malformed", ctx->group_name);
		goto fail;
	}
	/* products_dir/YYYY-MM-DD/<group>/: one directory per observing day. */
	if ((size_t)snprintf(ctx->out_dir, sizeof ctx->out_dir, "%s/%.10s/%s", s.products_dir,
			     ctx->group_name, ctx->group_name) >= sizeof ctx->out_dir) {
		r = err_set(err, errlen, -ENAMETOOLONG, "products_dir too long");
		goto fail;
	}
	r = queue_files(db, group_id, &f, &n, err, errlen);
	if (r < 0)
		goto fail;
	ctx->files = calloc((size_t)n + 1, sizeof *ctx->files);
	ctx->subband = calloc((size_t)n + 1, sizeof *ctx->subband);
	ctx->file_ids = calloc((size_t)n + 1, sizeof *ctx->file_ids);
	ctx->file_ok = calloc((size_t)n + 1, sizeof *ctx->file_ok);
	ctx->hdr = calloc((size_t)n + 1, sizeof *ctx->hdr);
	if (!ctx->files || !ctx->subband || !ctx->file_ids || !ctx->file_ok || !ctx->hdr) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		ctx->files[i] = f[i].path;
		f[i].path = NULL;
		ctx->subband[i] = f[i].subband;
		ctx->file_ids[i] = f[i].id;
		ctx->file_ok[i] = 1;
		ctx->nfiles++;
	}
	ctx->ngood = n;
	queue_files_free(f, n);
	return 0;
fail:
	queue_files_free(f, n);
	pipe_ctx_release(ctx);
	return r;
}

int pipe_add_product(pipe_ctx *ctx, const char *name, const char *path)
{
	if (!name || !*name || strlen(name) >= PIPE_NAME_LEN || !path ||
	    strlen(path) >= sizeof ctx->products[0].path)
		return -EINVAL;
	for (int i = 0; i < ctx->nproducts; i++)
		if (!strcmp(ctx->products[i].name, name)) {
			snprintf(ctx->products[i].path, sizeof ctx->products[i].path, "%s", path);
			return 0;
		}
	if (ctx->nproducts >= PIPE_MAX_PRODUCTS)
		return -ENOSPC;
	snprintf(ctx->products[ctx->nproducts].name, PIPE_NAME_LEN, "%s", name);
	snprintf(ctx->products[ctx->nproducts].path, sizeof ctx->products[0].path, "%s", path);
	ctx->nproducts++;
	return 0;
}

const char *pipe_product_path(const pipe_ctx *ctx, const char *name)
{
	for (int i = 0; i < ctx->nproducts; i++)
		if (!strcmp(ctx->products[i].name, name))
			return ctx->products[i].path;
	return NULL;
}

void pipe_progress(pipe_ctx *ctx)
{
	if (ctx->progress_cb)
		ctx->progress_cb(ctx->progress_arg, ctx->stage);
}

int pipe_cancelled(const pipe_ctx *ctx)
{
	return ctx->cancel && *ctx->cancel;
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

	r = util_mkdir_p(ctx->out_dir);
	if (r < 0)
		return err_set(err, errlen, r, "cannot create %s: %s", ctx->out_dir, strerror(-r));
	ctx->ntimes = 0;
	/* Timings describe the latest run only. */
	queue_clear_stage_timings(ctx->db, ctx->group_id, NULL, 0);
	for (int i = 0; i < pipe_nstages; i++) {
		const pipe_stage *s = &pipe_stages[i];
		double t0, dt;

		if (pipe_cancelled(ctx))
			return err_set(err, errlen, -ECANCELED, "stopped before stage %s", s->name);
		if (!stage_listed(cfg_lookup(ctx->cfg, "pipeline", "stages"), s->name))
			continue;
		snprintf(ctx->stage, sizeof ctx->stage, "%s", s->name);
		queue_set_stage(ctx->db, ctx->group_id, s->name, NULL, 0);
		pipe_progress(ctx);
		log_msg(LOG_DEBUG, ctx->group_name, s->name, -1, "stage start");
		fault_delay(ctx);
		e[0] = 0;
		t0 = util_mono_s();
		r = s->run(ctx, e, sizeof e);
		dt = util_mono_s() - t0;
		if (r == PIPE_SKIPPED) {
			log_msg(LOG_DEBUG, ctx->group_name, s->name, -1, "skipped");
			continue;
		}
		if (ctx->ntimes < PIPE_MAX_STAGES) {
			snprintf(ctx->times[ctx->ntimes].name, PIPE_NAME_LEN, "%s", s->name);
			ctx->times[ctx->ntimes].seconds = dt;
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

int pipe_execute(pipe_ctx *ctx, const queue_params *q, char *ret_state, char *err,
		 size_t errlen)
{
	char e[ERR_LEN] = "", state[16] = "";
	int r, w, outcome;

	r = pipe_run(ctx, e, sizeof e);
	if (r == 0) {
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
					 util_wall_s(), state, err, errlen);
		if (w < 0) {
			db_end(ctx->db, 0, NULL, 0);
			return w;
		}
		w = db_end(ctx->db, 1, err, errlen);
		if (w < 0)
			return w;
	} else {
		outcome = r == -ECANCELED ? QUEUE_CANCEL : ctx->permanent ? QUEUE_FAIL_HARD
									  : QUEUE_FAIL;
		w = queue_finish(ctx->db, ctx->group_id, outcome, e, 0, q, util_wall_s(), state, err,
				 errlen);
		if (w < 0)
			return w;
		err_set(err, errlen, r, "%s", e);
	}
	queue_set_stage(ctx->db, ctx->group_id, NULL, NULL, 0);
	if (ret_state)
		snprintf(ret_state, 16, "%s", state);
	return r;
}

/* ---- stage: load ---- */

/* The header fields every subband of a group must share. */
static int headers_agree(const uvh5_header *a, const uvh5_header *b, char *what, size_t len)
{
#define DIFF(cond, name)                                      \
	do {                                                  \
		if (cond) {                                   \
			snprintf(what, len, "%s", name);      \
			return 0;                             \
		}                                             \
	} while (0)
	DIFF(a->ntimes != b->ntimes, "Ntimes");
	DIFF(a->nbls != b->nbls, "Nbls");
	DIFF(a->nblts != b->nblts, "Nblts");
	DIFF(a->npols != b->npols, "Npols");
	DIFF(memcmp(a->pols, b->pols, sizeof a->pols), "polarization_array");
	DIFF(a->nfreqs != b->nfreqs, "Nfreqs");
	DIFF(a->nants_telescope != b->nants_telescope, "Nants_telescope");
	DIFF(fabs(a->time_start_jd - b->time_start_jd) * 86400 > 1.0, "time_array");
	DIFF(fabs(a->time_end_jd - b->time_end_jd) * 86400 > 1.0, "time_array");
	DIFF(fabs(a->channel_width_hz - b->channel_width_hz) > 1e-3 * fabs(a->channel_width_hz),
	     "channel_width");
	DIFF(a->has_dec != b->has_dec || (a->has_dec && fabs(a->dec_rad - b->dec_rad) > 1e-6),
	     "phase_center_dec");
#undef DIFF
	return 1;
}

int stage_load(pipe_ctx *ctx, char *err, size_t errlen)
{
	char (*reason)[ERR_LEN + 64] = NULL, what[64];
	int ref = -1, best = -1, r = 0;

	if (ctx->nfiles == 0) {
		ctx->permanent = 1;
		return err_set(err, errlen, -ENOENT, "group %s has no subband files", ctx->group_name);
	}
	reason = calloc((size_t)ctx->nfiles, sizeof *reason);
	if (!reason)
		return err_set(err, errlen, -ENOMEM, "out of memory");

	/* Headers only: cheap, and enough to find unreadable files before the
	 * expensive read. */
	for (int i = 0; i < ctx->nfiles; i++) {
		char e[ERR_LEN] = "";
		ctx->file_ok[i] = 0;
		if (uvh5_read_header(ctx->files[i], &ctx->hdr[i], e, sizeof e) < 0) {
			snprintf(reason[i], sizeof reason[i], "unreadable: %s", e);
		} else if (!ctx->hdr[i].imageable) {
			snprintf(reason[i], sizeof reason[i], "not usable: %s",
				 ctx->hdr[i].not_imageable);
		} else {
			ctx->file_ok[i] = 1;
		}
		pipe_progress(ctx);
	}
	for (int i = 1; i < ctx->nfiles; i++)
		if (ctx->subband[i] == ctx->subband[i - 1] && ctx->file_ok[i - 1] && ctx->file_ok[i]) {
			ctx->file_ok[i] = 0;
			snprintf(reason[i], sizeof reason[i], "second file for subband %d",
				 ctx->subband[i]);
		}

	/* The reference is the readable header most others agree with, so one
	 * odd file is blamed rather than the fifteen good ones. */
	for (int i = 0; i < ctx->nfiles; i++) {
		int votes = 0;
		if (!ctx->file_ok[i])
			continue;
		for (int j = 0; j < ctx->nfiles; j++)
			votes += ctx->file_ok[j] && headers_agree(&ctx->hdr[i], &ctx->hdr[j], what,
								  sizeof what);
		if (votes > best) {
			best = votes;
			ref = i;
		}
	}
	for (int i = 0; ref >= 0 && i < ctx->nfiles; i++)
		if (ctx->file_ok[i] && !headers_agree(&ctx->hdr[ref], &ctx->hdr[i], what, sizeof what)) {
			ctx->file_ok[i] = 0;
			snprintf(reason[i], sizeof reason[i], "inconsistent with %s: %s differs",
				 base_name(ctx->files[ref]), what);
		}

	ctx->ngood = 0;
	for (int i = 0; i < ctx->nfiles; i++) {
		int w = queue_set_file_status(ctx->db, ctx->file_ids[i],
					      ctx->file_ok[i] ? NULL : reason[i], err, errlen);
		if (w < 0) {
			r = w;
			goto out;
		}
		if (ctx->file_ok[i]) {
			ctx->ngood++;
		} else {
			char msg[ERR_LEN + 400];
			snprintf(msg, sizeof msg, "%s counts as missing: %s", base_name(ctx->files[i]),
				 reason[i]);
			log_msg(LOG_WARNING, ctx->group_name, "load", ctx->subband[i], "%s", msg);
			queue_event(ctx->db, ctx->group_id, "missing", "load", msg, NULL, 0);
		}
	}
	if (ctx->ngood < ctx->min_subbands) {
		size_t len;
		ctx->permanent = 1;
		char absent[256] = "";
		size_t k = 0;
		for (int sb = 0; sb < ctx->nsubbands; sb++) {
			int have = 0;
			for (int i = 0; i < ctx->nfiles; i++)
				have |= ctx->subband[i] == sb;
			if (!have && k + 8 < sizeof absent)
				k += (size_t)snprintf(absent + k, sizeof absent - k, "%ssb%02d",
						      k ? ", " : "", sb);
		}
		r = err_set(err, errlen, -EIO, "%d good subbands of %d (min_subbands %d)%s%s",
			    ctx->ngood, ctx->nsubbands, ctx->min_subbands, k ? "; absent: " : "",
			    absent);
		for (int i = 0; i < ctx->nfiles; i++) {
			if (ctx->file_ok[i])
				continue;
			len = strlen(err);
			if (len + 8 >= errlen)
				break;
			snprintf(err + len, errlen - len, "; %s: %s", base_name(ctx->files[i]),
				 reason[i]);
		}
	}
out:
	free(reason);
	return r;
}

/* ---- stage: convert ---- */

/* File i of the group counts as missing from now on: the reason goes into
 * its record (contimgctl show), an event and the log. */
static void file_missing(pipe_ctx *ctx, int i, const char *stage, const char *why)
{
	char msg[ERR_LEN + 400];

	snprintf(msg, sizeof msg, "%s counts as missing: %s", base_name(ctx->files[i]), why);
	log_msg(LOG_WARNING, ctx->group_name, stage, ctx->subband[i], "%s", msg);
	queue_event(ctx->db, ctx->group_id, "missing", stage, msg, NULL, 0);
	queue_set_file_status(ctx->db, ctx->file_ids[i], why, NULL, 0);
	ctx->file_ok[i] = 0;
	ctx->ngood--;
}

/* The centre the files' uvw_array were computed for against the header's
 * site and declination (core/convert.h): log it, and warn (log and a
 * "warning" event in the group's record) when it disagrees by more than
 * [pipeline] uvw_tolerance_arcsec or no single centre explains the uvw. */
static void report_drift_fit(pipe_ctx *ctx, const convert_drift_fit *g)
{
	double tol = ctx->conf->pipe.uvw_tolerance_arcsec;
	char msg[700] = "";

	if (g->source == CONVERT_W_HEADER_ONLY)
		snprintf(msg, sizeof msg, "uvw_array does not describe the data (%s): the rephasing "
			 "uses the header's site and declination", g->fitted && g->sep_arcsec > 1800 ?
			 "its centre is more than 0.5 deg from the header's" : "all zero");
	else if (g->source == CONVERT_W_ROWS)
		snprintf(msg, sizeof msg, "uvw_array is not the projection of the baselines on one "
			 "direction (largest residual %.3g m over %d rows): the rephasing takes the w of "
			 "the meridian centre from each row as it is", g->max_m, g->nrows);
	else if (g->fitted && (fabs(g->dlon_arcsec) > tol || fabs(g->ddec_arcsec) > tol))
		snprintf(msg, sizeof msg, "uvw_array was computed for the meridian of longitude "
			 "%.6f deg at declination %+.6f deg, %+.2f\" in longitude and %+.2f\" in "
			 "declination from Header/longitude and phase_center_dec (more than "
			 "uvw_tolerance_arcsec %g): the rephasing uses the uvw's centre; with the "
			 "header's, every source would be %.2f\" off; check the site the correlator's "
			 "writer uses", g->lon_rad * 180 / M_PI, g->dec_rad * 180 / M_PI, g->dlon_arcsec,
			 g->ddec_arcsec, tol, g->sep_arcsec);
	if (msg[0]) {
		log_msg(LOG_WARNING, ctx->group_name, "convert", -1, "%s", msg);
		queue_event(ctx->db, ctx->group_id, "warning", "convert", msg, NULL, 0);
	} else if (g->fitted) {
		log_msg(LOG_DEBUG, ctx->group_name, "convert", -1, "uvw_array: meridian centre "
			"%+.3f\" in longitude, %+.3f\" in declination from the header's (rms %.2g m "
			"over %d rows)", g->dlon_arcsec, g->ddec_arcsec, g->rms_m, g->nrows);
	}
}

/* Copy src to dst (replacing it) with copy_file_range, falling back to
 * read/write across file systems that do not support it. */
static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char buf[1 << 16];
	int in = -1, out = -1, r = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(err, errlen, -errno, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		r = err_set(err, errlen, -errno, "%s: %s", dst, strerror(errno));
		goto out;
	}
	while ((n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0)) > 0)
		;
	if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
		      errno == EOPNOTSUPP)) {
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
	}
	if (n < 0)
		r = err_set(err, errlen, -errno, "copy %s → %s: %s", src, dst, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && r == 0)
		r = err_set(err, errlen, -errno, "%s: %s", dst, strerror(errno));
	return r;
}

/* [paths] scratch_dir set: copy the good subband files into
 * scratch_dir/<group>/ (a tmpfs on the correlator node) and read them from
 * there.  staged[i] gets the copy's path; the caller removes them. */
static int stage_in(pipe_ctx *ctx, char **staged, char *dir, size_t dirlen, char *err,
		    size_t errlen)
{
	int r;

	if ((size_t)snprintf(dir, dirlen, "%s/%s", ctx->scratch_dir, ctx->group_name) >= dirlen)
		return err_set(err, errlen, -ENAMETOOLONG, "scratch_dir too long");
	r = util_mkdir_p(dir);
	if (r < 0)
		return err_set(err, errlen, r, "%s: %s", dir, strerror(-r));
	for (int i = 0; i < ctx->nfiles; i++) {
		if (!ctx->file_ok[i])
			continue;
		size_t len = strlen(dir) + strlen(base_name(ctx->files[i])) + 2;
		staged[i] = malloc(len);
		if (!staged[i])
			return err_set(err, errlen, -ENOMEM, "out of memory");
		snprintf(staged[i], len, "%s/%s", dir, base_name(ctx->files[i]));
		r = copy_file(ctx->files[i], staged[i], err, errlen);
		if (r < 0)
			return r;
		pipe_progress(ctx);
	}
	return 0;
}

static void stage_out(pipe_ctx *ctx, char **staged, const char *dir)
{
	for (int i = 0; i < ctx->nfiles; i++) {
		if (staged[i])
			unlink(staged[i]);
		free(staged[i]);
		staged[i] = NULL;
	}
	if (dir[0])
		rmdir(dir);
}

/* The Earth orientation of the group (daemon/earth.h) at its mid time, from
 * the headers load read: logged (a warning when the table is missing or
 * stale) and recorded as the group's "eop" event. */
static int choose_eop(pipe_ctx *ctx, char *err, size_t errlen)
{
	earth_choice c;
	double mid = NAN;

	for (int i = 0; i < ctx->nfiles && !(mid > 0); i++) {
		uvh5_header h = ctx->hdr[i];
		/* Without the load stage ([pipeline] stages) the headers are unread. */
		if (!ctx->file_ok[i] || (!(h.time_start_jd > 0) &&
					 uvh5_read_header(ctx->files[i], &h, NULL, 0) < 0))
			continue;
		mid = 0.5 * (h.time_start_jd + h.time_end_jd);
	}
	if (!(mid > 0) || earth_for_group(&ctx->earth, ctx->eop_table, mid - 2400000.5, &c) < 0) {
		ctx->permanent = 1;
		return err_set(err, errlen, -EINVAL, "no Earth orientation for the group's time (JD %.5f)",
			       mid);
	}
	ctx->eop = c.eop;
	snprintf(ctx->eop_text, sizeof ctx->eop_text, "%s", c.text);
	log_msg(c.warn ? LOG_WARNING : LOG_INFO, ctx->group_name, "convert", -1,
		"Earth orientation: %s", c.text);
	queue_event(ctx->db, ctx->group_id, "eop", "convert", c.text, NULL, 0);
	return 0;
}

int stage_convert(pipe_ctx *ctx, char *err, size_t errlen)
{
	char **staged = NULL, sdir[4200] = "";
	const char **paths = NULL;
	int *fidx = NULL;
	convert_params p;
	convert_info *info = NULL;
	vis_set *v = NULL;
	int r;

	paths = calloc((size_t)ctx->nfiles + 1, sizeof *paths);
	fidx = calloc((size_t)ctx->nfiles + 1, sizeof *fidx);
	staged = calloc((size_t)ctx->nfiles + 1, sizeof *staged);
	info = calloc(1, sizeof *info);
	if (!paths || !fidx || !staged || !info) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (ctx->scratch_dir[0]) {
		r = stage_in(ctx, staged, sdir, sizeof sdir, err, errlen);
		if (r < 0)
			goto out;
	}
	convert_params_default(&p);
	p.nsub_expected = ctx->nsubbands;
	p.nthreads = ctx->threads;
	r = choose_eop(ctx, err, errlen);
	if (r < 0)
		goto out;
	p.dut1_s = ctx->eop.dut1_s;
	p.xp_rad = ctx->eop.xp_rad;
	p.yp_rad = ctx->eop.yp_rad;
	if (ctx->vis_pool && !ctx->vis)
		p.reuse = *ctx->vis_pool;
	for (;;) {
		int n = 0, bad;
		for (int i = 0; i < ctx->nfiles; i++)
			if (ctx->file_ok[i]) {
				fidx[n] = i;
				paths[n++] = staged[i] ? staged[i] : ctx->files[i];
			}
		r = convert_load_group(paths, n, &p, &v, info, err, errlen);
		if (r >= 0 || r == -ENOMEM)
			break;
		/* A subband whose data (not just header) turns out unreadable counts
		 * as missing, like one that failed in load: drop it and go on while
		 * enough remain.  Inconsistent input as a whole (no majority of the
		 * subbands agrees) will not get better by retrying. */
		bad = info->failed_file >= 0 && info->failed_file < n ? fidx[info->failed_file] : -1;
		if (bad < 0 && r == -EINVAL)
			ctx->permanent = 1;
		if (bad < 0 || ctx->ngood - 1 < ctx->min_subbands)
			break;
		file_missing(ctx, bad, "convert", err);
	}
	if (r < 0)
		goto out;
	/* Subbands that disagree with the majority were left out (their channels
	 * flagged): they count as missing, with the reason. */
	for (int k = 0; k < CONVERT_MAX_SUB; k++) {
		if (!(info->dropped_mask & (1u << k)))
			continue;
		for (int i = 0; i < ctx->nfiles; i++)
			if (ctx->file_ok[i] && ctx->subband[i] == k) {
				file_missing(ctx, i, "convert", info->dropped_reason[k]);
				break;
			}
	}
	if (p.reuse && v == p.reuse)
		*ctx->vis_pool = NULL; /* the pooled buffer now belongs to ctx */
	else if (ctx->vis_pool && *ctx->vis_pool) {
		/* A new shape: drop the old buffer rather than hold two. */
		vis_free(*ctx->vis_pool);
		*ctx->vis_pool = NULL;
	}
	vis_free(ctx->vis);
	ctx->vis = v;
	snprintf(ctx->vis->name, sizeof ctx->vis->name, "%s", ctx->group_name);
	/* DSA-110's correlator files do not say how the X feed is oriented;
	 * the operator's [pipeline] x_orientation does when set.  A file that
	 * says it itself keeps its own. */
	if (!ctx->vis->x_orientation[0] && ctx->x_orientation[0])
		snprintf(ctx->vis->x_orientation, sizeof ctx->vis->x_orientation, "%s",
			 ctx->x_orientation);
	log_msg(LOG_INFO, ctx->group_name, "convert", -1,
		"%d subbands, %d channels; read %.2f s, rephase %.2f s%s", info->nsub_present,
		ctx->vis->nchan, info->read_s, info->rephase_s, sdir[0] ? " (staged)" : "");
	if (info->has_drift_fit)
		report_drift_fit(ctx, &info->drift_fit);
	if (ctx->ngood < ctx->min_subbands) {
		/* The set stays in ctx (its buffer goes back to the pool). */
		ctx->permanent = 1;
		r = err_set(err, errlen, -EIO, "%d good subbands of %d (min_subbands %d) after "
			    "leaving out those that disagree with the others", ctx->ngood,
			    ctx->nsubbands, ctx->min_subbands);
		for (int k = 0; k < CONVERT_MAX_SUB; k++) {
			size_t len = strlen(err);
			if (!(info->dropped_mask & (1u << k)) || len + 8 >= errlen)
				continue;
			snprintf(err + len, errlen - len, "; sb%02d %s", k, info->dropped_reason[k]);
		}
		goto out;
	}
	/* Where the dishes point: the files' declination or an override. */
	r = pipe_pointing_resolve(ctx, err, errlen);
out:
	if (staged)
		stage_out(ctx, staged, sdir);
	free(staged);
	free(paths);
	free(fidx);
	free(info);
	return r;
}

/* ---- stage: export ---- */

int stage_export(pipe_ctx *ctx, char *err, size_t errlen)
{
	char path[4200];
	int r;

	if (!ctx->export_vis)
		return PIPE_SKIPPED;
	if (!ctx->vis)
		return err_set(err, errlen, -EINVAL, "no combined visibilities to export");
	if ((size_t)snprintf(path, sizeof path, "%s/%s.uvh5", ctx->out_dir, ctx->group_name) >=
	    sizeof path)
		return err_set(err, errlen, -ENAMETOOLONG, "export path too long");
	/* convert_export writes "<path>.tmp" and renames: a crash never leaves
	 * a half-written file under the product's name. */
	r = convert_export(path, ctx->vis, err, errlen);
	if (r < 0)
		return r;
	return pipe_add_product(ctx, "vis", path) < 0
		       ? err_set(err, errlen, -ENOSPC, "too many products") : 0;
}
