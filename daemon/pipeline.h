/*
 * daemon/pipeline.h — THE one stage table and its runner.
 *
 * Both contimgd (worker threads) and `contimgctl process` run a group through
 * the same table, daemon/pipeline.c:pipe_stages[], in order:
 *
 *     load → convert → (flag → calibrate) → export → (image → photometry ...)
 *
 * What a stage is, what it may do and the context it works on are in
 * daemon/pipe_ctx.h, the floor below this one: stages include pipe_ctx.h and
 * their own header, never this one.  Only the runner's callers (contimgd,
 * its workers, the contimgctl commands) include pipeline.h.
 *
 * Adding a stage: write daemon/stage_<name>.c and daemon/stage_<name>.h with
 * `int stage_<name>(pipe_ctx *, char *, size_t)` (and, when the stage leaves
 * a result in pipe_ctx, `void stage_<name>_release(pipe_ctx *)` freeing it);
 * add the fields it produces in the marked section of pipe_ctx
 * (daemon/pipe_ctx.h) and one row {name, settings, run, release} at the
 * marked place in pipe_stages[] (pipeline.c).
 * Configuration: parse your own section once, in a function beside your stage
 * registered in daemon/settings.c (keys and parser), into a settings struct of
 * daemon/settings.h; the stage reads it from ctx->conf, never cfg_get_* at run
 * time.  Document it in docs/config.md.  [pipeline] stages (a comma list)
 * lets operators and tests run a subset of the table.
 */
#ifndef CONTIMG_PIPELINE_H
#define CONTIMG_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/config.h"
#include "daemon/earth.h"
#include "daemon/pipe_ctx.h"
#include "daemon/settings.h"
#include "state/queue.h"

/* One row of the table. */
typedef struct pipe_stage {
	const char *name;
	/* Parses and validates the stage's configuration section into its
	 * typed settings in *o (daemon/settings.h), once, when a contimg_config
	 * is built (start-up, SIGHUP, contimgctl); -EINVAL with "[section] key
	 * ..." in err.  NULL: the stage has no section. */
	settings_parser settings;
	int (*run)(pipe_ctx *ctx, char *err, size_t errlen);
	/* Frees what the stage left in ctx (NULL: nothing).  The runner
	 * registers it with pipe_ctx_on_release before the stage runs. */
	pipe_release_fn release;
} pipe_stage;

/* The table (pipeline.c) and its length. */
extern const pipe_stage pipe_stages[];
extern const int pipe_nstages;

/* Set up ctx for one group: builds the configuration from c (contimg_config_new,
 * failing with its errors; tests), then as pipe_ctx_init_config. */
int pipe_ctx_init(pipe_ctx *ctx, const cfg *c, sqlite3 *db, int64_t group_id,
		  char *err, size_t errlen);

/* Set up ctx for one group from a built configuration (daemon/settings.h;
 * references to it and its cfg are taken), what contimgd's workers and
 * `contimgctl process` use, so nothing is parsed per group: copies the
 * settings, remembers db (not owned), loads the group's files from the DB.
 * On failure ctx is released and a negative errno returned. */
struct contimg_config;
int pipe_ctx_init_config(pipe_ctx *ctx, const struct contimg_config *conf, sqlite3 *db,
			 int64_t group_id, char *err, size_t errlen);

/* Run every stage in order on a claimed (in_progress) group: times each stage,
 * records it in the DB, stops at the first failure.  Does NOT change the
 * group's state; the caller finishes it with queue_finish() using the return
 * value, ctx->permanent and err.  Returns 0 when every stage succeeded,
 * -ECANCELED when *ctx->cancel was set between stages, or the failing stage's
 * negative errno with "stage NAME: message" in err. */
int pipe_run(pipe_ctx *ctx, char *err, size_t errlen);

/* End a run in the DB after pipe_run returned run_result (run_err its
 * message): on success the group's products are replaced by ctx->products
 * and it becomes completed (one transaction); on failure queue_finish()
 * decides retry or failed (ctx->permanent → at once); -ECANCELED puts it back
 * to pending.  *ret_state (>= 16 bytes, may be NULL) gets the new state.
 * Returns 0, or the DB error (nothing changed: the caller may call it again,
 * as contimgd's workers do until it succeeds).  With ctx->claim set and the
 * claim no longer held (requeue --force took the group while it ran),
 * nothing is recorded and *ret_state is "superseded". */
int pipe_record(pipe_ctx *ctx, const queue_params *q, int run_result, const char *run_err,
		char *ret_state, char *err, size_t errlen);

/* pipe_run, then pipe_record: on success the group's products are
 * replaced by ctx->products and it becomes completed (one transaction); on
 * failure queue_finish() decides retry or failed (ctx->permanent → at once);
 * -ECANCELED puts it back to pending.  *ret_state (>= 16 bytes, may be NULL)
 * gets the new state and err the failure.  Returns pipe_run's result, or
 * the DB error when recording failed. */
int pipe_execute(pipe_ctx *ctx, const queue_params *q, char *ret_state, char *err,
		 size_t errlen);

#endif
