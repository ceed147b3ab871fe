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
 * Configuration: read your own section with cfg_get_*(ctx->cfg, "<stage>",
 * ...) and document it in docs/config.md.  [pipeline] stages (a comma list)
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
#include "state/queue.h"

/* One row of the table. */
typedef struct pipe_stage {
	const char *name;
	/* Validates the stage's configuration section at start-up and reload
	 * (-EINVAL with "[section] key ..." in err).  NULL for now: the typed
	 * settings (issue 15 item 2) fill this slot; until then each stage reads
	 * its section when it runs. */
	int (*settings)(const cfg *c, char *err, size_t errlen);
	int (*run)(pipe_ctx *ctx, char *err, size_t errlen);
	/* Frees what the stage left in ctx (NULL: nothing).  The runner
	 * registers it with pipe_ctx_on_release before the stage runs. */
	pipe_release_fn release;
} pipe_stage;

/* The table (pipeline.c) and its length. */
extern const pipe_stage pipe_stages[];
extern const int pipe_nstages;

/* The settings contimgd and contimgctl share ([paths], [ingest], [pipeline]),
 * read once from a cfg with every documented default (docs/config.md). */
typedef struct pipe_settings {
	char ingest_dir[4096], state_dir[4096], products_dir[4096], scratch_dir[4096];
	char db_path[4200];          /* state_dir/contimg.sqlite */
	queue_params q;              /* subbands, group_tolerance_s, min_subbands, max_retries,
					retry_delay_s */
	double collect_timeout_s;    /* [ingest] collect_timeout_s (600) */
	double rescan_interval_s;    /* [ingest] rescan_interval_s (60) */
	double poll_interval_s;      /* [ingest] poll_interval_s (5): idle workers look for work */
	int workers;                 /* [ingest] workers (1) */
	int threads;                 /* [pipeline] threads (0 = all online CPUs) */
	int export_vis;              /* [pipeline] export_vis (false) */
	earth_settings earth;        /* [earth] eop_file, eop_max_age_days, xp_arcsec, yp_arcsec
					and the [pipeline] dut1_s override (|dut1_s| < 1 s) */
	double uvw_tolerance_arcsec; /* [pipeline] uvw_tolerance_arcsec (1): warn when the
					centre uvw_array implies is further from the header's */
	char x_orientation[8];       /* [pipeline] x_orientation ("" = unknown, not written) */
	double stop_grace_s;         /* [pipeline] stop_grace_s (120) */
	double stall_timeout_s;      /* [pipeline] stall_timeout_s (900) */
} pipe_settings;

/* Fill s from c; -EINVAL with "[section] key ..." in err for a malformed or
 * out-of-range value. */
int pipe_settings_read(const cfg *c, pipe_settings *s, char *err, size_t errlen);

/* Set up ctx for one group: reads the settings above from c and calls
 * pipe_ctx_setup (daemon/pipe_ctx.h) with them.  On failure ctx is released
 * and a negative errno returned. */
int pipe_ctx_init(pipe_ctx *ctx, const cfg *c, sqlite3 *db, int64_t group_id,
		  char *err, size_t errlen);

/* Run every stage in order on a claimed (in_progress) group: times each stage,
 * records it in the DB, stops at the first failure.  Does NOT change the
 * group's state; the caller finishes it with queue_finish() using the return
 * value, ctx->permanent and err.  Returns 0 when every stage succeeded,
 * -ECANCELED when *ctx->cancel was set between stages, or the failing stage's
 * negative errno with "stage NAME: message" in err. */
int pipe_run(pipe_ctx *ctx, char *err, size_t errlen);

/* pipe_run, then end the run in the DB: on success the group's products are
 * replaced by ctx->products and it becomes completed (one transaction); on
 * failure queue_finish() decides retry or failed (ctx->permanent → at once);
 * -ECANCELED puts it back to pending.  *ret_state (>= 16 bytes, may be NULL)
 * gets the new state and err the failure.  Returns pipe_run's result, or
 * the DB error when recording failed. */
int pipe_execute(pipe_ctx *ctx, const queue_params *q, char *ret_state, char *err,
		 size_t errlen);

#endif
